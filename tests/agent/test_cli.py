"""End-to-end CLI tests on a Qualcomm-like 32 MiB NOR image file (--device FILE)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cli_env import Env, board, error_lines, new_firmware, run, sha

from scm_fwupdate import cli, events, gpt, history
from scm_fwupdate.config import load_config
from scm_fwupdate.context import make_context
from scm_fwupdate.sim import SimNor

AGENT_SRC = Path(__file__).parents[2] / "agent" / "src"


def status(env: Env, capsys) -> dict:
    rc, out, _err = run(env, capsys, "status", "--json")
    assert rc == 0
    return json.loads(out)


def padded_equal(part: bytes, data: bytes) -> bool:
    return part == data + b"\xff" * (len(part) - len(data))


# --------------------------------------------------------------------------- installs


def test_ab_install_switches_slot_and_status_shows_it(env: Env, capsys) -> None:
    before = status(env, capsys)
    assert before["booted"] == "a" and before["gpt_selected"] == "a"
    assert before["installed"] is None and before["journal"]["state"] == "idle"
    kinds = {g["name"]: g["kind"] for g in before["groups"]}
    assert kinds["dtb"] == "ab" and kinds["UEFI"] == "primary-backup"
    assert kinds["VarStore"] == "single"
    old_a = env.part("dtb_a")

    bundle = env.bundle(["dtb", "uefisecapp"])
    rc, out, err = run(env, capsys, "install", str(bundle))
    assert rc == 0, err
    assert "into slot b" in out and "activated" in out

    assert padded_equal(env.part("dtb_b"), new_firmware("dtb"))
    assert padded_equal(env.part("uefisecapp_b"), new_firmware("uefisecapp"))
    assert env.part("dtb_a") == old_a  # the running slot is never written
    after = status(env, capsys)
    assert after["gpt_selected"] == "b"
    assert after["boot"]["next"] == "b"
    slot_b = {s["name"]: s for s in after["boot"]["slots"]}["b"]
    assert slot_b["active"] and not slot_b["good"]  # fresh: not yet confirmed
    assert after["installed"]["version"] == "2026.11.2"
    assert after["journal"]["state"] == "done"
    assert not (env.state / "staged.bundle").exists()  # staged copy removed after DONE
    assert run(env, capsys, "verify")[0] == 0


@pytest.mark.parametrize("target", ["UEFI", "HYP"])
def test_primary_backup_install_writes_both_copies(env: Env, capsys, target: str) -> None:
    rc, _out, err = run(env, capsys, "install", str(env.bundle([target])))
    assert rc == 0, err
    new = new_firmware(target)
    assert padded_equal(env.part(target), new)
    assert padded_equal(env.part(f"{target}_BACKUP"), new)
    assert status(env, capsys)["gpt_selected"] == "a"  # no A/B image: no slot switch


def test_single_copy_install_in_place(env: Env, capsys) -> None:
    rc, _out, err = run(env, capsys, "install", str(env.bundle(["VarStore"])))
    assert rc == 0, err
    assert padded_equal(env.part("VarStore"), new_firmware("VarStore"))
    rec = history.last_success(env.state / "history.jsonl")
    assert rec and rec["targets"] == ["VarStore"] and rec["images"][0]["kind"] == "single"


def test_mark_good_mark_bad_activate(env: Env, capsys) -> None:
    assert run(env, capsys, "install", str(env.bundle(["uefisecapp"])))[0] == 0
    rc, out, _ = run(env, capsys, "mark-good")  # booted = GPT-selected slot b
    assert rc == 0 and "slot b marked good" in out
    assert gpt.slot_pairs(env.gpt())["uefisecapp"][1].successful
    # Already good: no second write (mark-good runs at every boot).
    image = env.image()
    rc, out, _ = run(env, capsys, "mark-good")
    assert rc == 0 and "already" in out and env.image() == image

    rc, _, _ = run(env, capsys, "mark-bad", "b")
    assert rc == 0
    st = status(env, capsys)
    assert st["gpt_selected"] == "a" and st["slots"]["b"]["unbootable"]
    rc, _, _ = run(env, capsys, "activate", "b")
    assert rc == 0
    st = status(env, capsys)
    assert st["gpt_selected"] == "b" and st["slots"]["b"]["retry"] == gpt.AB_MAX_RETRY
    rc, _, err = run(env, capsys, "activate", "c")
    assert rc == 11 and "unknown slot" in err


def test_no_activate_then_activate(env: Env, capsys) -> None:
    rc, out, _ = run(env, capsys, "install", "--no-activate", str(env.bundle(["uefisecapp"])))
    assert rc == 0 and "not activated" in out
    st = status(env, capsys)
    assert st["gpt_selected"] == "a"
    assert not st["slots"]["b"]["unbootable"]  # written and bootable as a fallback
    assert run(env, capsys, "activate", "b")[0] == 0
    assert status(env, capsys)["gpt_selected"] == "b"


def test_dry_run_writes_nothing(env: Env, capsys) -> None:
    image = env.image()
    rc, out, _ = run(env, capsys, "install", "--dry-run", str(env.bundle(["uefisecapp", "HYP"])))
    assert rc == 0 and "dry run" in out and "would write slot b" in out
    assert env.image() == image
    assert not (env.state / "staged.bundle").exists()
    assert history.read(env.state / "history.jsonl") == []


def test_reinstall_refused_while_new_slot_not_booted(env: Env, capsys) -> None:
    """After activating b, the kernel still says slot a runs: writing a would hit it."""
    assert run(env, capsys, "install", str(env.bundle(["uefisecapp"])))[0] == 0
    (env.root / "cmdline").write_text("quiet androidboot.slot_suffix=_a\n")
    image = env.image()
    rc, _, err = run(env, capsys, "install", str(env.bundle(["uefisecapp"], "2026.11.3")))
    assert rc == 5 and "reboot" in err
    assert env.image() == image


def test_booted_slot_from_cmdline(env: Env, capsys) -> None:
    (env.root / "cmdline").write_text("androidboot.slot_suffix=_b console=ttyMSM0\n")
    st = status(env, capsys)
    assert st["booted"] == "b" and st["booted_source"] == "cmdline"
    assert st["gpt_selected"] == "a"


def test_downgrade_and_allow_downgrade(env: Env, capsys) -> None:
    assert run(env, capsys, "install", str(env.bundle(["VarStore"], "2.0")))[0] == 0
    old = env.bundle(["VarStore"], "1.9", name="old.bundle")
    image = env.image()
    rc, _, err = run(env, capsys, "install", str(old))
    assert rc == 5 and "older" in err and env.image() == image
    assert run(env, capsys, "install", "--allow-downgrade", str(old))[0] == 0


def test_backup_dumps_the_whole_flash(env: Env, capsys, tmp_path: Path) -> None:
    out_file = tmp_path / "dump.bin"
    rc, out, _ = run(env, capsys, "backup", "--output", str(out_file))
    assert rc == 0
    assert out_file.read_bytes() == env.image()
    digest = sha(env.image())
    assert out.split()[0] == digest
    assert (tmp_path / "dump.bin.sha256").read_text() == f"{digest}  dump.bin\n"


def test_verify_detects_a_changed_image(env: Env, capsys) -> None:
    assert run(env, capsys, "install", str(env.bundle(["HYP"])))[0] == 0
    p = env.gpt().find("HYP_BACKUP")
    with open(env.nor, "r+b") as f:
        f.seek(p.offset + 0x3000)
        byte = f.read(1)
        f.seek(p.offset + 0x3000)
        f.write(bytes([byte[0] ^ 0x01]))
    rc, out, err = run(env, capsys, "verify")
    assert rc == 10 and "HYP_BACKUP" in err
    assert "HYP: ok" in out and "HYP_BACKUP: MISMATCH" in out


def test_verify_detects_a_damaged_gpt_copy(env: Env, capsys) -> None:
    with open(env.nor, "r+b") as f:
        f.seek(4096 + 16)  # primary header CRC field
        f.write(b"\x00\x00\x00\x00")
    rc, _out, err = run(env, capsys, "verify")
    assert rc == 10 and "primary table" in err


def test_install_inbox(env: Env, capsys) -> None:
    inbox = env.state / "inbox"
    inbox.mkdir(parents=True)
    good = env.bundle(["VarStore"], name="1-good.bundle")
    bad = env.bundle(["VarStore"], name="2-bad.bundle", compatible="other,board")
    os.replace(good, inbox / good.name)
    os.replace(bad, inbox / bad.name)
    rc, _out, err = run(env, capsys, "install-inbox")
    assert rc == 1 and "1 bundle(s) failed" in err
    assert (inbox / "done" / "1-good.bundle").exists()
    assert (inbox / "failed" / "2-bad.bundle").exists()
    assert "PolicyError" in (inbox / "failed" / "2-bad.bundle.error").read_text()
    assert padded_equal(env.part("VarStore"), new_firmware("VarStore"))
    # The same bundle dropped again (e.g. it was finished by resume): not rewritten.
    os.replace(inbox / "done" / "1-good.bundle", inbox / "1-good.bundle")
    before = len(history.read(env.state / "history.jsonl"))
    assert run(env, capsys, "install-inbox")[0] == 0
    assert len(history.read(env.state / "history.jsonl")) == before


def test_resume_with_nothing_to_do(env: Env, capsys) -> None:
    rc, out, _ = run(env, capsys, "resume")
    assert rc == 0 and "nothing to resume" in out


def test_progress_json_never_100_before_done(env: Env, capsys) -> None:
    capsys.readouterr()
    rc = cli.main(
        ["--config", str(env.config), "--progress", "json", "install", str(env.bundle(["dtb"]))]
    )
    out = capsys.readouterr().out
    assert rc == 0
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(lines) > 10
    assert all(rec["percent"] <= 99 for rec in lines[:-1])
    assert lines[-1] == {"phase": "done", "done": 1, "total": 1, "percent": 100}
    assert {"phase", "done", "total", "percent"} <= set(lines[1])


# --------------------------------------------------------------------------- Ctrl-C


class _SignalAfter:
    """A flash wrapper that delivers a signal to this process at the Nth program."""

    def __init__(self, flash, at: int, signum: int) -> None:
        self.flash, self.at, self.signum, self.n = flash, at, signum, 0

    def __getattr__(self, name: str):
        return getattr(self.flash, name)  # geometry, read, erase, ...: the real device

    def program(self, offset: int, data: bytes) -> None:
        self.n += 1
        if self.n == self.at:
            os.kill(os.getpid(), self.signum)
        self.flash.program(offset, data)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_between_blocks_then_resume(env: Env, capsys, signum: int) -> None:
    cfg = load_config(env.config, missing_ok=False)
    ctx = make_context(cfg)
    ctx.open_flash = lambda w: _SignalAfter(SimNor.open_image(env.nor), 12, signum)
    rc, _out, err = run(env, capsys, "install", str(env.bundle(["dtb"])), context=ctx)
    assert rc == 130
    assert len(error_lines(err.split("scm-fwupdate: error:")[-1])) == 1
    assert "resume" in err
    assert status(env, capsys)["journal"]["state"] == "pending"
    assert (env.state / "staged.bundle").exists()  # resume reads the images from it
    # The running slot is still selected: the interrupted one was marked unbootable.
    assert env.gpt().find("dtb_b").unbootable
    rc, out, _ = run(env, capsys, "resume")
    assert rc == 0 and "completed" in out
    assert padded_equal(env.part("dtb_b"), new_firmware("dtb"))
    st = status(env, capsys)
    assert st["gpt_selected"] == "b" and st["installed"]["version"] == "2026.11.2"
    assert not (env.state / "staged.bundle").exists()
    rec = history.last_success(env.state / "history.jsonl")
    assert rec and rec["resumed"] == 1


# --------------------------------------------------------------------------- U-Boot


HAVE_UBOOT = bool(subprocess.run(["which", "fw_setenv"], capture_output=True).returncode == 0)


@pytest.mark.skipif(not HAVE_UBOOT, reason="fw_setenv missing: install libubootenv-tool")
def test_uboot_backend_install_activates_through_fw_setenv(env: Env, capsys) -> None:
    size = 0x2000
    copies = [env.root / "env.0", env.root / "env.1"]
    for c in copies:
        c.write_bytes(b"\0" * size)
    fwcfg = env.root / "fw_env.config"
    fwcfg.write_text("".join(f"{c} 0x0 {size:#x}\n" for c in copies))
    initial = env.root / "initial-env"
    initial.write_text("BOOT_ORDER=A B\nBOOT_A_LEFT=3\nBOOT_B_LEFT=3\n")
    empty = env.root / "empty"
    empty.write_text("")
    subprocess.run(
        ["fw_setenv", "-c", str(fwcfg), "-f", str(initial), "-s", str(empty)], check=True
    )
    env.write_config(f"boot:\n  backend: uboot-env\n  uboot:\n    config: {fwcfg}\n")

    def printenv() -> dict[str, str]:
        out = subprocess.run(
            ["fw_printenv", "-c", str(fwcfg)], capture_output=True, text=True, check=True
        ).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    rc, out, err = run(env, capsys, "install", str(env.bundle(["uefisecapp"])))
    assert rc == 0, err
    assert "activated" in out
    e = printenv()
    assert e["BOOT_ORDER"] == "B A" and e["BOOT_B_GOOD"] == "0"
    assert padded_equal(env.part("uefisecapp_b"), new_firmware("uefisecapp"))
    # The GPT bits only mirror: slot b written and bootable, but not selected there.
    assert gpt.boot_slot(env.gpt()) == "a"
    st = status(env, capsys)
    assert st["boot"]["backend"] == "uboot-env" and st["boot"]["next"] == "b"
    rc, _, _ = run(env, capsys, "mark-good", "b")
    assert rc == 0 and printenv()["BOOT_B_GOOD"] == "1"
    # Next install: U-Boot says b boots, so slot a is written (never the running one).
    (env.root / "cmdline").write_text("rauc.slot=B\n")
    old_b = env.part("uefisecapp_b")
    rc, _, err = run(env, capsys, "install", str(env.bundle(["uefisecapp"], "2026.11.3")))
    assert rc == 0, err
    assert env.part("uefisecapp_b") == old_b
    assert printenv()["BOOT_ORDER"] == "A B"


def test_activation_pending_after_done_is_done_by_resume(env: Env, capsys) -> None:
    """A cut between DONE and the backend's activation: resume still activates."""

    class Backend:
        def __init__(self, fail: bool) -> None:
            self.fail, self.activated = fail, []

        def primary(self) -> str:
            return "a"

        def state(self):
            return []

        def slots(self):
            return ["a", "b"]

        def activate(self, slot: str) -> None:
            if self.fail:
                raise KeyboardInterrupt  # stands in for the power going away here
            self.activated.append(slot)

        def mark_good(self, slot: str) -> None: ...

        def mark_bad(self, slot: str) -> None: ...

    env.write_config("boot:\n  backend: script\n  script: /bin/false\n")
    cfg = load_config(env.config, missing_ok=False)
    ctx = make_context(cfg)
    ctx.backend = Backend(fail=True)
    rc, _, _ = run(env, capsys, "install", str(env.bundle(["uefisecapp"])), context=ctx)
    assert rc == 130
    assert status(env, capsys)["journal"]["state"] == "done"
    assert history.last_success(env.state / "history.jsonl") is None
    image = env.image()
    # Another install must not start before the pending activation is done.
    rc, _, err = run(env, capsys, "install", str(env.bundle(["VarStore"])), context=ctx)
    assert rc == 8 and "resume" in err and env.image() == image
    ctx.backend = ok = Backend(fail=False)
    rc, out, _ = run(env, capsys, "resume", context=ctx)
    assert rc == 0 and "finished" in out
    assert ok.activated == ["b"]
    assert history.last_success(env.state / "history.jsonl")["version"] == "2026.11.2"
    rc, out, _ = run(env, capsys, "resume", context=ctx)
    assert "nothing" in out and ok.activated == ["b"]  # idempotent


# --------------------------------------------------------------------------- host side


def test_bundle_create_is_deterministic_and_info_verify(env: Env, capsys, tmp_path: Path) -> None:
    img = tmp_path / "fw.bin"
    img.write_bytes(new_firmware("uefisecapp"))
    outs = []
    for name in ("one.bundle", "two.bundle"):
        out = tmp_path / name
        rc = cli.main(
            [
                "bundle",
                "create",
                "--key",
                str(env.keys.private),
                "--compatible",
                "radxa,dragon-q6a",
                "--version",
                "3.1",
                "--description",
                "test",
                "--image",
                f"uefisecapp={img}",
                "--output",
                str(out),
            ]
        )
        assert rc == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    capsys.readouterr()
    assert (
        cli.main(
            [
                "bundle",
                "info",
                str(tmp_path / "one.bundle"),
                "--json",
                "--keyring",
                str(env.keys.public),
            ]
        )
        == 0
    )
    info = json.loads(capsys.readouterr().out)
    assert info["version"] == "3.1" and info["signature"]["status"] == "valid"
    assert info["images"][0]["sha256"] == sha(img.read_bytes())
    assert (
        cli.main(
            ["bundle", "verify", str(tmp_path / "one.bundle"), "--keyring", str(env.keys.public)]
        )
        == 0
    )
    rc = cli.main(
        ["bundle", "verify", str(tmp_path / "one.bundle"), "--keyring", str(env.keys.other_public)]
    )
    assert rc == 4
    rc = cli.main(
        [
            "bundle",
            "create",
            "--key",
            str(env.keys.private),
            "--compatible",
            "x",
            "--version",
            "1",
            "--image",
            "no-equals-sign",
            "--output",
            str(tmp_path / "x"),
        ]
    )
    assert rc == 1


def test_keygen_with_certificate_signs_installable_bundle(env: Env, capsys, tmp_path: Path) -> None:
    k, pub, crt = tmp_path / "k.pem", tmp_path / "k.pub", tmp_path / "k.crt"
    assert (
        cli.main(
            [
                "keygen",
                "--private",
                str(k),
                "--public",
                str(pub),
                "--certificate",
                str(crt),
                "--cn",
                "Test Signer",
            ]
        )
        == 0
    )
    assert oct(k.stat().st_mode & 0o777) == "0o600"
    key_before = k.read_bytes()
    assert cli.main(["keygen", "--private", str(k), "--public", str(pub)]) == 2
    assert k.read_bytes() == key_before  # an existing key is never overwritten
    assert b"BEGIN CERTIFICATE" in crt.read_bytes()
    # A keyring holding only the certificate accepts bundles signed with the key.
    env.write_config()
    text = env.config.read_text().replace(str(env.keys.public), str(crt))
    env.config.write_text(text)
    rc, _, err = run(env, capsys, "install", str(env.bundle(["VarStore"], key=k)))
    assert rc == 0, err


def test_journal_events_use_the_native_protocol(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "journal.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    try:
        monkeypatch.setattr(events, "JOURNAL_SOCKET", path)
        assert events.emit(events.INSTALL_FINISHED, "multi\nline", events.NOTICE, txid="t1")
        data = server.recv(65536)
    finally:
        server.close()
    assert b"MESSAGE_ID=" + events.INSTALL_FINISHED.encode() + b"\n" in data
    assert b"PRIORITY=5\n" in data and b"SCM_FWUPDATE_TXID=t1\n" in data
    assert b"MESSAGE\n" + (10).to_bytes(8, "little") + b"multi\nline\n" in data
    assert len(set(events.MESSAGE_IDS.values())) == len(events.MESSAGE_IDS)


# --------------------------------------------------------------------------- subprocess


def _sub(env: Env, *argv: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    e = dict(os.environ, PYTHONPATH=str(AGENT_SRC), SCM_FWUPDATE_CMDLINE=str(env.root / "cmdline"))
    return subprocess.run(
        [sys.executable, "-m", "scm_fwupdate", "--config", str(env.config), *argv],
        input=stdin,
        capture_output=True,
        env=e,
        timeout=120,
    )


def test_python_m_install_from_stdin_and_status(env: Env) -> None:
    bundle = env.bundle(["uefisecapp", "XBL_CONFIG"])
    p = _sub(env, "--progress", "json", "install", "-", stdin=bundle.read_bytes())
    assert p.returncode == 0, p.stderr
    last = json.loads(p.stdout.decode().splitlines()[-2])
    assert last["percent"] == 100
    assert padded_equal(env.part("XBL_CONFIG"), new_firmware("XBL_CONFIG"))
    p = _sub(env, "status", "--json")
    assert p.returncode == 0
    st = json.loads(p.stdout)
    assert st["gpt_selected"] == "b" and st["installed"]["targets"] == ["uefisecapp", "XBL_CONFIG"]


def test_python_m_bad_bundle_exit_code(env: Env, tmp_path: Path) -> None:
    junk = tmp_path / "junk.bundle"
    junk.write_bytes(b"not a tar file" * 100)
    image = env.image()
    p = _sub(env, "install", str(junk))
    assert p.returncode == 3
    assert p.stderr.decode().startswith("scm-fwupdate: error: ")
    assert len(p.stderr.decode().splitlines()) == 1
    assert env.image() == image


def test_usage_error_is_one_line(capsys) -> None:
    assert cli.main(["frobnicate"]) == 1
    err = capsys.readouterr().err
    assert len(error_lines(err)) == 1 and err.startswith("scm-fwupdate: error:")


def test_board_has_the_expected_layout() -> None:
    names = set(board().gpt.names())
    assert {"dtb_a", "dtb_b", "UEFI", "UEFI_BACKUP", "VarStore"} <= names


def test_progress_bar_caps_at_99_until_finish() -> None:
    import io

    from scm_fwupdate.progress import Progress

    buf = io.StringIO()
    p = Progress("bar", stream=buf)
    p.update("write dtb_b", 776, 776)  # every block written, DONE not yet durable
    assert " 99%" in buf.getvalue() and "100%" not in buf.getvalue()
    p.finish()
    assert buf.getvalue().endswith("100%\n")
    assert Progress.percent(0, 0) == 0 and Progress.percent(5, 10) == 50


def test_read_only_commands_do_not_create_the_journal(env: Env, capsys) -> None:
    assert status(env, capsys)["journal"]["state"] == "idle"
    assert run(env, capsys, "verify")[0] == 0
    assert run(env, capsys, "resume")[0] == 0
    assert not (env.state / "journal").exists()  # keeps ConditionPathExists= meaningful


def test_state_dir_override_moves_journal_and_history(env: Env, capsys, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    rc, _, err = run(env, capsys, "--state-dir", str(other), "install", str(env.bundle(["HYP"])))
    assert rc == 0, err
    assert history.last_success(other / "history.jsonl")["targets"] == ["HYP"]
    assert (other / "journal").exists()
    assert not (env.state / "history.jsonl").exists()


def test_install_from_a_named_pipe_is_staged(env: Env, capsys, tmp_path: Path) -> None:
    import threading

    data = env.bundle(["VarStore"]).read_bytes()
    fifo = tmp_path / "bundle.fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as f:
            f.write(data)

    t = threading.Thread(target=feed, daemon=True)
    t.start()
    rc, _, err = run(env, capsys, "install", str(fifo))
    t.join(10)
    assert rc == 0, err
    assert padded_equal(env.part("VarStore"), new_firmware("VarStore"))


def test_install_events_carry_stable_message_ids(
    env: Env, capsys, tmp_path: Path, monkeypatch
) -> None:
    path = tmp_path / "journal.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    server.settimeout(0)
    monkeypatch.setattr(events, "JOURNAL_SOCKET", path)
    try:
        assert run(env, capsys, "install", str(env.bundle(["VarStore"])))[0] == 0
        bad = env.bundle(["VarStore"], "2026.11.3", compatible="other,board")
        _rc, _out, err = run(env, capsys, "install", str(bad))
        messages = []
        while True:
            try:
                messages.append(server.recv(65536))
            except BlockingIOError:
                break
    finally:
        server.close()
    ids = [m.split(b"MESSAGE_ID=")[1][:32].decode() for m in messages]
    assert ids == [events.INSTALL_STARTED, events.INSTALL_FINISHED, events.INSTALL_FAILED]
    assert b"PRIORITY=3\n" in messages[-1] and b"other,board" in messages[-1]
    assert len(error_lines(err)) == 1  # the failure is not printed twice


def test_script_backend_install_and_mark(env: Env, capsys) -> None:
    """RAUC's custom-backend interface, with the state kept in files by a shell script."""
    state = env.root / "bootstate"
    state.mkdir()
    (state / "primary").write_text("a\n")
    script = env.root / "boot.sh"
    script.write_text(
        "#!/bin/sh\n"
        f"S={state}\n"
        'case "$1" in\n'
        "  get-primary) cat $S/primary ;;\n"
        "  get-state) if [ -e $S/bad-$2 ]; then echo bad; else echo good; fi ;;\n"
        '  set-primary) echo "$2" > $S/primary; rm -f $S/bad-$2 ;;\n'
        '  set-state) if [ "$3" = bad ]; then touch $S/bad-$2; else rm -f $S/bad-$2; fi ;;\n'
        '  *) echo "unknown command $1" >&2; exit 2 ;;\n'
        "esac\n"
    )
    script.chmod(0o755)
    env.write_config(f"boot:\n  backend: script\n  script: {script}\n")
    rc, _out, err = run(env, capsys, "install", str(env.bundle(["dtb"])))
    assert rc == 0, err
    assert (state / "primary").read_text().strip() == "b"
    assert padded_equal(env.part("dtb_b"), new_firmware("dtb"))
    assert status(env, capsys)["boot"]["next"] == "b"
    assert run(env, capsys, "mark-bad", "b")[0] == 0
    assert (state / "bad-b").exists()


AGENT = Path(__file__).parents[2] / "agent"


def test_shipped_config_is_the_documented_default() -> None:
    from scm_fwupdate.config import Config, default_config_yaml

    shipped = AGENT / "etc" / "scm-fwupdate.yaml"
    assert shipped.read_text() == default_config_yaml()
    cfg = load_config(shipped, missing_ok=False)
    assert cfg.device == Config().device and cfg.journal == Config().journal


def _unit(name: str) -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    current = ""
    for line in (AGENT / "systemd" / name).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            sections[current] = {}
        else:
            key, _, value = line.partition("=")
            sections[current][key] = value
    return sections


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("scm-fwupdate-resume.service", "resume"),
        ("scm-fwupdate-mark-good.service", "mark-good"),
        ("scm-fwupdate-inbox.service", "install-inbox"),
    ],
)
def test_units_run_real_commands(name: str, command: str) -> None:
    unit = _unit(name)
    argv = unit["Service"]["ExecStart"].split()
    assert argv[0] == "/usr/bin/scm-fwupdate" and argv[-1] == command
    cli.build_parser().parse_args(argv[1:])  # the unit's command line parses
    if command == "resume":
        assert unit["Unit"]["DefaultDependencies"] == "no"
        assert "local-fs.target" in unit["Unit"]["After"]
        assert "sysinit.target" in unit["Unit"]["Before"]
        # Every boot, journal or not: resume also records a fallback of the chain.
        assert "ConditionPathExists" not in unit["Unit"]


def test_inbox_path_unit_watches_the_default_inbox() -> None:
    from scm_fwupdate.config import Config

    unit = _unit("scm-fwupdate-inbox.path")
    assert unit["Path"]["PathExistsGlob"] == f"{Config().inbox}/*.bundle"
