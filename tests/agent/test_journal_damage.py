"""A damaged journal after COMMIT never leads to dropping the update (issue 12, defect 4).

Each case: an in-place VarStore update (its new content lives only in the
journal's DATA records) cut part way through the writes, then one kind of
damage to the journal file, then ``resume``. It must finish to the exact
target, or refuse with JournalDamagedError and leave the journal's bytes as
they were; it must never report success with the target unmet, nor drop the
update as uncommitted.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scm_fwupdate import imagegen
from scm_fwupdate.errors import JournalDamagedError, JournalError
from scm_fwupdate.flash import Geometry
from scm_fwupdate.gpt import read_gpt_image
from scm_fwupdate.journal import HEADER, Journal, RecordType
from scm_fwupdate.sim import FaultPlan, PowerCut, SimJournal, SimNor
from scm_fwupdate.strategies import ImageSpec, plan_install
from scm_fwupdate.transaction import StateKind, apply, pending_state, resume

TARGET = "VarStore"


@dataclass(frozen=True)
class Case:
    original: bytes
    expected: bytes
    image: Path
    cut_at: int  # half way through the writes
    first_write: int  # the first flash operation after the COMMIT, before any progress


@cache
def case(tmp: Path) -> Case:
    board = imagegen.build()
    p = board.gpt.find(TARGET)
    new = imagegen.firmware(TARGET, p.size, 2, changed=0.5)
    image = tmp / "varstore.bin"
    image.write_bytes(new)
    expected = bytearray(board.image)
    expected[p.offset : p.offset + p.size] = new + b"\xff" * (p.size - len(new))
    nor = SimNor(Geometry(len(board.image), 4096, 256), initial=board.image)
    nor.fault = FaultPlan()
    with SimJournal(tmp / "count", fault=nor.fault) as j:  # journal syncs count as operations
        plan = plan_install(nor, j, read_gpt_image(board.image), [spec(image)]).commit()
        before = nor.fault.ops
        apply(nor, j, plan, progress_every=4)
    writes = nor.fault.ops - before
    return Case(board.image, bytes(expected), image, before + writes // 2, before + 1)


def spec(image: Path) -> ImageSpec:
    data = image.read_bytes()
    return ImageSpec(TARGET, image, len(data), sha256=hashlib.sha256(data).hexdigest())


def cut_update(tmp: Path, early: bool = False) -> tuple[SimNor, Path, Case]:
    """The update cut half way through its writes (committed, VarStore part old, part new),
    or ``early``: at its first flash operation, before any progress record."""
    c = case(tmp.parent)
    nor = SimNor(Geometry(len(c.original), 4096, 256), initial=c.original)
    path = tmp / "journal"
    nor.fault = FaultPlan(c.first_write if early else c.cut_at)
    j = SimJournal(path, fault=nor.fault)
    try:
        plan = plan_install(nor, j, read_gpt_image(c.original), [spec(c.image)]).commit()
        apply(nor, j, plan, progress_every=4)
    except PowerCut:
        j.power_loss()
    j.close()
    nor.fault = FaultPlan()
    return nor, path, c


def records(path: Path) -> list[tuple[RecordType, int, int]]:
    """(type, header offset, total length) of every record, read here from the format."""
    data = path.read_bytes()
    out, pos = [], 0
    while pos + HEADER.size <= len(data):
        _magic, rtype, _flags, _seq, length = HEADER.unpack_from(data, pos)
        out.append((RecordType(rtype), pos, HEADER.size + length + 4))
        pos += HEADER.size + length + 4
    return out


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x10
    path.write_bytes(bytes(data))


def outcome(nor: SimNor, path: Path, c: Case) -> str:
    """Resume, then say what happened: 'finished' (exact target) or 'refused'."""
    before = path.read_bytes()
    with Journal(path) as j:
        assert pending_state(j).kind != StateKind.UNCOMMITTED, "a committed update read as not"
        try:
            resume(nor, j, progress_every=4)
        except JournalDamagedError:
            refused = True
        else:
            refused = False
    if refused:
        assert path.read_bytes() == before, "a refused resume changed the journal"
        return "refused"
    assert bytes(nor.snapshot()) == c.expected, "resume reported success with the target unmet"
    return "finished"


@pytest.fixture
def cut(tmp_path: Path) -> tuple[SimNor, Path, Case]:
    return cut_update(tmp_path)


def test_a_flipped_bit_in_either_commit_copy_still_finishes(cut) -> None:
    nor, path, c = cut
    commits = [r for r in records(path) if r[0] == RecordType.COMMIT]
    assert len(commits) == 2 and commits[0][1] // 4096 != commits[1][1] // 4096
    for _type, off, length in commits:
        nor2 = SimNor(nor.geometry, initial=bytes(nor.snapshot()))
        copy = path.with_name(f"j{off}")
        copy.write_bytes(path.read_bytes())
        flip(copy, off + length // 2)
        assert outcome(nor2, copy, c) == "finished"


def test_a_lost_redo_image_not_yet_written_is_refused_and_the_journal_kept(cut) -> None:
    nor, path, c = cut
    data = [r for r in records(path) if r[0] == RecordType.DATA]
    flip(path, data[-1][1] + 40)  # the last redo image: its block is not written yet
    assert outcome(nor, path, c) == "refused"
    with Journal(path) as j:
        assert pending_state(j).kind == StateKind.PENDING  # still there, still refused
        with pytest.raises(JournalDamagedError, match="cannot be finished"):
            resume(nor, j)


def test_a_lost_redo_image_already_written_finishes(cut) -> None:
    nor, path, c = cut
    data = [r for r in records(path) if r[0] == RecordType.DATA]
    flip(path, data[0][1] + 40)  # the first block was written before the cut
    assert outcome(nor, path, c) == "finished"


def test_a_damaged_plan_is_refused_not_dropped(cut) -> None:
    nor, path, c = cut
    plan = next(r for r in records(path) if r[0] == RecordType.PLAN)
    flip(path, plan[1] + plan[2] // 2)
    with Journal(path) as j:
        assert pending_state(j).kind == StateKind.DAMAGED
    assert outcome(nor, path, c) == "refused"


def test_a_damaged_begin_finishes_from_the_plan(cut) -> None:
    nor, path, c = cut
    flip(path, 20)
    assert outcome(nor, path, c) == "finished"


def test_both_commit_blocks_damaged_before_any_progress_is_refused_not_dropped(
    tmp_path: Path,
) -> None:
    """Two damages: the block with the plan's tail and COMMIT 1 zeroed, a bit of COMMIT 2
    flipped, cut before the first progress record. Without a valid record after them this
    read as the torn tail of an uncommitted plan, and resume dropped a started update."""
    nor, path, c = cut_update(tmp_path, early=True)
    assert bytes(nor.snapshot()) != c.original  # the first block was written
    commits = [r for r in records(path) if r[0] == RecordType.COMMIT]
    data = bytearray(path.read_bytes())
    start = commits[0][1] - commits[0][1] % 4096
    data[start : start + 4096] = bytes(len(data[start : start + 4096]))
    data[commits[1][1] + commits[1][2] // 2] ^= 0x10
    path.write_bytes(bytes(data))
    with Journal(path) as j:
        assert pending_state(j).kind == StateKind.DAMAGED
    assert outcome(nor, path, c) == "refused"


def test_damage_before_the_commit_is_not_dropped(tmp_path: Path) -> None:
    c = case(tmp_path)
    nor = SimNor(Geometry(len(c.original), 4096, 256), initial=c.original)
    path = tmp_path / "journal"
    with Journal(path) as j:
        plan_install(nor, j, read_gpt_image(c.original), [spec(c.image)])  # BEGIN, DATA; no PLAN
        j.sync()
    data = [r for r in records(path) if r[0] == RecordType.DATA]
    flip(path, data[0][1] + 40)
    with Journal(path) as j:
        assert pending_state(j).kind == StateKind.DAMAGED
        with pytest.raises(JournalError):
            resume(nor, j)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.sampled_from(["flip", "zero-block", "garbage"]), st.floats(0, 1)),
        min_size=1,
        max_size=2,
    ),
    st.booleans(),
)
def test_any_damage_after_commit_finishes_exactly_or_refuses(
    tmp_path: Path, damage, early: bool
) -> None:
    """Up to two damages anywhere in the journal, cut early (before any progress) or half way."""
    nor, path, c = cut_update(Path(tempfile.mkdtemp(dir=tmp_path)), early)
    size = path.stat().st_size
    data = bytearray(path.read_bytes())
    for kind, where in damage:
        at = min(size - 1, int(where * size))
        if kind == "flip":
            data[at] ^= 0x01
        elif kind == "zero-block":
            start = at - at % 4096
            data[start : start + 4096] = bytes(len(data[start : start + 4096]))
        else:
            data[at : at + 64] = bytes(range(64))[: len(data[at : at + 64])]
    path.write_bytes(bytes(data))
    try:
        result = outcome(nor, path, c)
    except JournalError:
        assert path.read_bytes() == bytes(data), "a refused resume changed the journal"
        result = "refused"
    assert result in ("finished", "refused")
