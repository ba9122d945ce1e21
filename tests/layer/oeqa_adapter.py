"""Run meta-qcom-scm's oeqa runtime cases outside bitbake.

The cases in meta-qcom-scm/lib/oeqa/runtime/cases/qcom_scm.py only use
``self.target.run(cmd) -> (status, output)`` and guarded ``self.tc.td``
lookups, so a small stand-in for oeqa is enough to run them against a board
that is already booted (QEMU started by hand or by a harness, a real board on
a serial line):

    python3 tests/layer/oeqa_adapter.py --tcp 127.0.0.1:4444 \\
        --td QCOM_SCM_BUNDLE_PATH=build/tmp/deploy/images/qemuarm64-scm/x.scmfw

``--tcp`` expects a root shell on a TCP serial port (QEMU:
``-serial tcp:127.0.0.1:4444,server=on,wait=off``); ``--local`` runs commands
on this host (only useful to try the adapter). Anything with a ``run()``
method works as a target: ``run_cases(target, td)`` is the entry point.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import select
import socket
import subprocess
import sys
import time
import types
import unittest
import uuid
from pathlib import Path

CASES = (
    Path(__file__).resolve().parents[2]
    / "meta-qcom-scm"
    / "lib"
    / "oeqa"
    / "runtime"
    / "cases"
    / "qcom_scm.py"
)


# -- a stand-in for the parts of oeqa the cases import ------------------------


def _decorator_factory(attr):
    def factory(arg=None, *_args, **_kwargs):
        def deco(func):
            setattr(func, attr, arg)
            return func

        return deco

    return factory


def install_oeqa_stubs():
    """Register minimal oeqa modules in sys.modules (if oeqa is absent)."""
    if "oeqa.runtime.case" in sys.modules:
        return

    class OERuntimeTestCase(unittest.TestCase):
        tc = None
        target = None

    modules = {
        "oeqa": {},
        "oeqa.core": {},
        "oeqa.core.decorator": {},
        "oeqa.core.decorator.depends": {
            "OETestDepends": _decorator_factory("_oeqa_depends"),
        },
        "oeqa.core.decorator.data": {
            "skipIfNotQemu": _decorator_factory("_oeqa_skip_if_not_qemu"),
            "skipIfQemu": _decorator_factory("_oeqa_skip_if_qemu"),
        },
        "oeqa.core.decorator.oetimeout": {
            "OETimeout": _decorator_factory("_oeqa_timeout"),
        },
        "oeqa.runtime": {},
        "oeqa.runtime.case": {"OERuntimeTestCase": OERuntimeTestCase},
        "oeqa.runtime.decorator": {},
        "oeqa.runtime.decorator.package": {
            "OEHasPackage": _decorator_factory("_oeqa_has_package"),
        },
    }
    for name, attrs in modules.items():
        module = types.ModuleType(name)
        module.__path__ = []  # a package, so submodules import
        for key, value in attrs.items():
            setattr(module, key, value)
        sys.modules[name] = module


def load_cases(path: Path = CASES):
    """Import a case module as oeqa would, under its file name (qcom_scm, ...)."""
    install_oeqa_stubs()
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


# -- targets --------------------------------------------------------------------


class LocalTarget:
    """Runs commands on this host: for trying the adapter only."""

    def run(self, cmd, timeout=None):
        p = subprocess.run(
            cmd, shell=True, capture_output=True, text=True, timeout=timeout, check=False
        )
        return p.returncode, (p.stdout + p.stderr).rstrip("\n")


class SerialShellTarget:
    """A root shell on a serial line reached over TCP (QEMU -serial tcp:...)."""

    def __init__(self, host, port, timeout=300):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.default_timeout = timeout
        self._drain(1.0)
        self.run("stty -echo 2>/dev/null; export PS1=''")

    def _drain(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([self.sock], [], [], 0.1)
            if ready and not self.sock.recv(65536):
                break

    def run(self, cmd, timeout=None):
        tag = uuid.uuid4().hex
        line = f'{cmd} 2>&1; echo "{tag}:$?"\n'
        self.sock.sendall(line.encode())
        buf = b""
        end = time.monotonic() + (timeout or self.default_timeout)
        pattern = re.compile(rb"(?m)^" + tag.encode() + rb":(\d+)\r?$")
        while True:
            m = pattern.search(buf)
            if m:
                out = buf[: m.start()].decode(errors="replace")
                # Drop an echoed command line if the terminal echoed it.
                lines = [x for x in out.replace("\r", "").split("\n") if tag not in x]
                return int(m.group(1)), "\n".join(lines).strip("\n")
            remaining = end - time.monotonic()
            if remaining <= 0:
                return -1, buf.decode(errors="replace")
            ready, _, _ = select.select([self.sock], [], [], min(remaining, 1.0))
            if ready:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return -1, buf.decode(errors="replace")
                buf += chunk


# -- running ------------------------------------------------------------------


class _TC:
    def __init__(self, td):
        self.td = td


def ordered_tests(case_class):
    """Test names in an order that satisfies their OETestDepends."""
    names = sorted(n for n in dir(case_class) if n.startswith("test_"))
    done, order = set(), []

    def visit(name, stack=()):
        if name in done:
            return
        if name in stack:
            raise ValueError(f"dependency cycle at {name}")
        for dep in getattr(getattr(case_class, name), "_oeqa_depends", None) or []:
            dep_name = dep.rsplit(".", 1)[-1]
            if dep_name in names:
                visit(dep_name, (*stack, name))
        done.add(name)
        order.append(name)

    for name in names:
        visit(name)
    return order


def run_cases(target, td=None, module=None, verbosity=2):
    module = module or load_cases()
    suite = unittest.TestSuite()
    for case_class in (
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, unittest.TestCase)
        and obj.__module__ == module.__name__
    ):
        case_class.tc = _TC(td or {})
        case_class.target = target
        for name in ordered_tests(case_class):
            suite.addTest(case_class(name))
    return unittest.TextTestRunner(verbosity=verbosity).run(suite)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--tcp", metavar="HOST:PORT", help="serial console over TCP")
    group.add_argument("--local", action="store_true", help="run on this host")
    parser.add_argument("--td", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    td = dict(item.split("=", 1) for item in args.td)
    if args.tcp:
        # A tty line holds 4095 characters: push the bundle in smaller pieces.
        td.setdefault("QCOM_SCM_PUSH_CHUNK", "3000")
    if args.local:
        target = LocalTarget()
    else:
        host, port = args.tcp.rsplit(":", 1)
        target = SerialShellTarget(host, int(port))
    result = run_cases(target, td)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
