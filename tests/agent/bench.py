"""Agent engine benchmarks (``make bench``): figures, not pass/fail.

Device time comes from the simulated NOR's cost model (typical W25Q256JW
figures); every ratio is measured in this one run.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "agent" / "src"))

from scm_fwupdate import gpt as G
from scm_fwupdate import imagegen
from scm_fwupdate.flash import Geometry
from scm_fwupdate.journal import Journal
from scm_fwupdate.sim import CostModel, FaultPlan, PowerCut, SimJournal, SimNor
from scm_fwupdate.strategies import ImageSpec, plan_install
from scm_fwupdate.transaction import apply, resume

MiB = 1 << 20
SET = 16 * MiB  # the firmware set: one A/B slot of 16 MiB


def bench_board(workdir: Path) -> tuple[Path, Path, G.Gpt, bytes]:
    """A 40 MiB NOR with a 16 MiB A/B pair; returns (nor image, new firmware, gpt, old)."""
    rows = imagegen.layout(primary_backup=[], ab_pairs=[("fw", SET)], singles=[("VarStore", MiB)])
    board = imagegen.build(40 * MiB, 4096, 1, rows)
    image = bytearray(board.image)
    old = imagegen.firmware("fw", SET, 1, fill=1.0)
    for slot in "ab":
        p = board.gpt.find(f"fw_{slot}")
        image[p.offset : p.offset + len(old)] = old
    nor = workdir / "bench-nor.img"
    nor.write_bytes(image)
    new = imagegen.firmware("fw", SET, 2, fill=1.0)
    fw = workdir / "fw-v2.bin"
    fw.write_bytes(new)
    return nor, fw, board.gpt, old


def physical_limit(old: bytes, new: bytes, cost: CostModel, ws: int = 256) -> tuple[float, int]:
    """Erase and program only the changed blocks, read the rest once."""
    t, changed = 0.0, 0
    for off in range(0, SET, 4096):
        a, b = (
            old[off : off + 4096].ljust(4096, b"\xff"),
            new[off : off + 4096].ljust(4096, b"\xff"),
        )
        if a == b:
            t += 4096 / cost.read_bytes_per_s
            continue
        changed += 1
        t += cost.erase_block
        t += sum(b[p : p + ws] != b"\xff" * ws for p in range(0, 4096, ws)) * cost.program_page
    return t, changed


def flashcp_full(new: bytes, cost: CostModel, ws: int = 256) -> float:
    """flashcp without -p: erase the whole region, program everything, read it back."""
    blocks = SET // 4096
    pages = sum(new[p : p + ws].ljust(ws, b"\xff") != b"\xff" * ws for p in range(0, SET, ws))
    return blocks * cost.erase_block + pages * cost.program_page + SET / cost.read_bytes_per_s


def install(
    nor_path: Path, images: list[tuple[str, Path]], workdir: Path, fault: FaultPlan | None = None
) -> dict:
    geo = Geometry(nor_path.stat().st_size, 4096, 256)
    nor = SimNor(geo, nor_path, fault=fault)
    journal = SimJournal(workdir / "journal", fault=fault)
    table = G.read_gpt(nor.read, geo.size)
    specs = [
        ImageSpec(t, f, f.stat().st_size, sha256=hashlib.sha256(f.read_bytes()).hexdigest())
        for t, f in images
    ]
    out = {"cut": False}
    try:
        plan = plan_install(nor, journal, table, specs).commit()
        apply(nor, journal, plan)
    except PowerCut:
        out["cut"] = True
    out.update(
        device_time=nor.stats.device_time,
        erases=nor.stats.erases,
        programs=nor.stats.programs,
        bytes_programmed=nor.stats.bytes_programmed,
        syncs=journal.syncs,
        ops=fault.ops if fault else 0,
    )
    journal.close()
    nor.close()
    return out


def resume_run(nor_path: Path, workdir: Path) -> dict:
    geo = Geometry(nor_path.stat().st_size, 4096, 256)
    nor = SimNor(geo, nor_path)
    with Journal(workdir / "journal") as journal:
        resume(nor, journal)
    return {"erases": nor.stats.erases, "programs": nor.stats.programs}


def rss_child(nor_path: str, workdir: str, *images: str) -> None:
    """Runs in a subprocess so ru_maxrss is the install's own peak."""
    pairs = [(i.split("=", 1)[0], Path(i.split("=", 1)[1])) for i in images]
    install(Path(nor_path), pairs, Path(workdir))
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across execve from the parent.
    status = Path("/proc/self/status").read_text()
    peak_kib = int(next(x for x in status.splitlines() if x.startswith("VmHWM:")).split()[1])
    print(json.dumps({"peak_rss_mib": peak_kib / 1024}))


def main() -> None:
    if len(sys.argv) > 3 and sys.argv[1] == "--rss-child":
        rss_child(*sys.argv[2:])
        return
    cost = CostModel()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        nor, fw, _table, old = bench_board(work)
        pristine = nor.read_bytes()
        new = fw.read_bytes()
        limit, changed = physical_limit(old, new, cost)
        full = flashcp_full(new, cost)

        run = install(nor, [("fw", fw)], work, FaultPlan())
        total_ops = run["ops"]
        written_mib = run["bytes_programmed"] / MiB
        print(f"firmware set: {SET // MiB} MiB A/B slot, {changed} of {SET // 4096} blocks changed")
        print(f"device time, agent: {run['device_time']:.2f} s")
        print(f"device time, physical limit: {limit:.2f} s")
        print(f"device time ratio agent/physical limit: {run['device_time'] / limit:.3f}x")
        print(f"device time, flashcp without -p: {full:.2f} s")
        print(f"device time ratio agent/flashcp: {run['device_time'] / full:.3f}x")
        gpt_erases = run["erases"] - changed
        print(f"erases: {run['erases']} ({changed} changed blocks + {gpt_erases} GPT blocks)")
        fsyncs = run["syncs"] / written_mib
        print(f"journal fsyncs per MiB written: {fsyncs:.2f} ({run['syncs']} syncs)")

        # A cut at 90% of the operations, then resume: what was done twice?
        nor.write_bytes(pristine)
        cut = install(
            nor, [("fw", fw)], work, FaultPlan(cut_at=int(total_ops * 0.9), torn=True, seed=1)
        )
        again = resume_run(nor, work)
        redone = cut["erases"] + again["erases"] - run["erases"]
        print(f"flash work redone after a cut at 90%: {redone} erase block(s)")

        # Peak RSS with a 32 MiB device, in a child process.
        board = imagegen.build()
        nor32 = work / "nor32.img"
        nor32.write_bytes(board.image)
        dtb = work / "dtb-v2.bin"
        dtb.write_bytes(imagegen.firmware("dtb", board.gpt.find("dtb_a").size, 2))
        big = work / "uefi-v2.bin"
        big.write_bytes(imagegen.firmware("UEFI", board.gpt.find("UEFI").size, 2))
        (work / "journal").unlink(missing_ok=True)
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--rss-child",
                str(nor32),
                str(work),
                f"UEFI={big}",
                f"dtb={dtb}",
            ],
            capture_output=True,
            text=True,
            check=True,
            env={
                **os.environ,
                "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "agent" / "src"),
            },
        )
        rss = json.loads(child.stdout.strip().splitlines()[-1])["peak_rss_mib"]
        print(f"peak RSS, install on a 32 MiB device: {rss:.1f} MiB")


if __name__ == "__main__":
    main()
