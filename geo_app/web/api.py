"""JSON API under /api."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..core import stats
from . import get_store
from .i18n import current_locale
from .params import parse_choice, parse_estate_filters

bp = Blueprint("api", __name__)


@bp.get("/stats")
def estate_stats():
    """Aggregates per batch, street office or status (the letter's table), filterable."""
    group_by = parse_choice(request.args, "group_by", tuple(stats.GROUPINGS), default="batch")
    query = parse_estate_filters(request.args)
    return jsonify(stats.estate_stats(get_store(), group_by, query, locale=current_locale()))


@bp.get("/health")
def health():
    """Liveness and the store revision, for load balancers and scripts."""
    store = get_store()
    return jsonify({"status": "ok", "revision": store.revision(), "backend": type(store).__name__})
