#
# SPDX-License-Identifier: MIT
#
# Runtime tests of the Qualcomm SCM storage stack: the qcom_scm_storage MTD
# driver, its read-only default, and scm-fwupdate (status, A/B install of a
# bundle built by a qcom_scm_bundle recipe, resume after an interrupted
# install, mark-good).
#
# Written against a small surface so that the same cases also run outside
# bitbake (tests/layer/oeqa_adapter.py) against a board reached over a serial
# shell:
#   - the target is used only through self.target.run(cmd) -> (status, output);
#   - files are pushed with run() (base64 chunks decoded by python3 on the
#     target), never with copyTo();
#   - datastore values come from self.tc.td through _td(), which tolerates a
#     missing td or key.
#
# Datastore / adapter settings (core-image-qcom-scm sets the first and third):
#   QCOM_SCM_BUNDLE_PATH           the bundle on this host
#   QCOM_SCM_BUNDLE_ON_TARGET      the bundle is already on the target at
#                                  this path (a harness put it there): no push
#   QCOM_SCM_BUNDLE_VERSION        the version "status" shows after install
#   QCOM_SCM_PUSH_CHUNK            base64 characters per run() when pushing
#                                  the bundle (49152; the serial adapter
#                                  uses less, a tty line holds 4095)
#   QCOM_SCM_STORAGE_ALLOW_WRITE   "1" when the image enables writes
#   QCOM_SCM_FAULT_CMD             shell command run on the target that
#                                  arms the emulator's fault knob (the next
#                                  storage writes fail); the resume test is
#                                  skipped without it
#   QCOM_SCM_FAULT_CLEAR_CMD       command that disarms it (optional)

import base64
import hashlib
import os
import re

from oeqa.core.decorator.depends import OETestDepends
from oeqa.runtime.case import OERuntimeTestCase
from oeqa.runtime.decorator.package import OEHasPackage

AGENT = "scm-fwupdate"
DRIVER = "qcom_scm_storage"
NOR_SIZE = 32 * 1024 * 1024
BLOCK = 4096
MTD_WRITEABLE = 0x400
REMOTE_BUNDLE = "/tmp/qcom-scm-test.scmfw"


class QcomScmStorageTest(OERuntimeTestCase):
    """The qcom_scm_storage MTD device and scm-fwupdate on the target."""

    # -- helpers -------------------------------------------------------------

    def _td(self, name, default=None):
        td = getattr(getattr(self, "tc", None), "td", None)
        if not td:
            return default
        try:
            value = td.get(name)
        except AttributeError:
            return default
        return default if value is None else value

    def _run(self, cmd, timeout=None, check=True):
        if timeout is None:
            status, output = self.target.run(cmd)
        else:
            status, output = self.target.run(cmd, timeout=timeout)
        if check:
            self.assertEqual(status, 0, msg=f"{cmd}\n{output}")
        return status, output

    def _mtd(self):
        """(device name, size, erase size) of the qcom_scm_storage MTD."""
        _, output = self._run("cat /proc/mtd")
        for line in output.splitlines():
            # mtd0: 02000000 00001000 "qcom_scm_storage.0.auto"
            m = re.match(r'(mtd\d+):\s+([0-9a-fA-F]+)\s+([0-9a-fA-F]+)\s+"([^"]*)"', line)
            if m and DRIVER in m.group(4):
                return m.group(1), int(m.group(2), 16), int(m.group(3), 16)
        self.fail(f"no {DRIVER} device in /proc/mtd:\n{output}")

    def _writeable(self, mtd):
        _, flags = self._run(f"cat /sys/class/mtd/{mtd}/flags")
        return bool(int(flags.strip(), 16) & MTD_WRITEABLE)

    def _enable_writes(self, mtd):
        """True if the device is writeable, after trying to make it so.

        allow_write is 0444: with a built-in driver only the kernel command
        line sets it (QCOM_SCM_STORAGE_ALLOW_WRITE = "1"); a modular driver
        can be reloaded with it.
        """
        if self._writeable(mtd):
            return True
        self._run(f"modprobe -r {DRIVER} && modprobe {DRIVER} allow_write=1", check=False)
        status, output = self._run("cat /proc/mtd", check=False)
        if status != 0 or DRIVER not in output:
            return False
        mtd, _, _ = self._mtd()
        return self._writeable(mtd)

    def _push(self, data, remote):
        """Copy bytes to the target through run() only."""
        self._run(f"rm -f {remote}.b64")
        text = base64.b64encode(data).decode()
        chunk = int(self._td("QCOM_SCM_PUSH_CHUNK", "49152"))
        for i in range(0, len(text), chunk):
            self._run(f"printf '%s' '{text[i : i + chunk]}' >> {remote}.b64")
        decode = (
            'python3 -c \'import base64,sys; open(sys.argv[2], "wb").write('
            "base64.b64decode(open(sys.argv[1]).read()))'"
        )
        self._run(f"{decode} {remote}.b64 {remote} && rm -f {remote}.b64")
        _, out = self._run(f"sha256sum {remote}")
        self.assertEqual(out.split()[0], hashlib.sha256(data).hexdigest(), msg=out)

    def _bundle_path(self):
        path = self._td("QCOM_SCM_BUNDLE_PATH")
        if not path or not os.path.exists(path):
            self.skipTest("no bundle (set QCOM_SCM_BUNDLE_PATH or build core-bundle-qcom-scm)")
        return path

    def _install_bundle(self, bundle, check=True):
        remote = self._td("QCOM_SCM_BUNDLE_ON_TARGET")
        if not remote:
            with open(bundle, "rb") as f:
                self._push(f.read(), REMOTE_BUNDLE)
            remote = REMOTE_BUNDLE
        return self._run(f"{AGENT} install --progress none {remote}", timeout=1800, check=check)

    # -- tests ---------------------------------------------------------------

    def test_driver_bound(self):
        mtd, size, erasesize = self._mtd()
        self.assertEqual(size, NOR_SIZE, msg=f"{mtd} size")
        self.assertEqual(erasesize, BLOCK, msg=f"{mtd} erase size")
        self._run(f"test -c /dev/{mtd}")
        self._run(f"test -e /sys/bus/platform/drivers/{DRIVER}")

    @OETestDepends(["qcom_scm.QcomScmStorageTest.test_driver_bound"])
    def test_read_only_by_default(self):
        if self._td("QCOM_SCM_STORAGE_ALLOW_WRITE", "0") == "1":
            self.skipTest("image built with QCOM_SCM_STORAGE_ALLOW_WRITE = 1")
        mtd, size, _ = self._mtd()
        self.assertFalse(self._writeable(mtd), msg=f"{mtd} is writeable by default")
        # Reading works.
        self._run(f"dd if=/dev/{mtd} of=/dev/null bs={BLOCK} count=16")
        # An erase of the last block must fail; if it does not, put the block
        # back before failing.
        last = size - BLOCK
        self._run(
            f"dd if=/dev/{mtd} of=/tmp/qcom-scm-last.bin bs={BLOCK} skip={last // BLOCK} count=1"
        )
        status, output = self._run(f"flash_erase /dev/{mtd} {last} 1", check=False)
        if status == 0:
            self._run(
                f"mtd_debug write /dev/{mtd} {last} {BLOCK} /tmp/qcom-scm-last.bin",
                check=False,
            )
        self.assertNotEqual(status, 0, msg="erase succeeded on a read-only device:\n" + output)

    @OETestDepends(["qcom_scm.QcomScmStorageTest.test_driver_bound"])
    @OEHasPackage(["scm-fwupdate"])
    def test_status(self):
        _, output = self._run(f"{AGENT} status")
        self.assertTrue(output.strip(), msg="empty status output")

    # After the read-only check: this test turns writes on.
    @OETestDepends(
        [
            "qcom_scm.QcomScmStorageTest.test_status",
            "qcom_scm.QcomScmStorageTest.test_read_only_by_default",
        ]
    )
    @OEHasPackage(["scm-fwupdate"])
    def test_ab_install(self):
        bundle = self._bundle_path()
        mtd, _, _ = self._mtd()
        if not self._enable_writes(mtd):
            self.skipTest(f"{DRIVER} cannot be made writeable")
        _, status_before = self._run(f"{AGENT} status")
        self._install_bundle(bundle)
        # The agent reads everything back: GPT copies, journal, installed images.
        self._run(f"{AGENT} verify", timeout=1800)
        _, status_after = self._run(f"{AGENT} status")
        self.assertNotEqual(status_before, status_after, msg="status unchanged by install")
        version = self._td("QCOM_SCM_BUNDLE_VERSION")
        if version:
            self.assertIn(version, status_after, msg="installed version not in status")

    @OETestDepends(["qcom_scm.QcomScmStorageTest.test_ab_install"])
    @OEHasPackage(["scm-fwupdate"])
    def test_resume_after_fault(self):
        arm = self._td("QCOM_SCM_FAULT_CMD")
        if not arm:
            self.skipTest("QCOM_SCM_FAULT_CMD (the emulator's fault knob) is not set")
        clear = self._td("QCOM_SCM_FAULT_CLEAR_CMD")
        bundle = self._bundle_path()
        self._run(arm)
        status, output = self._install_bundle(bundle, check=False)
        if clear:
            self._run(clear)
        self.assertNotEqual(status, 0, msg="install survived the injected fault:\n" + output)
        # The resume unit is what runs at boot after a power cut (an image
        # without systemd runs the same command from its init).
        if self._run("command -v systemctl", check=False)[0] == 0:
            self._run("systemctl start scm-fwupdate-resume.service", timeout=1800)
        else:
            self._run(f"{AGENT} resume --progress none", timeout=1800)
        self._run(f"{AGENT} verify", timeout=1800)
        _, output = self._run(f"{AGENT} status")
        version = self._td("QCOM_SCM_BUNDLE_VERSION")
        if version:
            self.assertIn(version, output)

    @OETestDepends(["qcom_scm.QcomScmStorageTest.test_ab_install"])
    @OEHasPackage(["scm-fwupdate"])
    def test_mark_good(self):
        if self._run("command -v systemctl", check=False)[0] == 0:
            self._run("systemctl is-enabled scm-fwupdate-mark-good.service")
        self._run(f"{AGENT} mark-good")
        # Idempotent.
        self._run(f"{AGENT} mark-good")
        self._run(f"{AGENT} status")
