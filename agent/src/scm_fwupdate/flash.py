"""Flash access: one interface over the real MTD character device and a NOR image file.

The engine only ever calls ``read``, ``erase`` and ``program`` on whole erase
blocks, so the same code drives ``/dev/mtdN`` on the target, an image file,
and the simulator (sim.py) that injects a power cut at every single operation.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .errors import DeviceError

# <mtd/mtd-abi.h>
MEMGETINFO = 0x80204D01  # _IOR('M', 1, struct mtd_info_user)
MEMERASE64 = 0x40104D14  # _IOW('M', 20, struct erase_info_user64)
# struct mtd_info_user: type, flags, size, erasesize, writesize, oobsize, padding
MTD_INFO_USER = struct.Struct("=B3x5IQ")
MTD_WRITEABLE = 0x400
MTD_TYPES = {1: "ram", 2: "rom", 3: "nor", 4: "nand", 6: "dataflash", 7: "ubivolume", 8: "mlc"}

WRITE_OPT_IN = (
    "the kernel keeps the SCM storage read-only unless 'qcom_scm_storage.allow_write=1' "
    "is on the kernel command line or 'options qcom_scm_storage allow_write=1' is in "
    "/etc/modprobe.d"
)


@dataclass(frozen=True)
class Geometry:
    size: int
    erasesize: int
    writesize: int

    def __post_init__(self) -> None:
        if self.erasesize <= 0 or self.writesize <= 0 or self.size <= 0:
            raise DeviceError(f"invalid flash geometry {self}")
        if self.erasesize % self.writesize or self.size % self.erasesize:
            raise DeviceError(
                f"flash geometry does not divide: size {self.size}, "
                f"erase block {self.erasesize}, write page {self.writesize}"
            )

    @property
    def blocks(self) -> int:
        return self.size // self.erasesize


class Flash(Protocol):
    """What the engine needs from a flash device (offsets in bytes)."""

    geometry: Geometry
    name: str
    program_unit: int  # bytes worth programming in one call (a page, or a whole block)

    def read(self, offset: int, length: int) -> bytes: ...

    def erase(self, offset: int, length: int) -> None: ...

    def program(self, offset: int, data: bytes) -> None: ...

    def close(self) -> None: ...


def _check_range(geometry: Geometry, offset: int, length: int, align: int) -> None:
    if offset < 0 or length < 0 or offset + length > geometry.size:
        raise DeviceError(
            f"range 0x{offset:x}+0x{length:x} outside the {geometry.size}-byte device"
        )
    if offset % align or length % align:
        raise DeviceError(f"range 0x{offset:x}+0x{length:x} not aligned to {align} bytes")


# --------------------------------------------------------------------------- MTD


def find_mtd(
    name_or_path: str, sysfs: Path = Path("/sys/class/mtd"), dev: Path = Path("/dev")
) -> Path:
    """Resolve an MTD name (as in ``/sys/class/mtd/*/name``) or a path to a device node.

    A name also matches a device name with a platform instance suffix: the
    SCM storage device registers as ``qcom_scm_storage.0.auto``.
    """
    if "/" in name_or_path:
        path = Path(name_or_path)
        if not path.exists():
            raise DeviceError(f"flash device {path} does not exist")
        return path
    exact: list[Path] = []
    prefixed: list[Path] = []
    for entry in sorted(sysfs.glob("mtd*")):
        if entry.name.endswith("ro") or not entry.name[3:].isdigit():
            continue
        try:
            name = (entry / "name").read_text().strip()
        except OSError:
            continue
        if name == name_or_path:
            exact.append(dev / entry.name)
        elif name.startswith(name_or_path + "."):
            prefixed.append(dev / entry.name)
    matches = exact or prefixed
    if not matches:
        raise DeviceError(
            f"no MTD device named '{name_or_path}' in {sysfs} "
            "(is the qcom_scm_storage driver loaded and did the firmware answer GET_INFO?)"
        )
    if len(matches) > 1:
        raise DeviceError(f"several MTD devices are named '{name_or_path}': {matches}")
    return matches[0]


class MtdFlash:
    """The kernel's MTD character device: MEMGETINFO, MEMERASE64, pread/pwrite."""

    def __init__(self, path: Path, writable: bool = False) -> None:
        self.name = str(path)
        self.writable = writable
        try:
            self._fd = os.open(path, os.O_RDWR if writable else os.O_RDONLY)
        except FileNotFoundError:
            raise DeviceError(f"flash device {path} does not exist") from None
        except PermissionError:
            # mtdchar refuses O_RDWR on a device without MTD_WRITEABLE.
            raise DeviceError(f"{path} is read-only: {WRITE_OPT_IN}") from None
        except OSError as e:
            if writable and e.errno == errno.EROFS:
                raise DeviceError(f"{path} is read-only: {WRITE_OPT_IN}") from None
            raise DeviceError(f"cannot open {path}: {e.strerror}") from None
        try:
            raw = fcntl.ioctl(self._fd, MEMGETINFO, bytes(MTD_INFO_USER.size))
        except OSError as e:
            os.close(self._fd)
            raise DeviceError(f"{path} is not an MTD device (MEMGETINFO: {e.strerror})") from None
        mtd_type, flags, size, erasesize, writesize, _oob, _pad = MTD_INFO_USER.unpack(raw)
        self.type = MTD_TYPES.get(mtd_type, str(mtd_type))
        self.flags = flags
        try:
            self.geometry = Geometry(size, erasesize, writesize)
        except DeviceError:
            os.close(self._fd)
            raise
        # The SCM firmware writes whole blocks: a smaller write costs the
        # driver a read of the block first.
        self.program_unit = erasesize
        if writable and not flags & MTD_WRITEABLE:
            os.close(self._fd)
            raise DeviceError(f"{path} is read-only: {WRITE_OPT_IN}")

    def _io_error(self, what: str, e: OSError) -> DeviceError:
        if e.errno in (errno.EROFS, errno.EPERM, errno.EACCES):
            return DeviceError(f"{self.name}: {what} refused ({e.strerror}): {WRITE_OPT_IN}")
        return DeviceError(f"{self.name}: {what} failed: {e.strerror}")

    def read(self, offset: int, length: int) -> bytes:
        _check_range(self.geometry, offset, length, 1)
        out = bytearray()
        while len(out) < length:
            try:
                chunk = os.pread(self._fd, length - len(out), offset + len(out))
            except OSError as e:
                raise self._io_error(f"read at 0x{offset:x}", e) from None
            if not chunk:
                raise DeviceError(f"{self.name}: short read at 0x{offset + len(out):x}")
            out += chunk
        return bytes(out)

    def erase(self, offset: int, length: int) -> None:
        _check_range(self.geometry, offset, length, self.geometry.erasesize)
        try:
            fcntl.ioctl(self._fd, MEMERASE64, struct.pack("=QQ", offset, length))
        except OSError as e:
            raise self._io_error(f"erase at 0x{offset:x}", e) from None

    def program(self, offset: int, data: bytes) -> None:
        _check_range(self.geometry, offset, len(data), self.geometry.writesize)
        done = 0
        while done < len(data):
            try:
                n = os.pwrite(self._fd, data[done:], offset + done)
            except OSError as e:
                raise self._io_error(f"write at 0x{offset + done:x}", e) from None
            if n <= 0:
                raise DeviceError(f"{self.name}: short write at 0x{offset + done:x}")
            done += n

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


# ------------------------------------------------------------------ image file


class NorViolation(DeviceError):
    """A program that would turn a 0 back into a 1: only an erase does that."""


class NorImage:
    """A file holding a NOR image, with the chip's rules: erase to 0xFF, program by AND.

    The agent's ``device: file.img``; the simulator (sim.py) adds costs and
    power cuts by overriding the per-block and per-page steps.
    """

    def __init__(self, geometry: Geometry, backing: Path, *, strict: bool = True) -> None:
        self.geometry = geometry
        self.name = str(backing)
        self.strict = strict
        self.program_unit = geometry.writesize
        self._fd = -1
        self._open(backing)

    def _open(self, backing: Path) -> None:
        self._fd = os.open(backing, os.O_RDWR | os.O_CREAT, 0o644)
        if os.fstat(self._fd).st_size != self.geometry.size:
            os.close(self._fd)
            self._fd = -1
            raise DeviceError(
                f"{backing}: image size differs from the {self.geometry.size}-byte geometry"
            )

    @classmethod
    def open_image(cls, path: Path, erasesize: int = 4096, writesize: int = 256, **kw: object):  # type: ignore[no-untyped-def]
        """A NOR image file, geometry from its size (the agent's ``device: file.img``)."""
        if not path.is_file():
            raise DeviceError(f"flash image {path} does not exist")
        return cls(Geometry(path.stat().st_size, erasesize, writesize), path, **kw)

    def _get(self, offset: int, length: int) -> bytes:
        try:
            return os.pread(self._fd, length, offset)
        except OSError as e:
            raise DeviceError(f"{self.name}: read at 0x{offset:x} failed: {e.strerror}") from None

    def _put(self, offset: int, data: bytes) -> None:
        try:
            if os.pwrite(self._fd, data, offset) != len(data):
                raise DeviceError(f"{self.name}: short write at 0x{offset:x}")
        except OSError as e:
            raise DeviceError(f"{self.name}: write at 0x{offset:x} failed: {e.strerror}") from None

    def read(self, offset: int, length: int) -> bytes:
        _check_range(self.geometry, offset, length, 1)
        return self._get(offset, length)

    def erase(self, offset: int, length: int) -> None:
        es = self.geometry.erasesize
        _check_range(self.geometry, offset, length, es)
        for block in range(offset, offset + length, es):
            self._erase_block(block)

    def _erase_block(self, block: int) -> None:
        self._put(block, b"\xff" * self.geometry.erasesize)

    def program(self, offset: int, data: bytes) -> None:
        ws = self.geometry.writesize
        _check_range(self.geometry, offset, len(data), ws)
        for start in range(0, len(data), ws):
            page = data[start : start + ws]
            old = self._get(offset + start, ws)
            new = (int.from_bytes(old, "little") & int.from_bytes(page, "little")).to_bytes(
                ws, "little"
            )
            if self.strict and new != page:
                raise NorViolation(f"program at 0x{offset + start:x} needs an erase first")
            self._program_page(offset + start, old, new)

    def _program_page(self, offset: int, old: bytes, new: bytes) -> None:
        self._put(offset, new)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def open_flash(device: str, writable: bool = False, **sim: object) -> Flash:
    """Open ``device``: an MTD name, an MTD device node, or a NOR image file."""
    path = find_mtd(device)
    if path.is_char_device():
        return MtdFlash(path, writable)
    if path.is_file():
        return NorImage.open_image(path, **sim)  # type: ignore[no-any-return]
    raise DeviceError(f"{path} is neither an MTD device nor a NOR image file")
