"""What every command works on: configuration, flash, journal, progress, stop flag.

Tests build a ``Context`` with a simulated flash, journal and boot backend;
the CLI builds one with ``make_context``.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import history
from .boot import BootBackend, make_backend
from .config import Backend, Config
from .errors import AgentError, JournalError
from .flash import Flash, open_flash
from .journal import Journal
from .progress import Progress
from .qcom_boot import QcomGptBackend
from .record import STAGED_NAME, InstallRecord
from .slots import CMDLINE
from .transaction import JournalState, StateKind, pending_state


class Interrupted(AgentError):
    """Ctrl-C or SIGTERM."""

    exit_code = 130


class StopFlag:
    """Signals during a flash write only set this flag; the writer stops between blocks."""

    def __init__(self) -> None:
        self.signal: str | None = None
        self.critical = 0

    def handler(self, signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if self.critical:
            self.signal = name
            return
        raise Interrupted(f"interrupted by {name}; nothing was written to the flash")

    def check(self) -> None:
        if self.signal:
            raise Interrupted(
                f"interrupted by {self.signal}: the update stopped between two blocks; "
                "run 'scm-fwupdate resume' to finish it"
            )

    @contextmanager
    def writing(self) -> Iterator[None]:
        self.critical += 1
        try:
            yield
        finally:
            self.critical -= 1


@dataclass
class Context:
    """What the commands work on; tests inject a simulated flash, journal and backend."""

    config: Config
    open_flash: Callable[[bool], Flash]
    open_journal: Callable[[], Journal]
    progress: Progress = field(default_factory=lambda: Progress("none"))
    cmdline: Path | None = CMDLINE
    backend: BootBackend | None = None
    stop: StopFlag = field(default_factory=StopFlag)

    def boot_backend(self) -> BootBackend:
        if self.backend is None:
            self.backend = make_backend(
                self.config, lambda _c: QcomGptBackend(self.open_flash, self.open_journal)
            )
        return self.backend

    @property
    def backend_name(self) -> Backend:
        return self.config.boot.backend

    @property
    def staged(self) -> Path:
        return self.config.state_dir / STAGED_NAME

    def progress_fn(self) -> Callable[[int, int, str], None]:
        """Progress of a plan walk; a signal stops it between two blocks."""

        def report(done: int, total: int, step: str) -> None:
            self.progress.update(step or "write", done, total)
            self.stop.check()

        return report


def rebase_state_dir(config: Config, state_dir: Path) -> Config:
    """``--state-dir``: move every path that lived under the old state directory."""
    old = config.state_dir

    def move(p: Path) -> Path:
        return state_dir / p.relative_to(old) if p.is_relative_to(old) else p

    return replace(
        config,
        state_dir=state_dir,
        journal=move(config.journal),
        history=move(config.history),
        inbox=move(config.inbox),
    )


def make_context(
    config: Config, device: str | None = None, progress: Progress | None = None
) -> Context:
    dev = device or config.device

    def flash(writable: bool) -> Flash:
        return open_flash(dev, writable=writable)

    # The booted slot comes from the kernel command line; tests point this elsewhere.
    cmdline = Path(os.environ.get("SCM_FWUPDATE_CMDLINE", str(CMDLINE)))
    return Context(
        config,
        flash,
        lambda: Journal(config.journal),
        progress or Progress("none"),
        cmdline=cmdline,
    )


def has_journal(ctx: Context) -> bool:
    """Read-only commands do not create the journal (nor need write access to it)."""
    return ctx.config.journal.exists()


def unfinished(ctx: Context, journal: Journal) -> JournalState | None:
    """The journal's state if a transaction (or an install's after-DONE steps) is pending."""
    state = pending_state(journal)
    if state.kind in (StateKind.PENDING, StateKind.UNCOMMITTED, StateKind.DAMAGED):
        return state
    done = state.kind == StateKind.DONE and InstallRecord.is_install(state.meta)
    if done and not history.finished(ctx.config.history, state.meta.get("txid", "")):
        return state
    return None


def require_idle(ctx: Context) -> None:
    if not has_journal(ctx):
        return
    with ctx.open_journal() as journal:
        state = unfinished(ctx, journal)
    if state is not None and state.kind != StateKind.UNCOMMITTED:
        raise JournalError(
            f"an interrupted update ({state.meta.get('txid', '?')}) is not finished: "
            "run 'scm-fwupdate resume' first"
        )
