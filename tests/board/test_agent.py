"""The agent on the booted board, judged by the emulated boot chain.

Every "what boots now?" answer comes from the firmware's ``boot:`` and
``boot-image:`` lines at the next power-on (tests/board/firmware.py reads
them); nothing here asks the agent's own GPT or image code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from oracle.gpt import read_gpt_bytes
from updates import ABL_CONFIG, first_release, make_nor, make_release, outside_unchanged, whole

from board import Board

UPLOAD = "/var/lib/scm-fwupdate/upload"
WRITE = "qcom_scm_storage.allow_write=1"
AB_FW = {"boot_rule": "ab-attributes"}


def status(board: Board) -> dict:
    return json.loads(board.check("scm-fwupdate status --json", timeout=300))


def set_partitions(nor: bytes) -> set[str]:
    table = read_gpt_bytes(nor)
    assert table is not None
    return {n for n in table.partitions if n not in ("VarStore", "DPP", "recoveryinfo", "cdt")}


@pytest.mark.emulated_only
def test_a_release_under_boot_sets_boots_the_new_set(board: Board, tmp_path: Path) -> None:
    nor = make_nor("q6a")
    new = make_release(tmp_path, nor, 2)
    board.nor.write_bytes(nor.image)
    board.new_state_disk({"v2.bundle": new.bundle})
    line = board.boot(WRITE)
    assert line is not None and line.set == "A" and whole(line, first_release(nor), new) == "old"
    before = status(board)
    assert before["board"]["rule"] == "sets" and before["boot_report"]["set"] == "A"
    out = board.check(f"scm-fwupdate install --progress=json {UPLOAD}/v2.bundle", timeout=900)
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    assert lines and lines[-1]["percent"] == 100
    assert all(x["percent"] < 100 for x in lines[:-1])  # no 100% before the end
    board.check("scm-fwupdate verify", timeout=600)
    board.power_cut()
    after = board.nor.read_bytes()
    assert read_gpt_bytes(after) == read_gpt_bytes(nor.image)  # no attribute, no GUID written
    data = {"VarStore", "DPP", "recoveryinfo", "cdt", "ddr", "ddr_BACKUP", "qweslicstore_a"}
    outside_unchanged(after, nor.image, set_partitions(nor.image) - data)

    line = board.boot(WRITE)
    assert line is not None and line.set == "A" and line.release == "REL-2"
    assert whole(line, first_release(nor), new) == "new", line
    st = status(board)
    assert st["sets"]["A"]["release"] == st["sets"]["B"]["release"] == "REL-2"
    assert st["installed"]["version"] == "2" and st["fallback"] is None


@pytest.mark.emulated_only
def test_a_release_under_abl_slots_boots_the_other_slot(board: Board, tmp_path: Path) -> None:
    nor = make_nor("abl")
    new = make_release(tmp_path, nor, 2)
    board.nor.write_bytes(nor.image)
    board.new_state_disk({"v2.bundle": new.bundle}, config=ABL_CONFIG)
    line = board.boot(WRITE, fw=AB_FW)
    assert line is not None and line.slot == "_a"
    board.check(f"scm-fwupdate install --progress=none {UPLOAD}/v2.bundle", timeout=900)
    board.power_cut()
    line = board.boot(WRITE, fw=AB_FW)
    assert line is not None and line.slot == "_b" and whole(line, first_release(nor), new) == "new"
    assert "retry 7 -> 6" in line.reason
    board.check("scm-fwupdate mark-good")
    board.power_cut()
    line = board.boot(fw=AB_FW)
    assert line is not None and line.slot == "_b" and "retry" not in line.reason


@pytest.mark.emulated_only
def test_a_corrupt_set_a_falls_back_and_the_next_install_repairs_it(
    board: Board, tmp_path: Path
) -> None:
    nor = make_nor("q6a")
    table = read_gpt_bytes(nor.image)
    assert table is not None
    image = bytearray(nor.image)
    tz = table.partitions["TZ"]
    image[tz.offset + 0x3000] ^= 0x01  # one bit of TZ's code: its digest no longer matches
    board.nor.write_bytes(bytes(image))
    new = make_release(tmp_path, nor, 2)
    board.new_state_disk({"v2.bundle": new.bundle})
    line = board.boot(WRITE)
    assert line is not None and line.set == "B" and line.fallback, line
    assert "TZ" in line.reason
    st = status(board)
    assert st["fallback"]["booted"] == "set B" and "TZ" in st["fallback"]["reason"]
    history = board.check("cat /var/lib/scm-fwupdate/history.jsonl")
    assert '"operation":"fallback"' in history
    text = board.check("scm-fwupdate status")
    assert "FALLBACK" in text
    board.check(f"scm-fwupdate install --progress=none {UPLOAD}/v2.bundle", timeout=900)
    board.power_cut()
    line = board.boot()
    assert line is not None and line.set == "A" and not line.fallback
    assert whole(line, first_release(nor), new) == "new"


@pytest.mark.emulated_only
def test_an_unconfirmed_slot_falls_back_and_the_inbox_retries_it(
    board: Board, tmp_path: Path
) -> None:
    nor = make_nor("abl")
    new = make_release(tmp_path, nor, 2)
    board.nor.write_bytes(nor.image)
    board.new_state_disk({"v2.bundle": new.bundle}, config=ABL_CONFIG)
    board.boot(WRITE, fw=AB_FW)
    board.check(f"scm-fwupdate install --progress=none {UPLOAD}/v2.bundle", timeout=900)
    board.power_cut()
    retries = []
    line = board.boot(fw=AB_FW)  # booted, never confirmed (no mark-good)
    assert line is not None and line.slot == "_b"
    retries.append(line.reason)
    board.power_cut()
    for _ in range(6):  # more power-ons without confirmation: the chain only
        line = board.firmware_only(AB_FW)
        assert line.slot == "_b", line
        retries.append(line.reason)
    assert [r.rsplit("-> ", 1)[-1] for r in retries] == ["6", "5", "4", "3", "2", "1", "0"]
    line = board.boot(WRITE, fw=AB_FW)  # retries exhausted: the chain goes back to _a
    assert line is not None and line.slot == "_a" and whole(line, first_release(nor), new) == "old"
    assert any(b.result == "reset" and "exhausted" in b.reason for b in board.boot_lines)
    st = status(board)
    assert st["fallback"] is not None and st["fallback"]["booted"] == "slot a", st["fallback"]
    inbox = "/var/lib/scm-fwupdate/inbox"
    board.check(f"mkdir -p {inbox} && cp {UPLOAD}/v2.bundle {inbox}/")
    out = board.check("scm-fwupdate --progress=none install-inbox", timeout=900)
    assert "v2.bundle: done" in out
    history = "/var/lib/scm-fwupdate/history.jsonl"
    installs = board.check(f'grep -c \'"operation":"install"\' {history}')
    assert installs.strip() == "2"  # installed again, not skipped as already installed


@pytest.mark.emulated_only
def test_install_refuses_a_bundle_signed_with_another_key(board: Board, tmp_path: Path) -> None:
    nor = make_nor("q6a")
    new = make_release(tmp_path, nor, 2)
    raw = bytearray(new.bundle.read_bytes())
    raw[600] ^= 0x01  # inside the manifest: the signature no longer matches
    bad = tmp_path / "bad.bundle"
    bad.write_bytes(bytes(raw))
    board.nor.write_bytes(nor.image)
    board.new_state_disk({"bad.bundle": bad})
    board.boot(WRITE)
    out, rc = board.run(f"scm-fwupdate install --progress=none {UPLOAD}/bad.bundle")
    assert rc in (3, 4), out
    assert len([x for x in out.splitlines() if x.startswith("scm-fwupdate: error:")]) == 1
    board.power_cut()
    assert board.nor.read_bytes() == nor.image


@pytest.mark.emulated_only
def test_a_broken_boot_image_is_refused_before_any_write(board: Board, tmp_path: Path) -> None:
    nor = make_nor("q6a")
    bad = make_release(tmp_path, nor, 2, corrupt="digest")
    board.nor.write_bytes(nor.image)
    board.new_state_disk({"bad.bundle": bad.bundle})
    board.boot(WRITE)
    out, rc = board.run(f"scm-fwupdate install --progress=none {UPLOAD}/bad.bundle")
    assert rc == 12 and "would not boot" in out, out
    board.power_cut()
    assert board.nor.read_bytes() == nor.image


@pytest.mark.emulated_only
def test_probe_read_only_before_and_after_an_update_and_after_a_fallback(
    board: Board, tmp_path: Path
) -> None:
    nor = make_nor("q6a")
    new = make_release(tmp_path, nor, 2)
    board.nor.write_bytes(nor.image)
    board.new_state_disk({"v2.bundle": new.bundle})

    def probe() -> dict:
        return json.loads(board.check("scm-fwupdate probe --json", timeout=300))

    board.boot()  # the driver read-only: probe must still work
    before = probe()
    assert before["rule"]["rule"] == "sets" and before["boot_report"]["set"] == "A"
    assert before["images"]["TZ"]["a"]["release"] == "REL-1"
    assert before["driver"]["parameters"].get("allow_write") in ("N", "0")
    assert before["geometry"]["size"] == len(nor.image)
    board.power_cut()
    assert board.nor.read_bytes() == nor.image  # read-only

    board.boot(WRITE)
    board.check(f"scm-fwupdate install --progress=none {UPLOAD}/v2.bundle", timeout=900)
    after = probe()
    assert after["images"]["TZ"]["a"]["release"] == after["images"]["TZ"]["b"]["release"]
    assert after["images"]["TZ"]["b"]["strings"]["QC_IMAGE_VERSION_STRING"] == "TZ.2"
    board.power_cut()

    image = bytearray(board.nor.read_bytes())
    table = read_gpt_bytes(bytes(image))
    assert table is not None
    image[table.partitions["UEFI"].offset] ^= 0xFF  # set A loses its UEFI header
    board.nor.write_bytes(bytes(image))
    line = board.boot()
    assert line is not None and line.set == "B" and line.fallback
    fell = probe()
    assert fell["boot_report"]["set"] == "B" and fell["images"]["UEFI"]["a"]["valid"] is False
    assert fell["recoveryinfo"]["erased"] is False  # the chain's record is there, raw
