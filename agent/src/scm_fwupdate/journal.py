"""Write-ahead journal: an append-only file of checksummed, numbered records.

Record layout (little endian), documented with its invariants in docs/safety.md::

    magic  "SJ"  2 bytes
    type         1 byte
    flags        1 byte   (0)
    seq          4 bytes  0, 1, 2, ... with no gap
    length       4 bytes  payload length
    payload      length bytes
    crc32        4 bytes  zlib.crc32 of everything above

Reading keeps every valid record. A bad record (a bad magic, CRC or
sequence number, a truncated one) with nothing valid after it is the torn
tail of an interrupted append, and is cut off when the next record is
appended (never by merely opening the file: ``status`` reads it without the
lock, and a journal that resume refuses is left as it is). A bad record
with valid ones after it is damage: it is skipped and listed in
``damaged``, and the file is left as it is, so that what comes after it
still counts (docs/safety.md, "Damage").
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

from .errors import JournalDamagedError, JournalError

HEADER = struct.Struct("<2sBBII")
CRC = struct.Struct("<I")
MAGIC = b"SJ"
MAX_PAYLOAD = 64 << 20  # a larger length field is garbage, not a record


class RecordType(IntEnum):
    BEGIN = 1  # JSON: transaction id and metadata
    DATA = 2  # raw bytes: a redo image, referenced by sequence number
    PLAN = 3  # binary plan (see transaction.py)
    COMMIT = 4  # JSON: from here on the transaction must be finished
    PROGRESS = 5  # JSON: entries before "next" are done and verified
    RESUME = 6  # JSON: a resume attempt started
    DONE = 7  # JSON: finished, everything verified
    ABORT = 8  # JSON: dropped before commit, nothing was written
    ABANDONED = 9  # JSON: resume gave up (capped attempts)
    PAD = 10  # zeros: puts the second COMMIT in another block of the file


@dataclass(frozen=True)
class Record:
    seq: int
    type: RecordType
    payload_offset: int
    payload: bytes

    def json(self) -> dict[str, Any]:
        return json.loads(self.payload) if self.payload else {}


def _record_at(fd: int, pos: int, size: int, min_seq: int) -> tuple[Record, int] | None:
    """The valid record at pos (and where it ends), or None."""
    if pos + HEADER.size + CRC.size > size:
        return None
    head = os.pread(fd, HEADER.size, pos)
    magic, rtype, _flags, seq, length = HEADER.unpack(head)
    end = pos + HEADER.size + length + CRC.size
    if magic != MAGIC or length > MAX_PAYLOAD or end > size or seq < min_seq:
        return None
    try:
        kind = RecordType(rtype)
    except ValueError:
        return None
    crc = zlib.crc32(head)
    payload = b""
    for off in range(0, length, 1 << 20):
        chunk = os.pread(fd, min(1 << 20, length - off), pos + HEADER.size + off)
        crc = zlib.crc32(chunk, crc)
        if kind != RecordType.DATA:
            payload += chunk
    if CRC.unpack(os.pread(fd, CRC.size, end - CRC.size))[0] != crc:
        return None
    return Record(seq, kind, pos + HEADER.size, payload), end


def _resync(fd: int, pos: int, size: int, min_seq: int) -> int | None:
    """The offset of the next valid record after damage at pos, or None (a torn tail)."""
    window = 1 << 20
    start = pos + 1
    while start < size:
        chunk = os.pread(fd, min(window + len(MAGIC), size - start), start)
        at = chunk.find(MAGIC)
        while at >= 0:
            if _record_at(fd, start + at, size, min_seq) is not None:
                return start + at
            at = chunk.find(MAGIC, at + 1)
        start += window
    return None


def scan(fd: int) -> tuple[list[Record], int, list[tuple[int, int]]]:
    """Parse the file: (valid records, end of the last one, damaged regions).

    A bad record followed by valid ones is damage (a flipped bit, a lost
    block): it is skipped and reported, never cut off, because records after
    it (the plan, the commit) may be what a resume needs. A bad record with
    nothing valid after it is the torn tail of an interrupted append.
    Reads in bounded chunks: megabytes of redo images never sit in memory.
    """
    size = os.fstat(fd).st_size
    records: list[Record] = []
    damaged: list[tuple[int, int]] = []
    pos = 0
    after_damage = False  # the record found by a resync may follow lost ones
    while pos < size:
        min_seq = records[-1].seq + 1 if records else 0
        found = _record_at(fd, pos, size, min_seq)
        if found is not None and (after_damage or found[0].seq == min_seq):
            records.append(found[0])
            pos = found[1]
            after_damage = False
            continue
        nxt = _resync(fd, pos, size, min_seq)
        if nxt is None:
            break
        damaged.append((pos, nxt - pos))
        pos, after_damage = nxt, True
    return records, pos, damaged


class Journal:
    """The journal file. ``sync()`` makes everything appended so far durable.

    (sim.SimJournal makes every sync a power-cut point.)
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.syncs = 0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise JournalError(f"cannot open journal {path}: {e.strerror}") from None
        self.records, valid, self.damaged = scan(self._fd)
        self._end = valid
        self._durable = valid
        self._tail_cut = False  # a torn tail is cut off by the first append

    def _cut_tail(self) -> None:
        """Drop a torn or garbage tail so that new records follow the last valid one."""
        if os.fstat(self._fd).st_size != self._end:
            os.ftruncate(self._fd, self._end)
            os.fsync(self._fd)
        self._tail_cut = True

    # ------------------------------------------------------------------ writing
    def append(self, rtype: RecordType, payload: bytes | dict[str, Any] = b"") -> Record:
        if isinstance(payload, dict):
            payload = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        seq = self.records[-1].seq + 1 if self.records else 0
        head = HEADER.pack(MAGIC, rtype, 0, seq, len(payload))
        body = head + payload
        blob = body + CRC.pack(zlib.crc32(body))
        try:
            if not self._tail_cut:
                self._cut_tail()
            os.pwrite(self._fd, blob, self._end)
        except OSError as e:
            raise JournalError(f"cannot write journal {self.path}: {e.strerror}") from None
        record = Record(
            seq,
            rtype,
            self._end + HEADER.size,
            b"" if rtype == RecordType.DATA else payload,
        )
        self.records.append(record)
        self._end += len(blob)
        return record

    def pad_to(self, boundary: int) -> None:
        """A PAD record so that the next record starts on a new ``boundary``-byte block."""
        room = -(self._end + HEADER.size + CRC.size) % boundary
        self.append(RecordType.PAD, b"\0" * room)

    def sync(self) -> None:
        try:
            os.fsync(self._fd)
        except OSError as e:
            raise JournalError(f"cannot write journal {self.path}: {e.strerror}") from None
        self.syncs += 1
        self._durable = self._end

    def reset(self) -> None:
        """Start an empty journal (only when no committed transaction is pending)."""
        os.ftruncate(self._fd, 0)
        os.fsync(self._fd)
        self._tail_cut = True
        self.records = []
        self.damaged = []
        self._end = self._durable = 0

    # ------------------------------------------------------------------ reading
    def read_data(self, seq: int) -> bytes:
        record = next((r for r in self.records if r.seq == seq), None)
        if record is None and self.damaged:
            raise JournalDamagedError(
                f"journal {self.path}: redo image (record {seq}) is damaged; the update "
                "cannot be finished from the journal"
            )
        if record is None or record.type != RecordType.DATA:
            raise JournalError(f"journal {self.path}: record {seq} is not a data record")
        head = os.pread(self._fd, HEADER.size, record.payload_offset - HEADER.size)
        length = HEADER.unpack(head)[4]
        return os.pread(self._fd, length, record.payload_offset)

    def last(self, *types: RecordType) -> Record | None:
        for r in reversed(self.records):
            if r.type in types:
                return r
        return None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
