"""Write-ahead journal: records survive reopening, torn and garbage tails are ignored."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scm_fwupdate.journal import HEADER, Journal, RecordType
from scm_fwupdate.sim import FaultPlan, PowerCut, SimJournal


def _fill(path: Path) -> None:
    with Journal(path) as j:
        j.append(RecordType.BEGIN, {"txid": "t1"})
        j.append(RecordType.DATA, b"\xaa" * 4096)
        j.append(RecordType.COMMIT, {"txid": "t1"})
        j.sync()


def test_records_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    _fill(path)
    with Journal(path) as j:
        assert [r.type for r in j.records] == [RecordType.BEGIN, RecordType.DATA, RecordType.COMMIT]
        assert [r.seq for r in j.records] == [0, 1, 2]
        assert j.records[0].json() == {"txid": "t1"}
        assert j.read_data(1) == b"\xaa" * 4096


@pytest.mark.parametrize("cut", [1, 5, 13, 17, 28])  # COMMIT record is 29 bytes
def test_truncated_tail_is_ignored_and_cut_off(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "journal"
    _fill(path)
    size = path.stat().st_size
    os.truncate(path, size - cut)
    torn = path.read_bytes()
    with Journal(path) as j:
        assert [r.type for r in j.records] == [RecordType.BEGIN, RecordType.DATA]
        assert path.read_bytes() == torn  # opening changes nothing (status reads unlocked)
        j.append(RecordType.ABORT, {"reason": "x"})
        j.sync()
    with Journal(path) as j:  # the new record follows the last valid one
        assert [r.type for r in j.records][-1] == RecordType.ABORT
        assert j.records[-1].seq == 2
        abort_size = path.stat().st_size - j.records[-1].payload_offset + HEADER.size
    assert path.stat().st_size == size - 29 + abort_size  # the torn COMMIT was cut off


def test_garbage_tail_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    _fill(path)
    with open(path, "ab") as f:
        f.write(os.urandom(300))
    with Journal(path) as j:
        assert len(j.records) == 3


def test_a_corrupt_record_between_valid_ones_is_damage_kept_not_cut(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    _fill(path)
    raw = bytearray(path.read_bytes())
    second = HEADER.size + len(b'{"txid":"t1"}') + 4
    raw[second + HEADER.size + 10] ^= 0x01  # a bit flip inside the DATA payload
    path.write_bytes(bytes(raw))
    with Journal(path) as j:
        # The record after the damage (the commit) still counts (issue 12).
        assert [r.type for r in j.records] == [RecordType.BEGIN, RecordType.COMMIT]
        assert [off for off, _n in j.damaged] == [second]
    assert path.read_bytes() == bytes(raw)  # damage is not truncated away


def test_a_corrupt_last_record_is_a_torn_tail_and_cut(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    _fill(path)
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0x01  # inside the last record
    path.write_bytes(bytes(raw))
    with Journal(path) as j:
        assert [r.type for r in j.records] == [RecordType.BEGIN, RecordType.DATA]
        assert not j.damaged
        assert path.read_bytes() == bytes(raw)  # left for the next append to cut
        j.append(RecordType.ABORT, {"reason": "x"})
    with Journal(path) as j:
        assert [r.type for r in j.records] == [RecordType.BEGIN, RecordType.DATA, RecordType.ABORT]
        assert path.stat().st_size == j.records[-1].payload_offset + len(b'{"reason":"x"}') + 4


def test_sequence_gap_is_not_accepted(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    _fill(a)
    _fill(b)
    # Splice b's records after a's: their sequence numbers restart at 0.
    (tmp_path / "c").write_bytes(a.read_bytes() + b.read_bytes())
    with Journal(tmp_path / "c") as j:
        assert len(j.records) == 3


def test_pure_garbage_is_an_empty_journal_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    path.write_bytes(os.urandom(10000))
    with Journal(path) as j:
        assert j.records == []
        assert path.stat().st_size == 10000  # opening alone cuts nothing
        j.append(RecordType.BEGIN, {"txid": "t"})
        assert path.stat().st_size == j.records[0].payload_offset + len(b'{"txid":"t"}') + 4


@pytest.mark.parametrize("torn", [False, True])
def test_cut_at_sync_loses_or_tears_only_the_unsynced_tail(tmp_path: Path, torn: bool) -> None:
    path = tmp_path / "journal"
    for seed in range(20):
        path.unlink(missing_ok=True)
        fault = FaultPlan(cut_at=1, torn=torn, seed=seed)
        j = SimJournal(path, fault=fault)
        j.append(RecordType.BEGIN, {"txid": "t"})
        j.sync()  # op 0: durable
        j.append(RecordType.COMMIT, {"txid": "t"})
        with pytest.raises(PowerCut):
            j.sync()  # op 1: the cut
        j.close()
        with Journal(path) as again:
            types = [r.type for r in again.records]
            assert types[0] == RecordType.BEGIN
            assert types in ([RecordType.BEGIN], [RecordType.BEGIN, RecordType.COMMIT])
            assert torn or types == [RecordType.BEGIN]


def test_data_records_are_not_kept_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    with Journal(path) as j:
        for _ in range(64):
            j.append(RecordType.DATA, b"\x11" * 65536)
        j.sync()
    with Journal(path) as j:
        assert all(r.payload == b"" for r in j.records)
        assert j.read_data(63) == b"\x11" * 65536
