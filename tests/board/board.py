"""The board under test, driven through labgrid: the emulated board (QEMUDriver
behind the tz-emulator firmware) or a real Q6A (SerialDriver + a power driver).

Tests talk to ``Board`` only: boot, run a shell command, cut the power.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import firmware
from firmware import EXIT_BOOT_ONLY, EXIT_BRICKED, EXIT_HUNG, BootLine
from labgrid import Environment

ROOT = Path(__file__).resolve().parents[2]
KERNEL_ADDR, DTB_ADDR, INITRD_ADDR = 0x40200000, 0x48000000, 0x48200000
DEFAULT_CMDLINE = "console=ttyAMA0 panic=-1 quiet"
# Lines for the end of the run (campaign counts, oeqa results): printed by
# conftest's terminal summary, gathered from pytest-xdist workers too.
REPORT: list[str] = []
POWER_ON_TIMEOUT = 20.0  # QEMUDriver.on() takes about a second; see Board._power_on


@dataclass(frozen=True)
class Artifacts:
    firmware: Path
    kernel: Path
    initrd: Path
    dtb: Path  # QEMU's own DTB with the qcom-scm overlay (no /chosen yet)

    @classmethod
    def build(cls) -> Artifacts:
        """board/build makes whatever is missing (cached) and prints KEY=path.

        ``make board-test`` runs it once and passes its output in BOARD_BUILT, so
        that parallel workers never rebuild what another one is booting.
        """
        out = os.environ.get("BOARD_BUILT")
        if not out:  # one build at a time (pytest -n without make: every worker asks)
            cache = Path(os.environ.get("CACHE_DIR", Path.home() / ".cache/meta-qcom-scm"))
            cache.mkdir(parents=True, exist_ok=True)
            with open(cache / "board-build.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                out = subprocess.run(
                    [str(ROOT / "board" / "build")], check=True, capture_output=True, text=True
                ).stdout
        paths = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        return cls(*(Path(paths[k]) for k in ("FIRMWARE", "KERNEL", "INITRD", "DTB")))


@dataclass
class Board:
    env_file: Path
    workdir: Path
    artifacts: Artifacts | None  # None on a real board
    nor: Path = field(init=False)
    state: Path = field(init=False)

    def __post_init__(self) -> None:
        self.nor = self.workdir / "nor.img"
        self.state = self.workdir / "state.img"
        os.environ.setdefault("LG_QEMU_EXTRA_ARGS", "")
        if self.artifacts:
            os.environ["LG_TZ_FIRMWARE"] = str(self.artifacts.firmware)
        self.env = Environment(str(self.env_file))
        self.target = self.env.get_target("main")
        self.power = self.target.get_driver("PowerProtocol", activate=False)
        self.shell = self.target.get_driver("ShellDriver", activate=False)
        self.running = False
        self.console_log: list[str] = []
        self.last_boot: BootLine | None = None
        self.boot_lines: list[BootLine] = []  # every attempt of the last power-on
        self.last_exit: int | None = None

    @property
    def emulated(self) -> bool:
        return self.artifacts is not None

    # ----------------------------------------------------------- emulated only
    def new_state_disk(
        self, files: dict[str, Path] | None = None, size_mib: int = 48, config: str | None = None
    ) -> None:
        """The persistent /var/lib/scm-fwupdate (journal, history, staged bundles).

        ``files`` (name -> host file) land in its ``upload/`` directory:
        mke2fs populates the file system, no mount needed. ``config`` becomes
        the board's /etc/scm-fwupdate.yaml (board/init copies it), as a
        product image would ship its own.
        """
        staging = self.workdir / "state-staging"
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "upload").mkdir(parents=True)
        for name, src in (files or {}).items():
            shutil.copy(src, staging / "upload" / name)
        if config is not None:
            (staging / "etc").mkdir()
            (staging / "etc" / "scm-fwupdate.yaml").write_text(config)
        self.state.unlink(missing_ok=True)
        subprocess.run(["truncate", "-s", f"{size_mib}M", str(self.state)], check=True)
        subprocess.run(
            ["mke2fs", "-q", "-F", "-t", "ext4", "-d", str(staging), str(self.state)], check=True
        )

    def _qemu_args(self, cmdline: str, fw: dict[str, str]) -> str:
        assert self.artifacts is not None
        dtb = self.workdir / "run.dtb"
        shutil.copy(self.artifacts.dtb, dtb)
        isize = self.artifacts.initrd.stat().st_size
        for args in (
            ["-t", "s", str(dtb), "/chosen", "bootargs", cmdline],
            ["-t", "x", str(dtb), "/chosen", "linux,initrd-start", hex(INITRD_ADDR)],
            ["-t", "x", str(dtb), "/chosen", "linux,initrd-end", hex(INITRD_ADDR + isize)],
        ):
            subprocess.run(["fdtput", *args], check=True)
        settings = {
            "nor": str(self.nor),
            "kernel_addr": hex(KERNEL_ADDR),
            "dtb_addr": hex(DTB_ADDR),
        }
        settings.update(fw)
        # QEMU option values escape a comma by doubling it.
        semihosting = ",".join(
            ["enable=on", "target=native"]
            + [f"arg={k}={str(v).replace(',', ',,')}" for k, v in settings.items()]
        )
        loaders = [
            (self.artifacts.kernel, KERNEL_ADDR),
            (self.artifacts.initrd, INITRD_ADDR),
            (dtb, DTB_ADDR),
        ]
        args = ["-semihosting-config", semihosting]
        for path, addr in loaders:
            args += ["-device", f"loader,file={path},addr={hex(addr)},force-raw=on"]
        args += [
            "-drive",
            f"if=none,file={self.state},format=raw,id=state",
            "-device",
            "virtio-blk-device,drive=state",
        ]
        return shlex.join(args)

    def firmware_only(self, fw: dict[str, str] | None = None, timeout: float = 120) -> BootLine:
        """A power-on that stops after the boot chain decided (boot_only=1): fast retries."""
        assert self.artifacts is not None
        cmd = [str(ROOT / "tz-emulator/run-qemu"), "--kernel", str(self.artifacts.kernel)]
        cmd += ["--dtb", str(self.artifacts.dtb), "--nor", str(self.nor), "--firmware"]
        cmd += [str(self.artifacts.firmware), "--serial", "stdio", "--timeout", str(int(timeout))]
        for k, v in {"boot_only": "1", **(fw or {})}.items():
            cmd += ["--set", f"{k}={v}"]
        run = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
        line = firmware.last(run.stdout)
        self.last_exit = run.returncode
        assert run.returncode in (EXIT_BOOT_ONLY, EXIT_BRICKED, EXIT_HUNG), run.stdout[-2000:]
        return line

    # ------------------------------------------------------------------ common
    def boot(self, cmdline: str = "", fw: dict[str, str] | None = None) -> BootLine | None:
        """Power on and wait for the shell; ``fw`` are tz-emulator settings.

        On the emulated board, returns what the boot chain said. When it does
        not boot Linux (bricked, hung) QEMU ends by itself: ``running`` stays
        False and the caller judges the line.
        """
        if self.running:
            self.power_cut()
        if self.emulated:
            # QEMUDriver builds its command line when activated. The firmware
            # tells Linux the set or slot it booted (the board harness does not).
            self.target.deactivate(self.power)
            self.power.extra_args = self._qemu_args(
                f"{DEFAULT_CMDLINE} {cmdline}".strip(), fw or {}
            )
        self.target.activate(self.power)
        self._power_on()
        self.running = True
        # boot_rule=none: the firmware runs no boot chain and prints no boot: line.
        chain = self.emulated and (fw or {}).get("boot_rule") != "none"
        self.last_boot = self._boot_line() if chain else None
        if self.last_boot is not None and not self.last_boot.booted:
            child = self.power._child
            self.last_exit = child.wait(timeout=60) if child is not None else None
            self.power_cut()
            return self.last_boot
        self.target.activate(self.shell)
        return self.last_boot

    def _boot_line(self) -> BootLine:
        """Read the console up to the chain's final decision (a reset loops before it)."""
        _i, before, match, _a = self.power.expect(
            r"boot: [^\r\n]*result=(boot|bricked|hang)[^\r\n]*\r?\n", timeout=180
        )
        self.boot_lines = firmware.parse(before.decode(errors="replace") + match.group(0).decode())
        return self.boot_lines[-1]

    def _power_on(self) -> None:
        """QEMUDriver.on(), guarded against a stall of the harness, not of the board.

        on() waits for QEMU's answer to 'cont' and reads nothing else meanwhile.
        The firmware's first UART bytes fill the serial socket (one small write
        each), the vCPU then waits for room while holding QEMU's big lock, and
        the answer is never written: both sides wait for good. Such a start is
        killed, the NOR put back as it was before it (the chain may have
        written its bits already) and powered on again; the report says so.
        """
        if not self.emulated:
            self.power.on()
            return
        before = self.nor.read_bytes()
        for attempt in range(1, 4):
            done, stalled = threading.Event(), threading.Event()
            watchdog = threading.Thread(target=self._watchdog, args=(done, stalled))
            watchdog.start()
            try:
                self.power.on()
            except Exception:
                if not self._settle(watchdog, done, stalled):
                    raise
            else:
                if not self._settle(watchdog, done, stalled):
                    return
            REPORT.append(f"QEMU stalled in labgrid's power-on (attempt {attempt}): started again")
            self.power_cut()
            self.nor.write_bytes(before)
            self.target.activate(self.power)
        raise AssertionError("QEMU stalled at every power-on")

    @staticmethod
    def _settle(
        watchdog: threading.Thread, done: threading.Event, stalled: threading.Event
    ) -> bool:
        """Stop the watchdog; True if it fired (even as on() returned: QEMU is dead then)."""
        done.set()
        watchdog.join()
        return stalled.is_set()

    def _watchdog(self, done: threading.Event, stalled: threading.Event) -> None:
        if not done.wait(POWER_ON_TIMEOUT):
            stalled.set()
            child = self.power._child
            if child is not None:
                child.kill()

    def run(self, cmd: str, timeout: float = 120) -> tuple[str, int]:
        out, _err, rc = self.shell.run(cmd, timeout=timeout)
        return "\n".join(out), rc

    def check(self, cmd: str, timeout: float = 120) -> str:
        out, rc = self.run(cmd, timeout)
        assert rc == 0, f"'{cmd}' exited {rc}: {out}"
        return out

    def start(self, cmd: str) -> None:
        """Start a command and return at once (its output goes to the console)."""
        console = self.target.get_driver("ConsoleProtocol")
        console.sendline(cmd)

    def expect(self, pattern: str, timeout: float = 120) -> str:
        console = self.target.get_driver("ConsoleProtocol")
        _index, before, match, _after = console.expect(pattern, timeout=timeout)
        return before.decode(errors="replace") + (match.group(0).decode() if match else "")

    def power_cut(self) -> None:
        """Pull the plug: QEMU is killed (SIGKILL), a real board loses power."""
        self.target.deactivate(self.shell)
        if self.emulated:
            qemu = self.power
            child = qemu._child
            if child is not None:
                child.kill()
                child.wait()
            qemu._child = None
            qemu.status = 0
        else:
            self.power.off()
        self.target.deactivate(self.power)
        self.running = False

    def shutdown(self) -> None:
        if self.running:
            self.power_cut()
