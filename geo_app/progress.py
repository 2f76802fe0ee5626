"""A progress line for long command-line jobs (exports, imports): counts, share done and rate.

Drawn on stderr, only when it is a terminal (a redirected log gets the summary line alone), and at
most every 0.2 s, so a fast job does not spend its time drawing.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """`bar(done, total)` redraws; `bar.finish()` ends the line. A no-op off a terminal."""

    WIDTH = 24
    INTERVAL_S = 0.2

    def __init__(self, label: str, stream: TextIO | None = None, force: bool = False):
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = force or self.stream.isatty()
        self.started = time.perf_counter()
        self._drawn_at = 0.0
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if not self.enabled or (now - self._drawn_at < self.INTERVAL_S and done < total):
            return
        self._drawn_at, self._drawn = now, True
        share = done / total if total else 1.0
        filled = int(self.WIDTH * share)
        rate = done / max(now - self.started, 1e-9)
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] "
                          f"{done:,}/{total:,} {share:4.0%}  {rate:,.0f}/s ")
        self.stream.flush()

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()


def human_bytes(size: int) -> str:
    """1234567 -> '1.2 MB'."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1000
    return f"{size} GB"
