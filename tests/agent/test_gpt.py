"""GPT on the NOR: both sector sizes, CRC checks, fallback, mistakes, A/B attributes."""

from __future__ import annotations

import struct
import uuid
import zlib
from dataclasses import replace
from functools import cache

import pytest

from scm_fwupdate import gpt as G
from scm_fwupdate import imagegen
from scm_fwupdate.errors import GptError


@cache
def board(ss: int) -> imagegen.Board:
    return imagegen.build(sector_size=ss)


def parse(image: bytes | bytearray, **kw: object) -> G.Gpt:
    return G.read_gpt_image(image, **kw)


def _corrupt(image: bytearray, offset: int) -> None:
    image[offset] ^= 0xFF


@pytest.mark.parametrize("ss", [4096, 512])
def test_generated_table_parses_with_its_sector_size(ss: int) -> None:
    b = board(ss)
    table = parse(b.image)
    assert table.sector_size == ss
    assert table.primary_ok and table.backup_ok and not table.problems
    assert table.names() == b.gpt.names()
    uefi = table.find("UEFI")
    assert uefi.size == 4 << 20
    assert b.image[uefi.offset : uefi.offset + 4] == b"\x7fELF"


@pytest.mark.parametrize("ss", [4096, 512])
@pytest.mark.parametrize("what", ["primary header", "primary entries", "backup header"])
def test_fallback_to_the_valid_copy(ss: int, what: str) -> None:
    b = board(ss)
    image = bytearray(b.image)
    last = len(image) // ss - 1
    offset = {
        "primary header": ss + 20,
        "primary entries": 2 * ss + 40,
        "backup header": last * ss + 20,
    }[what]
    _corrupt(image, offset)
    table = parse(image)
    assert table.primary_ok == what.startswith("backup")
    assert table.backup_ok == what.startswith("primary")
    assert table.find("TZ") == b.gpt.find("TZ")


@pytest.mark.parametrize("ss", [4096, 512])
def test_both_copies_corrupt_is_a_clear_error(ss: int) -> None:
    image = bytearray(board(ss).image)
    last = len(image) // ss - 1
    _corrupt(image, ss + 30)
    _corrupt(image, last * ss + 30)
    with pytest.raises(GptError, match=r"no valid GPT.*primary.*CRC.*backup.*CRC"):
        parse(image, sector_size=ss)


def test_blank_flash_has_no_gpt() -> None:
    with pytest.raises(GptError, match="no valid GPT"):
        parse(b"\xff" * (1 << 20))


def _rewrite(table: G.Gpt, image: bytes) -> bytearray:
    out = bytearray(image)
    for copy in table.copies():
        for off, data in copy:
            out[off : off + len(data)] = data
    return out


def _with_partition(table: G.Gpt, **changes: object) -> G.Gpt:
    parts = list(table.partitions)
    extra = G.Partition(
        index=len(parts),
        name=str(changes.get("name", "extra")),
        type_guid=uuid.uuid4(),
        unique_guid=uuid.uuid4(),
        first_lba=int(changes.get("first", table.last_usable - 1)),  # type: ignore[arg-type]
        last_lba=int(changes.get("last", table.last_usable)),  # type: ignore[arg-type]
        attributes=0,
        sector_size=table.sector_size,
    )
    return replace(table, partitions=(*parts, extra))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "TZ"}, "'TZ' is declared 2 times"),
        ({"first": 10, "last": 12}, "overlap"),
        ({"last": 10**6}, "outside the usable range"),
    ],
)
def test_table_mistakes_are_reported_not_crashed_on(changes: dict, message: str) -> None:
    b = board(4096)
    broken = _rewrite(_with_partition(b.gpt, **changes), b.image)
    with pytest.raises(GptError, match=message):
        parse(broken)
    lenient = parse(broken, strict=False)
    assert any(message.strip("'").split("'")[0] in p for p in lenient.problems)
    if "name" in changes:
        with pytest.raises(GptError, match="declared 2 times"):
            lenient.find("TZ")


def test_header_claiming_a_larger_device_is_refused() -> None:
    image = bytearray(board(4096).image)
    ss = 4096
    hdr = bytearray(image[ss : ss + 92])
    struct.pack_into("<Q", hdr, 48, 10**9)  # last usable LBA
    hdr[16:20] = b"\0\0\0\0"
    struct.pack_into("<I", hdr, 16, zlib.crc32(hdr))
    image[ss : ss + 92] = hdr
    table = parse(image)  # the primary is refused, the backup used
    assert not table.primary_ok and table.backup_ok


def test_attribute_bits_follow_the_qualcomm_layout() -> None:
    value = G.ab_attributes(
        0x1, priority=3, active=True, retry=7, successful=True, unbootable=False
    )
    assert value & 0x1  # bits outside 48-55 are kept
    byte6 = (value >> 48) & 0xFF
    assert byte6 & 0x04 and byte6 & 0x40 and not byte6 & 0x80  # qbootctl's byte-6 flags
    assert byte6 & 0x03 == 3 and (byte6 >> 3) & 0x7 == 7
    with pytest.raises(GptError):
        G.ab_attributes(0, priority=4, active=False, retry=0, successful=False, unbootable=False)


def test_activate_slot_and_boot_selection_rules() -> None:
    table = board(4096).gpt
    assert G.boot_slot(table) == "a"
    flipped = G.activate_slot(table, "b")
    b = flipped.find("dtb_b")
    a = flipped.find("dtb_a")
    assert (b.priority, b.active, b.retry, b.successful, b.unbootable) == (3, True, 7, False, False)
    assert (a.priority, a.active) == (2, False)
    assert G.boot_slot(flipped) == "b"
    # b unbootable -> the boot chain falls back to a
    broken = flipped.with_attributes(G.slot_attributes(flipped, "b", unbootable=True))
    assert G.boot_slot(broken) == "a"
    # b out of retries and never successful -> a
    tired = flipped.with_attributes(G.slot_attributes(flipped, "b", retry=0))
    assert G.boot_slot(tired) == "a"
    # entries of one slot that disagree make that slot unbootable
    split = flipped.with_attributes(
        {
            "dtb_b": G.ab_attributes(
                0, priority=3, active=True, retry=7, successful=True, unbootable=True
            )
        }
    )
    assert G.boot_slot(split) == "a"


@pytest.mark.parametrize("ss", [4096, 512])
def test_edited_table_round_trips_through_both_copies(ss: int) -> None:
    b = board(ss)
    flipped = G.activate_slot(b.gpt, "b")
    image = _rewrite(flipped, b.image)
    table = parse(image)
    assert G.boot_slot(table) == "b"
    # both copies agree: corrupt either one and the other says the same
    last = len(image) // ss - 1
    for off in (ss + 30, last * ss + 30):
        damaged = bytearray(image)
        _corrupt(damaged, off)
        assert G.boot_slot(parse(damaged)) == "b"


def test_slot_pairs_are_found_by_name() -> None:
    pairs = G.slot_pairs(board(4096).gpt)
    assert sorted(pairs) == ["dtb", "qweslicstore", "uefisecapp"]
    assert pairs["dtb"][0].name == "dtb_a" and pairs["dtb"][1].name == "dtb_b"
