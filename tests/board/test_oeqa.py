"""The layer's oeqa runtime cases (meta-qcom-scm/lib/oeqa/runtime/cases),
run against the booted emulated board through a small adapter: what
testimage would run on qemuarm64-scm, exercised here without bitbake."""

from __future__ import annotations

import sys
import unittest
from pathlib import Path

import pytest
from updates import make_nor, make_release

from board import REPORT, ROOT, Board

sys.path.insert(0, str(ROOT / "tests" / "layer"))
from oeqa_adapter import CASES, load_cases


class BoardTarget:
    """oeqa's target interface, the only part the cases use: run()."""

    def __init__(self, board: Board) -> None:
        self.board = board

    def run(self, cmd: str, timeout: float | None = None) -> tuple[int, str]:
        out, rc = self.board.run(cmd, timeout=timeout or 300)
        return rc, out


class _TC:
    def __init__(self, td: dict[str, str]) -> None:
        self.td = td


def run_case(
    board: Board, name: str, td: dict[str, str], case_class: type | None = None
) -> unittest.TestResult:
    case_class = case_class or load_cases().QcomScmStorageTest
    case_class.tc = _TC(td)
    case = case_class(name)
    case.target = BoardTarget(board)
    result = unittest.TestResult()
    case.run(result)
    return result


def passed(result: unittest.TestResult) -> bool:
    return result.wasSuccessful() and not result.skipped


@pytest.mark.emulated_only
def test_oeqa_cases_on_the_emulated_board(board: Board, tmp_path: Path) -> None:
    nor = make_nor("q6a")
    update = make_release(tmp_path, nor, 2)
    board.nor.write_bytes(nor.image)
    # The harness puts the bundle on the board's state disk (a real testimage
    # run pushes it through the target's shell instead).
    td = {
        "QCOM_SCM_BUNDLE_PATH": str(update.bundle),
        "QCOM_SCM_BUNDLE_ON_TARGET": "/var/lib/scm-fwupdate/upload/v2.bundle",
        "QCOM_SCM_BUNDLE_VERSION": "2",
    }
    outcomes = {}
    board.new_state_disk({"v2.bundle": update.bundle})

    # The image as built by default: read-only.
    board.boot()
    for name in ("test_driver_bound", "test_read_only_by_default", "test_status"):
        outcomes[name] = run_case(board, name, td)

    # Writes enabled (kas/allow-write.yml): install and confirm.
    board.boot("qcom_scm_storage.allow_write=1")
    wtd = {**td, "QCOM_SCM_STORAGE_ALLOW_WRITE": "1"}
    for name in ("test_ab_install", "test_mark_good"):
        outcomes[name] = run_case(board, name, wtd)

    # The emulator's fault knob: the 5th write or erase fails with a storage
    # error, inside the install; resume then finishes it.
    board.nor.write_bytes(nor.image)
    board.new_state_disk({"v2.bundle": update.bundle})
    board.boot(
        "qcom_scm_storage.allow_write=1",
        fw={"fail_writes": "1", "fail_nth": "5", "fail_status": "3"},
    )
    outcomes["test_resume_after_fault"] = run_case(
        board, "test_resume_after_fault", {**wtd, "QCOM_SCM_FAULT_CMD": "true"}
    )

    # SCMI over OP-TEE (the machine's device tree wires it).
    scmi = load_cases(CASES.with_name("qcom_scmi.py")).ScmiOpteeTest
    for name in (
        "test_optee_probed",
        "test_scmi_transport_bound",
        "test_scmi_sensors_in_hwmon",
        "test_scmi_clocks_registered",
    ):
        outcomes[name] = run_case(board, name, td, scmi)

    report = {
        name: "ok" if passed(r) else [str(x[1]) for x in r.failures + r.errors + r.skipped]
        for name, r in outcomes.items()
    }
    REPORT.append(f"oeqa cases on the emulated board: {report}")
    assert all(v == "ok" for v in report.values()), report
