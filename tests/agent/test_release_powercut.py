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
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from oracle import decide
from powercut import CUT_POINTS

from scm_fwupdate import bootset, imagegen, strategies
from scm_fwupdate.flash import Geometry
from scm_fwupdate.gpt import read_gpt
from scm_fwupdate.profile import PROFILES, QCS6490_BOOT_IMAGES, BootRule
from scm_fwupdate.sim import FaultPlan, PowerCut, SimJournal, SimNor
from scm_fwupdate.strategies import ImageSpec, plan_install
from scm_fwupdate.transaction import StateKind, apply, pending_state, resume

CHANGED = ("XBL_SC", "TZ", "UEFI", "dtb")
RULES = {
    "sets": ("radxa-dragon-q6a", "q6a"),
    "ab-attributes": ("qcom-abl", "abl"),
}  # profile, table


@dataclass(frozen=True)
class Campaign:
    rule: str
    original: bytes
    expected: bytes
    old: dict[str, str]  # image -> version the old release carries
    new: dict[str, str]
    specs: tuple[ImageSpec, ...]
    differ: tuple[int, ...] = ()  # erase blocks where original and expected differ


def _board(layout: str) -> imagegen.Board:
    rows = imagegen.abl_layout() if layout == "abl" else imagegen.compact_layout()
    return imagegen.build(rows=rows)


@cache
def campaign(rule: str, workdir: Path, kind: str = "release") -> Campaign:
    """``release``: every boot image, new release REL-2 (4 with new code, the rest
    re-stamped); ``hotfix``: only the 4 changed images, same release REL-1, the
    rest copied, so only the versions tell old from new."""
    board = _board(RULES[rule][1])
    size = {
        p.name.removesuffix("_BACKUP").removesuffix("_a").removesuffix("_b"): p.size
        for p in board.gpt.partitions
    }
    names = QCS6490_BOOT_IMAGES if kind == "release" else CHANGED
    release = "REL-2" if kind == "release" else "REL-1"
    specs = []
    for name in names:
        fresh = 0.1 if name in CHANGED else 0
        data = imagegen.qcom_image(name, size[name], 2, release, changed=fresh)
        path = workdir / f"{rule}-{kind}-{name}.bin"
        path.write_bytes(data)
        specs.append(ImageSpec(name, path, len(data), sha256=hashlib.sha256(data).hexdigest()))
    c = Campaign(
        rule,
        board.image,
        b"",
        {n: f"{n}.1" for n in QCS6490_BOOT_IMAGES},
        {n: f"{n}.{2 if n in names else 1}" for n in QCS6490_BOOT_IMAGES},
        tuple(specs),
    )
    nor = device(c)
    with SimJournal(workdir / f"{rule}-{kind}-count") as j:
        install(nor, j, c)
    expected = bytes(nor.snapshot())
    differ = tuple(
        b
        for b in range(0, len(expected), 4096)
        if expected[b : b + 4096] != c.original[b : b + 4096]
    )
    return Campaign(rule, c.original, expected, c.old, c.new, c.specs, differ)


_DEVICES: dict[int, SimNor] = {}


def device(c: Campaign) -> SimNor:
    """One simulated chip per original image, put back before each run (cheap re-runs)."""
    nor = _DEVICES.get(id(c.original))
    if nor is None:
        nor = _DEVICES[id(c.original)] = SimNor(
            Geometry(len(c.original), 4096, 256), initial=c.original
        )
    nor.restore(c.original)
    return nor


def equals(nor: SimNor, image: bytes, c: Campaign) -> bool:
    """The whole device equals image: only blocks that were written or differ can differ."""
    blocks = set(nor.touched) | set(c.differ)
    return all(nor.peek(b, 4096) == image[b : b + 4096] for b in blocks)


def install(nor: SimNor, journal: SimJournal, c: Campaign, rule: BootRule | None = None) -> None:
    """The agent's planner and applier, as ``install`` runs them for this board."""
    profile = PROFILES[RULES[c.rule][0]]
    table = read_gpt(nor.peek, nor.geometry.size)
    plan = plan_install(
        nor, journal, table, list(c.specs), rule=rule or profile.rule, profile=profile
    ).commit()
    apply(nor, journal, plan, progress_every=8)


def judge(nor: SimNor, c: Campaign) -> str:
    """The oracle's view of the next power-on: 'old' or 'new', whole; anything else fails."""
    d = decide(nor.snapshot(), c.rule)
    assert d.booted, f"the board does not boot: {d.line()}"
    loaded = {load.image: load.version for load in d.images}
    for label, versions in (("old", c.old), ("new", c.new)):
        if loaded == versions:
            return label
    raise AssertionError(f"mixed set: {loaded} ({d.line()})")


def run_cut(c: Campaign, workdir: Path, cut_at: int, torn: bool, planner_rule=None) -> str:
    nor = device(c)
    nor.fault = FaultPlan(cut_at, torn, seed=cut_at * 2 + torn)
    path = workdir / "journal"
    path.unlink(missing_ok=True)
    j = SimJournal(path, fault=nor.fault)
    try:
        install(nor, j, c, planner_rule)
        cut = False
    except PowerCut:
        cut = True
        j.power_loss()
    j.close()
    view = judge(nor, c)
    nor.fault = FaultPlan()
    with SimJournal(path) as j:
        committed = pending_state(j).kind in (StateKind.PENDING, StateKind.DONE)
        resume(nor, j, progress_every=8)
    after = judge(nor, c)
    if committed:
        assert after == "new" and equals(nor, c.expected, c), "resume missed the target"
    else:
        assert after == "old" and equals(nor, c.original, c), "an uncommitted update wrote"
    assert cut
    return view


def total_ops(c: Campaign, workdir: Path) -> int:
    nor = device(c)
    nor.fault = FaultPlan()
    with SimJournal(workdir / "ops", fault=nor.fault) as j:
        install(nor, j, c)
    return nor.fault.ops


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("release")


@pytest.mark.parametrize("rule", list(RULES))
def test_the_release_reaches_its_target_and_boots_new(rule: str, work: Path) -> None:
    c = campaign(rule, work)
    assert c.differ, "the release changes nothing"
    nor = SimNor(Geometry(len(c.expected), 4096, 256), initial=c.expected)
    assert judge(device(c), c) == "old" and judge(nor, c) == "new"


MATRIX = [
    pytest.param(rule, kind, torn, id=f"{rule}-{kind}-{'torn' if torn else 'clean'}")
    for rule in RULES
    for kind, torn in (("release", False), ("release", True), ("hotfix", False))
]


@pytest.mark.parametrize(("rule", "kind", "torn"), MATRIX)
def test_every_cut_of_an_update_boots_a_whole_old_or_new_set(
    rule: str, kind: str, torn: bool, work: Path, shm_path: Path
) -> None:
    c = campaign(rule, work, kind)
    total = total_ops(c, shm_path)
    views = {"old": 0, "new": 0}
    for cut_at in range(total):
        views[run_cut(c, shm_path, cut_at, torn)] += 1
    CUT_POINTS[f"{kind} {rule} ({'torn' if torn else 'clean'})"] = total
    assert views["old"] and views["new"], views


def _campaign_fails(c: Campaign, workdir: Path, every: int, planner_rule=None) -> str:
    total = total_ops(c, workdir)
    for cut_at in range(0, total, every):
        try:
            run_cut(c, workdir, cut_at, False, planner_rule)
        except AssertionError as e:
            return f"cut {cut_at}/{total}: {e}"
    return ""


def test_mutation_writing_the_protected_set_first_fails_the_campaign(
    work: Path, shm_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = campaign("sets", work, "hotfix")
    monkeypatch.setattr(strategies, "protected_set", lambda sets: bootset.SET_B)
    found = _campaign_fails(c, shm_path, every=5)
    assert found, "writing set A first went unnoticed"
    print(f"\nmutation 'set A first' caught: {found[:160]}")


def test_mutation_writing_pair_by_pair_fails_the_campaign(work: Path, shm_path: Path) -> None:
    c = campaign("sets", work, "hotfix")
    found = _campaign_fails(c, shm_path, every=5, planner_rule=BootRule.PER_IMAGE)
    assert found, "writing pair by pair went unnoticed"
    print(f"\nmutation 'pair by pair' caught: {found[:160]}")
