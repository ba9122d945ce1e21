"""Boot selection backends: the real fw_printenv/fw_setenv on a file-backed redundant
U-Boot environment, and the RAUC-style custom script backend."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from scm_fwupdate.boot import ScriptBackend, SlotState, UBootEnvBackend, make_backend
from scm_fwupdate.config import BootConfig, Config, UBootConfig
from scm_fwupdate.errors import BootError

ENV_SIZE = 0x2000
HAVE_TOOLS = bool(shutil.which("fw_printenv") and shutil.which("fw_setenv"))
needs_tools = pytest.mark.skipif(
    not HAVE_TOOLS,
    reason="fw_printenv/fw_setenv missing: install Debian package libubootenv-tool (make deps)",
)


@dataclasses.dataclass
class Env:
    config: Path
    copies: tuple[Path, Path]

    def printenv(self) -> dict[str, str]:
        out = subprocess.run(
            ["fw_printenv", "-c", str(self.config)], capture_output=True, text=True, check=True
        ).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def setenv(self, name: str, value: str) -> None:
        subprocess.run(["fw_setenv", "-c", str(self.config), name, value], check=True)


@pytest.fixture
def env(tmp_path: Path) -> Env:
    """A redundant environment in two files, created by the real fw_setenv."""
    copies = (tmp_path / "env.0", tmp_path / "env.1")
    for copy in copies:
        copy.write_bytes(b"\0" * ENV_SIZE)
    config = tmp_path / "fw_env.config"
    config.write_text("".join(f"{c} 0x0 {ENV_SIZE:#x}\n" for c in copies))
    initial = tmp_path / "initial-env"
    initial.write_text("BOOT_ORDER=A B\nBOOT_A_LEFT=3\nBOOT_B_LEFT=3\nbootcmd=run rauc\n")
    empty = tmp_path / "empty-script"
    empty.write_text("")
    subprocess.run(
        ["fw_setenv", "-c", str(config), "-f", str(initial), "-s", str(empty)],
        check=True,
        capture_output=True,
    )
    e = Env(config, copies)
    assert e.printenv()["BOOT_ORDER"] == "A B"
    return e


def backend(env: Env, boot_left: int = 5) -> UBootEnvBackend:
    return UBootEnvBackend(config=env.config, boot_left=boot_left)


def by_name(states: list[SlotState]) -> dict[str, SlotState]:
    return {s.name: s for s in states}


@needs_tools
def test_initial_state_reads_rauc_variables(env: Env) -> None:
    b = backend(env)
    assert b.slots() == ["a", "b"]
    assert b.primary() == "a"
    st = by_name(b.state())
    assert st["a"] == SlotState("a", bootable=True, good=True, active=True, retries=3, priority=2)
    assert st["b"] == SlotState("b", bootable=True, good=True, active=False, retries=3, priority=1)


@needs_tools
def test_activate_mark_good_mark_bad(env: Env) -> None:
    b = backend(env, boot_left=5)
    b.activate("b")
    raw = env.printenv()
    assert raw["BOOT_ORDER"] == "B A"
    assert raw["BOOT_B_LEFT"] == "5"
    assert raw["bootcmd"] == "run rauc"  # other variables untouched
    assert b.primary() == "b"
    st = by_name(b.state())
    assert st["b"] == SlotState("b", bootable=True, good=False, active=True, retries=5, priority=2)
    assert not st["a"].active and st["a"].priority == 1

    b.mark_good("B")  # slot names are case-insensitive
    assert env.printenv()["BOOT_B_LEFT"] == "5"
    assert by_name(b.state())["b"].good

    b.mark_bad("a")
    raw = env.printenv()
    assert raw["BOOT_ORDER"] == "B"
    assert raw["BOOT_A_LEFT"] == "0"
    st = by_name(b.state())
    assert st["a"] == SlotState(
        "a", bootable=False, good=False, active=False, retries=0, priority=None
    )
    assert b.primary() == "b"


@needs_tools
def test_primary_follows_boot_attempts_left(env: Env) -> None:
    b = backend(env)
    b.activate("b")
    env.setenv("BOOT_B_LEFT", "0")  # what U-Boot's script leaves after failed boots
    assert b.primary() == "a"
    st = by_name(b.state())
    assert not st["b"].bootable and not st["b"].good and st["b"].retries == 0
    env.setenv("BOOT_A_LEFT", "0")
    with pytest.raises(BootError, match="no bootable slot"):
        b.primary()


@needs_tools
def test_one_change_is_one_environment_write(env: Env) -> None:
    """activate() sets three variables; they must land in the same copy, so a torn write
    of that copy falls back to the complete previous state (U-Boot's redundant env)."""
    b = backend(env, boot_left=4)
    b.activate("b")
    contents = [c.read_bytes() for c in env.copies]
    new = [i for i, data in enumerate(contents) if b"BOOT_ORDER=B A\0" in data]
    assert len(new) == 1, "exactly one copy holds the new state"
    newer = contents[new[0]]
    assert b"BOOT_B_LEFT=4\0" in newer and b"BOOT_B_GOOD=0\0" in newer
    older = contents[1 - new[0]]
    assert b"BOOT_ORDER=A B\0" in older and b"BOOT_B_GOOD" not in older
    # tear the new copy (a power cut in the middle of its write): CRC fails
    torn = bytearray(newer)
    torn[100] ^= 0xFF
    env.copies[new[0]].write_bytes(bytes(torn))
    assert b.primary() == "a"
    assert env.printenv()["BOOT_ORDER"] == "A B"


@needs_tools
def test_missing_variables_read_as_rauc_defaults(env: Env, tmp_path: Path) -> None:
    script = tmp_path / "unset"
    script.write_text("BOOT_ORDER=\nBOOT_A_LEFT=\n")
    subprocess.run(["fw_setenv", "-c", str(env.config), "-s", str(script)], check=True)
    raw = env.printenv()
    assert raw.get("BOOT_ORDER", "") == ""
    b = backend(env, boot_left=6)
    if "BOOT_ORDER" not in raw:  # deleted (newer libubootenv): RAUC's default order
        assert b.primary() == "a"
        assert by_name(b.state())["a"].retries == 6
    else:  # kept empty: nothing in the order
        with pytest.raises(BootError):
            b.primary()


@needs_tools
def test_bad_variable_value(env: Env) -> None:
    env.setenv("BOOT_A_LEFT", "many")
    with pytest.raises(BootError, match=r"BOOT_A_LEFT='many' is not a number"):
        backend(env).state()


@needs_tools
def test_unknown_slot(env: Env) -> None:
    with pytest.raises(BootError, match="unknown slot 'c'"):
        backend(env).activate("c")
    assert env.printenv()["BOOT_ORDER"] == "A B"


@needs_tools
def test_tool_failure_reports_its_message(tmp_path: Path) -> None:
    config = tmp_path / "fw_env.config"
    config.write_text("this is not a config\n")
    with pytest.raises(BootError) as exc:
        UBootEnvBackend(config=config).state()
    message = str(exc.value)
    assert message.startswith("fw_printenv failed (exit ")
    assert "\n" not in message


def test_missing_tools_name_the_package(tmp_path: Path) -> None:
    b = UBootEnvBackend(printenv=str(tmp_path / "fw_printenv"), setenv=str(tmp_path / "fw_setenv"))
    with pytest.raises(BootError, match="install the libubootenv-tool package"):
        b.state()
    with pytest.raises(BootError, match="libubootenv-tool"):
        b.write_env({"BOOT_ORDER": "A B"})


# --------------------------------------------------------------------------- script backend

SCRIPT = """#!/bin/sh
d='{state}'
echo "$*" >> "$d/log"
if [ -e "$d/fail" ]; then cat "$d/fail" >&2; exit 4; fi
case "$1" in
  get-primary) cat "$d/primary" ;;
  get-state) cat "$d/state_$2" ;;
  set-primary) echo "$2" > "$d/primary" ;;
  set-state) echo "$3" > "$d/state_$2" ;;
  *) echo "unknown command $1" >&2; exit 2 ;;
esac
"""


@pytest.fixture
def script(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    state.mkdir()
    (state / "primary").write_text("a\n")
    (state / "state_a").write_text("good\n")
    (state / "state_b").write_text("bad\n")
    path = tmp_path / "bootctl.sh"
    path.write_text(SCRIPT.format(state=state))
    path.chmod(0o755)
    return path


def calls(script: Path) -> list[str]:
    return (script.parent / "state" / "log").read_text().splitlines()


def test_script_reads_state(script: Path) -> None:
    b = ScriptBackend(script)
    assert b.primary() == "a"
    st = by_name(b.state())
    assert st["a"] == SlotState("a", True, True, True, None, None)
    assert st["b"] == SlotState("b", False, False, False, None, None)
    assert calls(script)[:1] == ["get-primary"]
    assert "get-state a" in calls(script) and "get-state b" in calls(script)


def test_script_changes_state(script: Path) -> None:
    b = ScriptBackend(script)
    b.activate("b")
    b.mark_good("b")
    b.mark_bad("a")
    assert calls(script) == ["set-primary b", "set-state b good", "set-state a bad"]
    assert b.primary() == "b"
    st = by_name(b.state())
    assert st["b"].good and st["b"].active and not st["a"].good


def test_script_failure_reports_first_stderr_line(script: Path) -> None:
    (script.parent / "state" / "fail").write_text("\nslot b is locked\nsecond line\n")
    with pytest.raises(BootError) as exc:
        ScriptBackend(script).activate("b")
    assert str(exc.value) == (
        f"boot script {script} set-primary b failed (exit 4): slot b is locked"
    )


def test_script_bad_output(script: Path) -> None:
    (script.parent / "state" / "primary").write_text("c\n")
    with pytest.raises(BootError, match="get-primary printed 'c', not a slot name"):
        ScriptBackend(script).primary()
    (script.parent / "state" / "primary").write_text("a\n")
    (script.parent / "state" / "state_b").write_text("maybe\n")
    with pytest.raises(BootError, match="get-state b printed 'maybe', expected good or bad"):
        ScriptBackend(script).state()


def test_script_missing_or_not_executable(tmp_path: Path, script: Path) -> None:
    with pytest.raises(BootError, match="not found"):
        ScriptBackend(tmp_path / "nope").primary()
    script.chmod(0o644)
    with pytest.raises(BootError, match="not executable"):
        ScriptBackend(script).primary()


def test_script_timeout(tmp_path: Path) -> None:
    slow = tmp_path / "slow.sh"
    slow.write_text("#!/bin/sh\nexec sleep 5\n")
    slow.chmod(0o755)
    with pytest.raises(BootError, match="timed out"):
        ScriptBackend(slow, timeout=0.3).primary()


# --------------------------------------------------------------------------- factory


def test_make_backend(tmp_path: Path, script: Path) -> None:
    seen: list[Config] = []
    sentinel = ScriptBackend(script)

    def qualcomm(cfg: Config) -> ScriptBackend:
        seen.append(cfg)
        return sentinel

    cfg = Config()
    assert make_backend(cfg, qualcomm) is sentinel and seen == [cfg]

    uboot_cfg = Config(
        boot=BootConfig(
            backend="uboot-env",
            uboot=UBootConfig(printenv="p", setenv="s", config=tmp_path / "c", boot_left=9),
        )
    )
    b = make_backend(uboot_cfg, qualcomm)
    assert isinstance(b, UBootEnvBackend)
    assert (b.printenv, b.setenv, b.config, b.boot_left) == ("p", "s", tmp_path / "c", 9)

    s = make_backend(Config(boot=BootConfig(backend="script", script=script)), qualcomm)
    assert isinstance(s, ScriptBackend) and s.primary() == "a"
    assert seen == [cfg]
