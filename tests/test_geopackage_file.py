"""The embedded store is an ordinary GeoPackage: GDAL (pyogrio, ogrinfo) reads every layer."""

from __future__ import annotations

import shutil
import subprocess

import pyogrio
import pytest

from conftest import required
from geo_app.core.demo import load_layer_sources
from geo_app.storage import open_store

EXPECTED = {"district": ("MultiPolygon", 1), "street_offices": ("MultiPolygon", 9), "zones": ("MultiPolygon", 25),
            "estates": ("MultiPolygon", 168), "facilities": ("Point", None)}


@pytest.fixture(scope="module")
def gpkg(tmp_path_factory, layers):
    path = tmp_path_factory.mktemp("gpkg") / "geo_app.gpkg"
    store = open_store(f"gpkg://{path}", layers)
    store.initialise()
    load_layer_sources(store)
    return path


def test_pyogrio_lists_every_layer_with_count_crs_and_index(gpkg):
    listed = dict(pyogrio.list_layers(gpkg))
    for name, (geometry_type, count) in EXPECTED.items():
        assert listed[name] == geometry_type
        info = pyogrio.read_info(gpkg, layer=name)
        assert info["crs"] == "EPSG:4326"
        assert info["capabilities"]["fast_spatial_filter"], f"{name} has no spatial index"
        if count is not None:
            assert info["features"] == count, name


def test_chinese_text_and_bbox_read_through_gdal(gpkg):
    frame = pyogrio.read_dataframe(gpkg, layer="estates", where="name = '临山小区'")
    assert len(frame) == 1 and frame.iloc[0]["street_office"]
    minx, miny, maxx, maxy = frame.total_bounds
    around = pyogrio.read_dataframe(gpkg, layer="estates", bbox=(minx, miny, maxx, maxy))
    assert "临山小区" in set(around["name"])


def test_ogrinfo_sees_layers_and_spatial_index(gpkg):
    if not shutil.which("ogrinfo"):
        if required("GDAL"):
            pytest.fail("ogrinfo is required (GEO_APP_REQUIRE_GDAL=1): install Debian's gdal-bin")
        pytest.skip("ogrinfo not installed (Debian package gdal-bin)")
    listing = subprocess.run(["ogrinfo", "-ro", "-q", str(gpkg)], capture_output=True, text=True, check=True)
    for name in EXPECTED:
        assert f": {name} (" in listing.stdout
    assert "ERROR" not in listing.stderr and "Warning" not in listing.stderr
    index = subprocess.run(["ogrinfo", "-ro", "-q", str(gpkg), "-sql", "SELECT HasSpatialIndex('estates', 'geom')"],
                           capture_output=True, text=True, check=True)
    assert "= 1" in index.stdout
    summary = subprocess.run(["ogrinfo", "-ro", "-so", str(gpkg), "estates"], capture_output=True, text=True,
                             check=True).stdout
    assert "Feature Count: 168" in summary
