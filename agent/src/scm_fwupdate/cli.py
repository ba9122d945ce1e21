"""The ``scm-fwupdate`` command line.

Exit codes are the ``exit_code`` of the error classes (errors.exit_codes(),
shown by ``--help``). Errors are one line on stderr:
``scm-fwupdate: error: <message>``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from . import __version__, capsule, events, probe, status
from .backup import run_backup
from .bundle import bundle_info, verify_bundle
from .config import Backend, Config, load_config
from .context import (
    Context,
    make_context,
    rebase_state_dir,
    require_idle,
)
from .errors import (
    AgentError,
    BootError,
    BundleError,
    ConfigError,
    Interrupted,
    VerifyError,
    exit_codes,
)
from .gpt import read_gpt, slot_pairs
from .inbox import run_inbox
from .install import run_install
from .lock import InstanceLock
from .manifest import ALGORITHMS
from .profile import BootRule
from .progress import MODES, Progress
from .resume import run_resume
from .slots import booted_slot
from .verify import run_verify

PROG = "scm-fwupdate"


def printable(text: str) -> str:
    """Control characters (from a file name, a bundle) escaped, not sent to the terminal."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


EXIT_CODES_HELP = "exit codes:\n" + textwrap.fill(
    ", ".join(["0 ok"] + [f"{code} {summary}" for code, _name, summary in exit_codes()]),
    width=78,
    initial_indent="  ",
    subsequent_indent="  ",
)


class UsageError(AgentError):
    exit_code = 1


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _global_options(p: argparse.ArgumentParser, suppress: bool) -> None:
    d = argparse.SUPPRESS if suppress else None
    p.add_argument(
        "--config",
        type=Path,
        default=d,
        help="configuration file (default /etc/scm-fwupdate.yaml; may be missing)",
    )
    p.add_argument("--device", default=d, help="MTD name, /dev/mtdN or NOR image file")
    p.add_argument("--state-dir", type=Path, default=d, help="override config state_dir")
    p.add_argument(
        "--progress",
        choices=MODES,
        default=argparse.SUPPRESS if suppress else "auto",
        help="auto: a bar on a terminal; json: one JSON object per line on stdout",
    )


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(
        prog=PROG,
        description="Power-fail-safe boot firmware updates on SPI-NOR.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _global_options(ap, suppress=False)
    common = _Parser(add_help=False)
    _global_options(common, suppress=True)
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def cmd(name: str, help_: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_, description=help_, parents=[common])

    p = cmd("status", "show slots, boot state, journal and installed version")
    p.add_argument("--json", action="store_true")
    p = cmd("probe", "read-only report of the boot chain's evidence, to send back (docs/probe.md)")
    p.add_argument("--json", action="store_true")
    p = cmd("install", "install a signed bundle ('-' reads it from stdin)")
    p.add_argument("bundle")
    p.add_argument("--no-activate", action="store_true", help="write, but do not switch slots")
    p.add_argument("--dry-run", action="store_true", help="check and plan only; write nothing")
    p.add_argument("--allow-downgrade", action="store_true")
    p = cmd("install-inbox", "install every bundle in the inbox (systemd path unit)")
    p.add_argument("--allow-downgrade", action="store_true")
    p = cmd("resume", "finish an interrupted update (run at boot)")
    p.add_argument(
        "--set-aside",
        action="store_true",
        help="rename a damaged journal (kept for inspection) so that installs can start again",
    )
    p = cmd("mark-good", "mark the booted slot (or SLOT) good")
    p.add_argument("slot", nargs="?")
    p = cmd("mark-bad", "mark the booted slot (or SLOT) bad")
    p.add_argument("slot", nargs="?")
    p.add_argument(
        "--force", action="store_true", help="even if no other slot is bootable (then none is)"
    )
    p = cmd("activate", "make SLOT boot next")
    p.add_argument("slot")
    p = cmd("verify", "check GPT copies, journal and installed images")
    p.add_argument("--json", action="store_true")
    p = cmd("backup", "dump the whole flash to a file (and FILE.sha256)")
    p.add_argument("--output", type=Path, required=True)

    p = cmd("bundle", "create and inspect bundles (host side)")
    bsub = p.add_subparsers(dest="bundle_command", required=True, parser_class=_Parser)
    b = bsub.add_parser("create", help="write a signed bundle")
    b.add_argument("--key", type=Path, required=True, help="private signing key (PEM)")
    b.add_argument("--compatible", required=True)
    b.add_argument("--version", dest="bundle_version", required=True)
    b.add_argument("--description")
    b.add_argument("--created", help="ISO 8601 timestamp to record (omitted by default)")
    b.add_argument(
        "--image", action="append", required=True, metavar="TARGET=FILE", help="repeatable"
    )
    b.add_argument("--output", type=Path, required=True)
    b.add_argument(
        "--erase",
        action="append",
        default=[],
        metavar="TARGET",
        help="TARGET's image is empty on purpose: the install erases it (repeatable)",
    )
    b = bsub.add_parser("info", help="show a bundle's manifest")
    b.add_argument("bundle", type=Path)
    b.add_argument("--keyring", type=Path)
    b.add_argument("--json", action="store_true")
    b = bsub.add_parser("verify", help="check signature and every image hash")
    b.add_argument("bundle", type=Path)
    b.add_argument("--keyring", type=Path, required=True)

    p = cmd("keygen", "create a signing key pair (host side)")
    p.add_argument("--private", type=Path, required=True)
    p.add_argument("--public", type=Path, required=True)
    p.add_argument("--algorithm", choices=ALGORITHMS, default="ed25519")
    p.add_argument("--certificate", type=Path, help="also write a self-signed certificate")
    p.add_argument("--cn", default="scm-fwupdate signer", help="certificate common name")
    return ap


# --------------------------------------------------------------------------- plumbing


def load(args: argparse.Namespace) -> Config:
    cfg = load_config(args.config, missing_ok=args.config is None)
    if args.state_dir is not None:
        cfg = rebase_state_dir(cfg, args.state_dir.absolute())
    return cfg


@contextmanager
def _signals(ctx: Context) -> Iterator[None]:
    """SIGINT/SIGTERM go through the context's stop flag (clean stop between blocks)."""
    old = {s: signal.signal(s, ctx.stop.handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _out(line: str) -> None:
    # One line each call: a bundle field or file name may carry control characters,
    # a line break included (a forged "signature:" line), so all of them are escaped.
    print(printable(line), flush=True)


def _json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str), flush=True)


# --------------------------------------------------------------------------- commands


def cmd_status(ctx: Context, args: argparse.Namespace) -> int:
    info = status.gather(ctx)
    if args.json:
        _json(info)
    else:
        for line in status.render(info):
            _out(line)
    return 0


def cmd_install(ctx: Context, args: argparse.Namespace) -> int:
    r = run_install(
        ctx,
        args.bundle,
        activate=not args.no_activate,
        dry_run=args.dry_run,
        allow_downgrade=args.allow_downgrade,
    )
    if r.dry_run:
        _out(
            f"dry run: bundle {r.version} is acceptable; {r.blocks_to_write} of "
            f"{r.blocks_planned} planned blocks differ"
            + (f"; would write slot {r.slot}" if r.slot else "")
        )
        return 0
    where = f" into slot {r.slot}" if r.slot else ""
    state = (
        "activated: reboot to use it"
        if r.activated
        else ("not activated: run 'activate " + r.slot + "'" if r.slot else "done")
    )
    _out(f"installed {r.version}{where} ({', '.join(r.targets)}); {state}")
    return 0


def cmd_resume(ctx: Context, args: argparse.Namespace) -> int:
    r = run_resume(ctx, set_aside=args.set_aside)
    messages = {
        "set-aside": f"damaged journal of update {r.txid} kept as {r.kept}",
        "nothing": "nothing to resume",
        "aborted": f"dropped the uncommitted update {r.txid} (nothing had been written)",
        "finished": f"finished update {r.txid}",
        "completed": f"completed interrupted {r.operation or 'update'} {r.txid}",
    }
    _out(messages[r.action])
    return 0


def _has_slots(ctx: Context) -> bool:
    flash = ctx.open_flash(False)
    try:
        return bool(slot_pairs(read_gpt(flash.read, flash.geometry.size, strict=False)))
    finally:
        flash.close()


def _default_slot(ctx: Context, slot: str | None) -> str:
    if slot:
        return slot
    flash = ctx.open_flash(False)
    try:
        gpt = read_gpt(flash.read, flash.geometry.size, strict=False)
    finally:
        flash.close()
    booted, source = booted_slot(gpt, ctx.cmdline)
    if source != "cmdline" and ctx.config.boot.backend != Backend.QUALCOMM_GPT:
        booted = ctx.boot_backend().primary()
    if booted is None:
        raise UsageError("cannot tell which slot is booted: name the slot")
    return booted


def cmd_mark(ctx: Context, args: argparse.Namespace) -> int:
    require_idle(ctx)
    rule = ctx.config.board.rule
    if rule != BootRule.AB_ATTRIBUTES:
        if args.command != "mark-good":
            raise BootError(
                f"{args.command}: under boot rule '{rule}' the boot chain picks no slot; "
                "an install's order of writes decides what boots"
            )
        # The unit that runs mark-good at every boot must not fail on such a board.
        _out(f"boot rule '{rule}': nothing to confirm")
        return 0
    if ctx.config.boot.backend == Backend.QUALCOMM_GPT and not _has_slots(ctx):
        if args.command != "mark-good":
            raise BootError("the GPT has no _a/_b partitions: nothing to select")
        # The unit that runs mark-good at every boot must not fail on such a board.
        _out("no A/B slots in the GPT: nothing to mark")
        return 0
    slot = _default_slot(ctx, args.slot).lower()
    backend = ctx.boot_backend()
    if args.command == "mark-good":
        current = {s.name: s for s in backend.state()}.get(slot)
        if current is not None and current.good:
            _out(f"slot {slot} is already marked good")
            return 0  # no write: this runs at every boot
        backend.mark_good(slot)
        _out(f"slot {slot} marked good")
    elif args.command == "mark-bad":
        others = [s for s in backend.state() if s.name != slot and s.bootable]
        if not others and not args.force:
            raise BootError(
                f"marking slot {slot} bad would leave no bootable slot (the other one is not "
                "bootable either); use --force to do it anyway"
            )
        backend.mark_bad(slot)
        _out(f"slot {slot} marked bad")
    else:
        backend.activate(slot)
        _out(f"slot {slot} activated: it boots next")
    events.emit(events.SLOT_CHANGED, f"{args.command} {slot}", events.NOTICE, slot=slot)
    return 0


def cmd_verify(ctx: Context, args: argparse.Namespace) -> int:
    report = run_verify(ctx)
    if args.json:
        _json(report)
    else:
        for img in report["images"]:
            _out(f"{img['partition']}: {'ok' if img['ok'] else 'MISMATCH'}")
        g = report["gpt"]
        _out(
            f"gpt: primary {'ok' if g['primary_ok'] else 'BAD'}, "
            f"backup {'ok' if g['backup_ok'] else 'BAD'}"
        )
        _out(f"journal: {report['journal']['state']}")
    if not report["ok"]:
        raise VerifyError("; ".join(report["problems"]))
    return 0


def cmd_backup(ctx: Context, args: argparse.Namespace) -> int:
    digest = run_backup(ctx, args.output)
    _out(f"{digest}  {args.output}")
    return 0


def cmd_inbox(ctx: Context, args: argparse.Namespace) -> int:
    results = run_inbox(ctx, allow_downgrade=args.allow_downgrade)
    for path, outcome in results:
        _out(f"{path.name}: {outcome}")
    if any(o == "failed" for _p, o in results):
        raise AgentError(f"{sum(o == 'failed' for _p, o in results)} bundle(s) failed")
    return 0


def cmd_bundle(args: argparse.Namespace) -> int:
    if args.bundle_command == "create":
        images = []
        for spec in args.image:
            target, sep, file = spec.partition("=")
            if not sep or not target or not file:
                raise UsageError(f"--image {spec!r}: expected TARGET=FILE")
            images.append((target, Path(file)))
        fields: dict[str, Any] = {"compatible": args.compatible, "version": args.bundle_version}
        if args.description is not None:
            fields["description"] = args.description
        if args.created is not None:
            fields["created"] = args.created
        from .packing import create_bundle  # host side only

        m = create_bundle(args.output, fields, images, args.key, erase=args.erase)
        _out(f"{args.output}: {m.compatible} {m.version}, {len(m.images)} image(s)")
        return 0
    if args.bundle_command == "info":
        info = bundle_info(args.bundle, args.keyring)
        if args.json:
            _json(info)
            return 0
        _out(f"compatible: {info['compatible']}")
        _out(f"version:    {info['version']}")
        if info.get("description"):
            _out(f"description: {info['description']}")
        sig = info["signature"]
        _out(f"signature:  {sig['status']}" + (f" ({sig['signer']})" if sig["signer"] else ""))
        for img in info["images"]:
            _out(f"  {img['target']:<16} {img['size']:>10}  {img['sha256']}  {img['file']}")
        return 0
    m = verify_bundle(args.bundle, args.keyring)
    _out(f"{args.bundle}: signature and {len(m.images)} image hash(es) ok ({m.version})")
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    for path in (args.private, args.public):
        if path.exists():  # never overwrite a signing key by accident
            raise ConfigError(f"{path} already exists: remove it first")
    from . import keys  # cryptography's key generation: host side only

    key = keys.generate_keypair(args.private, args.public, args.algorithm)
    if args.certificate:
        keys.generate_certificate(args.private, args.cn, args.certificate)
    _out(f"key {keys.key_fingerprint(key)}: private {args.private}, public {args.public}")
    return 0


def cmd_probe(ctx: Context, args: argparse.Namespace) -> int:
    info = probe.gather(ctx)
    if args.json:
        _json(info)
    else:
        for line in probe.render(info):
            _out(line)
    return 0


COMMANDS: dict[str, tuple[Callable[[Context, argparse.Namespace], int], bool, bool]] = {
    # name: (function, takes the lock, writes the flash)
    "status": (cmd_status, False, False),
    "probe": (cmd_probe, False, False),
    "install": (cmd_install, True, True),
    "install-inbox": (cmd_inbox, True, True),
    "resume": (cmd_resume, True, True),
    "mark-good": (cmd_mark, True, True),
    "mark-bad": (cmd_mark, True, True),
    "activate": (cmd_mark, True, True),
    "verify": (cmd_verify, True, False),
    "backup": (cmd_backup, True, False),
}


def run(args: argparse.Namespace, context: Context | None = None) -> int:
    if args.command == "bundle":
        return cmd_bundle(args)
    if args.command == "keygen":
        return cmd_keygen(args)
    if context is None:
        cfg = load(args)
        ctx = make_context(cfg, args.device, Progress(args.progress))
    else:
        ctx = context
    func, locked, writes = COMMANDS[args.command]
    if writes:  # never beside a staged UEFI capsule (capsule.py)
        board = ctx.config.board
        capsule.refuse_if_staged(capsule.read_state(board.efivars, board.esp), args.command)
    with _signals(ctx):
        if not locked:
            return func(ctx, args)
        with InstanceLock(ctx.config.lock):
            return func(ctx, args)


def main(argv: Sequence[str] | None = None, context: Context | None = None) -> int:
    """Entry point; ``context`` lets tests inject a simulated flash, journal or backend."""
    try:
        args = build_parser().parse_args(argv)
        return run(args, context)
    except Interrupted as e:
        _error(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        _error("interrupted; if an update was being written, run 'scm-fwupdate resume'")
        return 130
    except AgentError as e:
        _error(str(e))
        return e.exit_code
    except BrokenPipeError:
        return 1
    except OSError as e:  # unexpected I/O trouble: still one line, no traceback
        _error(f"{e.filename + ': ' if e.filename else ''}{e.strerror or e}")
        return 1
    except Exception as e:  # a bug: one line; SCM_FWUPDATE_DEBUG=1 shows the traceback
        if os.environ.get("SCM_FWUPDATE_DEBUG"):
            raise
        _error(f"internal error: {type(e).__name__}: {e} (SCM_FWUPDATE_DEBUG=1 for details)")
        return 1


def _error(message: str) -> None:
    text = printable(" ".join(message.split()))  # one line, whatever the message holds
    print(f"{PROG}: error: {text}", file=sys.stderr, flush=True)


__all__ = ["BundleError", "build_parser", "main"]
