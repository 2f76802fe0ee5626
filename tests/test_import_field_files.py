"""Files as they come back from the field and from our own exports: a Gauss-Kruger file declared in
the wrong zone, GCJ-02 exports that must not come back as WGS84, our GeoJSON/GeoPackage exports
imported back by id, KML/KMZ as GDAL and QGIS write them, and what the summary line tells."""

from __future__ import annotations

import pytest
import shapely
from shapely.geometry import box

from geo_app.core.export import Export, parse_export_options
from geo_app.core.geodesy import wgs84_to_gcj02
from geo_app.core.importing import ImportOptions, ImportRefused, run_import
from geo_app.storage import Feature, FeatureQuery

from import_support import (LAT0, LON0, estate_rows, frame, geojson_file, max_vertex_error_m, projected, snapshot,
                            write_shapefile, zip_files)

FORMATS = ("geojson", "gpkg", "shp", "kml", "csv", "xlsx")


def by_code(store):
    return {f.properties["code"]: f for f in store.features("estates", FeatureQuery())}


def with_district(store):
    """The store with a 30 km district box around the test estates (as the demo's Xuecheng)."""
    outline = shapely.MultiPolygon([box(LON0 - 0.15, LAT0 - 0.12, LON0 + 0.15, LAT0 + 0.12)])
    with store.transaction() as writer:
        writer.insert("district", [Feature(None, {"code": "370403", "name": "薛城区"}, outline)])
    return store


def export_file(store, tmp_path, fmt: str, **options):
    job = Export(store, "estates", FeatureQuery(), parse_export_options({"format": fmt, **options}))
    path = tmp_path / job.filename
    job.write_to(path)
    return path


# --- a Gauss-Kruger zone that does not match ------------------------------------------------------
def test_unprefixed_eastings_declared_in_the_next_zone_are_refused_naming_the_right_zone(store, tmp_path):
    with_district(store)
    rows = estate_rows(3)
    gdf = frame(rows).set_geometry([projected(r["geometry"], 4548) for r in rows], crs=None)  # CM 117E
    archive = write_shapefile(gdf, tmp_path / "shp", "survey", keep_prj=False)
    before = snapshot(store)
    # CM 120E: valid numbers there too, but 270 km east, in the Yellow Sea.
    with pytest.raises(ImportRefused, match=r"survey\.zip: feature 1 lies [0-9,]+ km from the district .*EPSG:4549"
                                            r".*read as EPSG:4548 .*CM 117E.* it would lie in the district"):
        run_import(store, archive, ImportOptions(crs="EPSG:4549"))
    assert snapshot(store) == before
    report = run_import(store, archive, ImportOptions(crs="EPSG:4548"))
    assert report.ok and report.inserted == 3
    for r in rows:
        assert max_vertex_error_m(by_code(store)[r["code"]].geometry, r["geometry"]) < 1.0


def test_the_district_check_can_be_turned_off_and_needs_a_district(store, tmp_path):
    far = estate_rows(1)
    far[0]["geometry"] = shapely.affinity.translate(far[0]["geometry"], xoff=3.0)  # ~270 km east
    path = geojson_file(tmp_path / "far.geojson", far)
    assert run_import(store, path, ImportOptions(dry_run=True)).ok  # no district stored: nothing to compare
    with_district(store)
    with pytest.raises(ImportRefused, match="from the district"):
        run_import(store, path, ImportOptions(dry_run=True))
    assert run_import(store, path, ImportOptions(dry_run=True, max_km_outside_district=0)).ok


# --- GCJ-02 exports say so, and come back as GCJ-02 -----------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_gcj02_export_imports_back_to_its_wgs84_positions(demo_store, store, tmp_path, fmt):
    path = export_file(demo_store, tmp_path, fmt, coords="gcj02")
    report = run_import(store, path, ImportOptions())
    assert report.ok, report.problem_lines()
    assert report.crs == "GCJ-02 (from the file)"
    assert "coordinates GCJ-02 (from the file)" in report.summary()
    truth = {f.properties["code"]: f.geometry for f in demo_store.features("estates")}
    back = by_code(store)
    assert len(back) == len(truth) == 168
    worst = max(max_vertex_error_m(back[code].geometry.geoms[0], geom.geoms[0])
                for code, geom in list(truth.items())[:20])
    # A GCJ-02 file read as WGS 84 is ~500 m off; read as GCJ-02, the 7-decimal rounding is left.
    assert worst < 0.05


@pytest.mark.parametrize("fmt", ("shp", "gpkg"))
def test_gcj02_exports_name_their_crs_so_gis_tools_do_not_take_them_for_wgs84(demo_store, tmp_path, fmt):
    import pyogrio

    path = export_file(demo_store, tmp_path, fmt, coords="gcj02")
    crs = pyogrio.read_info(f"/vsizip/{path}" if fmt == "shp" else path)["crs"]
    assert "GCJ-02" in crs.replace("_", "-") and "4326" not in crs.split("not")[0]


def test_declaring_wgs84_over_a_file_that_says_gcj02_is_refused(demo_store, store, tmp_path):
    path = export_file(demo_store, tmp_path, "geojson", coords="gcj02")
    with pytest.raises(ImportRefused, match="says its coordinates are GCJ-02"):
        run_import(store, path, ImportOptions(crs="EPSG:4326"))
    assert run_import(store, path, ImportOptions(crs="gcj02", dry_run=True)).ok


def test_an_amap_geojson_without_the_mark_is_still_taken_as_it_is_declared(store, tmp_path):
    rows = estate_rows(2)
    path = geojson_file(tmp_path / "amap.geojson", rows, transform=wgs84_to_gcj02)
    report = run_import(store, path, ImportOptions(crs="gcj02"))
    assert report.ok and report.crs == "GCJ-02 (declared)"


# --- our exports come back by id ------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ("geojson", "gpkg"))
def test_geojson_and_geopackage_exports_import_back_by_id(store, tmp_path, fmt):
    rows = estate_rows(4)
    run_import(store, geojson_file(tmp_path / "first.geojson", rows), ImportOptions())
    ids = {code: f.id for code, f in by_code(store).items()}
    path = export_file(store, tmp_path, fmt)
    with store.transaction() as writer:  # the office renames two estates; the file still has the old names
        for code in ("IMP-001", "IMP-002"):
            writer.update("estates", ids[code], {"name": f"改名{code}"})
    report = run_import(store, path, ImportOptions(mode="upsert-id"))
    assert report.ok, report.problem_lines()
    assert (report.inserted, report.updated) == (0, 4)
    back = by_code(store)
    assert {code: f.id for code, f in back.items()} == ids
    assert back["IMP-001"].properties["name"] == "测试1号小区"


# --- KML and KMZ as GDAL and QGIS write them --------------------------------------------------------
def test_a_kmz_whose_doc_kml_only_links_to_its_layer_imports(store, tmp_path):
    rows = estate_rows(3, prefix="KMZ")
    frame(rows).to_file(tmp_path / "estates.kml", driver="KML", engine="pyogrio")
    (tmp_path / "doc.kml").write_text('<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/'
                                      'kml/2.2"><Document><NetworkLink><Link><href>layers/estates.kml</href></Link>'
                                      '</NetworkLink></Document></kml>', encoding="utf-8")
    kmz = zip_files(tmp_path / "qgis.kmz", [tmp_path / "doc.kml", tmp_path / "estates.kml"],
                    ["doc.kml", "layers/estates.kml"])
    report = run_import(store, kmz, ImportOptions())
    assert report.ok and report.inserted == 3, report.problem_lines()


def test_kml_with_chinese_headers_beside_gdals_empty_name_column(store, tmp_path):
    rows = estate_rows(2)
    gdf = frame(rows).rename(columns={"name": "小区名称"})
    gdf.to_file(tmp_path / "ogr.kml", driver="KML", engine="pyogrio")  # GDAL adds Name, Description
    report = run_import(store, tmp_path / "ogr.kml", ImportOptions())
    assert report.ok, report.problem_lines()
    assert {f.properties["name"] for f in by_code(store).values()} == {"测试1号小区", "测试2号小区"}
    assert not any("'Description'" in n for n in report.notes)  # one note for the empty columns


def test_a_dry_run_says_what_it_would_write(store, tmp_path):
    path = geojson_file(tmp_path / "e.geojson", estate_rows(3))
    run_import(store, path, ImportOptions())
    more = geojson_file(tmp_path / "more.geojson", estate_rows(5))
    report = run_import(store, more, ImportOptions(mode="upsert-name", dry_run=True))
    assert "would write 5 (2 new, 3 updated)" in report.summary()
    assert "coordinates EPSG:4326" in report.summary()


def test_points_for_a_polygon_layer_get_one_clear_error_per_row(store, tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("code,name,street_office,lon,lat\nP-1,甲小区,临城街道,117.26,34.80\nP-2,乙小区,临城街道,117.27,34.81\n",
                    encoding="utf-8")
    report = run_import(store, path, ImportOptions(crs="EPSG:4326", dry_run=True))
    shapes = [(p.row, p.message) for p in report.errors if not p.field]
    assert shapes == [(2, "geometry must be a MultiPolygon, got Point"), (3, "geometry must be a MultiPolygon, got Point")]


class Recorded:
    """A progress listener that keeps what it hears."""

    def __init__(self):
        self.events = []

    def phase(self, name, total):
        self.events.append(("phase", name, total))

    def advance(self, done):
        self.events.append(("advance", done))


def test_reading_a_gis_file_reports_its_progress_with_the_feature_count(store, tmp_path):
    rows = estate_rows(6)
    archive = write_shapefile(frame(rows), tmp_path / "shp", "estates")
    heard = Recorded()
    assert run_import(store, archive, ImportOptions(), progress=heard).ok
    reading = heard.events[:heard.events.index(("phase", "check", 6))]
    assert reading[-2:] == [("phase", "read", 6), ("advance", 6)]


def test_a_nul_character_in_a_csv_cell_is_refused_by_row_and_field_on_either_backend(store, tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes("code,name,street_office,status,wkt\nZ1,\x00坏,临城街道,planned,\"POLYGON((117.26 34.8,"
                     "117.261 34.8,117.261 34.801,117.26 34.801,117.26 34.8))\"\n".encode("utf-8"))
    before = snapshot(store)
    report = run_import(store, path, ImportOptions(crs="EPSG:4326"))
    assert [(p.row, p.field) for p in report.errors] == [(2, "name")]
    assert "NUL character" in report.errors[0].message
    assert snapshot(store) == before
