"""Board profiles: which partitions hold boot images, and how the board's boot chain picks them.

The boot rule decides the order of an update (docs/boot-chain.md):

- ``sets``: the chain boots set A (plain names and ``_a``) when all its images
  are valid and of one release, else set B (``_BACKUP`` and ``_b``). The Radxa
  Dragon Q6A: no ABL, Qualcomm's capsule tool pairs the copies this way.
- ``ab-attributes``: Qualcomm's ABL picks an ``_a``/``_b`` slot from the GPT
  attribute bits; each primary/backup image falls back on its own.
- ``per-image``: every image from its primary copy, else its backup.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .gpt import Gpt

BACKUP_SUFFIX = "_BACKUP"


class BootRule(StrEnum):
    SETS = "sets"
    AB_ATTRIBUTES = "ab-attributes"
    PER_IMAGE = "per-image"


# The boot images of a QCS6490 SPI-NOR, in boot order (qualcomm-boot-chain.md §3).
QCS6490_BOOT_IMAGES = (
    "XBL_SC",
    "XBL_CONFIG",
    "AOP",
    "TZ",
    "HYP",
    "DEVCFG",
    "QUP",
    "UEFI",
    "dtb",
    "uefisecapp",
)


# Software ids the signing tools give these images (qualcomm-boot-chain.md §4,
# qtestsign FW_SW_ID); an image for a partition must carry its id.
QCS6490_SW_IDS = {
    "XBL_SC": 0x0,
    "XBL_CONFIG": 0x25,
    "AOP": 0x21,
    "TZ": 0x7,
    "HYP": 0x15,
    "DEVCFG": 0x5,
    "QUP": 0x24,
    "UEFI": 0x9,
}


@dataclass(frozen=True)
class Profile:
    name: str
    rule: BootRule
    boot_images: tuple[str, ...]


PROFILES = {
    p.name: p
    for p in (
        Profile("radxa-dragon-q6a", BootRule.SETS, QCS6490_BOOT_IMAGES),
        Profile("qcom-abl", BootRule.AB_ATTRIBUTES, QCS6490_BOOT_IMAGES),
        Profile("per-image", BootRule.PER_IMAGE, QCS6490_BOOT_IMAGES),
    )
}
DEFAULT_PROFILE = "radxa-dragon-q6a"


@dataclass(frozen=True)
class Copies:
    """The two copies of one image: ``a`` in boot set A, ``b`` in boot set B."""

    image: str
    a: str
    b: str
    ab_pair: bool  # X_a/X_b (else X/X_BACKUP)


def copies(gpt: Gpt, image: str) -> Copies | None:
    """Where the GPT keeps the two copies of ``image``; None if it has no pair for it."""
    names = set(gpt.names())
    if f"{image}_a" in names and f"{image}_b" in names:
        return Copies(image, f"{image}_a", f"{image}_b", True)
    if image in names and image + BACKUP_SUFFIX in names:
        return Copies(image, image, image + BACKUP_SUFFIX, False)
    return None
