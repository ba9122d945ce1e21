"""The archive under a bundle: strict POSIX ustar, read as a stream.

Only plain regular-file members with safe names; every header is checked
before its member is used. ``Source`` reads a file or a pipe alike, tracking
the position, so one walk serves a seekable file and stdin.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from typing import BinaryIO

from .errors import BundleError
from .manifest import FILE_NAME
from .yamlstrict import key_name

BLOCK = tarfile.BLOCKSIZE
CHUNK_SIZE = 64 * 1024
# tar writers end with two zero blocks and pad to a 20-block record.
END_PADDING = tarfile.RECORDSIZE


class Source:
    """A binary stream with position tracking and exact reads."""

    def __init__(self, stream: BinaryIO, owned: bool) -> None:
        self.stream = stream
        self.owned = owned
        try:
            self.seekable = bool(stream.seekable())
            self.base = stream.tell() if self.seekable else 0
        except (OSError, ValueError, AttributeError):
            self.seekable, self.base = False, 0
        self.pos = 0  # relative to base

    def read_exact(self, n: int, what: str) -> bytes:
        parts: list[bytes] = []
        want = n
        while want > 0:
            try:
                chunk = self.stream.read(want)
            except OSError as exc:
                raise BundleError(f"cannot read bundle: {exc.strerror or exc}") from exc
            if not chunk:
                raise BundleError(
                    f"truncated bundle: end of file in {what} at offset {self.base + self.pos}"
                )
            parts.append(chunk)
            self.pos += len(chunk)
            want -= len(chunk)
        return b"".join(parts)

    def read_block(self) -> bytes | None:
        """A 512-byte header block, or None at a clean end of file."""
        try:
            first = self.stream.read(BLOCK)
        except OSError as exc:
            raise BundleError(f"cannot read bundle: {exc.strerror or exc}") from exc
        if not first:
            return None
        self.pos += len(first)
        if len(first) < BLOCK:
            return first + self.read_exact(BLOCK - len(first), "a member header")
        return first

    def read_upto(self, n: int) -> bytes:
        """Up to n bytes, fewer only at the end of the file."""
        parts: list[bytes] = []
        while n > 0:
            try:
                chunk = self.stream.read(n)
            except OSError as exc:
                raise BundleError(f"cannot read bundle: {exc.strerror or exc}") from exc
            if not chunk:
                break
            parts.append(chunk)
            self.pos += len(chunk)
            n -= len(chunk)
        return b"".join(parts)

    def skip(self, n: int, what: str) -> None:
        if self.seekable:
            self.seek(self.pos + n)
            return
        while n > 0:
            n -= len(self.read_exact(min(n, CHUNK_SIZE), what))

    def seek(self, pos: int) -> None:
        if pos != self.pos:
            try:
                self.stream.seek(self.base + pos)
            except OSError as exc:
                raise BundleError(f"cannot seek in bundle: {exc.strerror or exc}") from exc
            self.pos = pos

    def close(self) -> None:
        if self.owned:
            self.stream.close()


@dataclass(frozen=True)
class Header:
    name: str
    size: int
    offset: int  # header offset, relative to the source's base
    data_offset: int


_TYPE_NAMES = {
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
    tarfile.DIRTYPE: "directory",
    tarfile.CHRTYPE: "character device",
    tarfile.BLKTYPE: "block device",
    tarfile.FIFOTYPE: "fifo",
    tarfile.CONTTYPE: "contiguous file",
    tarfile.XHDTYPE: "PAX extended header",
    tarfile.XGLTYPE: "PAX global header",
    tarfile.SOLARIS_XHDTYPE: "Solaris extended header",
    tarfile.GNUTYPE_LONGNAME: "GNU long name",
    tarfile.GNUTYPE_LONGLINK: "GNU long link",
    tarfile.GNUTYPE_SPARSE: "GNU sparse file",
}


def read_header(src: Source) -> Header | None:
    """The next member header, checked to be a safe regular file; None at the end marker."""
    offset = src.pos
    where = src.base + offset
    buf = src.read_block()
    if buf is None:
        raise BundleError(f"truncated bundle: end of file at offset {where}, expected a member")
    if buf.count(0) == BLOCK:
        return None
    if buf[257:263] != b"ustar\x00":
        raise BundleError(f"not a POSIX ustar archive: bad header magic at offset {where}")
    try:
        info = tarfile.TarInfo.frombuf(buf, "utf-8", "surrogateescape")
    except (tarfile.HeaderError, ValueError, UnicodeError) as exc:
        raise BundleError(f"corrupt member header at offset {where}: {exc}") from None
    name = info.name
    shown = key_name(name)
    parts = name.split("/")
    if name.startswith("/") or ".." in parts:
        raise BundleError(f"unsafe member name {shown!r} at offset {where}: absolute or with '..'")
    if info.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
        kind = _TYPE_NAMES.get(info.type)
        raise BundleError(
            f"member {shown!r} is a {kind or f'type {info.type!r}'} entry: only regular files"
            " are allowed"
        )
    if not FILE_NAME.fullmatch(name):
        raise BundleError(f"unsafe member name {shown!r} at offset {where}: expected a plain name")
    return Header(name, info.size, offset, offset + BLOCK)
