"""Transactions: plan -> commit -> apply per erase block -> done; resume after a cut.

A plan is a list of entries, one per erase block, in the order they must be
applied: "make the block at ``offset`` hash to ``sha256``, taking the data
from ``source``". Nothing touches the flash before the COMMIT record is
durable; after it, every run (first or resumed) walks the entries from the
last PROGRESS record on, re-hashes each block and only erases/programs blocks
that differ. See docs/safety.md for the invariants.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

from .errors import AgentError, JournalDamagedError, JournalError, VerifyError
from .flash import Flash
from .journal import Journal, Record, RecordType
from .plan import Entry, Op, Plan, Src, Step, sha256

DEFAULT_PROGRESS_EVERY = 256  # written blocks (1 MiB of 4 KiB blocks) between PROGRESS records
DEFAULT_MAX_RESUMES = 3
COMMIT_SPACING = 4096  # the two COMMIT copies start in different blocks of this size


# ---------------------------------------------------------------- planning


class PlanBuilder:
    """Collects entries for one transaction and writes BEGIN, DATA, PLAN, COMMIT.

    Redo images (``inline``) go to the journal as they are planned, so memory
    stays bounded by one erase block whatever the image size.
    """

    def __init__(self, flash: Flash, journal: Journal, meta: dict[str, Any] | None = None) -> None:
        if pending_state(journal).kind in (StateKind.PENDING, StateKind.DAMAGED):
            raise JournalError(
                f"journal {journal.path} holds an unfinished transaction: run 'resume' first"
            )
        self.flash = flash
        self.journal = journal
        self.bs = flash.geometry.erasesize
        self.plan = Plan(self.bs, meta=dict(meta or {}))
        self.expected: dict[int, bytes] = {}  # block offset -> hash after the entries so far
        self.plan.meta.setdefault("txid", str(uuid.uuid4()))
        self.plan.meta.setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        journal.reset()
        journal.append(RecordType.BEGIN, {"txid": self.plan.meta["txid"], "meta": self.plan.meta})

    def step(self, name: str) -> None:
        if self.plan.steps:
            self.plan.steps[-1].end = len(self.plan.entries)
        self.plan.steps.append(Step(name, len(self.plan.entries)))

    def _check_region(self, offset: int, size: int) -> None:
        if offset % self.bs or size % self.bs or offset + size > self.flash.geometry.size:
            raise AgentError(
                f"region 0x{offset:x}+0x{size:x} is not erase-block aligned on this flash"
            )

    def _block(self, data: bytes) -> bytes:
        return data + b"\xff" * (self.bs - len(data))

    def from_file(
        self,
        offset: int,
        size: int,
        path: Path,
        file_offset: int,
        data_len: int,
        head_last: bool = False,
    ) -> str:
        """Region gets the file's bytes then 0xFF; returns the sha256 hex of the file bytes.

        ``head_last``: the region's first block is planned after the others (an
        image whose header block lands last is valid only once it is whole).
        """
        whole = hashlib.sha256()
        entries = list(self.file_entries(offset, size, path, file_offset, data_len, whole))
        for entry in entries[1:] + entries[:1] if head_last else entries:
            self._add(entry)
        return whole.hexdigest()

    def file_entries(
        self,
        offset: int,
        size: int,
        path: Path,
        file_offset: int,
        data_len: int,
        whole: Any = None,
    ) -> Iterator[Entry]:
        """The entries that put the file's bytes (then 0xFF) into the region, in order;
        ``whole`` (a hashlib object) is fed the file bytes on the way."""
        self._check_region(offset, size)
        if data_len > size:
            raise AgentError(f"{data_len} bytes do not fit the {size}-byte region")
        path = path.resolve()
        if str(path) not in self.plan.sources:
            self.plan.sources.append(str(path))
        file = self.plan.sources.index(str(path))
        with open(path, "rb") as f:
            f.seek(file_offset)
            for pos in range(0, size, self.bs):
                n = max(0, min(self.bs, data_len - pos))
                data = f.read(n)
                if len(data) != n:
                    raise AgentError(f"{path}: truncated at {file_offset + pos + len(data)}")
                if whole is not None:
                    whole.update(data)
                src = Src.FILE if n else Src.ERASED
                digest = sha256(self._block(data))
                yield Entry(offset + pos, self.bs, digest, src, file_offset + pos, n, file)

    def hash_at(self, offset: int) -> bytes:
        """The block's hash once the entries planned so far ran."""
        return self.expected.get(offset) or sha256(self.flash.read(offset, self.bs))

    def copy(self, offset: int, size: int, src_offset: int, skip_same: bool = False) -> None:
        """Region becomes a copy of another region of the same flash.

        The expected hashes are those the source will have when this entry
        runs: planned earlier in this transaction, or what the flash holds now.
        ``skip_same`` plans no entry for a block that will already hold its copy.
        """
        self._check_region(offset, size)
        for pos in range(0, size, self.bs):
            digest = self.hash_at(src_offset + pos)
            if skip_same and self.hash_at(offset + pos) == digest:
                continue
            self._add(Entry(offset + pos, self.bs, digest, Src.FLASH, src_offset + pos, self.bs))

    def verify(self, offset: int, size: int) -> None:
        """Stop the transaction unless the region holds what was planned for it."""
        self._check_region(offset, size)
        for pos in range(offset, offset + size, self.bs):
            self.plan.entries.append(
                Entry(pos, self.bs, self.hash_at(pos), Src.ERASED, op=Op.VERIFY)
            )

    def inline(self, offset: int, data: bytes | Iterable[bytes], size: int) -> None:
        """Region gets these bytes then 0xFF; changed blocks are kept as redo images."""
        self._check_region(offset, size)
        buf = bytearray()
        pos = 0
        for chunk in [data] if isinstance(data, bytes) else data:
            buf += chunk
            while len(buf) >= self.bs:
                if pos >= size:
                    raise AgentError(f"data for 0x{offset:x} is larger than its {size}-byte region")
                self._inline_block(offset + pos, bytes(buf[: self.bs]))
                del buf[: self.bs]
                pos += self.bs
        if buf:
            if pos >= size:
                raise AgentError(f"data for 0x{offset:x} is larger than its {size}-byte region")
            self._inline_block(offset + pos, self._block(bytes(buf)))
            pos += self.bs
        for rest in range(pos, size, self.bs):
            self._inline_block(offset + rest, b"\xff" * self.bs)

    def patch(self, ranges: list[tuple[int, bytes]]) -> None:
        """Bytes at any offsets: whole erase blocks are planned, the rest taken from the flash.

        Used for GPT structures (several ranges may share one erase block with
        512-byte sectors), which never share a block with a partition this
        transaction writes: partition regions must be erase-block aligned.
        """
        blocks: dict[int, bytearray] = {}
        for offset, data in ranges:
            for pos in range(offset - offset % self.bs, offset + len(data), self.bs):
                if pos not in blocks:
                    blocks[pos] = bytearray(self.flash.read(pos, self.bs))
                lo, hi = max(pos, offset), min(pos + self.bs, offset + len(data))
                blocks[pos][lo - pos : hi - pos] = data[lo - offset : hi - offset]
        for pos in sorted(blocks):
            self._inline_block(pos, bytes(blocks[pos]))

    def _inline_block(self, offset: int, block: bytes) -> None:
        digest = sha256(block)
        current = self.expected.get(offset) or sha256(self.flash.read(offset, self.bs))
        if current == digest:
            return  # already there: no entry, no redo image
        if block == b"\xff" * self.bs:
            self._add(Entry(offset, self.bs, digest, Src.ERASED))
            return
        rec = self.journal.append(RecordType.DATA, block)
        self._add(Entry(offset, self.bs, digest, Src.JOURNAL, rec.seq, self.bs))

    def _add(self, entry: Entry) -> None:
        self.plan.entries.append(entry)
        self.expected[entry.offset] = entry.sha256

    def commit(self) -> Plan:
        if self.plan.steps:
            self.plan.steps[-1].end = len(self.plan.entries)
        raw = self.plan.encode()
        self.journal.append(RecordType.PLAN, raw)
        self.journal.sync()  # plan and redo images durable before the commit record
        # Twice, the second in another block of the file: damage to one copy
        # must not make a committed update look uncommitted (and be dropped).
        commit = {"txid": self.plan.meta["txid"], "plan_sha256": hashlib.sha256(raw).hexdigest()}
        self.journal.append(RecordType.COMMIT, commit)
        self.journal.pad_to(COMMIT_SPACING)
        self.journal.append(RecordType.COMMIT, commit)
        # A valid record in a third block: with both COMMIT blocks damaged, what
        # follows the plan still reads as damage before a valid record, never as
        # the torn tail of an uncommitted plan (which resume would drop).
        self.journal.pad_to(COMMIT_SPACING)
        self.journal.append(RecordType.PROGRESS, {"next": 0})
        self.journal.sync()  # commit durable before the first flash operation
        return self.plan

    def abort(self, reason: str) -> None:
        self.journal.append(RecordType.ABORT, {"reason": reason})
        self.journal.sync()


# ----------------------------------------------------------------- state


class StateKind(StrEnum):
    """What the journal says about the last transaction."""

    IDLE = "idle"  # nothing, or a transaction dropped before its commit
    UNCOMMITTED = "uncommitted"  # cut before COMMIT: nothing was written, resume drops it
    PENDING = "pending"  # committed, not done: resume finishes it
    DONE = "done"
    ABANDONED = "abandoned"  # resume gave up
    DAMAGED = "damaged"  # committed (or possibly so), and the journal cannot finish it
    UNREADABLE = "unreadable"  # the journal could not be read (status only)


@dataclass
class JournalState:
    kind: StateKind
    plan: Plan | None = None
    next_index: int = 0
    resumes: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    detail: str = ""


def pending_state(journal: Journal) -> JournalState:
    """What the journal says about the last transaction.

    A damaged journal is never read as "uncommitted" (which resume drops):
    without an intact plan behind a commit copy, or with damage and no
    commit found, the state is DAMAGED and resume refuses to guess.
    """
    records = journal.records
    plan_rec = journal.last(RecordType.PLAN)
    begin = journal.last(RecordType.BEGIN)
    if begin is None and plan_rec is None and not journal.damaged:
        return JournalState(StateKind.IDLE)
    plan = _decode(plan_rec)
    meta = begin.json().get("meta", {}) if begin else (plan.meta if plan else {})
    types = {r.type for r in records}
    if RecordType.DONE in types:
        return JournalState(StateKind.DONE, meta=meta)
    if RecordType.ABANDONED in types:
        detail = journal.last(RecordType.ABANDONED).json().get("reason", "")  # type: ignore[union-attr]
        return JournalState(StateKind.ABANDONED, meta=meta, detail=detail)
    commits = [r.json() for r in records if r.type == RecordType.COMMIT]
    where = ", ".join(f"{n} bytes at {off}" for off, n in journal.damaged)
    if not commits:
        # Commit records follow the plan: damage only before an intact plan
        # cannot have hidden one.
        plan_end = plan_rec.payload_offset + len(plan_rec.payload) if plan_rec else 0
        if any(off + n > plan_end for off, n in journal.damaged) or (
            journal.damaged and plan is None
        ):
            return JournalState(
                StateKind.DAMAGED,
                meta=meta,
                detail=f"damaged ({where}) and no commit record readable: it may have "
                "been committed, so it is not dropped",
            )
        if RecordType.ABORT in types:
            return JournalState(StateKind.IDLE, meta=meta)
        return JournalState(StateKind.UNCOMMITTED, meta=meta)
    digest = hashlib.sha256(plan_rec.payload).hexdigest() if plan_rec else None
    if plan is None or all(c.get("plan_sha256", digest) != digest for c in commits):
        return JournalState(
            StateKind.DAMAGED,
            meta=meta,
            detail=f"committed, but its plan is damaged ({where or 'unreadable'})",
        )
    progress = journal.last(RecordType.PROGRESS)
    next_index = progress.json()["next"] if progress else 0
    resumes = sum(1 for r in records if r.type == RecordType.RESUME)
    return JournalState(StateKind.PENDING, plan, next_index, resumes, meta)


def _decode(record: Record | None) -> Plan | None:
    if record is None:
        return None
    try:
        return Plan.decode(record.payload)
    except JournalError:
        return None


# ----------------------------------------------------------------- applying


@dataclass
class ApplyStats:
    blocks: int = 0
    skipped_identical: int = 0
    erases: int = 0
    erases_skipped: int = 0
    pages_programmed: int = 0
    verified: int = 0


ProgressFn = Callable[[int, int, str], None]


class Applier:
    """Walks a committed plan. The same code runs for the first run and for resume."""

    def __init__(
        self,
        flash: Flash,
        journal: Journal,
        plan: Plan,
        progress: ProgressFn | None = None,
        progress_every: int = DEFAULT_PROGRESS_EVERY,
    ) -> None:
        self.flash = flash
        self.journal = journal
        self.plan = plan
        self.progress = progress
        self.progress_every = max(1, progress_every)
        self.stats = ApplyStats()
        self._files: dict[int, BinaryIO] = {}
        self._step_ends = {s.end for s in plan.steps}

    def _target(self, e: Entry) -> bytes:
        bs = self.plan.block_size
        if e.src == Src.ERASED:
            data = b""
        elif e.src == Src.JOURNAL:
            data = self.journal.read_data(e.arg)
        elif e.src == Src.FLASH:
            data = self.flash.read(e.arg, e.data_len)
        else:
            f = self._files.get(e.file)
            if f is None:
                path = self.plan.sources[e.file]
                try:
                    f = self._files[e.file] = open(path, "rb")  # noqa: SIM115 - closed in run()
                except OSError as err:
                    raise JournalError(
                        f"source {path} of the pending update is gone: {err.strerror}"
                    ) from None
            f.seek(e.arg)
            data = f.read(e.data_len)
        block = data + b"\xff" * (bs - len(data))
        if sha256(block) != e.sha256:
            raise VerifyError(
                f"source data ({e.src.name}) for block 0x{e.offset:x} differs from the plan"
            )
        return block

    def _write_block(self, e: Entry, current: bytes) -> None:
        target = self._target(e)
        ws = self.flash.geometry.writesize
        cur, tgt = int.from_bytes(current, "little"), int.from_bytes(target, "little")
        if cur & tgt != tgt:
            # Some bit must go 0 -> 1: only an erase does that.
            self.flash.erase(e.offset, e.length)
            self.stats.erases += 1
            current = b"\xff" * e.length
        else:
            self.stats.erases_skipped += 1
        # One program call for the span of pages that differ: the SCM firmware
        # writes whole blocks, so on the real device one call is one SCM call.
        unit = max(ws, self.flash.program_unit)
        changed = [
            p for p in range(0, e.length, unit) if target[p : p + unit] != current[p : p + unit]
        ]
        if changed:
            lo, hi = changed[0], changed[-1] + unit
            self.flash.program(e.offset + lo, target[lo:hi])
            self.stats.pages_programmed += (hi - lo) // ws
        if sha256(self.flash.read(e.offset, e.length)) != e.sha256:
            raise VerifyError(f"read-back of block 0x{e.offset:x} differs from what was written")

    def run(self, start: int = 0, on_finish: Callable[[], None] | None = None) -> ApplyStats:
        entries = self.plan.entries
        total = len(entries)
        try:
            written = 0  # blocks written since the last PROGRESS record
            for i in range(start, total):
                e = entries[i]
                current = self.flash.read(e.offset, e.length)
                if e.op == Op.VERIFY:
                    if sha256(current) != e.sha256:
                        raise VerifyError(
                            f"block 0x{e.offset:x} differs from the plan at step "
                            f"'{self.plan.step_at(i)}': stopped before going on"
                        )
                    self.stats.verified += 1
                    if self.progress:
                        self.progress(i + 1, total, self.plan.step_at(i))
                    continue
                self.stats.blocks += 1
                if sha256(current) == e.sha256:
                    self.stats.skipped_identical += 1
                else:
                    self._write_block(e, current)
                    written += 1
                done = i + 1
                # Progress only bounds what a resume re-reads (it re-hashes, never
                # trusts), so identical blocks cost no fsync.
                if written and (written >= self.progress_every or done in self._step_ends):
                    self.journal.append(RecordType.PROGRESS, {"next": done})
                    self.journal.sync()
                    written = 0
                if self.progress:
                    self.progress(done, total, self.plan.step_at(i))
            if on_finish:
                on_finish()
            self.journal.append(RecordType.DONE, {"txid": self.plan.meta.get("txid")})
            self.journal.sync()
        finally:
            for f in self._files.values():
                f.close()
            self._files.clear()
        return self.stats


def apply(
    flash: Flash,
    journal: Journal,
    plan: Plan,
    progress: ProgressFn | None = None,
    progress_every: int = DEFAULT_PROGRESS_EVERY,
) -> ApplyStats:
    return Applier(flash, journal, plan, progress, progress_every).run()


def resume(
    flash: Flash,
    journal: Journal,
    max_attempts: int = DEFAULT_MAX_RESUMES,
    progress: ProgressFn | None = None,
    progress_every: int = DEFAULT_PROGRESS_EVERY,
) -> tuple[JournalState, ApplyStats | None]:
    """Finish a committed transaction, drop an uncommitted one; idempotent."""
    state = pending_state(journal)
    if state.kind == StateKind.UNCOMMITTED:
        journal.append(RecordType.ABORT, {"reason": "not committed before the interruption"})
        journal.sync()
        return state, None
    if state.kind == StateKind.DAMAGED:
        raise JournalDamagedError(damaged_message(journal, state))
    if state.kind != StateKind.PENDING:
        return state, None
    assert state.plan is not None
    if state.resumes >= max_attempts:
        reason = f"gave up after {state.resumes} resume attempts"
        journal.append(RecordType.ABANDONED, {"reason": reason})
        journal.sync()
        raise JournalError(f"update {state.meta.get('txid', '?')}: {reason}")
    _check_redo_images(flash, journal, state)
    journal.append(RecordType.RESUME, {"attempt": state.resumes + 1, "next": state.next_index})
    journal.sync()
    applier = Applier(flash, journal, state.plan, progress, progress_every)
    stats = applier.run(state.next_index)
    return state, stats


def _check_redo_images(flash: Flash, journal: Journal, state: JournalState) -> None:
    """Refuse before the first write if a redo image still needed was damaged."""
    if not journal.damaged:
        return
    assert state.plan is not None
    have = {r.seq for r in journal.records if r.type == RecordType.DATA}
    for e in state.plan.entries[state.next_index :]:
        if e.src != Src.JOURNAL or e.arg in have:
            continue
        if sha256(flash.read(e.offset, e.length)) != e.sha256:
            raise JournalDamagedError(
                f"the journal {journal.path} of update {state.meta.get('txid', '?')} lost the "
                f"redo image of block 0x{e.offset:x} (record {e.arg}), which is not written "
                "yet: the update cannot be finished; the journal was left as it is "
                "('scm-fwupdate resume --set-aside', then install the bundle again)"
            )


def damaged_message(journal: Journal, state: JournalState) -> str:
    return (
        f"the journal {journal.path} of update {state.meta.get('txid', '?')} is {state.detail}; "
        "it was left as it is: inspect it, then 'scm-fwupdate resume --set-aside' to keep it "
        "aside and install the bundle again"
    )


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
