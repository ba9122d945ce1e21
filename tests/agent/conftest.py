"""Shared pytest set-up for the agent tests."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under pytest-xdist a worker hands its cut-point counts to the controller."""
    from powercut import CUT_POINTS

    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["cut_points"] = json.dumps(CUT_POINTS)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:  # the controller, once per xdist worker
    from powercut import CUT_POINTS

    CUT_POINTS.update(json.loads(getattr(node, "workeroutput", {}).get("cut_points", "{}")))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    from powercut import CUT_POINTS

    if CUT_POINTS:
        terminalreporter.section("power-cut matrix")
        for name, count in sorted(CUT_POINTS.items()):
            terminalreporter.write_line(f"{name}: {count} cut points")
        terminalreporter.write_line(f"total: {sum(CUT_POINTS.values())} cut points, all checked")


@pytest.fixture
def shm_path(tmp_path: Path) -> Iterator[Path]:
    """A directory on tmpfs when there is one: the matrix fsyncs thousands of times."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(dir=shm, prefix="scm-fwupdate-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A NOR image file, keys, config and state directory for the CLI tests (cli_env)."""
    from cli_env import make_env

    e = make_env(tmp_path / "env")
    monkeypatch.setenv("SCM_FWUPDATE_CMDLINE", str(e.root / "cmdline"))
    return e
