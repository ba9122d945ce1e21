"""Qualcomm GPT boot backend: the A/B attribute bits of the ``_a``/``_b`` entries.

The boot chain (XBL/ABL) picks the bootable slot with the highest priority
(``gpt.boot_slot``). Every change here is a GPT-only transaction through the
journal (``strategies.plan_gpt_change``): backup table first, then the
primary, so a power cut leaves one consistent table and ``resume`` finishes
the change. For installs, activation is not done here but inside the install
transaction itself (its last step), so "written" and "activated" cannot part.
"""

from __future__ import annotations

from collections.abc import Callable

from .boot import SlotState
from .errors import BootError, JournalError
from .flash import Flash
from .gpt import Gpt, boot_slot, read_gpt, slot_pairs
from .journal import Journal
from .slots import slot_view
from .strategies import plan_gpt_change, slot_activated, slot_marked_bad, slot_marked_good
from .transaction import StateKind, apply, pending_state

SLOTS = ("a", "b")


class QcomGptBackend:
    """BootBackend over the flash's own GPT."""

    def __init__(
        self,
        open_flash: Callable[[bool], Flash],
        open_journal: Callable[[], Journal],
    ) -> None:
        self._open_flash = open_flash
        self._open_journal = open_journal

    def slots(self) -> list[str]:
        return list(SLOTS)

    def _slot(self, slot: str) -> str:
        name = slot.lower().removeprefix("_")
        if name not in SLOTS:
            raise BootError(f"unknown slot {slot!r} (expected a or b)")
        return name

    def _gpt(self, flash: Flash) -> Gpt:
        gpt = read_gpt(flash.read, flash.geometry.size)
        if not slot_pairs(gpt):
            raise BootError("the GPT has no _a/_b partitions: nothing to select")
        return gpt

    def state(self) -> list[SlotState]:
        flash = self._open_flash(False)
        try:
            gpt = self._gpt(flash)
        finally:
            flash.close()
        selected = boot_slot(gpt)
        out = []
        for slot, v in slot_view(gpt).items():
            bootable = (
                v["consistent"]
                and not v["unbootable"]
                and v["priority"] > 0
                and (v["successful"] or v["retry"] > 0)
            )
            out.append(
                SlotState(
                    name=slot,
                    bootable=bootable,
                    good=bootable and v["successful"],
                    active=slot == selected,
                    retries=v["retry"],
                    priority=v["priority"],
                )
            )
        return out

    def primary(self) -> str:
        flash = self._open_flash(False)
        try:
            slot = boot_slot(self._gpt(flash))
        finally:
            flash.close()
        if slot is None:
            raise BootError("no bootable slot in the GPT")
        return slot

    def _change(self, what: str, edit: Callable[[Gpt], Gpt]) -> bool:
        """Run one GPT transaction; False if the table already had that state."""
        flash = self._open_flash(True)
        try:
            gpt = self._gpt(flash)
            new = edit(gpt)
            if new.partitions == gpt.partitions and gpt.primary_ok and gpt.backup_ok:
                return False  # nothing to write: spare the NOR a write at every boot
            with self._open_journal() as journal:
                if pending_state(journal).kind == StateKind.PENDING:
                    raise JournalError("an interrupted update is pending: run 'resume' first")
                plan = plan_gpt_change(flash, journal, gpt, new, what).commit()
                apply(flash, journal, plan)
            return True
        finally:
            flash.close()

    def activate(self, slot: str) -> None:
        s = self._slot(slot)
        self._change(f"activate slot {s}", lambda g: slot_activated(g, s))

    def mark_good(self, slot: str) -> None:
        s = self._slot(slot)
        self._change(f"mark slot {s} good", lambda g: slot_marked_good(g, s))

    def mark_bad(self, slot: str) -> None:
        s = self._slot(slot)
        self._change(f"mark slot {s} bad", lambda g: slot_marked_bad(g, s))
