"""Write-ahead journal: an append-only file of checksummed, numbered records.

Record layout (little endian), documented with its invariants in docs/safety.md::

    magic  "SJ"  2 bytes
    type         1 byte
    flags        1 byte   (0)
    seq          4 bytes  0, 1, 2, ... with no gap
    length       4 bytes  payload length
    payload      length bytes
    crc32        4 bytes  zlib.crc32 of everything above

Reading stops at the first record that is truncated, has a bad magic, a bad
CRC or an unexpected sequence number: that is the torn tail of an interrupted
append, and it is cut off before anything new is appended.
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

from .errors import JournalError

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


@dataclass(frozen=True)
class Record:
    seq: int
    type: RecordType
    payload_offset: int
    payload: bytes

    def json(self) -> dict[str, Any]:
        return json.loads(self.payload) if self.payload else {}


def scan(fd: int) -> tuple[list[Record], int]:
    """Parse records from the file; returns them and the length of the valid prefix.

    Reads in bounded chunks: a journal holding megabytes of redo images never
    sits in memory whole.
    """
    size = os.fstat(fd).st_size
    records: list[Record] = []
    pos = 0
    while pos + HEADER.size <= size:
        head = os.pread(fd, HEADER.size, pos)
        magic, rtype, _flags, seq, length = HEADER.unpack(head)
        end = pos + HEADER.size + length + CRC.size
        if magic != MAGIC or length > MAX_PAYLOAD or end > size or seq != len(records):
            break
        try:
            kind = RecordType(rtype)
        except ValueError:
            break
        crc = zlib.crc32(head)
        payload = b""
        for off in range(0, length, 1 << 20):
            chunk = os.pread(fd, min(1 << 20, length - off), pos + HEADER.size + off)
            crc = zlib.crc32(chunk, crc)
            if kind != RecordType.DATA:
                payload += chunk
        if CRC.unpack(os.pread(fd, CRC.size, end - CRC.size))[0] != crc:
            break
        records.append(Record(seq, kind, pos + HEADER.size, payload))
        pos = end
    return records, pos


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
        self.records, valid = scan(self._fd)
        if valid != os.fstat(self._fd).st_size:
            # Torn or garbage tail from an interrupted append: cut it off so
            # new records follow the last valid one.
            os.ftruncate(self._fd, valid)
            os.fsync(self._fd)
        self._end = valid
        self._durable = valid

    # ------------------------------------------------------------------ writing
    def append(self, rtype: RecordType, payload: bytes | dict[str, Any] = b"") -> Record:
        if isinstance(payload, dict):
            payload = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        head = HEADER.pack(MAGIC, rtype, 0, len(self.records), len(payload))
        body = head + payload
        blob = body + CRC.pack(zlib.crc32(body))
        os.pwrite(self._fd, blob, self._end)
        record = Record(
            len(self.records),
            rtype,
            self._end + HEADER.size,
            b"" if rtype == RecordType.DATA else payload,
        )
        self.records.append(record)
        self._end += len(blob)
        return record

    def sync(self) -> None:
        os.fsync(self._fd)
        self.syncs += 1
        self._durable = self._end

    def reset(self) -> None:
        """Start an empty journal (only when no committed transaction is pending)."""
        os.ftruncate(self._fd, 0)
        os.fsync(self._fd)
        self.records = []
        self._end = self._durable = 0

    # ------------------------------------------------------------------ reading
    def read_data(self, seq: int) -> bytes:
        record = self.records[seq] if 0 <= seq < len(self.records) else None
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
