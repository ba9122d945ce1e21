"""``probe``: read-only evidence of how this board's boot chain picks its firmware.

For a board owner to run once and send back (docs/probe.md). It reads, never
writes (it works with the driver read-only): both GPT copies and their A/B
attribute bits, the ``recoveryinfo`` bytes, every boot image copy (validity,
hash-segment version, software id, anti-rollback version, release and
version strings), the UEFI variables OsIndications and OsTrialBootStatus,
the ESP's ``EFI/UpdateCapsule``, ``/proc/cmdline``, the storage driver's
parameters and the flash geometry; and it says which boot rule the evidence
supports, and why, or that it cannot tell.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import capsule
from .bootset import BootReport, RecoveryInfo, copies_view
from .context import Context
from .errors import GptError
from .gpt import Gpt, read_gpt, slot_pairs
from .slots import slot_of_cmdline

DRIVER_PARAMETERS = Path("/sys/module/qcom_scm_storage/parameters")
MTD_SYSFS = Path("/sys/class/mtd")


def _table(read: Any, size: int, which: str) -> tuple[Gpt | None, str | None]:
    try:
        return read_gpt(read, size, strict=False, only=which), None
    except GptError as e:
        return None, str(e)


def _ab_bits(gpt: Gpt) -> dict[str, dict[str, Any]]:
    return {
        p.name: {
            "priority": p.priority,
            "active": p.active,
            "retry": p.retry,
            "successful": p.successful,
            "unbootable": p.unbootable,
            "raw": f"0x{p.attributes:016x}",
        }
        for pair in slot_pairs(gpt).values()
        for p in pair
    }


def _text(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return None


def _driver(flash_name: str) -> dict[str, Any]:
    params = {}
    if DRIVER_PARAMETERS.is_dir():
        for p in sorted(DRIVER_PARAMETERS.iterdir()):
            params[p.name] = _text(p)
    mtd: dict[str, Any] = {}
    dev = Path(flash_name).name
    if dev.startswith("mtd") and (MTD_SYSFS / dev).is_dir():
        for key in ("name", "type", "size", "erasesize", "writesize", "flags", "numeraseregions"):
            mtd[key] = _text(MTD_SYSFS / dev / key)
    return {"parameters": params, "mtd": mtd}


def gather(ctx: Context) -> dict[str, Any]:
    cfg = ctx.config
    flash = ctx.open_flash(False)
    try:
        size = flash.geometry.size
        geometry = {
            "device": flash.name,
            "size": size,
            "erasesize": flash.geometry.erasesize,
            "writesize": flash.geometry.writesize,
        }
        tables = {w: _table(flash.read, size, w) for w in ("primary", "backup")}
        gpt = tables["primary"][0] or tables["backup"][0]
        copies: dict[str, Any] = {}
        recovery: dict[str, Any] | None = None
        if gpt is not None:
            copies = copies_view(flash.read, gpt, cfg.board.boot_profile)
            if "recoveryinfo" in gpt.names():
                p = gpt.find("recoveryinfo")
                raw = flash.read(p.offset, min(p.size, 64))
                record = RecoveryInfo.parse(raw)
                recovery = {
                    "bytes": raw.hex(),
                    "erased": raw == b"\xff" * len(raw),
                    "record": record.__dict__ if record else None,
                }
    finally:
        flash.close()
    cmdline = _text(ctx.cmdline) if ctx.cmdline else None
    caps = capsule.read_state(cfg.board.efivars, cfg.board.esp)
    report = BootReport.read(cfg.board.chosen)
    info: dict[str, Any] = {
        "geometry": geometry,
        "gpt": {
            which: {
                "ok": table is not None,
                "error": error,
                "ab_bits": _ab_bits(table) if table else {},
                "problems": list(table.problems) if table else [],
            }
            for which, (table, error) in tables.items()
        },
        "images": copies,
        "recoveryinfo": recovery,
        "uefi": {
            "OsIndications": caps.os_indications,
            "OsTrialBootStatus": caps.os_trial_boot_status,
            "trial_boot": caps.trial(),
            "capsules": list(caps.capsules),
            "esp": caps.esp,
            "capsule_staged": caps.staged,
            "notes": list(caps.notes),
        },
        "cmdline": cmdline,
        "driver": _driver(geometry["device"]),
        "boot_report": report.__dict__ if report else None,
    }
    info["rule"] = infer_rule(info, gpt)
    return info


def infer_rule(info: dict[str, Any], gpt: Gpt | None) -> dict[str, Any]:
    """Which boot rule the evidence supports, with the reasons; 'unknown' if it cannot tell."""
    reasons: list[str] = []
    if info["boot_report"]:
        rule = info["boot_report"]["rule"]
        return {"rule": rule, "reasons": [f"the boot chain reports rule '{rule}' (/chosen)"]}
    names = set(gpt.names()) if gpt else set()
    slot = slot_of_cmdline(info["cmdline"] or "")
    bits = info["gpt"]["primary"]["ab_bits"] or info["gpt"]["backup"]["ab_bits"]
    set_bits = {n: b for n, b in bits.items() if int(b["raw"], 16) & (0xFF << 48)}
    if {"boot_a", "boot_b"} <= names or (slot and set_bits):
        reasons.append("boot_a/boot_b in the GPT" if "boot_a" in names else "")
        reasons.append(f"the kernel was told its slot (_{slot})" if slot else "")
        return {"rule": "ab-attributes", "reasons": [r for r in reasons if r]}
    record = (info["recoveryinfo"] or {}).get("record")
    if record:
        reasons.append("recoveryinfo holds a record of a failed set")
    if not set_bits and not slot:
        reasons.append("no A/B attribute bits are set and no slot is passed to Linux: no ABL")
    pairs = [i for i in info["images"].values() if i["kind"] == "primary-backup"]
    if pairs:
        reasons.append(f"{len(pairs)} boot images in X/X_BACKUP pairs (Qualcomm's boot sets A/B)")
    if record or (not set_bits and not slot and pairs):
        return {
            "rule": "sets",
            "reasons": reasons,
            "confirm": "erase the first block of one set-A image and check that set B boots "
            "(docs/probe.md)",
        }
    return {"rule": "unknown", "reasons": reasons or ["not enough evidence"]}


def render(info: dict[str, Any]) -> list[str]:
    out = []
    g = info["geometry"]
    out.append(
        f"device:      {g['device']}: {g['size']} bytes, erase {g['erasesize']}, "
        f"page {g['writesize']}"
    )
    for which, t in info["gpt"].items():
        state = "ok" if t["ok"] else f"BAD ({t['error']})"
        out.append(
            f"gpt {which:<8} {state}"
            + (f"; {len(t['problems'])} mistake(s)" if t["problems"] else "")
        )
        for name, b in t["ab_bits"].items():
            flags = [k for k in ("active", "successful", "unbootable") if b[k]]
            out.append(
                f"  {name:<18} {b['raw']} priority {b['priority']} retry {b['retry']} "
                f"{' '.join(flags)}"
            )
    for image, i in info["images"].items():
        for side in ("a", "b"):
            c = i[side]
            if c["valid"]:
                s = c["strings"]
                text = (
                    f"v{c['hash_version']} sw_id 0x{c['sw_id'] or 0:x} arb {c['anti_rollback']} "
                    f"release {c['release']} {s.get('QC_IMAGE_VERSION_STRING', '')}"
                )
            else:
                text = f"NOT VALID: {c['error']}"
            out.append(f"image {image:<11} {c['partition']:<18} {text}")
    r = info["recoveryinfo"]
    if r:
        out.append(
            "recoveryinfo: "
            + ("erased" if r["erased"] else r["bytes"])
            + (f" = {r['record']}" if r["record"] else "")
        )
    u = info["uefi"]
    out.append(
        f"uefi:        OsIndications {u['OsIndications']}, OsTrialBootStatus "
        f"{u['OsTrialBootStatus']}" + (f" {u['trial_boot']}" if u["trial_boot"] else "")
    )
    out.append(
        f"capsules:    {', '.join(u['capsules']) or 'none'}"
        + (" (STAGED: writes are refused)" if u["capsule_staged"] else "")
    )
    out.append(f"cmdline:     {info['cmdline']}")
    d = info["driver"]
    out.append(f"driver:      {d['parameters'] or '-'} {d['mtd'] or ''}".rstrip())
    rule = info["rule"]
    out.append(f"boot rule:   {rule['rule']}: " + "; ".join(rule["reasons"]))
    if "confirm" in rule:
        out.append(f"to confirm:  {rule['confirm']}")
    return out
