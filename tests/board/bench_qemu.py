"""make bench-qemu: the agent's install time against flashcp -p and plain
flashcp for the same change set, on the emulated board.

tz-emulator charges the typical W25Q256JW device times (45 ms per 4 KiB
erase, 0.4 ms per 256-byte page) on the generic timer, so the wall times
include device time as on the board, plus the CPU time of each tool under
TCG emulation. Each tool starts from the same NOR image (reset on the host
between boots); flashcp writes the whole-NOR image the agent produced.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "agent" / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from updates import make_nor, make_release

from board import ROOT, Artifacts, Board

UP = "/var/lib/scm-fwupdate/upload"


def seconds(board: Board, cmd: str) -> float:
    out = board.check(f"time -p sh -c '{cmd}' 2>&1", timeout=3600)
    return float(re.search(r"real ([0-9.]+)", out).group(1))  # type: ignore[union-attr]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        nor = make_nor("q6a", compact=False)
        # A hotfix of one release: dtb and uefisecapp, both sets (the board's boot rule).
        targets = ("dtb", "uefisecapp")
        update = make_release(work, nor, 2, "REL-1", changed=targets, targets=targets)
        # The same change set as a whole-NOR image: what an uninterrupted
        # agent install produces (computed by a first run on the board).
        board = Board(ROOT / "tests/board/qemu-env.yaml", work, Artifacts.build())
        board.nor.write_bytes(nor.image)
        board.new_state_disk({"v2.bundle": update.bundle})
        board.boot("qcom_scm_storage.allow_write=1")
        board.check(f"scm-fwupdate install --progress=none {UP}/v2.bundle", timeout=3600)
        board.power_cut()
        target = work / "target.img"
        target.write_bytes(board.nor.read_bytes())

        timing = {"erase_us": "45000", "program_us": "400"}
        files = {"v2.bundle": update.bundle, "target.img": target}
        board.new_state_disk(files, size_mib=80)
        runs = {
            "agent": f"scm-fwupdate install --progress=none {UP}/v2.bundle",
            "flashcp -p": f"flashcp -p {UP}/target.img /dev/mtd0",
            "flashcp": f"flashcp {UP}/target.img /dev/mtd0",
        }
        wall = {}
        for name, cmd in runs.items():
            board.nor.write_bytes(nor.image)
            board.boot("qcom_scm_storage.allow_write=1", fw=timing)
            wall[name] = seconds(board, cmd)
            board.power_cut()
            assert board.nor.read_bytes() == target.read_bytes(), f"{name} missed the target"
        agent, partial, full = wall["agent"], wall["flashcp -p"], wall["flashcp"]

    changed = sum(len(d) for d in update.images.values()) / 1024
    print(f"change set: {', '.join(update.images)} in both boot sets ({changed:.0f} KiB of images)")
    print(f"agent install: {agent:.1f} s")
    print(f"flashcp -p (whole-NOR image): {partial:.1f} s")
    print(f"flashcp (whole-NOR image): {full:.1f} s")
    print(f"ratio agent/flashcp -p: {agent / partial:.2f}x")
    print(f"ratio agent/flashcp: {agent / full:.2f}x")


if __name__ == "__main__":
    main()
