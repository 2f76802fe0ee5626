"""What an import found and did: every problem with its row/feature and field, and the counts.

The report is plain data (JSON-able) so the CLI prints it, `--report` saves it and the web page
renders it from the same object.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ...errors import GeoAppError


class ImportRefused(GeoAppError):
    """The file as a whole cannot be imported (unreadable, unsafe, no or implausible CRS).

    The message names the file and, where there is one, the first offending feature.
    """

    status = 400
    code = "import_refused"


@dataclass(frozen=True)
class ImportProblem:
    """One problem: `row` is the feature number (1-based, file order) or the spreadsheet row."""

    row: int
    field: str
    message: str
    severity: str = "error"  # "error" refuses the import; "warning" is reported only


@dataclass
class ImportReport:
    """The outcome of one import (or dry run)."""

    file: str
    layer: str
    mode: str
    dry_run: bool
    crs: str = ""
    row_kind: str = "feature"  # what `row` counts: "feature" (GIS files) or "row" (CSV/Excel)
    read: int = 0
    inserted: int = 0
    updated: int = 0
    repaired: int = 0
    refused: int = 0
    seconds: float = 0.0
    # Seconds per phase: read (file -> columns), place (CRS), check (every value and shape), write.
    phases: dict = field(default_factory=dict)
    revision: int | None = None
    planned: tuple = (0, 0)  # (new, updated) features the checks found; what a dry run would write
    columns: dict = field(default_factory=dict)  # source column -> layer field ("" = ignored)
    notes: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    preview: list = field(default_factory=list)  # first rows, when asked for (web preview)

    @property
    def errors(self) -> list[ImportProblem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        """True when nothing refuses the import."""
        return not self.errors

    @property
    def written(self) -> int:
        return self.inserted + self.updated

    def to_dict(self) -> dict:
        """The report as JSON-able data (`--report out.json`, the web page)."""
        data = asdict(self)
        data.update(ok=self.ok, written=self.written, errors=len(self.errors),
                    warnings=len(self.problems) - len(self.errors))
        return data

    def summary(self) -> str:
        """One line: read, written, repaired, refused; time."""
        new, updated = self.planned
        state = (f"dry run, nothing written; would write {new + updated:,} ({new:,} new, {updated:,} updated)"
                 if self.dry_run and self.ok else
                 f"refused: {self.refused:,} {self.row_kind}(s) with errors, nothing written" if not self.ok else
                 f"written ({self.inserted:,} new, {self.updated:,} updated)")
        crs = f"; coordinates {self.crs}" if self.crs else ""
        return (f"{self.file} → {self.layer}: read {self.read:,}, written {self.written:,}, "
                f"repaired {self.repaired:,}, refused {self.refused:,} in {self.seconds:.1f} s{self._phase_text()} "
                f"— {state}{crs}")

    def _phase_text(self) -> str:
        if not self.phases:
            return ""
        return " (" + ", ".join(f"{name} {seconds:.1f}" for name, seconds in self.phases.items()) + ")"

    def problem_lines(self, limit: int | None = 50) -> list[str]:
        """Problems as text lines, errors first, at most `limit` (None: all)."""
        ordered = sorted(self.problems, key=lambda p: (p.severity != "error", p.row))
        shown = ordered if limit is None else ordered[:limit]
        lines = [f"{p.severity}: {self.row_kind} {p.row}" + (f", field '{p.field}'" if p.field else "")
                 + f": {p.message}" for p in shown]
        if len(ordered) > len(shown):
            lines.append(f"… and {len(ordered) - len(shown)} more (see --report)")
        return lines
