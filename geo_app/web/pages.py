"""HTML pages. The start page: the district overview map."""

from __future__ import annotations

import threading

from flask import Blueprint, render_template

from ..core.maps import MapAssets, build_start_map
from . import get_config, get_store
from .assets import vendor_url
from .i18n import current_locale

bp = Blueprint("pages", __name__)

# Built maps keyed by (store revision, locale): any write anywhere changes the revision, so a
# worker never serves a stale map, and an unchanged store is not re-rendered per request.
_map_cache: dict[tuple, object] = {}
_map_cache_lock = threading.Lock()


@bp.get("/")
def index():
    store, config, locale = get_store(), get_config(), current_locale()
    key = (id(store), store.revision(), locale)
    with _map_cache_lock:
        parts = _map_cache.get(key)
    if parts is None:
        assets = MapAssets(leaflet_js=vendor_url("leaflet", "leaflet.js"),
                           leaflet_css=vendor_url("leaflet", "leaflet.css"))
        parts = build_start_map(
            store, assets, center=(config.map.center_lon, config.map.center_lat), zoom=config.map.zoom,
            tile_url=config.map.tile_url, tile_attribution=config.map.tile_attribution, locale=locale)
        with _map_cache_lock:
            for stale in [k for k in _map_cache if k[:2] != key[:2]]:
                del _map_cache[stale]  # only the current revision is worth keeping
            _map_cache[key] = parts
    return render_template("index.html", map=parts)
