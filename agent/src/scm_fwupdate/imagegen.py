"""Realistic test images: a 32 MiB NOR with a Qualcomm-like GPT and firmware in it.

The layout follows the QCS6490 SPI-NOR tables (4096-byte sectors; primary +
``_BACKUP`` pairs, ``_a``/``_b`` pairs, single partitions). Firmware content is
pseudo-random but deterministic; a new version changes a chosen fraction of
its 4 KiB blocks, like a real firmware update does.

    python3 -m scm_fwupdate.imagegen --output nor.img [--images-dir DIR --version 2]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import struct
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from . import mbn
from .gpt import AB_MAX_RETRY, ENTRY, Gpt, GptError, Partition, ab_attributes
from .profile import QCS6490_BOOT_IMAGES, QCS6490_SW_IDS

KiB = 1024
MiB = 1024 * KiB
DISK_GUID = uuid.UUID("5c0bd1a5-0a6e-4d6b-9e7a-51c0ffee6490")
NS = uuid.UUID("b0f1e2d3-c4b5-4a69-8788-990011223344")
DEFAULT_RELEASE = "REL-1"
HASH_SEGMENT_OFFSET = 0x1000
IMAGE_DATA_OFFSET = 0x2000
LOAD_ADDR = 0x80000000
ERASED = ("recoveryinfo",)  # factory-fresh: no record yet

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


# The same table with small partitions: fast power-cut campaigns.
COMPACT_PRIMARY_BACKUP = [
    ("XBL_SC", 64 * KiB),
    ("XBL_CONFIG", 32 * KiB),
    ("AOP", 32 * KiB),
    ("TZ", 128 * KiB),
    ("HYP", 32 * KiB),
    ("DEVCFG", 16 * KiB),
    ("QUP", 16 * KiB),
    ("UEFI", 128 * KiB),
    ("ddr", 16 * KiB),
]
COMPACT_AB_PAIRS = [("dtb", 64 * KiB), ("uefisecapp", 32 * KiB), ("qweslicstore", 16 * KiB)]
COMPACT_SINGLES = [(name, min(size, 64 * KiB)) for name, size in SINGLES]


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


def _data(name: str, length: int, version: int, changed: float) -> bytearray:
    """Pseudo-random bytes; version n differs from n - 1 in about ``changed`` of its blocks."""
    rng = random.Random(f"{name}/base")
    data = bytearray(rng.randbytes(length))
    for v in range(2, version + 1):
        vr = random.Random(f"{name}/v{v}")
        blocks = max(1, len(data) // 4096)
        for b in vr.sample(range(blocks), max(1, round(blocks * changed))):
            chunk = data[b * 4096 : (b + 1) * 4096]
            data[b * 4096 : b * 4096 + len(chunk)] = vr.randbytes(len(chunk))
    return data


def _metadata(sw_id: int, arb: int) -> bytes:
    words = [0, 0, sw_id, 0, 0, 0, 0, 0] + [0] * 12 + [0] * 8 + [0, arb]
    return mbn.METADATA.pack(*words)


def qcom_image(
    name: str,
    size: int,
    version: int,
    release: str = DEFAULT_RELEASE,
    changed: float = 0.1,
    fill: float = 0.75,
    sw_id: int | None = None,
    arb: int = 0,
) -> bytes:
    """A valid Qualcomm-style image (docs/boot-chain.md) that fits a ``size``-byte partition.

    ELF header and program headers in block 0, the version 6 hash segment
    (SHA-384 digests, OEM metadata with ``sw_id`` and anti-rollback version
    ``arb``) in block 1, one loadable segment from block 2: the version and
    release strings, then pseudo-random code of which version ``n`` differs
    from ``n - 1`` in about ``changed`` of its 4 KiB blocks.
    """
    total = max(IMAGE_DATA_OFFSET + 4 * KiB, int(size * fill) // 4096 * 4096 - 100)
    if total > size:
        raise ValueError(f"a {size}-byte partition is too small for an image")
    body = _data(name, total - IMAGE_DATA_OFFSET, version, changed)
    strings = (
        mbn.VERSION_KEY
        + f"{name}.{version}".encode()
        + b"\0"
        + mbn.RELEASE_KEY
        + release.encode()
        + b"\0"
        + mbn.VARIANT_KEY
        + b"SCM.EMU\0"
    )
    body[: len(strings)] = strings
    sid = QCS6490_SW_IDS.get(name, 0) if sw_id is None else sw_id
    return build_elf([bytes(body)], _metadata(sid, arb))


def build_elf(segments: list[bytes], oem_metadata: bytes, hash_version: int = 6) -> bytes:
    """ELF + hash segment around loadable ``segments`` (each starts on a new 4 KiB block)."""
    phnum = 2 + len(segments)
    header_size = mbn.ELF_HEADER.size + phnum * mbn.PHDR.size
    offsets, pos = [], IMAGE_DATA_OFFSET
    for seg in segments:
        offsets.append(pos)
        pos += -(-len(seg) // 4096) * 4096
    signature = b"\xff" * 96  # not checked without secure boot (like qtestsign's)
    hash_size = phnum * mbn.DIGEST_SIZE
    seg_size = mbn.HASH_HEADER_V6.size + len(oem_metadata) + hash_size + len(signature)
    phdrs = [
        (mbn.PT_NULL, mbn.FLAGS_HEADER_PLACEHOLDER, 0, 0, 0, header_size, 0, 0),
        (mbn.PT_NULL, mbn.FLAGS_HASH_SEGMENT, HASH_SEGMENT_OFFSET, 0, 0, seg_size, seg_size, 4096),
    ] + [
        (mbn.PT_LOAD, 0x5, off, LOAD_ADDR + off, LOAD_ADDR + off, len(seg), len(seg), 4096)
        for off, seg in zip(offsets, segments, strict=True)
    ]
    elf = bytearray(
        mbn.ELF_HEADER.pack(
            b"\x7fELF\x02\x01\x01".ljust(16, b"\0"),
            2,  # ET_EXEC
            183,  # EM_AARCH64
            1,
            LOAD_ADDR + IMAGE_DATA_OFFSET,
            mbn.ELF_HEADER.size,
            0,
            0,
            mbn.ELF_HEADER.size,
            mbn.PHDR.size,
            phnum,
            0,
            0,
            0,
        )
    )
    for ph in phdrs:
        elf += mbn.PHDR.pack(*ph)
    digests = [hashlib.sha384(bytes(elf)).digest(), bytes(mbn.DIGEST_SIZE)]
    digests += [hashlib.sha384(seg).digest() for seg in segments]
    words = [0, hash_version, 0, 0, seg_size - mbn.HASH_HEADER_V6.size, hash_size]
    words += [0xFFFFFFFF, len(signature), 0xFFFFFFFF, 0, 0, len(oem_metadata)]
    hseg = mbn.HASH_HEADER_V6.pack(*words) + oem_metadata + b"".join(digests) + signature
    out = bytearray(b"\xff" * (offsets[-1] + len(segments[-1])))
    out[: len(elf)] = elf
    out[HASH_SEGMENT_OFFSET : HASH_SEGMENT_OFFSET + len(hseg)] = hseg
    for off, seg in zip(offsets, segments, strict=True):
        out[off : off + len(seg)] = seg
    return bytes(out)


def compact_layout() -> list[tuple[str, int, uuid.UUID, int]]:
    """The Qualcomm table with small partitions (about 1 MiB of boot images per set)."""
    return layout(COMPACT_PRIMARY_BACKUP, COMPACT_AB_PAIRS, COMPACT_SINGLES)


def abl_layout(compact: bool = True) -> list[tuple[str, int, uuid.UUID, int]]:
    """Every boot image an _a/_b pair, as on ABL boards: one slot switch moves them all."""
    pb = COMPACT_PRIMARY_BACKUP if compact else PRIMARY_BACKUP
    pairs = COMPACT_AB_PAIRS if compact else AB_PAIRS
    ab = [(n, size) for n, size in pb if n in QCS6490_BOOT_IMAGES] + list(pairs)
    data = [(n, size) for n, size in pb if n not in QCS6490_BOOT_IMAGES]
    return layout(data, ab, COMPACT_SINGLES if compact else SINGLES)


def firmware(
    name: str,
    size: int,
    version: int,
    changed: float = 0.1,
    fill: float = 0.75,
    release: str = DEFAULT_RELEASE,
) -> bytes:
    """What generated NORs hold in partition group ``name``: a boot image, or data."""
    if name in QCS6490_BOOT_IMAGES:
        return qcom_image(name, size, version, release, changed, fill)
    if name in ERASED:
        return b""
    length = max(4 * KiB, int(size * fill) // 4096 * 4096 - 100)
    return bytes(_data(name, min(length, size), version, changed))


def corrupt(image: bytes, how: str) -> bytes:
    """A broken copy of a valid image, as a cut or a bad download leaves one."""
    data = bytearray(image)
    if how == "digest":  # one bit of code flipped: digest mismatch
        data[IMAGE_DATA_OFFSET + (len(data) - IMAGE_DATA_OFFSET) // 2] ^= 0x01
    elif how == "truncate":  # the second half never landed
        return bytes(data[: len(data) // 2])
    elif how == "not-elf":
        data[:4] = b"\0\0\0\0"
    elif how == "hash-sizes":  # sig_size 0: the hash segment's sizes no longer add up
        data[HASH_SEGMENT_OFFSET + 28 : HASH_SEGMENT_OFFSET + 32] = bytes(4)
    elif how == "first-block-erased":  # what the agent's invalidation step leaves
        data[:4096] = b"\xff" * 4096
    else:
        raise ValueError(f"unknown corruption {how!r}")
    return bytes(data)


def new_gpt(
    disk_size: int,
    sector_size: int,
    layout: list[tuple[str, int, uuid.UUID, int]],
    disk_guid: uuid.UUID,
    num_entries: int = 128,
) -> Gpt:
    """A fresh table; ``layout`` is (name, size in bytes, type GUID, attributes), in order."""
    entries_sectors = -(-num_entries * ENTRY.size // sector_size)
    last_lba = disk_size // sector_size - 1
    first_usable = 2 + entries_sectors
    last_usable = last_lba - entries_sectors - 1
    lba = first_usable
    parts = []
    for i, (name, size, type_guid, attrs) in enumerate(layout):
        if size % sector_size:
            raise GptError(f"partition '{name}' size {size} is not a multiple of {sector_size}")
        last = lba + size // sector_size - 1
        if last > last_usable:
            raise GptError(f"layout does not fit: '{name}' ends at LBA {last} > {last_usable}")
        parts.append(
            Partition(
                i,
                name,
                type_guid,
                uuid.uuid5(disk_guid, name),
                lba,
                last,
                attrs,
                sector_size,
            )
        )
        lba = last + 1
    return Gpt(
        sector_size=sector_size,
        disk_size=disk_size,
        disk_guid=disk_guid,
        first_usable=first_usable,
        last_usable=last_usable,
        num_entries=num_entries,
        entry_size=ENTRY.size,
        partitions=tuple(parts),
    )


def protective_mbr(disk_size: int, sector_size: int) -> bytes:
    sectors = min(disk_size // sector_size - 1, 0xFFFFFFFF)
    mbr = bytearray(sector_size)
    mbr[446:462] = struct.pack("<B3sB3sII", 0, b"\x00\x02\x00", 0xEE, b"\xff\xff\xff", 1, sectors)
    mbr[510:512] = b"\x55\xaa"
    return bytes(mbr)


def build(
    disk_size: int = 32 * MiB,
    sector_size: int = 4096,
    version: int = 1,
    rows: list[tuple[str, int, uuid.UUID, int]] | None = None,
    release: str = DEFAULT_RELEASE,
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
            fw[group] = firmware(group, p.size, version, release=release)
        img[p.offset : p.offset + len(fw[group])] = fw[group]
    return Board(table, bytes(img), fw)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--output", type=Path, required=True, help="NOR image to write")
    ap.add_argument("--size", type=int, default=32, help="device size in MiB (default 32)")
    ap.add_argument("--sector-size", type=int, choices=(512, 4096), default=4096)
    ap.add_argument("--version", type=int, default=1, help="firmware version in the image")
    ap.add_argument("--release", default=DEFAULT_RELEASE, help="release string of the images")
    ap.add_argument("--compact", action="store_true", help="small partitions")
    ap.add_argument(
        "--images-dir", type=Path, help="also write version N+1 firmware files here, one per target"
    )
    args = ap.parse_args(argv)
    rows = compact_layout() if args.compact else None
    board = build(args.size * MiB, args.sector_size, args.version, rows, args.release)
    args.output.write_bytes(board.image)
    if args.images_dir:
        args.images_dir.mkdir(parents=True, exist_ok=True)
        sizes = {
            p.name.removesuffix("_BACKUP").removesuffix("_a").removesuffix("_b"): p.size
            for p in board.gpt.partitions
        }
        for group, size in sizes.items():
            data = firmware(group, size, args.version + 1, release=args.release)
            (args.images_dir / f"{group}.bin").write_bytes(data)
    count = len(board.gpt.partitions)
    print(f"{args.output}: {args.size} MiB, {count} partitions, firmware version {args.version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
