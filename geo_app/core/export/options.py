"""What an export is asked for: the format and how coordinates and headers are written.

Values arrive as text (query string, command line) and are checked here, once, so the web and the
CLI refuse the same things with the same message naming the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ...errors import InvalidParameter
from ..geojson import DEFAULT_PRECISION, check_coordinate_system, check_precision


@dataclass(frozen=True)
class Format:
    """One output format: file extension, media type, and whether it streams as it is written
    (text formats) or needs a whole file first (GeoPackage, zipped Shapefile, Excel)."""

    name: str
    extension: str
    media_type: str
    streams: bool


FORMATS = {f.name: f for f in (
    Format("geojson", "geojson", "application/geo+json", True),
    Format("gpkg", "gpkg", "application/geopackage+sqlite3", False),
    Format("shp", "shp.zip", "application/zip", False),
    Format("kml", "kml", "application/vnd.google-earth.kml+xml", True),
    Format("csv", "csv", "text/csv; charset=utf-8", True),
    Format("xlsx", "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", False),
)}
CSV_GEOMETRY = ("wkt", "centroid")
HEADERS = ("field", "zh", "en")


@dataclass(frozen=True)
class ExportOptions:
    """How to write: `coords` wgs84|gcj02, `precision` decimals of a degree, `with_bbox` (GeoJSON
    bbox members), `csv_geometry` wkt|centroid, `headers` field|zh|en (CSV/XLSX column titles:
    the store's field names, which an import maps back, or the layer's Chinese/English labels)."""

    format: str = "geojson"
    coords: str = "wgs84"
    precision: int = DEFAULT_PRECISION
    with_bbox: bool = False
    csv_geometry: str = "wkt"
    headers: str = "field"

    @property
    def spec(self) -> Format:
        return FORMATS[self.format]


def _choice(value, name: str, choices, default: str) -> str:
    value = (value or default).strip().lower()
    if value not in choices:
        raise InvalidParameter(f"{name} must be one of {', '.join(choices)}, got {value!r}", parameter=name)
    return value


def _flag(value, name: str) -> bool:
    text = str(value or "").strip().lower()
    if text in ("", "0", "false", "no"):
        return False
    if text in ("1", "true", "yes"):
        return True
    raise InvalidParameter(f"{name} must be 1 or 0, got {value!r}", parameter=name)


def parse_export_options(args: Mapping) -> ExportOptions:
    """Options from request-like arguments (`format`, `coords`, `precision`, `with_bbox`,
    `csv_geometry`, `headers`); a bad value is an InvalidParameter naming it."""
    precision = args.get("precision")
    return ExportOptions(
        format=_choice(args.get("format"), "format", tuple(FORMATS), "geojson"),
        coords=check_coordinate_system(args.get("coords")),
        precision=DEFAULT_PRECISION if precision in (None, "") else check_precision(precision),
        with_bbox=_flag(args.get("with_bbox"), "with_bbox"),
        csv_geometry=_choice(args.get("csv_geometry"), "csv_geometry", CSV_GEOMETRY, "wkt"),
        headers=_choice(args.get("headers"), "headers", HEADERS, "field"),
    )
