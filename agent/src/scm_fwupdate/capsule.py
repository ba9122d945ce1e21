"""Coexistence with UEFI capsule updates (qualcomm-boot-chain.md §5).

Qualcomm's own firmware update is a capsule: the OS copies ``*.cap`` files
to ``<ESP>/EFI/UpdateCapsule/`` and sets bit 2 of ``OsIndications`` (file
capsule delivery); UEFI applies it at the next boot, writing the same
partitions this agent writes. While a capsule is staged, the agent writes
nothing: every writing command refuses (exit 14).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CapsuleError

EFI_GLOBAL = "8be4df61-93ca-11d2-aa0d-00e098032b8c"
OS_INDICATIONS = f"OsIndications-{EFI_GLOBAL}"
OS_TRIAL_BOOT_STATUS = f"OsTrialBootStatus-{EFI_GLOBAL}"
FILE_CAPSULE_DELIVERY = 1 << 2
CAPSULE_DIR = Path("EFI/UpdateCapsule")


@dataclass(frozen=True)
class CapsuleState:
    os_indications: int | None = None
    os_trial_boot_status: int | None = None
    capsules: tuple[str, ...] = ()  # files staged in EFI/UpdateCapsule of an ESP
    esp: str | None = None  # the ESP that holds them (or the first one found)
    notes: tuple[str, ...] = field(default=())

    @property
    def staged(self) -> bool:
        delivery = bool((self.os_indications or 0) & FILE_CAPSULE_DELIVERY)
        return bool(self.capsules) or delivery

    def why(self) -> str:
        if self.capsules:
            return f"capsule(s) staged in {self.esp}/{CAPSULE_DIR}: {', '.join(self.capsules)}"
        return "OsIndications asks UEFI for file capsule delivery (bit 2)"

    def trial(self) -> dict[str, int] | None:
        """OsTrialBootStatus fields (bits 0-7 version, 8-11 max, 12-15 count, 16 enabled)."""
        v = self.os_trial_boot_status
        if v is None:
            return None
        return {
            "version": v & 0xFF,
            "max_count": (v >> 8) & 0xF,
            "count": (v >> 12) & 0xF,
            "enabled": (v >> 16) & 1,
        }


def _variable(efivars: Path, name: str) -> int | None:
    """An efivarfs file: 4 bytes of attributes, then the value (little endian)."""
    try:
        raw = (efivars / name).read_bytes()
    except OSError:
        return None
    value = raw[4:]
    if not value:
        return None
    return int.from_bytes(value[:8], "little")


def read_state(efivars: Path, esps: Iterable[Path]) -> CapsuleState:
    notes = []
    capsules: tuple[str, ...] = ()
    found_esp = None
    for esp in esps:
        d = esp / CAPSULE_DIR
        if not esp.is_dir():
            continue
        found_esp = found_esp or str(esp)
        try:
            files = sorted(p.name for p in d.iterdir() if p.is_file())
        except FileNotFoundError:
            continue
        except OSError as e:
            notes.append(f"cannot list {d}: {e.strerror}")
            continue
        if files:
            capsules, found_esp = tuple(files), str(esp)
            break
    if not efivars.is_dir():
        notes.append(f"no efivarfs at {efivars}")
    return CapsuleState(
        _variable(efivars, OS_INDICATIONS),
        _variable(efivars, OS_TRIAL_BOOT_STATUS),
        capsules,
        found_esp,
        tuple(notes),
    )


def refuse_if_staged(state: CapsuleState, command: str) -> None:
    if state.staged:
        raise CapsuleError(
            f"{command}: {state.why()}: UEFI writes the boot firmware at the next boot; "
            "nothing is written now (apply or remove the capsule first)"
        )


def efivar_bytes(value: int, attributes: int = 7) -> bytes:
    """An efivarfs file's content (tests and tools that stage a fake variable)."""
    return struct.pack("<I", attributes) + value.to_bytes(8, "little")
