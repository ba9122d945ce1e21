#
# SPDX-License-Identifier: MIT
#
# Runtime tests of SCMI over OP-TEE: the optee driver, the SCMI OP-TEE
# transport, and the SCMI protocol drivers the machine's device tree wires
# (clocks, sensors through hwmon). On qemuarm64-scm the firmware is
# tz-emulator, which plays OP-TEE with the SCMI PTA; on a real board it is
# OP-TEE OS built with its SCMI PTA (docs/scmi-optee.md).
#
# Like qcom_scm.py, only self.target.run() is used, so the cases also run
# outside bitbake (tests/board/test_oeqa.py).

import re

from oeqa.core.decorator.depends import OETestDepends
from oeqa.runtime.case import OERuntimeTestCase

SCMI_PTA = "a8cfe406-d4f5-4a2e-9f8d-a25dc754c099"


class ScmiOpteeTest(OERuntimeTestCase):
    """SCMI messages carried by OP-TEE's SCMI pseudo-TA."""

    def _run(self, cmd):
        status, output = self.target.run(cmd)
        self.assertEqual(status, 0, msg=f"{cmd}:\n{output}")
        return output

    def test_optee_probed(self):
        self._run("test -e /sys/bus/tee/devices")
        devices = self._run("ls /sys/bus/tee/devices")
        self.assertIn(SCMI_PTA, devices, msg="the SCMI PTA is not on the TEE bus")

    @OETestDepends(["qcom_scmi.ScmiOpteeTest.test_optee_probed"])
    def test_scmi_transport_bound(self):
        devices = self._run("ls /sys/bus/scmi_protocol/devices")
        self.assertTrue(devices.split(), msg="no SCMI protocol device")
        # The SCMI core exposes the platform's base protocol answers.
        vendor = self._run("cat /sys/bus/platform/devices/*scmi*/vendor_id")
        self.assertTrue(vendor.strip(), msg="empty SCMI vendor")
        version = self._run("cat /sys/bus/platform/devices/*scmi*/protocol_version")
        self.assertRegex(version.strip(), r"^\d+\.\d+$")

    @OETestDepends(["qcom_scmi.ScmiOpteeTest.test_scmi_transport_bound"])
    def test_scmi_sensors_in_hwmon(self):
        names = self._run("cat /sys/class/hwmon/hwmon*/name")
        self.assertIn("scmi_sensors", names.split())
        hwmon = self._run("grep -l scmi_sensors /sys/class/hwmon/hwmon*/name").split()[0]
        value = self._run(f"cat $(dirname {hwmon})/temp1_input")
        self.assertTrue(re.fullmatch(r"-?\d+", value.strip()), msg=value)

    @OETestDepends(["qcom_scmi.ScmiOpteeTest.test_scmi_transport_bound"])
    def test_scmi_clocks_registered(self):
        status, _ = self.target.run("test -r /sys/kernel/debug/clk/clk_summary")
        if status != 0:
            self.skipTest("no clk debugfs")
        summary = self._run("cat /sys/kernel/debug/clk/clk_summary")
        rates = [int(m) for m in re.findall(r"^\s*\S+\s+\d+\s+\d+\s+\d+\s+(\d+)", summary, re.M)]
        self.assertTrue(any(rates), msg=summary)
