"""Exports (core and CLI) on both backends: every format read back by GDAL (pyogrio/geopandas and
`ogrinfo`) with its attributes and Chinese text intact, RFC 7946 GeoJSON, the map's filters, GCJ-02,
file names, the Shapefile field mapping, paging, temporary files and bad input."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import shutil
import sqlite3
import struct
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from pyproj import Geod

from conftest import required
from geo_app.core import spatial
from geo_app.core.export import Export, ExportOptions, parse_export_options, shapefile_field_names
from geo_app.core.export import gpkg as export_gpkg
from geo_app.core.export import job as export_job
from geo_app.core.export import source as export_source
from geo_app.core.geodesy import wgs84_to_gcj02
from geo_app.errors import InvalidParameter, NotFound
from geo_app.layers import FieldDef, LayerDef
from geo_app.storage import FeatureQuery
from geo_app.storage.geopackage import GeoPackageStore, connect, encode_geometries
from geo_app.web.params import parse_export_filters

GEOD = Geod(ellps="WGS84")
FORMATS = ("geojson", "gpkg", "shp", "kml", "csv", "xlsx")


def export(store, layer="estates", args=None, page_size=5000) -> Export:
    args = args or {}
    query, office = parse_export_filters(args)
    return Export(store, layer, query, parse_export_options(args), office_code=office, page_size=page_size)


def write(store, tmp_path: Path, layer="estates", args=None, page_size=5000) -> tuple[Export, Path]:
    job = export(store, layer, args, page_size)
    path = tmp_path / job.filename
    job.write_to(path)
    return job, path


def read_back(path: Path, fmt: str, layer_def: LayerDef) -> pd.DataFrame:
    """The exported file as GDAL (pyogrio) reads it: one row per feature indexed by id, columns named
    as the store's fields (the Shapefile's short names mapped back with the shipped fields.csv)."""
    if fmt == "shp":
        with zipfile.ZipFile(path) as archive:
            mapping = {row["shapefile_field"]: row["field"] for row in
                       csv.DictReader(io.StringIO(archive.read("fields.csv").decode("utf-8-sig")))}
        frame = pyogrio.read_dataframe(f"/vsizip/{path}/{layer_def.name}.shp").rename(columns=mapping)
        return frame.set_index("id")
    if fmt == "csv":
        frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        frame["geometry"] = shapely.from_wkt(frame.pop("wkt"))
        return frame.set_index(frame["id"].astype(int))
    if fmt in ("geojson", "gpkg"):
        return pyogrio.read_dataframe(path, fid_as_index=True)
    frame = pyogrio.read_dataframe(path, read_geometry=fmt != "xlsx", layer=0)
    if fmt == "kml":  # KML's own <name> and Placemark id, as GDAL's LIBKML driver reads them
        frame = frame.rename(columns={"Name": "name"})
    return frame.set_index(frame["id"].astype(int))


def normal(value, kind: str):
    """A value as read back, in the store's terms (GDAL reads dates as datetimes, numbers as numpy)."""
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if kind == "date":
        return value.date().isoformat() if isinstance(value, (dt.datetime, pd.Timestamp)) else str(value)[:10]
    if kind == "integer":
        return int(float(value))
    if kind == "real":
        return round(float(value), 6)
    return str(value)


def assert_same_attributes(frame: pd.DataFrame, store, layer: str, query=None):
    layer_def = store.layers[layer]
    stored = {f.id: f for f in store.features(layer, query)}
    assert sorted(frame.index.astype(int)) == sorted(stored)
    for feature_id, row in frame.iterrows():
        feature = stored[int(feature_id)]
        for f in layer_def.fields:
            assert normal(row[f.name], f.type) == normal(feature.properties[f.name], f.type), (feature_id, f.name)


# --- every format, read back by GDAL ------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_reads_back_with_attributes_and_chinese_intact(demo_store, tmp_path, fmt):
    job, path = write(demo_store, tmp_path, args={"format": fmt, "street_office": "临城街道"})
    query = FeatureQuery.where(street_office="临城街道")
    frame = read_back(path, fmt, demo_store.layers["estates"])
    assert len(frame) == job.written == demo_store.count("estates", query) > 10
    assert_same_attributes(frame, demo_store, "estates", query)
    assert "临山小区" in set(frame["name"])  # Chinese text, not mojibake
    if fmt != "xlsx":
        stored = {f.id: f.geometry for f in demo_store.features("estates", query)}
        geoms = np.array([stored[int(i)] for i in frame.index], dtype=object)
        # Within 1 cm: 7 decimals of a degree is ~1 cm, and a centroid-free format keeps every vertex.
        distances = shapely.hausdorff_distance(geoms, np.asarray(frame.geometry.values, dtype=object))
        assert distances.max() < 1e-7 * 1.5


@pytest.mark.parametrize("fmt", FORMATS)
def test_ogrinfo_reads_every_format(demo_store, tmp_path, fmt):
    if not shutil.which("ogrinfo"):
        if required("GDAL"):
            pytest.fail("ogrinfo is required (GEO_APP_REQUIRE_GDAL=1): install Debian's gdal-bin")
        pytest.skip("ogrinfo not installed (Debian package gdal-bin)")
    job, path = write(demo_store, tmp_path, args={"format": fmt, "batch": "2021"})
    source = f"/vsizip/{path}/estates.shp" if fmt == "shp" else str(path)
    result = subprocess.run(["ogrinfo", "-ro", "-al", "-so", source], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"Feature Count: {job.written}" in result.stdout and job.written == 65
    assert "ERROR" not in result.stderr
    if fmt in ("geojson", "gpkg", "shp", "kml"):
        assert "WGS 84" in result.stdout
    listing = subprocess.run(["ogrinfo", "-ro", "-al", "-q", source], capture_output=True, text=True, timeout=60)
    assert "临城街道" in listing.stdout or "常庄街道" in listing.stdout  # UTF-8 read as such


@pytest.mark.parametrize("args", [{}, {"coords": "gcj02", "precision": "5", "batch": "2020,2021"}])
def test_gpkg_spatial_index_is_whole_and_answers_bbox_queries(demo_store, tmp_path, args):
    """The export's R-tree (bulk-filled from the envelopes of all pages at once) holds what the
    GeoPackage triggers would have put there, passes SQLite's own check, and GDAL's spatial filters
    (ogrinfo -spat, pyogrio bbox as QGIS filters) find exactly the features that meet the box."""
    job, path = write(demo_store, tmp_path, args={"format": "gpkg", **args}, page_size=7)
    reference = tmp_path / "rows.gpkg"
    shutil.copy(path, reference)
    con = connect(reference)  # rebuilt row by row as the triggers fill it: the expected entries
    con.execute("DELETE FROM rtree_estates_geom")
    con.execute("INSERT INTO rtree_estates_geom SELECT id, ST_MinX(geom), ST_MaxX(geom), ST_MinY(geom), ST_MaxY(geom) "
                "FROM estates")
    con.commit()
    expected = con.execute("SELECT * FROM rtree_estates_geom ORDER BY id").fetchall()
    con.close()
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT rtreecheck('rtree_estates_geom')").fetchone()[0] == "ok"
        assert con.execute("SELECT * FROM rtree_estates_geom ORDER BY id").fetchall() == expected
        assert len(expected) == job.written == con.execute("SELECT count(*) FROM estates").fetchone()[0]
        extent = con.execute("SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = 'estates'").fetchone()
    whole = pyogrio.read_dataframe(path, fid_as_index=True)
    assert np.allclose(extent, whole.total_bounds, atol=1e-5)  # float32 R-tree bounds, rounded outwards
    geoms = np.asarray(whole.geometry.values, dtype=object)
    minx, miny, maxx, maxy = whole.total_bounds
    rng = np.random.default_rng(11)
    found = 0
    for _ in range(16):
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        size = rng.choice([0.005, 0.02, 0.05])
        box = (x, y, x + size, y + size)
        meets = set(whole.index[shapely.intersects(geoms, shapely.box(*box))])
        assert set(pyogrio.read_dataframe(path, bbox=box, fid_as_index=True).index) == meets
        if shutil.which("ogrinfo"):
            listing = subprocess.run(["ogrinfo", "-ro", "-q", "-spat", *map(str, box), str(path), "estates"],
                                     capture_output=True, text=True, timeout=60, check=True).stdout
            assert listing.count("OGRFeature(estates):") == len(meets)
        found += len(meets)
    assert found > 10  # the boxes do meet estates


def gpkg_contents(path: Path) -> dict:
    """Everything a GeoPackage export holds, as comparable values (not the write time)."""
    with sqlite3.connect(path) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                                            "'rtree_%' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        rows = {t: con.execute(f'SELECT * FROM "{t}" ORDER BY 1, 2').fetchall() for t in tables}
        rows["gpkg_contents"] = [r[:4] + r[5:] for r in rows["gpkg_contents"]]  # without last_change
        rows["rtree"] = con.execute("SELECT * FROM rtree_estates_geom ORDER BY id").fetchall()
        rows["schema"] = con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE "
                                     "'sqlite_autoindex%' ORDER BY type, name").fetchall()
        rows["pragmas"] = [con.execute(f"PRAGMA {p}").fetchone() for p in ("application_id", "user_version")]
    return rows


@pytest.mark.parametrize("demo_store", ["geopackage"], indirect=True)  # the copy serves GeoPackage stores
@pytest.mark.parametrize("args", [{}, {"street_office": "临城街道", "coords": "gcj02", "precision": "5"},
                                  {"bbox": "117.20,34.78,117.28,34.82"}, {"ids": "3,5,8,13,99999"}])
def test_gpkg_copied_from_a_geopackage_store_is_what_the_pages_give(demo_store, tmp_path, monkeypatch, args):
    """A GeoPackage store's export copies the attribute columns with SQL from the attached store file
    (`copy_geopackage`); every other store's is written page by page (`write_geopackage`). Both give
    the very same file contents: rows, geometry blobs, R-tree, schema, aliases, description, extent."""
    assert isinstance(demo_store, GeoPackageStore)
    (tmp_path / "copy").mkdir()
    copied_job, copied = write(demo_store, tmp_path / "copy", args={"format": "gpkg", **args}, page_size=7)
    monkeypatch.setattr(export_job, "geopackage_source", lambda *a: None)
    paged_job, paged = write(demo_store, tmp_path, args={"format": "gpkg", **args}, page_size=7)
    assert copied_job.written == paged_job.written == copied_job.total
    assert gpkg_contents(copied) == gpkg_contents(paged)
    assert copied_job.total == (4 if "ids" in args else copied_job.total) > 3


@pytest.mark.parametrize("store_url", ["geopackage"], indirect=True)
def test_gpkg_export_of_a_geopackage_store_sees_committed_edits(store, tmp_path, layers):
    """Read from the store file directly, the export sees what the store's last commit left in its
    write-ahead log, as the store's own reads do."""
    assert isinstance(store, GeoPackageStore)
    demo = json.loads((Path(layers["estates"].source)).read_text(encoding="utf-8"))["features"][0]
    with store.transaction() as tx:
        ids = tx.insert("estates", [{"properties": {**demo["properties"], "code": f"T-{i}"}, "geometry": demo["geometry"]}
                                    for i in range(3)])
    with store.transaction() as tx:
        tx.update("estates", ids[1], {"name": "改过的名字"})
        tx.delete("estates", [ids[2]])
    _job, path = write(store, tmp_path, args={"format": "gpkg"})
    frame = read_back(path, "gpkg", layers["estates"])
    assert sorted(frame.index) == ids[:2] and frame.loc[ids[1], "name"] == "改过的名字"
    assert_same_attributes(frame, store, "estates")


def test_gpkg_blobs_are_the_stores_encoding_byte_for_byte(demo_store):
    geoms = demo_store.feature_rows("estates").geometries
    geoms = np.concatenate([geoms, shapely.from_wkt(["MULTIPOLYGON EMPTY", "POLYGON ((0 0, 1 0, 1 1, 0 0))",
                                                     "POINT (117.1 34.8)", "POINT EMPTY"])])
    # The GeoPackage binary layout written out plainly: "GP", version 0, flags 3 (little-endian,
    # envelope minx, maxx, miny, maxy), srs_id 4326, the envelope, then ISO WKB.
    bounds = shapely.bounds(geoms)
    expected = [struct.pack("<2sBBi4d", b"GP", 0, 3, 4326, b[0], b[2], b[1], b[3]) + w
                for w, b in zip(shapely.to_wkb(geoms, byte_order=1, flavor="iso"), bounds)]
    for blobs in (encode_geometries(geoms, bounds=bounds), encode_geometries(geoms)):
        assert [bytes(b) for b in blobs] == expected


@pytest.mark.parametrize("page_size", [7, 56, 1000])
@pytest.mark.parametrize("args", [{}, {"street_office": "临城街道"}])
def test_keyset_pages_are_one_read_cut_in_pages(demo_store, page_size, args):
    """The pages an export reads (PostGIS: pipelined, the next page sent while this one is used)
    hold exactly what one read gives, in id order, whatever the page size (168 estates: 56 divides
    it, so the last page is full and an empty read follows)."""
    query, _office = parse_export_filters(args)
    whole = demo_store.feature_rows("estates", query)
    pages = list(export_source.feature_pages(demo_store, "estates", query, page_size))
    assert all(len(p.ids) == page_size for p in pages[:-1]) and 0 < len(pages[-1].ids) <= page_size
    assert [i for p in pages for i in p.ids] == whole.ids == sorted(whole.ids)
    assert [v for p in pages for v in p.versions] == whole.versions
    for k, name in enumerate(whole.names):
        assert [v for p in pages for v in p.columns[k]] == whole.columns[k], name
    assert shapely.equals_exact(np.concatenate([p.geometries for p in pages]), whole.geometries, tolerance=0).all()
    for _ in range(6):  # more than the PostGIS pool holds: a dropped reader gives its connection back
        reader = export_source.feature_pages(demo_store, "estates", query, page_size)
        next(reader)
        reader.close()
    assert demo_store.count("estates", query) == len(whole.ids)


def test_every_layer_exports(demo_store, tmp_path):
    for name in demo_store.layers:  # generic over layers/*.toml: a new layer needs no new code
        job, path = write(demo_store, tmp_path, layer=name, args={"format": "gpkg"})
        frame = read_back(path, "gpkg", demo_store.layers[name])
        assert len(frame) == demo_store.count(name)
        if name == "inspections":  # none in the demo: still a valid, empty layer
            assert frame.empty
            continue
        assert len(frame) > 0
        assert_same_attributes(frame, demo_store, name)


def test_other_layers_filter_by_their_own_fields(demo_store, tmp_path):
    job = export(demo_store, "facilities", {"street_office": "临城街道"})
    assert 0 < job.total < demo_store.count("facilities")
    with pytest.raises(InvalidParameter, match="zones.*status"):
        export(demo_store, "zones", {"status": "planned"})
    with pytest.raises(NotFound, match="layers: "):
        export(demo_store, "inspection")


# --- GeoJSON: RFC 7946 ------------------------------------------------------------------------------
def _decimals(value: float) -> int:
    text = repr(value)
    return len(text.split(".")[1]) if "." in text and "e" not in text else 0


def _rings(geometry: dict):
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    for polygon in polygons:
        yield from ((i, ring) for i, ring in enumerate(polygon))


def test_geojson_is_rfc7946(store, tmp_path, layers):
    """Winding fixed (a clockwise exterior with a counter-clockwise hole goes in), no crs, a bbox
    that encloses every coordinate, the precision asked for, UTF-8 Chinese."""
    demo = json.loads((Path(layers["estates"].source)).read_text(encoding="utf-8"))["features"][0]
    outer = [(117.20, 34.80), (117.20, 34.81), (117.21, 34.81), (117.21, 34.80), (117.20, 34.80)]  # clockwise
    hole = [(117.202, 34.802), (117.208, 34.802), (117.208, 34.808), (117.202, 34.808), (117.202, 34.802)]
    with store.transaction() as tx:
        tx.insert("estates", [{"properties": {**demo["properties"], "code": "T-1", "name": "测试小区（带孔）"},
                               "geometry": {"type": "MultiPolygon", "coordinates": [[outer, hole]]}},
                              {"properties": {**demo["properties"], "code": "T-2"}, "geometry": demo["geometry"]}])
    job, path = write(store, tmp_path, args={"precision": "6", "with_bbox": "1"})
    raw = path.read_bytes()
    assert "测试小区（带孔）".encode("utf-8") in raw  # UTF-8, not \u escapes
    body = json.loads(raw)
    assert body["type"] == "FeatureCollection" and "crs" not in body and body["name"] == "estates"
    everything = []
    for feature in body["features"]:
        assert set(feature) == {"type", "id", "properties", "geometry", "bbox"}
        coords = []
        for index, ring in _rings(feature["geometry"]):
            area2 = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:]))
            assert (area2 > 0) == (index == 0)  # exterior counter-clockwise, holes clockwise
            assert ring[0] == ring[-1]
            coords += ring
        assert all(_decimals(v) <= 6 for xy in coords for v in xy)
        xs, ys = zip(*coords)
        assert feature["bbox"] == [min(xs), min(ys), max(xs), max(ys)]
        everything += coords
    xs, ys = zip(*everything)
    assert body["bbox"] == [min(xs), min(ys), max(xs), max(ys)]
    assert len(body["bbox"]) == 4 and body["bbox"][0] <= body["bbox"][2] and body["bbox"][1] <= body["bbox"][3]
    holed = next(f for f in body["features"] if f["properties"]["code"] == "T-1")
    assert len(holed["geometry"]["coordinates"][0]) == 2  # the hole survived


def test_geojson_without_options_has_no_bbox_and_7_decimals(demo_store, tmp_path):
    _job, path = write(demo_store, tmp_path, args={"ids": "1,2,3"})
    body = json.loads(path.read_bytes())
    assert "bbox" not in body and all("bbox" not in f for f in body["features"])
    decimals = [_decimals(v) for f in body["features"] for _i, ring in _rings(f["geometry"]) for xy in ring for v in xy]
    assert max(decimals) == 7


def test_pages_do_not_change_the_file(demo_store, tmp_path):
    """Keyset paging: pages of 7 give the very bytes one page gives, for text formats."""
    for fmt in ("geojson", "csv", "kml"):
        whole = b"".join(export(demo_store, args={"format": fmt}, page_size=1000).chunks())
        paged = b"".join(export(demo_store, args={"format": fmt}, page_size=7).chunks())
        assert whole == paged and len(whole) > 1000


# --- filters: the map's, and the office by geometry ----------------------------------------------
@pytest.mark.parametrize("args", [
    {"street_office": "临城街道"},
    {"batch": "2020,2021", "status": "completed,accepted"},
    {"item": "parking,meter_heating"},
    {"q": "新村"},
    {"bbox": "117.20,34.78,117.28,34.82"},
    {"ids": "3,5,8,13"},
])
def test_export_selects_what_the_map_selects(demo_store, args):
    """The map's estates come from parse_estate_filters over the store; an export's from the same
    parser: the same ids, whatever the filter."""
    from geo_app.web.params import parse_estate_filters

    job = export(demo_store, args={**args, "format": "geojson"})
    body = json.loads(b"".join(job.chunks()))
    exported = [f["id"] for f in body["features"]]
    if "ids" in args:
        expected = [int(i) for i in args["ids"].split(",")]
    else:
        expected = [f.id for f in demo_store.features("estates", parse_estate_filters(args))]
    assert exported == sorted(expected) and exported


def test_within_office_is_the_office_by_geometry(demo_store):
    offices = demo_store.features("street_offices", FeatureQuery(with_geometry=False))
    for office in offices:
        code = office.properties["code"]
        _office, estates, _members = spatial.estates_of_office(demo_store, code)
        job = export(demo_store, args={"within_office": code, "format": "csv"})
        rows = list(csv.DictReader(io.StringIO(b"".join(job.chunks()).decode("utf-8-sig"))))
        assert sorted(int(r["id"]) for r in rows) == sorted(f.id for f in estates)
        assert job.filename.startswith(f"estates_{office.properties['name']}范围")
    with pytest.raises(NotFound):
        export(demo_store, args={"within_office": "nowhere"})


# --- GCJ-02 -----------------------------------------------------------------------------------------
def test_gcj02_export_is_within_a_metre_of_the_forward_transform(demo_store, tmp_path):
    job, path = write(demo_store, tmp_path, args={"coords": "gcj02", "street_office": "临城街道"})
    assert job.filename == "estates_临城街道_gcj02.geojson"
    body = json.loads(path.read_bytes())
    assert body["coordinateSystem"] == "GCJ-02"
    stored = {f.id: f.geometry for f in demo_store.features("estates", FeatureQuery.where(street_office="临城街道"))}
    worst = 0.0
    for feature in body["features"]:
        truth = shapely.get_coordinates(shapely.orient_polygons(stored[feature["id"]]))
        lon, lat = wgs84_to_gcj02(truth[:, 0], truth[:, 1])
        got = shapely.get_coordinates(shapely.geometry.shape(feature["geometry"]))
        _, _, d = GEOD.inv(lon, lat, got[:, 0], got[:, 1])
        worst = max(worst, float(np.max(d)))
    assert worst < 1.0
    # Shifted by hundreds of metres: this really is GCJ-02, not WGS84 relabelled.
    first = body["features"][0]
    truth = shapely.get_coordinates(stored[first["id"]])[0]
    _, _, shift = GEOD.inv(truth[0], truth[1], *wgs84_to_gcj02(truth[0], truth[1]))
    assert 100 < shift < 1000


@pytest.mark.parametrize("fmt", ["gpkg", "shp", "xlsx", "kml", "csv"])
def test_gcj02_is_labelled_in_every_format(demo_store, tmp_path, fmt):
    job, path = write(demo_store, tmp_path, args={"coords": "gcj02", "format": fmt, "batch": "2021"})
    assert "_gcj02." in job.filename
    if fmt == "gpkg":
        assert "GCJ-02" in pyogrio.read_info(path)["layer_metadata"]["DESCRIPTION"]
    elif fmt == "shp":
        assert "GCJ-02" in zipfile.ZipFile(path).read("README.txt").decode("utf-8")
    elif fmt == "xlsx":
        import openpyxl

        about = openpyxl.load_workbook(path, read_only=True)["说明 About"]
        assert any("GCJ-02" in str(row[1]) for row in about.iter_rows(values_only=True))
    elif fmt == "kml":
        assert b"GCJ-02" in path.read_bytes()[:2000]
    else:
        assert path.read_text(encoding="utf-8-sig").splitlines()[0].endswith(",wkt_gcj02")


# --- names, CSV details, Shapefile mapping ---------------------------------------------------------
@pytest.mark.parametrize("args, name", [
    ({}, "estates.geojson"),
    ({"street_office": "临城街道", "batch": "2021"}, "estates_临城街道_2021.geojson"),
    ({"batch": "2021", "street_office": "临城街道", "format": "gpkg"}, "estates_临城街道_2021.gpkg"),
    ({"status": "completed,accepted", "format": "shp"}, "estates_已完工+已验收.shp.zip"),
    ({"item": "parking", "coords": "gcj02", "format": "csv"}, "estates_停车位_gcj02.csv"),
    ({"q": "a/b:c", "format": "kml"}, "estates_含a-b-c.kml"),
    ({"bbox": "117,34,118,35", "format": "xlsx"}, "estates_bbox.xlsx"),
    ({"ids": "1,2"}, "estates_2ids.geojson"),
])
def test_file_names_say_what_is_inside(demo_store, args, name):
    assert export(demo_store, args=args).filename == name


def test_csv_has_a_bom_centroids_labels_and_no_formulas(store, tmp_path, layers):
    demo = json.loads((Path(layers["estates"].source)).read_text(encoding="utf-8"))["features"][0]
    with store.transaction() as tx:
        tx.insert("estates", [{"properties": {**demo["properties"], "name": "=HYPERLINK(\"http://x\")"},
                               "geometry": demo["geometry"]}])
    job, path = write(store, tmp_path, args={"format": "csv", "csv_geometry": "centroid", "headers": "zh"})
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with the mark
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:3] == ["要素ID", "编号", "小区名称"] and rows[0][-2:] == ["经度", "纬度"]
    assert rows[1][2] == "'=HYPERLINK(\"http://x\")"  # text, not a formula, when Excel opens it
    centroid = shapely.geometry.shape(demo["geometry"]).centroid
    assert abs(float(rows[1][-2]) - centroid.x) < 1e-6 and abs(float(rows[1][-1]) - centroid.y) < 1e-6


def test_xlsx_keeps_formula_like_text_as_text(store, tmp_path, layers):
    import openpyxl

    demo = json.loads((Path(layers["estates"].source)).read_text(encoding="utf-8"))["features"][0]
    with store.transaction() as tx:
        tx.insert("estates", [{"properties": {**demo["properties"], "name": "=1+1", "address": "路\x01口"},
                               "geometry": demo["geometry"]}])
    _job, path = write(store, tmp_path, args={"format": "xlsx"})
    sheet = openpyxl.load_workbook(path)[store.layers["estates"].title_zh]
    header = [c.value for c in sheet[1]]
    assert header[-3:] == ["lon", "lat", "wkt"] and sheet.cell(2, header.index("name") + 1).data_type == "s"
    assert sheet.cell(2, header.index("wkt") + 1).value.startswith("MULTIPOLYGON (((")  # importable back
    assert sheet.cell(2, header.index("name") + 1).value == "=1+1"
    assert sheet.cell(2, header.index("address") + 1).value == "路口"


def test_shapefile_zip_ships_its_field_mapping_and_cuts_long_text(store, tmp_path, layers):
    demo = json.loads((Path(layers["estates"].source)).read_text(encoding="utf-8"))["features"][0]
    long_address = "薛城区" * 100  # 900 bytes in UTF-8
    with store.transaction() as tx:
        tx.insert("estates", [{"properties": {**demo["properties"], "address": long_address},
                               "geometry": demo["geometry"]}])
    job, path = write(store, tmp_path, args={"format": "shp"})
    assert job.cut_values == 1
    archive = zipfile.ZipFile(path)
    assert sorted(archive.namelist()) == ["README.txt", "estates.cpg", "estates.dbf", "estates.prj", "estates.shp",
                                          "estates.shx", "fields.csv"]
    assert archive.read("estates.cpg").decode().strip().upper() in ("UTF-8", "UTF8")
    mapping = list(csv.DictReader(io.StringIO(archive.read("fields.csv").decode("utf-8-sig"))))
    assert [m["field"] for m in mapping] == ["id", *store.layers["estates"].field_names]
    assert {m["shapefile_field"] for m in mapping} == set(pyogrio.read_info(f"/vsizip/{path}/estates.shp")["fields"])
    address = pyogrio.read_dataframe(f"/vsizip/{path}/estates.shp")["address"][0]
    assert long_address.startswith(address) and len(address.encode("utf-8")) <= 254 and len(address) == 84


def test_shapefile_field_names_are_unique_and_deterministic():
    def field(name):
        return FieldDef(name=name, type="text", label_zh=name, label_en=name)

    names = ["inv_subsidy_a", "inv_subsidy_b", "INV_SUBSIDY_c", "inv_subsid", "inv_subs_1", "short", "id_"]
    layer = LayerDef(name="t", title_zh="t", title_en="t", geometry_type="Point", fields=tuple(map(field, names)))
    mapping = shapefile_field_names(layer)
    assert mapping == {"id": "id", "inv_subsidy_a": "inv_subsid", "inv_subsidy_b": "inv_subs_1",
                       "INV_SUBSIDY_c": "INV_SUBS_2", "inv_subsid": "inv_subs_3", "inv_subs_1": "inv_subs_4",
                       "short": "short", "id_": "id_"}
    assert len({v.upper() for v in mapping.values()}) == len(mapping)
    assert all(len(v) <= 10 for v in mapping.values())


# --- streaming, temporary files, bad input ---------------------------------------------------------
@pytest.mark.parametrize("fmt", ["gpkg", "shp", "xlsx"])
def test_file_formats_leave_no_temporary_files_even_when_abandoned(demo_store, tmp_path, monkeypatch, fmt):
    monkeypatch.setattr(export_job.tempfile, "tempdir", str(tmp_path))
    chunks = export(demo_store, args={"format": fmt}).chunks()
    first = next(chunks)
    assert first[:2] in (b"SQ", b"PK")  # SQLite header / zip
    assert any(tmp_path.iterdir())  # the file being streamed
    chunks.close()  # what a WSGI server does when the client hangs up
    assert not any(tmp_path.iterdir())
    b"".join(export(demo_store, args={"format": fmt}).chunks())
    assert not any(tmp_path.iterdir())


def test_a_failed_write_leaves_nothing_behind(demo_store, tmp_path, monkeypatch):
    target = tmp_path / "out.gpkg"
    target.write_bytes(b"the previous export")

    def broken(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(export_job, "write_geopackage", broken)  # any store
    monkeypatch.setattr(export_job, "copy_geopackage", broken)  # a GeoPackage store's own file
    with pytest.raises(OSError):
        export(demo_store, args={"format": "gpkg"}).write_to(target)
    assert target.read_bytes() == b"the previous export" and [p.name for p in tmp_path.iterdir()] == ["out.gpkg"]


@pytest.mark.parametrize("args, parameter", [
    ({"format": "dxf"}, "format"),
    ({"coords": "bd09"}, "coords"),
    ({"precision": "20"}, "precision"),
    ({"precision": "x"}, "precision"),
    ({"with_bbox": "maybe"}, "with_bbox"),
    ({"csv_geometry": "geojson"}, "csv_geometry"),
    ({"headers": "fr"}, "headers"),
    ({"ids": "1,a"}, "ids"),
    ({"bbox": "1,2,3"}, "bbox"),
    ({"status": "done"}, "status"),
])
def test_bad_options_name_the_parameter(demo_store, args, parameter):
    with pytest.raises(InvalidParameter) as error:
        export(demo_store, args=args)
    assert error.value.parameter == parameter


def test_too_many_rows_for_excel_is_refused_before_writing(demo_store, monkeypatch):
    monkeypatch.setattr(export_job, "EXCEL_MAX_ROWS", 100)
    with pytest.raises(InvalidParameter, match="Excel"):
        export(demo_store, args={"format": "xlsx"})
    assert export(demo_store, args={"format": "xlsx", "batch": "2021"}).total == 65


def test_options_default_to_re_importable_wgs84_geojson():
    assert parse_export_options({}) == ExportOptions()
