"""Timing helpers for the benchmark runner: bounded sampling loops, percentiles, the result table.

Every loop here stops at a sample count *or* a time budget, whichever comes first, so a slow
backend makes the run less precise rather than endless. A row records how many samples it got.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable, Iterable

import numpy as np


@dataclass
class Row:
    """One figure of the table. `kind` says how to read it: "time" (seconds, lower is better) or
    "rate" (per second, higher is better) or "size" (MB) or "bytes" or "count"; the ratio is always
    ours/peer in *time* (value/peer for sizes and counts), so > 1 means we are slower (or bigger) than
    the peer whatever the unit."""

    backend: str
    metric: str
    value: float | None
    kind: str = "time"
    peer: float | None = None
    samples: int = 1
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or self.peer is None or not self.value or not self.peer:
            return None
        return self.peer / self.value if self.kind == "rate" else self.value / self.peer

    def as_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio}


def sample(fn: Callable, inputs: Iterable, max_count: int, max_seconds: float,
           warmup: bool = True) -> tuple[list[float], list]:
    """Call fn(x) for each input until max_count calls or max_seconds have passed.

    Returns (durations in seconds, results). One untimed warm-up call on the first input comes
    first so the figures describe a warm process (imports done, pages cached), as a server is.
    """
    inputs = list(inputs)[:max_count]
    if warmup and inputs:
        fn(inputs[0])
    durations, results = [], []
    deadline = time.perf_counter() + max_seconds
    for x in inputs:
        t0 = time.perf_counter()
        results.append(fn(x))
        t1 = time.perf_counter()
        durations.append(t1 - t0)
        if t1 > deadline:
            break
    return durations, results


def repeat(fn: Callable[[], object], count: int, max_seconds: float) -> list[float]:
    """Time fn() up to `count` times within max_seconds (at least once, after a warm-up call)."""
    durations, _ = sample(lambda _: fn(), range(max(1, count)), max(1, count), max_seconds)
    return durations


def percentile(durations: list[float], q: float) -> float | None:
    """The q-th percentile of the durations (None when there are none)."""
    return float(np.percentile(durations, q)) if durations else None


def latency_rows(backend: str, metric: str, durations: list[float], peer: list[float] | None = None,
                 quantiles=(50, 99), note: str = "") -> list[Row]:
    """p50/p99 rows for a latency sample, each paired with the peer's same percentile."""
    return [Row(backend, f"{metric} p{q}", percentile(durations, q), "time",
                percentile(peer, q) if peer else None, len(durations), note)
            for q in quantiles]


def _fmt_value(value: float | None, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "size":
        return f"{value:,.1f} MB"
    if kind == "rate":
        return f"{value:,.0f} /s"
    if kind == "bytes":
        if value >= 1e6:
            return f"{value / 1e6:,.2f} MB"
        return f"{value / 1e3:,.1f} kB" if value >= 1e3 else f"{value:,.0f} B"
    if kind == "count":
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.1f} ms"
    return f"{value * 1e6:.0f} µs"


def format_table(rows: list[Row], first: str = "backend", peer: str = "peer (GDAL)") -> str:
    """A plain-text table: backend, metric, ours, peer, ours/peer (time), samples, note."""
    header = [first, "metric", "ours", peer, "ours/peer", "n", "note"]
    cells = [header]
    for r in rows:
        ratio = r.ratio
        cells.append([r.backend, r.metric, _fmt_value(r.value, r.kind), _fmt_value(r.peer, r.kind)
                      if r.peer is not None else "", f"{ratio:.2f}×" if ratio is not None else "",
                      str(r.samples) if r.value is not None else "", r.note])
    widths = [max(len(row[i]) for row in cells) for i in range(len(header) - 1)]
    lines = []
    for n, row in enumerate(cells):
        left = [row[i].ljust(widths[i]) if i < 2 else row[i].rjust(widths[i]) for i in range(len(widths))]
        lines.append("  ".join(left + [row[-1]]).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths) + "  ----")
    return "\n".join(lines)
