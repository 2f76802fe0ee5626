"""OGC API – Features at /ogcapi, the OpenAPI document at /api/openapi.json and Swagger UI at /api/docs.

Thin: each route picks the encoding (`f`, else the Accept header), asks `core.ogcapi.OgcApi` for
the resource and encodes it, as JSON or through a `templates/ogcapi_*.html` page. Errors are the
app's JSON errors (geo_app/web/errors.py): 400 naming the parameter, 404 for an unknown
collection or feature.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, render_template, request, url_for

from ..core.ogcapi import MEDIA, OgcApi, Result
from ..core.ogcapi_crs import CRS84
from ..core.ogcapi_params import check_known, parse_format
from ..core.openapi import flask_rule_to_path, openapi_document
from . import get_config, get_store
from .auth import deny_unless_layer_readable
from .i18n import current_locale

bp = Blueprint("ogcapi", __name__)
docs = Blueprint("openapi_docs", __name__)

# What a JSON client may name in Accept for each encoding; anything else (or nothing) gets JSON.
_ACCEPTED = ["application/json", MEDIA["geojson"], MEDIA["schema"], "text/html"]


@bp.before_request
def _check_read_role():
    """A layer with a `read_role` (inspections) serves its features only to that role or above."""
    layer = get_store().layers.get((request.view_args or {}).get("collection_id", ""))
    if request.endpoint in ("ogcapi.items", "ogcapi.item"):
        return deny_unless_layer_readable(layer)
    return None


def negotiate() -> str:
    """`f=json|html` when given, else HTML for clients that prefer it (browsers), else JSON."""
    fmt = parse_format(request.args)
    if fmt:
        return fmt
    best = request.accept_mimetypes.best_match(_ACCEPTED, default="application/json")
    return "html" if best == "text/html" else "json"


def _service(fmt: str) -> OgcApi:
    return OgcApi(get_store(), url_for("ogcapi.landing", _external=True), current_locale(), fmt,
                  docs_url=url_for("openapi_docs.api_docs", _external=True))


def _encode(result: Result, fmt: str) -> Response:
    if fmt == "html":
        map_config = get_config().map
        # The map draws CRS84 only: other CRSs' coordinates are not longitude/latitude.
        show_map = result.kind in ("items", "item") and result.headers.get("Content-Crs") == f"<{CRS84}>"
        page = render_template(f"ogcapi_{result.kind}.html", doc=result.body, show_map=show_map,
                               tile_url=map_config.tile_url, tile_attribution=map_config.tile_attribution,
                               json_url=_alternate(result.body, "json"))
        response = Response(page, mimetype="text/html")
    else:
        body = json.dumps(result.body, ensure_ascii=False, separators=(",", ":"))
        response = Response(body, mimetype=result.media_type)
    response.headers.update(result.headers)
    response.vary.add("Accept")
    return response


def _alternate(body: dict, fmt: str) -> str | None:
    """The link to the same resource in the other encoding (the HTML pages offer "as JSON")."""
    for link in body.get("links", []):
        if link.get("rel") in ("self", "alternate") and f"f={fmt}" in link["href"]:
            return link["href"]
    return None


def _simple(name: str):
    """A resource without parameters besides f and lang."""
    fmt = negotiate()
    check_known(request.args, ("f", "lang"))
    return _encode(getattr(_service(fmt), name)(), fmt)


@bp.get("")
@bp.get("/")
def landing():
    """The landing page."""
    return _simple("landing")


@bp.get("/conformance")
def conformance():
    """The conformance classes."""
    return _simple("conformance")


@bp.get("/collections")
def collections():
    """Every collection."""
    return _simple("collections")


@bp.get("/collections/<collection_id>")
def collection(collection_id: str):
    """One collection."""
    fmt = negotiate()
    check_known(request.args, ("f", "lang"))
    return _encode(_service(fmt).collection(collection_id), fmt)


@bp.get("/collections/<collection_id>/queryables")
def queryables(collection_id: str):
    """The collection's queryables (JSON Schema)."""
    fmt = negotiate()
    check_known(request.args, ("f", "lang"))
    return _encode(_service(fmt).queryables(collection_id), fmt)


@bp.get("/collections/<collection_id>/items")
def items(collection_id: str):
    """A page of the collection's features."""
    fmt = negotiate()
    return _encode(_service(fmt).items(collection_id, request.args), fmt)


@bp.get("/collections/<collection_id>/items/<item_id>")
def item(collection_id: str, item_id: str):
    """One feature."""
    fmt = negotiate()
    return _encode(_service(fmt).item(collection_id, item_id, request.args), fmt)


def _document(ogc_server: bool) -> dict:
    routes = {(method, flask_rule_to_path(rule.rule)) for rule in current_app.url_map.iter_rules()
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    return openapi_document(get_store().layers, request.host_url, routes, current_locale(), ogc_server)


@bp.get("/api")
def openapi():
    """The OpenAPI document (the service-desc of the landing page)."""
    if negotiate() == "html" and request.args.get("f") == "html":
        return api_docs()
    return Response(json.dumps(_document(ogc_server=True), ensure_ascii=False), mimetype=MEDIA["openapi"])


@docs.get("/api/openapi.json")
def openapi_json():
    """The same OpenAPI document, as plain JSON."""
    return Response(json.dumps(_document(ogc_server=False), ensure_ascii=False), mimetype="application/json")


@docs.get("/api/docs")
def api_docs():
    """Swagger UI over the OpenAPI document, served from the npm package (no CDN)."""
    return render_template("api_docs.html", spec_url=url_for("openapi_docs.openapi_json"))
