"""Bundle format: creation, signature, streaming, and every kind of bad input."""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
import tracemalloc
from pathlib import Path

import pytest
from bundle_fixtures import (
    COMPATIBLE,
    KeySet,
    Member,
    crafted_bundle,
    image_bytes,
    make_keys,
    manifest_doc,
    member_data_offset,
    pipe_reader,
    tar_bytes,
)

from scm_fwupdate import keys
from scm_fwupdate.bundle import BundleReader, bundle_info, verify_bundle
from scm_fwupdate.errors import AgentError, BundleError, ConfigError, SignatureError
from scm_fwupdate.manifest import (
    MAX_MANIFEST_SIZE,
    ImageEntry,
    compare_versions,
    parse_manifest,
    render_manifest,
)
from scm_fwupdate.packing import create_bundle

BIG = 200_017  # spans several 64 KiB chunks and ends off a 512-byte boundary


@pytest.fixture(scope="module")
def ks(tmp_path_factory: pytest.TempPathFactory) -> KeySet:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def images(tmp_path: Path) -> list[tuple[str, Path]]:
    files = {
        "uefisecapp": ("uefisecapp.mbn", image_bytes(BIG, 1)),
        "XBL_CONFIG": ("xbl_config.elf", image_bytes(4096, 2)),
        "dtb": ("dtb.bin", b""),
    }
    out = []
    for target, (name, data) in files.items():
        path = tmp_path / "in" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        out.append((target, path))
    return out


@pytest.fixture
def bundle(tmp_path: Path, ks: KeySet, images: list[tuple[str, Path]]) -> Path:
    out = tmp_path / "fw.bundle"
    create_bundle(
        out,
        {"compatible": COMPATIBLE, "version": "2026.11.1", "description": "test"},
        images,
        ks.private,
        erase=["dtb"],  # the empty member: a deliberate erase
    )
    return out


def expect(exc: pytest.ExceptionInfo[BaseException], cls: type[AgentError], *fragments: str):
    """Exactly this error class, a one-line message containing every fragment."""
    assert type(exc.value) is cls, f"{type(exc.value).__name__}: {exc.value}"
    message = str(exc.value)
    assert "\n" not in message and message.strip() == message and message
    for fragment in fragments:
        assert fragment in message, message


def write(tmp_path: Path, data: bytes, name: str = "crafted.bundle") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------- happy paths


def test_round_trip_reads_back_every_image(bundle: Path, ks: KeySet, images) -> None:
    manifest = verify_bundle(bundle, ks.public)
    assert manifest.compatible == COMPATIBLE
    assert manifest.version == "2026.11.1"
    assert manifest.description == "test"
    assert [e.target for e in manifest.images] == ["uefisecapp", "XBL_CONFIG", "dtb"]
    with BundleReader.open(bundle, ks.public) as reader:
        assert reader.signer == keys.key_fingerprint(keys.load_private_key(ks.private))
        got = {}
        for entry, stream in reader.images():
            got[entry.target] = b"".join(stream.iter_chunks(10_000))
            assert stream.verified
    for target, path in images:
        assert got[target] == path.read_bytes()
        entry = manifest.image(target)
        assert entry.size == path.stat().st_size
        assert entry.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_create_is_deterministic(tmp_path: Path, ks: KeySet, images) -> None:
    fields = {"compatible": COMPATIBLE, "version": "1.2.3"}
    a = tmp_path / "a.bundle"
    b = tmp_path / "b.bundle"
    create_bundle(a, fields, images, ks.private, erase=["dtb"])
    for _target, path in images:  # touching the inputs must not change the output
        path.touch()
    create_bundle(b, fields, images, ks.private, erase=["dtb"])
    assert a.read_bytes() == b.read_bytes()
    with tarfile.open(a) as tar:
        infos = tar.getmembers()
    assert [i.name for i in infos] == [
        "manifest.yaml",
        "manifest.sig",
        "uefisecapp.mbn",
        "xbl_config.elf",
        "dtb.bin",
    ]
    for info in infos:
        assert (info.mtime, info.uid, info.gid, info.uname, info.gname, info.mode) == (
            0,
            0,
            0,
            "",
            "",
            0o644,
        )
    assert not list(tmp_path.glob("*.tmp"))


def test_image_location_gives_the_bytes_in_the_file(bundle: Path, ks: KeySet, images) -> None:
    data = bundle.read_bytes()
    with BundleReader.open(bundle, ks.public) as reader:
        for target, path in images:
            offset, size = reader.image_location(target)
            assert data[offset : offset + size] == path.read_bytes()
        # random access for a resume, checked against the manifest hash
        stream = reader.open_image("uefisecapp")
        assert stream.read() == images[0][1].read_bytes()
        assert stream.verified


def test_stream_opened_mid_file_reports_absolute_offsets(bundle: Path, ks: KeySet) -> None:
    prefix = b"P" * 1536
    stream = io.BytesIO(prefix + bundle.read_bytes())
    stream.seek(len(prefix))
    with BundleReader.open(bundle, ks.public) as plain:
        expected = plain.image_location("XBL_CONFIG")
    reader = BundleReader.open(stream, ks.public)
    offset, size = reader.image_location("XBL_CONFIG")
    assert (offset, size) == (expected[0] + len(prefix), expected[1])
    assert stream.getvalue()[offset : offset + size] == image_bytes(4096, 2)
    assert [len(b"".join(s.iter_chunks())) for _e, s in reader.images()] == [BIG, 4096, 0]


def test_manifest_as_dict_round_trips(bundle: Path, ks: KeySet) -> None:
    manifest = verify_bundle(bundle, ks.public)
    again = parse_manifest(render_manifest(manifest.as_dict()))
    assert again.images == manifest.images
    assert (again.compatible, again.version, again.description) == (
        manifest.compatible,
        manifest.version,
        manifest.description,
    )


def test_info_reports_manifest_and_signature_status(bundle: Path, ks: KeySet) -> None:
    info = bundle_info(bundle, ks.public)
    assert info["compatible"] == COMPATIBLE
    assert info["version"] == "2026.11.1"
    assert [i["target"] for i in info["images"]] == ["uefisecapp", "XBL_CONFIG", "dtb"]
    assert info["images"][0]["offset"] % 512 == 0
    assert info["signature"]["status"] == "valid"
    assert info["signature"]["signer"] == keys.key_fingerprint(keys.load_private_key(ks.private))
    wrong = bundle_info(bundle, ks.other_public)
    assert wrong["signature"]["status"] == "invalid"
    assert "does not verify" in wrong["signature"]["error"]
    assert bundle_info(bundle)["signature"] == {
        "status": "not-checked",
        "signer": None,
        "error": None,
    }


def test_streams_from_a_subprocess_pipe(bundle: Path, ks: KeySet, images) -> None:
    with subprocess.Popen(["cat", str(bundle)], stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        reader = BundleReader.open(proc.stdout, ks.public)
        got = [(e.target, b"".join(s.iter_chunks())) for e, s in reader.images()]
    assert got == [(t, p.read_bytes()) for t, p in images]
    with pytest.raises(BundleError) as exc:
        reader.image_location("uefisecapp")
    expect(exc, BundleError, "seekable")
    with pytest.raises(BundleError) as exc:
        list(reader.images())
    expect(exc, BundleError, "already been read")


def test_streams_from_os_pipe_with_short_reads(bundle: Path, ks: KeySet, images) -> None:
    with pipe_reader(bundle.read_bytes()) as stream:
        assert verify_bundle(stream, ks.public).version == "2026.11.1"


def test_unconsumed_image_is_skipped_and_still_checked(bundle: Path, ks: KeySet) -> None:
    with pipe_reader(bundle.read_bytes()) as stream:
        reader = BundleReader.open(stream, ks.public)
        seen = []
        for entry, s in reader.images():
            seen.append(entry.target)
            if entry.target == "XBL_CONFIG":
                assert s.read() == image_bytes(4096, 2)
    assert seen == ["uefisecapp", "XBL_CONFIG", "dtb"]


def test_verify_runs_in_constant_memory(tmp_path: Path, ks: KeySet) -> None:
    image = tmp_path / "big.bin"
    with image.open("wb") as f:
        for i in range(128):
            f.write(image_bytes(64 * 1024, i))  # 8 MiB
    out = tmp_path / "big.bundle"
    create_bundle(out, {"compatible": COMPATIBLE, "version": "1"}, [("UEFI", image)], ks.private)
    tracemalloc.start()
    try:
        verify_bundle(out, ks.public)
        with subprocess.Popen(["cat", str(out)], stdout=subprocess.PIPE) as proc:
            assert proc.stdout is not None
            verify_bundle(proc.stdout, ks.public)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024, peak


def test_ecdsa_key_with_certificate_keyring(tmp_path: Path, images) -> None:
    private = tmp_path / "ec.key"
    keys.generate_keypair(private, tmp_path / "ec.pub", algorithm="ecdsa-p256")
    cert = tmp_path / "ring" / "signer.crt"
    cert.parent.mkdir()
    keys.generate_certificate(private, "scm-fwupdate test", cert)
    unrelated = tmp_path / "ring" / "a-unrelated.pem"
    keys.generate_keypair(tmp_path / "x.key", unrelated)
    (tmp_path / "ring" / "README").write_text("not a key, ignored\n")
    out = tmp_path / "ec.bundle"
    create_bundle(out, {"compatible": COMPATIBLE, "version": "2"}, images, private, erase=["dtb"])
    assert verify_bundle(out, cert.parent).version == "2"  # directory: any key may verify
    assert verify_bundle(out, cert).version == "2"
    with pytest.raises(SignatureError) as exc:
        verify_bundle(out, unrelated)
    expect(exc, SignatureError, "does not verify")


def test_keyring_problems_are_config_errors(tmp_path: Path, bundle: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        verify_bundle(bundle, tmp_path / "missing")
    expect(exc, ConfigError, "keyring not found")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError) as exc:
        verify_bundle(bundle, tmp_path / "empty")
    expect(exc, ConfigError, "no public key")
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    with pytest.raises(ConfigError) as exc:
        verify_bundle(bundle, broken)
    expect(exc, ConfigError, str(broken))


def test_private_key_file_mode(tmp_path: Path) -> None:
    keys.generate_keypair(tmp_path / "k", tmp_path / "k.pub")
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o600
    assert b"BEGIN PRIVATE KEY" in (tmp_path / "k").read_bytes()


# --------------------------------------------------------------------------- signatures


def test_unsigned_bundle(tmp_path: Path, ks: KeySet) -> None:
    data = image_bytes(1000, 3)
    raw = crafted_bundle(
        ks.private,
        manifest_doc([("dtb", "dtb.bin", data)]),
        [Member("dtb.bin", data)],
        signed=False,
    )
    with pytest.raises(SignatureError) as exc:
        verify_bundle(write(tmp_path, raw), ks.public)
    expect(exc, SignatureError, "not signed", "dtb.bin")
    only_manifest = crafted_bundle(
        ks.private, manifest_doc([("dtb", "dtb.bin", data)]), [], signed=False
    )
    with pytest.raises(SignatureError) as exc:
        verify_bundle(write(tmp_path, only_manifest), ks.public)
    expect(exc, SignatureError, "not signed", "end of the archive")


def test_wrong_key(bundle: Path, ks: KeySet) -> None:
    with pytest.raises(SignatureError) as exc:
        BundleReader.open(bundle, ks.other_public)
    expect(exc, SignatureError, "does not verify", str(ks.other_public))


def test_tampered_manifest(tmp_path: Path, bundle: Path, ks: KeySet) -> None:
    data = bytearray(bundle.read_bytes())
    at = data.index(b"version: 2026.11.1")
    data[at : at + 18] = b"version: 2026.11.9"  # same length: the archive stays valid
    with pytest.raises(SignatureError) as exc:
        verify_bundle(write(tmp_path, bytes(data)), ks.public)
    expect(exc, SignatureError, "does not verify")


def test_tampered_signature(tmp_path: Path, bundle: Path, ks: KeySet) -> None:
    data = bytearray(bundle.read_bytes())
    at = member_data_offset(bytes(data), "manifest.sig")
    data[at] ^= 1
    with pytest.raises(SignatureError):
        verify_bundle(write(tmp_path, bytes(data)), ks.public)


def test_tampered_image_detected_at_end_of_stream(tmp_path: Path, bundle: Path, ks: KeySet):
    data = bytearray(bundle.read_bytes())
    at = member_data_offset(bytes(data), "uefisecapp.mbn")
    data[at + 10] ^= 0xFF
    path = write(tmp_path, bytes(data))
    with BundleReader.open(path, ks.public) as reader:  # no image byte read yet: opens fine
        entry, stream = next(reader.images())
        assert entry.target == "uefisecapp"
        received = 0
        with pytest.raises(BundleError) as exc:
            for chunk in stream.iter_chunks(65536):
                received += len(chunk)
        # every chunk but the last was delivered; the last read raised instead
        assert received == (BIG // 65536) * 65536
        assert not stream.verified
    expect(exc, BundleError, "uefisecapp.mbn", "sha256 mismatch")
    with pipe_reader(bytes(data)) as pipe, pytest.raises(BundleError) as exc:
        verify_bundle(pipe, ks.public)
    expect(exc, BundleError, "sha256 mismatch")


# --------------------------------------------------------------------------- truncation


def _cut_points(data: bytes) -> dict[str, int]:
    img = member_data_offset(data, "uefisecapp.mbn")
    last = member_data_offset(data, "dtb.bin")  # zero-size member: its header ends here
    return {
        "empty file": 0,
        "inside first header": 100,
        "inside manifest": 512 + 20,
        "inside signature header": member_data_offset(data, "manifest.sig") - 300,
        "at first image header": img - 512,
        "inside image header": img - 200,
        "inside image": img + 70_000,
        "image end before padding": img + BIG,
        "inside last header": last - 1,
        "before end marker": last,
    }


@pytest.mark.parametrize("mode", ["file", "pipe"])
def test_truncated_bundle(tmp_path: Path, bundle: Path, ks: KeySet, mode: str) -> None:
    data = bundle.read_bytes()
    for label, cut in _cut_points(data).items():
        cut_data = data[:cut]
        with pytest.raises(BundleError) as exc:
            if mode == "file":
                verify_bundle(write(tmp_path, cut_data), ks.public)
            else:
                with pipe_reader(cut_data) as pipe:
                    verify_bundle(pipe, ks.public)
        assert type(exc.value) is BundleError, (label, exc.value)
        expect(exc, BundleError, "truncated bundle")


def test_trailing_zero_blocks_are_optional_after_the_end_marker(
    tmp_path: Path, bundle: Path, ks: KeySet
) -> None:
    data = bundle.read_bytes()
    end = member_data_offset(data, "dtb.bin") + 512
    assert verify_bundle(write(tmp_path, data[:end]), ks.public).version == "2026.11.1"


# --------------------------------------------------------------------------- unsafe members


def _one_image(ks: KeySet, member: Member, listed: str = "x.bin", data: bytes = b"abc") -> bytes:
    return crafted_bundle(ks.private, manifest_doc([("dtb", listed, data)]), [member])


@pytest.mark.parametrize("name", ["../x.bin", "/etc/x.bin", "sub/../../x.bin"])
def test_path_traversal_names(tmp_path: Path, ks: KeySet, name: str) -> None:
    raw = _one_image(ks, Member(name, b"abc"))
    with pytest.raises(BundleError) as exc:
        verify_bundle(write(tmp_path, raw), ks.public)
    expect(exc, BundleError, "unsafe member name", "absolute or with '..'")
    with pipe_reader(raw) as pipe, pytest.raises(BundleError) as exc:
        verify_bundle(pipe, ks.public)
    expect(exc, BundleError, "unsafe member name", "absolute or with '..'")


def test_directory_part_in_name(tmp_path: Path, ks: KeySet) -> None:
    with pytest.raises(BundleError) as exc:
        verify_bundle(write(tmp_path, _one_image(ks, Member("d/x.bin", b"abc"))), ks.public)
    expect(exc, BundleError, "unsafe member name", "plain name")


@pytest.mark.parametrize(
    ("kind", "word"),
    [
        (tarfile.SYMTYPE, "symlink"),
        (tarfile.LNKTYPE, "hardlink"),
        (tarfile.DIRTYPE, "directory"),
        (tarfile.CHRTYPE, "character device"),
        (tarfile.FIFOTYPE, "fifo"),
    ],
)
def test_non_regular_members(tmp_path: Path, ks: KeySet, kind: bytes, word: str) -> None:
    raw = _one_image(ks, Member("x.bin", type=kind, linkname="/etc/shadow"))
    with pytest.raises(BundleError) as exc:
        verify_bundle(write(tmp_path, raw), ks.public)
    expect(exc, BundleError, word, "only regular files")


def test_pax_headers_rejected(tmp_path: Path, ks: KeySet) -> None:
    data = b"abc"
    # force a PAX header by a non-ASCII name on a member of its own
    pax = crafted_bundle(
        ks.private,
        manifest_doc([("dtb", "x.bin", data)]),
        [Member("\u00e9" * 120, data)],
        fmt=tarfile.PAX_FORMAT,
    )
    with pytest.raises(BundleError) as exc:
        verify_bundle(write(tmp_path, pax), ks.public)
    expect(exc, BundleError, "PAX extended header")


def test_gnu_format_rejected(tmp_path: Path, ks: KeySet) -> None:
    data = b"abc"
    raw = crafted_bundle(
        ks.private,
        manifest_doc([("dtb", "x.bin", data)]),
        [Member("x.bin", data)],
        fmt=tarfile.GNU_FORMAT,
    )
    with pytest.raises(BundleError) as exc:
        verify_bundle(write(tmp_path, raw), ks.public)
    expect(exc, BundleError, "not a POSIX ustar archive")


def test_not_a_tar_at_all(tmp_path: Path, ks: KeySet) -> None:
    with pytest.raises(BundleError) as exc:
        verify_bundle(write(tmp_path, image_bytes(4096, 9)), ks.public)
    expect(exc, BundleError, "not a POSIX ustar archive")


def test_corrupt_header_checksum(tmp_path: Path, bundle: Path, ks: KeySet) -> None:
    data = bytearray(bundle.read_bytes())
    header = member_data_offset(bytes(data), "xbl_config.elf") - 512
    data[header + 130] ^= 0x01  # inside the size field
    with pytest.raises(BundleError) as exc:
        verify_bundle(write(tmp_path, bytes(data)), ks.public)
    expect(exc, BundleError, "corrupt member header", "bad checksum")


def test_duplicate_members(tmp_path: Path, ks: KeySet) -> None:
    a, b = b"first", b"second"
    doc = manifest_doc([("dtb", "a.bin", a), ("UEFI", "b.bin", b)])
    raw = crafted_bundle(ks.private, doc, [Member("a.bin", a), Member("a.bin", a)])
    with pytest.raises(BundleError) as exc:
        verify_bundle(write(tmp_path, raw), ks.public)
    expect(exc, BundleError, "duplicate member 'a.bin'")
    again = crafted_bundle(
        ks.private, doc, [Member("a.bin", a), Member("b.bin", b), Member("manifest.yaml", b"x")]
    )
    with pytest.raises(BundleError) as exc:
        verify_bundle(write(tmp_path, again), ks.public)
    expect(exc, BundleError, "duplicate member 'manifest.yaml'")


def test_member_not_listed_and_out_of_order(tmp_path: Path, ks: KeySet) -> None:
    a, b = b"first", b"second"
    doc = manifest_doc([("dtb", "a.bin", a), ("UEFI", "b.bin", b)])
    extra = crafted_bundle(
        ks.private, doc, [Member("a.bin", a), Member("b.bin", b), Member("evil.bin", b"x")]
    )
    with pytest.raises(BundleError) as exc:
        verify_bundle(write(tmp_path, extra), ks.public)
    expect(exc, BundleError, "'evil.bin' is not listed")
    swapped = crafted_bundle(ks.private, doc, [Member("b.bin", b), Member("a.bin", a)])
    with pytest.raises(BundleError) as exc:
        verify_bundle(write(tmp_path, swapped), ks.public)
    expect(exc, BundleError, "out of order", "expected 'a.bin'")


def test_missing_image(tmp_path: Path, ks: KeySet) -> None:
    a, b = b"first", b"second"
    doc = manifest_doc([("dtb", "a.bin", a), ("UEFI", "b.bin", b)])
    raw = crafted_bundle(ks.private, doc, [Member("a.bin", a)])
    for source in ("file", "pipe"):
        with pytest.raises(BundleError) as exc:
            if source == "file":
                verify_bundle(write(tmp_path, raw), ks.public)
            else:
                with pipe_reader(raw) as pipe:
                    verify_bundle(pipe, ks.public)
        expect(exc, BundleError, "'b.bin'", "missing")


def test_size_mismatch(tmp_path: Path, ks: KeySet) -> None:
    doc = manifest_doc([("dtb", "a.bin", b"12345")])
    raw = crafted_bundle(ks.private, doc, [Member("a.bin", b"1234")])
    with pytest.raises(BundleError) as exc:
        verify_bundle(write(tmp_path, raw), ks.public)
    expect(exc, BundleError, "'a.bin' has 4 bytes", "manifest says 5")


def test_manifest_must_come_first(tmp_path: Path, ks: KeySet) -> None:
    raw = tar_bytes([Member("a.bin", b"x"), Member("manifest.yaml", b"format: 1\n")])
    with pytest.raises(BundleError) as exc:
        verify_bundle(write(tmp_path, raw), ks.public)
    expect(exc, BundleError, "first member must be 'manifest.yaml'", "'a.bin'")


def test_manifest_size_limit(tmp_path: Path, ks: KeySet) -> None:
    doc = manifest_doc([("dtb", "a.bin", b"x")], description="y" * 100)
    raw = crafted_bundle(ks.private, doc, [Member("a.bin", b"x")])
    big = tar_bytes([Member("manifest.yaml", b"#" * (MAX_MANIFEST_SIZE + 1))])
    with pytest.raises(BundleError) as exc:
        verify_bundle(write(tmp_path, big), ks.public)
    expect(exc, BundleError, "manifest larger than")
    assert verify_bundle(write(tmp_path, raw), ks.public).description == "y" * 100


def test_unknown_manifest_keys(tmp_path: Path, ks: KeySet) -> None:
    data = b"abc"
    top = manifest_doc([("dtb", "a.bin", data)], flash_everything=True)
    with pytest.raises(BundleError) as exc:
        verify_bundle(
            write(tmp_path, crafted_bundle(ks.private, top, [Member("a.bin", data)])), ks.public
        )
    expect(exc, BundleError, "unknown key 'flash_everything'")
    nested = manifest_doc([("dtb", "a.bin", data)])
    nested["images"][0]["offset"] = 4096
    with pytest.raises(BundleError) as exc:
        verify_bundle(
            write(tmp_path, crafted_bundle(ks.private, nested, [Member("a.bin", data)])), ks.public
        )
    expect(exc, BundleError, "unknown key 'images[0].offset'")


# --------------------------------------------------------------------------- manifest rules


def _manifest_text(**override: object) -> bytes:
    import yaml

    doc = manifest_doc([("dtb", "a.bin", b"abc")])
    for key, value in override.items():
        if key.startswith("image_"):
            doc["images"][0][key[6:]] = value
        else:
            doc[key] = value
    return yaml.safe_dump(doc, sort_keys=False).encode()


def test_parse_manifest_accepts_the_documented_example() -> None:
    text = b"""\
format: 1
compatible: radxa,dragon-q6a
version: "2026.11.1"
description: "optional text"
created: 2026-11-22T10:00:00Z
images:
  - target: uefisecapp
    file: uefisecapp.mbn
    size: 12345
    sha256: %s
    version: "1.0"
""" % (b"ab" * 32)
    m = parse_manifest(text)
    assert m.images == (ImageEntry("uefisecapp", "uefisecapp.mbn", 12345, "ab" * 32, "1.0"),)
    assert m.created is not None and m.created.startswith("2026-11-22T10:00:00")
    assert m.raw == text


@pytest.mark.parametrize(
    ("override", "fragments"),
    [
        ({"format": 2}, ["'format'", "unsupported format"]),
        ({"format": True}, ["'format'"]),
        ({"version": 2026.11}, ["'version'", "quote it"]),
        ({"version": 3}, ["'version'", "quote it"]),
        ({"version": "has space"}, ["'version'"]),
        ({"compatible": ""}, ["'compatible'", "empty"]),
        ({"compatible": ["a"]}, ["'compatible'"]),
        ({"images": []}, ["'images'", "non-empty"]),
        ({"images": "x"}, ["'images'"]),
        ({"image_size": -1}, ["'images[0].size'"]),
        ({"image_size": "3"}, ["'images[0].size'"]),
        ({"image_sha256": "A" * 64}, ["'images[0].sha256'", "lowercase hex"]),
        ({"image_sha256": "0" * 63}, ["'images[0].sha256'"]),
        ({"image_file": "../a.bin"}, ["'images[0].file'", "plain file name"]),
        ({"image_file": "manifest.sig"}, ["'images[0].file'", "reserved"]),
        ({"image_target": "a/b"}, ["'images[0].target'"]),
        ({"image_version": 1.5}, ["'images[0].version'", "quote it"]),
        ({"created": "yesterday"}, ["'created'", "ISO 8601"]),
    ],
)
def test_parse_manifest_rejects(override: dict[str, object], fragments: list[str]) -> None:
    with pytest.raises(BundleError) as exc:
        parse_manifest(_manifest_text(**override))
    expect(exc, BundleError, "manifest", *fragments)


def test_parse_manifest_rejects_duplicates_and_missing_keys() -> None:
    doc = manifest_doc([("dtb", "a.bin", b"1"), ("dtb", "b.bin", b"2")])
    import yaml

    with pytest.raises(BundleError) as exc:
        parse_manifest(yaml.safe_dump(doc).encode())
    expect(exc, BundleError, "'images[1].target'", "duplicate target")
    doc = manifest_doc([("dtb", "a.bin", b"1"), ("UEFI", "a.bin", b"2")])
    with pytest.raises(BundleError) as exc:
        parse_manifest(yaml.safe_dump(doc).encode())
    expect(exc, BundleError, "'images[1].file'", "duplicate file")
    with pytest.raises(BundleError) as exc:
        parse_manifest(b"format: 1\ncompatible: x\nversion: '1'\n")
    expect(exc, BundleError, "missing key 'images'")
    with pytest.raises(BundleError) as exc:
        parse_manifest(b"format: 1\nformat: 1\n")
    expect(exc, BundleError, "line 2", "duplicate key")


def test_parse_manifest_bad_yaml_and_encoding() -> None:
    with pytest.raises(BundleError) as exc:
        parse_manifest(b"format: 1\nimages: [\n")
    expect(exc, BundleError, "invalid YAML", "line 3")
    with pytest.raises(BundleError) as exc:
        parse_manifest(b"\xff\xfe")
    expect(exc, BundleError, "UTF-8")
    with pytest.raises(BundleError) as exc:
        parse_manifest(b"- 1\n")
    expect(exc, BundleError, "mapping")


def test_create_rejects_bad_fields(tmp_path: Path, ks: KeySet, images) -> None:
    with pytest.raises(BundleError) as exc:
        create_bundle(tmp_path / "o", {"compatible": COMPATIBLE, "version": 5}, images, ks.private)
    expect(exc, BundleError, "quote it")
    with pytest.raises(BundleError) as exc:
        create_bundle(
            tmp_path / "o", {"compatible": COMPATIBLE, "version": "1", "x": 1}, images, ks.private
        )
    expect(exc, BundleError, "unknown manifest field x")
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------- versions


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.0", "1.0", 0),
        ("1.0", "1.0.0", 0),
        ("1.0.1", "1.0", 1),
        ("1.10", "1.9", 1),
        ("2026.11.1", "2026.2.30", 1),
        ("1.0-rc1", "1.0", -1),
        ("1.0-rc2", "1.0-rc10", -1),
        ("1.0-rc1", "1.0-beta", 1),
        ("1.0.1", "1.0-rc1", 1),
        ("1.0+build5", "1.0+build4", 1),
        ("v2", "v10", -1),
        ("2", "abc", 1),
    ],
)
def test_compare_versions(a: str, b: str, expected: int) -> None:
    assert compare_versions(a, b) == expected
    assert compare_versions(b, a) == -expected
