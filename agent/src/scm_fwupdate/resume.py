"""``resume``: at every boot, see whether the chain fell back, and finish whatever the
journal holds (the install's apply and finish stages, reused)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from . import events, fallback, history
from .context import Context, has_journal
from .errors import AgentError, JournalDamagedError, JournalError
from .gpt import read_gpt
from .install import finish
from .journal import RecordType
from .record import InstallRecord
from .transaction import StateKind, damaged_message, pending_state, resume

RECOVERYINFO = "recoveryinfo"


class Action:
    NOTHING = "nothing"
    ABORTED = "aborted"  # an uncommitted update was dropped: nothing had been written
    FINISHED = "finished"  # DONE, only the after-DONE steps ran now
    COMPLETED = "completed"  # the rest of a committed plan was applied
    SET_ASIDE = "set-aside"  # a damaged journal was renamed, kept for inspection


@dataclass
class ResumeResult:
    state: StateKind  # what the journal held
    action: str  # Action
    txid: str | None = None
    operation: str | None = None
    kept: Path | None = None  # where a damaged journal was set aside


def detect_fallback(ctx: Context) -> fallback.Fallback | None:
    """Did the chain fall back at this boot? (Nothing recorded; see check_boot.)"""
    try:
        flash = ctx.open_flash(False)
        try:
            gpt = read_gpt(flash.read, flash.geometry.size, strict=False)
            p = gpt.find(RECOVERYINFO) if RECOVERYINFO in gpt.names() else None
            record = flash.read(p.offset, min(p.size, 4096)) if p else None
        finally:
            flash.close()
        return fallback.detect(ctx.config, gpt, record, ctx.cmdline)
    except AgentError:
        return None  # a broken table or device is reported by the commands that need it


def check_boot(ctx: Context) -> fallback.Fallback | None:
    """At boot: a fallback is recorded once per boot (history, journald)."""
    found = detect_fallback(ctx)
    fallback.note_boot(ctx.config, found)
    return found


def run_resume(ctx: Context, set_aside: bool = False) -> ResumeResult:
    """Finish whatever the journal holds; safe to run at every boot. Caller holds the lock.

    ``set_aside``: a damaged journal (which resume refuses to finish or drop)
    is renamed next to itself, so that a new install can start.
    """
    check_boot(ctx)
    if not has_journal(ctx):
        ctx.staged.unlink(missing_ok=True)
        return ResumeResult(StateKind.IDLE, Action.NOTHING)
    with ctx.open_journal() as journal:
        state = pending_state(journal)
        record = InstallRecord.from_meta(state.meta)
        txid, op = state.meta.get("txid"), state.meta.get("operation")
        install = InstallRecord.is_install(state.meta)
        if state.kind == StateKind.DAMAGED:
            if not set_aside:
                events.emit(events.INSTALL_FAILED, damaged_message(journal, state), events.ERR)
                raise JournalDamagedError(damaged_message(journal, state))
            kept = ctx.config.journal.with_name(
                f"{ctx.config.journal.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}"
            )
            os.replace(ctx.config.journal, kept)
            return ResumeResult(state.kind, Action.SET_ASIDE, txid, op, kept)
        if state.kind == StateKind.ABANDONED:
            raise JournalError(
                f"update {txid} was given up ({state.detail}); install a bundle again"
            )
        if state.kind == StateKind.IDLE:
            # A cut before the plan reached the journal can leave a staged bundle
            # that nothing refers to.
            ctx.staged.unlink(missing_ok=True)
            return ResumeResult(state.kind, Action.NOTHING)
        if state.kind == StateKind.UNCOMMITTED:
            resume(ctx.open_flash(False), journal)  # drops it: nothing was written
            if record.staged is not None:
                record.staged.unlink(missing_ok=True)
            return ResumeResult(state.kind, Action.ABORTED, txid, op)
        if state.kind == StateKind.DONE:
            if install and not history.finished(ctx.config.history, txid or ""):
                resumes = sum(1 for r in journal.records if r.type == RecordType.RESUME)
                finish(ctx, record, resumed=resumes)
                return ResumeResult(state.kind, Action.FINISHED, txid, op)
            ctx.staged.unlink(missing_ok=True)
            return ResumeResult(state.kind, Action.NOTHING, txid, op)
        events.emit(
            events.INSTALL_RESUMED,
            f"resuming {op or 'update'} {txid} at step {state.next_index} "
            f"(attempt {state.resumes + 1})",
            events.NOTICE,
            txid=txid,
        )
        flash = ctx.open_flash(True)
        try:
            with ctx.stop.writing():
                resume(
                    flash,
                    journal,
                    max_attempts=ctx.config.max_resume_attempts,
                    progress=ctx.progress_fn(),
                )
        except JournalError as e:
            events.emit(events.INSTALL_FAILED, f"resume of {txid} failed: {e}", events.ERR)
            raise
        finally:
            flash.close()
            ctx.progress.close()
        resumes = state.resumes + 1
    if install:
        finish(ctx, record, resumed=resumes)
    else:
        ctx.progress.finish()
    return ResumeResult(StateKind.PENDING, Action.COMPLETED, txid, op)
