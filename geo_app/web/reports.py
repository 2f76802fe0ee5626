"""Reports: the monthly dispatch report (月调度) of a street office, as a page, Excel and PDF."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask_babel import lazy_gettext

from ..core.clock import local_text, parse_month
from ..core.monthly_report import monthly_report
from ..domain import RENOVATION_ITEMS
from ..errors import InvalidParameter
from ..storage import FeatureQuery
from . import get_store
from .auth import require_role
from .downloads import content_disposition
from .i18n import current_locale
from .params import parse_choice

bp = Blueprint("reports", __name__)

TEXTS = {
    "title": lazy_gettext("Monthly dispatch report"),
    "office": lazy_gettext("Street office"),
    "month": lazy_gettext("Month"),
    "period": lazy_gettext("Period (Beijing time)"),
    "by_status": lazy_gettext("Estates by status (end of month)"),
    "status": lazy_gettext("Status"),
    "count": lazy_gettext("Estates"),
    "total": lazy_gettext("Total"),
    "progress": lazy_gettext("Progress since last month (%)"),
    "code": lazy_gettext("Code"),
    "name": lazy_gettext("Name"),
    "before": lazy_gettext("End of last month"),
    "now": lazy_gettext("End of this month"),
    "change": lazy_gettext("Change"),
    "inspections": lazy_gettext("Inspections this month"),
    "inspections_done": lazy_gettext("Inspections done"),
    "estates_inspected": lazy_gettext("Estates inspected"),
    "no_inspections": lazy_gettext("No inspections recorded."),
    "problems": lazy_gettext("Open problems (latest inspection per estate)"),
    "no_problems": lazy_gettext("No open problems."),
    "inspected_at": lazy_gettext("Inspected at"),
    "inspector": lazy_gettext("Inspector"),
    "verdict": lazy_gettext("Verdict"),
    "problem_items": lazy_gettext("Problem items"),
    "notes": lazy_gettext("Notes"),
    "illustrative": lazy_gettext("示例数据 Illustrative data: the district outline is real; street-office and "
                                 "estate boundaries are generated."),
}
VERDICTS = {"pass": lazy_gettext("passed"), "issues": lazy_gettext("issues found"), "fail": lazy_gettext("failed")}


def _texts() -> dict:
    return {key: str(text) for key, text in TEXTS.items()}


def _labels(locale: str) -> dict:
    labels = {t.code: t.label(locale) for t in RENOVATION_ITEMS}
    labels.update({code: str(text) for code, text in VERDICTS.items()})
    return labels


@bp.get("/reports/monthly")
@require_role("viewer")  # it names inspectors and quotes their notes: staff only, like the inspections
def monthly():
    """`office` (code or name), `month` (YYYY-MM, default this month), `format` html | xlsx | pdf."""
    store, locale = get_store(), current_locale()
    offices = store.features("street_offices", FeatureQuery(with_geometry=False, order_by="code"))
    year, month = parse_month(request.args.get("month"))
    kind = parse_choice(request.args, "format", ("html", "xlsx", "pdf"), default="html")
    office = (request.args.get("office") or "").strip()
    if not office:
        if kind != "html":
            raise InvalidParameter("office is required (a street office code or name)", parameter="office")
        return render_template("report_monthly.html", offices=offices, report=None, month=f"{year:04d}-{month:02d}")
    # openpyxl and reportlab (~12 MB) load with the first report, not with every server process.
    from ..core.monthly_report_files import report_pdf, report_workbook, sections

    report = monthly_report(store, office, year, month, locale)
    texts, labels = _texts(), _labels(locale)
    filename = f"monthly_{report.office_code}_{report.month}"
    if kind == "xlsx":
        return Response(report_workbook(report, texts, labels),
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": content_disposition(f"{filename}.xlsx")})
    if kind == "pdf":
        return Response(report_pdf(report, texts, labels), mimetype="application/pdf",
                        headers={"Content-Disposition": content_disposition(f"{filename}.pdf")})
    return render_template("report_monthly.html", offices=offices, report=report, month=report.month,
                           tables=sections(report, texts, labels), texts=texts,
                           period=(local_text(report.period_start), local_text(report.period_end)))
