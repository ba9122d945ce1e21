"""Install-level benchmarks; prints ``name: value unit`` lines.

    python3 tests/agent/bench_install.py [--size-mib 32]

* bundle verification throughput: signature + streaming SHA-256 of every image
  of a 32 MiB bundle (``verify_bundle``);
* install of that bundle with ``python3 -m scm_fwupdate install`` in a child
  process on a file-backed NOR image (A/B layout with a 33 MiB pair): wall
  time and peak RSS (``getrusage(RUSAGE_CHILDREN).ru_maxrss``), to show that
  memory does not grow with the bundle size.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "agent" / "src"
sys.path.insert(0, str(SRC))
sys.path.insert(0, str(HERE))

from bundle_fixtures import COMPATIBLE, make_keys  # noqa: E402

from scm_fwupdate import imagegen  # noqa: E402
from scm_fwupdate.bundle import verify_bundle  # noqa: E402
from scm_fwupdate.packing import create_bundle  # noqa: E402

MiB = 1 << 20


# A lean parent for the measured process: a forked child's peak RSS starts with
# the pages of its parent, so this benchmark's own buffers must not be counted.
_WRAPPER = (
    "import resource, subprocess, sys\n"
    "p = subprocess.run(sys.argv[1:], capture_output=True)\n"
    "sys.stderr.write(p.stderr.decode())\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"  # KiB on Linux
    "sys.exit(p.returncode)\n"
)


def peak_rss_kib(argv: list[str], env: dict[str, str]) -> tuple[int, float, int]:
    """(peak RSS in KiB, wall seconds, exit code) of argv run in a fresh process."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *argv], env=env, capture_output=True, text=True
    )
    dt = time.perf_counter() - t0
    if proc.returncode:
        print(proc.stderr, file=sys.stderr)
    return int(proc.stdout.strip().splitlines()[-1]), dt, proc.returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mib", type=int, default=32, help="image size in the bundle")
    args = ap.parse_args(argv)
    size = args.size_mib * MiB
    with tempfile.TemporaryDirectory(prefix="scm-fwupdate-bench-") as tmp:
        root = Path(tmp)
        ks = make_keys(root / "keys")
        image = root / "bulk.bin"
        image.write_bytes(random.Random(1).randbytes(size))
        bundle = root / "big.bundle"
        create_bundle(
            bundle, {"compatible": COMPATIBLE, "version": "2"}, [("bulk", image)], ks.private
        )

        t0 = time.perf_counter()
        verify_bundle(bundle, ks.public)
        dt = time.perf_counter() - t0
        print(f"bundle_verify_{args.size_mib}mib: {dt:.3f} s")
        print(f"bundle_verify_throughput: {size / MiB / dt:.1f} MB/s")

        # A NOR with a large A/B pair: slot a holds version 1, slot b receives the bundle.
        slot = size + MiB
        disk = 2 * slot + 4 * MiB
        rows = imagegen.layout(
            primary_backup=[("XBL_CONFIG", 256 * 1024)], ab_pairs=[("bulk", slot)], singles=[]
        )
        nor = root / "nor.img"
        nor.write_bytes(imagegen.build(disk_size=disk, rows=rows).image)
        cmdline = root / "cmdline"
        cmdline.write_text("quiet\n")
        config = root / "config.yaml"
        config.write_text(
            f"device: {nor}\nkeyring: {ks.public}\nstate_dir: {root / 'state'}\n"
            f"lock: {root / 'lock'}\n"
        )
        env = dict(os.environ, PYTHONPATH=str(SRC), SCM_FWUPDATE_CMDLINE=str(cmdline))
        base = [sys.executable, "-m", "scm_fwupdate", "--config", str(config)]
        baseline, _dt, _rc = peak_rss_kib([*base, "--version"], env)
        peak, dt, rc = peak_rss_kib([*base, "--progress", "none", "install", str(bundle)], env)
        if rc != 0:
            return 1
        print(f"install_{args.size_mib}mib_wall: {dt:.2f} s")
        print(f"install_{args.size_mib}mib_throughput: {size / MiB / dt:.2f} MB/s")
        print(f"install_{args.size_mib}mib_peak_rss: {peak / 1024:.1f} MiB")
        print(f"python_startup_peak_rss: {baseline / 1024:.1f} MiB")
        print(f"install_rss_over_startup: {(peak - baseline) / 1024:.1f} MiB")
        data = nor.read_bytes()
        from scm_fwupdate.gpt import read_gpt_image

        p = read_gpt_image(data).find("bulk_b")
        ok = data[p.offset : p.offset + size] == image.read_bytes()
        print(f"install_{args.size_mib}mib_result_ok: {int(ok)} bool")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
