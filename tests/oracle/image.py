"""Is a partition's content a valid boot image?

docs/boot-chain.md, section "What makes an image valid".
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass

from .gpt import Read

PT_LOAD = 1
PHENTSIZE = 56
MAX_PHNUM = 64
HASH_SEGMENT_TYPE = 2
HASH_HEADER = 48
HASH_VERSION = 6
DIGEST = 48  # SHA-384
METADATA = 120
ZERO_DIGEST = bytes(DIGEST)

RELEASE_MARKER = b"QCOM_SCM_RELEASE_STRING="
VERSION_MARKER = b"QC_IMAGE_VERSION_STRING="
RELEASE_MAX = 63
VERSION_MAX = 127  # our bound: the spec gives none for the informational version
_RELEASE_RE = re.compile(re.escape(RELEASE_MARKER))
_VERSION_RE = re.compile(re.escape(VERSION_MARKER))
_PHDR = struct.Struct("<IIQQQQQQ")  # type, flags, offset, vaddr, paddr, filesz, memsz, align


@dataclass(frozen=True)
class ImageCheck:
    """The verdict on one image; ``reason`` says why it is not valid."""

    valid: bool
    reason: str | None = None
    release: str | None = None
    version: str | None = None
    sw_id: int | None = None
    arb: int | None = None


class _Invalid(Exception):
    pass


def _printable(data: bytes) -> bool:
    """Printable ASCII, 0x20-0x7E."""
    return data.isascii() and data.decode("ascii").isprintable()


def _string_at(data: memoryview, start: int, longest: int) -> str | None:
    """The 1..``longest`` printable characters at ``start`` up to a NUL inside ``data``."""
    chunk = bytes(data[start : start + longest + 1])
    end = chunk.find(b"\0")
    if end < 1 or not _printable(chunk[:end]):
        return None
    return chunk[:end].decode("ascii")


def _first(segments: list[memoryview], pattern: re.Pattern[bytes]) -> tuple[memoryview, int] | None:
    for data in segments:
        found = pattern.search(data)
        if found:
            return data, found.end()
    return None


def _metadata(read: Read, offset: int, qti: int, oem: int) -> tuple[int | None, int | None]:
    """(sw_id, anti_rollback_version): from the OEM metadata when it has any, else the QTI."""
    start, size = (offset + qti, oem) if oem else (offset, qti)
    data = bytes(read(start, min(size, METADATA)))
    sw_id = struct.unpack_from("<I", data, 8)[0] if len(data) >= 12 else None
    arb = struct.unpack_from("<I", data, 116)[0] if len(data) >= METADATA else None
    return sw_id, arb


def _check(read: Read, limit: int) -> ImageCheck:
    if limit < 64:
        raise _Invalid("not ELF: partition smaller than an ELF header")
    eh = bytes(read(0, 64))
    if eh[:4] != b"\x7fELF":
        raise _Invalid("not ELF")
    if eh[4] != 2 or eh[5] != 1:
        raise _Invalid(f"not ELF64 little endian (class {eh[4]}, data {eh[5]})")
    (phoff,) = struct.unpack_from("<Q", eh, 32)
    phentsize, phnum = struct.unpack_from("<HH", eh, 54)
    if phentsize != PHENTSIZE:
        raise _Invalid(f"e_phentsize {phentsize}")
    if not 1 <= phnum <= MAX_PHNUM:
        raise _Invalid(f"e_phnum {phnum}")
    if phoff + phnum * PHENTSIZE > limit:
        raise _Invalid("program headers outside the partition")
    table = bytes(read(phoff, phnum * PHENTSIZE))
    phdrs = [_PHDR.unpack_from(table, i * PHENTSIZE) for i in range(phnum)]
    if phdrs[0][0] == PT_LOAD:
        raise _Invalid("phdr 0 is PT_LOAD")
    hash_index = next(
        (
            i
            for i, (p_type, p_flags, *_rest) in enumerate(phdrs)
            if p_type != PT_LOAD and (p_flags >> 24) & 7 == HASH_SEGMENT_TYPE
        ),
        None,
    )
    if hash_index is None:
        raise _Invalid("no hash segment")
    for i, ph in enumerate(phdrs):
        if ph[2] + ph[5] > limit:
            raise _Invalid(f"segment {i} outside the partition")
    hash_offset, hash_filesz = phdrs[hash_index][2], phdrs[hash_index][5]
    if hash_filesz < HASH_HEADER:
        raise _Invalid("hash segment smaller than its header")
    words = struct.unpack("<12I", bytes(read(hash_offset, HASH_HEADER)))
    (_image_id, version, qti_sig, qti_chain, total, hash_size) = words[:6]
    (_sig_addr, sig_size, _chain_addr, chain_size, qti_md, oem_md) = words[6:]
    if version != HASH_VERSION:
        raise _Invalid(f"hash segment version {version}")
    parts = qti_md + oem_md + hash_size + qti_sig + qti_chain + sig_size + chain_size
    if total != parts:
        raise _Invalid(f"hash segment total_size {total} != {parts}")
    if HASH_HEADER + total > hash_filesz:
        raise _Invalid("hash segment total_size beyond p_filesz")
    if hash_size != phnum * DIGEST:
        raise _Invalid(f"hash_size {hash_size} != {phnum} x {DIGEST}")
    body = hash_offset + HASH_HEADER
    digests = bytes(read(body + qti_md + oem_md, hash_size))
    loads: list[memoryview] = []
    for i, (p_type, _f, p_offset, _v, _p, p_filesz, *_r) in enumerate(phdrs):
        data = memoryview(read(p_offset, p_filesz)) if i and p_filesz else None
        if i == 0:
            want = hashlib.sha384(read(0, p_filesz)).digest()
        elif i == hash_index or data is None:
            want = ZERO_DIGEST
        else:
            want = hashlib.sha384(data).digest()
        if digests[i * DIGEST : (i + 1) * DIGEST] != want:
            raise _Invalid(f"digest {i} mismatch")
        if p_type == PT_LOAD and data is not None:
            loads.append(data)
    at = _first(loads, _RELEASE_RE)
    if at is None:
        raise _Invalid("no release string")
    release = _string_at(at[0], at[1], RELEASE_MAX)
    if release is None:
        raise _Invalid("bad release string")
    at = _first(loads, _VERSION_RE)
    version_string = _string_at(at[0], at[1], VERSION_MAX) if at else None
    sw_id, arb = _metadata(read, body, qti_md, oem_md)
    return ImageCheck(True, None, release, version_string, sw_id, arb)


def check_image(read: Read, limit: int) -> ImageCheck:
    """Check the image of a ``limit``-byte partition; ``read(offset, length)`` is relative to it.

    Reads the ELF and program headers, the hash segment's header, metadata and
    table, and the file bytes of each segment once (for its digest and, for
    ``PT_LOAD`` ones, the release and version strings).
    """
    try:
        return _check(read, limit)
    except _Invalid as err:
        return ImageCheck(False, str(err))


def check_bytes(image: bytes | bytearray | memoryview, limit: int | None = None) -> ImageCheck:
    """``check_image`` of an in-memory image in a ``limit``-byte partition (default: its length).

    Bytes past the image, up to ``limit``, read as erased (0xFF).
    """
    view = memoryview(image)
    size = len(view) if limit is None else limit
    if size <= len(view):
        view = view[:size]

        def read(off: int, n: int) -> memoryview:
            return view[off : off + n]

        return check_image(read, size)
    padded = bytes(view) + b"\xff" * (size - len(view))
    return check_bytes(padded, size)
