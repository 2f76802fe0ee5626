"""JSON API under /api: estates and layers as GeoJSON, search, stats, health."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..core import estates as estate_queries
from ..core import stats
from ..core.geojson import check_coordinate_system, feature_collection, feature_to_geojson
from ..errors import NotFound
from ..storage import FeatureQuery
from . import get_store
from .auth import public
from .i18n import current_locale
from .params import parse_choice, parse_estate_filters, parse_int_list, parse_text
from .responses import json_response

bp = Blueprint("api", __name__)

# Layers served whole at /api/layers/<name>; estates have their own, filterable endpoint.
CONTEXT_LAYERS = ("district", "street_offices", "zones", "facilities")


@bp.get("/estates")
def estates():
    """Estates matching the filters, as GeoJSON. `view=map` sends only what the map draws."""
    store = get_store()
    query = parse_estate_filters(request.args)
    coords = check_coordinate_system(request.args.get("coords"))
    view = parse_choice(request.args, "view", ("full", "map"), default="full")
    revision = store.revision()  # before the read: the body is never older than its ETag says

    if view == "map":
        query = estate_queries.map_query(query)

    def body():  # built only when neither the client's copy (304) nor a kept body will do
        features = store.features("estates", query)
        return feature_collection(features, precision=6 if view == "map" else 7, coords=coords,
                                  numberMatched=len(features), revision=revision)

    return json_response(body, revision=revision, mimetype="application/geo+json")


@bp.get("/estates/<int:estate_id>")
def estate(estate_id: int):
    """One estate with every attribute, as a GeoJSON Feature."""
    store = get_store()
    coords = check_coordinate_system(request.args.get("coords"))
    revision = store.revision()  # before the read, as above
    found = store.get("estates", estate_id)
    # The version an edit (PATCH) must name; a GeoJSON foreign member beside id and properties.
    feature = {**feature_to_geojson(found, coords=coords), "version": found.version}
    filename = f"estate_{feature['properties']['code']}.geojson" if request.args.get("download") else None
    return json_response(feature, revision=revision, mimetype="application/geo+json", filename=filename)


@bp.get("/estates/search")
def search():
    """Estates whose name contains `q`: id, name, office, status and where to fly to."""
    q = parse_text(request.args, "q")
    limit = (parse_int_list(request.args, "limit", 1, 50) or [20])[0]
    if not q:
        return jsonify({"results": []})
    return jsonify({"results": estate_queries.search_by_name(get_store(), q, limit)})


@bp.get("/layers/<name>")
def layer(name: str):
    """A context layer (district, street offices, zones, facilities) as GeoJSON."""
    if name not in CONTEXT_LAYERS:
        raise NotFound(f"unknown layer '{name}'; layers: {', '.join(CONTEXT_LAYERS)}")
    store = get_store()
    coords = check_coordinate_system(request.args.get("coords"))
    revision = store.revision()
    return json_response(lambda: feature_collection(store.features(name, FeatureQuery()), precision=6,
                                                    coords=coords, revision=revision),
                         revision=revision, mimetype="application/geo+json")


@bp.get("/stats")
def estate_stats():
    """Aggregates per batch, street office or status (the letter's table), filterable."""
    group_by = parse_choice(request.args, "group_by", tuple(stats.GROUPINGS), default="batch")
    query = parse_estate_filters(request.args)
    return jsonify(stats.estate_stats(get_store(), group_by, query, locale=current_locale()))


@bp.get("/health")
@public  # load balancers ask without signing in
def health():
    """Liveness and the store revision, for load balancers and scripts."""
    store = get_store()
    return jsonify({"status": "ok", "revision": store.revision(), "backend": type(store).__name__})
