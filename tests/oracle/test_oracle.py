"""Self-tests of the boot-chain oracle, rule branch by rule branch of docs/boot-chain.md.

NOR images come from ``scm_fwupdate.imagegen`` (used as a producer only) and
are modified here; A/B bits are written with the oracle's own GPT writer.
Branches of the image checks that imagegen cannot produce use ``_elf``, an
image builder written here from the specification.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import replace
from functools import cache

import pytest

from scm_fwupdate import imagegen

from . import (
    Q6A_PROFILE,
    AbBits,
    Decision,
    ImageCache,
    RecoveryInfo,
    apply_patches,
    build_recoveryinfo,
    check_bytes,
    check_image,
    decide,
    parse_recoveryinfo,
    power_on,
    read_gpt,
    read_gpt_bytes,
    set_ab,
)
from .gpt import Gpt, Partition, crc32

SMALL = 2 << 20  # a 2 MiB NOR holds the compact layout; copies are cheap
IMAGES = Q6A_PROFILE.images
HOWS = ("digest", "truncate", "not-elf", "first-block-erased")
SUCCESSFUL = AbBits(priority=3, active=True, retry=7, successful=True)
STANDBY_OK = AbBits(priority=2, active=False, retry=7, successful=True)
TRIAL = AbBits(priority=3, active=True, retry=7, successful=False)
NONE = AbBits()


# --- NOR images -------------------------------------------------------------------------


def _sizes() -> dict[str, int]:
    sizes: dict[str, int] = {}
    for name, size, _guid, _attr in imagegen.compact_layout():
        base = name.removesuffix("_BACKUP").removesuffix("_a").removesuffix("_b")
        sizes.setdefault(base, size)
    return sizes


SINGLES = ("recoveryinfo", "cdt", "limits", "SECDATA", "SYSFW_VERSION", "VarStore", "DPP", "logfs")


@cache
def _board(kind: str) -> imagegen.Board:
    if kind == "compact":
        return imagegen.build(disk_size=SMALL, rows=imagegen.compact_layout())
    if kind == "512":
        return imagegen.build(disk_size=SMALL, sector_size=512, rows=imagegen.compact_layout())
    if kind == "abl":
        sizes = _sizes()
        rows = imagegen.layout(
            [],
            [(name, sizes[name]) for name in IMAGES] + [("qweslicstore", sizes["qweslicstore"])],
            [(name, sizes[name]) for name in SINGLES],
        )
        return imagegen.build(disk_size=SMALL, rows=rows)
    assert kind == "default"
    return imagegen.build()


def nor_of(kind: str = "compact") -> bytearray:
    return bytearray(_board(kind).image)


def firmware(name: str, kind: str = "compact") -> bytes:
    return _board(kind).firmware[name]


def gpt_of(nor: bytes | bytearray) -> Gpt:
    gpt = read_gpt_bytes(nor)
    assert gpt is not None
    return gpt


def part(nor: bytes | bytearray, name: str) -> Partition:
    found = gpt_of(nor).get(name)
    assert found is not None, name
    return found


def put(nor: bytearray, name: str, data: bytes) -> None:
    """Write ``data`` into a partition as an erase + program does: the rest reads erased."""
    p = part(nor, name)
    assert len(data) <= p.size
    nor[p.offset : p.offset + p.size] = data.ljust(p.size, b"\xff")


def base_of(name: str) -> str:
    return name.removesuffix("_BACKUP").removesuffix("_a").removesuffix("_b")


def corrupt(nor: bytearray, name: str, how: str = "digest", kind: str = "compact") -> None:
    put(nor, name, imagegen.corrupt(firmware(base_of(name), kind), how))


def release(nor: bytearray, name: str, rel: str = "REL-2", version: int = 2) -> None:
    put(nor, name, imagegen.qcom_image(base_of(name), part(nor, name).size, version, release=rel))


def set_bits(nor: bytearray, bits: dict[str, AbBits]) -> None:
    _gpt, patches = set_ab(gpt_of(nor), bits)
    apply_patches(nor, patches)


def slot_b_trial(nor: bytearray, base: str = "dtb") -> None:
    """An update to slot _b that has not yet booted successfully; _a good and standing by."""
    set_bits(nor, {f"{base}_b": TRIAL, f"{base}_a": STANDBY_OK})


def record_of(nor: bytes | bytearray) -> RecoveryInfo | None:
    p = part(nor, "recoveryinfo")
    return parse_recoveryinfo(nor[p.offset : p.offset + p.size])


def backup_view(nor: bytes | bytearray) -> Gpt:
    """The backup copy alone (primary header smashed in a copy)."""
    copy = bytearray(nor)
    ss = gpt_of(nor).sector_size
    copy[ss : ss + 8] = b"NOT PART"
    gpt = gpt_of(copy)
    assert gpt.used == "backup"
    return gpt


def bits_both(nor: bytes | bytearray, name: str) -> tuple[AbBits, AbBits]:
    primary = gpt_of(nor)
    assert primary.used == "primary" and primary.backup_ok
    return primary.partitions[name].ab, backup_view(nor).partitions[name].ab


def run(nor: bytearray, rule: str, times: int) -> list[Decision]:
    return [power_on(nor, rule) for _ in range(times)]


# --- an image builder from the specification (for check branches) ----------------------

PT_NULL, PT_LOAD = 0, 1


def _metadata(sw_id: int, arb: int) -> bytes:
    words = [0] * 30
    words[2], words[29] = sw_id, arb
    return struct.pack("<30I", *words)


def _elf(
    *,
    payload: bytes = b"QC_IMAGE_VERSION_STRING=T.1\0QCOM_SCM_RELEASE_STRING=REL-1\0code",
    extra_segments: tuple[bytes, ...] = (),
    phdr0_type: int = PT_NULL,
    hash_flags: int = 0x02200000,
    hash_words: dict[int, int] | None = None,
    qti_md: bytes = b"",
    oem_md: bytes = b"",
    sigs: tuple[int, int, int, int] = (0, 0, 0, 0),
    hash_filesz_delta: int = 0,
) -> bytes:
    """ELF64 + v6 hash segment (at 0x1000) + one PT_LOAD at 0x2000 (+ extra ones after)."""
    segments = (payload, *extra_segments)
    phnum = 2 + len(segments)
    headers_size = 64 + phnum * 56
    qti_sig, qti_chain, sig, chain = sigs
    hash_size = phnum * 48
    total = len(qti_md) + len(oem_md) + hash_size + qti_sig + qti_chain + sig + chain
    words = [0, 6, qti_sig, qti_chain, total, hash_size, 0xFFFFFFFF, sig, 0xFFFFFFFF, chain]
    words += [len(qti_md), len(oem_md)]
    for index, value in (hash_words or {}).items():
        words[index] = value
    hash_len = 48 + total + hash_filesz_delta
    offsets, at = [], 0x2000
    for data in segments:
        offsets.append(at)
        at += -(-max(len(data), 1) // 0x1000) * 0x1000
    out = bytearray(at)
    ehdr = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    ehdr += struct.pack("<HHIQQQIHHHHHH", 2, 0xB7, 1, 0, 64, 0, 0, 64, 56, phnum, 0, 0, 0)
    out[:64] = ehdr
    phdrs = [(phdr0_type, 0x07000000, 0, headers_size), (PT_NULL, hash_flags, 0x1000, hash_len)]
    phdrs += [(PT_LOAD, 5, off, len(d)) for off, d in zip(offsets, segments, strict=True)]
    for i, (p_type, flags, off, size) in enumerate(phdrs):
        struct.pack_into("<IIQQQQQQ", out, 64 + i * 56, p_type, flags, off, 0, 0, size, size, 0)
    for off, data in zip(offsets, segments, strict=True):
        out[off : off + len(data)] = data
    table = hashlib.sha384(out[:headers_size]).digest() + bytes(48)
    table += b"".join(hashlib.sha384(d).digest() if d else bytes(48) for d in segments)
    body = struct.pack("<12I", *words) + qti_md + oem_md + table
    out[0x1000 : 0x1000 + len(body)] = body
    return bytes(out)


def test_own_builder_makes_valid_images() -> None:
    check = check_bytes(_elf(oem_md=_metadata(7, 3)))
    assert check.valid, check.reason
    assert (check.release, check.version, check.sw_id, check.arb) == ("REL-1", "T.1", 7, 3)


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        (_elf(phdr0_type=PT_LOAD), "phdr 0 is PT_LOAD"),
        (_elf(hash_flags=0x03200000), "no hash segment"),
        (_elf(hash_words={1: 5}), "hash segment version 5"),
        (_elf(hash_words={4: 1}), "total_size"),
        (_elf(hash_words={5: 48}), "total_size"),  # hash_size changes the sum too
        (_elf(sigs=(64, 0, 0, 0), hash_filesz_delta=-1), "beyond p_filesz"),
        (_elf(payload=b"no release here"), "no release string"),
        (_elf(payload=b"QCOM_SCM_RELEASE_STRING=\0"), "bad release string"),
        (_elf(payload=b"QCOM_SCM_RELEASE_STRING=" + b"R" * 64 + b"\0"), "bad release string"),
        (_elf(payload=b"QCOM_SCM_RELEASE_STRING=R\x01\0"), "bad release string"),
        (_elf(payload=b"QCOM_SCM_RELEASE_STRING=REL-1"), "bad release string"),  # no NUL
        (b"\x7fELF" + bytes([1, 1]) + bytes(58), "not ELF64"),
        (b"\x7fELF" + bytes([2, 2]) + bytes(58), "not ELF64"),
        (b"MZ" + bytes(100), "not ELF"),
        (b"\x7fELF", "not ELF"),
    ],
    ids=lambda value: value if isinstance(value, str) else "image",
)
def test_invalid_images(image: bytes, reason: str) -> None:
    check = check_bytes(image)
    assert not check.valid
    assert check.reason is not None and reason in check.reason


def test_elf_header_fields() -> None:
    good = bytearray(_elf())
    for offset, value, reason in ((54, 64, "e_phentsize"), (56, 0, "e_phnum"), (56, 65, "e_phnum")):
        image = bytearray(good)
        struct.pack_into("<H", image, offset, value)
        check = check_bytes(image)
        assert not check.valid and reason in str(check.reason)
    image = bytearray(good)
    struct.pack_into("<Q", image, 32, len(image) - 100)  # e_phoff: table past the end
    assert "program headers outside" in str(check_bytes(image).reason)


def test_segment_outside_partition_and_digest() -> None:
    image = _elf()
    assert "segment 2 outside" in str(check_bytes(image, 0x2000 + 10).reason)
    flipped = bytearray(image)
    flipped[0x2000 + 10] ^= 1
    assert check_bytes(flipped).reason == "digest 2 mismatch"
    header = bytearray(image)
    header[40] ^= 1  # e_shoff: covered by digest 0 only
    assert check_bytes(header).reason == "digest 0 mismatch"
    two = _elf(extra_segments=(b"more",))
    bad = bytearray(two)
    bad[0x3000] ^= 1
    assert check_bytes(bad).reason == "digest 3 mismatch"


def test_release_in_later_segment_and_empty_segment() -> None:
    image = _elf(payload=b"code only", extra_segments=(b"", b"QCOM_SCM_RELEASE_STRING=R-9\0"))
    check = check_bytes(image)
    assert check.valid and check.release == "R-9" and check.version is None


def test_first_release_occurrence_decides() -> None:
    payload = b"QCOM_SCM_RELEASE_STRING=\x01\0QCOM_SCM_RELEASE_STRING=REL-1\0"
    assert check_bytes(_elf(payload=payload)).reason == "bad release string"


def test_metadata_qti_when_no_oem() -> None:
    check = check_bytes(_elf(qti_md=_metadata(0x21, 9)))
    assert (check.sw_id, check.arb) == (0x21, 9)
    check = check_bytes(_elf(qti_md=_metadata(1, 1), oem_md=_metadata(2, 2)))
    assert (check.sw_id, check.arb) == (2, 2)
    check = check_bytes(_elf())
    assert check.valid and (check.sw_id, check.arb) == (None, None)


def test_check_image_through_a_bytes_reader() -> None:
    image = imagegen.qcom_image("TZ", 65536, 3, release="REL-7", sw_id=7, arb=2)
    check = check_image(lambda off, n: image[off : off + n], len(image))
    assert (check.valid, check.release, check.version, check.sw_id, check.arb) == (
        True,
        "REL-7",
        "TZ.3",
        7,
        2,
    )


@pytest.mark.parametrize("how", HOWS)
def test_imagegen_corruptions_are_invalid(how: str) -> None:
    size = part(nor_of(), "TZ").size
    broken = imagegen.corrupt(firmware("TZ"), how)
    assert not check_bytes(broken, size).valid


# --- GPT --------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "sector"), [("compact", 4096), ("512", 512)])
def test_read_gpt(kind: str, sector: int) -> None:
    nor = nor_of(kind)
    gpt = read_gpt(lambda off, n: nor[off : off + n], len(nor))
    assert gpt is not None and gpt.sector_size == sector and gpt.used == "primary"
    assert gpt.primary_ok and gpt.backup_ok
    tz = gpt.partitions["TZ"]
    assert tz.offset == tz.first_lba * sector and tz.size % sector == 0
    assert check_bytes(nor[tz.offset : tz.offset + tz.size]).valid
    assert {"XBL_SC", "XBL_SC_BACKUP", "dtb_a", "dtb_b", "recoveryinfo"} <= set(gpt.partitions)
    assert decide(nor, "sets").set == "A"
    slot_b_trial(nor)
    assert bits_both(nor, "dtb_b") == (TRIAL, TRIAL)
    assert power_on(nor, "ab-attributes").retry == 6
    assert bits_both(nor, "dtb_b")[1].retry == 6


def test_torn_primary_uses_backup() -> None:
    nor = nor_of()
    gpt = gpt_of(nor)
    ss = gpt.sector_size
    torn_header = bytearray(nor)
    torn_header[ss + 20] ^= 0xFF  # MyLBA corrupt: header CRC fails
    assert gpt_of(torn_header).used == "backup"
    torn_entries = bytearray(nor)
    torn_entries[gpt.header.entries_lba * ss + 3] ^= 1
    seen = gpt_of(torn_entries)
    assert seen.used == "backup" and seen.primary is not None and not seen.primary_ok
    both = bytearray(torn_header)
    both[len(both) - ss : len(both) - ss + 8] = bytes(8)
    assert read_gpt_bytes(both) is None
    for rule in ("sets", "ab-attributes", "per-image"):
        assert decide(both, rule).result == "bricked"
        assert decide(torn_entries, rule).result == "boot"


def test_writer_writes_both_copies_with_crcs() -> None:
    nor = nor_of()
    gpt = gpt_of(nor)
    new, patches = set_ab(gpt, {"dtb_b": TRIAL})
    ss = gpt.sector_size
    assert gpt.backup is not None
    assert [off // ss for off, _ in patches] == [
        1,
        gpt.header.entries_lba,
        gpt.backup.my_lba,
        gpt.backup.entries_lba,
    ]
    apply_patches(nor, patches)
    assert bits_both(nor, "dtb_b") == (TRIAL, TRIAL)
    assert new.partitions["dtb_b"].ab == TRIAL
    again, nothing = set_ab(gpt_of(nor), {"dtb_b": TRIAL})
    assert nothing == [] and again.entries == new.entries
    header = bytearray(nor[ss : ss + 92])
    (stored,) = struct.unpack_from("<I", header, 16)
    header[16:20] = bytes(4)
    assert crc32(header) == stored
    assert gpt_of(nor).partitions["dtb_b"].attributes >> 56 == (
        gpt.partitions["dtb_b"].attributes >> 56
    )  # bits above 55 kept


def test_writer_follows_a_moved_backup_array() -> None:
    nor = nor_of()
    gpt = gpt_of(nor)
    ss, backup = gpt.sector_size, gpt.backup
    assert backup is not None
    moved_lba = backup.entries_lba - 40  # in the free space before the backup array
    array = nor[backup.entries_lba * ss : backup.entries_lba * ss + backup.array_size]
    nor[moved_lba * ss : moved_lba * ss + len(array)] = array
    header = bytearray(backup.raw)
    struct.pack_into("<Q", header, 72, moved_lba)
    struct.pack_into("<I", header, 16, 0)
    struct.pack_into("<I", header, 16, zlib.crc32(header))
    nor[backup.my_lba * ss : backup.my_lba * ss + len(header)] = header
    _new, patches = set_ab(gpt_of(nor), {"dtb_a": STANDBY_OK})
    assert patches[3][0] == moved_lba * ss
    apply_patches(nor, patches)
    assert backup_view(nor).partitions["dtb_a"].ab == STANDBY_OK


# --- recoveryinfo -----------------------------------------------------------------------


def test_recoveryinfo_format() -> None:
    record = RecoveryInfo(failed=1, last_set=1, fallbacks=3, reason="TZ: digest 3 mismatch")
    raw = build_recoveryinfo(record)
    assert len(raw) == 64 and raw[:4] == b"QSRI" and struct.unpack_from("<I", raw, 4) == (1,)
    assert struct.unpack_from("<IIII", raw, 8) == (1, 1, 3, 0)
    assert raw[24:60] == b"TZ: digest 3 mismatch".ljust(36, b"\0")
    assert struct.unpack_from("<I", raw, 60)[0] == zlib.crc32(raw[:60])
    assert parse_recoveryinfo(raw + b"\xff" * 100) == record
    assert parse_recoveryinfo(b"\xff" * 4096) is None
    assert parse_recoveryinfo(raw[:63]) is None
    bad_crc = bytearray(raw)
    bad_crc[61] ^= 1
    assert parse_recoveryinfo(bad_crc) is None
    v2 = bytearray(raw)
    v2[4] = 2
    v2[60:64] = struct.pack("<I", zlib.crc32(v2[:60]))
    assert parse_recoveryinfo(v2) is None
    long = RecoveryInfo(reason="x" * 50)
    parsed = parse_recoveryinfo(build_recoveryinfo(long))
    assert parsed is not None and parsed.reason == "x" * 36


# --- rule sets --------------------------------------------------------------------------


def test_sets_default_boots_set_a() -> None:
    nor = nor_of()
    d = decide(nor, "sets")
    assert (d.result, d.set, d.release, d.fallback, d.writes) == ("boot", "A", "REL-1", False, ())
    set_a = [*IMAGES[:8], "dtb_a", "uefisecapp_a"]  # plain names, then the _a ones
    assert [load.partition for load in d.images] == set_a
    assert IMAGES[:8] == ("XBL_SC", "XBL_CONFIG", "AOP", "TZ", "HYP", "DEVCFG", "QUP", "UEFI")
    assert d.images[3].version == "TZ.1" and all(load.release == "REL-1" for load in d.images)
    assert d.record is None and record_of(nor) is None


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("image", IMAGES)
def test_sets_broken_set_a_image_boots_set_b(image: str, how: str) -> None:
    nor = nor_of()
    name = image + "_a" if image in ("dtb", "uefisecapp") else image
    corrupt(nor, name, how)
    d = power_on(nor, "sets")
    assert (d.result, d.set, d.fallback) == ("boot", "B", True)
    assert d.images[0].partition == "XBL_SC_BACKUP" and d.images[-1].partition == "uefisecapp_b"
    assert d.set_a_error is not None and d.set_a_error.startswith(f"{image}: ")
    record = record_of(nor)
    assert record == RecoveryInfo(1, 1, 1, d.set_a_error[:36])
    (offset, data) = d.writes[0]
    ri = part(nor, "recoveryinfo")
    assert len(d.writes) == 1 and offset == ri.offset and len(data) == 4096
    assert data[64:] == b"\xff" * (4096 - 64)


def test_sets_record_over_successive_power_ons() -> None:
    nor = nor_of()
    corrupt(nor, "TZ")
    first, second = run(nor, "sets", 2)
    assert first.record is not None and first.record.fallbacks == 1
    assert second.record is not None and second.record.fallbacks == 2 and second.writes
    put(nor, "TZ", firmware("TZ"))  # set A repaired
    healed = power_on(nor, "sets")
    assert (healed.set, healed.fallback) == ("A", False)
    assert record_of(nor) == RecoveryInfo(0, 0, 2, second.record.reason)
    assert power_on(nor, "sets").writes == ()  # nothing changes: nothing written


def test_sets_garbage_record_reads_as_none() -> None:
    nor = nor_of()
    put(nor, "recoveryinfo", b"QSRI" + bytes(range(60)))
    assert record_of(nor) is None
    corrupt(nor, "QUP", "not-elf")
    d = power_on(nor, "sets")
    assert record_of(nor) == RecoveryInfo(1, 1, 1, "QUP: not ELF") == d.record


def test_sets_both_sets_broken_is_bricked() -> None:
    nor = nor_of()
    corrupt(nor, "TZ")
    corrupt(nor, "UEFI_BACKUP", "truncate")
    d = power_on(nor, "sets")
    assert (d.result, d.set, d.release, d.fallback) == ("bricked", None, None, True)
    assert record_of(nor) == RecoveryInfo(3, 0xFFFF, 0, str(d.set_a_error)[:36])
    assert power_on(nor, "sets").writes == ()  # the same record: not rewritten
    put(nor, "UEFI_BACKUP", firmware("UEFI"))
    d = power_on(nor, "sets")
    assert d.set == "B" and record_of(nor) == RecoveryInfo(1, 1, 1, str(d.set_a_error)[:36])


def test_mixed_release_in_set_a() -> None:
    nor = nor_of()
    release(nor, "XBL_SC", "REL-2")
    d = decide(nor, "sets")
    assert (d.result, d.set, d.release) == ("boot", "B", "REL-1")
    assert d.set_a_error == "mixed releases: XBL_SC REL-2, XBL_CONFIG REL-1"
    hang = decide(nor, "per-image")
    assert hang.result == "hang" and hang.release is None and hang.writes == ()
    assert hang.partitions()["XBL_SC"] == "XBL_SC" and hang.images[0].release == "REL-2"


def test_sets_whole_new_release_in_set_b() -> None:
    nor = nor_of()
    for image in IMAGES:
        name = image + "_b" if image in ("dtb", "uefisecapp") else image + "_BACKUP"
        release(nor, name, "REL-2")
    assert decide(nor, "sets").release == "REL-1"
    corrupt(nor, "AOP", "not-elf")
    d = decide(nor, "sets")
    assert (d.set, d.release) == ("B", "REL-2") and d.images[3].version == "TZ.2"
    release(nor, "HYP_BACKUP", "REL-3")
    d = decide(nor, "sets")
    assert d.result == "bricked" and "mixed releases" in d.reason


def test_sets_without_recoveryinfo_partition_still_falls_back() -> None:
    nor = nor_of()
    corrupt(nor, "TZ")
    profile = Q6A_PROFILE.__class__(Q6A_PROFILE.name, IMAGES, recoveryinfo="no-such-partition")
    d = decide(nor, "sets", profile)
    assert d.set == "B" and d.writes == ()


# --- rule per-image ---------------------------------------------------------------------


def test_per_image_falls_back_image_by_image() -> None:
    nor = nor_of()
    assert decide(nor, "per-image").fallback is False
    corrupt(nor, "TZ")
    corrupt(nor, "dtb_a", "truncate")
    d = decide(nor, "per-image")
    assert (d.result, d.release, d.fallback) == ("boot", "REL-1", True)
    loaded = d.partitions()
    assert loaded["TZ"] == "TZ_BACKUP" and loaded["dtb"] == "dtb_b" and loaded["HYP"] == "HYP"
    corrupt(nor, "TZ_BACKUP", "first-block-erased")
    d = decide(nor, "per-image")
    assert d.result == "bricked" and d.reason.startswith("TZ: ")


def test_per_image_mixed_result_hangs() -> None:
    nor = nor_of()
    corrupt(nor, "HYP")
    release(nor, "HYP_BACKUP", "REL-2")
    d = decide(nor, "per-image")
    assert d.result == "hang" and d.reason == "mixed releases: XBL_SC REL-1, HYP REL-2"
    assert decide(nor, "sets").result == "bricked"  # set A broken, set B mixed


# --- rule ab-attributes -----------------------------------------------------------------


def test_ab_active_successful_slot_boots_without_writes() -> None:
    nor = nor_of()
    set_bits(nor, {"dtb_a": SUCCESSFUL, "dtb_b": STANDBY_OK})
    d = decide(nor, "ab-attributes")
    assert (d.result, d.slot, d.release, d.resets, d.fallback) == ("boot", "_a", "REL-1", 0, False)
    assert d.partitions()["dtb"] == "dtb_a" and d.partitions()["TZ"] == "TZ"
    assert d.writes == ()  # MarkPtnActive(_a) changes nothing: imagegen's _a entries are active


def test_ab_switched_slot_marks_partitions_active() -> None:
    nor = nor_of()
    set_bits(nor, {"dtb_b": SUCCESSFUL, "dtb_a": STANDBY_OK})
    d = power_on(nor, "ab-attributes")
    assert (d.result, d.slot) == ("boot", "_b")
    assert d.partitions()["uefisecapp"] == "uefisecapp_b"
    gpt = gpt_of(nor)
    for name in ("dtb_b", "uefisecapp_b", "qweslicstore_b"):
        assert gpt.partitions[name].ab.active, name
    for name in ("dtb_a", "uefisecapp_a", "qweslicstore_a"):
        assert not gpt.partitions[name].ab.active, name
    assert bits_both(nor, "uefisecapp_a")[1].active is False
    assert power_on(nor, "ab-attributes").writes == ()


def test_ab_trial_slot_decrements_retry_in_both_copies() -> None:
    nor = nor_of()
    slot_b_trial(nor)
    d = power_on(nor, "ab-attributes")
    assert (d.result, d.slot, d.retry) == ("boot", "_b", 6)
    assert "retry 7 -> 6" in d.reason
    expected = AbBits(priority=3, active=True, retry=6, successful=False)
    assert bits_both(nor, "dtb_b") == (expected, expected)
    ss = gpt_of(nor).sector_size
    assert d.writes[0][0] == ss and d.writes[2][0] == len(nor) - ss  # primary first


def test_ab_seven_unconfirmed_power_ons_then_fallback() -> None:
    nor = nor_of()
    slot_b_trial(nor)
    trial = run(nor, "ab-attributes", 7)
    assert [d.slot for d in trial] == ["_b"] * 7
    assert [d.retry for d in trial] == [6, 5, 4, 3, 2, 1, 0]
    d = power_on(nor, "ab-attributes")
    assert (d.result, d.slot, d.resets, d.fallback) == ("boot", "_a", 1, True)
    assert d.partitions()["dtb"] == "dtb_a"
    b, a = bits_both(nor, "dtb_b")[0], bits_both(nor, "dtb_a")[0]
    assert b == AbBits(priority=2, active=False, retry=0, successful=False, unbootable=True)
    assert a == AbBits(priority=3, active=True, retry=7, successful=True)
    assert bits_both(nor, "dtb_b")[1] == b and bits_both(nor, "dtb_a")[1] == a
    after = power_on(nor, "ab-attributes")
    assert (after.slot, after.resets, after.writes) == ("_a", 0, ())


def test_ab_exhausted_slot_without_successful_other_is_bricked() -> None:
    nor = nor_of()
    set_bits(nor, {"dtb_b": replace(TRIAL, retry=0), "dtb_a": NONE})
    d = power_on(nor, "ab-attributes")
    assert d.result == "bricked" and d.resets == 0
    assert gpt_of(nor).partitions["dtb_b"].ab.unbootable


def test_ab_first_boot() -> None:
    nor = nor_of()
    set_bits(nor, {name: NONE for name in ("dtb_a", "dtb_b", "uefisecapp_a", "uefisecapp_b")})
    d = power_on(nor, "ab-attributes")
    assert (d.result, d.slot, d.retry) == ("boot", "_a", 6)
    assert "first boot" in d.reason
    assert bits_both(nor, "dtb_a")[0] == AbBits(priority=3, active=True, retry=6)
    assert gpt_of(nor).partitions["uefisecapp_a"].ab.active  # MarkPtnActive
    assert len(d.writes) == 3 * 4  # first boot, retry, MarkPtnActive: 4 patches each


def test_ab_no_qualifying_slot_is_bricked() -> None:
    nor = nor_of()
    inactive = AbBits(priority=3, active=False, retry=7, successful=True)
    set_bits(nor, {"dtb_a": inactive, "dtb_b": inactive})
    d = decide(nor, "ab-attributes")
    assert (d.result, d.writes) == ("bricked", ())
    set_bits(nor, {"dtb_a": replace(SUCCESSFUL, priority=0)})  # active, priority 0
    assert decide(nor, "ab-attributes").result == "bricked"
    set_bits(nor, {"dtb_b": replace(SUCCESSFUL, priority=1)})
    assert decide(nor, "ab-attributes").slot == "_b"


def test_ab_priority_and_ties() -> None:
    nor = nor_of()
    set_bits(nor, {"dtb_a": SUCCESSFUL, "dtb_b": SUCCESSFUL})
    assert decide(nor, "ab-attributes").slot == "_a"  # ties go to _a
    set_bits(nor, {"dtb_a": replace(SUCCESSFUL, priority=1)})
    assert decide(nor, "ab-attributes").slot == "_b"


@pytest.mark.parametrize("name", ["dtb_a", "uefisecapp_a"])
def test_ab_invalid_slot_image_switches_slot(name: str) -> None:
    nor = nor_of()
    set_bits(nor, {"dtb_a": SUCCESSFUL, "dtb_b": STANDBY_OK})
    corrupt(nor, name)
    d = power_on(nor, "ab-attributes")
    assert (d.result, d.slot, d.resets, d.fallback) == ("boot", "_b", 1, True)
    assert f"slot _a: {name}: digest" in d.reason
    gpt = gpt_of(nor)
    assert gpt.partitions["dtb_a"].ab == AbBits(2, False, 7, True, True)
    assert gpt.partitions["dtb_b"].ab == AbBits(3, True, 7, True, False)
    assert gpt.partitions["uefisecapp_b"].ab.active and not gpt.partitions["uefisecapp_a"].ab.active


def test_ab_invalid_slot_image_without_good_other_is_bricked() -> None:
    nor = nor_of()
    slot_b_trial(nor)
    set_bits(nor, {"dtb_a": replace(STANDBY_OK, successful=False)})
    corrupt(nor, "dtb_b", "not-elf")
    d = power_on(nor, "ab-attributes")
    assert d.result == "bricked" and d.resets == 0
    assert gpt_of(nor).partitions["dtb_b"].ab == AbBits(3, True, 6, False, True)


def test_ab_switch_into_a_broken_other_slot_is_bricked() -> None:
    nor = nor_of()
    set_bits(nor, {"dtb_a": SUCCESSFUL, "dtb_b": STANDBY_OK})
    corrupt(nor, "dtb_a")
    corrupt(nor, "uefisecapp_b")
    d = power_on(nor, "ab-attributes")
    assert d.result == "bricked" and d.resets == 1
    gpt = gpt_of(nor)
    assert gpt.partitions["dtb_a"].ab.unbootable and gpt.partitions["dtb_b"].ab.unbootable


def test_ab_primary_backup_images() -> None:
    nor = nor_of()
    corrupt(nor, "TZ")
    d = decide(nor, "ab-attributes")
    assert d.result == "boot" and d.partitions()["TZ"] == "TZ_BACKUP"
    corrupt(nor, "TZ_BACKUP")
    d = decide(nor, "ab-attributes")
    assert d.result == "bricked" and d.resets == 0 and "TZ" in d.reason


def test_ab_mixed_release_hangs_after_the_decrement() -> None:
    nor = nor_of()
    slot_b_trial(nor)
    release(nor, "dtb_b", "REL-2")
    d = power_on(nor, "ab-attributes")
    assert (d.result, d.slot, d.retry) == ("hang", "_b", 6)
    assert d.reason.endswith("mixed releases: XBL_SC REL-1, dtb REL-2")
    assert gpt_of(nor).partitions["uefisecapp_b"].ab.active  # MarkPtnActive came before


def test_ab_torn_primary_gpt_uses_backup_and_repairs_it() -> None:
    nor = nor_of()
    set_bits(nor, {"dtb_a": SUCCESSFUL, "dtb_b": STANDBY_OK})
    old = bytes(nor)
    slot_b_trial(nor)  # an update switched to _b ...
    gpt = gpt_of(nor)
    ss = gpt.sector_size
    primary_end = ss + gpt.header.entries_lba * ss + gpt.header.array_size
    nor[:primary_end] = old[:primary_end]  # ... primary rewritten as before, then torn
    nor[ss * gpt.header.entries_lba + 200] ^= 0xFF
    assert gpt_of(nor).used == "backup"
    d = power_on(nor, "ab-attributes")
    assert (d.result, d.slot, d.retry) == ("boot", "_b", 6)
    expected = AbBits(priority=3, active=True, retry=6, successful=False)
    assert bits_both(nor, "dtb_b") == (expected, expected)  # primary rewritten whole


def test_ab_primary_header_lost_is_rebuilt() -> None:
    nor = nor_of()
    slot_b_trial(nor)
    ss = gpt_of(nor).sector_size
    nor[ss : 2 * ss] = b"\xff" * ss  # header erased by a cut
    d = power_on(nor, "ab-attributes")
    assert d.slot == "_b" and d.writes[0][0] == ss
    assert bits_both(nor, "dtb_b")[0].retry == 6


def test_ab_no_ab_image_is_bricked() -> None:
    nor = nor_of()
    profile = Q6A_PROFILE.__class__("no-ab", ("XBL_SC", "TZ"))
    d = decide(nor, "ab-attributes", profile)
    assert d.result == "bricked" and "no A/B image" in d.reason
    assert decide(nor, "sets", profile).result == "boot"


# --- an ABL-style layout: every boot image an _a/_b pair --------------------------------


def test_abl_layout_kinds_from_names() -> None:
    nor = nor_of("abl")
    d = decide(nor, "sets")
    assert d.set == "A" and all(load.partition == load.image + "_a" for load in d.images)
    put(nor, "TZ_a", imagegen.corrupt(firmware("TZ", "abl"), "digest"))
    d = decide(nor, "sets")
    assert d.set == "B" and all(load.partition == load.image + "_b" for load in d.images)
    per = decide(nor, "per-image")
    assert per.partitions()["TZ"] == "TZ_b" and per.partitions()["HYP"] == "HYP_a"


def test_abl_layout_slot_entry_is_the_first_ab_image() -> None:
    nor = nor_of("abl")
    set_bits(nor, {"XBL_SC_b": TRIAL, "XBL_SC_a": STANDBY_OK})
    set_bits(nor, {"dtb_a": SUCCESSFUL, "dtb_b": STANDBY_OK})  # not the slot entry here
    d = power_on(nor, "ab-attributes")
    assert (d.slot, d.retry) == ("_b", 6)
    assert all(load.partition == load.image + "_b" for load in d.images)
    assert gpt_of(nor).partitions["XBL_SC_b"].ab.retry == 6
    put(nor, "TZ_b", imagegen.corrupt(firmware("TZ", "abl"), "truncate"))
    d = power_on(nor, "ab-attributes")
    assert (d.result, d.slot, d.resets) == ("boot", "_a", 1)
    assert gpt_of(nor).partitions["XBL_SC_b"].ab.unbootable


# --- cache, default layout --------------------------------------------------------------


def test_cache_hits_and_touch() -> None:
    nor = nor_of()
    cache = ImageCache()
    first = decide(nor, "sets", cache=cache)
    assert cache.misses == len(IMAGES) and cache.hits == 0
    assert decide(nor, "sets", cache=cache) == first and cache.hits == len(IMAGES)
    corrupt(nor, "TZ")
    tz = part(nor, "TZ")
    cache.touch_blocks([(tz.offset + 5000) // 4096])
    assert len(cache) == len(IMAGES) - 1
    d = power_on(nor, "sets", cache=cache)
    assert d.set == "B"
    assert decide(nor, "sets", cache=cache) == decide(nor, "sets")


def test_default_layout() -> None:
    nor = nor_of("default")
    assert decide(nor, "sets").set == "A"
    corrupt(nor, "UEFI", "truncate", "default")
    d = decide(nor, "sets")
    assert (d.set, d.fallback) == ("B", True) and d.set_a_error is not None
    assert d.set_a_error.startswith("UEFI: ")


def test_unknown_rule() -> None:
    with pytest.raises(ValueError, match="unknown boot rule"):
        decide(nor_of(), "none")
