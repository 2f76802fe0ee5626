"""Progress on the command line for long jobs (exports, imports): counts, share done and rate.

Drawn on stderr and redrawn in place at most every 0.2 s, so a fast job does not spend its time
drawing. `ProgressBar` (exports) draws only on a terminal; `PhaseProgress` (imports: read, check,
write) also leaves each phase's final line in a log, where a CI job or a cron mail shows it.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

INTERVAL_S = 0.2
PHASES = {"read": "reading", "check": "checking", "write": "writing"}


def bar_line(label: str, done: int, total: int | None, elapsed: float, width: int = 24) -> str:
    """`label [#####.....] 5,000/20,000  25%  4,000/s 1.2 s`; without a total, the time alone."""
    if not total:
        return f"{label} … {elapsed:.1f} s"
    share = min(done / total, 1.0)
    filled = int(width * share)
    rate = done / max(elapsed, 1e-9)
    return (f"{label} [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} {share:4.0%}  "
            f"{rate:,.0f}/s {elapsed:.1f} s")


class ProgressBar:
    """`bar(done, total)` redraws; `bar.finish()` ends the line. A no-op off a terminal."""

    def __init__(self, label: str, stream: TextIO | None = None, force: bool = False):
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = force or self.stream.isatty()
        self.started = time.perf_counter()
        self._drawn_at = 0.0
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if not self.enabled or (now - self._drawn_at < INTERVAL_S and done < total):
            return
        self._drawn_at, self._drawn = now, True
        self.stream.write("\r" + bar_line(self.label, done, total, now - self.started) + " ")
        self.stream.flush()

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()


class PhaseProgress:
    """The import's progress, phase by phase: `phase(name, total)`, `advance(done)`, `close()`."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.name, self.total, self.done = "", None, 0
        self.started = self.last = time.perf_counter()
        # Redraw in place on a terminal; in a log (CI, a pipe) only each phase's final line.
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())

    def phase(self, name: str, total: int | None) -> None:
        if name == self.name and not self.done:  # the same phase, now that its size is known
            self.total = total
            return
        self._finish_line()
        self.name, self.total, self.done = name, total, 0
        self.started = self.last = time.perf_counter()
        if self.live:
            self._draw()

    def advance(self, done: int) -> None:
        self.done = done
        now = time.perf_counter()
        if self.live and now - self.last >= INTERVAL_S:
            self._draw()

    def close(self) -> None:
        self._finish_line()

    def _draw(self) -> None:
        self.last = time.perf_counter()
        line = bar_line(f"{PHASES.get(self.name, self.name):9}", self.done, self.total, self.last - self.started)
        self.stream.write(("\r" + line.ljust(78)) if self.live else line + "\n")
        self.stream.flush()

    def _finish_line(self) -> None:
        if self.name:
            self._draw()
            if self.live:
                self.stream.write("\n")
            self.stream.flush()
            self.name = ""


def human_bytes(size: int) -> str:
    """1234567 -> '1.2 MB'."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1000
    return f"{size} GB"
