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

The manifest format is in ``manifest.py``.

Bundles are deterministic: the same inputs and key give the same bytes (mtime 0,
uid/gid 0, no user/group names, mode 0644, Ed25519 signatures are deterministic).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from .errors import AgentError, BundleError, SignatureError

if TYPE_CHECKING:
    from . import keys as keys_mod
from .manifest import (
    MANIFEST_NAME,
    MAX_MANIFEST_SIZE,
    SIGNATURE_NAME,
    ImageEntry,
    Manifest,
    parse_manifest,
)
from .ustar import BLOCK, CHUNK_SIZE, END_PADDING, Header, Source, read_header

MAX_SIGNATURE_SIZE = 4096


def archive_size(manifest: Manifest, manifest_size: int, signature_size: int) -> int:
    """The most bytes a well-formed bundle with this manifest can have."""
    members = [manifest_size, signature_size] + [e.size for e in manifest.images]
    return sum(BLOCK + size + (-size % BLOCK) for size in members) + BLOCK + END_PADDING


_RESERVED = (MANIFEST_NAME, SIGNATURE_NAME)

Keyring = Path | str | Sequence["keys_mod.PublicKey"]


# --------------------------------------------------------------------------- reading


class ImageStream:
    """One image's bytes from the bundle, checked against the manifest while read.

    read() and iter_chunks() raise BundleError on truncation, and on the read that
    reaches the end of the image if its SHA-256 differs from the manifest: no caller
    sees the last bytes of a corrupt image without an error.
    """

    def __init__(self, src: Source, entry: ImageEntry, data_offset: int) -> None:
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
        self.max_size = 0  # bytes a well-formed bundle with this manifest has at most
        self._src: Source
        self._index: dict[str, Header] = {}
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
            reader._src = Source(stream, owned=True)
        else:
            reader._src = Source(source, owned=False)
        try:
            reader._open(keyring, _verify)
        except BaseException:
            reader.close()
            raise
        return reader

    def _open(self, keyring: Keyring | None, verify: bool) -> None:
        src = self._src
        first = read_header(src)
        if first is None:
            raise BundleError("not a bundle: the archive is empty")
        if first.name != MANIFEST_NAME:
            raise BundleError(f"first member must be {MANIFEST_NAME!r}, found {first.name!r}")
        if first.size > MAX_MANIFEST_SIZE:
            raise BundleError(f"manifest larger than {MAX_MANIFEST_SIZE} bytes ({first.size})")
        raw = src.read_exact(first.size, MANIFEST_NAME)
        src.skip(-first.size % BLOCK, MANIFEST_NAME)
        second = read_header(src)
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
        self.max_size = archive_size(self.manifest, first.size, second.size)
        self._images_start = src.pos
        if src.seekable:
            self._build_index()

    def _check_sequence(self, header: Header | None, index: int, seen: set[str]) -> None:
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

    def _members(self) -> Iterator[tuple[ImageEntry, Header]]:
        """The image members in manifest order, each header checked; ends at the end marker.

        The one walk over the archive: after each yield it moves past the
        member's data and padding (a seek on a file, a read on a pipe).
        """
        src = self._src
        seen: set[str] = set()
        for i in range(len(self.manifest.images) + 1):
            header = read_header(src)
            self._check_sequence(header, i, seen)
            if header is None:
                self._check_end()
                return
            yield self.manifest.images[i], header
            end = header.data_offset + header.size + (-header.size % BLOCK)
            src.skip(end - src.pos, f"member {header.name!r}")

    def _check_end(self) -> None:
        """After the end marker only the archive's zero padding may follow."""
        src = self._src
        rest = src.read_upto(END_PADDING + 1)
        if len(rest) > END_PADDING or rest.count(0) != len(rest):
            raise BundleError(
                f"{len(rest)}{'+' if len(rest) > END_PADDING else ''} bytes of data after the "
                "end of the archive: not a bundle this tool wrote (truncate or rebuild it)"
            )

    def _build_index(self) -> None:
        # Headers only; a file cut anywhere shows up as an end of file where the
        # next header (or the end marker after the last image) should be.
        for _entry, header in self._members():
            self._index[header.name] = header
        self._src.seek(self._images_start)

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
        for entry, header in self._members():
            stream = ImageStream(self._src, entry, header.data_offset)
            yield entry, stream
            stream.drain()

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
    from . import keys as keys_mod  # cryptography: only when a signature is checked

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
    "ImageStream",
    "SignatureError",
    "bundle_info",
    "verify_bundle",
]
