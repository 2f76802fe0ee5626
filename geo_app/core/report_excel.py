"""The stats tables as an Excel workbook (openpyxl), for planners who file and forward spreadsheets.

Framework-neutral: takes the dicts `core.stats.estate_stats` returns and gives back bytes. One
sheet per table (批次 / 街道): a title, the 示例数据 note with the as-of date and store revision,
a bold frozen header, numbers kept as numbers with display formats, and a bold total row.
"""

from __future__ import annotations

import io
import math
import unicodedata
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from ..domain import FUNDING_SOURCES, RENOVATION_STATUS

INTEGER = "#,##0"
ONE_DECIMAL = "#,##0.0"
PERCENT = "0.0%"

SHEET_NAMES = {
    "batch": {"zh": "批次", "en": "Batch"},
    "street_office": {"zh": "街道", "en": "Street office"},
    "status": {"zh": "状态", "en": "Status"},
}
GROUP_HEADINGS = {
    "batch": {"zh": "批次", "en": "Batch"},
    "street_office": {"zh": "街道（镇）", "en": "Street office"},
    "status": {"zh": "改造状态", "en": "Status"},
}
TEXTS = {
    "illustrative": {"zh": "示例数据：区界为真实边界，街道及小区边界为生成的示意数据，汇总数字与答复函一致。",
                     "en": "示例数据 Illustrative data: the district outline is real; street-office and estate "
                           "boundaries are generated; the totals reproduce the bureau's letter."},
    "as_of": {"zh": "数据截至：{as_of}　数据版本：{revision}", "en": "As of {as_of} · store revision {revision}"},
    "wan": {"zh": "（万元）", "en": " (10k yuan)"},
    "estates_of": {"zh": "（个）", "en": " (estates)"},
}
HEADER_FILL = PatternFill("solid", start_color="FFE8EEF4")
TOTAL_BORDER = Border(top=Side(style="thin"))
MAX_HEADER_WIDTH = 14  # longer headings wrap rather than widen a numeric column


@dataclass(frozen=True)
class Column:
    """One spreadsheet column: its heading, how to read its value from a stats row, its format."""

    heading: str
    value: object  # callable(row) -> cell value
    number_format: str | None = None


def stats_workbook(tables: list[dict], locale: str, title: str, as_of: str) -> bytes:
    """An .xlsx file with one sheet per stats table (from `estate_stats`), as bytes."""
    # The title carries the filters a client chose; control characters in them are illegal in a
    # worksheet and would fail the whole download.
    title = ILLEGAL_CHARACTERS_RE.sub("", title)
    workbook = Workbook()
    workbook.remove(workbook.active)
    workbook.properties.title = title
    workbook.properties.creator = "geo_app"
    for table in tables:
        sheet = workbook.create_sheet(_sheet_name(table["group_by"], locale))
        _fill_sheet(sheet, table, locale, title, as_of)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _text(key: str, locale: str) -> str:
    return TEXTS[key]["en" if locale == "en" else "zh"]


def _sheet_name(group_by: str, locale: str) -> str:
    names = SHEET_NAMES.get(group_by, {"zh": group_by, "en": group_by})
    return names["en" if locale == "en" else "zh"]


def table_columns(table: dict, locale: str) -> list[Column]:
    """The sheet's columns: the letter's figures, investment by funding source, counts by status."""
    labels = table["columns"]
    lang = "en" if locale == "en" else "zh"
    heading = GROUP_HEADINGS.get(table["group_by"], {}).get(lang, labels["label"])
    columns = [
        Column(heading, lambda r: r["label"]),
        Column(labels["estates"], lambda r: r["estates"], INTEGER),
        Column(labels["households"], lambda r: r["households"], INTEGER),
        Column(labels["buildings"], lambda r: r["buildings"], INTEGER),
        Column(labels["floor_area_m2"], lambda r: r["floor_area_m2"], ONE_DECIMAL),
        Column(labels["investment_wan"], lambda r: r["investment_wan"], ONE_DECIMAL),
    ]
    for term in FUNDING_SOURCES:
        columns.append(Column(term.label(locale) + _text("wan", locale),
                              lambda r, code=term.code: r["investment_by_source"][code], ONE_DECIMAL))
    # Excel's % format multiplies by 100, so the stored percentage is scaled down to a fraction.
    columns.append(Column(labels["progress_pct"], _progress_fraction, PERCENT))
    for term in RENOVATION_STATUS:
        columns.append(Column(term.label(locale) + _text("estates_of", locale),
                              lambda r, code=term.code: r["status_counts"][code], INTEGER))
    return columns


def _progress_fraction(row: dict) -> float | None:
    progress = row["progress_pct"]
    return None if progress is None else round(progress / 100, 4)


def _fill_sheet(sheet: Worksheet, table: dict, locale: str, title: str, as_of: str) -> None:
    """Title and notes on top, then the header, the groups and the total row."""
    columns = table_columns(table, locale)
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([_text("illustrative", locale)])
    sheet["A2"].font = Font(italic=True, color="FF8D6E63")
    sheet.append([_text("as_of", locale).format(as_of=as_of, revision=table["revision"])])
    header_row = sheet.max_row + 1
    _write_row(sheet, header_row, [c.heading for c in columns], columns, header=True)
    for offset, row in enumerate([*table["rows"], table["total"]], start=1):
        _write_row(sheet, header_row + offset, [c.value(row) for c in columns], columns)
    total_row = sheet.max_row
    for cell in sheet[total_row]:
        cell.font = Font(bold=True)
        cell.border = TOTAL_BORDER
    # Frozen header and group column: both stay in view while scrolling a wide sheet on a laptop.
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=2)
    _fit_columns(sheet, columns, header_row)
    _print_setup(sheet, header_row)


def _write_row(sheet: Worksheet, row: int, values: list, columns: list[Column], header: bool = False) -> None:
    for index, (value, column) in enumerate(zip(values, columns), start=1):
        cell = sheet.cell(row=row, column=index, value=value)
        if isinstance(value, str):
            # Data text is never a formula: a street office named "=HYPERLINK(…)" stays text.
            cell.data_type = "s"
        if header:
            cell.font = Font(bold=True)
            cell.fill = HEADER_FILL
            cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
        elif column.number_format:
            cell.number_format = column.number_format


def display_width(text: str) -> int:
    """Width in Excel character units: CJK and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _shown(value, number_format: str | None) -> str:
    """Roughly what Excel shows for a value, to size its column."""
    if value is None:
        return ""
    if number_format == PERCENT:
        return f"{value:.1%}"
    if number_format == ONE_DECIMAL:
        return f"{value:,.1f}"
    if number_format == INTEGER:
        return f"{value:,.0f}"
    return str(value)


def _fit_columns(sheet: Worksheet, columns: list[Column], header_row: int) -> None:
    """Columns as wide as their values; long headings wrap and the header row grows to fit."""
    header_lines = 1
    for index, column in enumerate(columns, start=1):
        cells = sheet.iter_rows(min_row=header_row + 1, min_col=index, max_col=index, values_only=True)
        data_width = max((display_width(_shown(v, column.number_format)) for (v,) in cells), default=0)
        heading_width = display_width(column.heading)
        width = max(data_width, min(heading_width, MAX_HEADER_WIDTH)) + 2
        sheet.column_dimensions[get_column_letter(index)].width = width
        header_lines = max(header_lines, math.ceil(heading_width / (width - 1)))
    # openpyxl cannot autofit, and not every reader does: set the height the wrapped headings need.
    sheet.row_dimensions[header_row].height = 15 * header_lines + 4


def _print_setup(sheet: Worksheet, header_row: int) -> None:
    """Landscape A4, one page wide, the header repeated on every printed page."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = f"{header_row}:{header_row}"
