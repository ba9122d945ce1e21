"""``backup``: the whole flash to a file, streamed, with its SHA-256 beside it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .context import Context
from .errors import AgentError

CHUNK = 1 << 20


def run_backup(ctx: Context, output: Path) -> str:
    """Dump the whole flash to output, write output.sha256; returns the hex digest."""
    flash = ctx.open_flash(False)
    tmp = output.with_name(output.name + ".tmp")
    h = hashlib.sha256()
    try:
        size = flash.geometry.size
        with open(tmp, "wb") as out:
            for pos in range(0, size, CHUNK):
                data = flash.read(pos, min(CHUNK, size - pos))
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
