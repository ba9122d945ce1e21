"""Progress reporting: a bar on a terminal, JSON lines for programs, or nothing.

Never claims 100 % early: percentages are capped at 99 until ``finish()``,
which the installer calls only once the DONE record is durable (and the slot
activated).
"""

from __future__ import annotations

import json
import sys
import time
from typing import TextIO

MODES = ("auto", "bar", "json", "none")


class Progress:
    def __init__(self, mode: str = "auto", stream: TextIO | None = None) -> None:
        self.stream = stream
        if mode == "auto":
            err = sys.stderr
            mode = "bar" if err is not None and err.isatty() else "none"
        self.mode = mode
        self._last: tuple[str, int] | None = None
        self._last_time = 0.0
        self._bar_open = False

    def _out(self) -> TextIO:
        if self.stream is not None:
            return self.stream
        return sys.stderr if self.mode == "bar" else sys.stdout

    @staticmethod
    def percent(done: int, total: int) -> int:
        if total <= 0:
            return 0
        return min(99, done * 100 // total)

    def update(self, phase: str, done: int, total: int) -> None:
        if self.mode == "none":
            return
        pct = self.percent(done, total)
        now = time.monotonic()
        # Throttle: a line per percent change (and per phase), bars at most 10/s.
        if self._last == (phase, pct) or (
            self.mode == "bar"
            and self._last
            and self._last[0] == phase
            and now - self._last_time < 0.1
        ):
            return
        self._last, self._last_time = (phase, pct), now
        self._emit(phase, done, total, pct)

    def _emit(self, phase: str, done: int, total: int, pct: int) -> None:
        out = self._out()
        if self.mode == "json":
            record = {"phase": phase, "done": done, "total": total, "percent": pct}
            out.write(json.dumps(record) + "\n")
        else:
            width = 30
            fill = width * pct // 100
            out.write(f"\r{phase[:40]:<40} [{'#' * fill}{'.' * (width - fill)}] {pct:3d}%")
            self._bar_open = True
        out.flush()

    def finish(self, phase: str = "done") -> None:
        if self.mode == "none":
            return
        out = self._out()
        if self.mode == "json":
            out.write(json.dumps({"phase": phase, "done": 1, "total": 1, "percent": 100}) + "\n")
        else:
            out.write(f"\r{phase[:40]:<40} [{'#' * 30}] 100%\n")
            self._bar_open = False
        out.flush()

    def close(self) -> None:
        """End an open bar line (after an error) so messages start on their own line."""
        if self.mode == "bar" and self._bar_open:
            self._out().write("\n")
            self._bar_open = False
