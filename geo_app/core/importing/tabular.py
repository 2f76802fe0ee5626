"""Spreadsheets with coordinates: CSV (pandas) and Excel .xlsx (openpyxl, read-only streaming).

The geometry is a WKT column (`wkt`, `geometry`, `geom`, `几何`, `坐标串`) or a pair of lon/lat
columns (`lon`/`lat`, `longitude`/`latitude`, `x`/`y`, `经度`/`纬度`). A cell that is not valid
WKT leaves that row without a geometry, which validation reports by row. Spreadsheets never state
a CRS: one must be declared.
"""

from __future__ import annotations

import codecs
import io
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from ..geodesy import GCJ02_LABEL
from .report import ImportRefused

WKT_HEADERS = ("wkt", "geometry", "geom", "几何", "坐标串", "空间坐标")
LON_HEADERS = ("lon", "lng", "longitude", "x", "经度", "东经")
LAT_HEADERS = ("lat", "latitude", "y", "纬度", "北纬")
# Columns our GCJ-02 exports write (CSV, Excel): the coordinate system travels with the header.
GCJ02_SUFFIX = "_gcj02"


def _key(header: str) -> str:
    return unicodedata.normalize("NFKC", str(header)).strip().lower()


def _find(headers: list[str], wanted: tuple[str, ...]) -> str | None:
    for header in headers:
        if _key(header) in wanted:
            return header
    return None


def _decode(data: bytes, label: str, encoding: str | None) -> tuple[str, str]:
    if encoding:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            raise ImportRefused(f"{label}: not {encoding} text (byte {exc.start})") from None
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="strict"), "UTF-8"
    for candidate in ("utf-8", "gb18030"):  # Excel's "CSV" from a Chinese Windows is GBK
        try:
            return data.decode(candidate), candidate.upper()
        except UnicodeDecodeError:
            continue
    raise ImportRefused(f"{label}: cannot tell the text encoding (neither UTF-8 nor GBK); use --encoding")


def read_csv(path: Path, label: str, encoding: str | None):
    """(columns, geometries, CRS the headers state or None, notes) of a CSV file."""
    text, used = _decode(path.read_bytes(), label, encoding)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=object, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ImportRefused(f"{label}: not a readable CSV table: {str(exc).strip()}") from None
    columns = {str(c): frame[c].to_numpy(dtype=object) for c in frame.columns}
    geoms, geometry_columns, crs_text = _geometries(columns, label)
    for name in geometry_columns:
        columns.pop(name)
    return columns, geoms, crs_text, [f"text encoding {used}", f"geometry from column(s) {', '.join(geometry_columns)}"]


def read_xlsx(path: Path, label: str, encoding: str | None):
    """(columns, geometries, CRS the headers state or None, notes) of the first sheet of an .xlsx
    workbook (header in row 1)."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zip, XML and its own errors alike
        raise ImportRefused(f"{label}: not a readable Excel .xlsx workbook ({type(exc).__name__}: {exc})") from None
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if not header or all(h is None for h in header):
            raise ImportRefused(f"{label}: the first sheet has no header row")
        names = [str(h).strip() if h is not None else f"column {i + 1}" for i, h in enumerate(header)]
        body = [row for row in rows if any(v is not None and str(v).strip() for v in row)]
    finally:
        workbook.close()
    width = len(names)
    matrix = np.full((len(body), width), None, dtype=object)
    for r, row in enumerate(body):
        cells = list(row[:width])
        matrix[r, :len(cells)] = cells
    columns = {name: matrix[:, i] for i, name in enumerate(names)}
    geoms, geometry_columns, crs_text = _geometries(columns, label)
    for name in geometry_columns:
        columns.pop(name)
    return columns, geoms, crs_text, [f"sheet '{sheet.title}'", f"geometry from column(s) {', '.join(geometry_columns)}"]


def _geometries(columns: dict[str, np.ndarray], label: str) -> tuple[np.ndarray, list[str], str | None]:
    """(geometries, the columns they came from, "GCJ-02" when those are `…_gcj02` columns else None)."""
    headers = list(columns)
    for suffix, crs_text in (("", None), (GCJ02_SUFFIX, GCJ02_LABEL)):
        wkt = _find(headers, tuple(h + suffix for h in WKT_HEADERS))
        if wkt is not None:
            texts = [v.strip() if isinstance(v, str) and v.strip() else None for v in columns[wkt]]
            return shapely.from_wkt(np.array(texts, dtype=object), on_invalid="ignore"), [wkt], crs_text
        lon = _find(headers, tuple(h + suffix for h in LON_HEADERS))
        lat = _find(headers, tuple(h + suffix for h in LAT_HEADERS))
        if lon is not None and lat is not None:
            return _points(columns[lon], columns[lat]), [lon, lat], crs_text
    raise ImportRefused(f"{label}: no geometry column: need a WKT column ({', '.join(WKT_HEADERS)}) or "
                        f"longitude/latitude columns ({'/'.join(LON_HEADERS[:3])} and {'/'.join(LAT_HEADERS[:3])})")


def _points(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    x = pd.to_numeric(pd.Series(lon, dtype=object), errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(pd.Series(lat, dtype=object), errors="coerce").to_numpy(dtype=float)
    points = shapely.points(x, y)
    points[~(np.isfinite(x) & np.isfinite(y))] = None
    return np.asarray(points, dtype=object)
