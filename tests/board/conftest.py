"""Booted tests: the emulated board by default, a real Q6A with --board-env."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from board import REPORT, ROOT, Artifacts, Board

HERE = Path(__file__).parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--board-env",
        default=str(HERE / "qemu-env.yaml"),
        help="labgrid environment (default: the emulated board)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "emulated_only: needs the NOR image file on the host")


@pytest.fixture(scope="session")
def artifacts(pytestconfig: pytest.Config) -> Artifacts | None:
    env = Path(pytestconfig.getoption("--board-env"))
    if env.resolve() != (HERE / "qemu-env.yaml").resolve():
        return None
    return Artifacts.build()


@pytest.fixture(scope="session")
def board_factory(
    pytestconfig: pytest.Config,
    artifacts: Artifacts | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator:
    boards: list[Board] = []

    def make() -> Board:
        b = Board(
            Path(pytestconfig.getoption("--board-env")), tmp_path_factory.mktemp("board"), artifacts
        )
        boards.append(b)
        return b

    yield make
    for b in boards:
        b.shutdown()


@pytest.fixture
def board(board_factory, request: pytest.FixtureRequest) -> Iterator[Board]:
    b = board_factory()
    if request.node.get_closest_marker("emulated_only") and not b.emulated:
        pytest.skip("needs the emulated board's NOR image on the host")
    if b.emulated:
        from updates import make_nor

        b.nor.write_bytes(make_nor("q6a").image)
        b.new_state_disk()
    yield b
    b.shutdown()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if hasattr(session.config, "workeroutput"):  # a pytest-xdist worker
        session.config.workeroutput["board_report"] = json.dumps(REPORT)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:  # the controller, once per xdist worker
    REPORT.extend(json.loads(getattr(node, "workeroutput", {}).get("board_report", "[]")))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if REPORT:
        terminalreporter.section("booted board")
        for line in REPORT:
            terminalreporter.write_line(line)


def pytest_report_header(config: pytest.Config) -> str:
    return f"board environment: {config.getoption('--board-env')} (repo {ROOT}, cwd {os.getcwd()})"
