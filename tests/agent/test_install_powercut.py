"""Power-cut matrix through the whole ``install`` (bundle -> policy -> plan -> flash ->
activate), then ``resume``: at every flash operation and journal sync, clean and torn.

The oracle is powercut.Checker (independent of the engine): after the cut the boot
chain must find old-or-new for every boot image, nothing outside the targets may
change, and after resume the flash must equal the target exactly (or the original,
if the cut came before the commit).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from functools import cache
from pathlib import Path

import powercut
import pytest
from bundle_fixtures import COMPATIBLE, make_keys
from powercut import CUT_POINTS, Scenario, gpt_regions, padded

from scm_fwupdate import gpt as G
from scm_fwupdate import history, imagegen
from scm_fwupdate.config import BoardConfig, Config
from scm_fwupdate.context import Context
from scm_fwupdate.install import run_install
from scm_fwupdate.journal import Journal
from scm_fwupdate.packing import create_bundle
from scm_fwupdate.resume import run_resume
from scm_fwupdate.sim import SimJournal, SimNor

AB_TARGET, PB_TARGET = "uefisecapp", "XBL_CONFIG"


class HeldJournal(SimJournal):
    """The install opens and closes the journal several times; the harness keeps one
    object (shared fault plan, power_loss after a cut) and closes it itself."""

    def close(self) -> None:
        pass

    def really_close(self) -> None:
        super().close()


@cache
def scenario() -> Scenario:
    b = imagegen.build()
    table = b.gpt
    new_ab = imagegen.firmware(AB_TARGET, table.find(f"{AB_TARGET}_b").size, 2)
    new_pb = imagegen.firmware(PB_TARGET, table.find(PB_TARGET).size, 2)
    expected = bytearray(b.image)
    slot_b = table.find(f"{AB_TARGET}_b")
    expected[slot_b.offset : slot_b.offset + slot_b.size] = padded(new_ab, slot_b.size)
    for name in (PB_TARGET, PB_TARGET + "_BACKUP"):
        p = table.find(name)
        expected[p.offset : p.offset + p.size] = padded(new_pb, p.size)
    for copy in G.activate_slot(table, "b").copies():
        for off, data in copy:
            expected[off : off + len(data)] = data
    writable = [(p.offset, p.size) for p in table.partitions if p.name.endswith("_b")]
    writable += [
        (table.find(n).offset, table.find(n).size) for n in (PB_TARGET, PB_TARGET + "_BACKUP")
    ]
    return Scenario(
        "cli-install",
        b.image,
        bytes(expected),
        ab={AB_TARGET: (b.firmware[AB_TARGET], new_ab)},
        primary_backup={PB_TARGET: (b.firmware[PB_TARGET], new_pb)},
        old_slot="a",
        new_slot="b",
        writable=writable + gpt_regions(table, 4096),
    )


class Rig:
    """Bundle, keys and config in a tmpfs directory; one simulated chip."""

    def __init__(self, root: Path) -> None:
        self.root = root
        ks = make_keys(root / "keys")
        images = []
        s = scenario()
        for target, (_old, new) in {**s.ab, **s.primary_backup}.items():
            path = root / f"{target}.bin"
            path.write_bytes(new)
            images.append((target, path))
        self.bundle = root / "update.bundle"
        create_bundle(self.bundle, {"compatible": COMPATIBLE, "version": "2"}, images, ks.private)
        self.config = replace(
            Config(),
            keyring=ks.public,
            state_dir=root / "state",
            journal=root / "state" / "journal",
            history=root / "state" / "history.jsonl",
            lock=root / "lock",
            board=BoardConfig(profile="qcom-abl"),  # this matrix is the A/B attribute flow
        )

    def context(self, nor: SimNor, journal: Journal) -> Context:
        return Context(self.config, lambda _w: nor, lambda: journal, cmdline=None)

    def fresh(self) -> None:
        for p in (self.config.journal, self.config.history):
            p.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Rig:
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() else None
    import tempfile

    root = Path(tempfile.mkdtemp(dir=base, prefix="scm-fwupdate-cli-pc-"))
    yield Rig(root)
    import shutil

    shutil.rmtree(root, ignore_errors=True)


def cli_scenario(rig: Rig) -> Scenario:
    """The scenario driven through the CLI layer: run_install, then run_resume at boot."""

    def install(nor: SimNor, journal: Journal, _workdir: Path) -> None:
        run_install(rig.context(nor, journal), rig.bundle)

    def boot_resume(nor: SimNor, journal: Journal, _workdir: Path) -> None:
        run_resume(rig.context(nor, journal))

    return replace(
        scenario(),
        operation=install,
        resume=boot_resume,
        journal=HeldJournal,
        journal_path=rig.config.journal,
        before=rig.fresh,
    )


def run_cut(
    rig: Rig, cut_at: int | None, torn: bool, resume_cut: int | None = None
) -> tuple[bool, bool, str]:
    """powercut.run_cut through the CLI layer, plus what only the CLI layer does."""
    s = cli_scenario(rig)
    r = powercut.run_cut(s, rig.root, cut_at, torn, resume_cut)
    if r.committed:
        rec = history.last_success(rig.config.history)
        assert rec and rec["version"] == "2"
        assert rec["images"][0]["sha256"] == hashlib.sha256(s.ab[AB_TARGET][1]).hexdigest()
    # Committed or dropped, the staged bundle is gone afterwards.
    assert not (rig.config.state_dir / "staged.bundle").exists()
    return r.cut, r.committed, r.boot_view


def count_ops(rig: Rig) -> int:
    return powercut.count_ops(cli_scenario(rig), rig.root)


def test_uninterrupted_install_reaches_target(rig: Rig) -> None:
    assert count_ops(rig) > 100
    cut, committed, view = run_cut(rig, None, False)
    assert not cut and committed and view == "new"


@pytest.mark.parametrize("torn", [False, True], ids=["clean", "torn"])
def test_power_cut_at_every_operation_of_install(rig: Rig, torn: bool) -> None:
    total = count_ops(rig)
    views = {"old": 0, "new": 0, "mixed": 0}
    committed = 0
    for cut_at in range(total):
        cut, was_committed, view = run_cut(rig, cut_at, torn)
        assert cut, f"operation {cut_at} of {total} did not cut"
        views[view] += 1
        committed += was_committed
    CUT_POINTS[f"cli install uefisecapp+XBL_CONFIG ({'torn' if torn else 'clean'})"] = total
    assert 0 < committed < total  # cuts before and after the commit
    assert views["old"] and views["new"], views


def test_power_cut_during_resume(rig: Rig) -> None:
    """A cut two thirds into the install, then a second cut at every third resume
    operation (the engine's own matrix covers every one; this checks the CLI layer)."""
    total = count_ops(rig)
    first = total * 2 // 3
    points = range(0, total - first + 4, 3)
    for resume_cut in points:
        run_cut(rig, first, resume_cut % 2 == 1, resume_cut=resume_cut)
    CUT_POINTS["cli install (cut during resume, every 3rd)"] = len(points)
