"""Slot policy (groups, kinds, overrides, booted slot) and the Qualcomm GPT backend."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from powercut import CUT_POINTS

from scm_fwupdate import gpt as G
from scm_fwupdate import imagegen
from scm_fwupdate.errors import BootError, JournalError, PolicyError
from scm_fwupdate.flash import Geometry
from scm_fwupdate.journal import Journal
from scm_fwupdate.qcom_boot import QcomGptBackend
from scm_fwupdate.sim import SimJournal, SimNor
from scm_fwupdate.slots import booted_slot, groups, slot_of_cmdline, status, validate_targets
from scm_fwupdate.strategies import Kind
from scm_fwupdate.transaction import PlanBuilder


@cache
def board() -> imagegen.Board:
    return imagegen.build()


def test_groups_and_kinds_from_names() -> None:
    kinds = {g.name: g.kind for g in groups(board().gpt)}
    assert kinds["dtb"] == Kind.AB and kinds["uefisecapp"] == Kind.AB
    assert kinds["UEFI"] == Kind.PRIMARY_BACKUP and kinds["XBL_SC"] == Kind.PRIMARY_BACKUP
    assert kinds["VarStore"] == Kind.SINGLE and kinds["DPP"] == Kind.SINGLE
    # every partition belongs to exactly one group
    members = [p.name for g in groups(board().gpt) for p in g.partitions]
    assert sorted(members) == sorted(board().gpt.names())


def test_overrides_change_kinds_and_validation() -> None:
    table = board().gpt
    kinds = {g.name: g.kind for g in groups(table, {"DPP": "ignore", "UEFI": "single"})}
    assert kinds["DPP"] == Kind.IGNORE and kinds["UEFI"] == Kind.SINGLE
    with pytest.raises(PolicyError, match="ignore"):
        validate_targets(table, ["DPP"], {"DPP": "ignore"})
    with pytest.raises(PolicyError, match="VarStore_BACKUP"):
        validate_targets(table, ["VarStore"], {"VarStore": "primary-backup"})
    with pytest.raises(PolicyError, match="no partition"):
        validate_targets(table, ["nope"])
    assert validate_targets(table, ["dtb", "UEFI", "VarStore"]) == {
        "dtb": Kind.AB,
        "UEFI": Kind.PRIMARY_BACKUP,
        "VarStore": Kind.SINGLE,
    }


@pytest.mark.parametrize(
    ("cmdline", "slot"),
    [
        ("console=ttyMSM0 androidboot.slot_suffix=_b quiet", "b"),
        ("androidboot.slot_suffix=_a", "a"),
        ("androidboot.slot=b", "b"),
        ("root=/dev/sda rauc.slot=A", "a"),
        ("xandroidboot.slot_suffix=_b", None),  # not a whole argument
        ("androidboot.slot_suffix=_c", None),
        ("", None),
    ],
)
def test_slot_from_cmdline(cmdline: str, slot: str | None) -> None:
    assert slot_of_cmdline(cmdline) == slot


def test_booted_slot_falls_back_to_the_gpt(tmp_path: Path) -> None:
    cmd = tmp_path / "cmdline"
    cmd.write_text("quiet\n")
    assert booted_slot(board().gpt, cmd) == ("a", "gpt")
    cmd.write_text("androidboot.slot_suffix=_b\n")
    assert booted_slot(board().gpt, cmd) == ("b", "cmdline")
    assert booted_slot(board().gpt, tmp_path / "missing") == ("a", "gpt")


def test_status_reports_per_slot_attributes() -> None:
    table = G.activate_slot(board().gpt, "b")
    st = status(table, booted="a")
    assert st["booted"] == "a" and st["gpt_selected"] == "b"
    assert st["slots"]["b"] == {
        "priority": 3,
        "active": True,
        "retry": 7,
        "successful": False,
        "unbootable": False,
        "consistent": True,
    }
    # One entry out of step with the others: reported as inconsistent.
    odd = G.ab_attributes(0, priority=1, active=False, retry=0, successful=False, unbootable=True)
    bad = table.with_attributes({"dtb_a": odd})
    assert status(bad)["slots"]["a"]["consistent"] is False


# --------------------------------------------------------------------------- backend


@pytest.fixture
def backend(tmp_path: Path) -> tuple[QcomGptBackend, SimNor, Path]:
    nor = SimNor(Geometry(len(board().image), 4096, 256), initial=board().image)
    journal_path = tmp_path / "journal"
    return QcomGptBackend(lambda _w: nor, lambda: Journal(journal_path)), nor, journal_path


def test_backend_state_and_changes(backend) -> None:
    b, nor, _ = backend
    assert b.primary() == "a"
    st = {s.name: s for s in b.state()}
    assert st["a"].active and st["a"].good and st["b"].bootable and not st["b"].active
    b.activate("b")
    assert b.primary() == "b"
    st = {s.name: s for s in b.state()}
    assert st["b"].active and not st["b"].good and st["b"].retries == 7
    b.mark_good("b")
    assert {s.name: s for s in b.state()}["b"].good
    erases = nor.stats.erases
    b.mark_good("b")  # no change: no flash write
    assert nor.stats.erases == erases
    b.mark_bad("b")
    assert b.primary() == "a"
    table = G.read_gpt(nor.peek, nor.geometry.size)
    assert table.primary_ok and table.backup_ok
    assert all(pair[1].unbootable for pair in G.slot_pairs(table).values())
    with pytest.raises(BootError, match="unknown slot"):
        b.activate("c")


def test_backend_refuses_while_an_update_is_pending(backend) -> None:
    b, nor, journal_path = backend
    with Journal(journal_path) as j:
        builder = PlanBuilder(nor, j, {"operation": "test"})
        builder.commit()  # committed, never applied: pending
    with pytest.raises(JournalError, match="resume"):
        b.activate("b")


def test_backend_without_ab_pairs(tmp_path: Path) -> None:
    rows = imagegen.layout(ab_pairs=[])
    img = imagegen.build(rows=rows).image
    nor = SimNor(Geometry(len(img), 4096, 256), initial=img)
    b = QcomGptBackend(lambda _w: nor, lambda: Journal(tmp_path / "j"))
    with pytest.raises(BootError, match="no _a/_b"):
        b.primary()


@pytest.mark.parametrize("torn", [False, True], ids=["clean", "torn"])
def test_backend_change_cut_at_every_operation_is_finished_by_resume(
    tmp_path: Path, torn: bool
) -> None:
    """activate b through the backend, cut at every operation, then run_resume."""
    from dataclasses import replace

    from scm_fwupdate.config import Config
    from scm_fwupdate.context import Context
    from scm_fwupdate.resume import run_resume
    from scm_fwupdate.sim import FaultPlan, PowerCut
    from scm_fwupdate.transaction import pending_state

    jpath = tmp_path / "journal"
    cfg = replace(Config(), journal=jpath, state_dir=tmp_path, history=tmp_path / "h")
    nor = SimNor(Geometry(len(board().image), 4096, 256), initial=board().image)

    def selected() -> str | None:
        table = G.read_gpt(nor.peek, nor.geometry.size)  # one consistent table, or raises
        return G.boot_slot(table)

    cut_at = 0
    while True:
        nor.restore(board().image)
        jpath.unlink(missing_ok=True)
        nor.fault = FaultPlan(cut_at, torn, seed=cut_at)
        journal = SimJournal(jpath, fault=nor.fault)
        journal.close = lambda: None  # type: ignore[method-assign]  # closed after power_loss
        try:
            QcomGptBackend(lambda _w: nor, lambda j=journal: j).activate("b")
            break  # cut_at is past the last operation: the matrix is complete
        except PowerCut:
            journal.power_loss()
        Journal.close(journal)
        assert selected() in ("a", "b")  # the boot chain finds a table and a slot
        nor.fault = FaultPlan()
        with Journal(jpath) as j:
            committed = pending_state(j).kind in ("pending", "done")
        run_resume(Context(cfg, lambda _w: nor, lambda: Journal(jpath), cmdline=None))
        assert selected() == ("b" if committed else "a")
        table = G.read_gpt(nor.peek, nor.geometry.size)
        assert table.primary_ok and table.backup_ok
        cut_at += 1
    assert cut_at > 4  # the change has several cut points (both tables, journal syncs)
    CUT_POINTS[f"backend activate via CLI resume ({'torn' if torn else 'clean'})"] = cut_at
