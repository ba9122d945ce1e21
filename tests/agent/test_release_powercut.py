"""Power cuts through a multi-image release, judged by the boot-chain oracle (tests/oracle).

A release (XBL_SC, TZ, UEFI, dtb with new code, every other boot image
re-stamped) is installed through the agent's planner and applier on the
simulated NOR, with a power cut at every operation, clean and torn. After
each cut the oracle, written from docs/boot-chain.md and not from the
planner, says what the next power-on boots: it must boot, and every image it
loads must be of the old release or every one of the new. Then resume, and
the NOR must be the exact target.

Two rules: ``sets`` on the Q6A table, ``ab-attributes`` on an ABL table
(every boot image an A/B pair). Two mutations of the planner (writing the
protected set first; writing pair by pair) must make the campaign fail.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest
from oracle import decide
from powercut import CUT_POINTS, Scenario, count_ops, gpt_regions, last_state, run_cut

from scm_fwupdate import bootset, imagegen, strategies
from scm_fwupdate.flash import Geometry
from scm_fwupdate.gpt import read_gpt
from scm_fwupdate.journal import Journal
from scm_fwupdate.profile import PROFILES, QCS6490_BOOT_IMAGES, BootRule
from scm_fwupdate.sim import SimJournal, SimNor
from scm_fwupdate.strategies import ImageSpec, plan_install
from scm_fwupdate.transaction import apply

CHANGED = ("XBL_SC", "TZ", "UEFI", "dtb")
BOOTCHAIN_HOST = Path(__file__).resolve().parents[2] / "tz-emulator/build/bootchain-host"
RULES = {
    "sets": ("radxa-dragon-q6a", "q6a"),
    "ab-attributes": ("qcom-abl", "abl"),
}  # profile, table


def _board(layout: str) -> imagegen.Board:
    rows = imagegen.abl_layout() if layout == "abl" else imagegen.compact_layout()
    return imagegen.build(rows=rows)


def _install(specs: list[ImageSpec], rule: str, planner_rule: BootRule | None = None):  # type: ignore[no-untyped-def]
    """The agent's planner and applier, as ``install`` runs them for this board."""
    profile = PROFILES[RULES[rule][0]]

    def run(nor: SimNor, journal: Journal, _workdir: Path) -> None:
        table = read_gpt(nor.peek, nor.geometry.size)
        builder = plan_install(
            nor, journal, table, specs, rule=planner_rule or profile.rule, profile=profile
        )
        apply(nor, journal, builder.commit(), progress_every=8)

    return run


@cache
def campaign(rule: str, workdir: Path, kind: str = "release") -> Scenario:
    """``release``: every boot image, new release REL-2 (4 with new code, the rest
    re-stamped); ``hotfix``: only the 4 changed images, same release REL-1, the
    rest copied, so only the versions tell old from new; ``hotfix-from-b``: the
    hotfix on a board whose set A failed (TZ's header erased), so it runs from
    set B and set A, which the chain tries first, is written first."""
    board = _board(RULES[rule][1])
    table = board.gpt
    original = board.image
    if kind.endswith("-from-b"):
        tz = table.find("TZ")
        original = original[: tz.offset] + b"\xff" * 4096 + original[tz.offset + 4096 :]
    size = {
        p.name.removesuffix("_BACKUP").removesuffix("_a").removesuffix("_b"): p.size
        for p in table.partitions
    }
    names = QCS6490_BOOT_IMAGES if kind == "release" else CHANGED
    release = "REL-2" if kind == "release" else "REL-1"
    if kind.endswith("-from-b"):  # the oracle, not the agent, says the board runs set B
        assert decide(original, "sets").set == "B"
    specs, images = [], {}
    for name in QCS6490_BOOT_IMAGES:
        old = imagegen.qcom_image(name, size[name], 1)
        new = old
        if name in names:
            fresh = 0.1 if name in CHANGED else 0
            new = imagegen.qcom_image(name, size[name], 2, release, changed=fresh)
            path = workdir / f"{rule}-{kind}-{name}.bin"
            path.write_bytes(new)
            specs.append(ImageSpec(name, path, len(new), sha256=hashlib.sha256(new).hexdigest()))
        images[name] = (old, new)
    boot = set(QCS6490_BOOT_IMAGES)
    writable = [
        (p.offset, p.size)
        for p in table.partitions
        if p.name.removesuffix("_BACKUP").removesuffix("_a").removesuffix("_b") in boot
    ]
    s = Scenario(
        f"{kind}-{rule}",
        original,
        b"",
        primary_backup=images,
        writable=writable + gpt_regions(table, 4096),
        operation=_install(specs, rule),
        rule=rule,
        whole=True,
    )
    nor = SimNor(Geometry(len(original), 4096, 256), initial=original)
    with SimJournal(workdir / f"{rule}-{kind}-count") as j:
        assert s.operation is not None
        s.operation(nor, j, workdir)
    return replace(s, expected=bytes(nor.snapshot()))


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("release")


@pytest.mark.parametrize("rule", list(RULES))
def test_the_release_reaches_its_target_and_boots_new(
    rule: str, work: Path, shm_path: Path
) -> None:
    s = campaign(rule, work)
    assert s.expected != s.original
    result = run_cut(s, shm_path, None, False)
    assert not result.cut and result.committed and result.boot_view == "new"


MATRIX = [
    pytest.param(rule, kind, torn, id=f"{rule}-{kind}-{'torn' if torn else 'clean'}")
    for rule in RULES
    for kind, torn in (("release", False), ("release", True), ("hotfix", False))
] + [pytest.param("sets", "hotfix-from-b", False, id="sets-hotfix-from-b-clean")]


@pytest.mark.parametrize(("rule", "kind", "torn"), MATRIX)
def test_every_cut_of_an_update_boots_a_whole_old_or_new_set(
    rule: str, kind: str, torn: bool, work: Path, shm_path: Path
) -> None:
    s = campaign(rule, work, kind)
    total = count_ops(s, shm_path)
    views = {"old": 0, "new": 0}
    for cut_at in range(total):
        result = run_cut(s, shm_path, cut_at, torn)
        assert result.cut
        views[result.boot_view] += 1
    CUT_POINTS[f"{kind} {rule} ({'torn' if torn else 'clean'})"] = total
    assert views["old"] and views["new"], views


def firmware_boots(image: bytes, workdir: Path) -> dict[str, str]:
    """What the emulated firmware's own boot chain (bootchain-host, its C sources built for
    the host) loads from this NOR under ``sets``: image -> version string."""
    nor = workdir / "mutant.img"
    nor.write_bytes(image)
    out = subprocess.run(
        [str(BOOTCHAIN_HOST), "--rule", "sets", str(nor)],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    final = [line for line in out.splitlines() if line.startswith("boot:")][-1]
    assert "result=boot" in final, final
    in_b = "set=B" in final
    loads = {}
    for line in out.splitlines():
        m = re.match(r"boot-image: (\S+) part=(\S+) valid=1 .* version=(\S+)", line)
        if m and m[2].endswith(("_BACKUP", "_b")) == in_b:
            loads[m[1]] = m[3]
    return loads


def _campaign_fails(s: Scenario, workdir: Path, every: int) -> str:
    """The first cut the oracle refuses, confirmed by the firmware's own chain."""
    total = count_ops(s, workdir)
    for cut_at in range(0, total, every):
        try:
            run_cut(s, workdir, cut_at, False)
        except AssertionError as e:
            loads = firmware_boots(last_state(s), workdir)  # as the failed check saw it
            versions = {loads[n].rsplit(".", 1)[1] for n in CHANGED}
            assert versions == {"1", "2"}, f"the firmware does not boot a mixed set: {loads}"
            return f"cut {cut_at}/{total}: {e}"
    return ""


def test_mutation_writing_the_protected_set_first_fails_the_campaign(
    work: Path, shm_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Set A written first the way set B is (in place, no invalidation first)."""
    s = campaign("sets", work, "hotfix")
    monkeypatch.setattr(strategies, "protected_set", lambda sets: bootset.SET_B)
    monkeypatch.setattr(strategies, "_tried_first", lambda boot_set: False)
    found = _campaign_fails(replace(s, name="mutant-a-first"), shm_path, every=5)
    assert found, "writing set A first went unnoticed"
    print(f"\nmutation 'set A first' caught: {found[:160]}")


def test_mutation_writing_set_a_without_invalidating_it_fails_from_set_b(
    work: Path, shm_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Running from set B, set A written without being invalidated first."""
    s = campaign("sets", work, "hotfix-from-b")
    monkeypatch.setattr(strategies, "_tried_first", lambda boot_set: False)
    found = _campaign_fails(replace(s, name="mutant-no-invalidate"), shm_path, every=3)
    assert found, "writing set A in place from set B went unnoticed"
    print(f"\nmutation 'set A in place from set B' caught: {found[:160]}")


def test_mutation_writing_pair_by_pair_fails_the_campaign(work: Path, shm_path: Path) -> None:
    s = campaign("sets", work, "hotfix")
    specs = [ImageSpec(n, work / f"sets-hotfix-{n}.bin", 0) for n in CHANGED]
    specs = [replace(x, size=x.path.stat().st_size) for x in specs]
    mutant = replace(s, name="mutant-pairs", operation=_install(specs, "sets", BootRule.PER_IMAGE))
    found = _campaign_fails(mutant, shm_path, every=5)
    assert found, "writing pair by pair went unnoticed"
    print(f"\nmutation 'pair by pair' caught: {found[:160]}")
