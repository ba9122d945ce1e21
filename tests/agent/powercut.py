"""Power-cut harness: run an update on the simulated NOR, cut the power at
operation N (cleanly or torn), check what the boot chain would see, resume,
check the result. The update itself is the agent's real code.

The oracle is independent of the engine: it knows the original image, the old
and new firmware of every target, and derives what must hold from the
Qualcomm boot rules (qualcomm-spinor.md), not from the plan.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from oracle import ImageCache, check_bytes, decide, read_gpt

from scm_fwupdate import gpt as G
from scm_fwupdate.flash import Geometry
from scm_fwupdate.journal import Journal
from scm_fwupdate.sim import FaultPlan, PowerCut, SimJournal, SimNor
from scm_fwupdate.strategies import ImageSpec, plan_gpt_change, plan_install, slot_activated
from scm_fwupdate.transaction import apply, pending_state, resume

# Cut points that ran, by scenario, for the summary line pytest prints.
CUT_POINTS: dict[str, int] = {}

Operation = Callable[[SimNor, Journal], None]


@dataclass
class Scenario:
    name: str
    original: bytes
    expected: bytes  # flash after a complete update
    # boot images the boot chain must always find whole: target -> (old, new)
    ab: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)
    primary_backup: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)
    old_slot: str | None = None
    new_slot: str | None = None
    writable: list[tuple[int, int]] = field(default_factory=list)  # regions allowed to change
    operation: Callable[[SimNor, Journal, Path], None] | None = None
    rule: str = "ab-attributes"  # how the oracle's boot chain picks (docs/boot-chain.md)
    whole: bool = False  # every target at one side: old or new, never some of each
    # How the run is driven (defaults: the engine; the CLI matrix passes its own).
    resume: Callable[[SimNor, Journal, Path], None] | None = None
    journal: Callable[[Path, FaultPlan | None], SimJournal] = SimJournal
    journal_path: Path | None = None
    before: Callable[[], None] | None = None  # reset the state before a run
    geometry: Geometry = field(default_factory=lambda: Geometry(32 << 20, 4096, 256))


def gpt_of(image: bytes) -> G.Gpt:
    return G.read_gpt_image(image)


def gpt_regions(table: G.Gpt, erasesize: int) -> list[tuple[int, int]]:
    """Erase blocks holding GPT structures (header and entries, both copies)."""
    regions = []
    for copy in table.copies():
        for off, data in copy:
            start = off - off % erasesize
            end = -(-(off + len(data)) // erasesize) * erasesize
            regions.append((start, end - start))
    return regions


def padded(data: bytes, size: int) -> bytes:
    return data + b"\xff" * (size - len(data))


def install_operation(specs: list[tuple[str, bytes]], activate: bool = True) -> Callable:
    """An install of these images through the real planner and applier."""

    def run(nor: SimNor, journal: Journal, workdir: Path) -> None:
        images = []
        for target, data in specs:
            path = workdir / f"{target}.img"
            if not path.exists():
                path.write_bytes(data)
            sha = hashlib.sha256(data).hexdigest()
            images.append(ImageSpec(target, path, len(data), sha256=sha))
        table = G.read_gpt(nor.read, nor.geometry.size)
        plan = plan_install(nor, journal, table, images, activate=activate).commit()
        apply(nor, journal, plan, progress_every=16)

    return run


def activate_operation(slot: str) -> Callable:
    def run(nor: SimNor, journal: Journal, workdir: Path) -> None:
        table = G.read_gpt(nor.read, nor.geometry.size)
        plan = plan_gpt_change(
            nor, journal, table, slot_activated(table, slot), f"activate {slot}"
        ).commit()
        apply(nor, journal, plan)

    return run


class Checker:
    """The boot chain's view of the flash, and the invariants.

    Checks read the simulated device without cost or faults. "Nothing outside
    the targets changed" looks at every block the device saw an erase or a
    program on (the simulator tracks them), so it needs no 32 MiB compare.
    """

    def __init__(self, scenario: Scenario) -> None:
        self.s = scenario
        self.base_cache = ImageCache()
        decide(scenario.original, scenario.rule, cache=self.base_cache)
        es = scenario.geometry.erasesize
        self.writable = {
            b for off, size in scenario.writable for b in range(off - off % es, off + size, es)
        }
        orig, exp = scenario.original, scenario.expected
        for b in range(0, len(orig), es):
            if b not in self.writable:
                assert orig[b : b + es] == exp[b : b + es], "the target changes a frozen block"

    def outside_unchanged(self, nor: SimNor) -> None:
        es = self.s.geometry.erasesize
        for b in nor.touched - self.writable:
            if nor.peek(b, es) != self.s.original[b : b + es]:
                raise AssertionError(f"a byte outside the targets changed in block 0x{b:x}")

    def equals(self, nor: SimNor, image: bytes) -> bool:
        es = self.s.geometry.erasesize
        blocks = self.writable | nor.touched
        return all(nor.peek(b, es) == image[b : b + es] for b in blocks)

    def bootable(self, nor: SimNor) -> str | None:
        """Old-or-new for everything the boot chain loads: 'old', 'new' or 'mixed'.

        None when the update holds no boot image (a single-copy partition such
        as VarStore): the chain must still boot, but its choice tells nothing.

        The chain's decision comes from the oracle (tests/oracle, written from
        docs/boot-chain.md), not from the agent's GPT code.
        """
        cache = self.base_cache.copy()
        cache.touch_blocks(b // 4096 for b in nor.touched)
        d = decide(nor.snapshot(), self.s.rule, cache=cache)
        assert d.booted, f"the board does not boot: {d.line()}"
        loaded = {load.image: load.version for load in d.images}
        seen = set()
        for target, (old, new) in {**self.s.ab, **self.s.primary_backup}.items():
            if old == new:
                continue  # not in this update: it tells nothing
            versions = {check_bytes(old).version: "old", check_bytes(new).version: "new"}
            assert loaded.get(target) in versions, f"{target}: {loaded.get(target)} ({d.line()})"
            seen.add(versions[loaded[target]])
        if self.s.whole:
            assert len(seen) == 1, f"mixed set: {loaded} ({d.line()})"
        if self.s.old_slot and not self.s.ab:  # GPT-only: the chain picks a known slot
            assert d.slot in (f"_{self.s.old_slot}", f"_{self.s.new_slot}"), d.line()
            seen.add("old" if d.slot == f"_{self.s.old_slot}" else "new")
        if self.s.ab:
            self._fallback_slots_whole(nor)
        if not seen:
            return None
        return "mixed" if len(seen) > 1 else seen.pop()

    def _fallback_slots_whole(self, nor: SimNor) -> None:
        """A slot the chain may switch to (successful, not unbootable) holds whole images."""
        table = read_gpt(nor.peek, nor.geometry.size)
        assert table is not None, "no valid GPT"
        for suffix in "ab":
            bits = table.partitions[f"dtb_{suffix}"].ab
            if bits.unbootable or not bits.successful:
                continue
            for target, (old, new) in self.s.ab.items():
                p = table.partitions[f"{target}_{suffix}"]
                whole = nor.peek(p.offset, len(old)) == old or nor.peek(p.offset, len(new)) == new
                assert whole, f"slot {suffix} of {target} can be switched to but is not whole"


_DEVICES: dict[str, tuple[SimNor, Checker]] = {}


def device(s: Scenario) -> tuple[SimNor, Checker]:
    """One simulated chip per scenario, put back to the original before each run."""
    if s.name not in _DEVICES:
        _DEVICES[s.name] = (SimNor(s.geometry, initial=s.original), Checker(s))
    nor, check = _DEVICES[s.name]
    nor.restore(s.original)
    return nor, check


def last_state(s: Scenario) -> bytes:
    """The scenario's chip as the last run left it (a failed check leaves it as it saw it)."""
    return bytes(_DEVICES[s.name][0].snapshot())


@dataclass
class CutResult:
    cut: bool
    committed: bool
    boot_view: str | None  # None: the update holds no boot image


def _resume(nor: SimNor, journal: Journal, _workdir: Path) -> None:
    resume(nor, journal, progress_every=16)


def _close(journal: SimJournal) -> None:
    (getattr(journal, "really_close", None) or journal.close)()


def run_cut(
    scenario: Scenario, workdir: Path, cut_at: int | None, torn: bool, resume_cut: int | None = None
) -> CutResult:
    """One run: update with a cut at ``cut_at``, check, resume (maybe cut again), check."""
    s = scenario
    nor, check = device(s)
    journal_path = s.journal_path or workdir / "journal"
    journal_path.unlink(missing_ok=True)
    if s.before:
        s.before()
    nor.fault = FaultPlan(cut_at, torn, seed=(cut_at or 0) * 2 + torn)
    journal = s.journal(journal_path, nor.fault)
    assert s.operation is not None
    try:
        s.operation(nor, journal, workdir)
        cut = False
    except PowerCut:
        cut = True
        journal.power_loss()
    _close(journal)
    check.outside_unchanged(nor)
    view = check.bootable(nor)

    # Power back on: the boot-time resume, with its own cut if asked.
    for attempt in range(2):
        nor.fault = FaultPlan(resume_cut if attempt == 0 else None, torn, seed=7)
        journal = s.journal(journal_path, nor.fault)
        committed = pending_state(journal).kind in ("pending", "done")
        try:
            (s.resume or _resume)(nor, journal, workdir)
            assert pending_state(journal).kind in ("done", "idle")
            _close(journal)
            break
        except PowerCut:
            journal.power_loss()
            _close(journal)
            check.outside_unchanged(nor)
            check.bootable(nor)
    else:  # pragma: no cover - the second attempt has no cut
        raise AssertionError("resume did not finish")
    check.outside_unchanged(nor)
    assert check.bootable(nor) in ("new" if committed else "old", None)
    if committed:
        assert check.equals(nor, s.expected), "after resume the flash differs from the target"
    else:
        assert check.equals(nor, s.original), "an uncommitted update changed the flash"
    return CutResult(cut, committed, view)


def count_ops(scenario: Scenario, workdir: Path) -> int:
    """Operations (flash erases/programs and journal syncs) of an uninterrupted run."""
    nor, check = device(scenario)
    nor.fault = FaultPlan()
    path = scenario.journal_path or workdir / "journal"
    path.unlink(missing_ok=True)
    if scenario.before:
        scenario.before()
    journal = scenario.journal(path, nor.fault)
    assert scenario.operation is not None
    scenario.operation(nor, journal, workdir)
    _close(journal)
    assert check.equals(nor, scenario.expected), "an uninterrupted update missed the target"
    assert bytes(nor.snapshot()) == scenario.expected
    return nor.fault.ops
