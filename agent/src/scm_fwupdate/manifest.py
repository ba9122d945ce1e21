"""The bundle manifest: what a signed bundle installs, validated key by key.

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
        erase: true                   # optional, only with size 0: erase the target

Unknown keys are rejected at every level, as are duplicate keys, targets and files.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

import yaml

from .errors import BundleError
from .yamlstrict import YamlSyntaxError, key_name, yaml_load_strict

ALGORITHMS = ("ed25519", "ecdsa-p256")  # manifest.sig schemes (keys.py implements them)
MANIFEST_NAME = "manifest.yaml"
SIGNATURE_NAME = "manifest.sig"
MANIFEST_FORMAT = 1
MAX_MANIFEST_SIZE = 64 * 1024  # bytes read before the signature is checked

_SHA256 = re.compile(r"[0-9a-f]{64}")
FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")
_TARGET = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,35}")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+~-]{0,63}")
_RESERVED = (MANIFEST_NAME, SIGNATURE_NAME)


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
    erase: bool = False  # an empty image that deliberately erases its target


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
            if e.erase:
                item["erase"] = True
            out["images"].append(item)
        return out


_TOP_KEYS = ("format", "compatible", "version", "description", "created", "images")
_IMAGE_KEYS = ("target", "file", "size", "sha256", "version", "erase")


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
        file = _str(item["file"], f"{where}.file", FILE_NAME, "a plain file name")
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
        erase = item.get("erase", False)
        if not isinstance(erase, bool):
            raise _fail(f"{where}.erase", f"expected true or false, got {erase!r}")
        if size == 0 and not erase:
            raise _fail(
                f"{where}.size",
                f"an empty image would erase '{target}': the manifest must say 'erase: true'",
            )
        if erase and size:
            raise _fail(f"{where}.erase", "only an empty image (size 0) erases its target")
        if target in targets:
            raise _fail(f"{where}.target", f"duplicate target {target!r}")
        if file in files:
            raise _fail(f"{where}.file", f"duplicate file {file!r}")
        targets.add(target)
        files.add(file)
        images.append(ImageEntry(target, file, size, sha256, image_version, erase))
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
