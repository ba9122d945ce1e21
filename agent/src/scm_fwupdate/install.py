"""Install orchestration: bundle -> policy -> plan -> journal -> flash -> verify -> activate.

Everything that can reject an update (signature, compatible, downgrade,
targets, sizes, image hashes) runs before the COMMIT record, so a rejected
bundle leaves the flash untouched. After the commit the transaction engine
owns the flash; any interruption (power cut, Ctrl-C, crash) is finished by
``run_resume``.

The bundle is staged as ``<state_dir>/staged.bundle`` (a hard link when on
the same file system, else a streaming copy; a bundle on stdin is always
copied) because the plan reads image data from it by offset, also on resume
after a power cut. It is removed once the install is finished.

Activation: with the Qualcomm GPT backend the slot switch is the last step
of the install transaction. With a U-Boot or script backend the plan's
metadata records ``activation: {backend, slot}``; after DONE the backend is
called, then a ``success`` record goes to the history. A DONE transaction
without that record is unfinished, and ``run_resume`` activates it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

from . import events, fallback, history
from .boot import BootBackend, make_backend
from .bootset import boot_copies, booted_copies, check_image, check_release, selection_unit
from .bundle import BundleReader
from .config import Config
from .errors import AgentError, BundleError, JournalError, PolicyError
from .flash import Flash, open_flash
from .gpt import AB_MAX_RETRY, Gpt, boot_slot, read_gpt, slot_attributes
from .journal import Journal
from .manifest import Manifest, compare_versions
from .profile import BootRule, Profile
from .progress import Progress
from .qcom_boot import QcomGptBackend
from .slots import CMDLINE, booted_slot, validate_targets
from .strategies import BACKUP_SUFFIX, ImageSpec, Kind, fits, other_slot, plan_install
from .transaction import JournalState, fsync_dir, pending_state, resume
from .transaction import apply as apply_plan

STAGED_NAME = "staged.bundle"
RECOVERYINFO = "recoveryinfo"
QUALCOMM = "qualcomm-gpt"
COPY_CHUNK = 1 << 20


class Interrupted(AgentError):
    """Ctrl-C or SIGTERM."""

    exit_code = 130


# --------------------------------------------------------------------------- context


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
    def backend_name(self) -> str:
        return self.config.boot.backend

    @property
    def staged(self) -> Path:
        return self.config.state_dir / STAGED_NAME


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


# --------------------------------------------------------------------------- results


@dataclass
class InstallResult:
    txid: str | None
    version: str
    targets: list[str]
    slot: str | None
    activated: bool
    dry_run: bool = False
    blocks_planned: int = 0
    blocks_to_write: int = 0
    stats: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


def unfinished(ctx: Context, journal: Journal) -> JournalState | None:
    """The journal's state if a transaction (or an install's after-DONE steps) is pending."""
    state = pending_state(journal)
    if state.kind in ("pending", "uncommitted"):
        return state
    if state.kind == "done" and state.meta.get("operation") == "install":
        txid = state.meta.get("txid", "")
        if not history.finished(ctx.config.history, txid):
            return state
    return None


def has_journal(ctx: Context) -> bool:
    """Read-only commands do not create the journal (nor need write access to it)."""
    return ctx.config.journal.exists()


def require_idle(ctx: Context) -> None:
    if not has_journal(ctx):
        return
    with ctx.open_journal() as journal:
        state = unfinished(ctx, journal)
    if state is not None and state.kind != "uncommitted":
        raise JournalError(
            f"an interrupted update ({state.meta.get('txid', '?')}) is not finished: "
            "run 'scm-fwupdate resume' first"
        )


def stage(source: Path | BinaryIO, dest: Path) -> Path:
    """Put the bundle at dest: hard link if possible, else a streaming copy, fsynced."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.unlink(missing_ok=True)
    if isinstance(source, Path):
        try:
            os.link(source, dest)
            fsync_dir(dest.parent)
            return dest
        except OSError:
            pass  # other file system, or links not allowed: copy
    tmp = dest.with_name(dest.name + ".tmp")
    try:
        with open(tmp, "wb") as out:
            if isinstance(source, Path):
                with open(source, "rb") as f:
                    shutil.copyfileobj(f, out, COPY_CHUNK)
            else:
                shutil.copyfileobj(source, out, COPY_CHUNK)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise BundleError(f"cannot stage the bundle in {dest.parent}: {e.strerror}") from None
    except BaseException:  # Ctrl-C while copying: leave no half copy behind
        tmp.unlink(missing_ok=True)
        raise
    return dest


def check_manifest(ctx: Context, manifest: Manifest, allow_downgrade: bool) -> None:
    cfg = ctx.config
    if manifest.compatible != cfg.compatible:
        raise PolicyError(
            f"bundle is for '{manifest.compatible}', this device is '{cfg.compatible}'"
        )
    last = history.last_success(cfg.history)
    installed = str(last.get("version") or "") if last else ""
    if installed and not allow_downgrade and compare_versions(manifest.version, installed) < 0:
        raise PolicyError(
            f"bundle version {manifest.version} is older than the installed "
            f"{installed} (use --allow-downgrade)"
        )


def check_boot_images(
    flash: Flash,
    gpt: Gpt,
    rule: BootRule,
    profile: Profile,
    specs: list[ImageSpec],
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
            fits(spec, gpt.find(name))  # a size mistake says so, not "would not boot"
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
    current = {
        name: c.info.release if c.info else "not bootable now"
        for name, c in booted_copies(flash.read, gpt, profile, rule, slot).items()
    }
    units = {
        selection_unit(boot[t], rule) for t, info in new.items() if current.get(t) != info.release
    }
    return check_release(new, current, rule, units)


def _gpt_for_backend(ctx: Context, gpt: Gpt) -> tuple[Gpt, str | None]:
    """The table the planner sees, and the slot it will write (None: no A/B pairs).

    The planner writes the slot the GPT does not select. With the Qualcomm
    backend that is the truth. With another backend the GPT bits only mirror
    it: the table is presented with the booted slot as the selected one, so
    the planner never writes the running slot.
    """
    selected = boot_slot(gpt)
    booted, source = booted_slot(gpt, ctx.cmdline)
    if ctx.backend_name == QUALCOMM:
        if selected is None:
            return gpt, None
        target = other_slot(selected)
        if source == "cmdline" and booted == target:
            raise PolicyError(
                f"slot {other_slot(target)} was activated but the system still runs from slot "
                f"{target}: reboot (or activate {target}) before installing again"
            )
        return gpt, target
    if source != "cmdline":
        booted = ctx.boot_backend().primary()
    if booted is None:
        return gpt, None
    view = gpt
    if selected != booted:
        view = gpt.with_attributes(
            slot_attributes(
                gpt,
                booted,
                priority=3,
                active=True,
                retry=AB_MAX_RETRY,
                successful=True,
                unbootable=False,
            )
            | slot_attributes(gpt, other_slot(booted), priority=2, active=False)
        )
    return view, other_slot(booted)


# --------------------------------------------------------------------------- install


def _open_checked(ctx: Context, path: Path, allow_downgrade: bool) -> BundleReader:
    reader = BundleReader.open(path, ctx.config.keyring)
    try:
        check_manifest(ctx, reader.manifest, allow_downgrade)
    except BaseException:
        reader.close()
        raise
    return reader


def run_install(
    ctx: Context,
    bundle: str | Path,
    *,
    activate: bool = True,
    dry_run: bool = False,
    allow_downgrade: bool = False,
    stdin: BinaryIO | None = None,
) -> InstallResult:
    """Install a bundle (a path, or ``-`` for stdin). The caller holds the lock."""
    run = _Run(time.time())
    staged: Path | None = None
    try:
        require_idle(ctx)
        ctx.progress.update("verify bundle", 0, 1)
        if str(bundle) == "-":
            if dry_run:
                raise BundleError("--dry-run needs a bundle file, not stdin")
            staged = stage(stdin or sys.stdin.buffer, ctx.staged)
            source = staged
        else:
            source = Path(bundle)
            try:
                st = source.stat()
            except OSError as e:
                raise BundleError(f"{source}: cannot open bundle: {e.strerror}") from None
            if not stat.S_ISREG(st.st_mode):  # a pipe or FIFO: cannot seek, stage it
                if dry_run:
                    raise BundleError("--dry-run needs a regular bundle file")
                with open(source, "rb") as f:
                    staged = stage(f, ctx.staged)
                source = staged
            else:
                # Cheap checks on the original first: a wrong bundle is not copied.
                _open_checked(ctx, source, allow_downgrade).close()
                if not dry_run and source.resolve() != ctx.staged.resolve():
                    staged = stage(source, ctx.staged)
                    source = staged
        return _install_from(ctx, run, source, activate, dry_run, allow_downgrade)
    except Exception as e:  # a power cut (BaseException in the simulator) runs no cleanup
        if not isinstance(e, Interrupted):  # interrupted is resumable, not failed
            events.emit(
                events.INSTALL_FAILED,
                f"install of {bundle} failed: {e}",
                events.ERR,
                txid=run.txid,
                bundle=str(bundle),
            )
        if run.committed and not isinstance(e, Interrupted):
            _record(ctx, run.meta, "failed", run.started, error=str(e))
        if staged is not None and not run.committed and not _pending(ctx):
            staged.unlink(missing_ok=True)  # nothing refers to it before the commit
        raise
    finally:
        ctx.progress.close()


def _pending(ctx: Context) -> bool:
    """A committed plan exists (an interruption may hit between COMMIT and our bookkeeping)."""
    try:
        with ctx.open_journal() as journal:
            return pending_state(journal).kind == "pending"
    except AgentError:
        return True  # cannot tell: keep the staged bundle


@dataclass
class _Run:
    started: float
    committed: bool = False
    txid: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def _install_from(
    ctx: Context,
    run: _Run,
    source: Path,
    activate: bool,
    dry_run: bool,
    allow_downgrade: bool,
) -> InstallResult:
    cfg = ctx.config
    with _open_checked(ctx, source, allow_downgrade) as reader:
        manifest = reader.manifest
        locations = {e.target: reader.image_location(e.target) for e in manifest.images}
    flash = ctx.open_flash(not dry_run)
    try:
        gpt = read_gpt(flash.read, flash.geometry.size)
        kinds = validate_targets(gpt, locations, cfg.slots.overrides)
        rule, profile = cfg.board.rule, cfg.board.boot_profile
        if rule == BootRule.SETS and not activate:
            raise PolicyError(
                "--no-activate: under boot rule 'sets' the order of the writes is the "
                "activation, there is no separate step"
            )
        has_ab = rule == BootRule.AB_ATTRIBUTES and any(k == Kind.AB for k in kinds.values())
        view, slot = _gpt_for_backend(ctx, gpt) if has_ab else (gpt, None)
        specs = [
            ImageSpec(e.target, source, e.size, locations[e.target][0], e.sha256)
            for e in manifest.images
        ]
        running = boot_slot(view) if rule == BootRule.AB_ATTRIBUTES else None
        release = check_boot_images(flash, gpt, rule, profile, specs, running)
        in_plan = activate and ctx.backend_name == QUALCOMM
        after = activate and slot is not None and ctx.backend_name != QUALCOMM
        meta: dict[str, Any] = {
            "operation": "install",
            "started": run.started,
            "backend": ctx.backend_name,
            "rule": str(rule),
            "release": release or None,
            "bundle": {
                "path": str(source.resolve()),
                "version": manifest.version,
                "compatible": manifest.compatible,
                "description": manifest.description,
                "manifest_sha256": hashlib.sha256(manifest.raw).hexdigest(),
            },
            "images": [
                {
                    "target": e.target,
                    "kind": str(kinds[e.target]),
                    "slot": slot if kinds[e.target] == Kind.AB else None,
                    "size": e.size,
                    "sha256": e.sha256,
                    "version": e.version,
                }
                for e in manifest.images
            ],
            "activation": {"backend": ctx.backend_name, "slot": slot} if after else None,
        }
        if dry_run:
            return _dry_run(ctx, flash, view, specs, meta, manifest, slot, in_plan)
        ctx.progress.update("plan", 0, 1)
        with ctx.open_journal() as journal:
            plan = plan_install(
                flash,
                journal,
                view,
                specs,
                rule=rule,
                profile=profile,
                activate=in_plan,
                overrides=dict(cfg.slots.overrides),
                meta=meta,
            )
            run.committed = True
            run.meta = plan.meta
            run.txid = plan.meta["txid"]
            events.emit(
                events.INSTALL_STARTED,
                f"installing {manifest.version} ({', '.join(kinds)}), txid {run.txid}",
                events.NOTICE,
                txid=run.txid,
                version=manifest.version,
            )
            stats = _apply(ctx, flash, journal, plan)
    finally:
        flash.close()
    activated = finish(ctx, plan.meta, resumed=0)
    return InstallResult(
        run.txid,
        manifest.version,
        list(kinds),
        slot,
        activated or (in_plan and slot is not None),
        stats=stats,
        blocks_planned=len(plan.entries),
    )


def _dry_run(
    ctx: Context,
    flash: Flash,
    gpt: Gpt,
    specs: list[ImageSpec],
    meta: dict[str, Any],
    manifest: Manifest,
    slot: str | None,
    in_plan: bool,
) -> InstallResult:
    """Plan into a throw-away journal (hashes are checked), count blocks that differ."""
    with (
        tempfile.TemporaryDirectory(prefix="scm-fwupdate-dry-") as tmp,
        Journal(Path(tmp) / "journal") as journal,
    ):
        plan = plan_install(
            flash,
            journal,
            gpt,
            specs,
            rule=ctx.config.board.rule,
            profile=ctx.config.board.boot_profile,
            activate=in_plan,
            overrides=dict(ctx.config.slots.overrides),
            meta=meta,
        )
        differ = sum(
            1
            for e in plan.entries
            if hashlib.sha256(flash.read(e.offset, e.length)).digest() != e.sha256
        )
    return InstallResult(
        None,
        manifest.version,
        [s.target for s in specs],
        slot,
        False,
        dry_run=True,
        blocks_planned=len(plan.entries),
        blocks_to_write=differ,
    )


def _apply(
    ctx: Context, flash: Flash, journal: Journal, plan: Any, start: int = -1
) -> dict[str, int]:
    """Walk the plan with progress; signals stop it between blocks."""

    def progress(done: int, total: int, step: str) -> None:
        ctx.progress.update(step or "write", done, total)
        ctx.stop.check()

    with ctx.stop.writing():
        ctx.stop.check()
        stats = apply_plan(flash, journal, plan, progress=progress)
    return dict(vars(stats))


def finish(ctx: Context, meta: dict[str, Any], resumed: int) -> bool:
    """After DONE: activate through a non-GPT backend, record, clean up. Idempotent."""
    activated = False
    act = meta.get("activation")
    with ctx.stop.writing():
        if act and act.get("slot"):
            ctx.progress.update("activate", 0, 1)
            ctx.boot_backend().activate(act["slot"])
            activated = True
            events.emit(
                events.SLOT_CHANGED,
                f"slot {act['slot']} activated through {act['backend']}",
                events.NOTICE,
                txid=meta.get("txid"),
                slot=act["slot"],
            )
        _record(ctx, meta, "success", meta.get("started"), resumed=resumed)
    path = (meta.get("bundle") or {}).get("path")
    if path and Path(path).name == STAGED_NAME:
        Path(path).unlink(missing_ok=True)
    version = (meta.get("bundle") or {}).get("version")
    events.emit(
        events.INSTALL_FINISHED,
        f"installed {version}, txid {meta.get('txid')}"
        + (f" after {resumed} resume(s)" if resumed else ""),
        events.NOTICE,
        txid=meta.get("txid"),
        version=version,
    )
    ctx.progress.finish()
    return activated


def _record(
    ctx: Context,
    meta: dict[str, Any],
    result: str,
    started: float | None,
    resumed: int = 0,
    error: str | None = None,
) -> None:
    bundle = meta.get("bundle") or {}
    record: dict[str, Any] = {
        "operation": "install",
        "txid": meta.get("txid"),
        "version": bundle.get("version"),
        "compatible": bundle.get("compatible"),
        "manifest_sha256": bundle.get("manifest_sha256"),
        "release": meta.get("release"),
        "targets": [i["target"] for i in meta.get("images", [])],
        "images": meta.get("images", []),
        "backend": meta.get("backend"),
        "result": result,
        "duration": round(time.time() - started, 3) if started else None,
        "resumed": resumed,
    }
    if error:
        record["error"] = error
    history.append(ctx.config.history, record)


# --------------------------------------------------------------------------- resume


@dataclass
class ResumeResult:
    state: str  # what the journal held: idle | uncommitted | pending | done | abandoned
    action: str  # nothing | aborted | finished | completed
    txid: str | None = None
    operation: str | None = None


def detect_fallback(ctx: Context) -> fallback.Fallback | None:
    """Did the chain fall back at this boot? (Nothing recorded; see check_boot.)"""
    try:
        flash = ctx.open_flash(False)
        try:
            gpt = read_gpt(flash.read, flash.geometry.size, strict=False)
            names = set(gpt.names())
            p = gpt.find(RECOVERYINFO) if RECOVERYINFO in names else None
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


def run_resume(ctx: Context) -> ResumeResult:
    """Finish whatever the journal holds; safe to run at every boot. Caller holds the lock."""
    check_boot(ctx)
    if not has_journal(ctx):
        ctx.staged.unlink(missing_ok=True)
        return ResumeResult("idle", "nothing")
    with ctx.open_journal() as journal:
        state = pending_state(journal)
        meta = state.meta
        txid = meta.get("txid")
        op = meta.get("operation")
        if state.kind == "abandoned":
            raise JournalError(
                f"update {txid} was given up ({state.detail}); install a bundle again"
            )
        if state.kind == "idle":
            # A cut before the plan reached the journal can leave a staged bundle
            # that nothing refers to.
            ctx.staged.unlink(missing_ok=True)
            return ResumeResult("idle", "nothing")
        if state.kind == "uncommitted":
            resume(ctx.open_flash(False), journal)  # drops it: nothing was written
            _drop_staged(meta)
            return ResumeResult("uncommitted", "aborted", txid, op)
        if state.kind == "done":
            if op == "install" and not history.finished(ctx.config.history, txid or ""):
                resumes = sum(1 for r in journal.records if r.type.name == "RESUME")
                finish(ctx, meta, resumed=resumes)
                return ResumeResult("done", "finished", txid, op)
            ctx.staged.unlink(missing_ok=True)
            return ResumeResult("done", "nothing", txid, op)
        events.emit(
            events.INSTALL_RESUMED,
            f"resuming {op or 'update'} {txid} at step {state.next_index} "
            f"(attempt {state.resumes + 1})",
            events.NOTICE,
            txid=txid,
        )
        flash = ctx.open_flash(True)
        try:

            def progress(done: int, total: int, step: str) -> None:
                ctx.progress.update(step or "write", done, total)
                ctx.stop.check()

            with ctx.stop.writing():
                resume(
                    flash,
                    journal,
                    max_attempts=ctx.config.max_resume_attempts,
                    progress=progress,
                )
        except JournalError as e:
            events.emit(events.INSTALL_FAILED, f"resume of {txid} failed: {e}", events.ERR)
            raise
        finally:
            flash.close()
            ctx.progress.close()
        resumes = state.resumes + 1
    if op == "install":
        finish(ctx, meta, resumed=resumes)
    else:
        ctx.progress.finish()
    return ResumeResult("pending", "completed", txid, op)


def _drop_staged(meta: dict[str, Any]) -> None:
    path = (meta.get("bundle") or {}).get("path")
    if path and Path(path).name == STAGED_NAME:
        Path(path).unlink(missing_ok=True)


# --------------------------------------------------------------------------- verify


def run_verify(ctx: Context) -> dict[str, Any]:
    """GPT copies, journal state, installed images against the last install's hashes."""
    problems: list[str] = []
    report: dict[str, Any] = {"gpt": {}, "journal": {}, "images": []}
    state, kind = None, "idle"
    if has_journal(ctx):
        with ctx.open_journal() as journal:
            state = unfinished(ctx, journal)
            kind = pending_state(journal).kind
    report["journal"] = {"state": kind, "unfinished": state is not None}
    if state is not None:
        problems.append(f"journal: an update ({state.meta.get('txid')}) is not finished")
    if kind == "abandoned":
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
            names = {
                "ab": [f"{img['target']}_{img.get('slot')}"],
                "primary-backup": [img["target"], img["target"] + BACKUP_SUFFIX],
                "single": [img["target"]],
            }.get(img.get("kind"), [])
            for name in names:
                try:
                    p = gpt.find(name)
                    digest = _hash_region(flash, p.offset, int(img["size"]))
                    ok = digest == img["sha256"]
                except AgentError as e:
                    ok, digest = False, str(e)
                report["images"].append({"partition": name, "ok": ok})
                if not ok:
                    problems.append(f"{name}: content differs from the installed {img['target']}")
    finally:
        flash.close()
    report["ok"] = not problems
    report["problems"] = problems
    return report


def _hash_region(flash: Flash, offset: int, size: int) -> str:
    h = hashlib.sha256()
    for pos in range(0, size, COPY_CHUNK):
        h.update(flash.read(offset + pos, min(COPY_CHUNK, size - pos)))
    return h.hexdigest()


# --------------------------------------------------------------------------- backup


def run_backup(ctx: Context, output: Path) -> str:
    """Dump the whole flash to output (streamed), write output.sha256; returns the hex."""
    flash = ctx.open_flash(False)
    tmp = output.with_name(output.name + ".tmp")
    h = hashlib.sha256()
    try:
        size = flash.geometry.size
        with open(tmp, "wb") as out:
            for pos in range(0, size, COPY_CHUNK):
                data = flash.read(pos, min(COPY_CHUNK, size - pos))
                h.update(data)
                out.write(data)
                ctx.progress.update("backup", pos + len(data), size)
                ctx.stop.check()
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, output)
        digest = h.hexdigest()
        Path(str(output) + ".sha256").write_text(f"{digest}  {output.name}\n")
    except OSError as e:
        raise AgentError(f"cannot write backup {output}: {e.strerror}") from None
    finally:
        tmp.unlink(missing_ok=True)
        flash.close()
        ctx.progress.close()
    ctx.progress.finish("backup")
    return digest


# --------------------------------------------------------------------------- inbox


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
