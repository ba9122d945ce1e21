"""Boot sets: what the boot chain reported, what ``recoveryinfo`` holds, and what each set is.

The agent's own reading of docs/boot-chain.md, used to plan (which set is
protected while the other is written) and to refuse images the chain would
refuse. The tests judge the result with the firmware and an oracle of their
own, never with this module.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from . import mbn
from .errors import BundleError, ImageError, PolicyError
from .flash import Flash
from .gpt import Gpt
from .mbn import ImageInfo
from .profile import QCS6490_SW_IDS, BootRule, Copies, Profile, copies

Reader = Callable[[int, int], bytes]


class ImageSource(Protocol):
    """A bundle image: ``size`` bytes at ``offset`` of the file ``path``."""

    target: str
    path: Path
    offset: int
    size: int


SET_A, SET_B = "A", "B"

# recoveryinfo: the emulation's stand-in record (docs/boot-chain.md).
RECOVERYINFO = struct.Struct("<4sIIIII36sI")
RECOVERYINFO_MAGIC = b"QSRI"


@dataclass(frozen=True)
class BootReport:
    """What the boot chain told the OS (``/chosen`` on the emulated board)."""

    rule: str | None = None
    set: str | None = None  # A or B (rule sets)
    slot: str | None = None  # a or b (rule ab-attributes)
    reason: str | None = None
    fallback: bool = False

    @classmethod
    def read(cls, chosen: Path) -> BootReport | None:
        def prop(name: str) -> str | None:
            try:
                raw = (chosen / f"scm-emu,{name}").read_bytes()
            except OSError:
                return None
            return raw.split(b"\0", 1)[0].decode("ascii", "replace")

        rule = prop("boot-rule")
        if rule is None:
            return None
        slot = prop("boot-slot")
        return cls(
            rule=rule,
            set=prop("boot-set"),
            slot=slot.removeprefix("_") if slot else None,
            reason=prop("boot-reason"),
            fallback=prop("fallback") == "1",
        )


@dataclass(frozen=True)
class RecoveryInfo:
    failed_a: bool
    failed_b: bool
    last_set: str | None
    fallbacks: int
    reason: str

    @classmethod
    def parse(cls, raw: bytes) -> RecoveryInfo | None:
        """The record, or None for an erased, foreign or damaged partition ("no record")."""
        if len(raw) < RECOVERYINFO.size:
            return None
        magic, version, failed, last, count, _res, reason, crc = RECOVERYINFO.unpack_from(raw)
        if magic != RECOVERYINFO_MAGIC or version != 1 or zlib.crc32(raw[:60]) != crc:
            return None
        return cls(
            failed_a=bool(failed & 1),
            failed_b=bool(failed & 2),
            last_set={0: SET_A, 1: SET_B}.get(last),
            fallbacks=count,
            reason=reason.split(b"\0", 1)[0].decode("ascii", "replace"),
        )


@dataclass(frozen=True)
class CopyState:
    partition: str
    info: ImageInfo | None
    error: str | None

    def view(self) -> dict[str, object]:
        """What the NOR holds in this copy (status, probe)."""
        info = self.info
        return {
            "partition": self.partition,
            "valid": info is not None,
            "error": self.error,
            "hash_version": info.hash_version if info else None,
            "sw_id": info.sw_id if info else None,
            "anti_rollback": info.anti_rollback if info else None,
            "release": info.release if info else None,
            "version": info.version if info else None,
            "strings": dict(info.strings) if info else {},
        }


@dataclass(frozen=True)
class SetState:
    name: str
    images: dict[str, CopyState] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return bool(self.images) and all(c.info for c in self.images.values())

    @property
    def releases(self) -> set[str]:
        return {c.info.release for c in self.images.values() if c.info}

    @property
    def bootable(self) -> bool:
        return self.valid and len(self.releases) == 1

    def why_not(self) -> str:
        bad = [f"{n}: {c.error}" for n, c in self.images.items() if c.error]
        if bad:
            return "; ".join(bad)
        if len(self.releases) > 1:
            return "mixed releases " + ", ".join(sorted(self.releases))
        return "no boot images" if not self.images else ""


def boot_copies(gpt: Gpt, profile: Profile) -> list[Copies]:
    """The profile's boot images that this GPT holds in two copies, in boot order."""
    return [c for c in (copies(gpt, name) for name in profile.boot_images) if c]


def copies_view(read: Reader, gpt: Gpt, profile: Profile) -> dict[str, dict[str, object]]:
    """Every boot image, both copies: valid or not, release, version, sw_id, anti-rollback."""
    return {
        c.image: {
            "kind": "ab" if c.ab_pair else "primary-backup",
            "a": inspect_partition(read, gpt, c.a).view(),
            "b": inspect_partition(read, gpt, c.b).view(),
        }
        for c in boot_copies(gpt, profile)
    }


def inspect_partition(read: Reader, gpt: Gpt, name: str) -> CopyState:
    p = gpt.find(name)
    info, error = mbn.try_inspect(lambda o, n: read(p.offset + o, n), p.size)
    return CopyState(name, info, error)


def evaluate(read: Reader, gpt: Gpt, profile: Profile) -> dict[str, SetState]:
    """Both boot sets as the ``sets`` rule sees them."""
    pairs = boot_copies(gpt, profile)
    return {
        s: SetState(
            s, {c.image: inspect_partition(read, gpt, c.a if s == SET_A else c.b) for c in pairs}
        )
        for s in (SET_A, SET_B)
    }


def protected_set(sets: Mapping[str, SetState]) -> str:
    """The set the chain boots at the next power-on: an update writes the other one first.

    That is set A when it is bootable, else set B (the rule itself, not the
    chain's report of the last boot: a set repaired since then boots next).
    Neither bootable: refuse, the board would not boot whatever we wrote first.
    """
    for name in (SET_A, SET_B):
        if sets[name].bootable:
            return name
    raise PolicyError(
        "neither boot set passes the boot chain's checks (set A: "
        f"{sets[SET_A].why_not()}; set B: {sets[SET_B].why_not()}): refusing to write"
    )


def check_image(target: str, read: Reader, size: int) -> ImageInfo:
    """A bundle image for a boot partition, checked as the chain checks it."""
    if size == 0:
        raise ImageError(f"image for '{target}' is empty")
    try:
        return mbn.inspect(read, size)
    except ImageError as e:
        raise ImageError(f"image for '{target}' would not boot: {e}") from None


def check_identity(target: str, new: ImageInfo, running: CopyState | None) -> None:
    """The image is for this partition (software id) and not below its anti-rollback floor.

    The floor is the anti-rollback version of the copy the board runs: a
    fused board refuses a lower one, which leaves only the USB programmer.
    ``--allow-downgrade`` does not lift it.
    """
    now = running.info if running is not None else None
    expected = (
        now.sw_id if now is not None and now.sw_id is not None else QCS6490_SW_IDS.get(target)
    )
    if expected is not None and new.sw_id is not None and new.sw_id != expected:
        raise ImageError(
            f"image for '{target}' carries software id 0x{new.sw_id:x}, the partition's is "
            f"0x{expected:x}: it is another firmware's image"
        )
    floor = now.anti_rollback if now is not None else None
    if floor is not None and new.anti_rollback is not None and new.anti_rollback < floor:
        raise ImageError(
            f"image for '{target}' has anti-rollback version {new.anti_rollback}, below the "
            f"running copy's {floor}: a fused board would not boot it "
            "(--allow-downgrade does not override this)"
        )


def check_release(
    new: Mapping[str, ImageInfo], current: Mapping[str, str], rule: BootRule, units: Iterable[str]
) -> str:
    """The release the board ends up with; refuses a bundle that leaves releases mixed.

    ``current`` is the release each boot image has where the board boots it
    now. Images not in the bundle keep theirs, so they must already belong to
    the bundle's release. ``units`` names the selection units whose release
    changes (ab-attributes and per-image pick them independently).
    """
    releases = {info.release for info in new.values()}
    if len(releases) > 1:
        raise ImageError(
            "the bundle's boot images belong to different releases: "
            + ", ".join(f"{t} {i.release}" for t, i in sorted(new.items()))
        )
    if not releases:
        return ""
    release = releases.pop()
    stale = sorted(t for t, r in current.items() if t not in new and r != release)
    if stale:
        raise ImageError(
            f"the bundle is release {release} but leaves "
            + ", ".join(f"{t} ({current[t]})" for t in stale)
            + " from another release: a release bundle must carry every boot image"
        )
    changing = sorted(set(units))
    if rule != BootRule.SETS and len(changing) > 1:
        raise PolicyError(
            f"under boot rule {rule} the boot chain picks {' and '.join(changing)} "
            f"independently: a power cut between them would boot a mixed set of releases; "
            "use a board with boot sets (rule 'sets') or one A/B slot for every image"
        )
    return release


def booted_copies(
    read: Reader, gpt: Gpt, profile: Profile, rule: BootRule, slot: str | None
) -> dict[str, CopyState]:
    """Per boot image, the copy the chain loads under ``rule`` (``slot``: the A/B slot)."""
    if rule == BootRule.SETS:
        sets = evaluate(read, gpt, profile)
        return dict(sets[protected_set(sets)].images)
    out = {}
    for c in boot_copies(gpt, profile):
        if rule == BootRule.AB_ATTRIBUTES and c.ab_pair:
            out[c.image] = inspect_partition(read, gpt, c.a if slot != "b" else c.b)
            continue
        first = inspect_partition(read, gpt, c.a)
        out[c.image] = first if first.info else inspect_partition(read, gpt, c.b)
    return out


def selection_unit(c: Copies, rule: BootRule) -> str:
    """What the chain picks as one: the whole set, the A/B slot, or the image alone."""
    if rule == BootRule.SETS:
        return "the boot set"
    if rule == BootRule.AB_ATTRIBUTES and c.ab_pair:
        return "the A/B slot"
    return c.image


def check_boot_images(
    flash: Flash,
    gpt: Gpt,
    rule: BootRule,
    profile: Profile,
    specs: Sequence[ImageSource],
    slot: str | None,
) -> str:
    """Every image for a boot partition checked as the chain checks it; returns the release.

    Refuses (ImageError) an empty, non-ELF or damaged image, and a bundle whose
    boot images would sit next to another release's; refuses (PolicyError) a
    release change the chain would see half done after a cut.
    """
    boot = {c.image: c for c in boot_copies(gpt, profile)}
    new = {}
    for spec in specs:
        if spec.target not in boot:
            continue
        for name in (boot[spec.target].a, boot[spec.target].b):
            p = gpt.find(name)
            if spec.size > p.size:  # a size mistake says so, not "would not boot"
                raise PolicyError(
                    f"image for '{spec.target}' ({spec.size} bytes) is larger than "
                    f"partition '{p.name}' ({p.size} bytes)"
                )
        try:
            with open(spec.path, "rb") as f:
                fd = f.fileno()
                new[spec.target] = check_image(
                    spec.target,
                    lambda o, n, fd=fd, base=spec.offset: os.pread(fd, n, base + o),
                    spec.size,
                )
        except OSError as e:
            raise BundleError(f"{spec.path}: cannot read: {e.strerror}") from None
    if not new:
        return ""
    running = booted_copies(flash.read, gpt, profile, rule, slot)
    for target, info in new.items():
        check_identity(target, info, running.get(target))
    current = {
        name: c.info.release if c.info else "not bootable now" for name, c in running.items()
    }
    units = {
        selection_unit(boot[t], rule) for t, info in new.items() if current.get(t) != info.release
    }
    return check_release(new, current, rule, units)
