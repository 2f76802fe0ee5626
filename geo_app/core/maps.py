"""Folium map builders. Framework-neutral: they take config, data and asset URLs, return HTML parts.

The planner map is a Folium map (basemaps, controls, layer switcher) whose data overlays are filled
in the browser from the GeoJSON API, so filters, the list and the figures all follow one fetch, and
overlays can be re-fetched in GCJ-02 when an Amap basemap is chosen. The small maps of the detail
pages embed their few features directly.

Safety: text from the data never reaches `innerHTML`. Folium's GeoJsonTooltip/GeoJsonPopup insert
property values unescaped, so tooltips here are built in the browser from text nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import branca.element
import folium
import folium.plugins
from markupsafe import escape

from ..domain import RENOVATION_STATUS
from ..storage import Feature
from .basemaps import Basemap
from .geojson import feature_collection

# Builds a tooltip as DOM nodes so that names like "<img onerror=…>" show as text.
TOOLTIP_JS = """
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


@dataclass(frozen=True)
class MapParts:
    """The pieces a page template embeds: <head> additions, the map <div>, and its script."""

    head: str
    body: str
    script: str


class _Handle(branca.element.MacroElement):
    """Publishes the map and its layer control as `window.GeoApp`, for the page's own script.

    Folium declares them with `var`/`let` under generated names; this names them once.
    """

    _template = branca.element.Template("""
        {% macro script(this, kwargs) %}
        window.GeoApp = {map: {{ this._parent.get_name() }}, control: {{ this.control.get_name() }},
                         basemaps: {{ this.basemaps|tojson }}};
        {% endmacro %}
    """)

    def __init__(self, control, basemaps: dict):
        super().__init__()
        self.control = control
        self.basemaps = basemaps


def new_map(localise: Callable[[folium.Element], None], *, center: tuple[float, float], zoom: int,
            basemaps: list[Basemap], default: Basemap, locale: str) -> folium.Map:
    """A map with the offered basemaps (the default shown), no CDN assets.

    The caller adds the layer control last: Folium writes its script where it is added, and it
    must come after every layer it lists.
    """
    # maxZoom is stated so overlays (marker clusters) work even with no tile layer at all.
    m = folium.Map(location=[center[1], center[0]], zoom_start=zoom, tiles=None, control_scale=True,
                   maxZoom=19)
    localise(m)
    # Folium also loads jQuery, Bootstrap and marker icons by default; these pages use none of them.
    m.default_js = [(name, url) for name, url in m.default_js if name == "leaflet"]
    m.default_css = [(name, url) for name, url in m.default_css if name == "leaflet_css"]
    for basemap in [default, *(b for b in basemaps if b is not default)]:
        group = folium.FeatureGroup(name=basemap.title(locale), overlay=False, show=basemap is default)
        for source in basemap.tiles:
            folium.TileLayer(tiles=source.url, attr=basemap.attribution or " ", subdomains=source.subdomains,
                             max_zoom=basemap.max_zoom, max_native_zoom=basemap.max_zoom, control=False,
                             name=basemap.id).add_to(group)
        group.add_to(m)
    return m


def build_planner_map(localise: Callable[[folium.Element], None], *, center: tuple[float, float], zoom: int,
                      basemaps: list[Basemap], default: Basemap, locale: str) -> MapParts:
    """The planner's map shell: basemaps, scale, fullscreen, measure, mouse position, layer control.

    The page script adds the data overlays to `window.GeoApp.control`.
    """
    m = new_map(localise, center=center, zoom=zoom, basemaps=basemaps, default=default, locale=locale)
    for plugin in (
        folium.plugins.Fullscreen(position="topleft", title="全屏" if locale == "zh" else "Full screen",
                                  title_cancel="退出全屏" if locale == "zh" else "Exit full screen"),
        folium.plugins.MeasureControl(position="topleft", primary_length_unit="meters",
                                      primary_area_unit="sqmeters", secondary_length_unit="kilometers",
                                      secondary_area_unit="hectares"),
        folium.plugins.MousePosition(position="bottomleft", separator=" , ", num_digits=6, empty_string="",
                                     prefix="WGS84" if default.coords == "wgs84" else ""),
    ):
        localise(plugin)
        plugin.add_to(m)
    control = folium.LayerControl(collapsed=True).add_to(m)
    m.add_child(_Handle(control, {b.title(locale): b.coords for b in basemaps}))
    return _parts(m)


def build_feature_map(localise: Callable[[folium.Element], None], features: list[Feature], *,
                      basemaps: list[Basemap], default: Basemap, locale: str,
                      outline: list[Feature] = ()) -> MapParts:
    """A small map of a few estates (and an outline such as their street office), fitted to them."""
    anchor = (outline or features)[0].geometry.centroid if (outline or features) else None
    center = (anchor.x, anchor.y) if anchor is not None else (117.3, 34.8)
    m = new_map(localise, center=center, zoom=15, basemaps=basemaps, default=default, locale=locale)
    if outline:
        folium.GeoJson(feature_collection(_slim(outline, ("name",)), precision=6), name="outline",
                       style_function=lambda _f: {"color": "#3949ab", "weight": 2, "fill": False},
                       on_each_feature=folium.JsCode(TOOLTIP_JS)).add_to(m)
    if features:
        folium.GeoJson(
            feature_collection(_slim(features, ("code", "name", "status"),
                                     lambda p: RENOVATION_STATUS.label(p.get("status"), locale)), precision=6),
            name="estates",
            style_function=lambda f: {"color": status_color(f["properties"]["status"]), "weight": 2,
                                      "fillColor": status_color(f["properties"]["status"]), "fillOpacity": 0.6},
            on_each_feature=folium.JsCode(TOOLTIP_JS),
        ).add_to(m)
    shapes = [f.geometry for f in (*outline, *features)]
    if shapes:
        minx = min(g.bounds[0] for g in shapes)
        miny = min(g.bounds[1] for g in shapes)
        maxx = max(g.bounds[2] for g in shapes)
        maxy = max(g.bounds[3] for g in shapes)
        m.fit_bounds([[miny, minx], [maxy, maxx]], max_zoom=17)
    folium.LayerControl(collapsed=True).add_to(m)
    return _parts(m)


def _parts(m: folium.Map) -> MapParts:
    root = m.get_root()
    root.render()
    return MapParts(head=root.header.render(), body=root.html.render(), script=root.script.render())


def _slim(features, fields, subtitle=None):
    """Features with only the listed properties, plus a plain-text subtitle for the tooltip."""
    slim = []
    for f in features:
        props = {k: f.properties.get(k) for k in fields}
        if subtitle:
            props["_subtitle"] = subtitle(f.properties)
        slim.append(Feature(f.id, props, f.geometry))
    return slim


def status_color(code: str) -> str:
    """The fill colour of a renovation status (black for an unknown code, so it stands out)."""
    return RENOVATION_STATUS[code].color if code in RENOVATION_STATUS else "#000000"


def legend_html(locale: str) -> str:
    """The status legend and the 示例数据 note; the page script fills in the live counts."""
    title = "改造状态" if locale == "zh" else "Renovation status"
    note = ("示例数据：小区及街道边界为示意，非真实测绘" if locale == "zh"
            else "示例数据 Illustrative data: estate and street-office boundaries are not surveyed")
    items = "".join(
        f'<li><span class="swatch" style="background:{escape(t.color)}"></span>'
        f'{escape(t.label(locale))} <span class="count" data-status="{escape(t.code)}">0</span></li>'
        for t in RENOVATION_STATUS)
    return (f'<div class="map-legend" id="map-legend"><div class="legend-title">{escape(title)}</div>'
            f'<ul>{items}</ul><div class="legend-note">{escape(note)}</div></div>')
