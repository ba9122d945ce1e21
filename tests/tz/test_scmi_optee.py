"""SCMI over OP-TEE on the emulated board (docs/scmi-optee.md).

tz-emulator answers OP-TEE's SMC ABI with a static shared memory pool, a
device enumeration pseudo-TA and the SCMI pseudo-TA, behind which runs a
small SCMI server (base, clock, sensor protocols).  A kernel with
TEE/OPTEE, ARM_SCMI_TRANSPORT_OPTEE, COMMON_CLK_SCMI, SENSORS_ARM_SCMI,
DEBUG_FS and ARM_SCMI_RAW_MODE_SUPPORT(_COEX) (the layer's
scmi-optee.cfg) boots with dts/scmi-optee.dtso; the initramfs init
(scmi_optee_init.sh) reports what Linux sees and sends raw SCMI messages.

The kernel: $TZ_SCMI_KERNEL, else $TZ_KERNEL, else the board kernel in
$CACHE_DIR/board-kernel-dev or $CACHE_DIR/scmi-kernel, whichever is an
Image containing the SCMI OP-TEE transport.  Without one the tests skip.
"""

import gzip
import itertools
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import EXIT_SYSTEM_OFF, RUN_QEMU, TZ, cache_dir

HERE = Path(__file__).resolve().parent
INIT = HERE / "scmi_optee_init.sh"
OVERLAY = TZ / "dts" / "scmi-optee.dtso"
APPEND = "console=ttyAMA0 panic=-1 rdinit=/init"
SCMI_PTA = "optee-ta-a8cfe406-d4f5-4a2e-9f8d-a25dc754c099"

# The emulator's SCMI model (tz-emulator/src/scmi.c).
VENDOR, SUB_VENDOR, IMPL_VERSION = "meta-qcom-scm", "tz-emulator", 0x10000
CLOCKS = {"cpu_cluster": 1200000000, "ddr": 800000000, "gpu": 400000000}
# name -> (hwmon kind, base, step, period): reading k = base + step * (k % period)
SENSORS = {
    "soc_thermal": ("temp", 45000, 250, 8),
    "ddr_thermal": ("temp", 38000, 500, 4),
    "vdd_core": ("in", 800, 25, 5),
}
SCMI_SUCCESS, SCMI_NOT_SUPPORTED = 0, -1


def _has_scmi_optee(image: Path) -> bool:
    try:
        data = image.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
    except OSError:
        return False
    return b"linaro,scmi-optee" in data and b"linaro,optee-tz" in data


def find_kernel() -> Path | None:
    cands = [os.environ.get("TZ_SCMI_KERNEL"), os.environ.get("TZ_KERNEL")]
    cands += [
        str(cache_dir() / d / "arch" / "arm64" / "boot" / "Image")
        for d in ("board-kernel-dev", "scmi-kernel")
    ]
    for c in cands:
        if c and Path(c).is_file() and _has_scmi_optee(Path(c)):
            return Path(c)
    return None


KERNEL = find_kernel()
pytestmark = pytest.mark.skipif(
    KERNEL is None,
    reason="no kernel Image with the SCMI OP-TEE transport (scmi-optee.cfg): "
    "set TZ_SCMI_KERNEL=/path/to/Image",
)


@dataclass
class Boot:
    rc: int
    console: str
    fwlog: str

    def lines(self, key: str) -> list[str]:
        pre = f"SCMITEST: {key}"
        return [ln[len(pre) :].strip() for ln in self.console.splitlines() if ln.startswith(pre)]

    def raw(self, name: str) -> tuple[int, int, bytes]:
        """(header, status, data) of a raw SCMI reply printed by the init."""
        got = self.lines(f"raw {name} ")
        assert got, f"no raw reply for {name}:\n{self.console}"
        b = bytes(int(x, 16) for x in got[0].split())
        assert len(b) >= 8, got
        return (
            int.from_bytes(b[:4], "little"),
            int.from_bytes(b[4:8], "little", signed=True),
            b[8:],
        )

    def sysfs(self) -> dict[str, str]:
        return dict(s.split("=", 1) for s in self.lines("scmi_sysfs "))

    def check_alive(self) -> None:
        """Linux got to userspace, the shell works, and it powered off."""
        assert self.rc == EXIT_SYSTEM_OFF, f"rc={self.rc}\n{self.console}\n{self.fwlog}"
        assert "SCMITEST: shell ok hello" in self.console, self.console
        assert "SCMITEST: done" in self.console


@pytest.fixture(scope="module")
def initrd(tz_build) -> str:
    p = subprocess.run(
        [str(TZ / "scripts" / "debian-arm64-boot"), str(INIT)],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return dict(ln.split("=", 1) for ln in p.stdout.splitlines() if "=" in ln)["INITRD"]


@pytest.fixture(scope="module")
def boot(initrd, tmp_path_factory):
    def _boot(*sets: str, shmem: bool = True) -> Boot:
        d = tmp_path_factory.mktemp("scmi")
        dtb = d / "board.dtb"
        subprocess.run(
            [str(TZ / "scripts" / "mkdtb"), str(dtb), "-overlay", str(OVERLAY)], check=True
        )
        if not shmem:
            # No "shmem": the transport uses the MSG protocol in OP-TEE memory.
            subprocess.run(["fdtput", "-d", str(dtb), "/firmware/scmi", "shmem"], check=True)
        cmd = [str(RUN_QEMU), "--kernel", str(KERNEL), "--initrd", initrd, "--dtb", str(dtb)]
        cmd += ["--nor", str(d / "nor.img"), "--fw-log", str(d / "fw.log")]
        cmd += ["--append", APPEND, "--timeout", "180", "--set", "boot_rule=none"]
        for s in sets:
            cmd += ["--set", s]
        p = subprocess.run(cmd, cwd=d, capture_output=True, text=True, timeout=300)
        fw = (d / "fw.log").read_text(errors="replace") if (d / "fw.log").exists() else ""
        return Boot(p.returncode, p.stdout.replace("\r", "") + p.stderr, fw.replace("\r", ""))

    return _boot


@pytest.fixture(scope="module")
def smt(boot) -> Boot:
    """The default board: SMT channel in the DT's arm,scmi-shmem region."""
    b = boot()
    b.check_alive()
    return b


def test_optee_driver_probes(smt):
    assert re.search(r"optee: revision 4\.0", smt.console), smt.console
    assert "optee: initialized driver" in smt.console
    assert "optee: CALLS_UID" in smt.fwlog
    assert "EXCHANGE_CAPABILITIES" in smt.fwlog
    # The device enumeration PTA put the SCMI PTA on the TEE bus.
    assert "optee: device enumeration lists scmi" in smt.fwlog
    assert SCMI_PTA in smt.lines("teebus ")


def test_scmi_transport_binds(smt):
    banner = f"SCMI Protocol v2.0 '{VENDOR}:{SUB_VENDOR}' Firmware version 0x{IMPL_VERSION:x}"
    assert banner in smt.console, smt.console
    assert "[tz] scmi: channel 0 opened (SMT)" in smt.fwlog, smt.fwlog
    assert "optee" in smt.lines("scmi_debugfs transport=")[0]
    assert not smt.lines("deferred ")
    # hwmon enables its temperature sensors (CONFIG_SET) without error.
    assert "Error enabling sensor" not in smt.console
    # Nothing Linux asked at probe was unknown to the server.
    assert "-> -1" not in smt.fwlog.replace("msg 0x3f -> -1", ""), smt.fwlog


def test_scmi_base_info(smt):
    s = smt.sysfs()
    assert s["vendor_id"] == VENDOR
    assert s["sub_vendor_id"] == SUB_VENDOR
    assert int(s["firmware_version"], 16) == IMPL_VERSION
    assert s["protocol_version"] == "2.0"
    hdr, st, data = smt.raw("base_version")
    assert (hdr, st) == (0x00044000, SCMI_SUCCESS)
    assert int.from_bytes(data[:4], "little") == 0x20000
    _, st, data = smt.raw("base_vendor")
    assert st == SCMI_SUCCESS and data[:16].rstrip(b"\0").decode() == VENDOR
    _, st, data = smt.raw("base_list")
    n = int.from_bytes(data[:4], "little")
    assert st == SCMI_SUCCESS and list(data[4 : 4 + n]) == [0x11, 0x14, 0x15]


def test_clocks_visible(smt):
    rates = {}
    for ln in smt.lines("clk "):
        if m := re.match(r"(\S+) rate=(\d+)$", ln):
            rates[m[1]] = int(m[2])
    for name, rate in CLOCKS.items():
        assert rates.get(name) == rate, (name, rates)
    summary = "\n".join(smt.lines("clk_summary:"))
    for name, rate in CLOCKS.items():
        assert re.search(rf"\b{name}\b.*\b{rate}\b", summary), summary


def test_clock_rate_round_trip(smt):
    """CLOCK_RATE_SET then GET through the raw interface (clk debugfs is
    read-only), plus CONFIG_SET/GET and rate rounding."""
    assert smt.raw("gpu_rate_set")[1] == SCMI_SUCCESS
    _, st, data = smt.raw("gpu_rate_get")
    assert st == SCMI_SUCCESS and int.from_bytes(data[:8], "little") == 650000000
    assert "[tz] scmi: clock gpu rate 400000000 -> 650000000" in smt.fwlog
    assert smt.raw("gpu_config_set")[1] == SCMI_SUCCESS
    _, st, data = smt.raw("gpu_config_get")
    assert st == SCMI_SUCCESS and int.from_bytes(data[4:8], "little") & 1
    # 1 GHz is not in the CPU's rate list: rounded down to 600 MHz.
    assert smt.raw("cpu_rate_set")[1] == SCMI_SUCCESS
    _, st, data = smt.raw("cpu_rate_get")
    assert int.from_bytes(data[:8], "little") == 600000000


def _model_index(name: str, value: int) -> int:
    _, base, step, period = SENSORS[name]
    k, rem = divmod(value - base, step)
    assert rem == 0 and 0 <= k < period, (name, value)
    return k


def test_sensors_hwmon(smt):
    seen = {}
    for ln in smt.lines("hwmon "):
        hwname, attr, label, *vals = ln.split()
        assert hwname == "scmi_sensors", ln
        seen[label] = (attr, [int(v) for v in vals])
    assert set(seen) == set(SENSORS), smt.lines("hwmon ")
    for label, (attr, vals) in seen.items():
        assert attr.startswith(SENSORS[label][0]), (label, attr)
        idx = [_model_index(label, v) for v in vals]
        period = SENSORS[label][3]
        # Values change between reads and follow the counter.
        for a, b in itertools.pairwise(idx):
            assert b == (a + 1) % period, (label, vals)
    # A raw SENSOR_READING_GET continues the same sequence.
    _, st, data = smt.raw("ddr_thermal_read")
    assert st == SCMI_SUCCESS
    k = _model_index("ddr_thermal", int.from_bytes(data[:8], "little", signed=True))
    last = _model_index("ddr_thermal", seen["ddr_thermal"][1][-1])
    assert k == (last + 1) % SENSORS["ddr_thermal"][3]


def test_power_domain_raw(smt):
    """Power domains (0x11) have no DT node (CONFIG_PM is off in the test
    kernels): POWER_STATE_GET/SET/GET through the raw interface."""
    _, st, data = smt.raw("gpu_pd_get")
    assert st == SCMI_SUCCESS and int.from_bytes(data[:4], "little") == 0x40000000
    assert smt.raw("gpu_pd_on")[1] == SCMI_SUCCESS
    _, st, data = smt.raw("gpu_pd_get_again")
    assert st == SCMI_SUCCESS and int.from_bytes(data[:4], "little") == 0
    assert "[tz] scmi: power domain gpu_pd on" in smt.fwlog


def test_raw_unknown_message(smt):
    hdr, st, _ = smt.raw("bad_message")
    assert (hdr & 0xFF, st) == (0x3F, SCMI_NOT_SUPPORTED)


def test_msg_channel_without_shmem(boot):
    """Without "shmem" Linux uses PROCESS_MSG_CHANNEL in OP-TEE memory."""
    b = boot(shmem=False)
    b.check_alive()
    assert "[tz] scmi: channel 0 opened (MSG)" in b.fwlog, b.fwlog
    assert f"'{VENDOR}:{SUB_VENDOR}'" in b.console
    assert b.sysfs()["vendor_id"] == VENDOR
    assert b.raw("base_version")[1:] == (SCMI_SUCCESS, (0x20000).to_bytes(4, "little"))
    _, st, data = b.raw("gpu_rate_get")
    assert st == SCMI_SUCCESS and int.from_bytes(data[:8], "little") == 650000000
    assert {ln.split()[0] for ln in b.lines("clk ")} >= set(CLOCKS)


@pytest.mark.parametrize(
    "knob,fw_line,kernel_line",
    [
        ("optee=off", "optee=off: SMC", "optee: api uid mismatch"),
        (
            "optee_open_session_fail=1",
            "open session scmi refused",
            "Can't open tee session",
        ),
        ("scmi_pta=off", "device enumeration skips scmi", "optee: initialized driver"),
    ],
)
def test_failure_knobs(boot, knob, fw_line, kernel_line):
    """Each failure: a clean kernel message, no SCMI, the shell still works.

    The SCMI transport then waits for its TEE device: firmware:scmi stays
    in debugfs devices_deferred (the kernel does not log that itself).
    """
    b = boot(knob)
    b.check_alive()
    assert "SCMI Protocol v" not in b.console
    assert not b.lines("scmi_sysfs ")
    assert not b.lines("hwmon ")
    assert fw_line in b.fwlog, b.fwlog
    assert kernel_line in b.console, b.console
    assert any(d.startswith("firmware:scmi") for d in b.lines("deferred ")), b.console
    if knob == "optee_open_session_fail=1":
        assert "probe with driver scmi-optee failed with error -95" in b.console
    if knob == "scmi_pta=off":
        assert SCMI_PTA not in b.lines("teebus ")
