"""GPT on the NOR: parse both copies, fall back to the valid one, edit A/B attributes.

Pure logic over a ``read(offset, length)`` function: no I/O of its own, so the
same code runs on the target, in the simulator and in the image generator.
"""

from __future__ import annotations

import itertools
import struct
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .errors import GptError

SIGNATURE = b"EFI PART"
REVISION = 0x00010000
HEADER = struct.Struct("<8sIIIIQQQQ16sQIII")  # 92 bytes
ENTRY = struct.Struct("<16s16sQQQ72s")  # 128 bytes
SECTOR_SIZES = (4096, 512)

# A/B attribute bits (Qualcomm ABL / Android convention), in the 64-bit field.
AB_PRIORITY_SHIFT = 48
AB_PRIORITY_MASK = 0x3 << 48
AB_ACTIVE = 1 << 50
AB_RETRY_SHIFT = 51
AB_RETRY_MASK = 0x7 << 51
AB_SUCCESSFUL = 1 << 54
AB_UNBOOTABLE = 1 << 55
AB_MAX_RETRY = 7

Reader = Callable[[int, int], bytes]


@dataclass(frozen=True)
class Partition:
    index: int  # slot in the entry array
    name: str
    type_guid: uuid.UUID
    unique_guid: uuid.UUID
    first_lba: int
    last_lba: int
    attributes: int
    sector_size: int

    @property
    def offset(self) -> int:
        return self.first_lba * self.sector_size

    @property
    def size(self) -> int:
        return (self.last_lba - self.first_lba + 1) * self.sector_size

    # A/B view of the attribute bits
    @property
    def priority(self) -> int:
        return (self.attributes & AB_PRIORITY_MASK) >> AB_PRIORITY_SHIFT

    @property
    def active(self) -> bool:
        return bool(self.attributes & AB_ACTIVE)

    @property
    def retry(self) -> int:
        return (self.attributes & AB_RETRY_MASK) >> AB_RETRY_SHIFT

    @property
    def successful(self) -> bool:
        return bool(self.attributes & AB_SUCCESSFUL)

    @property
    def unbootable(self) -> bool:
        return bool(self.attributes & AB_UNBOOTABLE)


def ab_attributes(
    base: int,
    *,
    priority: int,
    active: bool,
    retry: int,
    successful: bool,
    unbootable: bool,
) -> int:
    """``base`` with bits 48-55 replaced."""
    if not 0 <= priority <= 3 or not 0 <= retry <= AB_MAX_RETRY:
        raise GptError(f"A/B attributes out of range: priority {priority}, retry {retry}")
    value = base & ~(0xFF << 48)
    value |= priority << AB_PRIORITY_SHIFT | retry << AB_RETRY_SHIFT
    value |= (AB_ACTIVE if active else 0) | (AB_SUCCESSFUL if successful else 0)
    value |= AB_UNBOOTABLE if unbootable else 0
    return value


@dataclass(frozen=True)
class Header:
    my_lba: int
    alternate_lba: int
    first_usable: int
    last_usable: int
    disk_guid: uuid.UUID
    entries_lba: int
    num_entries: int
    entry_size: int
    entries_crc: int


@dataclass(frozen=True)
class Gpt:
    sector_size: int
    disk_size: int
    disk_guid: uuid.UUID
    first_usable: int
    last_usable: int
    num_entries: int
    entry_size: int
    partitions: tuple[Partition, ...]
    primary_ok: bool = True
    backup_ok: bool = True
    problems: tuple[str, ...] = field(default=())

    @property
    def last_lba(self) -> int:
        return self.disk_size // self.sector_size - 1

    @property
    def entries_sectors(self) -> int:
        return -(-self.num_entries * self.entry_size // self.sector_size)

    @property
    def primary_entries_lba(self) -> int:
        return 2

    @property
    def backup_entries_lba(self) -> int:
        return self.last_lba - self.entries_sectors

    def find(self, name: str) -> Partition:
        found = [p for p in self.partitions if p.name == name]
        if not found:
            raise GptError(f"no partition named '{name}' in the GPT")
        if len(found) > 1:
            raise GptError(f"partition name '{name}' is declared {len(found)} times in the GPT")
        return found[0]

    def names(self) -> list[str]:
        return [p.name for p in self.partitions]

    def with_attributes(self, changes: dict[str, int]) -> Gpt:
        parts = list(self.partitions)
        for name, value in changes.items():
            p = self.find(name)
            parts[parts.index(p)] = replace(p, attributes=value)
        return replace(self, partitions=tuple(parts))

    # ------------------------------------------------------------ serialising
    def entries_bytes(self) -> bytes:
        table = bytearray(self.num_entries * self.entry_size)
        for p in self.partitions:
            name = p.name.encode("utf-16-le")
            if len(name) > 72:
                raise GptError(f"partition name '{p.name}' longer than 36 characters")
            ENTRY.pack_into(
                table,
                p.index * self.entry_size,
                p.type_guid.bytes_le,
                p.unique_guid.bytes_le,
                p.first_lba,
                p.last_lba,
                p.attributes,
                name.ljust(72, b"\0"),
            )
        return bytes(table)

    def header_bytes(self, backup: bool, entries_crc: int) -> bytes:
        my_lba, alt_lba = (self.last_lba, 1) if backup else (1, self.last_lba)
        entries_lba = self.backup_entries_lba if backup else self.primary_entries_lba
        fields = [
            SIGNATURE,
            REVISION,
            HEADER.size,
            0,
            0,
            my_lba,
            alt_lba,
            self.first_usable,
            self.last_usable,
            self.disk_guid.bytes_le,
            entries_lba,
            self.num_entries,
            self.entry_size,
            entries_crc,
        ]
        fields[3] = zlib.crc32(HEADER.pack(*fields))
        return HEADER.pack(*fields).ljust(self.sector_size, b"\0")

    def copies(self) -> tuple[list[tuple[int, bytes]], list[tuple[int, bytes]]]:
        """(backup, primary): byte ranges to write; backup first, then primary."""
        entries = self.entries_bytes()
        entries_padded = entries.ljust(self.entries_sectors * self.sector_size, b"\0")
        crc = zlib.crc32(entries)
        ss = self.sector_size
        backup = [
            (self.backup_entries_lba * ss, entries_padded),
            (self.last_lba * ss, self.header_bytes(True, crc)),
        ]
        primary = [
            (self.primary_entries_lba * ss, entries_padded),
            (ss, self.header_bytes(False, crc)),
        ]
        return backup, primary


# ------------------------------------------------------------------ parsing


def _read_header(read: Reader, lba: int, sector_size: int, disk_size: int) -> Header:
    raw = read(lba * sector_size, sector_size)
    if len(raw) < HEADER.size:
        raise GptError("header sector truncated")
    fields = list(HEADER.unpack_from(raw))
    sig, rev, hsize, crc = fields[0], fields[1], fields[2], fields[3]
    if sig != SIGNATURE:
        raise GptError("no 'EFI PART' signature")
    if rev != REVISION or not HEADER.size <= hsize <= sector_size:
        raise GptError(f"unsupported revision 0x{rev:x} or header size {hsize}")
    header = bytearray(raw[:hsize])
    header[16:20] = b"\0\0\0\0"
    if zlib.crc32(header) != crc:
        raise GptError("header CRC mismatch")
    h = Header(
        my_lba=fields[5],
        alternate_lba=fields[6],
        first_usable=fields[7],
        last_usable=fields[8],
        disk_guid=uuid.UUID(bytes_le=fields[9]),
        entries_lba=fields[10],
        num_entries=fields[11],
        entry_size=fields[12],
        entries_crc=fields[13],
    )
    last_lba = disk_size // sector_size - 1
    if h.my_lba != lba:
        raise GptError(f"header at LBA {lba} says it is at LBA {h.my_lba}")
    if h.entry_size < ENTRY.size or h.entry_size % 8 or not 0 < h.num_entries <= 1024:
        raise GptError(f"unsupported entry array: {h.num_entries} x {h.entry_size} bytes")
    entries_end = h.entries_lba + -(-h.num_entries * h.entry_size // sector_size) - 1
    if not h.entries_lba >= 2 or entries_end > last_lba or h.first_usable > h.last_usable + 1:
        raise GptError("entry array or usable range outside the device")
    if h.last_usable > last_lba or h.alternate_lba > last_lba:
        raise GptError("header describes a larger device than this one")
    return h


def _read_entries(read: Reader, h: Header, sector_size: int) -> bytes:
    raw = read(h.entries_lba * sector_size, h.num_entries * h.entry_size)
    if zlib.crc32(raw) != h.entries_crc:
        raise GptError("entry array CRC mismatch")
    return raw


def _partitions(
    raw: bytes, h: Header, sector_size: int, disk_size: int
) -> tuple[tuple[Partition, ...], list[str]]:
    parts = []
    for i in range(h.num_entries):
        tguid, uguid, first, last, attrs, name = ENTRY.unpack_from(raw, i * h.entry_size)
        if tguid == bytes(16):
            continue
        label = name.decode("utf-16-le", errors="replace").split("\0", 1)[0]
        parts.append(
            Partition(
                i,
                label,
                uuid.UUID(bytes_le=tguid),
                uuid.UUID(bytes_le=uguid),
                first,
                last,
                attrs,
                sector_size,
            )
        )
    problems = _geometry(h, sector_size, disk_size)
    last_lba = disk_size // sector_size - 1
    gpt_end = 2 + _sectors(h, sector_size)  # MBR, primary header, primary entries
    backup_start = last_lba - _sectors(h, sector_size)  # backup entries, then its header
    names: dict[str, int] = {}
    for p in parts:
        names[p.name] = names.get(p.name, 0) + 1
        if p.last_lba > last_lba:
            problems.append(
                f"partition '{p.name}' (LBA {p.first_lba}-{p.last_lba}) runs past "
                f"the end of the device (LBA {last_lba})"
            )
        elif p.first_lba < gpt_end or p.last_lba >= backup_start:
            problems.append(
                f"partition '{p.name}' (LBA {p.first_lba}-{p.last_lba}) overlaps "
                f"a GPT copy (LBA 0-{gpt_end - 1} and {backup_start}-{last_lba})"
            )
        if p.first_lba > p.last_lba or p.first_lba < h.first_usable or p.last_lba > h.last_usable:
            problems.append(
                f"partition '{p.name}' (LBA {p.first_lba}-{p.last_lba}) is outside the usable "
                f"range {h.first_usable}-{h.last_usable}"
            )
    problems += [f"partition name '{n}' is declared {c} times" for n, c in names.items() if c > 1]
    ordered = sorted(parts, key=lambda p: p.first_lba)
    for a, b in itertools.pairwise(ordered):
        if b.first_lba <= a.last_lba:
            problems.append(f"partitions '{a.name}' and '{b.name}' overlap")
    return tuple(parts), problems


def _sectors(h: Header, sector_size: int) -> int:
    return -(-h.num_entries * h.entry_size // sector_size)


def _geometry(h: Header, sector_size: int, disk_size: int) -> list[str]:
    """The usable range must leave both GPT copies alone (else a partition may cover one)."""
    last_lba = disk_size // sector_size - 1
    lo, hi = 2 + _sectors(h, sector_size), last_lba - _sectors(h, sector_size) - 1
    problems = []
    if h.first_usable < lo or h.last_usable > hi:
        problems.append(
            f"usable range LBA {h.first_usable}-{h.last_usable} overlaps a GPT copy "
            f"(partitions may only use LBA {lo}-{hi})"
        )
    # The overlap checks (and ABL, ref. section 2) assume each copy at its standard
    # place: entries elsewhere could lie inside a partition that an update rewrites.
    primary = h.my_lba == 1
    entries, alternate = (2, last_lba) if primary else (hi + 1, 1)
    if h.entries_lba != entries or h.alternate_lba != alternate:
        problems.append(
            f"the {'primary' if primary else 'backup'} header puts its entries at LBA "
            f"{h.entries_lba} and the other copy at LBA {h.alternate_lba} "
            f"(expected {entries} and {alternate})"
        )
    return problems


def read_gpt(
    read: Reader,
    disk_size: int,
    sector_size: int | None = None,
    strict: bool = True,
    only: str | None = None,
) -> Gpt:
    """Parse the GPT, preferring the primary copy, falling back to the backup.

    With ``strict`` a table with duplicate names, overlaps or out-of-range
    entries is an error; otherwise those are listed in ``Gpt.problems``.
    ``only`` ("primary" or "backup") reads that copy alone (``probe``).
    """
    reasons: list[str] = []
    for ss in (sector_size,) if sector_size else SECTOR_SIZES:
        if disk_size % ss:
            continue
        last_lba = disk_size // ss - 1
        copies: dict[str, tuple[Header, bytes] | None] = {}
        for label, lba in (("primary", 1), ("backup", last_lba)):
            try:
                h = _read_header(read, lba, ss, disk_size)
                copies[label] = (h, _read_entries(read, h, ss))
            except GptError as e:
                copies[label] = None
                reasons.append(f"{label} ({ss}-byte sectors): {e}")
        chosen = copies[only] if only else copies["primary"] or copies["backup"]
        if chosen is None:
            continue
        h, raw = chosen
        parts, problems = _partitions(raw, h, ss, disk_size)
        if problems and strict:
            raise GptError("GPT has mistakes: " + "; ".join(problems))
        return Gpt(
            sector_size=ss,
            disk_size=disk_size,
            disk_guid=h.disk_guid,
            first_usable=h.first_usable,
            last_usable=h.last_usable,
            num_entries=h.num_entries,
            entry_size=h.entry_size,
            partitions=parts,
            primary_ok=copies["primary"] is not None,
            backup_ok=copies["backup"] is not None,
            problems=tuple(problems),
        )
    raise GptError("no valid GPT on the device: " + "; ".join(reasons))


def read_gpt_image(image: bytes | memoryview, **kw: object) -> Gpt:
    """``read_gpt`` over a whole image held in memory."""
    return read_gpt(lambda o, n: bytes(image[o : o + n]), len(image), **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------- A/B slots


def slot_pairs(gpt: Gpt) -> dict[str, tuple[Partition, Partition]]:
    """A/B pairs ``X_a``/``X_b`` by base name."""
    names = set(gpt.names())
    return {
        n[:-2]: (gpt.find(n), gpt.find(n[:-2] + "_b"))
        for n in sorted(names)
        if n.endswith("_a") and n[:-2] + "_b" in names
    }


def slot_entry(gpt: Gpt) -> tuple[Partition, Partition] | None:
    """The pair whose attribute bits decide the slot: ``boot_a``/``boot_b`` (ABL), else the
    first A/B pair of the table (the boot chain's slot entry, docs/boot-chain.md)."""
    pairs = slot_pairs(gpt)
    if "boot" in pairs:
        return pairs["boot"]
    first = min(pairs.values(), key=lambda pair: pair[0].first_lba, default=None)
    return first


def boot_slot(gpt: Gpt) -> str | None:
    """The slot Qualcomm's boot chain picks, read from the slot entry as ABL does.

    GetActiveSlot: the slot whose entry is active with the highest priority
    (``_a`` on a tie); it boots when not marked unbootable and either
    successful or with retries left, else the chain switches to the other
    slot only if that one booted successfully. The other entries follow the
    slot entry (MarkPtnActive), their bits do not decide.
    """
    pair = slot_entry(gpt)
    if pair is None:
        return None
    best, chosen = 0, None
    for slot, p in zip("ab", pair, strict=True):
        if p.active and p.priority > best:
            best, chosen = p.priority, (slot, p)
    if chosen is None:
        a = pair[0]
        first_boot = not (a.active or a.successful or a.unbootable or a.priority)
        return "a" if first_boot else None  # ABL's first boot: slot _a
    slot, p = chosen
    if not p.unbootable and (p.successful or p.retry > 0):
        return slot
    # HandleActiveSlotUnbootable: only to an other slot that booted successfully.
    other = pair[1] if slot == "a" else pair[0]
    if not other.unbootable and other.successful:
        return "b" if slot == "a" else "a"
    return None


def slot_attributes(gpt: Gpt, slot: str, **state: int | bool) -> dict[str, int]:
    """Attribute values for every ``_<slot>`` entry with ``state`` applied."""
    out = {}
    for pair in slot_pairs(gpt).values():
        p = pair["ab".index(slot)]
        current = {
            "priority": p.priority,
            "active": p.active,
            "retry": p.retry,
            "successful": p.successful,
            "unbootable": p.unbootable,
        }
        current.update(state)
        out[p.name] = ab_attributes(p.attributes, **current)  # type: ignore[arg-type]
    return out


def activate_slot(gpt: Gpt, slot: str) -> Gpt:
    """As Qualcomm's ABL does: slot gets priority 3, active, retry 7; the other priority 2."""
    other = "b" if slot == "a" else "a"
    changes = slot_attributes(
        gpt, slot, priority=3, active=True, retry=AB_MAX_RETRY, successful=False, unbootable=False
    )
    changes.update(slot_attributes(gpt, other, priority=2, active=False))
    return gpt.with_attributes(changes)
