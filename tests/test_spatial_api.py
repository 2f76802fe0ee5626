"""Spatial questions through the JSON API, on the demo data of each backend."""

from __future__ import annotations

import pytest
from pyproj import Geod
from shapely.geometry import LineString, box, mapping, shape

from geo_app.config import load_config
from geo_app.core.demo import ensure_store
from geo_app.storage import FeatureQuery

GEOD = Geod(ellps="WGS84")


@pytest.fixture(params=["geopackage", pytest.param("postgis", marks=pytest.mark.postgis)])
def spatial_app(request, tmp_path):
    from conftest import make_store_url
    from geo_app import create_app

    url = make_store_url(request.param, tmp_path, request)
    app = create_app(load_config(overrides={"data_dir": str(tmp_path), "database.url": url}, environ={}))
    store = app.extensions["geo_app.store"]
    ensure_store(store)
    yield app
    store.drop()
    store.close()


def estate_named(app, name):
    return app.extensions["geo_app.store"].features("estates", FeatureQuery.where(name=name))[0]


def test_street_office_estates_by_geometry_match_the_data(spatial_app):
    client = spatial_app.test_client()
    offices = client.get("/api/street-offices").get_json()["features"]
    assert len(offices) == 9
    total = 0
    for office in offices:
        code = office["properties"]["code"]
        body = client.get(f"/api/street-offices/{code}/estates").get_json()
        names = {f["properties"]["street_office"] for f in body["features"]}
        assert names <= {office["properties"]["name"]}  # the demo's attributes agree with geometry
        total += body["numberMatched"]
        stats = client.get(f"/api/street-offices/{code}/stats").get_json()
        assert stats["total"]["estates"] == body["numberMatched"]
    assert total == 168
    assert client.get("/api/street-offices/nowhere").status_code == 404


def test_an_estate_moved_across_a_boundary_is_reported(spatial_app):
    store = spatial_app.extensions["geo_app.store"]
    estate = estate_named(spatial_app, "临山小区")
    shagou = store.features("street_offices", FeatureQuery.where(code="shagou"))[0]
    inside = shagou.geometry.representative_point()
    moved = box(inside.x - 0.0005, inside.y - 0.0005, inside.x + 0.0005, inside.y + 0.0005)
    with store.transaction() as w:
        w.update("estates", estate.id, geometry=moved)
    report = spatial_app.test_client().get("/api/qa").get_json()
    mismatch = {m["name"]: m for m in report["attribute_mismatches"]}
    assert mismatch["临山小区"]["by_geometry"] == "沙沟镇" and mismatch["临山小区"]["attribute"] == "临城街道"
    assert report["overlapping_estates"] == [] and report["invalid_geometries"] == []
    assert report["outside_district"] == []


def test_nearby_sorted_by_geodesic_distance_with_bearing(spatial_app):
    client = spatial_app.test_client()
    estate = estate_named(spatial_app, "江南小区")
    point = estate.geometry.centroid
    body = client.get(f"/api/estates/nearby?lon={point.x}&lat={point.y}&radius_m=800&limit=20").get_json()
    found = body["features"]
    assert found[0]["properties"]["name"] == "江南小区" and found[0]["properties"]["distance_m"] == 0
    distances = [f["properties"]["distance_m"] for f in found]
    assert distances == sorted(distances) and all(d <= 800 for d in distances)
    for f in found[1:]:
        # the distance is to the polygon's edge: no vertex may be nearer than it
        nearest_vertex = min(GEOD.inv(point.x, point.y, x, y)[2]
                             for x, y in shape(f["geometry"]).geoms[0].exterior.coords)
        assert f["properties"]["distance_m"] <= nearest_vertex + 0.5
        assert 0 <= f["properties"]["bearing_deg"] < 360
    k = client.get(f"/api/estates/nearby?lon={point.x}&lat={point.y}&limit=5").get_json()["features"]
    assert len(k) == 5 and k[0]["properties"]["name"] == "江南小区"


def test_locate_finds_office_and_estate(spatial_app):
    client = spatial_app.test_client()
    point = estate_named(spatial_app, "福泉小区").geometry.representative_point()
    body = client.get(f"/api/locate?lon={point.x}&lat={point.y}").get_json()
    assert body["estate"]["name"] == "福泉小区" and body["street_office"]["name"] == body["estate"]["street_office"]
    empty = client.get("/api/locate?lon=100&lat=30").get_json()
    assert empty == {"street_office": None, "estate": None}


def test_drawn_polygon_and_road_buffer(spatial_app):
    client = spatial_app.test_client()
    estate = estate_named(spatial_app, "八一小区")
    minx, miny, maxx, maxy = estate.geometry.bounds
    drawn = client.post("/api/query", json={"geometry": mapping(box(minx, miny, maxx, maxy))}).get_json()
    assert "八一小区" in {f["properties"]["name"] for f in drawn["features"]}
    # a road 50 m south of the estate: found with a 60 m buffer, not with 30 m
    lat = miny - 50 / 111_000
    road = mapping(LineString([(minx - 0.001, lat), (maxx + 0.001, lat)]))
    near = client.post("/api/query", json={"geometry": road, "buffer_m": 60}).get_json()
    far = client.post("/api/query", json={"geometry": road, "buffer_m": 30}).get_json()
    assert "八一小区" in {f["properties"]["name"] for f in near["features"]}
    assert "八一小区" not in {f["properties"]["name"] for f in far["features"]}


def test_stats_by_zone(spatial_app):
    body = spatial_app.test_client().get("/api/stats?group_by=zone").get_json()
    zoned = [r for r in body["rows"] if r["key"]["zone"]]
    assert len(zoned) == 25 and all("片区" in r["label"] for r in zoned)
    assert sum(r["estates"] for r in body["rows"]) == 168


@pytest.mark.parametrize("method, url, body, parameter", [
    ("get", "/api/estates/nearby?lon=x&lat=34", None, "lon"),
    ("get", "/api/estates/nearby?lon=117&lat=95", None, "lat"),
    ("get", "/api/estates/nearby?lon=117&lat=34&radius_m=-1", None, "radius_m"),
    ("get", "/api/estates/nearby?lon=117&lat=34&limit=100000", None, "limit"),
    ("get", "/api/locate?lon=117", None, "lon"),
    ("post", "/api/query", {"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}},
     "geometry"),
    ("post", "/api/query", {"geometry": {"type": "Circle"}}, "geometry"),
    ("post", "/api/query", {"geometry": {"type": "Point", "coordinates": [117.3, 34.8]}, "buffer_m": 1e9}, "buffer_m"),
    ("post", "/api/query", None, "body"),
    ("post", "/api/query", {"geometry": {"type": "MultiLineString", "coordinates": [[[117.3, 34.8], [117.31, 34.8]], []]}},
     "geometry"),
])
def test_bad_spatial_requests_are_400(client, method, url, body, parameter):
    response = getattr(client, method)(url, json=body) if body is not None else getattr(client, method)(url)
    assert response.status_code == 400
    assert response.get_json()["parameter"] == parameter
