"""Real power cuts: QEMU killed at random moments of an install, then the
boot-time resume. The NOR image file is what the firmware wrote through."""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import pytest
from updates import check_boot_view, make_update, outside_unchanged

from board import Board
from scm_fwupdate import gpt as G

UPLOAD = "/var/lib/scm-fwupdate/upload"
CUTS = int(os.environ.get("BOARD_POWER_CUTS", "20"))


@pytest.mark.emulated_only
def test_power_cuts_during_install_converge(board: Board, tmp_path: Path) -> None:
    update = make_update(tmp_path)
    # The target: an uninterrupted install on the same board.
    board.new_state_disk({"v2.bundle": update.bundle})
    board.boot("qcom_scm_storage.allow_write=1")
    # Time the phases: planning ends with the commit, then the first progress line.
    t0 = time.monotonic()
    board.start(f"scm-fwupdate install --progress=json {UPLOAD}/v2.bundle; echo INSTALL-RC=$?")
    board.expect(r'"percent"', timeout=900)
    t_apply = time.monotonic() - t0
    board.expect(r"INSTALL-RC=0", timeout=900)
    t_end = time.monotonic() - t0
    board.power_cut()
    target = board.nor.read_bytes()
    assert check_boot_view(target, update) == "new"

    rng = random.Random(2026)
    views = {"old": 0, "new": 0}
    committed = 0
    for i in range(CUTS):
        board.nor.write_bytes(update.original)
        board.new_state_disk({"v2.bundle": update.bundle})
        board.boot("qcom_scm_storage.allow_write=1")
        board.start(f"scm-fwupdate install --progress=json {UPLOAD}/v2.bundle")
        # Half the cuts while planning (before the commit), half while writing.
        lo, hi = (0.0, t_apply) if i % 2 == 0 else (t_apply, t_end)
        time.sleep(rng.uniform(lo, hi))
        board.power_cut()  # QMP quit: no flush, no shutdown

        nor = board.nor.read_bytes()
        outside_unchanged(nor, update.original)
        views[check_boot_view(nor, update)] += 1

        # Power on: init runs the boot-time resume before the shell.
        board.boot("qcom_scm_storage.allow_write=1")
        st = json.loads(board.check("scm-fwupdate status --json"))
        assert st["journal"]["state"] in ("done", "idle"), st["journal"]
        board.power_cut()
        nor = board.nor.read_bytes()
        outside_unchanged(nor, update.original)
        if st["journal"]["state"] == "done":
            committed += 1
            assert nor == target, f"cut {i}: after resume the NOR differs from the target"
        else:
            assert nor == update.original, f"cut {i}: an uncommitted install changed the NOR"
        table = G.read_gpt(lambda o, n, image=nor: image[o : o + n], len(nor))
        assert table.primary_ok and table.backup_ok
    print(f"\ninstall: {t_end:.1f} s, writing from {t_apply:.1f} s")
    print(
        f"{CUTS} power cuts: boot view old {views['old']}, new {views['new']}; "
        f"{committed} resumed to the target, {CUTS - committed} dropped uncommitted"
    )
    assert committed > 0
