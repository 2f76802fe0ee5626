"""The OpenAPI 3.0 document of the whole service: the OGC API under /ogcapi and the JSON API under /api.

Built from the layer definitions (one set of item paths per collection, its queryables as typed
query parameters) and from the routes the app really has: a documented /api path appears only
when the app serves it (`routes`), so the document never promises an endpoint that is not there.
Served at /ogcapi/api and /api/openapi.json; /api/docs shows it with Swagger UI.
"""

from __future__ import annotations

import re

from ..layers import LayerDef
from .ogcapi import MEDIA, SERVICE
from .ogcapi_crs import crs_uris
from .ogcapi_params import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET
from .openapi_app import app_paths, app_schemas

JSON_OR_HTML = ("json", "html")
OGC_PREFIX = "/ogcapi"  # where the web layer mounts the OGC API


def _ref(kind: str, name: str) -> dict:
    return {"$ref": f"#/components/{kind}/{name}"}


def _content(schema: dict, media: str, html: bool = True) -> dict:
    content = {media: {"schema": schema}}
    if html:
        content["text/html"] = {"schema": {"type": "string"}}
    return content


def _ok(description: str, schema_name: str, media: str = MEDIA["json"], html: bool = True,
        headers: dict | None = None) -> dict:
    response = {"description": description, "content": _content(_ref("schemas", schema_name), media, html)}
    if headers:
        response["headers"] = headers
    return response


def _operation(operation_id: str, summary: str, tag: str, params: list, ok: dict, errors=("400",)) -> dict:
    responses = {"200": ok}
    for code in errors:
        responses[code] = _ref("responses", {"400": "BadRequest", "401": "Unauthorized", "404": "NotFound",
                                             "403": "Forbidden"}[code])
    responses["500"] = _ref("responses", "ServerError")
    return {"get": {"operationId": operation_id, "summary": summary, "tags": [tag],
                    "parameters": params, "responses": responses}}


def _query(name: str, description: str, schema: dict, **extra) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema,
            "style": "form", "explode": False, **extra}


CONTENT_CRS = {"Content-Crs": {"description": "the CRS of the coordinates, as <URI>",
                               "schema": {"type": "string"}}}


def ogc_parameters() -> dict:
    """The OGC API's shared query parameters."""
    crs = {"type": "string", "format": "uri", "enum": crs_uris()}
    return {
        "f": _query("f", "Encoding: json (GeoJSON for features) or html. Without it the Accept header decides.",
                    {"type": "string", "enum": list(JSON_OR_HTML)}),
        "limit": _query("limit", f"Features per page: 1 to {MAX_LIMIT}, default {DEFAULT_LIMIT}. Larger values "
                        f"are clamped to {MAX_LIMIT} (the response then holds at most {MAX_LIMIT}).",
                        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}),
        "offset": _query("offset", "How many matching features to skip (paging; follow the next/prev links).",
                         {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}),
        "bbox": _query("bbox", "Features meeting this box: lower corner then upper corner, in the axis order "
                       "of bbox-crs (CRS84: minLon,minLat,maxLon,maxLat). Six numbers (with heights) are "
                       "accepted; heights are ignored.",
                       {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}),
        "bbox-crs": _query("bbox-crs", "CRS of bbox (default CRS84).", crs),
        "crs": _query("crs", "CRS of the response's coordinates (default CRS84), in its axis order: EPSG:4326 "
                      "and EPSG:4490 latitude first, EPSG:4548 northing first.", crs),
        "datetime": _query("datetime", "RFC 3339 instant or interval (a/b, open ends ..). Checked, not applied: "
                           "no collection here has a primary temporal property; filter on the date "
                           "properties with `filter` instead.", {"type": "string"}),
        "filter": _query("filter", "CQL2 filter (Part 3): comparisons, AND/OR/NOT, LIKE, IN, BETWEEN, IS NULL, "
                         "S_INTERSECTS(geometry, …). Properties: the collection's queryables.",
                         {"type": "string"}),
        "filter-lang": _query("filter-lang", "Language of filter (default cql2-text).",
                              {"type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text"}),
        "filter-crs": _query("filter-crs", "CRS of the geometries in filter (default CRS84).", crs),
        "properties": _query("properties", "Only these properties in the response (comma-separated).",
                             {"type": "array", "items": {"type": "string"}}),
    }


def collection_paths(layer: LayerDef) -> dict:
    """The collection, items, item and queryables paths of one layer."""
    name, base = layer.name, f"{OGC_PREFIX}/collections/{layer.name}"
    shared = [_ref("parameters", p) for p in ogc_parameters() if p != "f"]
    field_params = [_query(f.name, f"Only features whose {f.name} ({f.label_en}) equals this "
                           f"{'code' if f.multiple else 'value'}.", _field_schema(f)) for f in layer.fields]
    sortby = _query("sortby", "Sort keys, comma-separated, + ascending (default) or - descending, e.g. "
                    "+name,-households. NULLs come last.",
                    {"type": "array", "items": {"type": "string",
                                                "pattern": f"^[+-]?({'|'.join(layer.field_names)})$"}})
    f_param = _ref("parameters", "f")
    # A layer with a read_role (inspections) answers 401/403 to those below it.
    guarded = ("401", "403") if layer.read_role else ()
    item_id = {"name": "featureId", "in": "path", "required": True, "description": "the feature's id",
               "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"}}
    return {
        base: _operation(f"describe_{name}", f"The {layer.title_en} collection", "Collections", [f_param],
                         _ok("the collection", "Collection"), errors=()),
        f"{base}/items": _operation(f"items_{name}", f"{layer.title_en}: features", "Features",
                                    [f_param, *shared, sortby, *field_params],
                                    _ok("a page of features", "FeatureCollection", MEDIA["geojson"],
                                        headers=CONTENT_CRS), errors=("400", *guarded)),
        f"{base}/items/{{featureId}}": _operation(
            f"item_{name}", f"{layer.title_en}: one feature", "Features",
            [item_id, f_param, _ref("parameters", "crs"), _ref("parameters", "properties")],
            _ok("the feature", "Feature", MEDIA["geojson"], headers=CONTENT_CRS), errors=("400", "404", *guarded)),
        f"{base}/queryables": _operation(f"queryables_{name}", f"{layer.title_en}: queryables", "Collections",
                                         [f_param], _ok("JSON Schema of the queryables", "Queryables",
                                                        MEDIA["schema"]), errors=("400",)),
    }


def _field_schema(field) -> dict:
    return {"text": {"type": "string"}, "integer": {"type": "integer"}, "real": {"type": "number"},
            "date": {"type": "string", "format": "date"}}[field.type]


def ogc_paths(layers: dict[str, LayerDef]) -> dict:
    """Landing page, conformance, collections and every collection's paths."""
    f_param = [_ref("parameters", "f")]
    paths = {
        OGC_PREFIX: _operation("landing", "Landing page", "Capabilities", f_param,
                              _ok("the landing page", "LandingPage")),
        f"{OGC_PREFIX}/conformance": _operation("conformance", "Conformance classes", "Capabilities", f_param,
                                          _ok("the conformance classes", "Conformance")),
        f"{OGC_PREFIX}/collections": _operation("collections", "Collections", "Collections", f_param,
                                          _ok("every collection", "Collections")),
        f"{OGC_PREFIX}/api": {"get": {"operationId": "openapi_ogcapi", "summary": "This OpenAPI document",
                                "tags": ["Capabilities"],
                                "responses": {"200": {"description": "OpenAPI 3.0 (JSON)", "content": {
                                    MEDIA["openapi"]: {"schema": {"type": "object"}}}}}}},
    }
    for layer in layers.values():
        paths.update(collection_paths(layer))
    return paths


def _link_schema() -> dict:
    return {"type": "object", "required": ["href"], "properties": {
        "href": {"type": "string"}, "rel": {"type": "string"}, "type": {"type": "string"},
        "title": {"type": "string"}}}


def ogc_schemas() -> dict:
    """Response schemas of the OGC API (the parts clients rely on; the OGC's own are far larger)."""
    links = {"type": "array", "items": _ref("schemas", "Link")}
    geometry = {"type": "object", "nullable": True, "required": ["type"], "properties": {
        "type": {"type": "string", "enum": ["Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                                            "MultiPolygon", "GeometryCollection"]},
        "coordinates": {"type": "array"}}}
    feature = {"type": "object", "required": ["type", "geometry", "properties"], "properties": {
        "type": {"type": "string", "enum": ["Feature"]}, "id": {"type": "integer"},
        "geometry": _ref("schemas", "Geometry"), "properties": {"type": "object", "nullable": True},
        "links": links}}
    return {
        "Link": _link_schema(),
        "Exception": {"type": "object", "required": ["code", "description"], "properties": {
            "code": {"type": "string"}, "description": {"type": "string"}, "parameter": {"type": "string"}}},
        "LandingPage": {"type": "object", "required": ["links"], "properties": {
            "title": {"type": "string"}, "description": {"type": "string"}, "links": links}},
        "Conformance": {"type": "object", "required": ["conformsTo"], "properties": {
            "conformsTo": {"type": "array", "items": {"type": "string"}}, "links": links}},
        "Collection": {"type": "object", "required": ["id", "links"], "properties": {
            "id": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
            "links": links, "itemType": {"type": "string"},
            "crs": {"type": "array", "items": {"type": "string"}}, "storageCrs": {"type": "string"},
            "extent": {"type": "object", "properties": {"spatial": {"type": "object", "properties": {
                "bbox": {"type": "array", "items": {"type": "array", "minItems": 4, "maxItems": 6,
                                                   "items": {"type": "number"}}},
                "crs": {"type": "string"}}}}}}},
        "Collections": {"type": "object", "required": ["links", "collections"], "properties": {
            "links": links, "collections": {"type": "array", "items": _ref("schemas", "Collection")},
            "crs": {"type": "array", "items": {"type": "string"}}}},
        "Geometry": geometry,
        "Feature": feature,
        "FeatureCollection": {"type": "object", "required": ["type", "features"], "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": _ref("schemas", "Feature")}, "links": links,
            "numberMatched": {"type": "integer", "minimum": 0}, "numberReturned": {"type": "integer", "minimum": 0},
            "timeStamp": {"type": "string", "format": "date-time"}}},
        "Queryables": {"type": "object", "required": ["type", "properties"], "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "properties": {"type": "object"}}},
    }


def responses() -> dict:
    def error(description):
        return {"description": description, "content": {MEDIA["json"]: {"schema": _ref("schemas", "Exception")}}}

    return {"BadRequest": error("a parameter is wrong; `parameter` names it"),
            "NotFound": error("no such resource"),
            "Unauthorized": error("sign in (session) or send an API token (Authorization: Bearer …)"),
            "Forbidden": error("signed in, but the role is too small"),
            "ServerError": error("the server failed (never for bad input)")}


def openapi_document(layers: dict[str, LayerDef], host_url: str, routes: set[tuple[str, str]],
                     locale: str = "zh", ogc_server: bool = False) -> dict:
    """The OpenAPI 3.0 document. `routes`: (METHOD, path with {params}) pairs the app serves.

    With `ogc_server` (as served at /ogcapi/api) the server is the OGC API's landing page and its
    paths are relative to it (`/collections/estates/items`), which is where OGC clients such as
    GDAL look for an operation's parameters; the /api paths then name the host as their server.
    Without it (/api/openapi.json) the server is the host and every path is absolute.
    """
    title, description = SERVICE[locale]
    host = host_url.rstrip("/")
    paths = ogc_paths(layers)
    if ogc_server:
        paths = {(path[len(OGC_PREFIX):] or "/"): item for path, item in paths.items()}
    served = {(method, _shape(path)) for method, path in routes}
    for path, item in app_paths(layers).items():
        kept = {m: op for m, op in item.items() if (m.upper(), _shape(path)) in served}
        if kept:
            paths[path] = {**kept, "servers": [{"url": host or "/"}]} if ogc_server else kept
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "description": description, "version": "1.0.0",
                 "license": {"name": "MIT"}},
        "servers": [{"url": (host + OGC_PREFIX) if ogc_server else (host or "/")}],
        "tags": [{"name": t} for t in ("Capabilities", "Collections", "Features", "Estates", "Layers",
                                       "Statistics", "Spatial", "Accounts", "Inspections", "Editing", "Service",
                                       "Pages")],
        "paths": paths,
        "components": {"parameters": ogc_parameters(), "schemas": {**ogc_schemas(), **app_schemas()},
                       "responses": responses(),
                       # API tokens (created on /account or with `geo-app tokens create`), for scripts
                       # and QGIS; a browser's session cookie works as well.
                       "securitySchemes": {"bearerToken": {"type": "http", "scheme": "bearer"}}},
        "security": [{}, {"bearerToken": []}],
    }


def _shape(path: str) -> str:
    """A path with its parameter names erased, so /a/{id} and /a/{code} compare equal."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def flask_rule_to_path(rule: str) -> str:
    """A Flask rule (/api/estates/<int:estate_id>) in OpenAPI form (/api/estates/{estate_id})."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)
