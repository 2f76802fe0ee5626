"""Folium map builders. Framework-neutral: they take store data and asset URLs, return HTML parts.

Safety: text from the data never reaches `innerHTML`. Folium's GeoJsonTooltip/GeoJsonPopup insert
property values unescaped, so tooltips here are built in the browser from text nodes
(`textContent`), and the legend's text is escaped on the server.
"""

from __future__ import annotations

from dataclasses import dataclass

import folium
from markupsafe import escape

from ..domain import FACILITY_KINDS, RENOVATION_STATUS
from ..layers import LayerDef
from ..storage import FeatureQuery, Store
from .geojson import feature_collection

# Only what the start page needs of each estate; the full attribute set is the API's job.
ESTATE_MAP_FIELDS = ("code", "name", "street_office", "status", "households", "progress_pct")

# Builds a tooltip as DOM nodes so that names like "<img onerror=…>" show as text.
_TOOLTIP_JS = """
function (feature, layer) {
    var p = feature.properties, box = document.createElement("div");
    var title = document.createElement("b");
    title.textContent = p.name || "";
    box.appendChild(title);
    if (p._subtitle) {
        box.appendChild(document.createElement("br"));
        box.appendChild(document.createTextNode(p._subtitle));
    }
    layer.bindTooltip(box, {sticky: true});
}
"""

# Street-office names as permanent labels at their centres (text nodes again, never HTML).
_LABEL_JS = """
function (feature, layer) {
    var label = document.createElement("span");
    label.textContent = feature.properties.name || "";
    layer.bindTooltip(label, {permanent: true, direction: "center", className: "area-label"});
}
"""


@dataclass(frozen=True)
class MapAssets:
    """Where the page loads Leaflet from (served by the app itself, never a CDN)."""

    leaflet_js: str
    leaflet_css: str


@dataclass(frozen=True)
class MapParts:
    """The pieces a page template embeds: <head> additions, the map <div>, and its script."""

    head: str
    body: str
    script: str
    legend: str
    estate_count: int


def build_start_map(store: Store, assets: MapAssets, *, center: tuple[float, float], zoom: int,
                    tile_url: str, tile_attribution: str, locale: str = "zh") -> MapParts:
    """The district overview: outline, street offices, estates by status, facilities, legend."""
    m = folium.Map(location=[center[1], center[0]], zoom_start=zoom, tiles=None, control_scale=True,
                   prefer_canvas=False)
    # Replace folium's CDN assets: intranets and mainland networks often cannot reach them.
    m.default_js = [("leaflet", assets.leaflet_js)]
    m.default_css = [("leaflet_css", assets.leaflet_css)]
    if tile_url:
        folium.TileLayer(tiles=tile_url, attr=tile_attribution, name="basemap", max_zoom=19).add_to(m)
    layers = store.layers
    district = store.features("district")
    _add_outline(m, district, layers["district"], locale, _TOOLTIP_JS)
    _add_outline(m, store.features("street_offices"), layers["street_offices"], locale, _LABEL_JS)
    estates = store.features("estates", FeatureQuery())
    _add_estates(m, estates, layers["estates"], locale)
    _add_facilities(m, store, layers["facilities"], locale)
    folium.LayerControl(collapsed=True).add_to(m)
    if district:
        minx, miny, maxx, maxy = district[0].geometry.bounds
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    root = m.get_root()
    root.render()
    return MapParts(head=root.header.render(), body=root.html.render(), script=root.script.render(),
                    legend=legend_html(estates, locale), estate_count=len(estates))


def _slim(features, fields, subtitle=None):
    """Features with only the listed properties, plus a plain-text subtitle for the tooltip."""
    slim = []
    for f in features:
        props = {k: f.properties.get(k) for k in fields}
        if subtitle:
            props["_subtitle"] = subtitle(f.properties)
        slim.append(type(f)(f.id, props, f.geometry))
    return slim


def _add_outline(m: folium.Map, features, layer: LayerDef, locale: str, on_each_feature: str) -> None:
    style = layer.style
    features = _slim(features, ("code", "name"))
    folium.GeoJson(
        feature_collection(features, precision=6),
        name=layer.title(locale),
        style_function=lambda _f, s=style: {
            "color": s.get("color", "#333"), "weight": s.get("weight", 2),
            "fill": s.get("fill", True), "fillOpacity": s.get("fill_opacity", 0.05),
            "dashArray": s.get("dash_array"),
        },
        on_each_feature=folium.JsCode(on_each_feature),
    ).add_to(m)


def _add_estates(m: folium.Map, estates, layer: LayerDef, locale: str) -> None:
    def subtitle(p):
        status = RENOVATION_STATUS.label(p.get("status"), locale)
        return f"{p.get('street_office') or ''} · {status}"

    opacity = layer.style.get("fill_opacity", 0.65)
    folium.GeoJson(
        feature_collection(_slim(estates, ESTATE_MAP_FIELDS, subtitle), precision=6),
        name=layer.title(locale),
        style_function=lambda f: {
            # Outline in the fill colour: at district zoom a dark outline would hide the status.
            "color": _status_color(f["properties"]["status"]), "weight": layer.style.get("weight", 1),
            "fillColor": _status_color(f["properties"]["status"]), "fillOpacity": opacity,
        },
        highlight_function=lambda _f: {"weight": 3, "color": "#d50000"},
        on_each_feature=folium.JsCode(_TOOLTIP_JS),
    ).add_to(m)


def _status_color(code: str) -> str:
    return RENOVATION_STATUS[code].color if code in RENOVATION_STATUS else "#000000"


def _add_facilities(m: folium.Map, store: Store, layer: LayerDef, locale: str) -> None:
    features = _slim(store.features(layer.name), ("code", "name", "kind"),
                     lambda p: FACILITY_KINDS.label(p.get("kind"), locale))
    folium.GeoJson(
        feature_collection(features, precision=6),
        name=layer.title(locale),
        marker=folium.CircleMarker(radius=layer.style.get("radius", 5), fill=True, fill_opacity=0.9),
        style_function=lambda f: {"color": "#ffffff", "weight": 1,
                                  "fillColor": FACILITY_KINDS[f["properties"]["kind"]].color},
        on_each_feature=folium.JsCode(_TOOLTIP_JS),
    ).add_to(m)


def legend_html(estates, locale: str) -> str:
    """The status legend with live counts and the illustrative-data note, escaped HTML."""
    counts = {code: 0 for code in RENOVATION_STATUS.codes()}
    for f in estates:
        counts[f.properties["status"]] = counts.get(f.properties["status"], 0) + 1
    title = "改造状态" if locale == "zh" else "Renovation status"
    note = ("示例数据：小区及街道边界为示意，非真实测绘" if locale == "zh"
            else "示例数据 Illustrative data: estate and street-office boundaries are not surveyed")
    items = "".join(
        f'<li><span class="swatch" style="background:{escape(t.color)}"></span>'
        f'{escape(t.label(locale))} <span class="count" data-status="{escape(t.code)}">{counts[t.code]}</span></li>'
        for t in RENOVATION_STATUS)
    return (f'<div class="map-legend" id="map-legend"><div class="legend-title">{escape(title)}</div>'
            f'<ul>{items}</ul><div class="legend-note">{escape(note)}</div></div>')
