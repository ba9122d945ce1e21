"""Every bad input: one-line error on stderr, its exit code, NOR bytes unchanged."""

from __future__ import annotations

import hashlib
import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from bundle_fixtures import COMPATIBLE, Member, crafted_bundle, manifest_doc, member_data_offset
from cli_env import Env, error_lines, new_firmware, run

from scm_fwupdate import history
from scm_fwupdate.lock import InstanceLock


def _write(env: Env, name: str, data: bytes) -> Path:
    path = env.root / name
    path.write_bytes(data)
    return path


def unsigned(env: Env) -> list[str]:
    data = new_firmware("VarStore")
    raw = crafted_bundle(
        env.keys.private,
        manifest_doc([("VarStore", "v.bin", data)]),
        [Member("v.bin", data)],
        signed=False,
    )
    return ["install", str(_write(env, "unsigned.bundle", raw))]


def wrong_key(env: Env) -> list[str]:
    return ["install", str(env.bundle(["VarStore"], key=env.keys.other_private))]


def tampered_image(env: Env) -> list[str]:
    bundle = env.bundle(["uefisecapp"])
    raw = bytearray(bundle.read_bytes())
    raw[member_data_offset(bytes(raw), "uefisecapp.bin") + 5000] ^= 0x01  # one image bit
    bundle.write_bytes(bytes(raw))
    return ["install", str(bundle)]


def tampered_manifest(env: Env) -> list[str]:
    bundle = env.bundle(["VarStore"])
    raw = bundle.read_bytes().replace(b"version: 2026.11.2", b"version: 2026.11.9", 1)
    assert raw != bundle.read_bytes()
    bundle.write_bytes(raw)
    return ["install", str(bundle)]


def truncated(env: Env) -> list[str]:
    bundle = env.bundle(["VarStore"])
    raw = bundle.read_bytes()
    bundle.write_bytes(raw[: len(raw) // 2])
    return ["install", str(bundle)]


def wrong_compatible(env: Env) -> list[str]:
    return ["install", str(env.bundle(["VarStore"], compatible="acme,other-board"))]


def downgrade(env: Env) -> list[str]:
    history.append(
        env.state / "history.jsonl",
        {"operation": "install", "result": "success", "version": "2027.1", "txid": "x"},
    )
    return ["install", str(env.bundle(["VarStore"], version="2026.11.2"))]


def oversized(env: Env) -> list[str]:
    size = env.gpt().find("uefisecapp_b").size
    return ["install", str(env.bundle({"uefisecapp": b"\x5a" * (size + 4096)}))]


def path_traversal(env: Env) -> list[str]:
    data = new_firmware("VarStore")
    doc = manifest_doc([("VarStore", "v.bin", data)])
    raw = crafted_bundle(env.keys.private, doc, [Member("../v.bin", data)])
    return ["install", str(_write(env, "traversal.bundle", raw))]


def traversal_in_manifest(env: Env) -> list[str]:
    data = new_firmware("VarStore")
    doc = manifest_doc([("VarStore", "../../etc/v.bin", data)])
    raw = crafted_bundle(env.keys.private, doc, [Member("../../etc/v.bin", data)])
    return ["install", str(_write(env, "traversal2.bundle", raw))]


def unknown_manifest_key(env: Env) -> list[str]:
    data = new_firmware("VarStore")
    doc = manifest_doc([("VarStore", "v.bin", data)], surprise=1)
    raw = crafted_bundle(env.keys.private, doc, [Member("v.bin", data)])
    return ["install", str(_write(env, "unknown.bundle", raw))]


def broken_config(env: Env) -> list[str]:
    env.config.write_text("device: [unclosed\n")
    return ["install", str(env.bundle(["VarStore"]))]


def unknown_config_key(env: Env) -> list[str]:
    env.write_config("no_such_key: 1\n")
    return ["status"]


def missing_config(env: Env) -> list[str]:
    env.config.unlink()
    return ["status"]


def missing_device(env: Env) -> list[str]:
    bundle = env.bundle(["VarStore"])
    return ["--device", str(env.root / "no-such-nor.img"), "install", str(bundle)]


def missing_bundle(env: Env) -> list[str]:
    return ["install", str(env.root / "nope.bundle")]


def target_not_in_gpt(env: Env) -> list[str]:
    data = new_firmware("VarStore")
    return ["install", str(env.bundle({"NOT_THERE": data}))]


def ignored_target(env: Env) -> list[str]:
    env.write_config("slots:\n  overrides:\n    VarStore: ignore\n")
    return ["install", str(env.bundle(["VarStore"]))]


def bad_override(env: Env) -> list[str]:
    env.write_config("slots:\n  overrides:\n    VarStore: ab\n")  # no VarStore_a/_b
    return ["install", str(env.bundle(["VarStore"]))]


CASES: dict[str, tuple[Callable[[Env], list[str]], int, str]] = {
    "unsigned": (unsigned, 4, "not signed"),
    "wrong-key": (wrong_key, 4, "does not verify"),
    "tampered-image": (tampered_image, 10, "sha256 mismatch"),
    "tampered-manifest": (tampered_manifest, 4, "does not verify"),
    "truncated": (truncated, 3, ""),
    "wrong-compatible": (wrong_compatible, 5, "acme,other-board"),
    "downgrade": (downgrade, 5, "older"),
    "oversized": (oversized, 5, "larger than"),
    "path-traversal-member": (path_traversal, 3, ""),
    "path-traversal-manifest": (traversal_in_manifest, 3, ""),
    "unknown-manifest-key": (unknown_manifest_key, 3, "surprise"),
    "broken-config": (broken_config, 2, "line"),
    "unknown-config-key": (unknown_config_key, 2, "no_such_key"),
    "missing-config": (missing_config, 2, "not found"),
    "missing-device": (missing_device, 6, "does not exist"),
    "missing-bundle": (missing_bundle, 3, "nope.bundle"),
    "target-not-in-gpt": (target_not_in_gpt, 5, "NOT_THERE"),
    "ignored-target": (ignored_target, 5, "ignore"),
    "bad-override": (bad_override, 5, "VarStore_a"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_rejected_and_nothing_written(env: Env, capsys, case: str) -> None:
    make, code, needle = CASES[case]
    argv = make(env)
    before = hashlib.sha256(env.image()).digest()
    records = len(history.read(env.state / "history.jsonl"))
    rc, _out, err = run(env, capsys, *argv)
    lines = error_lines(err)
    assert rc == code, err
    assert len(lines) == 1 and lines[0].startswith("scm-fwupdate: error: "), err
    assert needle in lines[0]
    assert hashlib.sha256(env.image()).digest() == before
    assert not (env.state / "staged.bundle").exists()
    assert len(history.read(env.state / "history.jsonl")) == records


def _hold_lock(path: Path, ready, release) -> None:
    with InstanceLock(path):
        ready.set()
        release.wait(30)


def test_second_instance_fails_at_once(env: Env, capsys) -> None:
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(env.lock, ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        bundle = env.bundle(["VarStore"])
        before = env.image()
        t0 = time.monotonic()
        rc, _out, err = run(env, capsys, "install", str(bundle))
        assert time.monotonic() - t0 < 5  # no waiting for the lock
        assert rc == 9
        assert error_lines(err) == [
            f"scm-fwupdate: error: another scm-fwupdate (pid {holder.pid}) is running"
        ]
        assert env.image() == before
        assert run(env, capsys, "status")[0] == 0  # read-only commands need no lock
    finally:
        release.set()
        holder.join(10)
    assert run(env, capsys, "install", str(bundle))[0] == 0  # free again


def test_compatible_constant_matches_default_config() -> None:
    from scm_fwupdate.config import Config

    assert Config().compatible == COMPATIBLE
