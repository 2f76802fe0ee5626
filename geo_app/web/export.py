"""GET /api/export/<layer>: a layer as a file, filtered as the map filters, streamed.

The query string is the map's (street_office, batch, status, item, q, bbox) plus ids,
within_office, and the export options (format, coords, precision, with_bbox, csv_geometry,
headers), parsed by the same functions as `geo-app export`, which therefore writes the same file.
The body is a generator: text formats start arriving with the first page of features; GeoPackage,
Shapefile and Excel are written to a temporary file first, removed when the response ends or the
client hangs up.
"""

from __future__ import annotations

import dataclasses
import re

from flask import Blueprint, Response, request

from ..core.export import Export, parse_export_options
from ..core.geodesy import gcj02_to_wgs84
from ..errors import InvalidParameter
from . import get_store
from .auth import deny_unless_layer_readable
from .downloads import content_disposition
from .params import parse_choice, parse_export_filters

bp = Blueprint("export", __name__)


@bp.before_request
def _check_read_role():
    """A layer with a `read_role` (inspections: they name people) is exported only to that role or
    above, as the OGC API serves it."""
    layer = get_store().layers.get((request.view_args or {}).get("layer", ""))
    return deny_unless_layer_readable(layer)


# What selects features (the map's filters and more), then how they are written.
FILTER_PARAMETERS = {"street_office", "batch", "status", "item", "q", "bbox", "ids", "within_office", "bbox_coords"}
PARAMETERS = FILTER_PARAMETERS | {"format", "coords", "precision", "with_bbox", "csv_geometry", "headers", "lang"}


@bp.get("/export/<layer>")
def export_layer(layer: str):
    """The layer's features matching the filters, as a file named for what it holds."""
    unknown = sorted(set(request.args) - PARAMETERS)
    if unknown:  # a misspelt filter must not quietly export the whole layer
        raise InvalidParameter(f"unknown parameter(s) {', '.join(unknown)}; allowed: {', '.join(sorted(PARAMETERS))}",
                               parameter=unknown[0])
    query, office = parse_export_filters(request.args)
    query = _bbox_in_wgs84(query, parse_choice(request.args, "bbox_coords", ("wgs84", "gcj02"), default="wgs84"))
    job = Export(get_store(), layer, query, parse_export_options(request.args), office_code=office)
    response = Response(job.chunks(), mimetype=job.media_type)
    response.headers["Content-Disposition"] = content_disposition(job.filename, _ascii_name(job.filename))
    response.headers["X-Feature-Count"] = str(job.total)  # the page's progress indicator shows it
    response.headers["Cache-Control"] = "no-store"
    return response


def _ascii_name(filename: str) -> str:
    """For clients without RFC 5987: `estates_临城街道_2021.geojson` -> `estates_2021.geojson`."""
    return re.sub(r"_*[^A-Za-z0-9.+-]+_*", "_", filename).strip("_") or "export"


def _bbox_in_wgs84(query, bbox_coords: str):
    """A map view's bbox is in the basemap's coordinates: over Amap tiles that is GCJ-02."""
    if not query.bbox or bbox_coords == "wgs84":
        return query
    minx, miny, maxx, maxy = query.bbox
    lons, lats = gcj02_to_wgs84([minx, maxx], [miny, maxy])
    return dataclasses.replace(query, bbox=(float(lons[0]), float(lats[0]), float(lons[1]), float(lats[1])))
