"""Structured log messages with stable MESSAGE_IDs, sent to the systemd journal.

The journal's native protocol is one AF_UNIX datagram per message holding
``FIELD=value`` lines; a value with a newline uses the binary form
(``FIELD\\n<64-bit little-endian length><value>\\n``). Without journald (the
socket is missing) the message goes to stderr instead, except for errors: the
CLI prints those itself as its one-line ``error:`` message.

Find them with ``journalctl MESSAGE_ID=<id>`` (ids in docs/agent.md).
"""

from __future__ import annotations

import os
import socket
import struct
import sys
from pathlib import Path

JOURNAL_SOCKET = Path(os.environ.get("SCM_FWUPDATE_JOURNAL_SOCKET", "/run/systemd/journal/socket"))
SYSLOG_IDENTIFIER = "scm-fwupdate"

# Fixed ids: never change them, log filters and dashboards depend on them.
INSTALL_STARTED = "8f0a3c52d6e44b1e9a7f2c1d5b6e7a01"
INSTALL_FINISHED = "8f0a3c52d6e44b1e9a7f2c1d5b6e7a02"
INSTALL_FAILED = "8f0a3c52d6e44b1e9a7f2c1d5b6e7a03"
INSTALL_RESUMED = "8f0a3c52d6e44b1e9a7f2c1d5b6e7a04"
SLOT_CHANGED = "8f0a3c52d6e44b1e9a7f2c1d5b6e7a05"
BOOT_FALLBACK = "8f0a3c52d6e44b1e9a7f2c1d5b6e7a06"

MESSAGE_IDS = {
    "install-started": INSTALL_STARTED,
    "install-finished": INSTALL_FINISHED,
    "install-failed": INSTALL_FAILED,
    "install-resumed": INSTALL_RESUMED,
    "slot-changed": SLOT_CHANGED,
    "boot-fallback": BOOT_FALLBACK,
}

# syslog priorities
ERR, WARNING, NOTICE, INFO = 3, 4, 5, 6


def _field(name: str, value: str) -> bytes:
    data = value.encode("utf-8", "replace")
    if b"\n" in data:
        return name.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
    return name.encode() + b"=" + data + b"\n"


def encode(message_id: str, message: str, priority: int, fields: dict[str, object]) -> bytes:
    """The datagram for one message (exposed for tests)."""
    out = _field("MESSAGE_ID", message_id) + _field("MESSAGE", message)
    out += _field("PRIORITY", str(priority)) + _field("SYSLOG_IDENTIFIER", SYSLOG_IDENTIFIER)
    for key, value in fields.items():
        if value is not None:
            out += _field("SCM_FWUPDATE_" + key.upper(), str(value))
    return out


def emit(message_id: str, message: str, priority: int = INFO, **fields: object) -> bool:
    """Send to journald; fall back to stderr. True if journald took it."""
    if JOURNAL_SOCKET.is_socket():
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                s.sendto(encode(message_id, message, priority, fields), str(JOURNAL_SOCKET))
            return True
        except OSError:
            pass  # journald gone or message too large: fall back
    if priority > ERR:
        print(f"scm-fwupdate: {message}", file=sys.stderr, flush=True)
    return False
