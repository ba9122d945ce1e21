"""Update bundles: one signed file, readable as a stream.

Format
------
A bundle is an uncompressed POSIX ustar archive whose members are, in this order:

1. ``manifest.yaml``: the manifest (at most 1 MiB), see below;
2. ``manifest.sig``: the signature over the exact bytes of ``manifest.yaml``
   (raw 64-byte Ed25519, or DER ECDSA P-256/SHA-256; see ``keys``);
3. the image files, in the order the manifest lists them.

Nothing else: no directories, links, devices, PAX or GNU extension headers, no
member names with a directory part. The archive ends with a zero block. Because
the manifest and its signature come first, a reader authenticates the manifest
before it reads a single image byte, and then checks every image against the
size and SHA-256 the signed manifest gives, while the image streams past. So an
install can read the bundle from a pipe, in constant memory, without unpacking.

Manifest::

    format: 1
    compatible: radxa,dragon-q6a      # must match the device's compatible
    version: "2026.11.1"              # bundle version (a string: quote numbers)
    description: "optional text"      # optional
    created: "2026-11-22T10:00:00Z"   # optional ISO 8601 timestamp
    images:
      - target: uefisecapp            # slot group or partition name
        file: uefisecapp.mbn          # member name
        size: 12345
        sha256: <64 lowercase hex digits>
        version: "optional per-image version"

Unknown keys are rejected at every level, as are duplicate keys, targets and files.

Bundles are deterministic: the same inputs and key give the same bytes (mtime 0,
uid/gid 0, no user/group names, mode 0644, Ed25519 signatures are deterministic).
"""

from __future__ import annotations

import datetime
import hashlib
import io
import os
import re
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from . import keys as keys_mod
from .config import YamlSyntaxError, key_name, yaml_load_strict
from .errors import AgentError, BundleError, SignatureError

MANIFEST_NAME = "manifest.yaml"
SIGNATURE_NAME = "manifest.sig"
MANIFEST_FORMAT = 1
MAX_MANIFEST_SIZE = 1024 * 1024
MAX_SIGNATURE_SIZE = 4096
CHUNK_SIZE = 64 * 1024
BLOCK = tarfile.BLOCKSIZE

_SHA256 = re.compile(r"[0-9a-f]{64}")
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")
_TARGET = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,35}")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+~-]{0,63}")
_RESERVED = (MANIFEST_NAME, SIGNATURE_NAME)

Keyring = Path | str | Sequence[keys_mod.PublicKey]


# --------------------------------------------------------------------------- versions

_VERSION_SPLIT = re.compile(r"[.+-]")
_VERSION_RUNS = re.compile(r"[0-9]+|[^0-9]+")


def _version_parts(version: str) -> list[int | str]:
    parts: list[int | str] = []
    for field in _VERSION_SPLIT.split(version):
        runs = _VERSION_RUNS.findall(field) or [""]
        parts.extend(int(r) if r.isdigit() and r.isascii() else r for r in runs)
    return parts


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as version a is lower than, equal to or higher than b.

    Versions split on '.', '-' and '+', and each field further into runs of digits
    and of other characters ("rc10" -> "rc", 10). Numeric parts compare as numbers,
    other parts as strings, and a number ranks above a string. A missing part counts
    as the number 0, so "1.0" == "1.0.0" < "1.0.1", and "1.0-rc1" < "1.0".
    """
    pa, pb = _version_parts(a), _version_parts(b)
    for i in range(max(len(pa), len(pb))):
        x = pa[i] if i < len(pa) else 0
        y = pb[i] if i < len(pb) else 0
        if isinstance(x, int) != isinstance(y, int):
            return 1 if isinstance(x, int) else -1
        if x != y:
            return 1 if x > y else -1  # type: ignore[operator]
    return 0


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class ImageEntry:
    target: str
    file: str
    size: int
    sha256: str
    version: str | None = None


@dataclass(frozen=True)
class Manifest:
    compatible: str
    version: str
    images: tuple[ImageEntry, ...]
    description: str | None
    raw: bytes
    created: str | None = None
    format: int = MANIFEST_FORMAT

    def image(self, target: str) -> ImageEntry:
        for entry in self.images:
            if entry.target == target:
                return entry
        raise BundleError(f"bundle has no image for target {key_name(target)}")

    def as_dict(self) -> dict[str, Any]:
        """The manifest as plain data (the YAML document's shape)."""
        out: dict[str, Any] = {
            "format": self.format,
            "compatible": self.compatible,
            "version": self.version,
        }
        if self.description is not None:
            out["description"] = self.description
        if self.created is not None:
            out["created"] = self.created
        out["images"] = []
        for e in self.images:
            item: dict[str, Any] = {
                "target": e.target,
                "file": e.file,
                "size": e.size,
                "sha256": e.sha256,
            }
            if e.version is not None:
                item["version"] = e.version
            out["images"].append(item)
        return out


_TOP_KEYS = ("format", "compatible", "version", "description", "created", "images")
_IMAGE_KEYS = ("target", "file", "size", "sha256", "version")


def _fail(key: str, message: str) -> BundleError:
    return BundleError(f"manifest: key '{key}': {message}")


def _check_keys(mapping: dict[Any, Any], where: str, allowed: tuple[str, ...]) -> None:
    for k in mapping:
        if k not in allowed:
            full = f"{where}.{key_name(k)}" if where else key_name(k)
            raise BundleError(f"manifest: unknown key '{full}' (allowed: {', '.join(allowed)})")


def _str(value: object, key: str, pattern: re.Pattern[str] | None, what: str) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool) and key.endswith("version"):
        raise _fail(key, f"expected a string, got the number {value!r}: quote it")
    if not isinstance(value, str):
        raise _fail(key, f"expected {what}, got {type(value).__name__}")
    if pattern is not None and not pattern.fullmatch(value):
        raise _fail(key, f"expected {what}, got {value!r}")
    return value


def _text(value: object, key: str) -> str:
    if not isinstance(value, str):
        raise _fail(key, f"expected a string, got {type(value).__name__}")
    if not value.strip():
        raise _fail(key, "must not be empty")
    if len(value) > 4096:
        raise _fail(key, "longer than 4096 characters")
    return value


def _created(value: object) -> str:
    if isinstance(value, datetime.datetime | datetime.date):  # unquoted YAML timestamp
        return value.isoformat()
    text = _text(value, "created")
    try:
        datetime.datetime.fromisoformat(text)
    except ValueError:
        raise _fail("created", f"expected an ISO 8601 timestamp, got {text!r}") from None
    return text


def manifest_from_dict(data: object, raw: bytes = b"") -> Manifest:
    """Validate a parsed manifest document."""
    if not isinstance(data, dict):
        raise BundleError("manifest: expected a mapping at the top level")
    _check_keys(data, "", _TOP_KEYS)
    for required in ("format", "compatible", "version", "images"):
        if required not in data:
            raise BundleError(f"manifest: missing key '{required}'")
    fmt = data["format"]
    if isinstance(fmt, bool) or fmt != MANIFEST_FORMAT or not isinstance(fmt, int):
        raise _fail("format", f"unsupported format {fmt!r} (this agent reads format 1)")
    compatible = _text(data["compatible"], "compatible")
    if not compatible.isprintable() or any(c.isspace() for c in compatible):
        raise _fail("compatible", f"expected a compatible string, got {compatible!r}")
    version = _str(data["version"], "version", _VERSION, "a version string")
    description = data.get("description")
    if description is not None:
        description = _text(description, "description")
    created = _created(data["created"]) if data.get("created") is not None else None

    raw_images = data["images"]
    if not isinstance(raw_images, list) or not raw_images:
        raise _fail("images", "expected a non-empty list")
    images: list[ImageEntry] = []
    targets: set[str] = set()
    files: set[str] = set()
    for i, item in enumerate(raw_images):
        where = f"images[{i}]"
        if not isinstance(item, dict):
            raise _fail(where, "expected a mapping")
        _check_keys(item, where, _IMAGE_KEYS)
        for required in ("target", "file", "size", "sha256"):
            if required not in item:
                raise BundleError(f"manifest: missing key '{where}.{required}'")
        target = _str(item["target"], f"{where}.target", _TARGET, "a partition name")
        file = _str(item["file"], f"{where}.file", _FILE_NAME, "a plain file name")
        if file in _RESERVED:
            raise _fail(f"{where}.file", f"{file!r} is reserved")
        size = item["size"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise _fail(f"{where}.size", f"expected an integer >= 0, got {size!r}")
        if size >= 8 * 1024**3:
            raise _fail(f"{where}.size", "larger than a ustar member can be (8 GiB)")
        sha256 = _str(item["sha256"], f"{where}.sha256", _SHA256, "64 lowercase hex digits")
        image_version = item.get("version")
        if image_version is not None:
            image_version = _str(image_version, f"{where}.version", _VERSION, "a version string")
        if target in targets:
            raise _fail(f"{where}.target", f"duplicate target {target!r}")
        if file in files:
            raise _fail(f"{where}.file", f"duplicate file {file!r}")
        targets.add(target)
        files.add(file)
        images.append(ImageEntry(target, file, size, sha256, image_version))
    return Manifest(
        compatible=compatible,
        version=version,
        images=tuple(images),
        description=description,
        raw=raw,
        created=created,
    )


def parse_manifest(data: bytes) -> Manifest:
    """Parse and strictly validate manifest.yaml; BundleError on any problem."""
    if len(data) > MAX_MANIFEST_SIZE:
        raise BundleError(f"manifest larger than {MAX_MANIFEST_SIZE} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BundleError("manifest: not valid UTF-8") from None
    try:
        document = yaml_load_strict(text)
    except YamlSyntaxError as exc:
        raise BundleError(f"manifest: invalid YAML: {exc}") from None
    return manifest_from_dict(document, bytes(data))


def render_manifest(manifest: dict[str, Any]) -> bytes:
    """Deterministic YAML text for a manifest document."""
    text = yaml.safe_dump(
        manifest, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000
    )
    return text.encode("utf-8")


# --------------------------------------------------------------------------- creation


def _hash_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


class _HashingReader:
    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.digest.update(data)
        return data


def _member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def create_bundle(
    output: Path,
    manifest_fields: dict[str, Any],
    images: Sequence[tuple[str, Path] | tuple[str, Path, str | None]],
    private_key: Path,
) -> Manifest:
    """Write a signed bundle; returns its manifest.

    manifest_fields: compatible, version, and optionally description and created.
    images: (target, file) or (target, file, image_version), in install order; the
    member name is the file's base name. The output is written to a temporary file
    next to it and renamed into place.
    """
    allowed = ("compatible", "version", "description", "created")
    for k in manifest_fields:
        if k not in allowed:
            raise BundleError(f"unknown manifest field {key_name(k)} (allowed: {allowed})")
    key = keys_mod.load_private_key(private_key)
    document: dict[str, Any] = {"format": MANIFEST_FORMAT}
    document.update({k: manifest_fields[k] for k in allowed if k in manifest_fields})
    entries: list[dict[str, Any]] = []
    sources: list[Path] = []
    for spec in images:
        target, path = spec[0], Path(spec[1])
        version = spec[2] if len(spec) > 2 else None
        try:
            size, sha256 = _hash_file(path)
        except OSError as exc:
            raise BundleError(f"{path}: cannot read image: {exc.strerror or exc}") from exc
        entry: dict[str, Any] = {"target": target, "file": path.name, "size": size}
        entry["sha256"] = sha256
        if version is not None:
            entry["version"] = version
        entries.append(entry)
        sources.append(path)
    document["images"] = entries
    raw = render_manifest(document)
    manifest = parse_manifest(raw)  # what we write, we must accept
    signature = keys_mod.sign(key, raw)

    output = Path(output)
    tmp = output.with_name(output.name + ".tmp")
    try:
        with tmp.open("wb") as out:
            with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
                tar.addfile(_member(MANIFEST_NAME, len(raw)), io.BytesIO(raw))
                tar.addfile(_member(SIGNATURE_NAME, len(signature)), io.BytesIO(signature))
                for entry_, path in zip(manifest.images, sources, strict=True):
                    with path.open("rb") as f:
                        reader = _HashingReader(f)
                        tar.addfile(_member(entry_.file, entry_.size), reader)
                    if reader.digest.hexdigest() != entry_.sha256:
                        raise BundleError(f"{path}: image changed while the bundle was written")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, output)
    except OSError as exc:
        raise BundleError(f"{output}: cannot write bundle: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return manifest


# --------------------------------------------------------------------------- reading


class _Source:
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
class _Header:
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


def _read_header(src: _Source) -> _Header | None:
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
    if not _FILE_NAME.fullmatch(name):
        raise BundleError(f"unsafe member name {shown!r} at offset {where}: expected a plain name")
    return _Header(name, info.size, offset, offset + BLOCK)


class ImageStream:
    """One image's bytes from the bundle, checked against the manifest while read.

    read() and iter_chunks() raise BundleError on truncation, and on the read that
    reaches the end of the image if its SHA-256 differs from the manifest: no caller
    sees the last bytes of a corrupt image without an error.
    """

    def __init__(self, src: _Source, entry: ImageEntry, data_offset: int) -> None:
        self._src = src
        self.entry = entry
        self.offset = src.base + data_offset
        self._pos = data_offset
        self._remaining = entry.size
        self._digest = hashlib.sha256()
        self.verified = False
        if entry.size == 0:
            self._finish()

    @property
    def remaining(self) -> int:
        return self._remaining

    def _finish(self) -> None:
        actual = self._digest.hexdigest()
        if actual != self.entry.sha256:
            raise BundleError(
                f"image {self.entry.file!r} (target {self.entry.target}): sha256 mismatch"
                f" (manifest {self.entry.sha256[:16]}..., data {actual[:16]}...)"
            )
        self.verified = True

    def read(self, n: int = -1) -> bytes:
        if self._remaining == 0:
            return b""
        n = self._remaining if n is None or n < 0 else min(n, self._remaining)
        if self._src.seekable:
            self._src.seek(self._pos)
        data = self._src.read_exact(n, f"image {self.entry.file!r}")
        self._pos += n
        self._remaining -= n
        self._digest.update(data)
        if self._remaining == 0:
            self._finish()
        return data

    def iter_chunks(self, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        while self._remaining:
            yield self.read(chunk_size)

    def drain(self) -> None:
        """Read (and check) the rest of the image without returning it."""
        for _ in self.iter_chunks():
            pass


class BundleReader:
    """An open bundle with an authenticated manifest.

    Open it with ``BundleReader.open``; then ``images()`` streams the images in
    manifest order. On a seekable file, open() also walks all member headers (no
    image data) so that structure errors show up at once and ``image_location`` /
    ``open_image`` can give random access (to resume an interrupted install).
    """

    def __init__(self) -> None:  # use BundleReader.open()
        self.manifest: Manifest
        self.signer: str | None = None  # fingerprint of the key that verified the manifest
        self.signature_error: str | None = None  # only for open(verify=False)
        self._src: _Source
        self._index: dict[str, _Header] = {}
        self._images_start = 0
        self._streamed = False

    @classmethod
    def open(
        cls, source: Path | str | BinaryIO, keyring: Keyring, *, _verify: bool = True
    ) -> BundleReader:
        """Read the manifest and check its signature against the keyring.

        Raises SignatureError (unsigned, no key verifies), BundleError (malformed,
        truncated, unsafe), ConfigError (unusable keyring).
        """
        reader = cls()
        if isinstance(source, str | os.PathLike):
            try:
                stream: BinaryIO = open(source, "rb")  # noqa: SIM115 - closed by close()
            except OSError as exc:
                raise BundleError(f"{source}: cannot open bundle: {exc.strerror or exc}") from exc
            reader._src = _Source(stream, owned=True)
        else:
            reader._src = _Source(source, owned=False)
        try:
            reader._open(keyring, _verify)
        except BaseException:
            reader.close()
            raise
        return reader

    def _open(self, keyring: Keyring | None, verify: bool) -> None:
        src = self._src
        first = _read_header(src)
        if first is None:
            raise BundleError("not a bundle: the archive is empty")
        if first.name != MANIFEST_NAME:
            raise BundleError(f"first member must be {MANIFEST_NAME!r}, found {first.name!r}")
        if first.size > MAX_MANIFEST_SIZE:
            raise BundleError(f"manifest larger than {MAX_MANIFEST_SIZE} bytes ({first.size})")
        raw = src.read_exact(first.size, MANIFEST_NAME)
        src.skip(-first.size % BLOCK, MANIFEST_NAME)
        second = _read_header(src)
        if second is None or second.name != SIGNATURE_NAME:
            found = "the end of the archive" if second is None else repr(second.name)
            raise SignatureError(
                f"bundle is not signed: expected {SIGNATURE_NAME!r} after the manifest,"
                f" found {found}"
            )
        if not 0 < second.size <= MAX_SIGNATURE_SIZE:
            raise SignatureError(f"{SIGNATURE_NAME} has an implausible size ({second.size})")
        signature = src.read_exact(second.size, SIGNATURE_NAME)
        src.skip(-second.size % BLOCK, SIGNATURE_NAME)
        if verify:
            self.signer = _verify(raw, signature, keyring)
        elif keyring is not None:
            try:
                self.signer = _verify(raw, signature, keyring)
            except SignatureError as exc:
                self.signature_error = str(exc)
        self.manifest = parse_manifest(raw)
        self._images_start = src.pos
        if src.seekable:
            self._build_index()

    def _check_sequence(self, header: _Header | None, index: int, seen: set[str]) -> None:
        images = self.manifest.images
        if header is None:
            if index < len(images):
                missing = images[index]
                raise BundleError(
                    f"image {missing.file!r} (target {missing.target}) is missing from the bundle"
                )
            return
        if header.name in seen or header.name in _RESERVED:
            raise BundleError(f"duplicate member {header.name!r}")
        listed = {e.file: e for e in images}
        entry = listed.get(header.name)
        if entry is None:
            raise BundleError(f"member {header.name!r} is not listed in the manifest")
        if index >= len(images) or images[index].file != header.name:
            raise BundleError(
                f"member {header.name!r} out of order: expected {images[index].file!r}"
            )
        if header.size != entry.size:
            raise BundleError(
                f"member {header.name!r} has {header.size} bytes, the manifest says {entry.size}"
            )
        seen.add(header.name)

    def _build_index(self) -> None:
        # Walk the headers only; a file cut anywhere shows up as an end of file where
        # the next header (or the end marker after the last image) should be.
        src = self._src
        seen: set[str] = set()
        for i in range(len(self.manifest.images) + 1):
            header = _read_header(src)
            self._check_sequence(header, i, seen)
            if header is None:
                break
            self._index[header.name] = header
            src.seek(header.data_offset + header.size + (-header.size % BLOCK))
        src.seek(self._images_start)

    def images(self) -> Iterator[tuple[ImageEntry, ImageStream]]:
        """(entry, stream) per image, in manifest order.

        Consume each stream before advancing; an unconsumed rest is read and checked
        when the iterator advances. The end of the archive is checked after the last
        image. On a pipe this can be called once.
        """
        if self._src.seekable:
            for entry in self.manifest.images:
                stream = self.open_image(entry.target)
                yield entry, stream
                stream.drain()
            return
        if self._streamed:
            raise BundleError("the bundle stream has already been read")
        self._streamed = True
        src = self._src
        seen: set[str] = set()
        for i in range(len(self.manifest.images) + 1):
            header = _read_header(src)
            self._check_sequence(header, i, seen)
            if header is None:
                return
            entry = self.manifest.images[i]
            stream = ImageStream(src, entry, header.data_offset)
            yield entry, stream
            stream.drain()
            src.skip(-entry.size % BLOCK, f"padding of {entry.file!r}")

    def image_location(self, target: str) -> tuple[int, int]:
        """(offset, size) of the target's image data in the bundle file (seekable only)."""
        entry = self.manifest.image(target)
        if not self._src.seekable:
            raise BundleError("image locations are only known for a seekable bundle file")
        header = self._index[entry.file]
        return self._src.base + header.data_offset, header.size

    def open_image(self, target: str) -> ImageStream:
        """Random access to one image of a seekable bundle, checked while read."""
        offset, _size = self.image_location(target)
        return ImageStream(self._src, self.manifest.image(target), offset - self._src.base)

    def close(self) -> None:
        self._src.close()

    def __enter__(self) -> BundleReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _verify(raw: bytes, signature: bytes, keyring: Keyring | None) -> str:
    if keyring is None:
        raise SignatureError("no keyring given: cannot verify the manifest signature")
    if isinstance(keyring, str | os.PathLike):
        public_keys = keys_mod.load_keyring(Path(keyring))
        where = f" in {keyring}"
    else:
        public_keys = list(keyring)
        where = ""
    try:
        key = keys_mod.verify_signature(public_keys, raw, signature)
    except SignatureError as exc:
        raise SignatureError(f"{exc}{where}") from None
    return keys_mod.key_fingerprint(key)


def verify_bundle(source: Path | str | BinaryIO, keyring: Keyring) -> Manifest:
    """Check signature, structure and every image hash, streaming in constant memory."""
    with BundleReader.open(source, keyring) as reader:
        for _entry, stream in reader.images():
            stream.drain()
        return reader.manifest


def bundle_info(source: Path | str | BinaryIO, keyring: Keyring | None = None) -> dict[str, Any]:
    """The manifest as a dict plus signature status, without reading image data.

    signature: {"status": "valid" | "invalid" | "not-checked", "signer": fingerprint
    or None, "error": message or None}. An unsigned or malformed bundle raises.
    """
    reader = BundleReader.open(source, keyring, _verify=False)  # type: ignore[arg-type]
    with reader:
        info = reader.manifest.as_dict()
        if keyring is None:
            status = "not-checked"
        else:
            status = "valid" if reader.signature_error is None else "invalid"
        info["signature"] = {
            "status": status,
            "signer": reader.signer,
            "error": reader.signature_error,
        }
        if reader._src.seekable:
            for item in info["images"]:
                item["offset"] = reader.image_location(item["target"])[0]
        return info


__all__ = [
    "AgentError",
    "BundleError",
    "BundleReader",
    "ImageEntry",
    "ImageStream",
    "Manifest",
    "SignatureError",
    "bundle_info",
    "compare_versions",
    "create_bundle",
    "parse_manifest",
    "verify_bundle",
]
