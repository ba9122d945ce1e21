"""Flash access: simulated NOR semantics, fault injection, MTD lookup and errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scm_fwupdate.errors import DeviceError
from scm_fwupdate.flash import Geometry, MtdFlash, find_mtd, open_flash
from scm_fwupdate.sim import CostModel, FaultPlan, NorViolation, PowerCut, SimNor

GEO = Geometry(64 * 1024, 4096, 256)


def test_erase_sets_block_to_ff_and_program_only_clears_bits() -> None:
    nor = SimNor(GEO, initial=bytes(GEO.size))
    nor.erase(4096, 4096)
    assert nor.read(4096, 4096) == b"\xff" * 4096
    assert nor.read(0, 16) == bytes(16)  # neighbour untouched
    nor.program(4096, b"\x0f" * 256)
    assert nor.read(4096, 256) == b"\x0f" * 256
    with pytest.raises(NorViolation):
        nor.program(4096, b"\xf0" * 256)  # would need 0 -> 1


def test_non_strict_nor_ands_like_the_chip() -> None:
    nor = SimNor(GEO, strict=False)
    nor.program(0, b"\x0f" * 256)
    nor.program(0, b"\xf3" * 256)
    assert nor.read(0, 256) == b"\x03" * 256


def test_alignment_and_range_are_enforced() -> None:
    nor = SimNor(GEO)
    with pytest.raises(DeviceError, match="not aligned"):
        nor.erase(100, 4096)
    with pytest.raises(DeviceError, match="not aligned"):
        nor.program(10, b"\0" * 256)
    with pytest.raises(DeviceError, match="outside"):
        nor.read(GEO.size - 10, 20)


def test_cost_model_counts_device_time() -> None:
    nor = SimNor(GEO, cost=CostModel(erase_block=0.045, program_page=0.0004, read_bytes_per_s=1e6))
    nor.erase(0, 8192)
    nor.program(0, bytes(4096))
    nor.read(0, 1000)
    assert nor.stats.erases == 2 and nor.stats.programs == 16
    assert nor.stats.device_time == pytest.approx(2 * 0.045 + 16 * 0.0004 + 0.001)


@pytest.mark.parametrize("cut_at", [0, 1, 5])
def test_clean_cut_stops_before_the_operation(cut_at: int) -> None:
    nor = SimNor(GEO, fault=FaultPlan(cut_at))
    data = bytes(range(256)) * 16
    with pytest.raises(PowerCut):
        nor.program(0, data)
    # pages before the cut landed, the rest is still erased
    assert nor.peek(0, cut_at * 256) == data[: cut_at * 256]
    assert nor.peek(cut_at * 256, 4096 - cut_at * 256) == b"\xff" * (4096 - cut_at * 256)


def test_torn_program_leaves_undefined_bits_only_where_bits_were_changing() -> None:
    nor = SimNor(GEO, fault=FaultPlan(0, torn=True, seed=3))
    target = bytes([0x00, 0xF0]) * 128
    with pytest.raises(PowerCut):
        nor.program(0, target)
    page = nor.peek(0, 256)
    assert page not in (target, b"\xff" * 256)  # neither old nor new
    for got, want in zip(page, target, strict=True):
        assert got & want == want  # bits that stay 1 stayed 1


def test_torn_erase_leaves_a_mix() -> None:
    nor = SimNor(GEO, initial=bytes(GEO.size), fault=FaultPlan(0, torn=True, seed=1))
    with pytest.raises(PowerCut):
        nor.erase(0, 4096)
    block = nor.peek(0, 4096)
    assert block not in (bytes(4096), b"\xff" * 4096)
    assert nor.peek(4096, 4096) == bytes(4096)


def test_power_cut_is_not_an_exception_the_engine_could_swallow() -> None:
    assert not issubclass(PowerCut, Exception)


def test_file_backed_nor_persists_across_instances(tmp_path: Path) -> None:
    img = tmp_path / "nor.img"
    img.write_bytes(b"\xff" * GEO.size)
    nor = SimNor.open_image(img)
    nor.program(4096, b"\x55" * 256)
    nor.close()
    assert SimNor.open_image(img).read(4096, 256) == b"\x55" * 256


@pytest.mark.parametrize(
    ("size", "erase", "write"), [(65536, 4096, 300), (65536 + 100, 4096, 256), (65536, 0, 256)]
)
def test_geometry_that_does_not_divide_is_refused(size: int, erase: int, write: int) -> None:
    with pytest.raises(DeviceError):
        Geometry(size, erase, write)


def test_image_whose_size_does_not_divide_is_refused(tmp_path: Path) -> None:
    img = tmp_path / "odd.img"
    img.write_bytes(b"\xff" * 5000)
    with pytest.raises(DeviceError, match="does not divide"):
        open_flash(str(img), writable=True)


def _fake_sysfs(root: Path, names: dict[str, str]) -> Path:
    for dev, name in names.items():
        (root / dev).mkdir(parents=True)
        (root / dev / "name").write_text(name + "\n")
    return root


def test_find_mtd_by_name(tmp_path: Path) -> None:
    sysfs = _fake_sysfs(
        tmp_path / "sys",
        {"mtd0": "spi0.0", "mtd0ro": "spi0.0", "mtd1": "qcom_scm_storage.0.auto"},
    )
    assert find_mtd("qcom_scm_storage.0.auto", sysfs) == Path("/dev/mtd1")
    # the platform instance suffix of PLATFORM_DEVID_AUTO need not be known
    assert find_mtd("qcom_scm_storage", sysfs) == Path("/dev/mtd1")
    assert find_mtd("spi0.0", sysfs) == Path("/dev/mtd0")
    with pytest.raises(DeviceError, match="no MTD device named 'nope'"):
        find_mtd("nope", sysfs)


def test_find_mtd_refuses_ambiguous_names(tmp_path: Path) -> None:
    sysfs = _fake_sysfs(tmp_path / "sys", {"mtd0": "same", "mtd1": "same"})
    with pytest.raises(DeviceError, match="several"):
        find_mtd("same", sysfs)


def test_missing_device_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="does not exist"):
        open_flash(str(tmp_path / "mtd9"))


def test_a_regular_file_is_not_an_mtd_device(tmp_path: Path) -> None:
    f = tmp_path / "notmtd"
    f.write_bytes(b"x" * 4096)
    with pytest.raises(DeviceError, match="not an MTD device"):
        MtdFlash(f)


@pytest.mark.skipif(not Path("/dev/null").is_char_device(), reason="needs /dev/null")
def test_a_character_device_that_is_not_mtd_is_refused() -> None:
    with pytest.raises(DeviceError, match="MEMGETINFO"):
        MtdFlash(Path(os.devnull))


def test_ioctl_structures_match_the_ioctl_numbers() -> None:
    from scm_fwupdate import flash

    # _IOC_SIZE is bits 16-29 of the request: the kernel copies exactly that much.
    assert flash.MTD_INFO_USER.size == (flash.MEMGETINFO >> 16) & 0x3FFF == 32
    assert (flash.MEMERASE64 >> 16) & 0x3FFF == 16
