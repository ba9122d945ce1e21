"""Qualcomm signed images ("MBN": ELF + hash segment): check them as a loader does.

An image is valid when its ELF header, program headers and hash segment
(version 6, SHA-384) are well formed and every digest matches; it carries a
release string (the emulated boot chain's consistency rule) and may carry
Qualcomm's version strings and metadata (software id, anti-rollback
version). docs/boot-chain.md gives the rules; this is the agent's own reading
of them, used to refuse an image before it is written.

Pure logic over a ``read(offset, length)`` function relative to the image's
first byte, bounded by ``limit`` (the partition or file size): works on a
flash partition and on a bundle member alike, streaming, never the whole
image in memory.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import ImageError

ELF_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")  # 64 bytes
PHDR = struct.Struct("<IIQQQQQQ")  # 56 bytes
HASH_HEADER_V6 = struct.Struct("<12I")  # 48 bytes
METADATA = struct.Struct("<8I12I8III")  # 120 bytes: major ... anti_rollback_version
PT_NULL, PT_LOAD = 0, 1
SEG_TYPE_SHIFT, SEG_TYPE_MASK = 24, 0x7
SEG_HASH, SEG_PHDR = 2, 7
FLAGS_HASH_SEGMENT = 0x02200000  # type HASH, access RO
FLAGS_HEADER_PLACEHOLDER = 0x07000000  # type PHDR
DIGEST_SIZE = 48  # SHA-384 for hash segment version 6
MAX_PHDRS = 64
CHUNK = 1 << 16

RELEASE_KEY = b"QCOM_SCM_RELEASE_STRING="
VERSION_KEY = b"QC_IMAGE_VERSION_STRING="
VARIANT_KEY = b"IMAGE_VARIANT_STRING="
OEM_VERSION_KEY = b"OEM_IMAGE_VERSION_STRING="
STRING_KEYS = (RELEASE_KEY, VERSION_KEY, VARIANT_KEY, OEM_VERSION_KEY)
MAX_STRING = 63

Reader = Callable[[int, int], bytes]


@dataclass(frozen=True)
class Metadata:
    major: int
    minor: int
    sw_id: int
    hw_id: int
    oem_id: int
    model_id: int
    app_id: int
    flags: int
    anti_rollback: int

    @classmethod
    def unpack(cls, raw: bytes) -> Metadata:
        w = METADATA.unpack(raw[: METADATA.size])
        return cls(*w[:8], anti_rollback=w[-1])


@dataclass(frozen=True)
class ImageInfo:
    """What a valid image says about itself."""

    size: int  # bytes from the image start to the end of its last segment
    hash_version: int
    release: str
    version: str | None = None
    variant: str | None = None
    oem_version: str | None = None
    metadata: Metadata | None = None
    strings: dict[str, str] = field(default_factory=dict)

    @property
    def sw_id(self) -> int | None:
        return self.metadata.sw_id if self.metadata else None

    @property
    def anti_rollback(self) -> int | None:
        return self.metadata.anti_rollback if self.metadata else None


@dataclass(frozen=True)
class _Phdr:
    type: int
    flags: int
    offset: int
    filesz: int

    @property
    def seg_type(self) -> int:
        return (self.flags >> SEG_TYPE_SHIFT) & SEG_TYPE_MASK


class _Strings:
    """NUL-terminated ``KEY=value`` strings in a byte stream fed in chunks.

    Only the first occurrence of a key is judged, as the boot chain does
    (docs/boot-chain.md, rule 6): ``judged[key]`` is its value, or None when
    that occurrence is malformed (later ones are not looked at).
    """

    def __init__(self) -> None:
        self.judged: dict[bytes, str | None] = {}
        self._tail = b""

    @property
    def found(self) -> dict[bytes, str]:
        return {k: v for k, v in self.judged.items() if v is not None}

    def feed(self, chunk: bytes, final: bool = False) -> None:
        data = self._tail + chunk
        keep = len(max(STRING_KEYS, key=len)) + MAX_STRING + 1
        for key in STRING_KEYS:
            pos = -1 if key in self.judged else data.find(key)
            if pos < 0:
                continue
            start = pos + len(key)
            end = data.find(b"\0", start, start + MAX_STRING + 1)
            if end < 0 and not final and len(data) - start <= MAX_STRING:
                continue  # the value may end in the next chunk (kept in the tail)
            value = data[start:end] if end >= 0 else b""
            ok = 0 < len(value) <= MAX_STRING and all(0x20 <= c < 0x7F for c in value)
            self.judged[key] = value.decode("ascii") if ok else None
        self._tail = data[-keep:]

    def end_segment(self) -> None:
        """Segments are separate byte ranges: a value cut by a segment's end is malformed."""
        self.feed(b"", final=True)
        self._tail = b""


def _read(read: Reader, limit: int, offset: int, length: int, what: str) -> bytes:
    if offset < 0 or length < 0 or offset + length > limit:
        raise ImageError(f"{what} lies outside the image")
    data = read(offset, length)
    if len(data) != length:
        raise ImageError(f"{what} is truncated")
    return data


def _phdrs(read: Reader, limit: int) -> list[_Phdr]:
    head = _read(read, limit, 0, ELF_HEADER.size, "ELF header")
    ident, _type, _machine, _ver, _entry, phoff, _sh, _fl, _eh, phentsize, phnum = (
        ELF_HEADER.unpack(head)[:11]
    )
    if ident[:4] != b"\x7fELF":
        raise ImageError("not an ELF image")
    if ident[4] != 2 or ident[5] != 1:
        raise ImageError("not a 64-bit little-endian ELF image")
    if phentsize != PHDR.size or not 1 <= phnum <= MAX_PHDRS:
        raise ImageError(f"unsupported program header table ({phnum} x {phentsize} bytes)")
    table = _read(read, limit, phoff, phnum * PHDR.size, "program header table")
    out = []
    for i in range(phnum):
        p_type, p_flags, p_offset, _va, _pa, p_filesz, _memsz, _align = PHDR.unpack_from(
            table, i * PHDR.size
        )
        if p_offset + p_filesz > limit:
            raise ImageError(f"segment {i} lies outside the image")
        out.append(_Phdr(p_type, p_flags, p_offset, p_filesz))
    return out


def inspect(read: Reader, limit: int) -> ImageInfo:
    """Check an image as the boot chain does; ImageError says why it is not valid."""
    phdrs = _phdrs(read, limit)
    if phdrs[0].type == PT_LOAD:
        raise ImageError("program header 0 is a loadable segment, not the header placeholder")
    hash_index = next(
        (i for i, p in enumerate(phdrs) if p.type != PT_LOAD and p.seg_type == SEG_HASH), None
    )
    if hash_index is None:
        raise ImageError("no hash segment")
    hseg = phdrs[hash_index]
    if hseg.filesz < HASH_HEADER_V6.size:
        raise ImageError("hash segment too short")
    words = HASH_HEADER_V6.unpack(_read(read, limit, hseg.offset, HASH_HEADER_V6.size, "hash"))
    version, total, hash_size = words[1], words[4], words[5]
    qti_meta, oem_meta = words[10], words[11]
    # Everything after the header, in order: metadata, hash table, signatures, chains.
    parts = qti_meta + oem_meta + hash_size + words[2] + words[3] + words[7] + words[9]
    if version != 6:
        raise ImageError(f"hash segment version {version} (expected 6)")
    if HASH_HEADER_V6.size + total > hseg.filesz or parts != total:
        raise ImageError("hash segment sizes do not add up to its total size")
    if hash_size != len(phdrs) * DIGEST_SIZE:
        raise ImageError(f"hash table of {hash_size} bytes for {len(phdrs)} segments")
    body = _read(
        read, limit, hseg.offset + HASH_HEADER_V6.size, qti_meta + oem_meta + hash_size, "hash"
    )
    # The OEM metadata when there is any, else the QTI one; a short one reads as zeros.
    start, size = (qti_meta, oem_meta) if oem_meta else (0, qti_meta)
    raw = body[start : start + min(size, METADATA.size)]
    metadata = Metadata.unpack(raw.ljust(METADATA.size, b"\0")) if size else None
    table = body[qti_meta + oem_meta :]
    strings = _Strings()
    for i, p in enumerate(phdrs):
        want = table[i * DIGEST_SIZE : (i + 1) * DIGEST_SIZE]
        if i == hash_index or p.filesz == 0:
            if want != bytes(DIGEST_SIZE):
                raise ImageError(f"digest {i} should be empty")
            continue
        h = hashlib.sha384()
        scan = p.type == PT_LOAD
        base = p.offset if i else 0  # entry 0: the image's first p_filesz bytes
        for pos in range(0, p.filesz, CHUNK):
            chunk = _read(read, limit, base + pos, min(CHUNK, p.filesz - pos), f"segment {i}")
            h.update(chunk)
            if scan:
                strings.feed(chunk)
        if scan:
            strings.end_segment()
        if h.digest() != want:
            raise ImageError(f"digest {i} mismatch")
    found = strings.found
    if RELEASE_KEY not in found:
        what = "malformed" if RELEASE_KEY in strings.judged else "no"
        raise ImageError(f"{what} release string (QCOM_SCM_RELEASE_STRING=)")
    end = max(p.offset + p.filesz for p in phdrs)
    return ImageInfo(
        size=end,
        hash_version=version,
        release=found[RELEASE_KEY],
        version=found.get(VERSION_KEY),
        variant=found.get(VARIANT_KEY),
        oem_version=found.get(OEM_VERSION_KEY),
        metadata=metadata,
        strings={k.decode().rstrip("="): v for k, v in found.items()},
    )


def inspect_bytes(data: bytes) -> ImageInfo:
    return inspect(lambda o, n: data[o : o + n], len(data))


def try_inspect(read: Reader, limit: int) -> tuple[ImageInfo | None, str | None]:
    """(info, None) for a valid image, (None, reason) otherwise."""
    try:
        return inspect(read, limit), None
    except ImageError as e:
        return None, str(e)
