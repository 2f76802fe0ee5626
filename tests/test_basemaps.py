"""Which basemaps a deployment offers, and in which coordinate system each is drawn."""

from __future__ import annotations

import dataclasses
import json
import re

from geo_app.config import MapConfig
from geo_app.core.basemaps import available_basemaps, choose_default


def ids(config: MapConfig) -> list[str]:
    return [b.id for b in available_basemaps(config)]


def test_default_offer_has_osm_amap_and_no_basemap_but_no_tianditu_without_key():
    assert ids(MapConfig()) == ["osm", "amap", "amap_img", "none"]


def test_tianditu_needs_a_key_and_draws_labels_over_its_maps():
    offered = {b.id: b for b in available_basemaps(dataclasses.replace(MapConfig(), tianditu_key="k3y"))}
    vector, imagery = offered["tianditu_vec"], offered["tianditu_img"]
    assert [re.search(r"LAYER=(\w+)", t.url).group(1) for t in vector.tiles] == ["vec", "cva"]
    assert [re.search(r"LAYER=(\w+)", t.url).group(1) for t in imagery.tiles] == ["img", "cia"]
    assert all("tk=k3y" in t.url for t in (*vector.tiles, *imagery.tiles))
    assert vector.coords == imagery.coords == "wgs84"


def test_amap_is_marked_gcj02_so_overlays_are_shifted():
    offered = {b.id: b for b in available_basemaps(MapConfig())}
    assert offered["amap"].coords == offered["amap_img"].coords == "gcj02"
    assert offered["osm"].coords == "wgs84"


def test_empty_urls_leave_only_no_basemap_for_intranets():
    config = dataclasses.replace(MapConfig(), tile_url="", amap_url="", amap_satellite_url="")
    assert ids(config) == ["none"]
    assert choose_default(available_basemaps(config), "osm").id == "none"


def test_intranet_mirror_urls_are_used_as_given():
    config = dataclasses.replace(MapConfig(), tile_url="http://tiles.intranet/{z}/{x}/{y}.png")
    assert available_basemaps(config)[0].tiles[0].url == "http://tiles.intranet/{z}/{x}/{y}.png"


def test_the_page_tells_the_script_each_basemaps_coordinate_system(client):
    html = client.get("/").get_data(as_text=True)
    mapping = json.loads(re.search(r"basemaps: (\{.*?\})\}", html).group(1))
    assert mapping == {"OpenStreetMap": "wgs84", "高德地图": "gcj02", "高德影像": "gcj02", "无底图": "wgs84"}
