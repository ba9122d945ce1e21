"""``status``: what the flash, the boot chain, the journal and the history say."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from . import capsule, history
from .bootset import BootReport, SetState, copies_view, evaluate
from .context import Context, has_journal
from .errors import AgentError
from .fallback import Fallback
from .gpt import read_gpt
from .profile import BootRule
from .resume import detect_fallback
from .slots import booted_slot
from .slots import status as slot_status
from .transaction import JournalState, StateKind, pending_state


def _set_view(state: SetState) -> dict[str, Any]:
    return {
        "bootable": state.bootable,
        "release": next(iter(state.releases)) if len(state.releases) == 1 else None,
        "problem": state.why_not() or None,
        "images": {
            name: {
                "partition": c.partition,
                "valid": c.info is not None,
                "error": c.error,
                "release": c.info.release if c.info else None,
                "version": c.info.version if c.info else None,
            }
            for name, c in state.images.items()
        },
    }


def _booted_set(
    rule: BootRule, report: BootReport | None, found: Fallback | None
) -> dict[str, Any]:
    """Which boot set runs, and who says so: never guessed from the flash as it is now."""
    if rule != BootRule.SETS:
        return {"set": None, "source": None}
    if report is not None and report.set:
        return {"set": report.set, "source": "boot chain"}
    if found is not None:  # recoveryinfo marks set A failed and set B booted
        return {"set": found.booted.removeprefix("set "), "source": "recoveryinfo"}
    return {"set": None, "source": "unknown"}


def _mark_booted(
    images: dict[str, Any], rule: BootRule, boot_set: str | None, slot: str | None
) -> None:
    """``booted`` on each copy: True/False where the set or slot is known, else None."""
    for img in images.values():
        for side in ("a", "b"):
            c = img[side]
            if rule == BootRule.SETS and boot_set:
                c["booted"] = (side == "a") == (boot_set == "A")
            elif rule == BootRule.AB_ATTRIBUTES and slot and c["partition"].endswith(("_a", "_b")):
                c["booted"] = c["partition"].endswith(f"_{slot}")
            else:
                c["booted"] = None


def gather(ctx: Context) -> dict[str, Any]:
    """Everything ``status`` shows, as one JSON-ready mapping."""
    cfg = ctx.config
    rule = cfg.board.rule
    sets: dict[str, SetState] = {}
    flash = ctx.open_flash(False)
    try:
        gpt = read_gpt(flash.read, flash.geometry.size, strict=False)
        device = {"name": flash.name, "size": flash.geometry.size}
        images = copies_view(flash.read, gpt, cfg.board.boot_profile)
        if rule == BootRule.SETS:
            sets = evaluate(flash.read, gpt, cfg.board.boot_profile)
    finally:
        flash.close()
    booted, source = booted_slot(gpt, ctx.cmdline)
    caps = capsule.read_state(cfg.board.efivars, cfg.board.esp)
    report = BootReport.read(cfg.board.chosen)
    found = detect_fallback(ctx)  # status is read-only: it reports, resume records
    info: dict[str, Any] = {
        "device": device,
        "compatible": cfg.compatible,
        "board": {"profile": cfg.board.profile, "rule": str(rule)},
        "boot_report": asdict(report) if report else None,
        "fallback": asdict(found) if found else None,
        "images": images,
        "capsule": {"staged": caps.staged, "why": caps.why() if caps.staged else None},
        "gpt": {
            "primary_ok": gpt.primary_ok,
            "backup_ok": gpt.backup_ok,
            "problems": list(gpt.problems),
        },
        **slot_status(gpt, cfg.slots.overrides, booted),
        "booted_source": source,
    }
    info["booted_set"] = _booted_set(rule, report, found)
    _mark_booted(images, rule, info["booted_set"]["set"], booted if source == "cmdline" else None)
    boot: dict[str, Any] = {"backend": cfg.boot.backend}
    if rule == BootRule.SETS:
        info["sets"] = {name: _set_view(state) for name, state in sets.items()}
        next_set = next((n for n, st in sets.items() if st.bootable), None)
        boot = {"backend": None, "next": f"set {next_set}" if next_set else None}
    elif rule == BootRule.AB_ATTRIBUTES:
        try:
            backend = ctx.boot_backend()
            boot["next"] = backend.primary()
            boot["slots"] = [asdict(s) for s in backend.state()]
        except AgentError as e:
            boot["error"] = str(e)
    else:
        boot = {"backend": None, "next": None}
    info["boot"] = boot
    st = JournalState(StateKind.IDLE)
    if has_journal(ctx):
        try:
            with ctx.open_journal() as journal:
                st = pending_state(journal)
        except AgentError as e:  # e.g. run as a user without access to the state dir
            st = JournalState(StateKind.UNREADABLE, detail=str(e))
    info["journal"] = {
        "state": st.kind,
        "detail": st.detail or None,
        "txid": st.meta.get("txid"),
        "operation": st.meta.get("operation"),
        "next": st.next_index if st.kind == StateKind.PENDING else None,
        "resumes": st.resumes,
    }
    last = history.last_success(cfg.history)
    info["installed"] = last and {
        k: last.get(k) for k in ("version", "txid", "time", "targets", "compatible", "release")
    }
    return info


def render(info: dict[str, Any]) -> list[str]:
    """``status`` as text."""
    out: list[str] = []
    device, boot, report = info["device"], info["boot"], info["boot_report"]
    board, last, journal = info["board"], info["installed"], info["journal"]
    out.append(f"device:     {device['name']} ({device['size'] // 1024} KiB)")
    out.append(f"compatible: {info['compatible']}")
    out.append(f"board:      {board['profile']}, boot rule {board['rule']}")
    out.append(f"installed:  {(last or {}).get('version', '(nothing installed by scm-fwupdate)')}")
    ab = board["rule"] == BootRule.AB_ATTRIBUTES
    booted_set = info["booted_set"]
    if report is not None:
        where = f"set {report['set']}" if report["set"] else f"slot {report['slot'] or '-'}"
        out.append(f"booted:     {where} (boot chain: {report['reason'] or '-'})")
    elif booted_set["source"] == "recoveryinfo":
        out.append(f"booted:     set {booted_set['set']} (recoveryinfo marks set A failed)")
    elif booted_set["source"] == "unknown":
        out.append(
            "booted:     unknown (the boot chain does not say; 'probe' gathers the evidence)"
        )
    elif ab:
        out.append(f"booted:     {info['booted'] or '-'} (from {info['booted_source']})")
    if info["fallback"]:
        found = info["fallback"]
        out.append(
            f"FALLBACK:   the boot chain fell back: {found['booted']} booted ({found['reason']})"
        )
    out.append(f"next boot:  {boot.get('next') or '-'}")
    if info["capsule"]["staged"]:
        out.append(f"CAPSULE:    {info['capsule']['why']}: writing commands refuse (exit 14)")
    if ab:
        error = f" ({boot['error']})" if "error" in boot else ""
        out.append(f"backend:    {boot['backend']}{error}")
    for s in boot.get("slots", []):
        flags = [n for n in ("bootable", "good", "active") if s[n]]
        out.append(
            f"  slot {s['name']}: {' '.join(flags) or 'not bootable'}, retries {s['retries']}"
        )
    for name, view in info.get("sets", {}).items():
        text = f"bootable, release {view['release']}" if view["bootable"] else view["problem"]
        out.append(f"set {name}:      {text}")
    for name, img in info["images"].items():
        for side in ("a", "b"):
            c = img[side]
            text = (
                f"{c['version'] or '-'} release {c['release']} sw_id 0x{c['sw_id'] or 0:x} "
                f"arb {c['anti_rollback']}"
                if c["valid"]
                else f"not valid: {c['error']}"
            )
            mark = " [booted]" if c.get("booted") else ""
            out.append(f"  {name:<11} {c['partition']:<18} {text}{mark}")
    txid = f" ({journal['txid']})" if journal["state"] != StateKind.IDLE else ""
    out.append(f"journal:    {journal['state']}{txid}")
    gpt = info["gpt"]
    out.append(f"gpt:        {'ok' if gpt['primary_ok'] and gpt['backup_ok'] else 'DAMAGED COPY'}")
    for grp in info["groups"]:
        names = " ".join(p["name"] for p in grp["partitions"])
        out.append(f"  {grp['name']:<16} {grp['kind']:<15} {names}")
    return out
