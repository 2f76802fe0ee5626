"""Spatial JSON API under /api: street offices by geometry, nearby, locate, drawn-shape queries, QA."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..core import spatial
from ..core.geojson import check_coordinate_system, feature_collection, feature_to_geojson
from ..core.stats import estate_stats
from ..errors import InvalidParameter
from ..storage import Feature, FeatureQuery
from . import get_store
from .auth import read_only
from .i18n import current_locale
from .params import parse_estate_filters
from .responses import json_response

bp = Blueprint("spatial_api", __name__)

MAX_RADIUS_M = 50_000
MAX_NEARBY = 200


def _number(name: str, default, lo: float, hi: float, integer: bool = False):
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise InvalidParameter(f"{name} must be a number, got {raw!r}", parameter=name) from None
    if not lo <= value <= hi:
        raise InvalidParameter(f"{name} must be between {lo:g} and {hi:g}", parameter=name)
    return value


@bp.get("/street-offices")
def street_offices():
    """Every street office (town) with its outline."""
    store = get_store()
    coords = check_coordinate_system(request.args.get("coords"))
    return json_response(feature_collection(store.features("street_offices", FeatureQuery(order_by="id")),
                                            coords=coords), revision=store.revision(), mimetype="application/geo+json")


@bp.get("/street-offices/<code>")
def street_office(code: str):
    store = get_store()
    coords = check_coordinate_system(request.args.get("coords"))
    return json_response(feature_to_geojson(spatial.office_by_code(store, code), coords=coords),
                         revision=store.revision(), mimetype="application/geo+json")


@bp.get("/street-offices/<code>/estates")
def street_office_estates(code: str):
    """Estates belonging to the office by geometry, flagged when they straddle or disagree."""
    store = get_store()
    coords = check_coordinate_system(request.args.get("coords"))
    _office, estates, members = spatial.estates_of_office(store, code)
    flagged = [Feature(f.id, {**f.properties, "straddles": members[f.id].straddles,
                              "attribute_mismatch": members[f.id].mismatch}, f.geometry) for f in estates]
    return json_response(feature_collection(flagged, coords=coords, numberMatched=len(flagged)),
                         revision=store.revision(), mimetype="application/geo+json")


@bp.get("/street-offices/<code>/stats")
def street_office_stats(code: str):
    """The office's aggregates over the estates that lie in it by geometry, by status."""
    store = get_store()
    _office, estates, _members = spatial.estates_of_office(store, code)
    table = estate_stats(store, "status", FeatureQuery(ids=tuple(f.id for f in estates)), locale=current_locale())
    return jsonify({"street_office": code, **table})


@bp.get("/estates/nearby")
def nearby():
    """Estates within radius_m of lon/lat (or the `limit` nearest when radius_m is omitted)."""
    store = get_store()
    lon, lat = spatial.check_point(request.args.get("lon"), request.args.get("lat"))
    radius = _number("radius_m", None, 0, MAX_RADIUS_M)
    limit = _number("limit", 20, 1, MAX_NEARBY, integer=True)
    coords = check_coordinate_system(request.args.get("coords"))
    found = store.nearby("estates", lon, lat, radius, limit, parse_estate_filters(request.args))
    features = [Feature(f.id, {**f.properties, "distance_m": round(d, 1),
                               "bearing_deg": None if b is None else round(b, 1)}, f.geometry) for f, d, b in found]
    return jsonify(feature_collection(features, coords=coords, numberReturned=len(features)))


@bp.get("/locate")
def locate():
    """The street office and the estate at a point."""
    lon, lat = spatial.check_point(request.args.get("lon"), request.args.get("lat"))
    found = spatial.locate(get_store(), lon, lat)
    return jsonify({name: None if f is None else {"id": f.id, **f.properties} for name, f in found.items()})


@bp.post("/query")
@read_only  # a query whose shape is too big for a URL: it changes nothing
def query():
    """Estates meeting a drawn polygon, or a buffer of buffer_m metres around a line or point."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidParameter("the body must be JSON: {\"geometry\": {...}, \"buffer_m\": 0}", parameter="body")
    geom = spatial.geometry_from_geojson(body.get("geometry"))
    try:
        buffer_m = float(body.get("buffer_m") or 0)
    except (TypeError, ValueError):
        raise InvalidParameter("buffer_m must be a number of metres", parameter="buffer_m") from None
    coords = check_coordinate_system(body.get("coords"))
    found = spatial.estates_meeting(get_store(), geom, buffer_m, parse_estate_filters(request.args))
    return jsonify(feature_collection(found, coords=coords, numberMatched=len(found)))


@bp.get("/qa")
def qa():
    """The data QA report."""
    return jsonify(spatial.qa_report(get_store()))
