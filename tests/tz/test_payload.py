"""The SCM storage service of tz-emulator, driven by the bare-metal payload.

The payload (tz-emulator/payload/main.c) issues the SMCs exactly as Linux's
SCM driver does and prints its results; these tests check them and then the
host file that backs the emulated NOR.
"""

import gzip
import os
import signal
import struct
import subprocess
from pathlib import Path

import pytest
from conftest import (
    EXIT_CONFIG_ERROR,
    EXIT_POWER_CUT,
    EXIT_SYSTEM_OFF,
    PAYLOAD,
    RUN_QEMU,
    ST_INVALID_PARAMETER,
    ST_NOT_SUPPORTED,
    ST_READ_ONLY,
    ST_STORAGE_ERROR,
    ST_SUCCESS,
    parse,
)

BS = 4096
BLOCKS = 8192
SIZE = BS * BLOCKS


def pat_a(i: int) -> int:
    return (i * 7 + 1) & 0xFF


def pat_b(i: int) -> int:
    return (0xF0 ^ i) & 0xFF


def pat_c(i: int) -> int:
    return ((i >> 3) ^ 0x33) & 0xFF


def pat_d(i: int) -> int:
    return (i ^ 0x5A) & 0xFF


def pattern(fn, n: int) -> bytes:
    return bytes(fn(i) for i in range(n))


def block(img: bytes, lba: int, count: int = 1, bs: int = BS) -> bytes:
    return img[lba * bs : (lba + count) * bs]


def make_image(path: Path, size: int = SIZE, fill: int = 0x00) -> Path:
    """A used part: not erased, so every ERASE and WRITE is visible."""
    img = bytearray([fill]) * size
    img[300 * BS : 301 * BS] = b"\x3c" * BS
    path.write_bytes(bytes(img))
    return path


BAD_ARGUMENTS = {
    "info_small_buf": ST_INVALID_PARAMETER,
    "read_oob": ST_INVALID_PARAMETER,
    "read_span": ST_INVALID_PARAMETER,
    "read_huge_lba": ST_INVALID_PARAMETER,
    "read_unaligned_len": ST_INVALID_PARAMETER,
    "read_zero_len": ST_INVALID_PARAMETER,
    "read_small_buf": ST_INVALID_PARAMETER,
    "write_oob": ST_INVALID_PARAMETER,
    "erase_span": ST_INVALID_PARAMETER,
    "erase_unaligned_len": ST_INVALID_PARAMETER,
    "unknown_cmd": ST_NOT_SUPPORTED,
    "bad_type": ST_INVALID_PARAMETER,
    "bad_cmd_len": ST_INVALID_PARAMETER,
}


def test_probe_calls(run_payload, tmp_path):
    r = run_payload(make_image(tmp_path / "nor.img"))
    assert r.rc == EXIT_SYSTEM_OFF, r.out
    assert r.line("EL ") == "EL 1"
    assert r.smc["smccc_version"][0] == 0x10001
    assert r.smc["psci_version"][0] == 0x10000
    assert r.smc["psci_features_off"][0] == 0
    assert r.smc["psci_cpu_on"][0] == 2**64 - 1  # NOT_SUPPORTED
    # Linux's convention probe: x0 = 0, x1 = 1.
    assert r.smc["avail_info"] == (0, 1)
    assert r.smc["avail_storage"] == (0, 1)
    assert r.smc["avail_storage_std"] == (0, 1)
    assert r.smc["avail_waitq"] == (0, 0)
    assert r.smc["waitq"][0] == 2**64 - 1


def test_and_programming(run_payload, tmp_path):
    nor = make_image(tmp_path / "nor.img")
    r = run_payload(nor)
    assert r.rc == EXIT_SYSTEM_OFF, r.out
    assert "DONE" in r.out
    assert r.info == {
        "st": "0",
        "blocks": "8192",
        "block_size": "4096",
        "page_size": "256",
        "num_physical": "1",
        "type": "NOR",
        "product": "W25Q256JW_(emulated)",
    }
    assert r.checks == {
        "erased_ff": True,
        "read_a": True,
        "read_multi": True,
        "read_last": True,
    }
    assert r.line("WRITE2") == "WRITE2 and=1 overwrite=0"
    for name, status in BAD_ARGUMENTS.items():
        assert r.st[name][1] == status, name
    for name in ("init", "get_info", "write_a", "write_multi", "write_100", "deinit"):
        assert r.st[name][1] == ST_SUCCESS, name

    img = nor.read_bytes()
    assert len(img) == SIZE
    assert block(img, 0) == b"\0" * BS  # untouched
    a_and_b = bytes(a & b for a, b in zip(pattern(pat_a, BS), pattern(pat_b, BS), strict=True))
    assert block(img, 1) == a_and_b
    assert block(img, 2, 3) == pattern(pat_c, 3 * BS)
    assert block(img, 5) == b"\0" * BS
    assert block(img, 100) == pattern(pat_d, BS)
    assert block(img, 200, 2) == b"\xff" * 2 * BS
    assert block(img, 202) == b"\0" * BS
    assert block(img, 300) == b"\x0c" * BS  # 0x3c & 0x0f: no erase, bits only cleared
    assert block(img, BLOCKS - 1) == pattern(pat_d, BS)


def test_erase_first_firmware(run_payload, tmp_path):
    nor = make_image(tmp_path / "nor.img")
    r = run_payload(nor, "write_mode=overwrite")
    assert r.rc == EXIT_SYSTEM_OFF, r.out
    assert r.line("WRITE2") == "WRITE2 and=0 overwrite=1"
    img = nor.read_bytes()
    assert block(img, 1) == pattern(pat_b, BS)
    assert block(img, 300) == b"\x0f" * BS


def test_fresh_image_is_erased(run_payload, tmp_path):
    nor = tmp_path / "new.img"
    r = run_payload(nor)
    assert r.rc == EXIT_SYSTEM_OFF, r.out
    img = nor.read_bytes()
    assert len(img) == SIZE
    assert block(img, 0) == b"\xff" * BS
    assert block(img, 300) == b"\x0f" * BS
    assert block(img, 1000, 10) == b"\xff" * 10 * BS


def test_short_image_is_padded(run_payload, tmp_path):
    nor = tmp_path / "short.img"
    nor.write_bytes(b"\x11" * BS)
    r = run_payload(nor)
    assert r.rc == EXIT_SYSTEM_OFF, r.out
    img = nor.read_bytes()
    assert len(img) == SIZE
    assert block(img, 0) == b"\x11" * BS
    assert block(img, 7000) == b"\xff" * BS


def test_geometry_from_config(run_payload, tmp_path):
    bs, blocks = 65536, 64
    nor = tmp_path / "big.img"
    r = run_payload(
        nor,
        f"blocks={blocks}",
        f"block_size={bs}",
        "page_size=512",
        "memory_type=NAND",
        "product_name=test-part",
    )
    assert r.rc == EXIT_SYSTEM_OFF, r.out
    assert r.info["blocks"] == str(blocks)
    assert r.info["block_size"] == str(bs)
    assert r.info["page_size"] == "512"
    assert r.info["type"] == "NAND"
    assert r.info["product"] == "test-part"
    assert all(r.checks.values()), r.checks
    img = nor.read_bytes()
    assert len(img) == bs * blocks
    assert block(img, blocks - 1, bs=bs) == pattern(pat_d, bs)


def test_config_file(run_payload, tmp_path):
    conf = tmp_path / "tz.conf"
    conf.write_text("# erase-first firmware\nwrite_mode=erase-first\nlog=2\n")
    r = run_payload(make_image(tmp_path / "nor.img"), conf=conf)
    assert r.rc == EXIT_SYSTEM_OFF, r.out
    assert r.line("WRITE2") == "WRITE2 and=0 overwrite=1"
    assert "[tz] storage #1 INIT" in r.out  # log=2 logs every call


def test_bad_config_stops_boot(run_payload, tmp_path):
    r = run_payload(tmp_path / "nor.img", "write_mode=sideways")
    assert r.rc == EXIT_CONFIG_ERROR, r.out
    assert "EL 1" not in r.out


def test_fail_nth_single(run_payload, tmp_path):
    nor = make_image(tmp_path / "nor.img")
    r = run_payload(nor, "fail_nth=2", f"fail_status={ST_STORAGE_ERROR}")
    assert r.rc == EXIT_SYSTEM_OFF, r.out
    assert r.st["init"] == (1, ST_SUCCESS)
    assert r.st["get_info"] == (2, ST_STORAGE_ERROR)
    assert r.info == {"st": str(ST_STORAGE_ERROR)}
    assert r.st["erase1"] == (4, ST_SUCCESS)


def test_fail_nth_count(run_payload, tmp_path):
    nor = make_image(tmp_path / "nor.img")
    r = run_payload(nor, "fail_nth=6", "fail_count=2", "fail_status=7")
    assert r.rc == EXIT_SYSTEM_OFF, r.out
    assert r.st["write_a"] == (6, 7)
    assert r.st["read_a"] == (7, 7)
    assert r.st["write_b"] == (8, ST_SUCCESS)
    assert r.checks["read_a"] is False
    # The failed WRITE left the erased block alone; only pattern B landed.
    assert block(nor.read_bytes(), 1) == pattern(pat_b, BS)


def test_fail_nth_counting_writes_only(run_payload, tmp_path):
    """fail_writes: the knob lands inside an update, whatever was read before."""
    nor = make_image(tmp_path / "nor.img")
    r = run_payload(nor, "fail_writes=1", "fail_nth=1", f"fail_status={ST_STORAGE_ERROR}")
    assert r.rc == EXIT_SYSTEM_OFF, r.out
    assert r.st["get_info"][1] == ST_SUCCESS
    assert r.st["erase1"][1] == ST_STORAGE_ERROR  # the first write-type call
    assert r.st["write_a"][1] == ST_SUCCESS
    assert r.st["read1"][1] == ST_SUCCESS


def test_read_only(run_payload, tmp_path):
    nor = make_image(tmp_path / "nor.img")
    before = nor.read_bytes()
    r = run_payload(nor, "read_only=1")
    assert r.rc == EXIT_SYSTEM_OFF, r.out
    assert r.st["erase1"][1] == ST_READ_ONLY
    assert r.st["write_a"][1] == ST_READ_ONLY
    assert r.st["read1"][1] == ST_SUCCESS
    assert nor.read_bytes() == before


def test_el2_get_info_fails(run_payload, tmp_path):
    """Radxa Q6A behaviour: with Linux at EL2, GET_INFO is INVALID_PARAMETER."""
    r = run_payload(make_image(tmp_path / "nor.img"), el2=True)
    assert r.rc == EXIT_SYSTEM_OFF, r.out
    assert r.line("EL ") == "EL 2"
    assert r.info == {"st": str(ST_INVALID_PARAMETER)}
    assert r.st["read1"][1] == ST_SUCCESS


def test_el2_get_info_knob(run_payload, tmp_path):
    r = run_payload(make_image(tmp_path / "nor.img"), "el2_getinfo_ok=1", el2=True)
    assert r.rc == EXIT_SYSTEM_OFF, r.out
    assert r.line("EL ") == "EL 2"
    assert r.info["st"] == "0"


@pytest.mark.parametrize("cut_bytes", [0, 1000, BS])
def test_power_cut_during_write(run_payload, tmp_path, cut_bytes):
    # Which call number is "write_100"? Ask a clean run.
    n = run_payload(tmp_path / "probe.img").st["write_100"][0]
    nor = make_image(tmp_path / "nor.img")
    r = run_payload(nor, f"power_cut_nth={n}", f"power_cut_bytes={cut_bytes}")
    assert r.rc == EXIT_POWER_CUT, r.out
    assert "DONE" not in r.out
    assert "ST write_100" not in r.out  # the SMC never returned
    img = nor.read_bytes()
    # Call n-1 erased block 100; call n programmed only its first bytes.
    expected = pattern(pat_d, cut_bytes) + b"\xff" * (BS - cut_bytes)
    assert block(img, 100) == expected
    assert block(img, 2, 3) == pattern(pat_c, 3 * BS)  # earlier writes are durable
    assert block(img, 200, 2) == b"\0" * 2 * BS  # later calls never happened


def test_image_survives_restart(run_payload, tmp_path):
    """A second boot sees the first boot's data (the image is a host file)."""
    nor = make_image(tmp_path / "nor.img")
    run_payload(nor)
    first = nor.read_bytes()
    # Fail every storage call but the reads: nothing may change.
    r = run_payload(nor, "read_only=1")
    assert r.rc == EXIT_SYSTEM_OFF
    assert r.checks["read_last"] is True  # written by the first boot
    assert nor.read_bytes() == first


@pytest.mark.parametrize("fmt", ["gzip", "zboot"])
def test_compressed_kernel_formats(tz_build, tmp_path, fmt):
    """run-qemu unpacks gzip and EFI zboot (gzip) images before loading them."""
    packed = gzip.compress(PAYLOAD.read_bytes())
    if fmt == "zboot":
        # MZ, "zimg", payload offset and size, reserved, compression type.
        header = b"MZ\0\0zimg" + struct.pack("<II", 64, len(packed)) + bytes(8)
        header += b"gzip".ljust(40, b"\0")
        packed = header + packed
    kernel = tmp_path / f"payload.{fmt}"
    kernel.write_bytes(packed)
    nor = make_image(tmp_path / "nor.img")
    cmd = [str(RUN_QEMU), "--kernel", str(kernel), "--nor", str(nor), "--timeout", "60"]
    cmd += ["--set", "boot_rule=none"]
    p = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    r = parse(p.returncode, p.stdout + p.stderr)
    assert r.rc == EXIT_SYSTEM_OFF, r.out
    assert "DONE" in r.out


def stress_block(i: int) -> bytes:
    data = bytearray((i * 31 + k) & 0xFF for k in range(BS))
    data[:8] = i.to_bytes(8, "little")
    return bytes(data)


@pytest.mark.parametrize("acked", [5, 300])
def test_sigkill_is_a_power_cut(tz_build, tmp_path, acked):
    """Kill -9 QEMU while the payload erases and programs blocks in a loop:
    every WRITE the payload saw acknowledged must be in the image."""
    nor = make_image(tmp_path / "nor.img")
    cmd = [str(RUN_QEMU), "--kernel", str(PAYLOAD), "--nor", str(nor), "--timeout", "60"]
    cmd += ["--set", "boot_rule=none"]
    cmd += ["--", "-device", "loader,addr=0x40700000,data=0x53545245,data-len=4"]
    p = subprocess.Popen(
        cmd, cwd=tmp_path, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    last = -1
    try:
        for line in p.stdout:
            if line.startswith("STRESS "):
                last = int(line.split()[1])
                if last >= acked:
                    break
    finally:
        os.killpg(p.pid, signal.SIGKILL)  # run-qemu and QEMU: the power goes
        p.wait()
    assert last >= acked, "stress loop did not run"

    img = nor.read_bytes()
    in_flight = []
    for slot in range(16):
        data = block(img, 1000 + slot)
        floor = max((i for i in range(last + 1) if i % 16 == slot), default=None)
        if floor is None:
            continue
        stamp = int.from_bytes(data[:8], "little")
        if data == stress_block(stamp) and stamp >= floor and stamp % 16 == slot:
            continue  # the last acknowledged write, or a later one
        assert data == b"\xff" * BS, f"slot {slot}: lost or torn acknowledged data"
        in_flight.append(slot)  # erased, its WRITE not yet done
    assert len(in_flight) <= 1, in_flight


def test_default_config_file(tz_build, tmp_path):
    """Without semihosting arguments the firmware reads ./tz-emulator.conf."""
    (tmp_path / "tz-emulator.conf").write_text(
        "nor=plain.img\nwrite_mode=overwrite\nboot_rule=none\n"
    )
    cmd = ["qemu-system-aarch64", "-machine", "virt,secure=on", "-cpu", "cortex-a57"]
    cmd += ["-m", "1024", "-display", "none", "-monitor", "none", "-nic", "none"]
    cmd += ["-serial", "stdio", "-bios", str(tz_build / "tz-emulator.bin")]
    cmd += ["-semihosting-config", "enable=on,target=native"]
    cmd += ["-device", f"loader,file={PAYLOAD},addr=0x40200000,force-raw=on"]
    p = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    r = parse(p.returncode, p.stdout.replace("\r", "") + p.stderr)
    assert r.rc == EXIT_SYSTEM_OFF, r.out
    assert r.line("WRITE2") == "WRITE2 and=0 overwrite=1"
    assert (tmp_path / "plain.img").stat().st_size == SIZE


def test_nor_timing_charges_device_time(run_payload, tmp_path):
    """erase_us: each erased block costs that much wall time (busy-wait on the
    generic timer); the payload erases 8 blocks successfully."""
    import time

    t0 = time.monotonic()
    base = run_payload(make_image(tmp_path / "a.img"))
    t1 = time.monotonic()
    slow = run_payload(make_image(tmp_path / "b.img"), "erase_us=250000")
    t2 = time.monotonic()
    assert base.rc == slow.rc == EXIT_SYSTEM_OFF
    assert slow.st["erase1"][1] == ST_SUCCESS
    assert (t2 - t1) - (t1 - t0) > 8 * 0.25 * 0.75
