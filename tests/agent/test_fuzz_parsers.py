"""Property tests: the parsers of untrusted input raise only AgentError subclasses, with a
one-line message, whatever the input; never another exception."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from bundle_fixtures import Member, image_bytes, manifest_doc, tar_bytes
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scm_fwupdate import keys
from scm_fwupdate.bundle import BundleReader, verify_bundle
from scm_fwupdate.config import ALL_KEYS, load_config
from scm_fwupdate.errors import AgentError, BundleError, ConfigError
from scm_fwupdate.manifest import compare_versions, parse_manifest, render_manifest

FUZZ = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

SIGNER = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
KEYRING = [SIGNER.public_key()]

IMAGES = [
    ("uefisecapp", "uefisecapp.mbn", image_bytes(1500, 1)),
    ("dtb", "dtb.bin", image_bytes(512, 2)),
    ("VarStore", "empty.bin", b""),
]


def signed_bundle(manifest: dict[str, Any] | bytes, members: list[Member]) -> bytes:
    raw = manifest if isinstance(manifest, bytes) else render_manifest(manifest)
    head = [Member("manifest.yaml", raw), Member("manifest.sig", keys.sign(SIGNER, raw))]
    return tar_bytes(head + members)


VALID = signed_bundle(manifest_doc(IMAGES), [Member(f, d) for _t, f, d in IMAGES])


class Trickle(io.RawIOBase):
    """A non-seekable stream that returns short reads, like a pipe."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._step = max(1, step)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, n: int = -1) -> bytes:
        n = self._step if n < 0 else min(n, self._step)
        out = bytes(self._data[self._pos : self._pos + n])
        self._pos += len(out)
        return out


def only_agent_errors(action: Callable[[], object], allowed: type[AgentError] = AgentError) -> None:
    try:
        action()
    except AgentError as exc:
        assert isinstance(exc, allowed), f"{type(exc).__name__}: {exc}"
        message = str(exc)
        assert message and "\n" not in message, repr(message)


def read_everything(source: Any) -> None:
    with BundleReader.open(source, KEYRING) as reader:
        for _entry, stream in reader.images():
            for _chunk in stream.iter_chunks(700):
                pass
        if not isinstance(source, Trickle):
            for entry in reader.manifest.images:
                reader.image_location(entry.target)


def test_the_unmutated_bundle_is_valid() -> None:
    assert verify_bundle(io.BytesIO(VALID), KEYRING).version == "2026.11.1"
    read_everything(Trickle(VALID, 333))


# --------------------------------------------------------------------------- manifests

yaml_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.sampled_from(["1", "2026.11.1", "a" * 64, "0" * 64, "x.bin", "radxa,dragon-q6a"]),
)
MANIFEST_KEYS = ("format", "compatible", "version", "description", "created", "images")
IMAGE_KEYS = ("target", "file", "size", "sha256", "extra")
manifest_keys = st.sampled_from(MANIFEST_KEYS + IMAGE_KEYS) | st.text(max_size=10)
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(manifest_keys | st.integers(), children, max_size=6)
    ),
    max_leaves=25,
)


@FUZZ
@given(st.binary(max_size=2000))
def test_parse_manifest_arbitrary_bytes(data: bytes) -> None:
    only_agent_errors(lambda: parse_manifest(data), BundleError)


@FUZZ
@given(st.text(max_size=500))
def test_parse_manifest_arbitrary_text(text: str) -> None:
    only_agent_errors(lambda: parse_manifest(text.encode("utf-8", "surrogatepass")), BundleError)


@FUZZ
@given(yaml_values)
def test_parse_manifest_arbitrary_structures(document: Any) -> None:
    text = yaml.safe_dump(document).encode()
    only_agent_errors(lambda: parse_manifest(text), BundleError)


def _perturbed_manifest(draw: st.DrawFn) -> dict[str, Any]:
    doc = manifest_doc(IMAGES)
    entries = list(doc["images"])  # still perturbed if "images" itself was replaced
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(["top", "image"]))
        target = doc if where == "top" else entries[draw(st.integers(0, len(entries) - 1))]
        key = draw(manifest_keys)
        if draw(st.booleans()) and key in target:
            del target[key]
        else:
            target[key] = draw(yaml_values)
    return doc


@FUZZ
@given(st.data())
def test_parse_manifest_perturbed_valid_documents(data: st.DataObject) -> None:
    doc = _perturbed_manifest(data.draw)
    only_agent_errors(lambda: parse_manifest(yaml.safe_dump(doc).encode()), BundleError)


@FUZZ
@given(st.text(max_size=30), st.text(max_size=30))
def test_compare_versions_is_total_and_antisymmetric(a: str, b: str) -> None:
    assert compare_versions(a, b) == -compare_versions(b, a)
    assert compare_versions(a, a) == 0


# --------------------------------------------------------------------------- bundles


@FUZZ
@given(
    cut=st.none() | st.integers(0, len(VALID)),
    flips=st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(1, 255)), max_size=4),
    step=st.integers(1, 5000),
)
def test_reader_on_mutated_or_truncated_bundles(
    cut: int | None, flips: list[tuple[int, int]], step: int
) -> None:
    data = bytearray(VALID)
    for pos, xor in flips:
        data[pos] ^= xor
    blob = bytes(data if cut is None else data[:cut])
    only_agent_errors(lambda: read_everything(io.BytesIO(blob)), BundleError)
    only_agent_errors(lambda: read_everything(Trickle(blob, step)), BundleError)


member_types = st.sampled_from(
    [tarfile.REGTYPE] * 6 + [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE, tarfile.FIFOTYPE]
)
member_names = st.sampled_from(
    [f for _t, f, _d in IMAGES] + ["manifest.yaml", "manifest.sig", "../x", "/etc/x", "a/b", "x"]
)


@FUZZ
@given(data=st.data())
def test_reader_on_signed_but_malformed_bundles(data: st.DataObject) -> None:
    """Validly signed manifests (so the checks after the signature run) with arbitrary
    member lists: wrong names, order, sizes, types, duplicates, missing members."""
    doc = _perturbed_manifest(data.draw) if data.draw(st.booleans()) else manifest_doc(IMAGES)
    members = data.draw(
        st.lists(
            st.builds(
                Member,
                name=member_names,
                data=st.sampled_from([d for _t, _f, d in IMAGES]) | st.binary(max_size=600),
                type=member_types,
            ),
            max_size=5,
        )
    )
    if data.draw(st.booleans()):
        members = [Member(f, d) for _t, f, d in IMAGES] + members[:1]
    blob = signed_bundle(doc, members)
    step = data.draw(st.integers(1, 2000))
    only_agent_errors(lambda: read_everything(io.BytesIO(blob)), BundleError)
    only_agent_errors(lambda: read_everything(Trickle(blob, step)), BundleError)


@FUZZ
@given(st.binary(min_size=0, max_size=3000))
def test_reader_on_arbitrary_bytes(blob: bytes) -> None:
    only_agent_errors(lambda: read_everything(io.BytesIO(blob)), BundleError)


# --------------------------------------------------------------------------- config

config_keys = st.sampled_from(ALL_KEYS) | st.text(max_size=8)
config_values = st.recursive(
    yaml_scalars | st.sampled_from(["/abs/path", "uboot-env", "script", "ab", "ignore"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(config_keys, children, max_size=5)
    ),
    max_leaves=20,
)


@FUZZ
@given(st.text(max_size=400))
def test_load_config_arbitrary_text(tmp_path_factory: Any, text: str) -> None:
    path = Path(tmp_path_factory.getbasetemp()) / "fuzz-config.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    only_agent_errors(lambda: load_config(path), ConfigError)


@FUZZ
@given(st.dictionaries(config_keys, config_values, max_size=6))
def test_load_config_arbitrary_structures(tmp_path_factory: Any, document: Any) -> None:
    path = Path(tmp_path_factory.getbasetemp()) / "fuzz-config.yaml"
    path.write_text(yaml.safe_dump(document))
    only_agent_errors(lambda: load_config(path), ConfigError)
