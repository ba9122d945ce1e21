"""``install``: bundle -> checks -> target -> record -> plan -> commit -> apply -> finish.

``run_install`` reads as the pipeline docs/architecture.md draws:

1. **stage**: the bundle under the state directory, after its signed manifest
   was accepted (staging.py);
2. **check**: compatible, downgrade, targets, sizes, and every boot image as
   the boot chain checks it (bootset.py);
3. **target**: which copies are written, from the board's boot rule and, for
   A/B slots, the boot backend;
4. **record**: the typed install record (record.py) that resume finishes with;
5. **plan**: every block's target hash and source, in safety order
   (strategies.py), written to the journal;
6. **commit**: from here on the update must be finished (transaction.py);
7. **apply**: erase, program and read back block by block;
8. **finish**: activation through a backend other than the GPT's, history,
   cleanup. ``resume`` reuses 7 and 8.

Everything that can reject an update runs before step 6, so a rejected
bundle leaves the flash untouched.
"""

from __future__ import annotations

import hashlib
import stat
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from . import events, history
from .bootset import check_boot_images
from .bundle import BundleReader
from .config import Backend
from .context import Context, has_journal, require_idle
from .errors import AgentError, BundleError, Interrupted, PolicyError
from .flash import Flash
from .gpt import AB_MAX_RETRY, Gpt, boot_slot, read_gpt, slot_attributes
from .journal import Journal
from .manifest import Manifest, compare_versions
from .plan import Plan
from .profile import BootRule
from .record import Activation, BundleInfo, ImageRecord, InstallRecord, InstallResult
from .slots import booted_slot, validate_targets
from .staging import stage_file, stage_stream
from .strategies import ImageSpec, Kind, other_slot, plan_install
from .transaction import ApplyStats, PlanBuilder, StateKind, pending_state
from .transaction import apply as apply_plan


@dataclass
class _Run:
    """Where the install got to, for the error path."""

    started: float
    committed: bool = False
    record: InstallRecord | None = None


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
        source, staged = stage(ctx, bundle, dry_run, allow_downgrade, stdin)
        return _install(ctx, run, source, activate, dry_run, allow_downgrade)
    except Exception as e:  # a power cut (BaseException in the simulator) runs no cleanup
        txid = run.record.txid if run.record else None
        if not isinstance(e, Interrupted):  # interrupted is resumable, not failed
            events.emit(
                events.INSTALL_FAILED,
                f"install of {bundle} failed: {e}",
                events.ERR,
                txid=txid,
                bundle=str(bundle),
            )
        if run.committed and run.record and not isinstance(e, Interrupted):
            history.append(ctx.config.history, run.record.history_entry("failed", error=str(e)))
        if staged is not None and not run.committed and not _pending(ctx):
            staged.unlink(missing_ok=True)  # nothing refers to it before the commit
        raise
    finally:
        ctx.progress.close()


# ------------------------------------------------------------------ 1. stage


def stage(
    ctx: Context, bundle: str | Path, dry_run: bool, allow_downgrade: bool, stdin: BinaryIO | None
) -> tuple[Path, Path | None]:
    """(the file to install from, the staged copy or None)."""

    def check(manifest: Manifest) -> None:
        check_manifest(ctx, manifest, allow_downgrade)

    keyring = ctx.config.keyring
    if str(bundle) == "-":
        if dry_run:
            raise BundleError("--dry-run needs a bundle file, not stdin")
        staged = stage_stream(stdin or sys.stdin.buffer, ctx.staged, keyring, check)
        return staged, staged
    source = Path(bundle)
    try:
        st = source.stat()
    except OSError as e:
        raise BundleError(f"{source}: cannot open bundle: {e.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise BundleError(f"{source}: is a directory, not a bundle file")
    if not stat.S_ISREG(st.st_mode):  # a pipe, FIFO or device: cannot seek, stage it
        if dry_run:
            raise BundleError("--dry-run needs a regular bundle file")
        try:
            with open(source, "rb") as f:
                staged = stage_stream(f, ctx.staged, keyring, check)
        except OSError as e:
            raise BundleError(f"{source}: cannot open bundle: {e.strerror}") from None
        return staged, staged
    if dry_run:
        with BundleReader.open(source, keyring) as reader:
            check(reader.manifest)
        return source, None
    staged = stage_file(source, ctx.staged, keyring, check)
    return staged, (staged if staged.resolve() != source.resolve() else None)


# ------------------------------------------------------------------ 2. check


def check_manifest(ctx: Context, manifest: Manifest, allow_downgrade: bool) -> None:
    cfg = ctx.config
    if manifest.compatible != cfg.compatible:
        raise PolicyError(
            f"bundle is for '{manifest.compatible}', this device is '{cfg.compatible}'"
        )
    floor = cfg.min_version
    if floor and compare_versions(manifest.version, floor) < 0:
        raise PolicyError(
            f"bundle version {manifest.version} is below min_version {floor} of "
            f"{cfg.source or 'the configuration'} (--allow-downgrade does not override it)"
        )
    last = history.last_success(cfg.history)
    installed = str(last.get("version") or "") if last else ""
    if installed and not allow_downgrade and compare_versions(manifest.version, installed) < 0:
        raise PolicyError(
            f"bundle version {manifest.version} is older than the installed "
            f"{installed} (use --allow-downgrade)"
        )


# ------------------------------------------------------------------ 3. target


@dataclass(frozen=True)
class Target:
    """What the install writes: the kinds of its targets, and for A/B slots which one."""

    kinds: dict[str, Kind]
    view: Gpt  # the table the planner sees (see ab_view)
    slot: str | None  # the A/B slot written (rule ab-attributes), else None
    in_plan: bool  # the slot switch is the plan's last step (GPT backend)
    activation: Activation | None  # ... or a backend call after DONE


def choose_target(ctx: Context, gpt: Gpt, targets: list[str], activate: bool) -> Target:
    cfg = ctx.config
    kinds = validate_targets(gpt, targets, cfg.slots.overrides)
    rule = cfg.board.rule
    if rule == BootRule.SETS and not activate:
        raise PolicyError(
            "--no-activate: under boot rule 'sets' the order of the writes is the "
            "activation, there is no separate step"
        )
    has_ab = rule == BootRule.AB_ATTRIBUTES and Kind.AB in kinds.values()
    view, slot = ab_view(ctx, gpt) if has_ab else (gpt, None)
    gpt_backend = ctx.backend_name == Backend.QUALCOMM_GPT
    after = activate and slot is not None and not gpt_backend
    return Target(
        kinds,
        view,
        slot,
        in_plan=activate and gpt_backend,
        activation=Activation(ctx.backend_name, slot) if after and slot else None,
    )


def ab_view(ctx: Context, gpt: Gpt) -> tuple[Gpt, str | None]:
    """The table the planner sees, and the slot it will write (None: no A/B pairs).

    The planner writes the slot the GPT does not select. With the Qualcomm
    backend that is the truth. With another backend the GPT bits only mirror
    it: the table is presented with the booted slot as the selected one, so
    the planner never writes the running slot.
    """
    selected = boot_slot(gpt)
    booted, source = booted_slot(gpt, ctx.cmdline)
    if ctx.backend_name == Backend.QUALCOMM_GPT:
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


# ------------------------------------------------------------------ 4. record


def make_record(
    ctx: Context, run: _Run, source: Path, manifest: Manifest, target: Target, release: str
) -> InstallRecord:
    return InstallRecord(
        started=run.started,
        backend=str(ctx.backend_name),
        rule=str(ctx.config.board.rule),
        bundle=BundleInfo(
            path=str(source.resolve()),
            version=manifest.version,
            compatible=manifest.compatible,
            manifest_sha256=hashlib.sha256(manifest.raw).hexdigest(),
            description=manifest.description,
        ),
        images=tuple(
            ImageRecord(
                target=e.target,
                kind=str(target.kinds[e.target]),
                size=e.size,
                sha256=e.sha256,
                slot=target.slot if target.kinds[e.target] == Kind.AB else None,
                version=e.version,
            )
            for e in manifest.images
        ),
        activation=target.activation,
        release=release or None,
    )


# ------------------------------------------------------------- 5.-8. the rest


def _install(
    ctx: Context,
    run: _Run,
    source: Path,
    activate: bool,
    dry_run: bool,
    allow_downgrade: bool,
) -> InstallResult:
    cfg = ctx.config
    with BundleReader.open(source, cfg.keyring) as reader:
        manifest = reader.manifest
        check_manifest(ctx, manifest, allow_downgrade)
        locations = {e.target: reader.image_location(e.target) for e in manifest.images}
    flash = ctx.open_flash(not dry_run)
    try:
        gpt = read_gpt(flash.read, flash.geometry.size)
        target = choose_target(ctx, gpt, list(locations), activate)
        specs = [
            ImageSpec(e.target, source, e.size, locations[e.target][0], e.sha256)
            for e in manifest.images
        ]
        running = boot_slot(target.view) if cfg.board.rule == BootRule.AB_ATTRIBUTES else None
        rule, profile = cfg.board.rule, cfg.board.boot_profile
        release = check_boot_images(flash, gpt, rule, profile, specs, running)
        record = make_record(ctx, run, source, manifest, target, release)
        if dry_run:
            return _dry_run(ctx, flash, target, specs, record)
        # Everything the install writes besides the flash must take it before the
        # flash is touched (the journal is opened, and written, next).
        history.check_writable(cfg.history)
        ctx.progress.update("plan", 0, 1)
        with ctx.open_journal() as journal:
            plan = _plan(ctx, flash, journal, target, specs, record).commit()
            run.committed = True
            run.record = InstallRecord.from_meta(plan.meta)
            events.emit(
                events.INSTALL_STARTED,
                f"installing {manifest.version} ({', '.join(target.kinds)}), "
                f"txid {run.record.txid}",
                events.NOTICE,
                txid=run.record.txid,
                version=manifest.version,
            )
            stats = apply(ctx, flash, journal, plan)
    finally:
        flash.close()
    activated = finish(ctx, run.record, resumed=0)
    return InstallResult(
        run.record.txid,
        manifest.version,
        list(target.kinds),
        target.slot,
        activated or (target.in_plan and target.slot is not None),
        stats=dict(vars(stats)),
        blocks_planned=len(plan.entries),
    )


def _plan(
    ctx: Context,
    flash: Flash,
    journal: Journal,
    target: Target,
    specs: list[ImageSpec],
    record: InstallRecord,
) -> PlanBuilder:
    return plan_install(
        flash,
        journal,
        target.view,
        specs,
        rule=ctx.config.board.rule,
        profile=ctx.config.board.boot_profile,
        activate=target.in_plan,
        overrides=dict(ctx.config.slots.overrides),
        meta=record.to_meta(),
    )


def _dry_run(
    ctx: Context, flash: Flash, target: Target, specs: list[ImageSpec], record: InstallRecord
) -> InstallResult:
    """Plan into a throw-away journal (hashes are checked), count blocks that differ."""
    with (
        tempfile.TemporaryDirectory(prefix="scm-fwupdate-dry-") as tmp,
        Journal(Path(tmp) / "journal") as journal,
    ):
        plan = _plan(ctx, flash, journal, target, specs, record).commit()
        differ = sum(
            1
            for e in plan.entries
            if hashlib.sha256(flash.read(e.offset, e.length)).digest() != e.sha256
        )
    return InstallResult(
        None,
        record.bundle.version,
        [s.target for s in specs],
        target.slot,
        False,
        dry_run=True,
        blocks_planned=len(plan.entries),
        blocks_to_write=differ,
    )


def apply(ctx: Context, flash: Flash, journal: Journal, plan: Plan) -> ApplyStats:
    """7. Walk the plan with progress; signals stop it between blocks."""
    with ctx.stop.writing():
        ctx.stop.check()
        return apply_plan(flash, journal, plan, progress=ctx.progress_fn())


def finish(ctx: Context, record: InstallRecord, resumed: int) -> bool:
    """8. After DONE: activate through a non-GPT backend, record, clean up. Idempotent."""
    activated = False
    act = record.activation
    with ctx.stop.writing():
        if act is not None:
            ctx.progress.update("activate", 0, 1)
            ctx.boot_backend().activate(act.slot)
            activated = True
            events.emit(
                events.SLOT_CHANGED,
                f"slot {act.slot} activated through {act.backend}",
                events.NOTICE,
                txid=record.txid,
                slot=act.slot,
            )
        history.append(ctx.config.history, record.history_entry("success", resumed=resumed))
    if record.staged is not None:
        record.staged.unlink(missing_ok=True)
    events.emit(
        events.INSTALL_FINISHED,
        f"installed {record.bundle.version}, txid {record.txid}"
        + (f" after {resumed} resume(s)" if resumed else ""),
        events.NOTICE,
        txid=record.txid,
        version=record.bundle.version,
    )
    ctx.progress.finish()
    return activated


def _pending(ctx: Context) -> bool:
    """A committed plan exists (an interruption may hit between COMMIT and our bookkeeping)."""
    if not has_journal(ctx):
        return False  # and a refused install creates none
    try:
        with ctx.open_journal() as journal:
            return pending_state(journal).kind == StateKind.PENDING
    except AgentError:
        return True  # cannot tell: keep the staged bundle
