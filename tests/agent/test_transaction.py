"""Transactions and strategies: flash efficiency, resume rules, bad input writes nothing."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import pytest

from scm_fwupdate import gpt as G
from scm_fwupdate import imagegen
from scm_fwupdate.errors import DeviceError, GptError, JournalError, PolicyError, VerifyError
from scm_fwupdate.flash import Geometry, open_flash
from scm_fwupdate.journal import Journal, RecordType
from scm_fwupdate.sim import FaultPlan, PowerCut, SimJournal, SimNor
from scm_fwupdate.strategies import ImageSpec, classify, plan_install
from scm_fwupdate.transaction import apply, pending_state, resume


@cache
def board() -> imagegen.Board:
    return imagegen.build()


def nor_of(image: bytes, **kw: object) -> SimNor:
    return SimNor(Geometry(len(image), 4096, 256), initial=image, **kw)  # type: ignore[arg-type]


def spec(tmp: Path, target: str, data: bytes, sha: str | None = None) -> ImageSpec:
    path = tmp / f"{target}.bin"
    path.write_bytes(data)
    return ImageSpec(target, path, len(data), sha256=sha or hashlib.sha256(data).hexdigest())


def new_fw(target: str, version: int = 2) -> bytes:
    table = board().gpt
    name = f"{target}_a" if f"{target}_a" in table.names() else target
    return imagegen.firmware(target, table.find(name).size, version)


def install(nor: SimNor, journal: Journal, images: list[ImageSpec], **kw: object) -> None:
    table = G.read_gpt(nor.read, nor.geometry.size)
    plan = plan_install(nor, journal, table, images, **kw).commit()  # type: ignore[arg-type]
    apply(nor, journal, plan)


def test_classification_from_gpt_names() -> None:
    table = board().gpt
    assert classify(table, "dtb") == "ab"
    assert classify(table, "UEFI") == "primary-backup"
    assert classify(table, "VarStore") == "single"
    assert classify(table, "VarStore", {"VarStore": "ignore"}) == "ignore"
    with pytest.raises(PolicyError, match="no partition or slot group 'nope'"):
        classify(table, "nope")


def test_only_changed_blocks_are_erased_and_identical_ones_skipped(shm_path: Path) -> None:
    b = board()
    nor = nor_of(b.image)
    data = new_fw("HYP")
    old = b.firmware["HYP"]
    changed = sum(
        data[i : i + 4096] != old[i : i + 4096] for i in range(0, max(len(data), len(old)), 4096)
    )
    with Journal(shm_path / "j") as j:
        install(nor, j, [spec(shm_path, "HYP", data)])
    # both copies: the changed blocks and nothing else
    assert nor.stats.erases == 2 * changed
    for name in ("HYP", "HYP_BACKUP"):
        p = G.read_gpt(nor.read, nor.geometry.size).find(name)
        assert nor.peek(p.offset, len(data)) == data


def test_erase_is_skipped_when_only_bits_are_cleared(shm_path: Path) -> None:
    b = board()
    table = b.gpt
    p = table.find("logfs")  # erased in the generated image beyond its content
    image = bytearray(b.image)
    image[p.offset : p.offset + p.size] = b"\xff" * p.size
    nor = nor_of(bytes(image))
    data = bytes(range(256)) * 64  # 16 KiB into a blank partition
    with Journal(shm_path / "j") as j:
        install(nor, j, [spec(shm_path, "logfs", data)])
    assert nor.stats.erases == 0
    assert nor.peek(p.offset, len(data)) == data


def test_a_second_identical_install_writes_nothing(shm_path: Path) -> None:
    nor = nor_of(board().image)
    images = [spec(shm_path, "HYP", new_fw("HYP"))]
    with Journal(shm_path / "j") as j:
        install(nor, j, images)
        erases, programs = nor.stats.erases, nor.stats.programs
        install(nor, j, images)
    assert (nor.stats.erases, nor.stats.programs) == (erases, programs)


def test_ab_install_marks_the_target_unbootable_first_and_activates_last(shm_path: Path) -> None:
    nor = nor_of(board().image)
    seen = []

    def progress(done: int, total: int, step: str) -> None:
        seen.append(step)

    with Journal(shm_path / "j") as j:
        table = G.read_gpt(nor.read, nor.geometry.size)
        plan = plan_install(nor, j, table, [spec(shm_path, "dtb", new_fw("dtb"))]).commit()
        apply(nor, j, plan, progress=progress)
    steps = list(dict.fromkeys(seen))
    assert steps[0] == "mark slot b unbootable: backup GPT"
    assert steps[-2:] == ["activate slot b: backup GPT", "activate slot b: primary GPT"]
    assert G.boot_slot(G.read_gpt(nor.read, nor.geometry.size)) == "b"


def test_no_activate_leaves_the_boot_slot_alone(shm_path: Path) -> None:
    nor = nor_of(board().image)
    with Journal(shm_path / "j") as j:
        install(nor, j, [spec(shm_path, "dtb", new_fw("dtb"))], activate=False)
    table = G.read_gpt(nor.read, nor.geometry.size)
    assert G.boot_slot(table) == "a"
    b = table.find("dtb_b")
    assert not b.unbootable and not b.active and b.retry == 7


def test_pairs_missing_from_the_update_are_copied_into_the_new_slot(shm_path: Path) -> None:
    b = board()
    image = bytearray(b.image)
    slot_b = b.gpt.find("uefisecapp_b")
    image[slot_b.offset : slot_b.offset + 4096] = b"\0" * 4096  # b holds something older
    nor = nor_of(bytes(image))
    with Journal(shm_path / "j") as j:
        install(nor, j, [spec(shm_path, "dtb", new_fw("dtb"))])
    a = b.gpt.find("uefisecapp_a")
    assert nor.peek(slot_b.offset, slot_b.size) == nor.peek(a.offset, a.size)


def test_resume_drops_an_uncommitted_transaction(shm_path: Path) -> None:
    # op 0 makes the plan durable, op 1 would be the commit record
    nor = nor_of(board().image, fault=FaultPlan(cut_at=1))
    j = SimJournal(shm_path / "j", fault=nor.fault)
    with pytest.raises(PowerCut):
        install(nor, j, [spec(shm_path, "HYP", new_fw("HYP"))])
    j.power_loss()
    j.close()
    with Journal(shm_path / "j") as j2:
        assert pending_state(j2).kind == "uncommitted"
        state, stats = resume(nor, j2)
        assert stats is None and state.kind == "uncommitted"
        assert pending_state(j2).kind == "idle"
    assert bytes(nor.snapshot()) == board().image


def test_single_copy_completes_from_the_journal_alone(shm_path: Path) -> None:
    b = board()
    nor = nor_of(b.image)
    data = new_fw("VarStore")
    image = spec(shm_path, "VarStore", data)
    nor.fault = FaultPlan(cut_at=12)
    j = SimJournal(shm_path / "j", fault=nor.fault)
    with pytest.raises(PowerCut):
        install(nor, j, [image])
    j.close()
    image.path.unlink()  # the source is gone: only the journal's redo images are left
    nor.fault = FaultPlan()
    with Journal(shm_path / "j") as j2:
        state, _ = resume(nor, j2)
        assert state.kind == "pending"
    p = b.gpt.find("VarStore")
    assert nor.peek(p.offset, len(data)) == data


def test_resume_attempts_are_capped_and_reported(shm_path: Path) -> None:
    nor = nor_of(board().image)
    image = spec(shm_path, "HYP", new_fw("HYP"))
    nor.fault = FaultPlan(cut_at=40)
    j = SimJournal(shm_path / "j", fault=nor.fault)
    with pytest.raises(PowerCut):
        install(nor, j, [image])
    j.close()
    image.path.write_bytes(b"not the image any more")
    nor.fault = FaultPlan()
    for attempt in range(3):
        with Journal(shm_path / "j") as j2, pytest.raises(VerifyError):
            resume(nor, j2, max_attempts=3)
        with Journal(shm_path / "j") as j2:
            assert pending_state(j2).resumes == attempt + 1
    with Journal(shm_path / "j") as j2, pytest.raises(JournalError, match="gave up after 3"):
        resume(nor, j2, max_attempts=3)
    with Journal(shm_path / "j") as j2:
        assert pending_state(j2).kind == "abandoned"


def test_blocks_after_the_last_progress_record_are_rehashed_not_trusted(shm_path: Path) -> None:
    nor = nor_of(board().image)
    image = spec(shm_path, "UEFI", new_fw("UEFI"))
    with Journal(shm_path / "j") as j:
        table = G.read_gpt(nor.read, nor.geometry.size)
        plan = plan_install(nor, j, table, [image]).commit()
        nor.fault = FaultPlan(cut_at=200)
        j.fault = nor.fault
        with pytest.raises(PowerCut):
            apply(nor, j, plan, progress_every=10**6)  # no progress record before the cut
    nor.fault = FaultPlan()
    erases_before = nor.stats.erases
    with Journal(shm_path / "j") as j:
        assert pending_state(j).next_index == 0
        resume(nor, j)
    # everything written before the cut was recognised by its hash: at most one block redone
    total_changed = 2 * sum(
        new_fw("UEFI")[i : i + 4096] != board().firmware["UEFI"][i : i + 4096]
        for i in range(0, len(new_fw("UEFI")), 4096)
    )
    assert nor.stats.erases - erases_before <= total_changed - erases_before + 1


def test_a_new_install_over_a_pending_one_is_refused(shm_path: Path) -> None:
    nor = nor_of(board().image, fault=FaultPlan(cut_at=30))
    j = SimJournal(shm_path / "j", fault=nor.fault)
    with pytest.raises(PowerCut):
        install(nor, j, [spec(shm_path, "HYP", new_fw("HYP"))])
    j.close()
    nor.fault = FaultPlan()
    with Journal(shm_path / "j") as j2, pytest.raises(JournalError, match="run 'resume' first"):
        install(nor, j2, [spec(shm_path, "TZ", new_fw("TZ"))])


# ------------------------------------------------------------ bad input


def _unchanged_after(image: bytes, shm_path: Path, images_fn, exc, match: str) -> None:
    nor = nor_of(image)
    with Journal(shm_path / "j") as j:
        with pytest.raises(exc, match=match):
            install(nor, j, images_fn())
        assert pending_state(j).kind in ("idle", "uncommitted")
        assert not any(r.type == RecordType.COMMIT for r in j.records)
    assert nor.stats.erases == nor.stats.programs == 0
    assert bytes(nor.snapshot()) == image


def test_image_larger_than_its_partition(shm_path: Path) -> None:
    size = board().gpt.find("HYP").size
    _unchanged_after(
        board().image,
        shm_path,
        lambda: [spec(shm_path, "HYP", b"\x01" * (size + 1))],
        PolicyError,
        "larger than partition 'HYP'",
    )


def test_image_hash_mismatch_writes_nothing(shm_path: Path) -> None:
    _unchanged_after(
        board().image,
        shm_path,
        lambda: [
            spec(shm_path, "dtb", new_fw("dtb")),
            spec(shm_path, "VarStore", new_fw("VarStore"), sha="0" * 64),
        ],
        VerifyError,
        "sha256 mismatch",
    )


def test_both_gpt_copies_corrupt(shm_path: Path) -> None:
    image = bytearray(board().image)
    image[4096 + 30] ^= 0xFF
    image[len(image) - 4096 + 30] ^= 0xFF
    nor = nor_of(bytes(image))
    with pytest.raises(GptError, match="no valid GPT"):
        G.read_gpt(nor.read, nor.geometry.size)
    assert nor.stats.erases == nor.stats.programs == 0


def test_garbage_journal_is_not_a_crash(shm_path: Path) -> None:
    (shm_path / "j").write_bytes(bytes(range(256)) * 64)
    nor = nor_of(board().image)
    with Journal(shm_path / "j") as j:
        state, stats = resume(nor, j)
    assert state.kind == "idle" and stats is None
    assert bytes(nor.snapshot()) == board().image


def test_missing_device(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="does not exist"):
        open_flash(str(tmp_path / "missing.img"), writable=True)


def test_geometry_that_does_not_divide_the_partitions(shm_path: Path) -> None:
    # A 64 KiB erase block does not divide the 4 KiB-aligned partitions.
    image = board().image
    nor = SimNor(Geometry(len(image), 65536, 256), initial=image)
    with Journal(shm_path / "j") as j, pytest.raises(GptError, match="not aligned"):
        install(nor, j, [spec(shm_path, "HYP", new_fw("HYP"))])
    assert bytes(nor.snapshot()) == image
