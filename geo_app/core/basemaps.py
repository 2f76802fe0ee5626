"""The basemaps a map offers, from config: OpenStreetMap, Tianditu, Amap, or none.

Each basemap says which coordinate system its tiles are drawn in. Amap (高德) draws in GCJ-02, so
while it is shown every overlay is fetched in GCJ-02 (the server's one GeoJSON encoder shifts it);
otherwise estates would sit about 540 m off their streets.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import MapConfig


@dataclass(frozen=True)
class TileSource:
    url: str
    subdomains: str = "abc"


@dataclass(frozen=True)
class Basemap:
    """One choice in the basemap switcher: tile sources drawn together (e.g. imagery + labels)."""

    id: str
    title_zh: str
    title_en: str
    coords: str  # "wgs84" or "gcj02"
    tiles: tuple[TileSource, ...]
    attribution: str
    max_zoom: int = 18

    def title(self, locale: str = "zh") -> str:
        """The name shown in the layer control."""
        return self.title_en if locale == "en" else self.title_zh


TIANDITU_ATTRIBUTION = "&copy; 天地图 Tianditu (国家地理信息公共服务平台)"
AMAP_ATTRIBUTION = "&copy; 高德地图 AutoNavi (GCJ-02)"


def available_basemaps(config: MapConfig) -> list[Basemap]:
    """The basemaps this deployment offers; "none" always, the others when configured."""
    maps = []
    if config.tile_url:
        maps.append(Basemap("osm", "OpenStreetMap", "OpenStreetMap", "wgs84",
                            (TileSource(config.tile_url),), config.tile_attribution, 19))
    if config.tianditu_key:
        def tianditu(layer: str) -> TileSource:
            return TileSource(config.tianditu_url.replace("{layer}", layer).replace("{key}", config.tianditu_key),
                              "01234567")

        maps.append(Basemap("tianditu_vec", "天地图矢量", "Tianditu map", "wgs84",
                            (tianditu("vec"), tianditu("cva")), TIANDITU_ATTRIBUTION))
        maps.append(Basemap("tianditu_img", "天地图影像", "Tianditu imagery", "wgs84",
                            (tianditu("img"), tianditu("cia")), TIANDITU_ATTRIBUTION))
    if config.amap_url:
        maps.append(Basemap("amap", "高德地图", "Amap (Gaode)", "gcj02", (TileSource(config.amap_url, "1234"),),
                            AMAP_ATTRIBUTION))
    if config.amap_satellite_url:
        maps.append(Basemap("amap_img", "高德影像", "Amap imagery", "gcj02",
                            (TileSource(config.amap_satellite_url, "1234"),), AMAP_ATTRIBUTION))
    maps.append(Basemap("none", "无底图", "No basemap", "wgs84", (), ""))
    return maps


def choose_default(basemaps: list[Basemap], wanted: str) -> Basemap:
    """The configured default when it is offered, else the first offered."""
    return next((b for b in basemaps if b.id == wanted), basemaps[0])
