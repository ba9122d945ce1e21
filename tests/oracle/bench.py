"""Time ``decide`` on imagegen's 32 MiB NORs.

PYTHONPATH=agent/src:tests python3 tests/oracle/bench.py
"""

from __future__ import annotations

import statistics
import time

from oracle import RULES, ImageCache, decide, read_gpt_bytes
from scm_fwupdate import imagegen


def _ms(nor: bytearray, rule: str, runs: int, cache: ImageCache | None = None) -> str:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        decide(nor, rule, cache=cache)
        times.append((time.perf_counter() - start) * 1000)
    return f"min {min(times):6.2f} ms  median {statistics.median(times):6.2f} ms"


def _bench(label: str, nor: bytearray, runs: int) -> None:
    for rule in RULES:
        print(f"{label:8} {rule:16} {_ms(nor, rule, runs)}")
    gpt = read_gpt_bytes(nor)
    assert gpt is not None
    tz = gpt.partitions["TZ"]
    broken = bytearray(nor)
    broken[tz.offset : tz.offset + 4096] = b"\xff" * 4096
    print(f"{label:8} {'sets, TZ broken':16} {_ms(broken, 'sets', runs)}")
    cache = ImageCache()
    decide(nor, "sets", cache=cache)
    print(f"{label:8} {'sets, cached':16} {_ms(nor, 'sets', runs, cache)}")


def main() -> None:
    _bench("compact", bytearray(imagegen.build(rows=imagegen.compact_layout()).image), 30)
    _bench("default", bytearray(imagegen.build().image), 5)


if __name__ == "__main__":
    main()
