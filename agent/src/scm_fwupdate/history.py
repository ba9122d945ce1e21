"""Install history: one JSON object per line, appended and fsynced.

Each finished operation adds a record (time, txid, version, compatible,
targets, images, result, duration, resumed). The history also serves as the
"finished" marker of an install: a transaction whose journal says DONE but
that has no ``success`` record here still needs its after-DONE steps
(activation through a U-Boot/script backend, cleanup); ``resume`` does them.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from .errors import AgentError

MAX_LINE = 1 << 20


def append(path: Path, record: dict[str, Any]) -> dict[str, Any]:
    record = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **record}
    line = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        raise AgentError(f"cannot write install history {path}: {e.strerror}") from None
    return record


def check_writable(path: Path) -> None:
    """Before an install writes the flash: the history it will append to must take it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))
    except OSError as e:
        raise AgentError(f"cannot write install history {path}: {e.strerror}") from None


def read(path: Path) -> list[dict[str, Any]]:
    """All records; a torn last line (power cut during an append) is skipped."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as e:
        raise AgentError(f"cannot read install history {path}: {e.strerror}") from None
    out = []
    for line in data.splitlines():
        if not line.strip() or len(line) > MAX_LINE:
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


def last_success(path: Path) -> dict[str, Any] | None:
    """The last successful install (its version is the installed version)."""
    for rec in reversed(read(path)):
        if rec.get("operation", "install") == "install" and rec.get("result") == "success":
            return rec
    return None


def finished(path: Path, txid: str) -> bool:
    return any(r.get("txid") == txid and r.get("result") == "success" for r in read(path))
