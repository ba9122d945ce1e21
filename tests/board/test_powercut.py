"""Real power cuts: QEMU killed during installs, judged by the emulated boot chain.

A chain of releases (v2, v3, ...: XBL_SC, TZ, UEFI and dtb with new code,
the rest re-stamped) is installed on one board; each install is killed
(SIGKILL) in a chosen phase, the next power-on is judged by the firmware's
own ``boot:``/``boot-image:`` lines (it must boot every image of the old
release or every one of the new), the boot-time resume runs, and the NOR is
compared with the images the test made, copy by copy. Then the next release
is installed on the same boot, and killed in the next phase.

Under ``sets`` (Q6A table) and ``ab-attributes`` (an ABL table: every boot
image an A/B pair); BOARD_POWER_CUTS per rule (default 32, so 64 in all).
"""

from __future__ import annotations

import os
import random
from collections import Counter
from pathlib import Path

import pytest
from oracle.gpt import read_gpt_bytes
from updates import ABL_CONFIG, Release, first_release, make_nor, make_release, whole

from board import REPORT, Board
from scm_fwupdate.profile import QCS6490_BOOT_IMAGES

UPLOAD = "/var/lib/scm-fwupdate/upload"
WRITE = "qcom_scm_storage.allow_write=1"
CUTS = int(os.environ.get("BOARD_POWER_CUTS", "32"))

# Where to cut: a progress phase (regex on the JSON line), in turn.
PHASES = {
    "sets": [
        ("staging", None),
        ("planning", r'"phase": "plan"'),
        ("write set B", r'"phase": "set B: write'),
        ("verify set B", r'"phase": "verify set B"'),
        ("invalidate set A", r'"phase": "invalidate set A"'),
        ("write set A", r'"phase": "set A: write'),
        ("verify set A", r'"phase": "verify set A"'),
        ("finish", r'"percent": 100'),
    ],
    "ab-attributes": [
        ("staging", None),
        ("planning", r'"phase": "plan"'),
        ("mark unbootable", r'"phase": "mark slot . unbootable'),
        ("write slot", r'"phase": "write [A-Za-z_]+_[ab]"'),
        ("activation", r'"phase": "activate slot'),
        ("finish", r'"percent": 100'),
    ],
}


def copies(nor: bytes, image: str) -> tuple[bytes, bytes]:
    table = read_gpt_bytes(nor)
    assert table is not None, "no GPT"
    names = table.partitions
    a, b = (f"{image}_a", f"{image}_b") if f"{image}_a" in names else (image, f"{image}_BACKUP")
    return tuple(nor[names[n].offset : names[n].offset + names[n].size] for n in (a, b))  # type: ignore[return-value]


def holds(copy: bytes, image: bytes) -> bool:
    return copy == image + b"\xff" * (len(copy) - len(image))


def state(nor: bytes, rule: str, old: Release, new: Release, running: str) -> str:
    """After resume: 'new' (the target, in both sets, or in the slot the install wrote) or
    'old' (dropped: both sets, or the slot that ran the install, still hold it)."""
    for label, rel in (("new", new), ("old", old)):
        ok = True
        for name in QCS6490_BOOT_IMAGES:
            pair = copies(nor, name)
            if rule == "ab-attributes":  # the install writes the slot that is not running
                side = "_a_b".index(running) // 2
                pair = (pair[1 - side],) if label == "new" else (pair[side],)
            ok &= all(holds(c, rel.images[name]) for c in pair)
        if ok:
            return label
    raise AssertionError("after resume the NOR holds neither release exactly")


@pytest.mark.emulated_only
@pytest.mark.parametrize("rule", ["sets", "ab-attributes"])
def test_power_cuts_through_releases_boot_whole_sets_and_resume(
    board: Board, tmp_path: Path, rule: str
) -> None:
    nor = make_nor("q6a" if rule == "sets" else "abl")
    releases = {1: first_release(nor)}
    for v in range(2, CUTS + 2):
        releases[v] = make_release(tmp_path, nor, v)
    bundles = {f"v{v}.bundle": r.bundle for v, r in releases.items() if v > 1}
    fw = {"boot_rule": rule}
    board.nor.write_bytes(nor.image)
    board.new_state_disk(bundles, size_mib=160, config=None if rule == "sets" else ABL_CONFIG)
    rng = random.Random(rule)
    installed = 1
    outcomes: Counter[tuple[str, str]] = Counter()
    line = board.boot(WRITE, fw)
    assert line is not None and whole(line, releases[1], releases[1]) == "old"
    running = line.slot or ""  # ab-attributes: the slot the firmware booted
    for i in range(CUTS):
        phase, pattern = PHASES[rule][i % len(PHASES[rule])]
        old, new = releases[installed], releases[installed + 1]
        if rule == "ab-attributes" and installed > 1:
            board.check("scm-fwupdate mark-good")  # the running slot is confirmed first
        board.start(f"scm-fwupdate install --progress=json {UPLOAD}/v{installed + 1}.bundle")
        if pattern is None:
            board.expect(r"install --progress=json")  # the command started: staging
        else:
            board.expect(pattern, timeout=900)
        board.power_cut()  # SIGKILL: no flush, no shutdown
        line = board.boot(WRITE, fw)  # the firmware judges, then init resumes
        assert line is not None and line.booted, f"cut {i} ({phase}): {line}"
        view = whole(line, old, new)
        outcomes[(phase, view)] += 1
        after = state(board.nor.read_bytes(), rule, old, new, running)
        if phase not in ("staging", "planning"):  # cut after the COMMIT: resume finishes it
            assert after == "new", f"cut {i} ({phase}): the boot-time resume did not finish"
        if after == "new":
            installed += 1
        if rule == "ab-attributes" and after == "new":
            # the slot that boots next is the new one: power on into it
            line = board.boot(WRITE, fw)
            assert line is not None and whole(line, old, new) == "new"
            assert line.slot != running, line
            running = line.slot
        if rng.random() < 0.25:
            board.check("scm-fwupdate status >/dev/null", timeout=300)
    board.power_cut()
    REPORT.append(f"{rule}: {CUTS} SIGKILLs; release v{installed} installed at the end")
    for (phase, view), n in sorted(outcomes.items()):
        REPORT.append(f"  {phase:<18} next power-on boots {view}: {n}")
    assert sum(outcomes.values()) == CUTS
    assert {v for _p, v in outcomes} == {"old", "new"}
    assert installed > CUTS // 3
