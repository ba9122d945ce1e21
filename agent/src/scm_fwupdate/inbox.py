"""``install-inbox``: install every bundle dropped into the inbox, oldest name first."""

from __future__ import annotations

import os
from pathlib import Path

from .bundle import BundleReader
from .context import Context, has_journal, unfinished
from .errors import AgentError, Interrupted
from .gpt import boot_slot, read_gpt
from .install import run_install
from .profile import BACKUP_SUFFIX, BootRule
from .resume import run_resume
from .verify import hash_region


def nor_holds(ctx: Context, bundle: Path) -> bool:
    """Every image of the bundle is where the board boots it from, byte for byte.

    What the NOR holds, not what the history says: after a fallback, or a
    restore of another firmware, the same bundle is installed again.
    """
    with BundleReader.open(bundle, ctx.config.keyring) as reader:
        if reader.manifest.compatible != ctx.config.compatible:
            return False  # not for this board: the install says so
        images = reader.manifest.images
    flash = ctx.open_flash(False)
    try:
        gpt = read_gpt(flash.read, flash.geometry.size)
        rule = ctx.config.board.rule
        slot = boot_slot(gpt)
        for e in images:
            names = [n for n in (e.target, f"{e.target}{BACKUP_SUFFIX}") if n in gpt.names()]
            pair = [f"{e.target}_a", f"{e.target}_b"]
            if all(n in gpt.names() for n in pair):
                names = [f"{e.target}_{slot}"] if rule == BootRule.AB_ATTRIBUTES else pair
            for name in names:
                p = gpt.find(name)
                if hash_region(flash, p.offset, e.size) != e.sha256:
                    return False
        return True
    finally:
        flash.close()


def run_inbox(ctx: Context, allow_downgrade: bool = False) -> list[tuple[Path, str]]:
    """Install every ``*.bundle`` in the inbox, oldest name first; move each to done/ or failed/.

    A bundle the NOR already holds where the board boots it from (for example
    because the install finished through ``resume`` after a power cut) is
    moved to done/ without installing it again. Returns (bundle, result).
    """
    inbox = ctx.config.inbox
    results: list[tuple[Path, str]] = []
    if not inbox.is_dir():
        return results
    pending = None
    if has_journal(ctx):
        with ctx.open_journal() as journal:
            pending = unfinished(ctx, journal)
    if pending is not None:
        run_resume(ctx)
    for bundle in sorted(inbox.glob("*.bundle")):
        outcome = "done"
        try:
            if not nor_holds(ctx, bundle):
                run_install(ctx, bundle, allow_downgrade=allow_downgrade)
        except Interrupted:
            raise
        except AgentError as e:
            outcome = "failed"
            error = f"{type(e).__name__}: {e}"
        dest = inbox / outcome
        dest.mkdir(exist_ok=True)
        os.replace(bundle, dest / bundle.name)
        if outcome == "failed":
            (dest / (bundle.name + ".error")).write_text(error + "\n")
        results.append((bundle, outcome))
    return results
