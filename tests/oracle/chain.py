"""One power-on of the emulated boot chain, under a boot rule (docs/boot-chain.md)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from .gpt import (
    ACTIVE_BIT,
    AbBits,
    Gpt,
    Partition,
    Patch,
    apply_patches,
    read_gpt_bytes,
    set_attributes,
)
from .image import ImageCheck, check_image
from .recoveryinfo import (
    FAILED_A,
    FAILED_B,
    RECORD,
    SET_A,
    SET_B,
    SET_NONE,
    RecoveryInfo,
    build_recoveryinfo,
    parse_recoveryinfo,
)

RULES = ("sets", "ab-attributes", "per-image")
MAX_RESETS = 4
MAX_PRIORITY = 3
MAX_RETRY = 7
U32 = 0xFFFFFFFF


@dataclass(frozen=True)
class Profile:
    """A board: its boot images in boot order, and where its recovery record lives."""

    name: str
    images: tuple[str, ...]
    recoveryinfo: str = "recoveryinfo"
    erase_block: int = 4096


Q6A_PROFILE = Profile(
    "radxa-dragon-q6a",
    ("XBL_SC", "XBL_CONFIG", "AOP", "TZ", "HYP", "DEVCFG", "QUP", "UEFI", "dtb", "uefisecapp"),
)


@dataclass(frozen=True)
class ImageLoad:
    """Which partition an image came from (or was last tried from) and its check."""

    image: str
    partition: str
    check: ImageCheck

    @property
    def valid(self) -> bool:
        return self.check.valid

    @property
    def release(self) -> str | None:
        return self.check.release

    @property
    def version(self) -> str | None:
        return self.check.version


@dataclass(frozen=True)
class Decision:
    """What one power-on does.

    ``result``: ``boot``, ``bricked`` or ``hang``. ``set`` (``A``/``B``, rule
    ``sets``) or ``slot`` (``_a``/``_b``, rule ``ab-attributes``). ``release``:
    the images' common release when they agree. ``images``: per profile image,
    in boot order, as far as the chain got in its last attempt. ``fallback``:
    ``sets``, set A failed; ``per-image``, an image came from its second copy;
    ``ab-attributes``, the chain switched slot (reset) during this power-on.
    ``writes``: the chain's writes, in order, as (offset, bytes).
    """

    rule: str
    result: str
    reason: str
    set: str | None = None
    slot: str | None = None
    release: str | None = None
    images: tuple[ImageLoad, ...] = ()
    fallback: bool = False
    set_a_error: str | None = None
    writes: tuple[Patch, ...] = ()
    resets: int = 0
    retry: int | None = None
    record: RecoveryInfo | None = None
    checks: dict[str, ImageCheck] = field(default_factory=dict)

    @property
    def booted(self) -> bool:
        return self.result == "boot"

    def partitions(self) -> dict[str, str]:
        """Image name -> partition it was loaded from."""
        return {load.image: load.partition for load in self.images}

    def line(self) -> str:
        """A console-like summary line."""
        where = f" set={self.set}" if self.set else f" slot={self.slot}" if self.slot else ""
        return (
            f"boot: rule={self.rule}{where} release={self.release or '-'} result={self.result}"
            f' fallback={int(self.fallback)} reason="{self.reason}"'
        )


class ImageCache:
    """Image checks kept across ``decide`` calls on one NOR as it evolves.

    Keyed by the (offset, size) of a partition's region. The NOR is not
    hashed to validate entries (that would cost as much as checking), so the
    contract is: whoever writes the NOR between two ``decide`` calls reports
    every write with ``touch(offset, length)`` or ``touch_blocks(blocks)``
    (erase-block numbers); the entries whose region overlaps are dropped.
    ``power_on`` touches its own writes. Use one cache per NOR lineage.
    """

    def __init__(self) -> None:
        self._checks: dict[tuple[int, int], ImageCheck] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[int, int]) -> ImageCheck | None:
        found = self._checks.get(key)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, key: tuple[int, int], check: ImageCheck) -> None:
        self._checks[key] = check

    def touch(self, offset: int, length: int) -> None:
        end = offset + length
        for key in [k for k in self._checks if k[0] < end and offset < k[0] + k[1]]:
            del self._checks[key]

    def touch_blocks(self, blocks: Iterable[int], block_size: int = 4096) -> None:
        for block in set(blocks):
            self.touch(block * block_size, block_size)

    def clear(self) -> None:
        self._checks.clear()

    def copy(self) -> ImageCache:
        """A cache for a NOR that starts as this one's (e.g. one per cut of a campaign)."""
        other = ImageCache()
        other._checks = dict(self._checks)
        return other

    def __len__(self) -> int:
        return len(self._checks)


class _Checker:
    """Checks partitions by name, once per power-on, through the optional cache."""

    def __init__(self, nor: memoryview, gpt: Gpt, cache: ImageCache | None) -> None:
        self.nor, self.gpt, self.cache = nor, gpt, cache
        self.done: dict[str, ImageCheck] = {}

    def check(self, name: str) -> ImageCheck:
        if name in self.done:
            return self.done[name]
        part = self.gpt.get(name)
        result = ImageCheck(False, "no partition") if part is None else self._region(part)
        self.done[name] = result
        return result

    def _region(self, part: Partition) -> ImageCheck:
        limit = min(part.size, len(self.nor) - part.offset)
        if limit <= 0:
            return ImageCheck(False, "partition outside the device")
        key = (part.offset, limit)
        if self.cache is not None:
            cached = self.cache.get(key)
            if cached is not None:
                return cached
        region = self.nor[part.offset : part.offset + limit]
        result = check_image(lambda off, n: region[off : off + n], limit)
        if self.cache is not None:
            self.cache.put(key, result)
        return result


def copies(gpt: Gpt, image: str) -> tuple[bool, str, str]:
    """(is A/B, first copy, second copy) of ``image``, from the GPT names.

    An image is an A/B pair when the GPT has ``X_a`` or ``X_b``, else a
    primary/backup pair ``X``/``X_BACKUP`` (which may be absent too).
    """
    if f"{image}_a" in gpt or f"{image}_b" in gpt:
        return True, f"{image}_a", f"{image}_b"
    return False, image, f"{image}_BACKUP"


def _mixed(loads: list[ImageLoad]) -> str | None:
    first = loads[0]
    for load in loads[1:]:
        if load.release != first.release:
            return f"mixed releases: {first.image} {first.release}, {load.image} {load.release}"
    return None


def _load(checker: _Checker, image: str, name: str) -> ImageLoad:
    return ImageLoad(image, name, checker.check(name))


# --- sets -------------------------------------------------------------------------------


def _check_set(
    checker: _Checker, profile: Profile, second: bool
) -> tuple[list[ImageLoad], str | None]:
    loads: list[ImageLoad] = []
    for image in profile.images:
        _ab, a, b = copies(checker.gpt, image)
        load = _load(checker, image, b if second else a)
        loads.append(load)
        if not load.valid:
            return loads, f"{image}: {load.check.reason}"
    return loads, _mixed(loads)


def _record_write(nor: memoryview, gpt: Gpt, profile: Profile, record: RecoveryInfo) -> list[Patch]:
    part = gpt.get(profile.recoveryinfo)
    if part is None or part.size < RECORD or part.offset + RECORD > len(nor):
        return []
    if bytes(nor[part.offset : part.offset + RECORD]) == build_recoveryinfo(record):
        return []
    block = min(profile.erase_block, part.size, len(nor) - part.offset)
    return [(part.offset, build_recoveryinfo(record).ljust(block, b"\xff"))]


def _read_record(nor: memoryview, gpt: Gpt, profile: Profile) -> RecoveryInfo | None:
    part = gpt.get(profile.recoveryinfo)
    if part is None:
        return None
    return parse_recoveryinfo(nor[part.offset : part.offset + min(part.size, RECORD)])


def _sets(nor: memoryview, gpt: Gpt, profile: Profile, checker: _Checker) -> Decision:
    old = _read_record(nor, gpt, profile)
    loads_a, error_a = _check_set(checker, profile, second=False)
    if error_a is None:
        record = old
        writes: list[Patch] = []
        if old is not None and old.set_a_failed:
            record = replace(old, failed=old.failed & ~FAILED_A, last_set=SET_A, reserved=0)
            writes = _record_write(nor, gpt, profile, record)
        return Decision(
            "sets",
            "boot",
            "set A valid",
            set="A",
            release=loads_a[0].release,
            images=tuple(loads_a),
            writes=tuple(writes),
            record=record,
            checks=checker.done,
        )
    loads_b, error_b = _check_set(checker, profile, second=True)
    failed = (old.failed if old else 0) | FAILED_A
    failed = failed | FAILED_B if error_b else failed & ~FAILED_B
    fallbacks = (old.fallbacks if old else 0) + (error_b is None)
    record = RecoveryInfo(
        failed=failed,
        last_set=SET_NONE if error_b else SET_B,
        fallbacks=fallbacks & U32,
        reason=error_a,
    )
    writes = _record_write(nor, gpt, profile, record)
    return Decision(
        "sets",
        "bricked" if error_b else "boot",
        f"set A: {error_a}" + (f"; set B: {error_b}" if error_b else ""),
        set=None if error_b else "B",
        release=None if error_b else loads_b[0].release,
        images=tuple(loads_b),
        fallback=True,
        set_a_error=error_a,
        writes=tuple(writes),
        record=record,
        checks=checker.done,
    )


# --- per-image --------------------------------------------------------------------------


def _per_image(gpt: Gpt, profile: Profile, checker: _Checker) -> Decision:
    loads: list[ImageLoad] = []
    fallback = False
    for image in profile.images:
        _ab, first, second = copies(gpt, image)
        load = _load(checker, image, first)
        if not load.valid:
            fallback = True
            other = _load(checker, image, second)
            if not other.valid:
                loads.append(other)
                reason = f"{image}: {first}: {load.check.reason}; {second}: {other.check.reason}"
                return Decision(
                    "per-image",
                    "bricked",
                    reason,
                    images=tuple(loads),
                    fallback=True,
                    checks=checker.done,
                )
            load = other
        loads.append(load)
    mixed = _mixed(loads)
    return Decision(
        "per-image",
        "hang" if mixed else "boot",
        mixed or "every image valid",
        release=None if mixed else loads[0].release,
        images=tuple(loads),
        fallback=fallback,
        checks=checker.done,
    )


# --- ab-attributes ----------------------------------------------------------------------


class _Slots:
    """The in-memory table during one power-on and the writes made to it."""

    def __init__(self, gpt: Gpt) -> None:
        self.gpt = gpt
        self.writes: list[Patch] = []

    def bits(self, name: str) -> AbBits:
        return self.gpt.partitions[name].ab

    def write(self, changes: dict[str, AbBits | int]) -> None:
        words = {
            name: change.apply(self.gpt.partitions[name].attributes)
            if isinstance(change, AbBits)
            else change
            for name, change in changes.items()
        }
        self.gpt, patches = set_attributes(self.gpt, words)
        self.writes.extend(patches)


def _slot_image(gpt: Gpt, profile: Profile) -> str | None:
    return next((image for image in profile.images if copies(gpt, image)[0]), None)


def _active_slot(slots: _Slots, base: str) -> tuple[str | None, str]:
    """GetActiveSlot: the slot and a note (first boot) or (None, why)."""
    best, picked = 0, None
    for suffix in ("_a", "_b"):
        entry = slots.gpt.get(base + suffix)
        if entry is None:
            continue
        bits = entry.ab
        if bits.active and bits.priority > best:
            best, picked = bits.priority, suffix
    if picked is not None:
        return picked, ""
    entry_a = slots.gpt.get(base + "_a")
    if entry_a is not None:
        bits = entry_a.ab
        if not (bits.active or bits.successful or bits.unbootable or bits.priority):
            slots.write(
                {base + "_a": replace(bits, priority=MAX_PRIORITY, active=True, retry=MAX_RETRY)}
            )
            return "_a", "first boot"
    return None, "no active slot"


def _other(suffix: str) -> str:
    return "_b" if suffix == "_a" else "_a"


def _unbootable(slots: _Slots, base: str, suffix: str) -> bool:
    """HandleActiveSlotUnbootable; True when it switched slot (the caller resets)."""
    name, other = base + suffix, base + _other(suffix)
    slots.write({name: replace(slots.bits(name), unbootable=True)})
    entry = slots.gpt.get(other)
    if entry is None or entry.ab.unbootable or not entry.ab.successful:
        return False
    slots.write(
        {
            other: replace(
                entry.ab, priority=MAX_PRIORITY, active=True, retry=MAX_RETRY, unbootable=False
            ),
            name: replace(slots.bits(name), priority=2, active=False),
        }
    )
    return True


def _mark_active(slots: _Slots, suffix: str) -> None:
    """MarkPtnActive: bit 50 set on every ``*_S`` entry, cleared on every other ``_a``/``_b``."""
    changes: dict[str, AbBits | int] = {}
    for part in slots.gpt.partitions.values():
        if part.name.endswith(suffix):
            word = part.attributes | 1 << ACTIVE_BIT
        elif part.name.endswith(("_a", "_b")):
            word = part.attributes & ~(1 << ACTIVE_BIT)
        else:
            continue
        if word != part.attributes:
            changes[part.name] = word
    if changes:
        slots.write(changes)


def _ab_images(
    checker: _Checker, profile: Profile, suffix: str
) -> tuple[list[ImageLoad], str | None, bool]:
    """Step 3: (loads, error, slot image failed) — a slot image failure is not bricking."""
    loads: list[ImageLoad] = []
    for image in profile.images:
        is_ab, first, second = copies(checker.gpt, image)
        if is_ab:
            load = _load(checker, image, image + suffix)
            loads.append(load)
            if not load.valid:
                return loads, f"{load.partition}: {load.check.reason}", True
            continue
        load = _load(checker, image, first)
        if not load.valid:
            load = _load(checker, image, second)
        loads.append(load)
        if not load.valid:
            return loads, f"{image}: neither {first} nor {second} valid", False
    return loads, None, False


def _ab_attributes(gpt: Gpt, profile: Profile, checker: _Checker) -> Decision:
    rule = "ab-attributes"
    base = _slot_image(gpt, profile)
    if base is None:
        return Decision(rule, "bricked", "no A/B image in the GPT", checks=checker.done)
    slots = _Slots(gpt)
    notes: list[str] = []
    resets = 0
    loads: list[ImageLoad] = []

    def end(
        result: str, reason: str, suffix: str | None = None, release: str | None = None
    ) -> Decision:
        retry = slots.bits(base + suffix).retry if suffix and base + suffix in slots.gpt else None
        return Decision(
            rule,
            result,
            "; ".join([*notes, reason]),
            slot=suffix,
            release=release,
            images=tuple(loads),
            fallback=resets > 0,
            writes=tuple(slots.writes),
            resets=resets,
            retry=retry,
            checks=checker.done,
        )

    while True:
        suffix, note = _active_slot(slots, base)
        if suffix is None:
            return end("bricked", note)
        name = base + suffix
        bits = slots.bits(name)
        loads = []
        failure: str | None = None
        if not bits.unbootable and bits.successful:
            notes.append(f"slot {suffix}: successful" + (f" ({note})" if note else ""))
        elif not bits.unbootable and bits.retry > 0:
            slots.write({name: replace(bits, retry=bits.retry - 1)})
            notes.append(
                f"slot {suffix}: not yet successful, retry {bits.retry} -> {bits.retry - 1}"
                + (f" ({note})" if note else "")
            )
        else:
            failure = f"slot {suffix}: " + ("unbootable" if bits.unbootable else "no retries left")
        if failure is None:
            loads, error, slot_failed = _ab_images(checker, profile, suffix)
            if error is not None and not slot_failed:
                return end("bricked", error, suffix)
            if error is not None:
                failure = f"slot {suffix}: {error}"
        if failure is not None:
            notes.append(failure)
            if not _unbootable(slots, base, suffix):
                return end("bricked", f"slot {_other(suffix)} not bootable and successful", suffix)
            if resets == MAX_RESETS:
                return end("bricked", f"more than {MAX_RESETS} resets", suffix)
            resets += 1
            notes.append(f"reset into slot {_other(suffix)}")
            continue
        _mark_active(slots, suffix)
        mixed = _mixed(loads)
        if mixed:
            return end("hang", mixed, suffix)
        return end("boot", "booted", suffix, release=loads[0].release)


# --- entry points -----------------------------------------------------------------------


def decide(
    nor: bytes | bytearray | memoryview,
    rule: str = "sets",
    profile: Profile = Q6A_PROFILE,
    cache: ImageCache | None = None,
) -> Decision:
    """What one power-on of ``nor`` does under ``rule``; ``nor`` is not modified."""
    if rule not in RULES:
        raise ValueError(f"unknown boot rule {rule!r} (one of {', '.join(RULES)})")
    view = memoryview(nor)
    gpt = read_gpt_bytes(view)
    if gpt is None:
        return Decision(rule, "bricked", "no valid GPT")
    checker = _Checker(view, gpt, cache)
    if rule == "sets":
        return _sets(view, gpt, profile, checker)
    if rule == "per-image":
        return _per_image(gpt, profile, checker)
    return _ab_attributes(gpt, profile, checker)


def power_on(
    nor: bytearray,
    rule: str = "sets",
    profile: Profile = Q6A_PROFILE,
    cache: ImageCache | None = None,
) -> Decision:
    """``decide``, then apply the chain's writes to ``nor`` (and to the cache)."""
    decision = decide(nor, rule, profile, cache)
    apply_patches(nor, list(decision.writes))
    if cache is not None:
        for offset, data in decision.writes:
            cache.touch(offset, len(data))
    return decision
