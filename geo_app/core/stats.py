"""Progress figures like those of the housing bureau's letter, computed by the store from estates.

One table per grouping (batch, street office): estates, households, buildings, floor and land
area, investment by funding source, progress weighted by floor area, and counts by status. The
engine does the summing (SQL GROUP BY on either backend); this module only shapes the result.
"""

from __future__ import annotations

from ..domain import FUNDING_SOURCES, RENOVATION_STATUS
from ..errors import InvalidParameter
from ..storage import FeatureQuery, Measure, Store

GROUPINGS = {
    # The 2019 batch had two programmes (三供一业 of the mining group and of the railway housing
    # section) that the letter reports separately, so a batch row is keyed by both.
    "batch": ("batch", "programme"),
    "street_office": ("street_office",),
    "zone": ("zone",),
    "status": ("status",),
}

SUM_FIELDS = ("households", "buildings", "floor_area_m2", "land_area_m2", *FUNDING_SOURCES.codes())
MEASURES = [
    Measure("estates", "count"),
    *(Measure(name, "sum", name) for name in SUM_FIELDS),
    Measure("progress_pct", "weighted_mean", "progress_pct", "floor_area_m2"),
    # The weight behind each group's progress, so the total's progress is derived, not re-queried.
    Measure("progress_weight", "weight_of", "progress_pct", "floor_area_m2"),
]


def estate_stats(store: Store, group_by: str, query: FeatureQuery | None = None,
                 locale: str = "zh") -> dict:
    """The stats table for one grouping ("batch", "street_office" or "status"), with a total row."""
    if group_by not in GROUPINGS:
        raise InvalidParameter(f"group_by must be one of {', '.join(GROUPINGS)}, got {group_by!r}",
                               parameter="group_by")
    keys = GROUPINGS[group_by]
    query = query or FeatureQuery()
    # Two grouped queries; the total row is summed from the groups rather than read again.
    rows = store.aggregate("estates", keys, MEASURES, query)
    by_status = store.aggregate("estates", (*keys, "status"), [Measure("estates", "count")], query)
    status_counts: dict[tuple, dict] = {}
    total_counts: dict[str, int] = {}
    for r in by_status:
        status_counts.setdefault(tuple(r[k] for k in keys), {})[r["status"]] = r["estates"]
        total_counts[r["status"]] = total_counts.get(r["status"], 0) + r["estates"]
    total = _sum_rows(rows)
    if group_by == "street_office":
        rows = _with_every_office(store, rows)
    table = [_shape_row(r, keys, status_counts.get(tuple(r[k] for k in keys), {}), locale) for r in rows]
    if group_by == "zone":
        _name_zones(store, table)
    return {
        "group_by": group_by,
        "revision": store.revision(),
        "columns": column_labels(locale),
        "rows": table,
        "total": _shape_row(total, (), total_counts, locale, label="合计" if locale == "zh" else "Total"),
    }


def _name_zones(store: Store, table: list[dict]) -> None:
    """Zone rows are keyed by code; people read the zone's name."""
    names = {f.properties["code"]: f.properties["name"] for f in store.features("zones", FeatureQuery(with_geometry=False))}
    for row in table:
        row["label"] = names.get(row["key"]["zone"], row["label"])


def _sum_rows(rows: list[dict]) -> dict:
    """The totals of grouped rows; progress re-weighted by each group's floor-area weight."""
    total = {name: sum(r.get(name) or 0 for r in rows) for name in ("estates", *SUM_FIELDS, "progress_weight")}
    weighted = sum((r["progress_pct"] or 0) * (r["progress_weight"] or 0) for r in rows)
    total["progress_pct"] = weighted / total["progress_weight"] if total["progress_weight"] else None
    return total


def _with_every_office(store: Store, rows: list[dict]) -> list[dict]:
    """Every street office gets a row, in the layer's stored order, even with no estates yet."""
    found = {r["street_office"]: r for r in rows}
    offices = [f.properties["name"] for f in store.features(
        "street_offices", FeatureQuery(with_geometry=False))]
    empty = {m.name: None for m in MEASURES} | {"estates": 0}
    ordered = [found.pop(name, {**empty, "street_office": name}) for name in offices]
    return ordered + list(found.values())  # estates naming an office that is not in the layer


def _shape_row(row: dict, keys: tuple, counts: dict, locale: str, label: str | None = None) -> dict:
    investment = {code: round(row.get(code) or 0.0, 1) for code in FUNDING_SOURCES.codes()}
    progress = row.get("progress_pct")
    return {
        "key": {k: row[k] for k in keys},
        "label": label if label is not None else _label(row, keys, locale),
        "estates": row.get("estates") or 0,
        "households": row.get("households") or 0,
        "buildings": row.get("buildings") or 0,
        "floor_area_m2": round(row.get("floor_area_m2") or 0.0, 1),
        "land_area_m2": round(row.get("land_area_m2") or 0.0, 1),
        "investment_wan": round(sum(investment.values()), 1),
        "investment_by_source": investment,
        "progress_pct": None if progress is None else round(progress, 1),
        "status_counts": {code: counts.get(code, 0) for code in RENOVATION_STATUS.codes()},
    }


def _label(row: dict, keys: tuple, locale: str) -> str:
    if keys == ("batch", "programme"):
        if row["batch"] is None:
            return RENOVATION_STATUS.label("unscheduled", locale)
        return f"{row['batch']} {row['programme']}" if row["programme"] else str(row["batch"])
    if keys == ("status",):
        return RENOVATION_STATUS.label(row["status"], locale)
    if row[keys[0]] is None:
        return "（无）" if locale == "zh" else "(none)"
    return str(row[keys[0]])


def column_labels(locale: str = "zh") -> dict[str, str]:
    """Column headings of the stats table in the given locale."""
    zh = {"label": "分组", "estates": "小区数", "households": "户数", "buildings": "楼栋数",
          "floor_area_m2": "建筑面积（m²）", "land_area_m2": "占地面积（m²）",
          "investment_wan": "投资（万元）", "progress_pct": "进度（%，按建筑面积加权）"}
    en = {"label": "Group", "estates": "Estates", "households": "Households", "buildings": "Buildings",
          "floor_area_m2": "Floor area (m²)", "land_area_m2": "Land area (m²)",
          "investment_wan": "Investment (10k yuan)", "progress_pct": "Progress (%, floor-area weighted)"}
    return en if locale == "en" else zh


def format_table(stats: dict) -> str:
    """The stats as a plain-text table for the terminal (CJK characters count double width)."""
    columns = list(stats["columns"])
    rows = [*stats["rows"], stats["total"]]
    cells = [[stats["columns"][c] for c in columns]]
    for r in rows:
        cells.append([_cell(r[c]) for c in columns])
    widths = [max(_width(row[i]) for row in cells) for i in range(len(columns))]
    lines = []
    for n, row in enumerate(cells):
        padded = [_pad(text, widths[i], left=(i == 0)) for i, text in enumerate(row)]
        lines.append("  ".join(padded))
        if n == 0 or n == len(cells) - 2:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pad(text: str, width: int, left: bool) -> str:
    fill = " " * (width - _width(text))
    return text + fill if left else fill + text
