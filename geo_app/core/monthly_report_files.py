"""The monthly dispatch report as Excel (openpyxl) and PDF (reportlab) files.

Framework-neutral: the web layer passes the report's figures and its texts in the reader's language
(`texts`, keys as in `TEXT_KEYS`), and gets bytes back. The PDF uses reportlab's built-in CID font
STSong-Light (Adobe's Chinese font pack, which every PDF reader provides), so Chinese renders
without any font file on the server.
"""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from .clock import local_text
from .monthly_report import MonthlyReport
from .report_excel import display_width

CJK_FONT = "STSong-Light"
TEXT_KEYS = ("title", "office", "month", "period", "by_status", "status", "count", "total", "progress",
             "code", "name", "before", "now", "change", "inspections", "inspections_done",
             "estates_inspected", "no_inspections", "problems", "no_problems", "inspected_at", "inspector",
             "verdict", "problem_items", "notes", "illustrative")
HEADER_FILL = PatternFill("solid", start_color="FFE8EEF4")


def _number(value, digits: int = 1):
    return "—" if value is None else f"{value:,.{digits}f}"


def sections(report: MonthlyReport, texts: dict, labels: dict) -> list[tuple[str, list[list]]]:
    """The report's tables as (heading, rows with a header row first), shared by Excel and PDF.

    `labels` maps vocabulary codes (verdicts, checklist items) to the reader's words.
    """
    status_rows = [[texts["status"], texts["count"]], *([s["label"], s["count"]] for s in report.by_status),
                   [texts["total"], report.total]]
    progress_rows = [[texts["code"], texts["name"], texts["before"], texts["now"], texts["change"]],
                     *([e.code, e.name, e.progress_before, e.progress_now, e.progress_change]
                       for e in report.estates)]
    result = [(texts["by_status"], status_rows), (texts["progress"], progress_rows)]
    if report.inspections_recorded:
        result.append((texts["inspections"], [[texts["inspections_done"], report.inspections_this_month],
                                              [texts["estates_inspected"], report.estates_inspected]]))
        problem_rows = [[texts["code"], texts["name"], texts["inspected_at"], texts["inspector"], texts["verdict"],
                         texts["problem_items"], texts["notes"]]]
        for p in report.problems:
            problem_rows.append([p["code"], p["name"], local_text(p["inspected_at"]), p["inspector"] or "",
                                 labels.get(p["verdict"], p["verdict"] or ""),
                                 "、".join(labels.get(i, i) for i in p["problem_items"]), p["notes"]])
        result.append((texts["problems"], problem_rows))
    return result


def heading_lines(report: MonthlyReport, texts: dict) -> list[str]:
    return [f"{texts['office']}: {report.office_name}", f"{texts['month']}: {report.month}",
            f"{texts['period']}: {local_text(report.period_start)} – {local_text(report.period_end)}"]


# --- Excel -------------------------------------------------------------------------------------
def report_workbook(report: MonthlyReport, texts: dict, labels: dict) -> bytes:
    """One sheet: title, office and period, then each table under its heading; numbers stay numbers."""
    book = Workbook()
    sheet = book.active
    sheet.title = report.month
    sheet.append([f"{texts['title']} · {report.office_name} · {report.month}"])
    sheet["A1"].font = Font(bold=True, size=14)
    for line in [*heading_lines(report, texts), texts["illustrative"]]:
        sheet.append([line])
    for heading, rows in sections(report, texts, labels):
        sheet.append([])
        sheet.append([heading])
        sheet.cell(sheet.max_row, 1).font = Font(bold=True, size=12)
        for index, row in enumerate(rows):
            sheet.append([_cell(v) for v in row])
            if index == 0 and len(rows) > 2:
                for cell in sheet[sheet.max_row]:
                    cell.font, cell.fill = Font(bold=True), HEADER_FILL
    if not report.inspections_recorded:
        sheet.append([])
        sheet.append([texts["no_inspections"]])
    _fit(sheet)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(value):
    """A value for a sheet cell. Text that starts like a formula is stored as text, not evaluated
    (an inspector's notes must not become a HYPERLINK in the planner's Excel), and control
    characters the file format forbids are dropped."""
    if value is None:
        return "—"
    if isinstance(value, str):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        if value.startswith(("=", "+", "-", "@")):
            return "'" + value  # shown as written; a leading apostrophe is Excel's own "this is text"
    return value


def _fit(sheet) -> None:
    widths = {}
    for row in sheet.iter_rows(min_row=7):
        for cell in row:
            if cell.value is not None:
                widths[cell.column_letter] = max(widths.get(cell.column_letter, 0), display_width(str(cell.value)))
    for letter, width in widths.items():
        sheet.column_dimensions[letter].width = min(max(width + 2, 8), 40)
    for row in sheet.iter_rows(min_row=7):
        for cell in row:
            cell.alignment = Alignment(vertical="top", wrap_text=True)


# --- PDF ---------------------------------------------------------------------------------------
def _font() -> str:
    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    return CJK_FONT


def report_pdf(report: MonthlyReport, texts: dict, labels: dict) -> bytes:
    """An A4 PDF: title, office and period, then the tables with repeated header rows."""
    font = _font()
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=22, spaceAfter=6)
    heading = ParagraphStyle("heading", fontName=font, fontSize=12, leading=16, spaceBefore=10, spaceAfter=4)
    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=12)
    story = [Paragraph(_escape(f"{texts['title']} · {report.office_name}"), title)]
    story += [Paragraph(_escape(line), body) for line in [*heading_lines(report, texts), texts["illustrative"]]]
    for name, rows in sections(report, texts, labels):
        story.append(Paragraph(_escape(name), heading))
        cells = [[Paragraph(_escape(_shown(v)), body) for v in row] for row in rows]
        table = Table(cells, repeatRows=1 if len(rows) > 2 else 0, hAlign="LEFT")
        table.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EEF4") if len(rows) > 2 else colors.white),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]))
        story.append(table)
    if not report.inspections_recorded:
        story += [Spacer(1, 4 * mm), Paragraph(_escape(texts["no_inspections"]), body)]
    elif not report.problems:
        story.append(Paragraph(_escape(texts["no_problems"]), body))
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                      bottomMargin=15 * mm, title=f"{texts['title']} {report.office_name} {report.month}").build(story)
    return out.getvalue()


def _shown(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return _number(value)
    return str(value)


def _escape(text: str) -> str:
    # Paragraph text is reportlab's mini-markup: data must not become tags.
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
