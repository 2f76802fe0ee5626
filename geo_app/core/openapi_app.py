"""The /api part of the OpenAPI document: the estates JSON API, statistics, spatial queries, pages.

Every path the service may have is described here; `openapi.openapi_document` keeps only those the
running app serves (the spatial endpoints arrive in their own change).
"""

from __future__ import annotations

from ..domain import RENOVATION_ITEMS, RENOVATION_STATUS
from ..layers import LayerDef
from .stats import GROUPINGS

GEOJSON = "application/geo+json"
JSON = "application/json"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COORDS = {"name": "coords", "in": "query", "description": "wgs84 (default) or gcj02 (Amap's shifted "
          "coordinates)", "schema": {"type": "string", "enum": ["wgs84", "gcj02"]}}
LANG = {"name": "lang", "in": "query", "description": "language of labels: zh (default) or en",
        "schema": {"type": "string", "enum": ["zh", "en"]}}


def _q(name: str, description: str, schema: dict, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


def _path(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": schema or {"type": "string"}}


def estate_filters() -> list[dict]:
    """The map's estate filters, shared by /api/estates, /api/stats and the dashboard."""
    return [
        _q("street_office", "street-office names, comma-separated", {"type": "string"}),
        _q("status", f"status codes, comma-separated: {', '.join(RENOVATION_STATUS.codes())}", {"type": "string"}),
        _q("batch", "batch years (2000-2100), comma-separated", {"type": "string"}),
        _q("item", f"renovation items planned, any of (comma-separated): {', '.join(RENOVATION_ITEMS.codes())}",
           {"type": "string"}),
        _q("q", "part of the estate name (at most 100 characters)", {"type": "string"}),
        _q("bbox", "minLon,minLat,maxLon,maxLat (WGS84)", {"type": "string"}),
    ]


def _schema_ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


PAGE_ERROR = {"description": "a parameter is wrong (a page saying which)",
              "content": {"text/html": {"schema": {"type": "string"}}}}


def _get(operation_id: str, summary: str, tag: str, params: list, media: str, schema: dict,
         errors=("400",), method: str = "get", body: dict | None = None) -> dict:
    responses = {"200": {"description": summary, "content": {media: {"schema": schema}}}}
    for code in errors:
        name = {"400": "BadRequest", "401": "Unauthorized", "403": "Forbidden", "404": "NotFound"}[code]
        # Outside /api and /ogcapi an error is a page, not JSON (geo_app/web/errors.py).
        page = not operation_id.startswith(("api", "openapi"))
        responses[code] = PAGE_ERROR if page else {"$ref": f"#/components/responses/{name}"}
    responses["500"] = {"$ref": "#/components/responses/ServerError"}
    operation = {"operationId": operation_id, "summary": summary, "tags": [tag], "parameters": params,
                 "responses": responses}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
    return {method: operation}


def app_paths(layers: dict[str, LayerDef]) -> dict:
    """Every /api path (and the dashboard pages) the service documents."""
    paths = _app_paths(layers)
    # A second method of a path is written as "<path>#<method>" beside the first: merged here.
    for key in [k for k in paths if "#" in k]:
        paths[key.split("#")[0]].update(paths.pop(key))
    return paths


def _app_paths(layers: dict[str, LayerDef]) -> dict:
    fc, feature = _schema_ref("FeatureCollection"), _schema_ref("Feature")
    stats = _schema_ref("StatsTable")
    office = _path("code", "the street office's code")
    context_layers = [name for name in layers if name != "estates"]
    point = [_q("lon", "longitude, WGS84 degrees", {"type": "number", "minimum": -180, "maximum": 180}, True),
             _q("lat", "latitude, WGS84 degrees", {"type": "number", "minimum": -90, "maximum": 90}, True)]
    group_by = _q("group_by", "grouping", {"type": "string", "enum": list(GROUPINGS), "default": "batch"})
    return {
        "/api/estates": _get("api_estates", "Estates as GeoJSON, filtered", "Estates", [
            *estate_filters(), COORDS,
            _q("view", "full (every attribute) or map (what the map draws)",
               {"type": "string", "enum": ["full", "map"]})], GEOJSON, fc),
        "/api/estates/{estate_id}": _get("api_estate", "One estate with every attribute", "Estates", [
            _path("estate_id", "the estate's id", {"type": "integer"}), COORDS,
            _q("download", "1: save as a file", {"type": "string"})], GEOJSON, feature, ("400", "404")),
        "/api/estates/search": _get("api_estate_search", "Estates whose name contains q", "Estates", [
            _q("q", "part of the name (at most 100 characters)", {"type": "string"}),
            _q("limit", "at most this many (1-50, default 20)", {"type": "string"})], JSON,
            {"type": "object", "required": ["results"], "properties": {
                "results": {"type": "array", "items": {"type": "object"}}}}),
        "/api/layers/{name}": _get("api_layer", "A context layer as GeoJSON", "Layers", [
            _path("name", "the layer", {"type": "string", "enum": context_layers}), COORDS],
            GEOJSON, fc, ("400", "404")),
        "/api/stats": _get("api_stats", "The statistics table", "Statistics",
                           [group_by, *estate_filters(), LANG], JSON, stats),
        "/api/health": _get("api_health", "Liveness, store revision and backend", "Service", [], JSON, {
            "type": "object", "required": ["status", "revision"], "properties": {
                "status": {"type": "string"}, "revision": {"type": "integer"}, "backend": {"type": "string"}}},
            errors=()),
        "/api/street-offices": _get("api_street_offices", "Every street office with its outline", "Spatial",
                                    [COORDS], GEOJSON, fc),
        "/api/street-offices/{code}": _get("api_street_office", "One street office", "Spatial",
                                           [office, COORDS], GEOJSON, feature, ("400", "404")),
        "/api/street-offices/{code}/estates": _get(
            "api_street_office_estates", "Estates in the street office by geometry, with straddle and "
            "mismatch flags", "Spatial", [office, COORDS], GEOJSON, fc, ("400", "404")),
        "/api/street-offices/{code}/stats": _get("api_street_office_stats", "The office's figures by status",
                                                 "Spatial", [office, LANG], JSON, stats, ("400", "404")),
        "/api/estates/nearby": _get("api_nearby", "Estates near a point (distance to the edge, bearing)",
                                    "Spatial", [*point,
                                                _q("radius_m", "search radius in metres (0-50000); without it "
                                                   "the nearest `limit`", {"type": "number", "minimum": 0,
                                                                           "maximum": 50000}),
                                                _q("limit", "at most this many (1-200, default 20)",
                                                   {"type": "integer", "minimum": 1, "maximum": 200}),
                                                *estate_filters(), COORDS], JSON, fc),
        "/api/locate": _get("api_locate", "The street office and estate at a point", "Spatial", point, JSON, {
            "type": "object", "properties": {"street_office": {"type": "object", "nullable": True},
                                             "estate": {"type": "object", "nullable": True}}}),
        "/api/qa": _get("api_qa", "Data QA report", "Spatial", [], JSON, {"type": "object"}, errors=()),
        "/api/query": _get("api_query", "Estates meeting a drawn polygon, or a buffer around a line or point",
                           "Spatial", estate_filters(), JSON, fc, method="post", body={
                               "type": "object", "required": ["geometry"], "properties": {
                                   "geometry": {"type": "object", "required": ["type", "coordinates"],
                                                "properties": {"type": {"type": "string", "enum": [
                                                    "Polygon", "MultiPolygon", "LineString", "MultiLineString",
                                                    "Point"]}, "coordinates": {"type": "array"}}},
                                   "buffer_m": {"type": "number", "minimum": 0, "maximum": 5000},
                                   "coords": {"type": "string", "enum": ["wgs84", "gcj02"]}}}),
        "/api/export/{layer}": _export_operation(layers),
        **_account_and_field_paths(fc, feature),
        "/api/openapi.json": _get("openapi", "This OpenAPI document", "Service", [], JSON, {"type": "object"},
                                  errors=()),
        "/api/docs": _get("api_docs", "This document in Swagger UI", "Service", [], "text/html",
                          {"type": "string"}, errors=()),
        "/dashboard": _get("dashboard", "The dashboard page", "Pages", [*estate_filters(), LANG], "text/html",
                           {"type": "string"}),
        "/dashboard.xlsx": _get("dashboard_xlsx", "The dashboard's tables as an Excel workbook", "Pages",
                                [*estate_filters(), LANG], XLSX, {"type": "string", "format": "binary"}),
    }


def _export_operation(layers: dict[str, LayerDef]) -> dict:
    """GET /api/export/{layer}: one layer as a file in any export format (core/export)."""
    from .export import FORMATS

    params = [
        _path("layer", "the layer", {"type": "string", "enum": list(layers)}), *estate_filters(),
        _q("ids", "feature ids, comma-separated (at most 10,000)", {"type": "string"}),
        _q("within_office", "a street office's code: the estates inside it by geometry", {"type": "string"}),
        _q("format", "file format", {"type": "string", "enum": list(FORMATS), "default": "geojson"}),
        COORDS,
        _q("bbox_coords", "coordinates of bbox: wgs84 (default) or gcj02 (a view over Amap tiles)",
           {"type": "string", "enum": ["wgs84", "gcj02"]}),
        _q("precision", "decimals of a degree, 1-15 (default 7, about 1 cm)",
           {"type": "integer", "minimum": 1, "maximum": 15}),
        _q("with_bbox", "1: GeoJSON bbox on each feature and the collection", {"type": "string", "enum": ["0", "1"]}),
        _q("csv_geometry", "CSV geometry: wkt (default) or centroid lon/lat",
           {"type": "string", "enum": ["wkt", "centroid"]}),
        _q("headers", "CSV/Excel column titles: field (names, default), zh or en (labels)",
           {"type": "string", "enum": ["field", "zh", "en"]}),
        LANG,
    ]
    operation = _get("api_export", "A layer as a file (GeoJSON, GeoPackage, zipped Shapefile, KML, CSV, Excel), "
                     "filtered as the map filters, streamed", "Export", params, GEOJSON, {"type": "object"},
                     # 401/403: a layer with a read_role (inspections) for those below it.
                     ("400", "401", "403", "404") if any(d.read_role for d in layers.values()) else ("400", "404"))
    content = operation["get"]["responses"]["200"]["content"]
    for f in FORMATS.values():
        content.setdefault(f.media_type.split(";")[0], {"schema": {"type": "string", "format": "binary"}})
    return operation


def _account_and_field_paths(fc: dict, feature: dict) -> dict:
    """The signed-in part of /api: who am I, inspections (they name people), the audit log, and the
    planner's edit. Each answers 401 without a session or an API token (Authorization: Bearer),
    403 to a smaller role."""
    signed_in, edits = ("400", "401", "403"), ("400", "401", "403", "404")
    estate_id = _path("estate_id", "the estate's id", {"type": "integer"})
    limit = _q("limit", "at most this many (1-10000)", {"type": "integer", "minimum": 1, "maximum": 10000})
    inspection = {"type": "object", "description": "multipart: `inspection` (JSON with lon, lat, accuracy_m, "
                  "checklist, progress_estimate_pct, notes, verdict, client_id, device_time) and `photos`"}
    edit = {"type": "object", "required": ["version", "reason"], "properties": {
        "version": {"type": "integer", "description": "the version the edit starts from (409 when stale)"},
        "reason": {"type": "string"}, "properties": {"type": "object"}, "geometry": {"type": "object"},
        "confirm_overlap": {"type": "boolean"}}}
    return {
        "/api/me": _get("api_me", "The caller: user name, role, session or token", "Accounts", [], JSON,
                        {"type": "object"}, ("401",)),
        "/api/estates/{estate_id}/inspections": {
            **_get("api_estate_inspections", "An estate's inspections, newest first (signed in)", "Inspections",
                   [estate_id, limit], GEOJSON, fc, edits),
            **_get("api_add_inspection", "Record an inspection (inspector; idempotent by client_id)",
                   "Inspections", [estate_id], GEOJSON, feature, edits, method="post", body=inspection)},
        "/api/inspections": _get("api_inspections", "Inspections (signed in)", "Inspections", [
            _q("estate", "estate ids, comma-separated", {"type": "string"}),
            _q("inspector", "the inspector's user name", {"type": "string"}),
            _q("since", "ISO date or time (UTC)", {"type": "string"}), limit, COORDS], GEOJSON, fc, signed_in),
        "/api/inspections/latest": _get("api_inspections_latest", "Each estate's latest inspection (signed in)",
                                        "Inspections", [COORDS], GEOJSON, fc, signed_in),
        "/api/inspections/overdue": _get("api_inspections_overdue", "Estates not inspected in `days` days "
                                         "(signed in)", "Inspections", [
            _q("days", "days (1-3650; default inspections.overdue_days)", {"type": "integer", "minimum": 1,
                                                                           "maximum": 3650}),
            _q("street_office", "a street office's name", {"type": "string"}), COORDS], GEOJSON, fc, signed_in),
        "/api/audit": _get("api_audit", "The audit log (planners): who changed what, when, why", "Editing", [
            _q("format", "csv (UTF-8 with BOM) or json", {"type": "string", "enum": ["csv", "json"]}),
            _q("estate", "an estate's code", {"type": "string"}), _q("user", "a user name", {"type": "string"}),
            _q("from", "first day (Beijing time)", {"type": "string", "format": "date"}),
            _q("to", "last day, inclusive", {"type": "string", "format": "date"})], JSON, {"type": "object"},
            signed_in),
        "/api/estates/{estate_id}#patch": _get("api_edit_estate", "Edit an estate (planner): version, reason, "
                                               "properties and/or geometry", "Editing", [estate_id], GEOJSON,
                                               feature, edits, method="patch", body=edit),
    }


def app_schemas() -> dict:
    """Schemas of the /api answers that are not GeoJSON."""
    row = {"type": "object", "required": ["key", "label", "estates"], "properties": {
        "key": {"type": "object"}, "label": {"type": "string"}, "estates": {"type": "integer"},
        "status_counts": {"type": "object", "additionalProperties": {"type": "integer"}}}}
    return {
        "StatsTable": {"type": "object", "required": ["group_by", "columns", "rows", "total"], "properties": {
            "group_by": {"type": "string"}, "revision": {"type": "integer"},
            "columns": {"type": "object", "additionalProperties": {"type": "string"}},
            "rows": {"type": "array", "items": row}, "total": row}},
    }
