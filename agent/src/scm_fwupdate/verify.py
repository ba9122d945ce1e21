"""``verify``: GPT copies, journal state, and the installed images against the last
install's hashes, read back through the flash."""

from __future__ import annotations

import hashlib
from typing import Any

from . import history
from .context import Context, has_journal, unfinished
from .errors import AgentError
from .flash import Flash
from .gpt import read_gpt
from .profile import BACKUP_SUFFIX
from .strategies import Kind
from .transaction import StateKind, pending_state

CHUNK = 1 << 20


def run_verify(ctx: Context) -> dict[str, Any]:
    problems: list[str] = []
    report: dict[str, Any] = {"gpt": {}, "journal": {}, "images": []}
    state, kind = None, StateKind.IDLE
    if has_journal(ctx):
        with ctx.open_journal() as journal:
            state = unfinished(ctx, journal)
            kind = pending_state(journal).kind
    report["journal"] = {"state": kind, "unfinished": state is not None}
    if state is not None:
        problems.append(f"journal: an update ({state.meta.get('txid')}) is not finished")
    if kind == StateKind.ABANDONED:
        problems.append("journal: the last update was given up")
    flash = ctx.open_flash(False)
    try:
        gpt = read_gpt(flash.read, flash.geometry.size, strict=False)
        ss = gpt.sector_size
        length = gpt.entries_sectors * ss
        same = flash.read(gpt.primary_entries_lba * ss, length) == flash.read(
            gpt.backup_entries_lba * ss, length
        )
        report["gpt"] = {
            "primary_ok": gpt.primary_ok,
            "backup_ok": gpt.backup_ok,
            "copies_equal": same,
            "problems": list(gpt.problems),
        }
        if not gpt.primary_ok:
            problems.append("GPT: the primary table is damaged")
        if not gpt.backup_ok:
            problems.append("GPT: the backup table is damaged")
        if gpt.primary_ok and gpt.backup_ok and not same:
            problems.append("GPT: primary and backup entry arrays differ")
        problems += [f"GPT: {p}" for p in gpt.problems]
        last = history.last_success(ctx.config.history)
        report["installed"] = last and {"version": last.get("version"), "txid": last.get("txid")}
        for img in (last or {}).get("images", []):
            for name in _copies(img):
                try:
                    p = gpt.find(name)
                    ok = hash_region(flash, p.offset, int(img["size"])) == img["sha256"]
                except AgentError:
                    ok = False
                report["images"].append({"partition": name, "ok": ok})
                if not ok:
                    problems.append(f"{name}: content differs from the installed {img['target']}")
    finally:
        flash.close()
    report["ok"] = not problems
    report["problems"] = problems
    return report


def _copies(img: dict[str, Any]) -> list[str]:
    """The partitions an install wrote this image to."""
    target = img["target"]
    if img.get("kind") == Kind.AB:
        return [f"{target}_{img['slot']}"] if img.get("slot") else [f"{target}_a", f"{target}_b"]
    if img.get("kind") == Kind.PRIMARY_BACKUP:
        return [target, target + BACKUP_SUFFIX]
    return [target] if img.get("kind") == Kind.SINGLE else []


def hash_region(flash: Flash, offset: int, size: int) -> str:
    h = hashlib.sha256()
    for pos in range(0, size, CHUNK):
        h.update(flash.read(offset + pos, min(CHUNK, size - pos)))
    return h.hexdigest()
