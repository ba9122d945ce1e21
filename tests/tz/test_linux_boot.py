"""Boot a real arm64 kernel behind tz-emulator and check the SCM driver probes.

By default the kernel is Debian bookworm's linux-image-*-arm64 (it has
CONFIG_QCOM_SCM=y), fetched into $CACHE_DIR by
tz-emulator/scripts/debian-arm64-boot together with a busybox initramfs.
Any other Image can be tested instead:

    TZ_KERNEL=/path/to/Image [TZ_INITRD=/path/to/initramfs] make tz-test

With TZ_EXPECT_STORAGE=1 (a kernel carrying the SCM storage series) the
tests also expect the "qcom_scm_storage" platform device and an MTD device,
read its first block through /dev/mtd0, and write through it (refused
without qcom_scm_storage.allow_write=1). tz-emulator/scripts/build-test-kernel
builds a suitable small Image from a patched source tree.
"""

import hashlib
import os
import re
import subprocess

import pytest
from conftest import EXIT_SYSTEM_OFF, EXIT_SYSTEM_RESET, RUN_QEMU

APPEND = "console=ttyAMA0 panic=-1 rdinit=/init"
EXPECT_STORAGE = os.environ.get("TZ_EXPECT_STORAGE") == "1"
BS = 4096
SIZE = 8192 * BS


def boot(boot_files, tmp_path, *extra: str, append: str = APPEND):
    fwlog = tmp_path / "fw.log"
    # A recognisable first block for the end-to-end read check.
    nor = tmp_path / "nor.img"
    nor.write_bytes(hashlib.sha256(b"tz-emulator").digest() * 128 + b"\xff" * (SIZE - BS))
    cmd = [
        str(RUN_QEMU),
        "--kernel",
        boot_files["IMAGE"],
        "--initrd",
        boot_files["INITRD"],
        "--nor",
        str(nor),
        "--fw-log",
        str(fwlog),
        "--append",
        append,
        "--timeout",
        "300",
        "--set",
        "boot_rule=none",  # a NOR without a GPT: no boot chain
        *extra,
    ]
    p = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=400)
    console = p.stdout.replace("\r", "")
    log = fwlog.read_text(errors="replace").replace("\r", "") if fwlog.exists() else ""
    return p.returncode, console + p.stderr, log


def check_scm_probe(console: str, fwlog: str) -> None:
    assert "qcom_scm: convention: smc arm 64" in console, console
    assert "TZTEST: userspace up" in console
    assert "TZTEST: platform device firmware:scm" in console
    assert "[tz] SCM IS_CALL_AVAIL(0x2000601) -> 1" in fwlog, fwlog


def test_scm_driver_probes(boot_files, tmp_path):
    rc, console, fwlog = boot(boot_files, tmp_path)
    assert rc == EXIT_SYSTEM_OFF, console + fwlog
    check_scm_probe(console, fwlog)
    assert "psci: PSCIv1.0 detected in firmware." in console
    assert "PSCI SYSTEM_OFF" in fwlog
    if EXPECT_STORAGE:
        assert "TZTEST: platform device qcom_scm_storage" in console
        assert "TZTEST: mtd: mtd0" in console
        md5 = hashlib.md5((tmp_path / "nor.img").read_bytes()[:BS]).hexdigest()
        assert f"TZTEST: mtd0 block0 md5 {md5}" in console


def test_reboot_is_system_reset(boot_files, tmp_path):
    rc, console, fwlog = boot(boot_files, tmp_path, append=APPEND + " tztest.reboot")
    assert rc == EXIT_SYSTEM_RESET, console + fwlog
    assert "PSCI SYSTEM_RESET" in fwlog


def test_kernel_at_el2(boot_files, tmp_path):
    rc, console, fwlog = boot(boot_files, tmp_path, "--el2")
    assert rc == EXIT_SYSTEM_OFF, console + fwlog
    assert "CPU: All CPU(s) started at EL2" in console
    check_scm_probe(console, fwlog)
    if EXPECT_STORAGE:
        # Radxa Q6A behaviour: GET_INFO refused, no storage device.
        assert re.search(r"GET_INFO .* -> 2", fwlog), fwlog
        assert "TZTEST: platform device qcom_scm_storage" not in console


@pytest.mark.skipif(not EXPECT_STORAGE, reason="kernel without the SCM storage driver")
@pytest.mark.parametrize("allow_write", [False, True])
def test_mtd_write_end_to_end(boot_files, tmp_path, allow_write):
    """dd to /dev/mtd0 lands in the host image only with allow_write=1."""
    append = APPEND + " tztest.mtdwrite"
    if allow_write:
        append += " qcom_scm_storage.allow_write=1"
    rc, console, fwlog = boot(boot_files, tmp_path, append=append)
    assert rc == EXIT_SYSTEM_OFF, console + fwlog
    blk = (tmp_path / "nor.img").read_bytes()[16 * BS : 17 * BS]
    if allow_write:
        assert "TZTEST: mtd write rc=0" in console, console
        assert blk == b"TZ-MTD-WRITE".ljust(BS, b"\0")
    else:
        assert "TZTEST: mtd write rc=1" in console, console
        assert blk == b"\xff" * BS
