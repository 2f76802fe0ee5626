"""The estate GeoJSON API the planner map is built on: filters, GCJ-02 output, caching, search."""

from __future__ import annotations

import gzip
import json

import pytest
from pyproj import Geod

from geo_app.core.geodesy import wgs84_to_gcj02
from geo_app.storage import FeatureQuery

GEOD = Geod(ellps="WGS84")


def store_of(app):
    return app.extensions["geo_app.store"]


def codes(client, query=""):
    body = client.get(f"/api/estates?{query}").get_json()
    assert body["numberMatched"] == len(body["features"])
    return {f["properties"]["code"] for f in body["features"]}


def expected(app, **where):
    return {f.properties["code"] for f in store_of(app).features("estates", FeatureQuery.where(with_geometry=False, **where))}


def test_every_estate_is_served(app, client):
    assert codes(client) == expected(app)
    assert len(codes(client)) == 168


@pytest.mark.parametrize("query, where", [
    ("street_office=临城街道", dict(street_office="临城街道")),
    ("batch=2020,2021", dict(batch=[2020, 2021])),
    ("status=planned,under_construction", dict(status=["planned", "under_construction"])),
    ("street_office=常庄街道&batch=2021&status=under_construction",
     dict(street_office="常庄街道", batch=2021, status="under_construction")),
])
def test_filters_match_the_store(app, client, query, where):
    assert codes(client, query) == expected(app, **where)


def test_renovation_item_and_name_filters(app, client):
    with_toilets = codes(client, "item=public_toilets")
    assert with_toilets and all("public_toilets" in (f.properties["items_planned"] or "").split(",")
                                for f in store_of(app).features("estates", FeatureQuery(with_geometry=False))
                                if f.properties["code"] in with_toilets)
    assert codes(client, "q=临山") == expected(app, name="临山小区")


def test_map_view_is_slim_and_full_view_has_everything(client):
    slim = client.get("/api/estates?view=map").get_json()["features"][0]["properties"]
    full = client.get("/api/estates").get_json()["features"][0]["properties"]
    assert "status" in slim and "inv_subsidy" not in slim and "address" not in slim
    assert {"inv_subsidy", "address", "management", "land_area_m2"} <= set(full)


def test_gcj02_output_is_shifted_exactly_like_amap(app, client):
    wgs = client.get("/api/estates?q=临山").get_json()["features"][0]
    gcj = client.get("/api/estates?q=临山&coords=gcj02").get_json()
    assert gcj["coordinateSystem"] == "GCJ-02"
    lon, lat = wgs["geometry"]["coordinates"][0][0][0]
    glon, glat = gcj["features"][0]["geometry"]["coordinates"][0][0][0]
    want = wgs84_to_gcj02(lon, lat)
    assert GEOD.inv(glon, glat, *want)[2] < 0.05  # metres
    assert 400 < GEOD.inv(lon, lat, glon, glat)[2] < 700  # the famous ~540 m offset


def test_one_estate_with_download_name(app, client):
    feature = store_of(app).features("estates", FeatureQuery.where(name="江南小区"))[0]
    response = client.get(f"/api/estates/{feature.id}?download=1")
    body = response.get_json()
    assert body["properties"]["name"] == "江南小区" and body["id"] == feature.id
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert client.get("/api/estates/999999").status_code == 404


def test_responses_are_gzipped_and_revalidated_by_revision(app, client):
    first = client.get("/api/estates", headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip"
    assert len(json.loads(gzip.decompress(first.data))["features"]) == 168
    etag = first.headers["ETag"]
    assert client.get("/api/estates", headers={"If-None-Match": etag}).status_code == 304
    victim = store_of(app).features("estates", FeatureQuery(limit=1))[0]
    with store_of(app).transaction() as w:
        w.update("estates", victim.id, {"status": "accepted", "progress_pct": 100})
    again = client.get("/api/estates", headers={"If-None-Match": etag})
    assert again.status_code == 200 and again.headers["ETag"] != etag


def test_search_returns_names_to_pick(client):
    results = client.get("/api/estates/search?q=小区&limit=5").get_json()["results"]
    assert 0 < len(results) <= 5
    assert all("小区" in r["name"] and len(r["bbox"]) == 4 for r in results)
    assert client.get("/api/estates/search?q=").get_json() == {"results": []}


def test_context_layers(client):
    for name, count in [("district", 1), ("street_offices", 9), ("zones", 25), ("facilities", 15)]:
        assert len(client.get(f"/api/layers/{name}").get_json()["features"]) == count
    assert client.get("/api/layers/estates_secret").status_code == 404


@pytest.mark.parametrize("url, parameter", [
    ("/api/estates?coords=bd09", "coords"), ("/api/estates?item=flying", "item"),
    ("/api/estates?status=done", "status"), ("/api/estates?view=3d", "view"),
    ("/api/estates?q=" + "长" * 101, "q"), ("/api/estates?batch=later", "batch"),
])
def test_bad_parameters_are_400_naming_them(client, url, parameter):
    response = client.get(url)
    assert response.status_code == 400
    assert response.get_json()["parameter"] == parameter
