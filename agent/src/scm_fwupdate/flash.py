"""Flash access: one interface, the real MTD character device and a simulated NOR.

The engine only ever calls ``read``, ``erase`` and ``program`` on whole erase
blocks, so the same code drives ``/dev/mtdN`` on the target and the simulator
that injects a power cut at every single operation.
"""

from __future__ import annotations

import errno
import fcntl
import os
import random
import struct
from dataclasses import dataclass, field
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


# --------------------------------------------------------------------- simulator


class PowerCut(BaseException):
    """The simulated power went away. BaseException: no ``except Exception`` swallows it."""


class NorViolation(AssertionError):
    """The engine tried something a NOR chip cannot do (program a 0 back to 1)."""


@dataclass
class CostModel:
    """Device time in seconds; defaults are the W25Q256JW-class typical figures."""

    erase_block: float = 0.045  # 4 KiB sector erase
    program_page: float = 0.0004  # 256-byte page program
    read_bytes_per_s: float = 25e6  # "tens of MB/s" through the SCM call


@dataclass
class FaultPlan:
    """Cut the power at operation number ``cut_at`` (0-based), cleanly or torn.

    Operations are counted across everything sharing this plan: block erases,
    page programs and journal appends, so one counter covers every cut point.
    """

    cut_at: int | None = None
    torn: bool = False
    seed: int = 0
    ops: int = 0
    log: list[str] = field(default_factory=list)

    def tick(self, what: str) -> bool:
        """Count one operation; True if the power goes away during it."""
        n = self.ops
        self.ops += 1
        if self.cut_at is not None and n == self.cut_at:
            self.log.append(f"cut at op {n} ({what}, {'torn' if self.torn else 'clean'})")
            return True
        return False

    def rng(self) -> random.Random:
        return random.Random(self.seed * 1_000_003 + self.ops)


@dataclass
class Stats:
    erases: int = 0
    programs: int = 0
    bytes_read: int = 0
    bytes_programmed: int = 0
    device_time: float = 0.0


class SimNor:
    """A NOR flash with strict semantics, a cost model and fault injection.

    Backed by memory or by a file (pread/pwrite, so a 32 MiB device costs no RSS).
    """

    def __init__(
        self,
        geometry: Geometry,
        backing: Path | None = None,
        *,
        initial: bytes | memoryview | None = None,
        cost: CostModel | None = None,
        fault: FaultPlan | None = None,
        strict: bool = True,
    ) -> None:
        self.geometry = geometry
        self.name = str(backing) if backing else "simulated NOR"
        self.cost = cost or CostModel()
        self.fault = fault or FaultPlan()
        self.strict = strict
        self.stats = Stats()
        self.program_unit = geometry.writesize
        self.touched: set[int] = set()  # erase blocks changed by erase/program
        self._fd = -1
        self._mem: bytearray | None = None
        if backing is None:
            self._mem = bytearray(initial if initial is not None else b"\xff" * geometry.size)
            if len(self._mem) != geometry.size:
                raise DeviceError("initial content does not match the geometry")
        else:
            self._fd = os.open(backing, os.O_RDWR | os.O_CREAT, 0o644)
            if os.fstat(self._fd).st_size != geometry.size:
                os.close(self._fd)
                raise DeviceError(
                    f"{backing}: image size differs from the {geometry.size}-byte geometry"
                )

    @classmethod
    def open_image(
        cls, path: Path, erasesize: int = 4096, writesize: int = 256, **kw: object
    ) -> SimNor:
        """A NOR image file, geometry from its size (the agent's ``device: file.img``)."""
        if not path.is_file():
            raise DeviceError(f"flash image {path} does not exist")
        return cls(Geometry(path.stat().st_size, erasesize, writesize), path, **kw)  # type: ignore[arg-type]

    # raw access, no cost, no faults: for tests and the simulator itself
    def _get(self, offset: int, length: int) -> bytes:
        if self._mem is not None:
            return bytes(self._mem[offset : offset + length])
        return os.pread(self._fd, length, offset)

    def _put(self, offset: int, data: bytes) -> None:
        if self._mem is not None:
            self._mem[offset : offset + len(data)] = data
        else:
            os.pwrite(self._fd, data, offset)

    def peek(self, offset: int, length: int) -> bytes:
        """Read without cost or faults (what a test or the boot ROM sees)."""
        return self._get(offset, length)

    def restore(self, image: bytes) -> None:
        """Put back every block touched since the last restore (cheap re-runs)."""
        es = self.geometry.erasesize
        for block in self.touched:
            self._put(block, image[block : block + es])
        self.touched.clear()

    def snapshot(self) -> bytes | memoryview:
        """The whole content, without cost or faults (memory-backed: no copy)."""
        if self._mem is not None:
            return memoryview(self._mem).toreadonly()
        return self._get(0, self.geometry.size)

    def read(self, offset: int, length: int) -> bytes:
        _check_range(self.geometry, offset, length, 1)
        self.stats.bytes_read += length
        self.stats.device_time += length / self.cost.read_bytes_per_s
        return self._get(offset, length)

    def erase(self, offset: int, length: int) -> None:
        es = self.geometry.erasesize
        _check_range(self.geometry, offset, length, es)
        for block in range(offset, offset + length, es):
            self.touched.add(block)
            if self.fault.tick(f"erase 0x{block:x}"):
                if self.fault.torn:
                    self._put(block, _torn(self._get(block, es), b"\xff" * es, self.fault.rng()))
                raise PowerCut(self.fault.log[-1])
            self._put(block, b"\xff" * es)
            self.stats.erases += 1
            self.stats.device_time += self.cost.erase_block

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
            self.touched.add(offset + start - (offset + start) % self.geometry.erasesize)
            if self.fault.tick(f"program 0x{offset + start:x}"):
                if self.fault.torn:
                    self._put(offset + start, _torn(old, new, self.fault.rng()))
                raise PowerCut(self.fault.log[-1])
            self._put(offset + start, new)
            self.stats.programs += 1
            self.stats.bytes_programmed += ws
            self.stats.device_time += self.cost.program_page

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _torn(old: bytes, new: bytes, rng: random.Random) -> bytes:
    """An operation cut half-way: every bit that was changing is left undefined."""
    changing = int.from_bytes(old, "little") ^ int.from_bytes(new, "little")
    landed = rng.getrandbits(len(old) * 8) & changing
    return (int.from_bytes(old, "little") ^ landed).to_bytes(len(old), "little")


def open_flash(device: str, writable: bool = False, **sim: object) -> Flash:
    """Open ``device``: an MTD name, an MTD device node, or a NOR image file."""
    path = find_mtd(device)
    if path.is_char_device():
        return MtdFlash(path, writable)
    if path.is_file():
        return SimNor.open_image(path, **sim)  # type: ignore[arg-type]
    raise DeviceError(f"{path} is neither an MTD device nor a NOR image file")
