"""Attribute tables: CSV (geometry as WKT or centroid lon/lat) and Excel .xlsx (centroid, and WKT
for polygons).

Columns are `id`, the layer's fields in order, then the geometry: `wkt`, or `lon`/`lat` of the
centroid (`wkt_gcj02`, `lon_gcj02`/`lat_gcj02` in GCJ-02, so the coordinate system travels with
the numbers). Headers are the store's field names by default, which an import maps straight back;
`headers=zh|en` puts the layer's labels there instead, for people.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import shapely

from ...layers import LayerDef
from ...storage import FeatureRows
from ..geojson import prepare_geometries
from .options import ExportOptions

EXCEL_MAX_ROWS = 1_048_576 - 1  # a sheet's rows, less the header
# A cell starting with one of these is a formula to Excel (CSV injection, OWASP): such text gets a
# leading apostrophe, which Excel shows as "text" and hides.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXCEL_CELL_MAX = 32_767  # characters in one cell (Excel's limit)
_GEOMETRY_LABELS = {"wkt": ("WKT", "WKT"), "lon": ("经度", "Longitude"), "lat": ("纬度", "Latitude")}


def geometry_columns(options: ExportOptions, kind: str) -> list[str]:
    """The geometry columns' names: `wkt` or `lon`, `lat`, suffixed with the coordinate system
    when it is not WGS84."""
    names = {"wkt": ["wkt"], "centroid": ["lon", "lat"], "centroid+wkt": ["lon", "lat", "wkt"]}[kind]
    return [n if options.coords == "wgs84" else f"{n}_{options.coords}" for n in names]


def header(layer: LayerDef, options: ExportOptions, kind: str) -> list[str]:
    """Column titles: field names, or the layer's labels in Chinese or English."""
    geometry = geometry_columns(options, kind)
    if options.headers == "field":
        return ["id", *layer.field_names, *geometry]
    zh = options.headers == "zh"
    suffix = "" if options.coords == "wgs84" else "（GCJ-02）"
    labels = [_GEOMETRY_LABELS[g.split("_")[0]][0 if zh else 1] + suffix for g in geometry]
    return ["要素ID" if zh else "Feature ID", *(f.label(options.headers) for f in layer.fields), *labels]


def _geometry_values(geoms: np.ndarray, options: ExportOptions, kind: str) -> list[list]:
    prepared = prepare_geometries(geoms, options.precision, options.coords)
    if kind == "wkt":
        return [shapely.to_wkt(prepared, rounding_precision=options.precision, trim=True).tolist()]
    if kind == "centroid+wkt":
        # Excel holds at most 32,767 characters in a cell: a longer shape (a district's outline) is
        # left out rather than cut into invalid WKT; its centroid is still there.
        wkt = [w if len(w) <= EXCEL_CELL_MAX else None
               for w in shapely.to_wkt(prepared, rounding_precision=options.precision, trim=True).tolist()]
        return [*_geometry_values(geoms, options, "centroid"), wkt]
    # The centroid of the lon/lat shape: for an estate (or even a district) it lies within a
    # metre of the centroid in a local projection, since a centroid follows affine maps.
    xy = shapely.get_coordinates(shapely.centroid(prepared)) if len(prepared) else np.empty((0, 2))
    xy = np.round(xy, options.precision)
    return [xy[:, 0].tolist(), xy[:, 1].tolist()]


def _guard(values: list) -> list:
    return ["'" + v if v and v.startswith(_FORMULA_START) else v for v in values]


def csv_chunks(pages: Iterable[FeatureRows], layer: LayerDef, options: ExportOptions) -> Iterator[bytes]:
    """The CSV as UTF-8 byte chunks, one per page. It starts with a byte-order mark: without it
    Excel (the spreadsheet most users open it in) reads the file as the ANSI code page (GBK on
    Chinese Windows) and shows UTF-8 Chinese as mojibake; other CSV readers skip the mark."""
    kind = options.csv_geometry
    text_columns = [i for i, f in enumerate(layer.fields) if f.type == "text"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header(layer, options, kind))
    yield ("\ufeff" + out.getvalue()).encode("utf-8")
    for page in pages:
        out.seek(0)
        out.truncate()
        columns = list(page.columns)
        for i in text_columns:
            columns[i] = _guard(columns[i])
        writer.writerows(zip(page.ids, *columns, *_geometry_values(page.geometries, options, kind)))
        yield out.getvalue().encode("utf-8")


def write_xlsx(pages: Iterable[FeatureRows], layer: LayerDef, options: ExportOptions, path: Path,
               about: list[tuple[str, str]]) -> None:
    """The attributes and centroid of each feature in one sheet (streamed by openpyxl's write-only
    mode, so rows go to disk as they come), and what the file holds in a second (`about`)."""
    from openpyxl import Workbook  # here: only Excel exports pay for importing openpyxl
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_sheet_title(layer.title_zh))
    sheet.freeze_panes = "A2"
    # Polygons and lines also get their WKT, so the sheet can be imported back (geo-app import).
    kind = "centroid" if layer.geometry_type in ("Point", "MultiPoint") else "centroid+wkt"
    titles = header(layer, options, kind)
    for i, title in enumerate(titles):
        sheet.column_dimensions[get_column_letter(i + 1)].width = max(10, min(40, len(title) * 2 + 2))
    sheet.append(titles)
    text_columns = [i + 1 for i, f in enumerate(layer.fields) if f.type == "text"]
    for page in pages:
        for row in zip(page.ids, *page.columns, *_geometry_values(page.geometries, options, kind)):
            sheet.append(_xlsx_row(sheet, row, text_columns) if text_columns else row)
    notes = workbook.create_sheet("说明 About")
    for key, value in about:
        notes.append([key, ILLEGAL_CHARACTERS_RE.sub("", value)])
    workbook.save(path)


def _xlsx_row(sheet, row: tuple, text_columns: list[int]) -> list:
    from openpyxl.cell import WriteOnlyCell  # already imported by write_xlsx: a dictionary lookup
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    row = list(row)
    for i in text_columns:
        value = row[i]
        if not value:
            continue
        if min(value) < " ":  # control characters are illegal in the file format
            value = row[i] = ILLEGAL_CHARACTERS_RE.sub("", value)
        if value.startswith("="):  # text, not a formula: openpyxl would store it as one
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            row[i] = cell
    return row


def _sheet_title(title: str) -> str:
    return "".join(c for c in title if c not in "[]:*?/\\")[:31] or "layer"

