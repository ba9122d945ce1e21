"""The simulator: a NOR chip with a cost model and power cuts, and a journal that loses
what was not synced. Tests, benchmarks and the image generator use it; the product
never does (it reads and writes through flash.py and journal.py only).

One ``FaultPlan`` counts every operation of a run (block erases, page programs,
journal syncs), so "cut the power at operation N" covers every cut point.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DeviceError
from .flash import Geometry, NorImage, NorViolation
from .journal import Journal, scan

__all__ = [
    "CostModel",
    "FaultPlan",
    "NorViolation",
    "PowerCut",
    "SimJournal",
    "SimNor",
    "Stats",
]


class PowerCut(BaseException):
    """The simulated power went away. BaseException: no ``except Exception`` swallows it."""


@dataclass
class CostModel:
    """Device time in seconds; defaults are the W25Q256JW-class typical figures."""

    erase_block: float = 0.045  # 4 KiB sector erase
    program_page: float = 0.0004  # 256-byte page program
    read_bytes_per_s: float = 25e6  # "tens of MB/s" through the SCM call


@dataclass
class FaultPlan:
    """Cut the power at operation number ``cut_at`` (0-based), cleanly or torn."""

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


def torn(old: bytes, new: bytes, rng: random.Random) -> bytes:
    """An operation cut half-way: every bit that was changing is left undefined."""
    changing = int.from_bytes(old, "little") ^ int.from_bytes(new, "little")
    landed = rng.getrandbits(len(old) * 8) & changing
    return (int.from_bytes(old, "little") ^ landed).to_bytes(len(old), "little")


class SimNor(NorImage):
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
        self.cost = cost or CostModel()
        self.fault = fault or FaultPlan()
        self.stats = Stats()
        self.touched: set[int] = set()  # erase blocks changed by erase/program
        self._mem: bytearray | None = None
        if backing is None:
            self.geometry = geometry
            self.name = "simulated NOR"
            self.strict = strict
            self.program_unit = geometry.writesize
            self._fd = -1
            self._mem = bytearray(initial if initial is not None else b"\xff" * geometry.size)
            if len(self._mem) != geometry.size:
                raise DeviceError("initial content does not match the geometry")
        else:
            super().__init__(geometry, backing, strict=strict)

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
        data = super().read(offset, length)
        self.stats.bytes_read += length
        self.stats.device_time += length / self.cost.read_bytes_per_s
        return data

    def _erase_block(self, block: int) -> None:
        es = self.geometry.erasesize
        self.touched.add(block)
        if self.fault.tick(f"erase 0x{block:x}"):
            if self.fault.torn:
                self._put(block, torn(self._get(block, es), b"\xff" * es, self.fault.rng()))
            raise PowerCut(self.fault.log[-1])
        super()._erase_block(block)
        self.stats.erases += 1
        self.stats.device_time += self.cost.erase_block

    def _program_page(self, offset: int, old: bytes, new: bytes) -> None:
        self.touched.add(offset - offset % self.geometry.erasesize)
        if self.fault.tick(f"program 0x{offset:x}"):
            if self.fault.torn:
                self._put(offset, torn(old, new, self.fault.rng()))
            raise PowerCut(self.fault.log[-1])
        super()._program_page(offset, old, new)
        self.stats.programs += 1
        self.stats.bytes_programmed += len(new)
        self.stats.device_time += self.cost.program_page

    def close(self) -> None:
        if self._mem is None:
            super().close()


class SimJournal(Journal):
    """A journal whose every sync is a cut point: a cut loses what was not yet synced,
    or (torn) keeps a random prefix of it followed by garbage."""

    def __init__(self, path: Path, fault: FaultPlan | None = None) -> None:
        super().__init__(path)
        self.fault = fault

    def sync(self) -> None:
        if self.fault is not None and self.fault.tick("journal sync"):
            self.power_loss()
            raise PowerCut(self.fault.log[-1])
        super().sync()

    def power_loss(self) -> None:
        """What a power cut does to data written but not fsynced."""
        keep = self._durable
        if self.fault is not None and self.fault.torn and self._end > self._durable:
            # Torn: the unsynced tail may have landed whole, in part, or as garbage.
            rng = self.fault.rng()
            keep = rng.choice([self._end, rng.randrange(self._durable, self._end)])
            if keep < self._end:
                os.pwrite(self._fd, rng.randbytes(min(64, self._end - keep)), keep)
                keep = min(self._end, keep + 64)
        os.ftruncate(self._fd, keep)
        self.records, self._end, self.damaged = scan(self._fd)
        self._durable = self._end
