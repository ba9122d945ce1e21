"""What the emulated boot chain said at a power-on: its ``boot:`` and ``boot-image:`` lines.

The chain (tz-emulator/src/bootchain.c) is the judge of every "does the
board boot, and what?" question in tests/board; this module only reads its
words (docs/boot-chain.md gives the format), it decides nothing itself.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

# QEMU's exit codes when Linux is not entered (config.h, docs/boot-chain.md).
EXIT_BRICKED, EXIT_HUNG, EXIT_BOOT_ONLY = 85, 86, 87

_LINE = re.compile(r"^(boot|boot-image): (.*?)\r?$", re.M)


@dataclass(frozen=True)
class ImageLine:
    image: str
    partition: str
    valid: bool
    release: str | None
    version: str | None
    error: str | None


@dataclass(frozen=True)
class BootLine:
    fields: dict[str, str]
    images: dict[str, ImageLine] = field(default_factory=dict)
    text: str = ""

    @property
    def result(self) -> str:
        return self.fields["result"]

    @property
    def booted(self) -> bool:
        return self.result == "boot"

    @property
    def set(self) -> str | None:
        return self.fields.get("set")

    @property
    def slot(self) -> str | None:
        return self.fields.get("slot")

    @property
    def release(self) -> str | None:
        r = self.fields.get("release")
        return None if r in (None, "-") else r

    @property
    def fallback(self) -> bool:
        return self.fields.get("fallback") == "1"

    @property
    def reason(self) -> str:
        return self.fields.get("reason", "")

    def versions(self) -> dict[str, str | None]:
        """Per boot image, the version the chain loads."""
        return {name: img.version for name, img in self.images.items()}

    def __str__(self) -> str:
        return self.text


def _fields(text: str) -> tuple[str, dict[str, str]]:
    words = shlex.split(text)
    head = words[0] if words and "=" not in words[0] else ""
    pairs = dict(w.split("=", 1) for w in words if "=" in w)
    return head, pairs


def parse(console: str) -> list[BootLine]:
    """Every boot attempt in a console log (a reset inside one power-on gives several)."""
    out: list[BootLine] = []
    images: dict[str, ImageLine] = {}
    for kind, text in _LINE.findall(console):
        head, pairs = _fields(text)
        if kind == "boot-image":
            images[head] = ImageLine(
                head,
                pairs.get("part", ""),
                pairs.get("valid") == "1",
                pairs.get("release"),
                None if pairs.get("version") in (None, "-") else pairs.get("version"),
                pairs.get("error"),
            )
            continue
        out.append(BootLine(pairs, images, f"boot: {text}"))
        images = {}
    return out


def last(console: str) -> BootLine:
    lines = parse(console)
    assert lines, f"the firmware printed no boot: line:\n{console[-2000:]}"
    return lines[-1]
