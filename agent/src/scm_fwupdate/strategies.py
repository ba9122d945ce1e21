"""Update strategies: planners that turn images into one ordered transaction.

Order inside a transaction, and why:
1. A/B: mark the inactive slot unbootable (GPT, backup copy first), so the
   boot chain never falls back to a half-written slot;
2. A/B: write every ``X_<inactive>`` (pairs not in the update are copied from
   the active slot, so the new slot is complete);
3. primary/backup: write ``X_BACKUP`` then ``X``; the primary is copied from
   the verified backup, so it no longer depends on the bundle file;
4. single-copy: in place, from redo images kept in the journal;
5. A/B: switch slots (GPT, backup copy first), only after every block above
   was read back and verified.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from .bootset import SET_A, SET_B, boot_copies, evaluate, protected_set
from .errors import GptError, PolicyError, VerifyError
from .flash import Flash
from .gpt import (
    AB_MAX_RETRY,
    Gpt,
    Partition,
    activate_slot,
    boot_slot,
    slot_attributes,
    slot_entry,
    slot_pairs,
)
from .journal import Journal
from .profile import BACKUP_SUFFIX, PROFILES, BootRule, Copies, Profile, copies
from .transaction import PlanBuilder


class Kind(StrEnum):
    AB = "ab"
    PRIMARY_BACKUP = "primary-backup"
    SINGLE = "single"
    IGNORE = "ignore"


@dataclass(frozen=True)
class ImageSpec:
    """An image to install: ``size`` bytes at ``offset`` of the file ``path``."""

    target: str
    path: Path
    size: int
    offset: int = 0
    sha256: str | None = None  # expected; checked before the commit record


def classify(gpt: Gpt, target: str, overrides: dict[str, str] | None = None) -> Kind:
    """How a target is updated, from the GPT names (overridable by configuration)."""
    if overrides and target in overrides:
        return Kind(overrides[target])
    names = set(gpt.names())
    if f"{target}_a" in names and f"{target}_b" in names:
        return Kind.AB
    if target in names and f"{target}{BACKUP_SUFFIX}" in names:
        return Kind.PRIMARY_BACKUP
    group = group_of(names, target)
    if group is not None:
        raise PolicyError(
            f"target '{target}' is one copy of the {group[1]} '{group[0]}': name the group, "
            "the agent writes its copies in the safe order"
        )
    if target in names:
        return Kind.SINGLE
    raise PolicyError(f"no partition or slot group '{target}' in the GPT")


def group_of(names: set[str], name: str) -> tuple[str, str] | None:
    """(group, what) when the partition ``name`` is one member of a pair."""
    base = name[:-2]
    if name[-2:] in ("_a", "_b") and {f"{base}_a", f"{base}_b"} <= names:
        return base, "A/B group"
    base = name.removesuffix(BACKUP_SUFFIX)
    if name.endswith(BACKUP_SUFFIX) and base in names:
        return base, "primary/backup pair"
    return None


def _aligned(p: Partition, flash: Flash) -> Partition:
    if p.offset % flash.geometry.erasesize or p.size % flash.geometry.erasesize:
        raise GptError(f"partition '{p.name}' is not aligned to the flash erase block")
    if p.offset + p.size > flash.geometry.size:
        raise GptError(f"partition '{p.name}' ends beyond the flash")
    return p


def fits(image: ImageSpec, p: Partition) -> None:
    if image.size > p.size:
        raise PolicyError(
            f"image for '{image.target}' ({image.size} bytes) is larger than "
            f"partition '{p.name}' ({p.size} bytes)"
        )


def write_gpt(builder: PlanBuilder, gpt: Gpt, what: str) -> None:
    """Both copies, backup first: at every moment one consistent table exists."""
    backup, primary = gpt.copies()
    builder.step(f"{what}: backup GPT")
    builder.patch(backup)
    builder.step(f"{what}: primary GPT")
    builder.patch(primary)


def other_slot(slot: str) -> str:
    return "b" if slot == "a" else "a"


def plan_install(
    flash: Flash,
    journal: Journal,
    gpt: Gpt,
    images: list[ImageSpec],
    *,
    rule: BootRule = BootRule.AB_ATTRIBUTES,
    profile: Profile = PROFILES["qcom-abl"],
    activate: bool = True,
    overrides: dict[str, str] | None = None,
    meta: dict[str, Any] | None = None,
) -> PlanBuilder:
    """Plan the whole update, ready to commit; raises (nothing written) on any bad input.

    ``rule`` is the board's boot rule: it decides the order (module docstring).
    """
    kinds = {img.target: classify(gpt, img.target, overrides) for img in images}
    for img in images:
        if img.size == 0 and kinds[img.target] != Kind.SINGLE:
            raise PolicyError(
                f"'{img.target}' has two copies: an empty image (erase) is allowed only "
                "for a single data partition"
            )
    boot = set(profile.boot_images)
    info = dict(meta or {})
    info.update({"kinds": {k: str(v) for k, v in kinds.items()}, "rule": str(rule)})
    if rule == BootRule.SETS:
        in_sets = [i for i in images if i.target in boot and copies(gpt, i.target)]
        pairs = [i for i in images if i not in in_sets and kinds[i.target] != Kind.SINGLE]
        ab: list[ImageSpec] = []
    elif rule == BootRule.AB_ATTRIBUTES:
        in_sets = []
        ab = [i for i in images if kinds[i.target] == Kind.AB]
        pairs = [i for i in images if kinds[i.target] == Kind.PRIMARY_BACKUP]
    else:
        in_sets, ab = [], []
        pairs = [i for i in images if kinds[i.target] != Kind.SINGLE]
    single = [i for i in images if kinds[i.target] == Kind.SINGLE]

    current = boot_slot(gpt)
    target_slot = other_slot(current) if current else "b"
    if ab and current is None:
        raise GptError("no bootable A/B slot: the boot chain would not start; refusing to update")
    for img in ab:
        fits(img, _aligned(gpt.find(f"{img.target}_{target_slot}"), flash))
    for img in pairs + in_sets:
        c = _pair(gpt, img.target)
        fits(img, _aligned(gpt.find(c.a), flash))
        fits(img, _aligned(gpt.find(c.b), flash))
    for img in single:
        fits(img, _aligned(gpt.find(img.target), flash))
    protected = SET_A
    if in_sets:
        protected = protected_set(evaluate(flash.read, gpt, profile))
        info["protected_set"] = protected
    if ab:
        info.update({"slot": target_slot, "activate": activate})
    builder = PlanBuilder(flash, journal, info)
    try:
        if in_sets:
            _plan_sets(builder, flash, gpt, profile, in_sets, protected)
        if ab:
            unbootable = gpt.with_attributes(
                slot_attributes(
                    gpt, target_slot, unbootable=True, active=False, successful=False, retry=0
                )
            )
            write_gpt(builder, unbootable, f"mark slot {target_slot} unbootable")
            bundled = {img.target for img in ab}
            for img in ab:
                p = gpt.find(f"{img.target}_{target_slot}")
                builder.step(f"write {p.name}")
                _check(img, builder.from_file(p.offset, p.size, img.path, img.offset, img.size))
            for base, pair in slot_pairs(gpt).items():
                if base in bundled or base not in boot:
                    continue  # data partitions are written only when a bundle names them
                src, dst = pair["ab".index(current)], pair["ab".index(target_slot)]  # type: ignore[arg-type]
                if src.size != dst.size:
                    raise GptError(f"'{src.name}' and '{dst.name}' differ in size")
                builder.step(f"copy {src.name} to {dst.name}")
                builder.copy(_aligned(dst, flash).offset, dst.size, _aligned(src, flash).offset)
        for img in pairs:
            c = _pair(gpt, img.target)
            # The copy the chain tries second is written first, then the first from it.
            first, then = (c.a, c.b) if rule == BootRule.SETS and protected == SET_B else (c.b, c.a)
            _write_pair(builder, gpt, img, gpt.find(first), gpt.find(then))
        for img in single:
            p = gpt.find(img.target)
            builder.step(f"write {p.name} in place")
            _check(img, _inline_file(builder, p, img))
        if ab:
            final = (
                activate_slot(gpt, target_slot)
                if activate
                else _installed_inactive(gpt, target_slot)
            )
            write_gpt(builder, final, f"{'activate' if activate else 'enable'} slot {target_slot}")
    except Exception as e:  # a PowerCut (BaseException) must not write an ABORT
        builder.abort(str(e))
        raise
    return builder


def _pair(gpt: Gpt, target: str) -> Copies:
    c = copies(gpt, target)
    if c is None:
        raise PolicyError(f"'{target}' has no second copy in the GPT")
    return c


def _write_pair(
    builder: PlanBuilder, gpt: Gpt, img: ImageSpec, first: Partition, then: Partition
) -> None:
    """One copy from the bundle and verified, then the other copied from it."""
    builder.step(f"write {first.name}")
    _check(img, builder.from_file(first.offset, first.size, img.path, img.offset, img.size))
    builder.step(f"write {then.name}")
    size = min(then.size, first.size)
    builder.copy(then.offset, size, first.offset)
    if then.size > size:
        builder.inline(then.offset + size, b"", then.size - size)


def _plan_sets(
    builder: PlanBuilder,
    flash: Flash,
    gpt: Gpt,
    profile: Profile,
    images: list[ImageSpec],
    protected: str,
) -> None:
    """Boot sets: the other set whole first, verified; then the protected one, header last.

    1. every boot image into the other set's copy: from the bundle, or copied
       from the protected set, so that the set is complete and of one release.
       When that set is A (the board runs from B after a failed set A), the
       chain tries it first at every power-on: the images that change there
       are invalidated first and each is written header last, so set A is
       valid again only once it is whole;
    2. read the whole other set back;
    3. erase the first block of every protected-set image that will change:
       the chain now finds the protected set invalid and boots the other one;
    4. copy each of them from the other set, its first block (ELF header) last,
       so an image is valid only once complete, and the set only once all are;
    5. read the protected set back.
    """
    bs = builder.bs
    bundled = {img.target: img for img in images}
    other = SET_B if protected == SET_A else SET_A
    rows = []
    for c in boot_copies(gpt, profile):
        keep, write = (c.a, c.b) if protected == SET_A else (c.b, c.a)
        src, dst = _aligned(gpt.find(keep), flash), _aligned(gpt.find(write), flash)
        if src.size != dst.size:
            raise GptError(f"'{src.name}' and '{dst.name}' differ in size")
        rows.append((c.image, src, dst))
    first_tried = _tried_first(other)
    to_write = rows
    if first_tried:
        builder.step(f"invalidate set {other}")
        to_write = [r for r in rows if _will_change(builder, bundled.get(r[0]), r[1], r[2])]
        for _image, _src, dst in to_write:
            builder.inline(dst.offset, b"", bs)
    for image, src, dst in to_write:
        builder.step(f"set {other}: write {dst.name}")
        img = bundled.get(image)
        if img is not None:
            written = builder.from_file(
                dst.offset, dst.size, img.path, img.offset, img.size, head_last=first_tried
            )
            _check(img, written)
        elif first_tried:
            builder.copy(dst.offset + bs, dst.size - bs, src.offset + bs, skip_same=True)
            builder.copy(dst.offset, bs, src.offset)
        else:
            builder.copy(dst.offset, dst.size, src.offset, skip_same=True)
    builder.step(f"verify set {other}")
    for _image, _src, dst in rows:
        builder.verify(dst.offset, dst.size)
    changing = [(src, dst) for _image, src, dst in rows if _will_change(builder, None, dst, src)]
    builder.step(f"invalidate set {protected}")
    for src, _dst in changing:
        builder.inline(src.offset, b"", bs)
    for src, dst in changing:
        builder.step(f"set {protected}: write {src.name}")
        builder.copy(src.offset + bs, src.size - bs, dst.offset + bs, skip_same=True)
        builder.copy(src.offset, bs, dst.offset)
    builder.step(f"verify set {protected}")
    for src, _dst in changing:
        builder.verify(src.offset, src.size)


def _installed_inactive(gpt: Gpt, slot: str) -> Gpt:
    """Install now, activate later: bootable as a fallback, not selected."""
    return gpt.with_attributes(
        slot_attributes(
            gpt,
            slot,
            priority=1,
            active=False,
            retry=AB_MAX_RETRY,
            successful=False,
            unbootable=False,
        )
    )


def _inline_file(builder: PlanBuilder, p: Partition, img: ImageSpec) -> str:
    digest = hashlib.sha256()

    def chunks() -> Any:
        with open(img.path, "rb") as f:
            f.seek(img.offset)
            left = img.size
            while left:
                data = f.read(min(left, 1 << 16))
                if not data:
                    raise VerifyError(f"image for '{img.target}' is truncated")
                digest.update(data)
                left -= len(data)
                yield data

    builder.inline(p.offset, chunks(), p.size)
    return digest.hexdigest()


def _tried_first(boot_set: str) -> bool:
    """The chain tries set A first at every power-on (docs/boot-chain.md, rule sets)."""
    return boot_set == SET_A


def _will_change(
    builder: PlanBuilder, img: ImageSpec | None, src: Partition, dst: Partition
) -> bool:
    """Whether ``dst`` (as planned so far) differs from the image, else from ``src``."""
    if img is None:
        bs = builder.bs
        return any(
            builder.hash_at(src.offset + pos) != builder.hash_at(dst.offset + pos)
            for pos in range(0, src.size, bs)
        )
    entries = builder.file_entries(dst.offset, dst.size, img.path, img.offset, img.size)
    return any(e.sha256 != builder.hash_at(e.offset) for e in entries)


def _check(img: ImageSpec, actual: str) -> None:
    if img.sha256 is not None and actual != img.sha256.lower():
        raise VerifyError(f"image for '{img.target}': sha256 mismatch (bundle damaged or tampered)")


# ------------------------------------------------------------- slot changes


def plan_gpt_change(flash: Flash, journal: Journal, gpt: Gpt, new: Gpt, what: str) -> PlanBuilder:
    """A transaction that only rewrites the GPT (activate, mark-good, mark-bad)."""
    builder = PlanBuilder(flash, journal, {"operation": what})
    write_gpt(builder, new, what)
    return builder


def slot_marked_good(gpt: Gpt, slot: str) -> Gpt:
    return gpt.with_attributes(slot_attributes(gpt, slot, successful=True, unbootable=False))


def slot_marked_bad(gpt: Gpt, slot: str) -> Gpt:
    """SLOT never boots again; the other slot, if it can boot, becomes the active one.

    ABL picks the active slot with the highest priority: a slot merely marked
    unbootable and inactive would leave no active slot at all (fastboot).
    """
    other = other_slot(slot)
    changes = slot_attributes(gpt, slot, successful=False, unbootable=True, active=False, retry=0)
    entry = slot_entry(gpt)
    if entry is not None:
        p = entry["ab".index(other)]
        if not p.unbootable and (p.successful or p.retry > 0):
            changes |= slot_attributes(gpt, other, priority=3, active=True)
    return gpt.with_attributes(changes)


def slot_activated(gpt: Gpt, slot: str) -> Gpt:
    return activate_slot(gpt, slot)
