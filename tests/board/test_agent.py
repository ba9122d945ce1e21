"""The agent on the booted board: a signed A/B install through /dev/mtd0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from updates import check_boot_view, make_update, outside_unchanged

from board import Board
from scm_fwupdate import gpt as G

UPLOAD = "/var/lib/scm-fwupdate/upload"


def status(board: Board) -> dict:
    return json.loads(board.check("scm-fwupdate status --json"))


@pytest.mark.emulated_only
def test_ab_install_status_and_gpt_attributes(board: Board, tmp_path: Path) -> None:
    update = make_update(tmp_path)
    board.new_state_disk({"v2.bundle": update.bundle})
    board.boot("qcom_scm_storage.allow_write=1")
    before = status(board)
    assert before["boot"]["next"] == "a"
    out = board.check(f"scm-fwupdate install --progress=json {UPLOAD}/v2.bundle", timeout=600)
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    assert lines and lines[-1]["percent"] == 100
    assert all(x["percent"] < 100 for x in lines[:-1])  # no 100% before the end
    after = status(board)
    assert after["boot"]["next"] == "b"
    assert after["journal"]["state"] == "done"
    assert after["installed"]["version"] == "2"
    # the agent's own verify reads everything back through the driver
    board.check("scm-fwupdate verify")
    board.power_cut()

    nor = board.nor.read_bytes()
    table = G.read_gpt(lambda o, n: nor[o : o + n], len(nor))
    assert table.primary_ok and table.backup_ok
    b, a = table.find("dtb_b"), table.find("dtb_a")
    assert (b.priority, b.active, b.retry, b.successful, b.unbootable) == (3, True, 7, False, False)
    assert (a.priority, a.active) == (2, False)
    assert check_boot_view(nor, update) == "new"
    for target, data in update.images.items():
        assert update.slot_image(nor, target, "b") == data
    outside_unchanged(nor, update.original)

    # next boot: slot b confirmed by mark-good
    board.boot("qcom_scm_storage.allow_write=1")
    board.check("scm-fwupdate mark-good")
    board.power_cut()
    nor = board.nor.read_bytes()
    b = G.read_gpt(lambda o, n: nor[o : o + n], len(nor)).find("dtb_b")
    assert b.successful and not b.unbootable


@pytest.mark.emulated_only
def test_install_refuses_a_bundle_signed_with_another_key(board: Board, tmp_path: Path) -> None:
    update = make_update(tmp_path)
    raw = bytearray(update.bundle.read_bytes())
    raw[600] ^= 0x01  # inside the manifest: the signature no longer matches
    bad = tmp_path / "bad.bundle"
    bad.write_bytes(bytes(raw))
    board.new_state_disk({"bad.bundle": bad})
    board.boot("qcom_scm_storage.allow_write=1")
    out, rc = board.run(f"scm-fwupdate install --progress=none {UPLOAD}/bad.bundle")
    assert rc in (3, 4), out
    assert len([x for x in out.splitlines() if x.startswith("scm-fwupdate: error:")]) == 1
    board.power_cut()
    assert board.nor.read_bytes() == update.original
