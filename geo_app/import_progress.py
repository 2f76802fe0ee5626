"""The import command's progress bar and summary on stderr (counts and rate), for `geo-app import`."""

from __future__ import annotations

import sys
import time

PHASES = {"read": "reading", "check": "checking", "write": "writing"}


class ConsoleProgress:
    """A one-line bar redrawn at most every 0.2 s: phase, done/total, rate, elapsed."""

    def __init__(self, stream=None, interval: float = 0.2):
        self.stream = stream or sys.stderr
        self.interval = interval
        self.name, self.total, self.done = "", None, 0
        self.started = self.last = time.perf_counter()
        # Redraw in place on a terminal; in a log (CI, a pipe) only each phase's final line.
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())

    def phase(self, name: str, total: int | None) -> None:
        self._finish_line()
        self.name, self.total, self.done = name, total, 0
        self.started = self.last = time.perf_counter()
        if self.live:
            self._draw(force=True)

    def advance(self, done: int) -> None:
        self.done = done
        self._draw(force=self.total is not None and done >= self.total)

    def close(self) -> None:
        self._finish_line()

    def _draw(self, force: bool = False) -> None:
        now = time.perf_counter()
        if (self.name, self.done) == getattr(self, "_shown", None) and not self.live:
            return  # this state's line is already in the log
        if not force and (not self.live or now - self.last < self.interval):
            return
        self.last = now
        self._shown = (self.name, self.done)
        elapsed = now - self.started
        label = PHASES.get(self.name, self.name)
        if self.total:
            width = 30
            filled = int(width * min(self.done / self.total, 1))
            rate = self.done / elapsed if elapsed > 0 else 0
            line = (f"{label:9} [{'#' * filled}{'.' * (width - filled)}] {self.done:,}/{self.total:,} "
                    f"{rate:,.0f}/s {elapsed:.1f} s")
        else:
            line = f"{label:9} … {elapsed:.1f} s"
        self.stream.write(("\r" + line.ljust(78)) if self.live else line + "\n")
        self.stream.flush()

    def _finish_line(self) -> None:
        if self.name:
            self._draw(force=True)
            if self.live:
                self.stream.write("\n")
            self.stream.flush()
            self.name = ""
