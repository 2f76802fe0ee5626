"""GET /api/export/<layer>: a layer as a file, filtered as the map filters, streamed.

The query string is the map's (street_office, batch, status, item, q, bbox) plus ids,
within_office, bbox_coords, and the export options (format, coords, precision, with_bbox,
csv_geometry, headers), parsed by the same functions as `geo-app export`, which therefore writes the
same file. The body is a generator: text formats start arriving with the first page of features;
GeoPackage, Shapefile and Excel are written to a temporary file first, removed when the response
ends or the client hangs up. A HEAD request answers the headers only (X-Feature-Count, the file's
name) without building anything: the map's export dialog shows that count before downloading.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from ..core.export import Export, parse_export_options
from ..errors import InvalidParameter
from . import get_store
from .auth import deny_unless_layer_readable
from .downloads import content_disposition
from .params import parse_export_filters

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
    job = Export(get_store(), layer, query, parse_export_options(request.args), office_code=office)
    # HEAD runs the same query and counts without writing: the dialog's count is the file's.
    response = Response(job.chunks(), mimetype=job.media_type)
    response.headers["Content-Disposition"] = content_disposition(job.filename, job.ascii_filename)
    response.headers["X-Feature-Count"] = str(job.total)  # the page's progress indicator shows it
    response.headers["Cache-Control"] = "no-store"
    return response

