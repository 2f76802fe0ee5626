"""Tests over the committed Xuecheng demo layers (layers/xuecheng/*.geojson).

They check what a user of the demo would notice: the generator reproduces the files, geometries
are valid and consistent (estates inside their office, no overlaps, offices tile the district),
every layer field is present, and the aggregates reproduce the housing bureau's letter of
2021-07-20.
"""

import json
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from geo_app.core import geodesy
from geo_app.domain import FACILITY_KINDS, MANAGEMENT_MODES, OFFICE_KINDS, RENOVATION_ITEMS, RENOVATION_STATUS

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ROOT / "layers"
DATA = LAYERS / "xuecheng"
NAMES = ["district", "street_offices", "zones", "estates", "facilities"]
AS_OF = "2021-07-20"
INVESTMENT = ["inv_subsidy", "inv_district", "inv_town", "inv_utility", "inv_residents"]


def _load(name):
    fc = json.loads((DATA / f"{name}.geojson").read_text(encoding="utf-8"))
    props = [f["properties"] for f in fc["features"]]
    geoms = np.array([shape(f["geometry"]) for f in fc["features"]], dtype=object)
    return fc, props, geoms


@pytest.fixture(scope="module")
def layers():
    return {name: _load(name) for name in NAMES}


@pytest.fixture(scope="module")
def estates(layers):
    return layers["estates"][1], layers["estates"][2]


def _group(p):
    if p["batch"] is None:
        return "unscheduled"
    if p["batch"] == 2019:
        return "2019 railway" if "济南" in p["programme"] else "2019 mining"
    return "2014-2018" if p["batch"] <= 2018 else str(p["batch"])


def _by_group(props):
    groups = {}
    for p in props:
        groups.setdefault(_group(p), []).append(p)
    return groups


def test_generator_reproduces_committed_files_byte_for_byte(tmp_path):
    subprocess.run([sys.executable, str(LAYERS / "generate_demo.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True, cwd=tmp_path)
    for name in NAMES:
        assert (tmp_path / f"{name}.geojson").read_bytes() == (DATA / f"{name}.geojson").read_bytes(), name


@pytest.mark.parametrize("name", NAMES)
def test_rfc7946_layout_and_toml_fields(layers, name):
    fc, props, geoms = layers[name]
    assert set(fc) == {"type", "name", "features"} and fc["name"] == name  # no "crs" member
    spec = tomllib.loads((LAYERS / f"{name}.toml").read_text(encoding="utf-8"))
    expected = [f["name"] for f in spec["fields"] if "computed" not in f]  # land_area_m2 is the store's
    assert all(list(p) == expected for p in props)
    kinds = {g.geom_type for g in geoms}
    assert kinds == ({"Point"} if name == "facilities" else {"MultiPolygon"})
    assert all(g.is_valid and not g.is_empty for g in geoms)
    coords = shapely.get_coordinates(geoms)
    assert np.allclose(coords, np.round(coords, 7), atol=1e-12, rtol=0)
    assert len({p["code"] for p in props}) == len(props)


@pytest.mark.parametrize("name", ["district", "street_offices", "zones", "estates"])
def test_rings_are_counter_clockwise_with_clockwise_holes(layers, name):
    for geom in layers[name][2]:
        for poly in geom.geoms:
            assert poly.exterior.is_ccw
            assert all(not ring.is_ccw for ring in poly.interiors)


def test_district_is_converted_from_gcj02(layers):
    _, props, geoms = layers["district"]
    assert props == [{"code": "370403", "name": "薛城区"}]
    source = json.loads((DATA / "source" / "xuecheng_district_gcj02.geojson").read_text(encoding="utf-8"))
    gcj = shape(source["features"][0]["geometry"]).centroid
    wgs = geoms[0].centroid
    assert abs(wgs.x - 117.3) < 0.1 and abs(wgs.y - 34.8) < 0.1
    moved = geodesy.geodesic_distance_m(gcj.x, gcj.y, wgs.x, wgs.y)
    assert 400 < moved < 700
    assert wgs.x < gcj.x  # GCJ-02 shifts east here, so the WGS84 outline moves back west


def test_street_offices_tile_the_district(layers):
    district = layers["district"][2][0]
    _, props, offices = layers["street_offices"]
    assert Counter(p["kind"] for p in props) == {"street": 5, "town": 4}
    assert all(p["kind"] in OFFICE_KINDS for p in props)
    district_area = geodesy.geodesic_area_m2(district)
    union_area = geodesy.geodesic_area_m2(shapely.union_all(offices))
    assert union_area == pytest.approx(district_area, rel=1e-3)
    assert geodesy.geodesic_area_m2_array(offices).sum() == pytest.approx(district_area, rel=1e-3)
    assert all(len(g.geoms) == 1 for g in offices)
    areas = dict(zip([p["name"] for p in props], geodesy.geodesic_area_m2_array(offices)))
    assert max(areas[n] for n in ["临城街道", "常庄街道", "巨山街道", "新城街道", "兴城街道"]) < min(
        areas[n] for n in ["沙沟镇", "周营镇", "邹坞镇", "陶庄镇"])


def test_estates_inside_their_office_and_apart(layers, estates):
    props, geoms = estates
    offices = dict(zip([p["name"] for p in layers["street_offices"][1]], layers["street_offices"][2]))
    assert all(offices[p["street_office"]].contains(g) for p, g in zip(props, geoms))
    metric = geodesy.reproject(geoms, 4326, 4548)
    left, right = shapely.STRtree(metric).query(metric, predicate="dwithin", distance=15.0)
    assert np.all(left == right), "estates closer than 15 m to each other"


def test_plot_ratio_and_plausible_sizes(estates):
    props, geoms = estates
    land = geodesy.geodesic_area_m2_array(geoms)
    floor = np.array([p["floor_area_m2"] for p in props])
    ratio = floor / land
    assert ratio.min() >= 1.2 and ratio.max() <= 2.5
    metric = geodesy.reproject(geoms, 4326, 4548)
    assert max(np.ptp(shapely.get_coordinates(g), axis=0).max() for g in metric) < 500  # metres across
    per_household = floor / np.array([p["households"] for p in props])
    assert per_household.min() > 45 and per_household.max() < 160


def test_estate_attributes_are_consistent(estates):
    props, _ = estates
    assert len({p["name"] for p in props}) == len(props)
    for p in props:
        assert p["year_built"] <= 2005 and p["status"] in RENOVATION_STATUS
        assert p["management"] in MANAGEMENT_MODES
        planned = p["items_planned"].split(",") if p["items_planned"] else []
        done = p["items_done"].split(",") if p["items_done"] else []
        assert all(i in RENOVATION_ITEMS for i in planned) and set(done) <= set(planned)
        dates = [p[k] for k in ("planned_start", "start_date", "completion_date", "acceptance_date") if p[k]]
        assert dates == sorted(dates)
        if p["status"] == "planned":
            assert p["start_date"] is None and p["progress_pct"] == 0
        else:
            assert all(d <= AS_OF for d in dates)
        has = {k for k in ("start_date", "completion_date", "acceptance_date") if p[k]}
        assert has == {"unscheduled": set(), "planned": set(), "under_construction": {"start_date"},
                       "completed": {"start_date", "completion_date"},
                       "accepted": {"start_date", "completion_date", "acceptance_date"}}[p["status"]]
        if p["status"] in ("completed", "accepted"):
            assert p["progress_pct"] == 100 and done == planned
        if p["status"] == "unscheduled":
            assert p["batch"] is None and p["zone"] is None and all(p[k] is None for k in INVESTMENT)


def _sum(rows, key):
    return sum(p[key] or 0 for p in rows)


def test_letter_figures(estates):
    groups = _by_group(estates[0])
    assert {k: len(v) for k, v in groups.items()} == {
        "2014-2018": 13, "2019 mining": 23, "2019 railway": 1, "2020": 58, "2021": 65, "unscheduled": 8}
    old, mining, rail, y2020, y2021 = (groups[k] for k in ["2014-2018", "2019 mining", "2019 railway", "2020", "2021"])
    assert {"临山小区", "江南小区", "福泉小区", "八一小区"} <= {p["name"] for p in old}
    assert {p["batch"] for p in old} == {2014, 2015, 2016, 2017, 2018}
    assert 10_000 < _sum(old, "households") <= 10_600 and _sum(old, "floor_area_m2") == 650_000
    assert 9_000 < sum(_sum(old, k) for k in INVESTMENT) < 9_600
    assert 5_600 < _sum(mining, "households") < 5_900 and 500_000 < _sum(mining, "floor_area_m2") < 530_000
    assert 1_000 < _sum(rail, "households") < 1_100 and 60_000 < _sum(rail, "floor_area_m2") < 65_000
    assert _sum(y2020, "households") == 11_645 and 1_380_000 < _sum(y2020, "floor_area_m2") < 1_395_000
    assert {p["street_office"] for p in y2020} == {"临城街道", "巨山街道", "常庄街道"}
    assert _sum(y2021, "households") == 7_447 and _sum(y2021, "buildings") == 311
    assert 750_000 < _sum(y2021, "floor_area_m2") < 770_000
    assert 14_500 < sum(_sum(y2021, k) for k in INVESTMENT) < 15_500
    assert {p["street_office"] for p in y2021} == {"临城街道", "常庄街道", "新城街道"}
    progress = sum(p["floor_area_m2"] * p["progress_pct"] for p in y2021) / _sum(y2021, "floor_area_m2")
    assert progress == pytest.approx(75.0, abs=0.05)
    assert len(estates[0]) == 168
    assert 37_500 < _sum(estates[0], "households") < 38_500
    assert 3_450_000 < _sum(estates[0], "floor_area_m2") < 3_550_000


def test_zones_cluster_their_estates(layers, estates):
    _, zone_props, zone_geoms = layers["zones"]
    offices = dict(zip([p["name"] for p in layers["street_offices"][1]], layers["street_offices"][2]))
    assert Counter(p["batch"] for p in zone_props) == {2020: 20, 2021: 5}
    for zp, zg in zip(zone_props, zone_geoms):
        members = [(p, g) for p, g in zip(*estates) if p["zone"] == zp["code"]]
        assert members and all(p["street_office"] == zp["street_office"] for p, _ in members)
        assert all(p["batch"] == zp["batch"] for p, _ in members)
        assert all(zg.contains(g) for _, g in members)
        assert offices[zp["street_office"]].buffer(1e-6).contains(zg)
    assert not any(shapely.intersects(a, b) for i, a in enumerate(zone_geoms) for b in zone_geoms[i + 1:])


def test_facilities_of_the_2014_2018_batch(layers, estates):
    _, props, points = layers["facilities"]
    by_code = {p["code"]: (p, g) for p, g in zip(*estates)}
    assert Counter(p["kind"] for p in props)["public_toilet"] == 6
    assert all(p["kind"] in FACILITY_KINDS for p in props)
    assert 1_600 < sum(p["capacity"] for p in props if p["kind"] == "parking_lot") < 1_700
    for p, point in zip(props, points):
        estate, geom = by_code[p["estate"]]
        assert _group(estate) == "2014-2018" and geom.buffer(1e-6).contains(point)
        assert p["street_office"] == estate["street_office"] and p["batch"] == estate["batch"]
        assert (p["capacity"] is None) == (p["kind"] == "public_toilet")
        if p["kind"] == "public_toilet":
            assert "public_toilets" in estate["items_planned"]
