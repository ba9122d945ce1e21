"""The plan: one entry per erase block, in the order they must be applied.

"Make the block at ``offset`` hash to ``sha256``, taking the data from
``source``" (or, for a VERIFY entry, "it must already"). Encoded into the
journal's PLAN record: a JSON header (sources, steps, metadata) and 60-byte
binary entries; docs/safety.md gives the layout.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from .errors import JournalError

ENTRY = struct.Struct(
    "<BBHIQQI32s"
)  # op, source kind, source file, data length, offset, arg, length, sha
PLAN_HEAD = struct.Struct("<I")  # JSON header length
PLAN_VERSION = 2  # 2 added Op.VERIFY; version 1 plans hold only writes
PLAN_VERSIONS = (1, 2)


class Op(IntEnum):
    WRITE = 1  # make the block hash to sha256
    VERIFY = 2  # the block must already hash to sha256: stop otherwise


class Src(IntEnum):
    ERASED = 0  # all 0xFF
    FILE = 1  # bytes [arg, arg + data_len) of sources[file], padded with 0xFF
    JOURNAL = 2  # the DATA record with sequence number ``arg``
    FLASH = 3  # data_len bytes of the flash at ``arg``, padded with 0xFF


@dataclass(frozen=True)
class Entry:
    offset: int
    length: int
    sha256: bytes
    src: Src
    arg: int = 0
    data_len: int = 0
    file: int = 0
    op: Op = Op.WRITE

    def pack(self) -> bytes:
        return ENTRY.pack(
            self.op,
            self.src,
            self.file,
            self.data_len,
            self.offset,
            self.arg,
            self.length,
            self.sha256,
        )

    @classmethod
    def unpack_from(cls, buf: bytes, pos: int) -> Entry:
        op, src, file, data_len, offset, arg, length, sha = ENTRY.unpack_from(buf, pos)
        return cls(offset, length, sha, Src(src), arg, data_len, file, Op(op))


@dataclass
class Step:
    name: str
    start: int
    end: int = 0


@dataclass
class Plan:
    block_size: int
    entries: list[Entry] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> bytes:
        head = json.dumps(
            {
                "version": PLAN_VERSION,
                "block_size": self.block_size,
                "sources": self.sources,
                "steps": [[s.name, s.start, s.end] for s in self.steps],
                "meta": self.meta,
                "entries": len(self.entries),
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        return PLAN_HEAD.pack(len(head)) + head + b"".join(e.pack() for e in self.entries)

    @classmethod
    def decode(cls, raw: bytes) -> Plan:
        try:
            (n,) = PLAN_HEAD.unpack_from(raw)
            head = json.loads(raw[PLAN_HEAD.size : PLAN_HEAD.size + n])
            if head["version"] not in PLAN_VERSIONS:
                raise ValueError(f"plan version {head['version']}")
            pos = PLAN_HEAD.size + n
            entries = [Entry.unpack_from(raw, pos + i * ENTRY.size) for i in range(head["entries"])]
        except (ValueError, KeyError, TypeError, struct.error) as e:
            raise JournalError(f"journal holds an unreadable plan: {e}") from None
        return cls(
            head["block_size"],
            entries,
            head["sources"],
            [Step(*s) for s in head["steps"]],
            head["meta"],
        )

    def step_at(self, index: int) -> str:
        for s in self.steps:
            if s.start <= index < s.end:
                return s.name
        return ""


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
