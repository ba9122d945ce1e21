"""Installs under the board's boot rule: boot sets (the Q6A), ABL slots, per image.

What boots is judged elsewhere (tests/oracle, the emulated firmware); these
tests check the agent's side: the order of the writes, the checks before the
first write, and that nothing outside the sets changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import socket
import tempfile
from functools import cache
from pathlib import Path

import pytest
from cli_env import Env, error_lines, make_env, run

from scm_fwupdate import events, history, imagegen
from scm_fwupdate.gpt import activate_slot, read_gpt_image, slot_attributes
from scm_fwupdate.journal import Journal, RecordType
from scm_fwupdate.plan import Plan
from scm_fwupdate.profile import QCS6490_BOOT_IMAGES

Q6A = "radxa-dragon-q6a"


@cache
def sizes() -> dict[str, int]:
    table = imagegen.build().gpt
    return {
        p.name.removesuffix("_BACKUP").removesuffix("_a").removesuffix("_b"): p.size
        for p in table.partitions
    }


def release_images(release: str = "REL-2", version: int = 2, names=QCS6490_BOOT_IMAGES) -> dict:
    return {n: imagegen.qcom_image(n, sizes()[n], version, release) for n in names}


@pytest.fixture(autouse=True)
def _cmdline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """make_env(tmp_path / "env") writes the kernel command line the agent reads."""
    monkeypatch.setenv("SCM_FWUPDATE_CMDLINE", str(tmp_path / "env" / "cmdline"))


@pytest.fixture
def q6a(tmp_path: Path) -> Env:
    return make_env(tmp_path / "env", profile=Q6A)


def partition(env: Env, name: str) -> bytes:
    return env.part(name)


def steps(env: Env) -> list[str]:
    with Journal(env.state / "journal") as j:
        rec = j.last(RecordType.PLAN)
        assert rec is not None
        return [s.name for s in Plan.decode(rec.payload).steps]


def test_release_bundle_writes_set_b_whole_then_set_a_header_last(q6a: Env, capsys) -> None:
    before = q6a.image()
    images = release_images()
    rc, _out, err = run(q6a, capsys, "install", str(q6a.bundle(images)))
    assert rc == 0, err
    for name, data in images.items():
        for copy in (f"{name}_b", f"{name}_BACKUP", f"{name}_a", name):
            if copy in q6a.gpt().names():
                assert partition(q6a, copy)[: len(data)] == data, copy
    names = steps(q6a)
    b_writes = [i for i, s in enumerate(names) if s.startswith("set B: write")]
    order = [names.index("verify set B"), names.index("invalidate set A")]
    a_writes = [i for i, s in enumerate(names) if s.startswith("set A: write")]
    assert len(b_writes) == len(a_writes) == len(QCS6490_BOOT_IMAGES)
    assert max(b_writes) < order[0] < order[1] < min(a_writes)
    assert names[-1] == "verify set A"
    # No GPT attribute, no data partition changes under boot sets.
    table, old = q6a.gpt(), read_gpt_image(before)
    assert [p.attributes for p in table.partitions] == [p.attributes for p in old.partitions]
    for data_part in ("VarStore", "DPP", "recoveryinfo", "ddr", "ddr_BACKUP", "qweslicstore_b"):
        p = table.find(data_part)
        assert q6a.image()[p.offset : p.offset + p.size] == before[p.offset : p.offset + p.size]


def test_partial_bundle_of_the_same_release_copies_the_rest(q6a: Env, capsys) -> None:
    images = release_images("REL-1", 2, ("TZ", "dtb"))
    rc, _out, err = run(q6a, capsys, "install", str(q6a.bundle(images)))
    assert rc == 0, err
    assert partition(q6a, "TZ_BACKUP")[: len(images["TZ"])] == images["TZ"]
    assert partition(q6a, "dtb_a")[: len(images["dtb"])] == images["dtb"]
    assert partition(q6a, "HYP_BACKUP") == partition(q6a, "HYP")


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("release-mix", "XBL_CONFIG (REL-1)"),
        ("bundle-mix", "different releases"),
        ("not-elf", "not an ELF image"),
        ("digest", "digest 2 mismatch"),
        ("truncate", "outside the image"),
        ("hash-sizes", "sizes do not add up"),
    ],
)
def test_images_that_would_not_boot_are_refused_before_any_write(
    q6a: Env, capsys, case: str, needle: str
) -> None:
    if case == "release-mix":
        images = release_images("REL-2", 2, ("XBL_SC",))
    elif case == "bundle-mix":
        images = {**release_images("REL-2", 2, ("XBL_SC",)), **release_images("REL-3", 3, ("TZ",))}
    else:
        images = {"TZ": imagegen.corrupt(release_images("REL-1", 2, ("TZ",))["TZ"], case)}
    before = hashlib.sha256(q6a.image()).digest()
    rc, _out, err = run(q6a, capsys, "install", str(q6a.bundle(images)))
    assert rc == 12, err
    lines = error_lines(err)
    assert len(lines) == 1 and needle in lines[0], err
    assert hashlib.sha256(q6a.image()).digest() == before


def test_running_from_set_b_writes_set_a_first(q6a: Env, capsys) -> None:
    table = q6a.gpt()
    tz = table.find("TZ")
    with open(q6a.nor, "r+b") as f:  # set A fails: the chain boots set B
        f.seek(tz.offset)
        f.write(b"\xff" * 4096)
    images = release_images("REL-1", 2, ("TZ", "UEFI"))
    rc, _out, err = run(q6a, capsys, "install", str(q6a.bundle(images)))
    assert rc == 0, err
    names = steps(q6a)
    # Set A, which the chain tries first, is invalidated before any of it is written.
    assert names[0] == "invalidate set A"
    assert names.index("verify set A") < names.index("invalidate set B")
    assert all(
        s.startswith(("set A", "verify set A")) for s in names[1 : names.index("verify set A")]
    )
    assert partition(q6a, "TZ")[: len(images["TZ"])] == images["TZ"]  # set A repaired


def test_no_bootable_set_is_refused(q6a: Env, capsys) -> None:
    table = q6a.gpt()
    with open(q6a.nor, "r+b") as f:
        for name in ("TZ", "HYP_BACKUP"):
            f.seek(table.find(name).offset)
            f.write(b"\0" * 16)
    before = q6a.image()
    rc, _out, err = run(
        q6a, capsys, "install", str(q6a.bundle(release_images("REL-1", 2, ("TZ",))))
    )
    assert rc == 5 and "neither boot set" in err, err
    assert q6a.image() == before


def test_no_activate_has_no_meaning_under_sets(q6a: Env, capsys) -> None:
    bundle = q6a.bundle(release_images("REL-1", 2, ("TZ",)))
    rc, _out, err = run(q6a, capsys, "install", "--no-activate", str(bundle))
    assert rc == 5 and "no separate step" in err


# --------------------------------------------------------------- ab-attributes


def test_release_on_an_abl_layout_installs_into_the_other_slot(tmp_path: Path, capsys) -> None:
    env = make_env(tmp_path / "env", profile="qcom-abl")
    env.nor.write_bytes(imagegen.build(rows=imagegen.abl_layout()).image)
    part = {p.name: p.size for p in env.gpt().partitions}
    images = {
        n: imagegen.qcom_image(n, part[f"{n}_a"], 2, "REL-2")
        for n in ("XBL_SC", "TZ", "UEFI", "dtb")
    }
    images.update(
        {
            n: imagegen.qcom_image(n, part[f"{n}_a"], 1, "REL-2", changed=0)
            for n in QCS6490_BOOT_IMAGES
            if n not in images
        }
    )
    rc, out, err = run(env, capsys, "install", str(env.bundle(images)))
    assert rc == 0 and "into slot b" in out, err
    table = env.gpt()
    assert table.find("dtb_b").active and not table.find("dtb_a").active
    for n, data in images.items():
        assert env.part(f"{n}_b")[: len(data)] == data


def test_release_across_slot_and_per_image_copies_is_refused(tmp_path: Path, capsys) -> None:
    env = make_env(tmp_path / "env", profile="qcom-abl")
    before = env.image()
    rc, _out, err = run(env, capsys, "install", str(env.bundle(release_images())))
    assert rc == 5 and "independently" in err, err
    assert env.image() == before


# --------------------------------------------------------------- fallback


def chosen_env(tmp_path: Path, **props: str) -> Env:
    env = make_env(tmp_path / "env", profile=Q6A)
    chosen = env.root / "chosen"
    chosen.mkdir()
    for name, value in props.items():
        (chosen / f"scm-emu,{name.replace('_', '-')}").write_bytes(value.encode() + b"\0")
    env.write_config(f"board:\n  profile: {Q6A}\n  chosen: {chosen}\n")
    return env


def fallbacks(env: Env) -> list[dict]:
    return [r for r in history.read(env.state / "history.jsonl") if r["operation"] == "fallback"]


def test_a_fallback_to_set_b_is_reported_and_recorded_once(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    env = chosen_env(
        tmp_path, boot_rule="sets", boot_set="B", fallback="1", boot_reason="set A: TZ: bad"
    )
    # journald's native protocol, on a datagram socket of the test's own
    sock = Path(tempfile.mkdtemp(dir="/tmp")) / "journal.sock"  # AF_UNIX paths are short
    journald = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    journald.bind(str(sock))
    journald.settimeout(0)
    monkeypatch.setattr(events, "JOURNAL_SOCKET", sock)
    rc, out, _err = run(env, capsys, "status", "--json")
    st = json.loads(out)
    assert rc == 0 and st["fallback"]["booted"] == "set B"
    assert st["boot_report"]["set"] == "B" and st["board"]["rule"] == "sets"
    assert not fallbacks(env)  # status only reports
    for _ in range(2):  # resume runs at every boot; the same boot is recorded once
        assert run(env, capsys, "resume")[0] == 0
    assert [r["booted"] for r in fallbacks(env)] == ["set B"]
    sent = []
    with contextlib.suppress(BlockingIOError):
        while True:
            sent.append(journald.recv(65536))
    journald.close()
    shutil.rmtree(sock.parent)
    ids = [m.split(b"MESSAGE_ID=")[1][:32].decode() for m in sent if b"MESSAGE_ID=" in m]
    assert ids == [events.BOOT_FALLBACK], sent
    assert b"set B" in sent[0] and b"set A: TZ: bad" in sent[0]
    rc, out, _err = run(env, capsys, "status")
    assert "FALLBACK" in out and "set B" in out


def test_no_fallback_when_set_a_booted(tmp_path: Path, capsys) -> None:
    env = chosen_env(tmp_path, boot_rule="sets", boot_set="A", fallback="0")
    assert run(env, capsys, "resume")[0] == 0
    st = json.loads(run(env, capsys, "status", "--json")[1])
    assert st["fallback"] is None and not fallbacks(env)
    assert st["sets"]["A"]["bootable"] and st["sets"]["A"]["release"] == "REL-1"
    assert st["sets"]["A"]["images"]["TZ"]["version"] == "TZ.1"


def test_inbox_retries_a_bundle_the_board_fell_back_from(tmp_path: Path, capsys) -> None:
    env = make_env(tmp_path / "env", profile="qcom-abl")
    bundle = env.bundle(["dtb"])
    inbox = env.state / "inbox"
    inbox.mkdir(parents=True)
    shutil.copy(bundle, inbox / "fw.bundle")
    assert run(env, capsys, "install-inbox")[0] == 0
    shutil.copy(bundle, inbox / "fw.bundle")
    assert "fw.bundle: done" in run(env, capsys, "install-inbox")[1]
    installs = [r for r in history.read(env.state / "history.jsonl") if r["operation"] == "install"]
    assert len(installs) == 1  # the same bundle again: skipped
    # The board rebooted, never confirmed slot b, and the chain went back to slot a
    # (as ABL does it: b unbootable, a active again; set up here, not judged).
    table = env.gpt()
    table = activate_slot(table.with_attributes(slot_attributes(table, "b", unbootable=True)), "a")
    with open(env.nor, "r+b") as f:
        for copy in table.copies():
            for off, data in copy:
                f.seek(off)
                f.write(data)
    (env.root / "cmdline").write_text("console=ttyMSM0 androidboot.slot_suffix=_a\n")
    assert run(env, capsys, "resume")[0] == 0
    assert [r["booted"] for r in fallbacks(env)] == ["slot a"]
    shutil.copy(bundle, inbox / "fw.bundle")
    assert run(env, capsys, "install-inbox")[0] == 0
    installs = [r for r in history.read(env.state / "history.jsonl") if r["operation"] == "install"]
    assert len(installs) == 2  # retried, not skipped
