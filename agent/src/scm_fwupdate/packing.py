"""Making bundles (host side): ``scm-fwupdate bundle create``.

Bundles are deterministic: the same inputs and key give the same bytes (mtime 0,
uid/gid 0, no user/group names, mode 0644, Ed25519 signatures are deterministic).
The format is in bundle.py and manifest.py.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

from . import keys as keys_mod
from .errors import BundleError
from .manifest import (
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    SIGNATURE_NAME,
    Manifest,
    parse_manifest,
    render_manifest,
)
from .ustar import CHUNK_SIZE
from .yamlstrict import key_name


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
    erase: Sequence[str] = (),
) -> Manifest:
    """Write a signed bundle; returns its manifest.

    manifest_fields: compatible, version, and optionally description and created.
    images: (target, file) or (target, file, image_version), in install order; the
    member name is the file's base name; an empty file is an image that erases its
    target, which the signer must name in ``erase``. The output is written to a temporary file
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
        if size == 0 and target in erase:
            entry["erase"] = True
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
