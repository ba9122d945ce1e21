"""Staging: the bundle is kept under the state directory while its install runs.

The plan reads image data from the staged file by offset, also when it is
resumed after a power cut, so the file must stay where it is until the
install is finished. A regular file on the same file system is hard-linked;
anything else is copied, but only after the manifest's signature was
verified and the manifest accepted, and only as many bytes as a bundle with
that manifest can have, checked against the free space first: a hostile or
endless stream costs at most its first header blocks.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .bundle import BundleReader, Keyring
from .errors import BundleError
from .manifest import Manifest
from .transaction import fsync_dir

COPY_CHUNK = 1 << 20
SPACE_MARGIN = 1 << 20  # keep this much free for the journal and history

CheckManifest = Callable[[Manifest], None]


class _Recorder:
    """A read-only stream that keeps what was read (the header part, a few KiB)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.seen = bytearray()

    def read(self, n: int = -1) -> bytes:
        data = self.stream.read(n)
        self.seen += data
        return data

    def seekable(self) -> bool:
        return False


def _check_space(directory: Path, need: int) -> None:
    try:
        st = os.statvfs(directory)
    except OSError as e:
        raise BundleError(f"cannot stage the bundle in {directory}: {e.strerror}") from None
    free = st.f_bavail * st.f_frsize
    if free < need + SPACE_MARGIN:
        raise BundleError(
            f"not enough space in {directory} to stage the bundle: {need} bytes needed, {free} free"
        )


def stage_file(source: Path, dest: Path, keyring: Keyring, check: CheckManifest) -> Path:
    """A regular bundle file: checked in place, then linked or copied to dest."""
    with BundleReader.open(source, keyring) as reader:
        check(reader.manifest)
    if source.resolve() == dest.resolve():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.unlink(missing_ok=True)
    try:
        os.link(source, dest)
        fsync_dir(dest.parent)
        return dest
    except OSError:
        pass  # other file system, or links not allowed: copy
    _check_space(dest.parent, source.stat().st_size)
    with open(source, "rb") as f:
        return _write(dest, b"", f, source.stat().st_size)


def stage_stream(stream: BinaryIO, dest: Path, keyring: Keyring, check: CheckManifest) -> Path:
    """A pipe or stdin: the signed manifest first, then at most the bytes it allows."""
    head = _Recorder(stream)
    reader = BundleReader.open(head, keyring)  # type: ignore[arg-type]
    check(reader.manifest)
    limit = reader.max_size
    dest.parent.mkdir(parents=True, exist_ok=True)
    _check_space(dest.parent, limit)
    staged = _write(dest, bytes(head.seen), stream, limit - len(head.seen))
    if staged.stat().st_size > limit:
        # One byte more than any bundle with this manifest: refuse before it is used.
        staged.unlink(missing_ok=True)
        raise BundleError(f"the bundle stream goes on past the {limit} bytes its manifest allows")
    return staged


def _write(dest: Path, head: bytes, rest: BinaryIO, max_rest: int) -> Path:
    """head, then at most max_rest + 1 bytes of rest (one more shows an overlong stream)."""
    tmp = dest.with_name(dest.name + ".tmp")
    try:
        with open(tmp, "wb") as out:
            out.write(head)
            left = max_rest + 1
            while left > 0:
                chunk = rest.read(min(COPY_CHUNK, left))
                if not chunk:
                    break
                out.write(chunk)
                left -= len(chunk)
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
