"""Slot policy: which GPT partitions form which kind of group, and which slot boots.

Kinds come from the names (``X_a``/``X_b``: A/B; ``X``/``X_BACKUP``:
primary/backup; anything else: single copy), overridable per group or
partition in the configuration (``slots.overrides``: ab | primary-backup |
single | ignore). ``strategies.classify`` decides the kind of one target;
this module gives the whole view for ``status`` and checks a bundle's
targets before anything is planned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import PolicyError
from .gpt import Gpt, Partition, boot_slot, slot_pairs
from .strategies import BACKUP_SUFFIX, Kind, classify

CMDLINE = Path("/proc/cmdline")
# Qualcomm/Android (ABL passes the suffix) and RAUC's U-Boot convention.
_SLOT_ARGS = (
    re.compile(r"(?:^|\s)androidboot\.slot_suffix=_([ab])(?:\s|$)"),
    re.compile(r"(?:^|\s)androidboot\.slot=_?([ab])(?:\s|$)"),
    re.compile(r"(?:^|\s)rauc\.slot=([ABab])(?:\s|$)"),
)


@dataclass(frozen=True)
class Group:
    name: str
    kind: Kind
    partitions: tuple[Partition, ...]


def groups(gpt: Gpt, overrides: Mapping[str, str] | None = None) -> list[Group]:
    """Every slot group of the table, in table order."""
    overrides = dict(overrides or {})
    pairs = slot_pairs(gpt)
    names = set(gpt.names())
    seen: set[str] = set()
    out: list[Group] = []
    for p in sorted(gpt.partitions, key=lambda p: p.first_lba):
        if p.name[-2:] in ("_a", "_b") and p.name[:-2] in pairs:
            base = p.name[:-2]
        elif p.name.endswith(BACKUP_SUFFIX) and p.name.removesuffix(BACKUP_SUFFIX) in names:
            base = p.name.removesuffix(BACKUP_SUFFIX)
        else:
            base = p.name
        if base in seen:
            continue
        seen.add(base)
        if base in overrides:
            kind = Kind(overrides[base])
        elif base in pairs:
            kind = Kind.AB
        else:
            kind = classify(gpt, base)
        members = [
            q
            for q in gpt.partitions
            if q.name in (base, f"{base}_a", f"{base}_b", base + BACKUP_SUFFIX)
        ]
        out.append(Group(base, kind, tuple(members)))
    return out


def validate_targets(
    gpt: Gpt, targets: Iterable[str], overrides: Mapping[str, str] | None = None
) -> dict[str, Kind]:
    """Kind of every bundle target; PolicyError if one cannot be installed here."""
    out: dict[str, Kind] = {}
    names = set(gpt.names())
    for target in targets:
        kind = classify(gpt, target, dict(overrides or {}))  # PolicyError if not in the GPT
        needed = {
            Kind.AB: [f"{target}_a", f"{target}_b"],
            Kind.PRIMARY_BACKUP: [target, target + BACKUP_SUFFIX],
            Kind.SINGLE: [target],
            Kind.IGNORE: [],
        }[kind]
        if kind == Kind.IGNORE:
            raise PolicyError(f"target '{target}' is set to 'ignore' in the configuration")
        missing = [n for n in needed if n not in names]
        if missing:
            raise PolicyError(
                f"target '{target}' is configured as {kind} but the GPT has no "
                + ", ".join(f"'{m}'" for m in missing)
            )
        out[target] = kind
    return out


def slot_of_cmdline(text: str) -> str | None:
    for pattern in _SLOT_ARGS:
        m = pattern.search(text)
        if m:
            return m.group(1).lower()
    return None


def booted_slot(gpt: Gpt | None, cmdline: Path | None = CMDLINE) -> tuple[str | None, str]:
    """(slot, source): the kernel command line if it names one, else the GPT's choice."""
    if cmdline is not None:
        try:
            slot = slot_of_cmdline(cmdline.read_text(errors="replace"))
        except OSError:
            slot = None
        if slot:
            return slot, "cmdline"
    return (boot_slot(gpt) if gpt is not None else None), "gpt"


def slot_view(gpt: Gpt) -> dict[str, dict[str, Any]]:
    """Per-slot A/B attribute state, read from the first pair (and whether all agree)."""
    pairs = slot_pairs(gpt)
    out: dict[str, dict[str, Any]] = {}
    for i, slot in enumerate("ab"):
        entries = [pair[i] for pair in pairs.values()]
        if not entries:
            continue
        states = {(p.priority, p.active, p.retry, p.successful, p.unbootable) for p in entries}
        p = entries[0]
        out[slot] = {
            "priority": p.priority,
            "active": p.active,
            "retry": p.retry,
            "successful": p.successful,
            "unbootable": p.unbootable,
            "consistent": len(states) == 1,
        }
    return out


def status(
    gpt: Gpt, overrides: Mapping[str, str] | None = None, booted: str | None = None
) -> dict[str, Any]:
    return {
        "booted": booted,
        "gpt_selected": boot_slot(gpt),
        "slots": slot_view(gpt),
        "groups": [
            {
                "name": g.name,
                "kind": str(g.kind),
                "partitions": [
                    {"name": p.name, "offset": p.offset, "size": p.size} for p in g.partitions
                ],
            }
            for g in groups(gpt, overrides)
        ],
    }
