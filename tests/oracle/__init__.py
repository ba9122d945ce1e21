"""An independent oracle of the emulated boot chain (docs/boot-chain.md); see README.md."""

from .chain import (
    Q6A_PROFILE,
    RULES,
    Decision,
    ImageCache,
    ImageLoad,
    Profile,
    copies,
    decide,
    power_on,
)
from .gpt import (
    AbBits,
    Gpt,
    Partition,
    Patch,
    apply_patches,
    read_gpt,
    read_gpt_bytes,
    set_ab,
    set_attributes,
    write_entries,
)
from .image import ImageCheck, check_bytes, check_image
from .recoveryinfo import RecoveryInfo, build_recoveryinfo, parse_recoveryinfo

__all__ = [
    "Q6A_PROFILE",
    "RULES",
    "AbBits",
    "Decision",
    "Gpt",
    "ImageCache",
    "ImageCheck",
    "ImageLoad",
    "Partition",
    "Patch",
    "Profile",
    "RecoveryInfo",
    "apply_patches",
    "build_recoveryinfo",
    "check_bytes",
    "check_image",
    "copies",
    "decide",
    "parse_recoveryinfo",
    "power_on",
    "read_gpt",
    "read_gpt_bytes",
    "set_ab",
    "set_attributes",
    "write_entries",
]
