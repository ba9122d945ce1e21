"""Shared helpers for the tz-emulator tests: build once, run QEMU, parse output."""

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TZ = ROOT / "tz-emulator"
RUN_QEMU = TZ / "run-qemu"
PAYLOAD = TZ / "build" / "scm-test-payload.bin"

# Firmware exit codes (tz-emulator/src/config.h, docs/emulated-board.md).
EXIT_SYSTEM_OFF = 80
EXIT_SYSTEM_RESET = 81
EXIT_PANIC = 82
EXIT_CONFIG_ERROR = 83
EXIT_POWER_CUT = 84
EXIT_BRICKED = 85  # boot chain (docs/boot-chain.md)
EXIT_HUNG = 86
EXIT_BOOT_ONLY = 87

# Storage status codes (result[0] of the storage SCM call).
ST_SUCCESS = 0
ST_INVALID_PARAMETER = 2
ST_STORAGE_ERROR = 3
ST_NOT_SUPPORTED = 5
ST_READ_ONLY = 9


@dataclass
class Run:
    rc: int
    out: str
    st: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (n, status)
    checks: dict[str, bool] = field(default_factory=dict)
    smc: dict[str, tuple[int, int]] = field(default_factory=dict)
    info: dict[str, str] = field(default_factory=dict)

    def line(self, prefix: str) -> str:
        for ln in self.out.splitlines():
            if ln.startswith(prefix):
                return ln
        raise AssertionError(f"no line starting with {prefix!r} in:\n{self.out}")


def parse(rc: int, out: str) -> Run:
    run = Run(rc, out)
    for ln in out.splitlines():
        if m := re.match(r"ST (\S+) n=(\d+) x0=(\S+) st=(\d+)", ln):
            run.st[m[1]] = (int(m[2]), int(m[4]))
        elif m := re.match(r"CHECK (\S+) ([01])", ln):
            run.checks[m[1]] = m[2] == "1"
        elif m := re.match(r"SMC (\S+) x0=(\S+) x1=(\S+)", ln):
            run.smc[m[1]] = (int(m[2], 16), int(m[3], 16))
        elif ln.startswith("INFO "):
            run.info = dict(kv.split("=", 1) for kv in ln.split()[1:])
    return run


@pytest.fixture(scope="session")
def tz_build() -> Path:
    """Build the firmware and the payload (make is a no-op when up to date)."""
    subprocess.run(["make", "-s", "-C", str(TZ)], check=True)
    return TZ / "build"


@pytest.fixture
def run_payload(tz_build, tmp_path):
    """Run the bare-metal SCM test payload; returns a parsed Run."""

    def _run(
        nor: Path,
        *sets: str,
        el2: bool = False,
        conf: Path | None = None,
        boot_rule: str | None = "none",
    ) -> Run:
        # The payload tests use NORs without a GPT: no boot chain unless asked.
        cmd = [str(RUN_QEMU), "--kernel", str(PAYLOAD), "--nor", str(nor), "--timeout", "60"]
        if boot_rule:
            cmd += ["--set", f"boot_rule={boot_rule}"]
        for s in sets:
            cmd += ["--set", s]
        if el2:
            cmd.append("--el2")
        if conf:
            cmd += ["--conf", str(conf)]
        p = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        out = p.stdout.replace("\r", "") + p.stderr
        return parse(p.returncode, out)

    return _run


@pytest.fixture(scope="session")
def boot_files(tz_build) -> dict[str, str]:
    """Debian's arm64 kernel and a busybox initramfs (scripts/debian-arm64-boot),
    or $TZ_KERNEL / $TZ_INITRD."""
    p = subprocess.run(
        [str(TZ / "scripts" / "debian-arm64-boot")],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    files = dict(ln.split("=", 1) for ln in p.stdout.splitlines() if "=" in ln)
    files["IMAGE"] = os.environ.get("TZ_KERNEL", files["IMAGE"])
    files["INITRD"] = os.environ.get("TZ_INITRD", files["INITRD"])
    return files


def cache_dir() -> Path:
    return Path(os.environ.get("CACHE_DIR", Path.home() / ".cache" / "meta-qcom-scm"))
