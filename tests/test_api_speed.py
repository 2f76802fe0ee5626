"""What keeps the planner's big GeoJSON answer fast: the one encoder's vectorised geometries give
exactly what `shapely.geometry.mapping` gives, a 304 costs no query, and a body already encoded for
this revision is sent again without querying, while any write makes it be built afresh."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import shapely
from shapely.geometry import mapping

from geo_app.core.geojson import _mappings, _prepare, feature_collection
from geo_app.storage import FeatureQuery

WKTS = [
    "POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0))",
    "POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0), (2 2, 2 3, 3 3, 3 2, 2 2), (5 5, 5 6, 6 6, 6 5, 5 5))",
    "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)))",
    "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)), ((5 5, 9 5, 9 9, 5 9, 5 5), (6 6, 6 7, 7 7, 6 6)))",
    "POLYGON EMPTY",
    "MULTIPOLYGON EMPTY",
    "POLYGON Z ((0 0 1, 1 0 2, 1 1 3, 0 0 1))",
    "MULTIPOLYGON Z (((0 0 1, 1 0 2, 1 1 3, 0 0 1)))",
    "POINT (117.1 34.8)",
    "LINESTRING (0 0, 1 1, 2 0)",
    "MULTIPOINT ((0 0), (1 1))",
    "GEOMETRYCOLLECTION (POINT (1 2), POLYGON ((0 0, 1 0, 1 1, 0 0)))",
]


@pytest.mark.parametrize("order", ["as listed", "reversed", "shuffled"])
def test_vectorised_geometries_equal_shapely_mapping(order):
    geoms = [shapely.from_wkt(w) for w in WKTS] + [None]
    if order == "reversed":
        geoms.reverse()
    elif order == "shuffled":
        geoms = [geoms[i] for i in np.random.default_rng(7).permutation(len(geoms))]
    got = _mappings(np.array(geoms, dtype=object))
    want = [None if g is None else mapping(g) for g in geoms]
    assert got == want  # tuples where mapping has tuples, lists where it has lists
    assert json.dumps(got) == json.dumps(want)


def test_multipolygon_with_an_empty_part_is_spelt_as_mapping_spells_it():
    multi = shapely.multipolygons([shapely.from_wkt("POLYGON EMPTY"),
                                   shapely.from_wkt("POLYGON ((0 0, 1 0, 1 1, 0 0))")])
    plain = shapely.from_wkt("MULTIPOLYGON (((3 3, 4 3, 4 4, 3 3)))")
    assert _mappings(np.array([multi, plain], dtype=object)) == [mapping(multi), mapping(plain)]


def test_every_demo_layer_encodes_as_before(app):
    store = app.extensions["geo_app.store"]
    for layer in ("estates", "district", "street_offices", "zones", "facilities"):
        features = store.features(layer, FeatureQuery())
        for coords in ("wgs84", "gcj02"):
            body = feature_collection(features, precision=6, coords=coords)
            prepared = _prepare(np.array([f.geometry for f in features], dtype=object), 6, coords)
            assert body["features"], layer
            assert [f["geometry"] for f in body["features"]] == [mapping(g) for g in prepared], (layer, coords)


def _count_reads(app, monkeypatch):
    store = app.extensions["geo_app.store"]
    reads = []
    original = store.features

    def counting(layer, query=None):
        reads.append(layer)
        return original(layer, query)

    monkeypatch.setattr(store, "features", counting)
    return store, reads


def test_304_and_kept_bodies_skip_the_query(app, client, monkeypatch):
    store, reads = _count_reads(app, monkeypatch)
    url = "/api/estates?view=map&coords=wgs84"
    first = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert first.status_code == 200 and reads == ["estates"]
    assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    again = client.get(url, headers={"Accept-Encoding": "gzip"})
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert reads == ["estates"]  # neither the 304 nor the repeats queried the store
    assert again.data == first.data and again.headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in plain.headers and plain.data == gzip.decompress(first.data)
    assert again.headers["ETag"] == plain.headers["ETag"] == first.headers["ETag"]
    client.get("/api/layers/zones")
    client.get("/api/layers/zones")
    assert reads == ["estates", "zones"]


def test_a_write_makes_the_body_be_built_afresh(app, client, monkeypatch):
    store, reads = _count_reads(app, monkeypatch)
    url = "/api/estates?view=map"
    before = client.get(url).get_json()
    victim = before["features"][0]
    with store.transaction() as w:
        w.update("estates", victim["id"], {"status": "accepted", "progress_pct": 100})
    after = client.get(url).get_json()
    assert reads == ["estates", "estates"] and after["revision"] == before["revision"] + 1
    changed = next(f for f in after["features"] if f["id"] == victim["id"])
    assert changed["properties"]["status"] == "accepted"


def test_a_query_per_filter_and_errors_are_not_kept(app, client, monkeypatch):
    store, reads = _count_reads(app, monkeypatch)
    assert client.get("/api/estates?view=map&street_office=临城街道").status_code == 200
    assert client.get("/api/estates?view=map&street_office=常庄街道").status_code == 200
    assert client.get("/api/estates?view=map&coords=mars").status_code == 400
    assert client.get("/api/estates?view=map&coords=mars").status_code == 400
    assert reads == ["estates", "estates"]
