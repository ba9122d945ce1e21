"""A GUID partition table reader and attribute writer, from the UEFI format alone.

The layout used (UEFI specification, chapter "GUID Partition Table"):

* header at LBA 1 (primary) and at the last LBA of the device (backup);
  signature ``EFI PART``, ``HeaderSize`` bytes covered by a CRC-32 taken with
  the CRC field (offset 16) zeroed; ``MyLBA`` (24), ``AlternateLBA`` (32),
  ``PartitionEntryLBA`` (72), ``NumberOfPartitionEntries`` (80),
  ``SizeOfPartitionEntry`` (84), ``PartitionEntryArrayCRC32`` (88);
* entries of ``SizeOfPartitionEntry`` (128 x 2^n) bytes: type GUID (0),
  unique GUID (16), first LBA (32), last LBA inclusive (40), attributes (48),
  name in UTF-16LE (56, 72 bytes). An all-zero type GUID is an unused entry.

A copy is used when its header and its entry array are both valid; the
primary is preferred. Sector sizes 4096 then 512 are tried.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

Read = Callable[[int, int], bytes | bytearray | memoryview]
Patch = tuple[int, bytes]

SIGNATURE = b"EFI PART"
SECTOR_SIZES = (4096, 512)
MIN_HEADER = 92
MAX_ARRAY = 1 << 20  # refuse absurd entry arrays rather than read megabytes

# Byte 6 of the attribute field (bits 48-55), ref section 1.
AB_SHIFT = 48
PRIORITY_MASK = 0x3
ACTIVE_BIT = 50
RETRY_SHIFT = 51
RETRY_MASK = 0x7
SUCCESSFUL_BIT = 54
UNBOOTABLE_BIT = 55


@dataclass(frozen=True)
class AbBits:
    """The A/B fields of an attribute word (bits 48-55)."""

    priority: int = 0
    active: bool = False
    retry: int = 0
    successful: bool = False
    unbootable: bool = False

    @classmethod
    def of(cls, attributes: int) -> AbBits:
        return cls(
            priority=(attributes >> AB_SHIFT) & PRIORITY_MASK,
            active=bool(attributes >> ACTIVE_BIT & 1),
            retry=(attributes >> RETRY_SHIFT) & RETRY_MASK,
            successful=bool(attributes >> SUCCESSFUL_BIT & 1),
            unbootable=bool(attributes >> UNBOOTABLE_BIT & 1),
        )

    def apply(self, attributes: int) -> int:
        """``attributes`` with bits 48-55 replaced by these fields, the others kept."""
        if not (0 <= self.priority <= PRIORITY_MASK and 0 <= self.retry <= RETRY_MASK):
            raise ValueError(f"A/B field out of range: {self}")
        byte6 = (
            self.priority
            | self.active << (ACTIVE_BIT - AB_SHIFT)
            | self.retry << (RETRY_SHIFT - AB_SHIFT)
            | self.successful << (SUCCESSFUL_BIT - AB_SHIFT)
            | self.unbootable << (UNBOOTABLE_BIT - AB_SHIFT)
        )
        return (attributes & ~(0xFF << AB_SHIFT)) | byte6 << AB_SHIFT


@dataclass(frozen=True)
class Header:
    """One GPT header as read (``raw`` is its ``HeaderSize`` bytes)."""

    raw: bytes
    my_lba: int
    alternate_lba: int
    entries_lba: int
    num_entries: int
    entry_size: int

    @property
    def array_size(self) -> int:
        return self.num_entries * self.entry_size


@dataclass(frozen=True)
class Partition:
    """A used entry of the table; offsets in bytes."""

    index: int
    name: str
    type_guid: bytes
    unique_guid: bytes
    first_lba: int
    last_lba: int
    attributes: int
    offset: int
    size: int

    @property
    def ab(self) -> AbBits:
        return AbBits.of(self.attributes)


@dataclass(frozen=True)
class Gpt:
    """The table the chain uses, and what it knows of both copies for writing back."""

    sector_size: int
    device_size: int
    used: str  # "primary" or "backup"
    header: Header  # of the copy used
    entries: bytes  # the used copy's whole entry array
    primary: Header | None  # header of that copy when its header CRC and MyLBA hold
    backup: Header | None
    primary_ok: bool  # header and entry array valid
    backup_ok: bool
    partitions: dict[str, Partition] = field(default_factory=dict)

    def __contains__(self, name: object) -> bool:
        return name in self.partitions

    def get(self, name: str) -> Partition | None:
        return self.partitions.get(name)

    def by_index(self) -> list[Partition]:
        return sorted(self.partitions.values(), key=lambda p: p.index)


def crc32(data: bytes | bytearray | memoryview) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def _header(raw: bytes, lba: int, sector_size: int, device_size: int) -> Header | None:
    """The header at ``lba`` if its signature, size, CRC, MyLBA and geometry hold."""
    if len(raw) < MIN_HEADER or raw[:8] != SIGNATURE:
        return None
    (size,) = struct.unpack_from("<I", raw, 12)
    if not MIN_HEADER <= size <= sector_size:
        return None
    body = bytearray(raw[:size])
    (stored,) = struct.unpack_from("<I", body, 16)
    body[16:20] = b"\0\0\0\0"
    if crc32(body) != stored:
        return None
    my_lba, alternate, _first, _last = struct.unpack_from("<QQQQ", body, 24)
    entries_lba, num, esz = struct.unpack_from("<QII", body, 72)
    if my_lba != lba:
        return None
    if esz < 128 or esz % 128 or esz & (esz - 1) or num == 0 or num * esz > MAX_ARRAY:
        return None
    if entries_lba * sector_size + num * esz > device_size:
        return None
    return Header(bytes(raw[:size]), my_lba, alternate, entries_lba, num, esz)


def _array_ok(read: Read, header: Header, sector_size: int) -> bytes | None:
    data = bytes(read(header.entries_lba * sector_size, header.array_size))
    (stored,) = struct.unpack_from("<I", header.raw, 88)
    return data if len(data) == header.array_size and crc32(data) == stored else None


def _partitions(entries: bytes, header: Header, sector_size: int) -> dict[str, Partition]:
    parts: dict[str, Partition] = {}
    for index in range(header.num_entries):
        base = index * header.entry_size
        type_guid = entries[base : base + 16]
        if type_guid == bytes(16):
            continue
        first, last, attributes = struct.unpack_from("<QQQ", entries, base + 32)
        name = _name(entries[base + 56 : base + 128])
        if last < first or name in parts:
            continue  # an inverted entry is unusable; a repeated name: first wins
        parts[name] = Partition(
            index=index,
            name=name,
            type_guid=type_guid,
            unique_guid=entries[base + 16 : base + 32],
            first_lba=first,
            last_lba=last,
            attributes=attributes,
            offset=first * sector_size,
            size=(last - first + 1) * sector_size,
        )
    return parts


def _name(raw: bytes) -> str:
    for i in range(0, len(raw) - 1, 2):
        if raw[i] == 0 and raw[i + 1] == 0:
            raw = raw[:i]
            break
    return raw.decode("utf-16-le", errors="replace")


def read_gpt(read: Read, size: int) -> Gpt | None:
    """The table of a ``size``-byte device, or None when no copy is valid.

    ``read(offset, length)`` returns the device's bytes. For each sector size
    (4096, then 512): the primary when its header and entries are valid, else
    the backup (at the last LBA; at the primary header's AlternateLBA if that
    differs and the last LBA holds none).
    """
    for ss in SECTOR_SIZES:
        if size < 3 * ss:
            continue
        primary = _header(bytes(read(ss, ss)), 1, ss, size)
        last = size // ss - 1
        backup = _header(bytes(read(last * ss, ss)), last, ss, size)
        if backup is None and primary is not None and primary.alternate_lba not in (1, last):
            alt = primary.alternate_lba
            if (alt + 1) * ss <= size:
                backup = _header(bytes(read(alt * ss, ss)), alt, ss, size)
        p_entries = _array_ok(read, primary, ss) if primary else None
        b_entries = _array_ok(read, backup, ss) if backup else None
        if p_entries is not None and primary is not None:
            used, header, entries = "primary", primary, p_entries
        elif b_entries is not None and backup is not None:
            used, header, entries = "backup", backup, b_entries
        else:
            continue
        return Gpt(
            sector_size=ss,
            device_size=size,
            used=used,
            header=header,
            entries=entries,
            primary=primary,
            backup=backup,
            primary_ok=p_entries is not None,
            backup_ok=b_entries is not None,
            partitions=_partitions(entries, header, ss),
        )
    return None


def read_gpt_bytes(nor: bytes | bytearray | memoryview) -> Gpt | None:
    """``read_gpt`` over an in-memory device image."""
    view = memoryview(nor)
    return read_gpt(lambda off, n: view[off : off + n], len(view))


def _sealed(header: bytes, entries: bytes) -> bytes:
    out = bytearray(header)
    struct.pack_into("<I", out, 88, crc32(entries))
    struct.pack_into("<I", out, 16, 0)
    struct.pack_into("<I", out, 16, crc32(out))
    return bytes(out)


def _rebuilt(template: Header, my_lba: int, alternate: int, entries_lba: int) -> bytes:
    out = bytearray(template.raw)
    struct.pack_into("<QQ", out, 24, my_lba, alternate)
    struct.pack_into("<Q", out, 72, entries_lba)
    return bytes(out)


def _copy_header(gpt: Gpt, which: str) -> tuple[bytes, int]:
    """Header bytes (CRCs still to seal) and entry-array LBA to write copy ``which``.

    A copy whose header is valid and has the used copy's geometry keeps its
    own header and entry location; any other is rebuilt from the used header
    (primary: LBA 1, entries at LBA 2; backup: at the primary's AlternateLBA,
    entries just before it).
    """
    ss, used = gpt.sector_size, gpt.header
    own = gpt.primary if which == "primary" else gpt.backup
    if (
        own is not None
        and own.num_entries == used.num_entries
        and own.entry_size == used.entry_size
    ):
        return own.raw, own.entries_lba
    array_lbas = -(-used.array_size // ss)
    if which == "primary":
        backup_lba = used.my_lba
        return _rebuilt(used, 1, backup_lba, 2), 2
    backup_lba = used.alternate_lba
    if not 1 < backup_lba < gpt.device_size // ss:
        backup_lba = gpt.device_size // ss - 1
    return _rebuilt(used, backup_lba, 1, backup_lba - array_lbas), backup_lba - array_lbas


def _fields(raw: bytes) -> Header:
    my_lba, alternate = struct.unpack_from("<QQ", raw, 24)
    entries_lba, num, esz = struct.unpack_from("<QII", raw, 72)
    return Header(raw, my_lba, alternate, entries_lba, num, esz)


def write_entries(gpt: Gpt, entries: bytes) -> tuple[Gpt, list[Patch]]:
    """Write ``entries`` (a whole entry array) to both copies, primary first.

    Returns the table as it then reads and the writes, as (offset, bytes), in
    qbootctl's commit order: primary header, primary entries, backup header,
    backup entries; each header's entry-array CRC and header CRC recomputed.
    """
    if len(entries) != gpt.header.array_size:
        raise ValueError("entry array of the wrong size")
    ss = gpt.sector_size
    patches: list[Patch] = []
    headers: list[Header] = []
    for which in ("primary", "backup"):
        raw, entries_lba = _copy_header(gpt, which)
        header = _fields(_sealed(raw, entries))
        patches.append((header.my_lba * ss, header.raw))
        patches.append((entries_lba * ss, entries))
        headers.append(header)
    primary, backup = headers
    new = replace(
        gpt,
        used="primary",
        header=primary,
        entries=entries,
        primary=primary,
        backup=backup,
        primary_ok=True,
        backup_ok=True,
        partitions=_partitions(entries, primary, ss),
    )
    return new, patches


def with_attributes(gpt: Gpt, attributes: Mapping[str, int]) -> bytes:
    """The used entry array with the attribute words of the named entries replaced."""
    out = bytearray(gpt.entries)
    for name, value in attributes.items():
        part = gpt.partitions[name]
        struct.pack_into("<Q", out, part.index * gpt.header.entry_size + 48, value)
    return bytes(out)


def set_attributes(gpt: Gpt, attributes: Mapping[str, int]) -> tuple[Gpt, list[Patch]]:
    """Write the named entries' attribute words to both copies (nothing if unchanged)."""
    entries = with_attributes(gpt, attributes)
    if entries == gpt.entries:
        return gpt, []
    return write_entries(gpt, entries)


def set_ab(gpt: Gpt, bits: Mapping[str, AbBits]) -> tuple[Gpt, list[Patch]]:
    """Write the A/B fields of the named entries, other attribute bits kept."""
    return set_attributes(
        gpt, {name: ab.apply(gpt.partitions[name].attributes) for name, ab in bits.items()}
    )


def apply_patches(nor: bytearray, patches: list[Patch]) -> None:
    """Apply writes in order to an in-memory device."""
    for offset, data in patches:
        nor[offset : offset + len(data)] = data
