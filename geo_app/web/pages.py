"""HTML pages. The start page: the district overview map."""

from __future__ import annotations

import threading

from flask import Blueprint, current_app, render_template

from ..core.maps import MapAssets, build_start_map
from . import get_config, get_store
from .assets import vendor_url
from .i18n import current_locale

bp = Blueprint("pages", __name__)



class MapCache:
    """Built maps keyed by (store revision, locale): any write anywhere changes the revision, so
    a worker never serves a stale map, and an unchanged store is not re-rendered per request."""

    def __init__(self):
        self._maps: dict[tuple, object] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple):
        with self._lock:
            return self._maps.get(key)

    def put(self, key: tuple, value) -> None:
        with self._lock:
            for stale in [k for k in self._maps if k[0] != key[0]]:
                del self._maps[stale]  # only the current revision is worth keeping
            self._maps[key] = value


@bp.record_once
def _attach_cache(state) -> None:
    state.app.extensions["geo_app.map_cache"] = MapCache()


@bp.get("/")
def index():
    store, config, locale = get_store(), get_config(), current_locale()
    cache = current_app.extensions["geo_app.map_cache"]
    key = (store.revision(), locale)
    parts = cache.get(key)
    if parts is None:
        assets = MapAssets(leaflet_js=vendor_url("leaflet", "dist/leaflet.js"),
                           leaflet_css=vendor_url("leaflet", "dist/leaflet.css"))
        parts = build_start_map(
            store, assets, center=(config.map.center_lon, config.map.center_lat), zoom=config.map.zoom,
            tile_url=config.map.tile_url, tile_attribution=config.map.tile_attribution, locale=locale)
        cache.put(key, parts)
    return render_template("index.html", map=parts)
