"""Realistic test images: a 32 MiB NOR with a Qualcomm-like GPT and firmware in it.

The layout follows the QCS6490 SPI-NOR tables (4096-byte sectors; primary +
``_BACKUP`` pairs, ``_a``/``_b`` pairs, single partitions). Firmware content is
pseudo-random but deterministic; a new version changes a chosen fraction of
its 4 KiB blocks, like a real firmware update does.

    python3 -m scm_fwupdate.imagegen --output nor.img [--images-dir DIR --version 2]
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .gpt import AB_MAX_RETRY, Gpt, ab_attributes, new_gpt, protective_mbr

KiB = 1024
MiB = 1024 * KiB
DISK_GUID = uuid.UUID("5c0bd1a5-0a6e-4d6b-9e7a-51c0ffee6490")
NS = uuid.UUID("b0f1e2d3-c4b5-4a69-8788-990011223344")

# Qualcomm type GUIDs for the boot firmware partitions (as in the vendor's tables).
TYPES = {
    "XBL_SC": "dea0ba2c-cbdd-4805-b4f9-f428251c3e98",
    "XBL_CONFIG": "5a325ae4-4276-b66d-0add-3494df27706a",
    "UEFI": "400ffdcd-22e0-47e7-9a23-f16ed9382388",
    "TZ": "a053aa7f-40b8-4b1c-ba08-2f68ac71a4f4",
    "HYP": "e1a6a689-0c8d-4cc6-b4e8-55a4320fbd8a",
    "AOP": "d69e90a5-4cab-0071-f6df-ab977f141a7f",
    "DEVCFG": "f65d4b16-343d-4e25-aafc-be99b6556a6d",
    "ddr": "20a0c19c-286a-42fa-9ce7-f64c3226a794",
    "QUP": "21d1219f-2ed1-4ab4-930a-41a16ae75f7f",
}

# (name, size) of the single copies; pairs get _BACKUP / _a / _b below.
PRIMARY_BACKUP = [
    ("XBL_SC", 512 * KiB),
    ("XBL_CONFIG", 256 * KiB),
    ("AOP", 256 * KiB),
    ("TZ", 3584 * KiB),
    ("HYP", 512 * KiB),
    ("DEVCFG", 128 * KiB),
    ("QUP", 64 * KiB),
    ("UEFI", 4 * MiB),
    ("ddr", 1 * MiB),
]
AB_PAIRS = [("dtb", 2 * MiB), ("uefisecapp", 256 * KiB), ("qweslicstore", 256 * KiB)]
SINGLES = [
    ("recoveryinfo", 4 * KiB),
    ("cdt", 64 * KiB),
    ("limits", 4 * KiB),
    ("SECDATA", 16 * KiB),
    ("SYSFW_VERSION", 4 * KiB),
    ("VarStore", 512 * KiB),
    ("DPP", 512 * KiB),
    ("logfs", 1 * MiB),
]


@dataclass(frozen=True)
class Board:
    """A generated NOR: its table and the firmware of each slot group."""

    gpt: Gpt
    image: bytes
    firmware: dict[str, bytes]  # target (group) name -> content


def type_guid(name: str) -> uuid.UUID:
    base = name.removesuffix("_BACKUP").removesuffix("_a").removesuffix("_b")
    return uuid.UUID(TYPES[base]) if base in TYPES else uuid.uuid5(NS, base)


def slot_attr(slot: str, active: str = "a") -> int:
    if slot == active:
        return ab_attributes(
            0, priority=3, active=True, retry=AB_MAX_RETRY, successful=True, unbootable=False
        )
    return ab_attributes(
        0, priority=2, active=False, retry=AB_MAX_RETRY, successful=True, unbootable=False
    )


def layout(
    primary_backup: Iterable[tuple[str, int]] = PRIMARY_BACKUP,
    ab_pairs: Iterable[tuple[str, int]] = AB_PAIRS,
    singles: Iterable[tuple[str, int]] = SINGLES,
) -> list[tuple[str, int, uuid.UUID, int]]:
    rows: list[tuple[str, int, uuid.UUID, int]] = []
    for name, size in primary_backup:
        rows.append((name, size, type_guid(name), 0))
        rows.append((f"{name}_BACKUP", size, type_guid(name), 0))
    for name, size in ab_pairs:
        rows += [(f"{name}_{s}", size, type_guid(name), slot_attr(s)) for s in "ab"]
    rows += [(name, size, type_guid(name), 0) for name, size in singles]
    return rows


def firmware(name: str, size: int, version: int, changed: float = 0.1, fill: float = 0.75) -> bytes:
    """Deterministic firmware for a partition: an ELF-like header then pseudo-random blocks.

    Version ``n`` differs from version ``n - 1`` in about ``changed`` of its 4 KiB blocks.
    """
    length = max(4 * KiB, int(size * fill) // 4096 * 4096 - 100)
    rng = random.Random(f"{name}/base")
    data = bytearray(rng.randbytes(length))
    for v in range(2, version + 1):
        vr = random.Random(f"{name}/v{v}")
        blocks = max(1, len(data) // 4096)
        for b in vr.sample(range(blocks), max(1, round(blocks * changed))):
            chunk = data[b * 4096 : (b + 1) * 4096]
            data[b * 4096 : b * 4096 + len(chunk)] = vr.randbytes(len(chunk))
    header = (
        b"\x7fELF\x02\x01\x01" + struct.pack("<9xI", version) + name.encode()[:32].ljust(32, b"\0")
    )
    data[: len(header)] = header
    return bytes(data)


def build(
    disk_size: int = 32 * MiB,
    sector_size: int = 4096,
    version: int = 1,
    rows: list[tuple[str, int, uuid.UUID, int]] | None = None,
) -> Board:
    """A whole NOR image: GPT (both copies) and firmware ``version`` in every copy."""
    table = new_gpt(disk_size, sector_size, rows or layout(), DISK_GUID)
    img = bytearray(b"\xff" * disk_size)
    img[:sector_size] = protective_mbr(disk_size, sector_size)
    for part in table.copies():
        for off, data in part:
            img[off : off + len(data)] = data
    fw: dict[str, bytes] = {}
    for p in table.partitions:
        group = p.name.removesuffix("_BACKUP").removesuffix("_a").removesuffix("_b")
        if group not in fw:
            fw[group] = firmware(group, p.size, version)
        img[p.offset : p.offset + len(fw[group])] = fw[group]
    return Board(table, bytes(img), fw)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--output", type=Path, required=True, help="NOR image to write")
    ap.add_argument("--size", type=int, default=32, help="device size in MiB (default 32)")
    ap.add_argument("--sector-size", type=int, choices=(512, 4096), default=4096)
    ap.add_argument("--version", type=int, default=1, help="firmware version in the image")
    ap.add_argument(
        "--images-dir", type=Path, help="also write version N+1 firmware files here, one per target"
    )
    args = ap.parse_args(argv)
    board = build(args.size * MiB, args.sector_size, args.version)
    args.output.write_bytes(board.image)
    if args.images_dir:
        args.images_dir.mkdir(parents=True, exist_ok=True)
        sizes = {
            p.name.removesuffix("_BACKUP").removesuffix("_a").removesuffix("_b"): p.size
            for p in board.gpt.partitions
        }
        for group, size in sizes.items():
            (args.images_dir / f"{group}.bin").write_bytes(firmware(group, size, args.version + 1))
    count = len(board.gpt.partitions)
    print(f"{args.output}: {args.size} MiB, {count} partitions, firmware version {args.version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
