"""The dashboard: the letter's figures per batch and street office, as a page, charts and Excel.

Both routes take the filters of /api/stats (street_office, status, batch, bbox), so a filtered
dashboard downloads exactly the tables it shows.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext, ngettext, pgettext

from ..core.stats import estate_stats
from ..domain import FUNDING_SOURCES, RENOVATION_STATUS
from ..storage import FeatureQuery, Measure
from . import get_config, get_store
from .downloads import content_disposition
from .i18n import current_locale
from .export import FILTER_PARAMETERS as EXPORT_FILTERS
from .params import parse_estate_filters

bp = Blueprint("dashboard", __name__)

TABLES = ("batch", "street_office")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Funding sources have no colour in the domain (the map never shows them); these five stay apart
# in print and for common colour-vision deficiencies.
FUNDING_COLOURS = ("#1565c0", "#2e7d32", "#f9a825", "#6a1b9a", "#d84315")
# The filters' names, in the order of the form; the same words head the tables' first column.
FILTER_LABELS = {
    "street_office": lazy_gettext("Street office"),
    "status": lazy_gettext("Status"),
    "batch": lazy_gettext("Batch"),
}
FILTERS = tuple(FILTER_LABELS)


@bp.get("/dashboard")
def dashboard():
    """The dashboard page: summary cards, three charts, the batch and street-office tables."""
    query = parse_estate_filters(request.args)
    locale = current_locale()
    batch, offices = dashboard_tables(query, locale)
    return render_template(
        "dashboard.html",
        batch=batch, offices=offices, locale=locale,
        cards=summary_cards(batch["total"], locale),
        charts=chart_data(batch, offices, locale),
        statuses=list(RENOVATION_STATUS),
        filters=filter_options(query),
        filter_labels=FILTER_LABELS,
        filter_summary=describe_filters(query, locale),
        as_of=get_config().as_of,
        xlsx_url=url_for("dashboard.dashboard_xlsx", **request.args.to_dict(flat=False)),
        # The filtered estates themselves, for QGIS: the export takes the same filters.
        export_url=url_for("export.export_layer", layer="estates", format="gpkg",
                           **{k: v for k, v in request.args.to_dict(flat=False).items() if k in EXPORT_FILTERS}),
    )


@bp.get("/dashboard.xlsx")
def dashboard_xlsx():
    """The dashboard's tables as an Excel workbook, one sheet per table."""
    query = parse_estate_filters(request.args)
    locale = current_locale()
    as_of = get_config().as_of
    title = _("Xuecheng old-estate renovation statistics")
    summary = describe_filters(query, locale)
    if summary:
        # Translators: the workbook's title with the active filters.
        title = _("%(title)s (%(filters)s)", title=title, filters=summary)
    from ..core.report_excel import stats_workbook  # openpyxl (~12 MB) when a workbook is asked for

    body = stats_workbook(list(dashboard_tables(query, locale)), locale, title, as_of)
    response = Response(body, mimetype=XLSX_MIMETYPE)
    response.headers["Content-Disposition"] = content_disposition(xlsx_filename(as_of, locale),
                                                                  xlsx_filename(as_of, "en"))
    return response


def dashboard_tables(query: FeatureQuery, locale: str) -> tuple[dict, dict]:
    """The batch and street-office tables for the query, as `estate_stats` gives them.

    The stats keep a row for every street office (a planner wants to see the empty ones); when the
    query names offices, the others are left out, since they are empty by definition.
    """
    store = get_store()
    batch, offices = (estate_stats(store, group_by, query, locale) for group_by in TABLES)
    chosen = query.equals.get("street_office")
    if chosen:
        offices = {**offices, "rows": [r for r in offices["rows"] if r["key"]["street_office"] in chosen]}
    return batch, offices


def summary_cards(total: dict, locale: str) -> list[dict]:
    """The headline figures; large amounts in the units the letter uses (万平方米, 亿元)."""
    floor, money = total["floor_area_m2"], total["investment_wan"]
    progress = total["progress_pct"]
    done = total["status_counts"]["completed"] + total["status_counts"]["accepted"]
    buildings = total["buildings"]
    # Large figures are scaled per language, and their units with them: millions in English,
    # 万 (10^4) and 亿 (10^8) in Chinese. 万元 -> million yuan is /100; 万元 -> 亿元 is /10,000.
    if locale == "en":
        floor_value, money_value = f"{floor / 1e6:,.2f}", f"{money / 100:,.1f}"
    else:
        floor_value, money_value = f"{floor / 1e4:,.1f}", f"{money / 1e4:,.2f}"
    return [
        {"key": "estates", "label": _("Estates"), "value": f"{total['estates']:,}",
         # Translators: the unit after the number of estates on the summary card (Chinese: 个).
         "unit": _("estates"), "exact": _("%(count)s completed or accepted", count=f"{done:,}")},
        {"key": "households", "label": _("Households"), "value": f"{total['households']:,}",
         "unit": _("households"),
         "exact": ngettext("in %(count)s building", "in %(count)s buildings", buildings, count=f"{buildings:,}")},
        {"key": "floor_area", "label": _("Floor area"), "value": floor_value,
         # Translators: the figure is scaled per language; Chinese shows 万平方米 (units of 10,000 m²).
         "unit": _("million m²"), "exact": f"{floor:,.1f} m²"},
        {"key": "investment", "label": _("Investment"), "value": money_value,
         # Translators: the figure is scaled per language; Chinese shows 亿元 (units of 100 million yuan).
         "unit": _("million yuan"), "exact": f"{money:,.1f} {_('10k yuan')}"},
        {"key": "progress", "label": _("Progress"), "value": "—" if progress is None else f"{progress:.1f}",
         "unit": "%", "exact": _("weighted by floor area")},
    ]


def chart_data(batch: dict, offices: dict, locale: str) -> dict:
    """What dashboard.js draws, as plain JSON (the template embeds it with `tojson`)."""
    # Unscheduled estates have no progress; a zero bar would read as "not started".
    scheduled = [r for r in batch["rows"] if r["progress_pct"] is not None]
    return {
        "statusByOffice": {
            "labels": [r["label"] for r in offices["rows"]],
            "datasets": [{"label": term.label(locale), "backgroundColor": term.color,
                          "data": [r["status_counts"][term.code] for r in offices["rows"]]}
                         for term in RENOVATION_STATUS],
            "yTitle": pgettext("chart axis", "Estates"),
        },
        "progressByBatch": {
            "labels": [r["label"] for r in scheduled],
            "data": [r["progress_pct"] for r in scheduled],
            # Finished batches in the "completed" green, the rest in the "under construction" orange.
            "backgroundColor": [RENOVATION_STATUS["completed" if r["progress_pct"] >= 100 else
                                                  "under_construction"].color for r in scheduled],
            "yTitle": _("Progress (%)"),
        },
        "investmentBySource": {
            "labels": [term.label(locale) for term in FUNDING_SOURCES],
            "data": [batch["total"]["investment_by_source"][term.code] for term in FUNDING_SOURCES],
            "backgroundColor": list(FUNDING_COLOURS),
            "unit": _("10k yuan"),
        },
        "locale": "zh-CN" if locale == "zh" else "en",
    }


def filter_options(query: FeatureQuery) -> dict:
    """The choices of the filter form, each with whether the current query selects it."""
    store = get_store()
    offices = [f.properties["name"] for f in store.features("street_offices", FeatureQuery(with_geometry=False))]
    years = [r["batch"] for r in store.aggregate("estates", ("batch",), [Measure("estates", "count")],
                                                 FeatureQuery())]
    chosen = {name: set(query.equals.get(name, ())) for name in FILTERS}
    return {
        "street_office": [(o, o, o in chosen["street_office"]) for o in offices],
        "status": [(t.code, t.label(current_locale()), t.code in chosen["status"]) for t in RENOVATION_STATUS],
        "batch": [(y, y, y in chosen["batch"]) for y in sorted(y for y in years if y is not None)],
        "bbox": request.args.get("bbox") if query.bbox else None,
        "active": any(chosen.values()) or query.bbox is not None,
    }


def describe_filters(query: FeatureQuery, locale: str) -> str:
    """The active filters in words, e.g. "街道（镇）：临城街道；改造状态：施工中"; empty when none."""
    parts = []
    for name, label in FILTER_LABELS.items():
        values = query.equals.get(name)
        if values:
            shown = [RENOVATION_STATUS.label(v, locale) if name == "status" else str(v) for v in values]
            # Punctuation is the language's too (Chinese: "：", "、", "；"), so it is in the catalogue.
            parts.append(_("%(filter)s: %(values)s", filter=label,
                           values=pgettext("between a filter's values", ", ").join(shown)))
    if query.bbox:
        parts.append(f"bbox {','.join(f'{v:g}' for v in query.bbox)}")
    return pgettext("between filters", "; ").join(parts)


def xlsx_filename(as_of: str, locale: str) -> str:
    """薛城区改造统计_2021-07-20.xlsx, or its ASCII twin for English and old clients."""
    day = re.sub(r"[^0-9A-Za-z_-]", "", as_of) or "undated"
    return f"薛城区改造统计_{day}.xlsx" if locale == "zh" else f"xuecheng-renovation-stats_{day}.xlsx"


@bp.app_template_filter("dash_number")
def dash_number(value, digits: int = 0) -> str:
    """A figure with thousands separators; a dash when there is none."""
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"
