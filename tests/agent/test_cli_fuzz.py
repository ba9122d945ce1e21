"""Hypothesis: any argument list gives a documented exit code and at most one error line."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest
from cli_env import make_env

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from scm_fwupdate import cli  # noqa: E402

EXIT_CODES = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 130}
WORDS = [
    "status", "install", "resume", "mark-good", "mark-bad", "activate", "verify",
    "backup", "bundle", "create", "info", "keygen", "install-inbox", "--json", "--dry-run",
    "--no-activate", "--allow-downgrade", "--output", "--device", "--progress", "json",
    "none", "bar", "a", "b", "c", "-", "--keyring", "x.bundle", "/nonexistent", "--", "",
    "--state-dir", "--config", "--image", "T=F", "--key", "\x00", "é",
]  # fmt: skip


@pytest.fixture(scope="module")
def env_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_env(tmp_path_factory.mktemp("fuzz") / "env").config


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(argv=st.lists(st.sampled_from(WORDS), max_size=6))
def test_any_arguments(env_dir: Path, argv: list[str], capsys) -> None:
    # Never read the real stdin (a bundle from '-'), never write outside the test dir.
    stdin, cwd = sys.stdin, os.getcwd()
    sys.stdin = io.TextIOWrapper(io.BytesIO(b""))
    os.chdir(env_dir.parent)
    try:
        rc = cli.main(["--config", str(env_dir), "--progress", "none", *argv])
    except SystemExit as e:  # --help / --version
        rc = e.code or 0
    finally:
        sys.stdin = stdin
        os.chdir(cwd)
    err = capsys.readouterr().err
    assert rc in EXIT_CODES
    errors = [line for line in err.splitlines() if line.startswith("scm-fwupdate: error:")]
    assert len(errors) <= 1
    assert "internal error" not in err  # every failure is a documented AgentError
    if rc not in (0, 130):
        assert len(errors) == 1
