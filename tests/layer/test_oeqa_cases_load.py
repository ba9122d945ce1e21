"""The oeqa runtime cases import with stub oeqa classes and run against a
fake target (the same path the serial-shell adapter uses)."""

import ast
import unittest

import oeqa_adapter
import pytest

EXPECTED = {
    "test_driver_bound",
    "test_read_only_by_default",
    "test_status",
    "test_ab_install",
    "test_resume_after_fault",
    "test_mark_good",
}


@pytest.fixture(scope="module")
def cases():
    return oeqa_adapter.load_cases()


def test_module_imports(cases):
    assert issubclass(cases.QcomScmStorageTest, unittest.TestCase)
    names = {n for n in dir(cases.QcomScmStorageTest) if n.startswith("test_")}
    assert names >= EXPECTED


def test_dependencies_name_existing_tests(cases):
    cls = cases.QcomScmStorageTest
    for name in dir(cls):
        for dep in getattr(getattr(cls, name), "_oeqa_depends", None) or []:
            module, klass, test = dep.split(".")
            assert module == "qcom_scm", dep
            assert klass == cls.__name__, dep
            assert hasattr(cls, test), dep
    order = oeqa_adapter.ordered_tests(cls)
    assert order.index("test_driver_bound") < order.index("test_ab_install")
    assert order.index("test_ab_install") < order.index("test_mark_good")


def test_only_target_run_and_guarded_td():
    """The cases use self.target.run() only, and self.tc.td only in _td()."""
    tree = ast.parse(oeqa_adapter.CASES.read_text())
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef):
            continue
        for node in ast.walk(func):
            if not isinstance(node, ast.Attribute):
                continue
            base = node.value
            if (
                isinstance(base, ast.Attribute)
                and base.attr == "target"
                and isinstance(base.value, ast.Name)
                and base.value.id == "self"
            ):
                assert node.attr == "run", f"{func.name} uses self.target.{node.attr}"
            if node.attr == "td":
                assert func.name == "_td", f"{func.name} reads td outside _td()"


class FakeBoard:
    """Canned answers of a read-only board with the driver bound."""

    PROC_MTD = 'dev:    size   erasesize  name\nmtd0: 02000000 00001000 "qcom_scm_storage.0.auto"'

    def __init__(self):
        self.commands = []

    def run(self, cmd, timeout=None):
        self.commands.append(cmd)
        if cmd == "cat /proc/mtd":
            return 0, self.PROC_MTD
        if cmd.startswith("cat /sys/class/mtd/mtd0/flags"):
            return 0, "0x0"  # MTD_WRITEABLE clear
        if cmd.startswith("flash_erase"):
            return 1, "flash_erase: error: MEMERASE: Read-only file system"
        if cmd.startswith("scm-fwupdate status"):
            return 0, "slot a: active, good"
        if cmd.startswith(("test ", "dd ")):
            return 0, ""
        return 127, f"unexpected command: {cmd}"


def run_one(cases, name, target, td=None):
    cls = cases.QcomScmStorageTest
    cls.target = target
    cls.tc = oeqa_adapter._TC(td or {})
    result = unittest.TestResult()
    cls(name).run(result)
    return result


@pytest.mark.parametrize("name", ["test_driver_bound", "test_read_only_by_default", "test_status"])
def test_cases_pass_on_fake_board(cases, name):
    board = FakeBoard()
    result = run_one(cases, name, board)
    assert result.wasSuccessful(), (result.failures, result.errors, board.commands)
    assert not result.skipped


def test_read_only_fails_when_erase_succeeds(cases):
    class WritableBoard(FakeBoard):
        def run(self, cmd, timeout=None):
            if cmd.startswith(("flash_erase", "mtd_debug")):
                self.commands.append(cmd)
                return 0, ""
            return super().run(cmd, timeout)

    board = WritableBoard()
    result = run_one(cases, "test_read_only_by_default", board)
    assert len(result.failures) == 1
    # The block was put back.
    assert any(c.startswith("mtd_debug write") for c in board.commands)


def test_install_skips_without_bundle(cases):
    class WritableBoard(FakeBoard):
        def run(self, cmd, timeout=None):
            if cmd.startswith("cat /sys/class/mtd/mtd0/flags"):
                return 0, "0x400"
            return super().run(cmd, timeout)

    result = run_one(
        cases, "test_ab_install", WritableBoard(), td={"QCOM_SCM_BUNDLE_PATH": "/nope"}
    )
    assert len(result.skipped) == 1, (result.failures, result.errors)


def test_resume_skips_without_fault_knob(cases):
    result = run_one(cases, "test_resume_after_fault", FakeBoard())
    assert len(result.skipped) == 1


def test_td_lookup_tolerates_missing_td(cases):
    cls = cases.QcomScmStorageTest
    case = cls("test_status")
    case.tc = None
    assert case._td("ANYTHING", "x") == "x"
    case.tc = oeqa_adapter._TC({"A": "1"})
    assert case._td("A") == "1"


def test_local_target_run():
    status, output = oeqa_adapter.LocalTarget().run("echo hi; exit 3")
    assert (status, output) == (3, "hi")


def test_td_reads_only_the_prefixed_names(cases):
    """One prefix: the names before QCOM_SCM_ are not read (BB_RENAMED_VARIABLES says so)."""
    case = cases.QcomScmStorageTest("test_status")
    case.tc = oeqa_adapter._TC({"SCM_BUNDLE_PATH": "/old", "QCOM_SCM_BUNDLE_PATH": "/new"})
    assert case._td("QCOM_SCM_BUNDLE_PATH") == "/new"
    case.tc = oeqa_adapter._TC({"SCM_BUNDLE_PATH": "/old"})
    assert case._td("QCOM_SCM_BUNDLE_PATH") is None
    assert case._td("QCOM_SCM_FAULT_CMD", "x") == "x"
