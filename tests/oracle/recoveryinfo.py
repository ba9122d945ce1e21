"""The emulation's 64-byte ``recoveryinfo`` record (docs/boot-chain.md, "recoveryinfo")."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

MAGIC = b"QSRI"
VERSION = 1
RECORD = 64
REASON = 36
SET_A, SET_B, SET_NONE = 0, 1, 0xFFFF
FAILED_A, FAILED_B = 1, 2
_LAYOUT = struct.Struct("<4sIIIII36s")  # bytes 0-59; the CRC follows


@dataclass(frozen=True)
class RecoveryInfo:
    """A record; ``failed`` bit 0 = set A failed its last check, bit 1 = set B."""

    failed: int = 0
    last_set: int = SET_NONE
    fallbacks: int = 0
    reason: str = ""
    reserved: int = 0
    version: int = VERSION

    @property
    def set_a_failed(self) -> bool:
        return bool(self.failed & FAILED_A)

    @property
    def set_b_failed(self) -> bool:
        return bool(self.failed & FAILED_B)


def reason_field(reason: str) -> bytes:
    """The 36-byte reason field: the text (ASCII, others as ``?``) cut at 36 bytes, NUL padded."""
    return reason.encode("ascii", errors="replace")[:REASON].ljust(REASON, b"\0")


def parse_recoveryinfo(data: bytes | bytearray | memoryview) -> RecoveryInfo | None:
    """The record at the start of ``data``; None for anything else (erased, garbage, bad CRC).

    A record is: magic ``QSRI``, version 1, and a CRC-32 (zlib) of bytes 0-59
    at 60. The reserved word and the set value are reported as found.
    """
    raw = bytes(data[:RECORD])
    if len(raw) < RECORD:
        return None
    magic, version, failed, last_set, fallbacks, reserved, reason = _LAYOUT.unpack_from(raw)
    (crc,) = struct.unpack_from("<I", raw, 60)
    if magic != MAGIC or version != VERSION or zlib.crc32(raw[:60]) & 0xFFFFFFFF != crc:
        return None
    text = reason.split(b"\0", 1)[0].decode("ascii", errors="replace")
    return RecoveryInfo(failed, last_set, fallbacks, text, reserved, version)


def build_recoveryinfo(record: RecoveryInfo) -> bytes:
    """The 64 bytes of ``record``, CRC included."""
    body = _LAYOUT.pack(
        MAGIC,
        record.version,
        record.failed,
        record.last_set,
        record.fallbacks,
        record.reserved,
        reason_field(record.reason),
    )
    return body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)
