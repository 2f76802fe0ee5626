"""The monthly dispatch report (月调度) of one street office: the figures, from the store alone.

For a month M (Beijing time) and an office: its estates by status at the end of M; each estate's
progress at the end of M-1 and at the end of M (or now, for the current month), reconstructed from
the audit history (the store keeps only the present; every change since carries its old value);
inspections done in M; and the problems still open — estates whose latest inspection up to the end
of M found issues, failed, or marked a checklist item as a problem. Without an `inspections` layer
the inspection figures are None and the report says none were recorded.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

from ..domain import RENOVATION_STATUS
from ..errors import NotFound
from ..storage import FeatureQuery, Store
from .audit import audit_filter, value_as_of
from .clock import month_bounds, parse_utc, previous_month, utc_iso

INSPECTIONS = "inspections"
PROBLEM_VERDICTS = ("issues", "fail")


@dataclass
class EstateLine:
    id: int
    code: str
    name: str
    status: str
    progress_before: float | None
    progress_now: float | None

    @property
    def progress_change(self) -> float | None:
        if self.progress_before is None or self.progress_now is None:
            return None
        return round(self.progress_now - self.progress_before, 1)


@dataclass
class MonthlyReport:
    office_code: str
    office_name: str
    month: str  # "2021-07"
    previous_month: str
    period_start: str  # UTC, inclusive
    period_end: str  # UTC, exclusive (or now, for the current month)
    estates: list[EstateLine]
    by_status: list[dict]  # {"code", "label", "count"} for every status, in vocabulary order
    inspections_recorded: bool
    inspections_this_month: int | None
    estates_inspected: int | None
    problems: list[dict] = field(default_factory=list)  # open problems, one per estate

    @property
    def total(self) -> int:
        return len(self.estates)

    @property
    def progress_changed(self) -> list[EstateLine]:
        return [e for e in self.estates if e.progress_change not in (None, 0)]


def find_office(store: Store, office: str):
    """A street office by code or by name; NotFound listing the codes otherwise."""
    for key in ("code", "name"):
        found = store.features("street_offices", FeatureQuery.where(with_geometry=False, **{key: office}))
        if found:
            return found[0]
    codes = [f.properties["code"] for f in store.features("street_offices", FeatureQuery(with_geometry=False))]
    raise NotFound(f"no street office {office!r}; offices: {', '.join(codes)}")


def monthly_report(store: Store, office: str, year: int, month: int, locale: str = "zh",
                   now: str | None = None) -> MonthlyReport:
    """The figures of one office's report for a month (see the module docstring)."""
    office_feature = find_office(store, office)
    start, end = month_bounds(year, month)
    end = min(end, now or utc_iso())  # the current month runs until now
    estates = store.features("estates", FeatureQuery.where(street_office=office_feature.properties["name"],
                                                           order_by="code", with_geometry=False))
    history = _history_since(store, start)
    lines = []
    for estate in estates:
        entries = history.get(estate.id, [])
        p = estate.properties
        lines.append(EstateLine(
            estate.id, p["code"], p["name"], value_as_of(entries, "status", p["status"], end),
            value_as_of(entries, "progress_pct", p.get("progress_pct"), start),
            value_as_of(entries, "progress_pct", p.get("progress_pct"), end)))
    counts = defaultdict(int)
    for line in lines:
        counts[line.status] += 1
    by_status = [{"code": t.code, "label": t.label(locale), "count": counts.get(t.code, 0)} for t in RENOVATION_STATUS]
    py, pm = previous_month(year, month)
    report = MonthlyReport(office_feature.properties["code"], office_feature.properties["name"],
                           f"{year:04d}-{month:02d}", f"{py:04d}-{pm:02d}", start, end, lines, by_status,
                           INSPECTIONS in store.layers, None, None)
    if report.inspections_recorded:
        _add_inspections(store, report, {e.id: e for e in lines})
    return report


def _history_since(store: Store, start: str) -> dict[int, list]:
    """Audit records of estates made since `start`, per estate, newest first."""
    by_estate = defaultdict(list)
    for entry in store.audit.entries(audit_filter(layer="estates", since=start)):
        by_estate[entry.feature_id].append(entry)
    return by_estate


def _add_inspections(store: Store, report: MonthlyReport, estates: dict[int, EstateLine]) -> None:
    inspections = store.features(INSPECTIONS, FeatureQuery.where(estate_id=list(estates) or None,
                                                                 with_geometry=False)) if estates else []
    start, end = parse_utc(report.period_start), parse_utc(report.period_end)
    latest, in_month, inspected = {}, 0, set()
    for inspection in inspections:
        p = inspection.properties
        if p.get("estate_id") not in estates or not p.get("inspected_at"):
            continue
        at = parse_utc(p["inspected_at"])
        if at >= end:
            continue
        if at >= start:
            in_month += 1
            inspected.add(p["estate_id"])
        if p["estate_id"] not in latest or at > latest[p["estate_id"]][0]:
            latest[p["estate_id"]] = (at, p)
    report.inspections_this_month, report.estates_inspected = in_month, len(inspected)
    for estate_id, (at, p) in sorted(latest.items(), key=lambda item: estates[item[0]].code):
        items = problem_items(p.get("checklist"))
        if p.get("verdict") in PROBLEM_VERDICTS or items or (p.get("problems") or 0) > 0:
            estate = estates[estate_id]
            report.problems.append({"estate_id": estate_id, "code": estate.code, "name": estate.name,
                                    "inspected_at": utc_iso(at), "inspector": p.get("inspector"),
                                    "verdict": p.get("verdict"), "problem_items": items,
                                    "problems": p.get("problems") or len(items), "notes": p.get("notes") or ""})


def problem_items(checklist) -> list[str]:
    """The checklist items marked "problem" (the checklist is JSON text item -> state, or a dict)."""
    if not checklist:
        return []
    if isinstance(checklist, str):
        try:
            checklist = json.loads(checklist)
        except ValueError:
            return []
    if not isinstance(checklist, dict):
        return []
    return sorted(item for item, state in checklist.items() if state == "problem")
