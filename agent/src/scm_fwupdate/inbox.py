"""``install-inbox``: install every bundle dropped into the inbox, oldest name first."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from . import fallback, history
from .bundle import BundleReader
from .context import Context, Interrupted, has_journal, unfinished
from .errors import AgentError
from .install import run_install
from .resume import run_resume


def manifest_digest(path: Path, keyring: Path) -> str:
    with BundleReader.open(path, keyring) as reader:
        return hashlib.sha256(reader.manifest.raw).hexdigest()


def run_inbox(ctx: Context, allow_downgrade: bool = False) -> list[tuple[Path, str]]:
    """Install every ``*.bundle`` in the inbox, oldest name first; move each to done/ or failed/.

    A bundle whose manifest equals the last successful install (for example
    because the install finished through ``resume`` after a power cut) is
    moved to done/ without installing it again, unless the boot chain fell
    back since that install. Returns (bundle, result).
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
            last = history.last_success(ctx.config.history)
            installed = (
                last is not None
                and last.get("manifest_sha256") == manifest_digest(bundle, ctx.config.keyring)
                and not fallback.fell_back_since(ctx.config, last.get("txid"))
            )
            if not installed:
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
