"""Helpers for the bundle tests: keys, hand-crafted (also malicious) tar archives."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from scm_fwupdate import keys
from scm_fwupdate.manifest import render_manifest

COMPATIBLE = "radxa,dragon-q6a"


@dataclass(frozen=True)
class KeySet:
    private: Path
    public: Path
    other_private: Path
    other_public: Path


def make_keys(directory: Path) -> KeySet:
    directory.mkdir(parents=True, exist_ok=True)
    ks = KeySet(
        directory / "signer.key",
        directory / "signer.pub",
        directory / "other.key",
        directory / "other.pub",
    )
    keys.generate_keypair(ks.private, ks.public)
    keys.generate_keypair(ks.other_private, ks.other_public)
    return ks


def image_bytes(size: int, seed: int) -> bytes:
    """Deterministic pseudo-random content."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def manifest_doc(images: list[tuple[str, str, bytes]], **fields: Any) -> dict[str, Any]:
    """A valid manifest document for (target, file, data) images."""
    doc: dict[str, Any] = {"format": 1, "compatible": COMPATIBLE, "version": "2026.11.1"}
    doc.update(fields)
    doc["images"] = [
        {"target": t, "file": f, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
        | ({} if d else {"erase": True})  # an empty image erases its target: say so
        for t, f, d in images
    ]
    return doc


@dataclass
class Member:
    name: str
    data: bytes = b""
    type: bytes = tarfile.REGTYPE
    linkname: str = ""


def tar_bytes(members: list[Member], fmt: int = tarfile.USTAR_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for m in members:
            info = tarfile.TarInfo(m.name)
            info.type = m.type
            info.linkname = m.linkname
            info.mode = 0o644
            info.mtime = 0
            if m.type == tarfile.REGTYPE:
                info.size = len(m.data)
                tar.addfile(info, io.BytesIO(m.data))
            else:
                tar.addfile(info)
    return buf.getvalue()


def crafted_bundle(
    private_key: Path,
    manifest: dict[str, Any] | bytes,
    members: list[Member],
    *,
    signed: bool = True,
    fmt: int = tarfile.USTAR_FORMAT,
) -> bytes:
    """manifest.yaml (+ manifest.sig signed with private_key) followed by members."""
    raw = manifest if isinstance(manifest, bytes) else render_manifest(manifest)
    head = [Member("manifest.yaml", raw)]
    if signed:
        head.append(Member("manifest.sig", keys.sign(keys.load_private_key(private_key), raw)))
    return tar_bytes(head + members, fmt)


def member_data_offset(bundle: bytes, name: str) -> int:
    with tarfile.open(fileobj=io.BytesIO(bundle), mode="r:") as tar:
        return tar.getmember(name).offset_data


@contextmanager
def pipe_reader(data: bytes) -> Iterator[BinaryIO]:
    """A non-seekable stream (the read end of os.pipe) fed by a writer thread."""
    rfd, wfd = os.pipe()

    def writer() -> None:
        try:
            with open(wfd, "wb", buffering=0) as w:
                view = memoryview(data)
                while view:
                    n = w.write(view[:4099])  # odd sizes: the reader sees short reads
                    view = view[n:]
        except BrokenPipeError:
            pass

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    with open(rfd, "rb", buffering=0) as r:
        yield r
    thread.join(timeout=10)
