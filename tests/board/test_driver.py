"""The SCM storage driver, booted: binding, geometry, read-only default,
mtd-utils round trips, firmware errors reaching userspace."""

from __future__ import annotations

import hashlib
import re

import pytest

from board import Board

MTD = "/dev/mtd0"


def sysfs(board: Board, attr: str) -> str:
    return board.check(f"cat /sys/class/mtd/mtd0/{attr}").strip()


def test_driver_binds_through_the_scm_driver_with_the_firmware_geometry(board: Board) -> None:
    # A 16 MiB part: the 32 MiB table's images lie beyond it, so no boot chain here.
    geometry = {"blocks": "4096", "page_size": "256", "boot_rule": "none"}
    board.boot(fw=geometry if board.emulated else None)
    dmesg = board.check("dmesg")
    assert "qcom_scm: convention: smc arm 64" in dmesg
    proc = board.check("cat /proc/mtd")
    size = 4096 * 4096 if board.emulated else 32 << 20
    assert re.search(rf'mtd0: {size:08x} 00001000 "qcom_scm_storage\.\d+\.auto"', proc), proc
    assert sysfs(board, "type") == "nor"
    assert int(sysfs(board, "size")) == size
    assert int(sysfs(board, "erasesize")) == 4096
    assert "qcom_scm_storage" in board.check("ls /sys/bus/platform/drivers/qcom_scm_storage")


def test_read_only_by_default(board: Board) -> None:
    board.boot()
    assert int(sysfs(board, "flags"), 16) & 0x400 == 0  # no MTD_WRITEABLE
    out, rc = board.run(f"flash_erase {MTD} 0x1f00000 1")
    assert rc != 0
    errno = board.check(
        "python3 -c \"import os\ntry:\n os.open('/dev/mtd0', os.O_RDWR)\n"
        "except OSError as e:\n print('errno', e.errno)\""
    )
    assert "errno 13" in errno  # EACCES: mtdchar refuses to open it for writing
    # The agent names the kernel's opt-in. Under ABL's rule 'activate' is a GPT
    # write that reaches the device (under boot sets it is refused before that).
    board.check(
        "{ cat /etc/scm-fwupdate.yaml; printf 'board:\\n  profile: qcom-abl\\n'; } > /tmp/abl.yaml"
    )
    out, rc = board.run("scm-fwupdate --config /tmp/abl.yaml --progress=none activate b")
    assert rc == 6, out
    assert "allow_write=1" in out


def test_writes_work_with_allow_write(board: Board) -> None:
    board.boot("qcom_scm_storage.allow_write=1")
    assert int(sysfs(board, "flags"), 16) & 0x400
    board.check(f"flash_erase {MTD} 0x1f00000 2")
    board.check("printf 'hello NOR' > /tmp/x && dd if=/tmp/x of=/tmp/blk bs=4096 conv=sync")
    board.check(f"mtd_debug write {MTD} 0x1f00000 4096 /tmp/blk")
    assert board.check(f"mtd_debug read {MTD} 0x1f00000 9 /tmp/back && cat /tmp/back").endswith(
        "hello NOR"
    )


@pytest.mark.emulated_only
def test_mtd_utils_round_trip_unaligned_and_multi_chunk(board: Board) -> None:
    board.boot("qcom_scm_storage.allow_write=1")
    # 600 KiB: several 128 KiB driver batches, and a tail that is not block sized.
    board.check(
        'python3 -c "import random; r=random.Random(5); '
        "open('/tmp/img','wb').write(r.randbytes(600*1024+123))\""
    )
    board.check(f"flashcp /tmp/img {MTD}", timeout=300)
    want = board.check("md5sum < /tmp/img").split()[0]
    got = board.check(f"head -c {600 * 1024 + 123} {MTD} | md5sum").split()[0]
    assert got == want
    # unaligned reads through pread, crossing block and batch boundaries
    script = (
        "import os, hashlib\n"
        "fd = os.open('/dev/mtd0', os.O_RDONLY)\n"
        "img = open('/tmp/img', 'rb').read()\n"
        "for off, n in ((123, 5000), (4095, 2), (130000, 140000), (0, 600*1024+123)):\n"
        "    assert os.pread(fd, n, off) == img[off:off + n], (off, n)\n"
        "print('reads ok')\n"
    )
    board.check(f"cat > /tmp/r.py <<'EOF'\n{script}EOF")
    assert "reads ok" in board.check("python3 /tmp/r.py")
    board.power_cut()
    host = board.nor.read_bytes()[: 600 * 1024 + 123]
    assert hashlib.md5(host).hexdigest() == want  # the firmware's store holds it too


@pytest.mark.emulated_only
@pytest.mark.parametrize(
    ("status", "errno"),
    [(4, 13), (3, 5), (5, 95), (8, 2)],
    ids=["EACCES", "EIO", "EOPNOTSUPP", "ENOENT"],
)
def test_firmware_status_reaches_userspace_as_errno(board: Board, status: int, errno: int) -> None:
    # Every storage call from the 3rd on fails: the boot-time probe (GET_INFO) succeeds.
    board.boot(fw={"fail_nth": "3", "fail_count": "1000000", "fail_status": str(status)})
    out = board.check(
        "python3 -c \"import os\nfd = os.open('/dev/mtd0', os.O_RDONLY)\ntry:\n"
        " os.pread(fd, 4096, 0)\nexcept OSError as e:\n print('errno', e.errno)\""
    )
    assert f"errno {errno}" in out
