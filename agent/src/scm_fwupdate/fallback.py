"""Did the boot chain fall back? What the board booted, against what was installed.

- ``sets``: the chain's report says set A failed and set B booted
  (``scm-emu,fallback`` on the emulated board), or, without a report,
  ``recoveryinfo`` marks set A failed;
- ``ab-attributes``: the last install activated a slot, and the board runs
  from the other one (the kernel command line's ``androidboot.slot_suffix``)
  with no install since: the new slot was never confirmed, or failed.

``note_boot`` runs at every boot (``resume``): it writes one ``fallback``
record per boot into the history and one journald message, so that an
operator sees it. (The inbox installs a bundle again when the NOR does not hold it.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import events, history
from .bootset import SET_B, BootReport, RecoveryInfo
from .config import Config
from .gpt import Gpt
from .profile import BootRule
from .slots import booted_slot

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
OPERATION = "fallback"


@dataclass(frozen=True)
class Fallback:
    rule: str
    booted: str  # set B, or the slot that runs
    reason: str
    txid: str | None = None  # the install the board fell back from, if any


def detect(
    cfg: Config, gpt: Gpt, recoveryinfo: bytes | None, cmdline: Path | None
) -> Fallback | None:
    rule = cfg.board.rule
    if rule == BootRule.SETS:
        report = BootReport.read(cfg.board.chosen)
        if report is not None:
            if report.fallback and report.set == SET_B:
                return Fallback(str(rule), "set B", report.reason or "set A failed")
            return None
        record = RecoveryInfo.parse(recoveryinfo) if recoveryinfo else None
        if record and record.failed_a and record.last_set == SET_B:
            return Fallback(str(rule), "set B", record.reason or "set A failed")
        return None
    if rule != BootRule.AB_ATTRIBUTES:
        return None
    last = history.last_success(cfg.history)
    activated = _activated_slot(last)
    slot, source = booted_slot(gpt, cmdline)
    if activated and source == "cmdline" and slot != activated:
        return Fallback(
            str(rule),
            f"slot {slot}",
            f"install {last.get('txid')} activated slot {activated}, "  # type: ignore[union-attr]
            f"the boot chain started slot {slot}",
            last.get("txid"),  # type: ignore[union-attr]
        )
    return None


def _activated_slot(record: dict[str, Any] | None) -> str | None:
    if not record:
        return None
    slots = {i.get("slot") for i in record.get("images", []) if i.get("kind") == "ab"}
    slots.discard(None)
    return slots.pop() if len(slots) == 1 else None


def boot_id() -> str:
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return ""


def note_boot(cfg: Config, found: Fallback | None) -> bool:
    """Record a fallback once per boot; True if this call recorded it."""
    if found is None:
        return False
    this_boot = boot_id()
    for rec in reversed(history.read(cfg.history)):
        if rec.get("operation") == OPERATION and rec.get("boot_id") == this_boot:
            return False
    history.append(
        cfg.history,
        {
            "operation": OPERATION,
            "result": "fell-back",
            "boot_id": this_boot,
            "rule": found.rule,
            "booted": found.booted,
            "reason": found.reason,
            "txid": found.txid,
        },
    )
    events.emit(
        events.BOOT_FALLBACK,
        f"the boot chain fell back: {found.booted} booted ({found.reason})",
        events.WARNING,
        rule=found.rule,
        booted=found.booted,
        txid=found.txid,
    )
    return True
