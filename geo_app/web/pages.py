"""HTML pages: the planner map, a street office's page, an estate's page."""

from __future__ import annotations

import threading

from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import lazy_gettext, lazy_pgettext

from ..core import basemaps as basemap_catalogue
from ..core import frontend_config
from ..core.maps import build_feature_map, build_planner_map, legend_html
from ..core.stats import estate_stats
from ..errors import NotFound
from ..storage import FeatureQuery
from . import get_config, get_store
from .assets import localise
from .auth import current_user
from .editing import history
from .i18n import current_locale
from .inspect_pages import estate_history
from .params import parse_estate_filters

bp = Blueprint("pages", __name__)

# Page texts the planner script reads as `ui.<key>` (static/js), translated per request. Lazy,
# because the locale is known only inside a request.
UI_STRINGS = {
    "layer_district": lazy_gettext("District"),
    "layer_offices": lazy_gettext("Street offices"),
    "layer_zones": lazy_gettext("Zones"),
    "layer_facilities": lazy_gettext("Facilities"),
    "layer_estates": lazy_pgettext("map layer", "Estates"),
    "total": lazy_gettext("Total"),
    "investment_wan": lazy_gettext("Investment (10k yuan)"),
    "items": lazy_gettext("Renovation items"),
    "item_done": lazy_gettext("done"),
    "item_planned": lazy_gettext("planned"),
    "details": lazy_gettext("Details"),
    "export_geojson": lazy_gettext("Export GeoJSON"),
    # Translators: followed by the list's limit, e.g. "1,200 (showing first 500)".
    "list_first": lazy_gettext("showing first"),
    "no_results": lazy_gettext("Nothing found"),
    # Translators: in the tooltip of a street office's status ring, shown when the map is zoomed out.
    "zoom_in_for_estates": lazy_gettext("Click or zoom in to see its estates"),
    # Translators: the time slider's label when it is off (the map shows today's state).
    "time_now": lazy_gettext("now"),
}


class MapCache:
    """Built map shells keyed by (store revision, locale): any write anywhere changes the revision,
    so a worker never serves a stale page, and an unchanged store is not re-rendered per request."""

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


def _basemaps():
    config = get_config()
    offered = basemap_catalogue.available_basemaps(config.map)
    return offered, basemap_catalogue.choose_default(offered, config.map.default_basemap)


@bp.get("/")
def planner_map():
    """The planner map: every estate by status, filters, list, figures, search, time view."""
    store, config, locale = get_store(), get_config(), current_locale()
    query = parse_estate_filters(request.args)  # a bad shared link is a 400 naming the filter
    cache = current_app.extensions["geo_app.map_cache"]
    key = (store.revision(), locale)
    cached = cache.get(key)
    if cached is None:
        offered, default = _basemaps()
        parts = build_planner_map(localise, center=(config.map.center_lon, config.map.center_lat),
                                  zoom=config.map.zoom, basemaps=offered, default=default, locale=locale)
        page_config = frontend_config.planner_config(store, locale, config.as_of, _api_urls())
        page_config["defaultCoords"] = default.coords
        cached = (parts, page_config)
        cache.put(key, cached)
    parts, page_config = cached
    ui = {key: str(text) for key, text in UI_STRINGS.items()}
    return render_template("map.html", map=parts, page_config=page_config, ui=ui,
                           legend=legend_html(locale), estate_total=store.count("estates", query))


def _api_urls() -> dict:
    return {
        "estates": url_for("api.estates"),
        "estate": url_for("api.estate", estate_id=0).rsplit("/", 1)[0] + "/",
        "search": url_for("api.search"),
        "layers": url_for("api.layer", name="x").rsplit("/", 1)[0] + "/",
        "stats": url_for("api.estate_stats"),
        "estatePage": url_for("pages.estate_page", estate_id=0).rsplit("/", 1)[0] + "/",
        "officePage": url_for("pages.street_office_page", code="x").rsplit("/", 1)[0] + "/",
    }


@bp.get("/street-offices/<code>")
def street_office_page(code: str):
    """One street office: its map, its estates in a sortable table, its aggregates."""
    store, locale = get_store(), current_locale()
    offices = store.features("street_offices", FeatureQuery.where(code=code))
    if not offices:
        raise NotFound(f"no street office with code {code!r}")
    office = offices[0]
    estates = store.features("estates", FeatureQuery.where(street_office=office.properties["name"], order_by="name"))
    figures = estate_stats(store, "status", FeatureQuery.where(street_office=office.properties["name"]),
                           locale=locale)["total"]
    offered, default = _basemaps()
    parts = build_feature_map(localise, estates, basemaps=offered, default=default, locale=locale,
                              outline=[office])
    return render_template("street_office.html", office=office, estates=estates, figures=figures, map=parts,
                           labels=frontend_config.labels(locale))


@bp.get("/estates/<int:estate_id>")
def estate_page(estate_id: int):
    """One estate: every attribute, a small map, renovation items, inspection history."""
    store, locale = get_store(), current_locale()
    estate = store.get("estates", estate_id)
    offered, default = _basemaps()
    parts = build_feature_map(localise, [estate], basemaps=offered, default=default, locale=locale)
    offices = store.features("street_offices", FeatureQuery.where(name=estate.properties["street_office"],
                                                                  with_geometry=False))
    rows = frontend_config.attribute_rows(store.layers["estates"], estate.properties, locale)
    # Who changed what is for signed-in staff, not for anonymous visitors of a public map.
    changes = history(store, estate_id, locale) if current_user() else None
    return render_template("estate.html", estate=estate, rows=rows, map=parts, history=changes,
                           inspections=estate_history(estate.id, locale), locale=locale,
                           office_code=offices[0].properties["code"] if offices else None,
                           items=frontend_config.item_rows(estate.properties, locale),
                           labels=frontend_config.labels(locale))
