"""Importing files: every format, CRSs placed within 1 m of an independent pyproj truth, Chinese
text intact, per-row problems collected, all-or-nothing writes, dry runs and upserts, on both
backends."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import shapely
from openpyxl import Workbook
from shapely.geometry import Polygon, mapping

from geo_app.core.geodesy import gcj02_to_bd09, wgs84_to_gcj02
from geo_app.core.importing import ImportOptions, ImportRefused, run_import
from geo_app.errors import Conflict
from geo_app.storage import FeatureQuery
from geo_app.storage.bulk import BulkLoad

from import_support import (HOSTILE, chinese_frame, estate_rows, frame, geojson_file, grid_rows, max_vertex_error_m,
                            projected, rectangle, snapshot, store_old_estate, write_shapefile, written_by,
                            zip_files)


def imported(store):
    return {f.properties["code"]: f for f in store.features("estates", FeatureQuery())}


def run(store, path, **options):
    return run_import(store, path, ImportOptions(**options))


# --- CRSs and encodings ------------------------------------------------------------------------
def test_gbk_shapefile_in_a_prefixed_3_degree_zone_keeps_chinese_names_and_lands_within_1_m(store, tmp_path):
    rows = estate_rows(4)
    gdf = chinese_frame(rows).to_crs(epsg=4527)  # CGCS2000 3° zone 39, eastings 39xxxxxx
    assert gdf.total_bounds[0] > 39_000_000
    archive = write_shapefile(gdf, tmp_path / "shp", "小区边界", encoding="GBK", keep_cpg=False)
    before = store.revision()
    report = run(store, archive)
    assert report.ok, report.problem_lines()
    assert report.inserted == 4 and report.read == 4
    assert any("GB18030" in note or "GBK" in note for note in report.notes)
    assert "4527" in report.crs
    assert store.revision() == before + 1  # one transaction
    got = imported(store)
    for r in rows:
        f = got[r["code"]]
        assert f.properties["name"] == r["name"] and f.properties["street_office"] == "临城街道"
        assert f.properties["status"] == "planned"  # 已列入计划 -> its code
        assert max_vertex_error_m(f.geometry, r["geometry"]) < 1.0


def test_6_degree_zone_without_prefix_declared_with_the_prefixed_code_is_read_right_and_said(store, tmp_path):
    rows = estate_rows(3)
    gdf = frame(rows).set_geometry([projected(r["geometry"], 4509) for r in rows], crs=None)
    archive = write_shapefile(gdf, tmp_path / "shp", "six", keep_prj=False)
    report = run(store, archive, crs="EPSG:4498")  # zone 20 with prefix; the file has none
    assert report.ok, report.problem_lines()
    assert any("lack the zone number 20" in n and "EPSG:4509" in n for n in report.notes)
    for r in rows:
        assert max_vertex_error_m(imported(store)[r["code"]].geometry, r["geometry"]) < 1.0


def test_declared_zone_prefix_mismatch_is_refused(store, tmp_path):
    rows = estate_rows(2)
    gdf = frame(rows).set_geometry([projected(r["geometry"], 4527) for r in rows], crs=None)
    archive = write_shapefile(gdf, tmp_path / "shp", "zone", keep_prj=False)
    before = snapshot(store)
    with pytest.raises(Exception, match=r"zone\.zip: feature 1 .*prefixed with zone 39.*zone 38"):
        run(store, archive, crs="EPSG:4526")
    assert snapshot(store) == before


@pytest.mark.parametrize("keep_cpg", [True, False])
def test_utf8_shapefile_whose_chinese_field_names_were_cut_mid_character_imports_mapped(store, tmp_path, keep_cpg):
    # GDAL and QGIS cut a UTF-8 .dbf field name at 10 bytes, inside a character: 小区名称 (12 bytes)
    # becomes 小区名 and one byte of 称. Such files must import, their fields recognised.
    rows = estate_rows(3)
    path = write_shapefile(chinese_frame(rows), tmp_path, "estates", "UTF-8", keep_cpg=keep_cpg)
    report = run(store, path)
    assert report.ok, report.problem_lines()
    assert report.inserted == 3
    assert {"小区名", "建筑面", "建成年", "改造年", "改造状"} <= set(report.columns)
    assert report.columns["建筑面"] == "floor_area_m2" and report.columns["改造年"] == "batch"
    assert any("cut in the middle of a character" in note and "建筑面" in note for note in report.notes)
    stored = imported(store)["IMP-002"].properties
    assert (stored["name"], stored["floor_area_m2"], stored["year_built"], stored["batch"], stored["status"]) == (
        "测试2号小区", 5001.0, 1990, 2021, "planned")


def test_amap_gcj02_geojson_declared_as_such_lands_within_1_m_of_wgs84_truth(store, tmp_path):
    rows = estate_rows(3)
    path = geojson_file(tmp_path / "amap.geojson", rows, transform=wgs84_to_gcj02)
    report = run(store, path, crs="gcj02")
    assert report.ok, report.problem_lines()
    for r in rows:
        assert max_vertex_error_m(imported(store)[r["code"]].geometry, r["geometry"]) < 1.0


def _bd09_forward(lon, lat):
    """Baidu's published forward formula, written here independently of geo_app's inverse."""
    x, y = wgs84_to_gcj02(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * np.pi * 3000 / 180)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * np.pi * 3000 / 180)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def test_baidu_bd09_geojson_declared_as_such_lands_within_1_m(store, tmp_path):
    rows = estate_rows(3)
    path = geojson_file(tmp_path / "baidu.geojson", rows, transform=_bd09_forward)
    report = run(store, path, crs="bd09")
    assert report.ok, report.problem_lines()
    for r in rows:
        assert max_vertex_error_m(imported(store)[r["code"]].geometry, r["geometry"]) < 1.0
    assert np.allclose(gcj02_to_bd09(*wgs84_to_gcj02(117.3, 34.8)), _bd09_forward(117.3, 34.8))


def test_gcj02_file_imported_undeclared_would_be_off_by_hundreds_of_metres(store, tmp_path):
    # Why the declaration matters: the same file read as WGS84 lands ~500 m away, so it must be said.
    rows = estate_rows(1)
    path = geojson_file(tmp_path / "amap.geojson", rows, transform=wgs84_to_gcj02)
    assert run(store, path).ok
    assert max_vertex_error_m(imported(store)[rows[0]["code"]].geometry, rows[0]["geometry"]) > 100


# --- formats -----------------------------------------------------------------------------------
def _check_round_trip(store, rows, report):
    assert report.ok, report.problem_lines()
    assert report.inserted == len(rows)
    got = imported(store)
    for r in rows:
        f = got[r["code"]]
        for key in ("name", "street_office", "households", "floor_area_m2", "batch", "status"):
            assert f.properties[key] == r[key], key
        assert max_vertex_error_m(f.geometry, r["geometry"]) < 0.01


@pytest.mark.parametrize("suffix, driver", [("geojson", "GeoJSON"), ("gpkg", "GPKG")])
def test_gis_files_written_by_gdal_import_with_their_attributes(store, tmp_path, suffix, driver):
    rows = estate_rows(4)
    path = tmp_path / f"estates.{suffix}"
    frame(rows).to_file(path, driver=driver, engine="pyogrio")
    _check_round_trip(store, rows, run(store, path))


def test_kml_and_kmz(store, tmp_path):
    rows = estate_rows(2, prefix="KML")
    path = tmp_path / "estates.kml"
    frame(rows).to_file(path, driver="KML", engine="pyogrio")
    _check_round_trip(store, rows, run(store, path))
    more = estate_rows(4, prefix="KMZ")[2:]
    frame(more).to_file(tmp_path / "doc.kml", driver="KML", engine="pyogrio")
    kmz = zip_files(tmp_path / "estates.kmz", [tmp_path / "doc.kml"])
    _check_round_trip(store, more, run(store, kmz))


def test_csv_with_wkt_and_chinese_headers_in_gbk(store, tmp_path):
    rows = estate_rows(3)
    table = chinese_frame(rows)
    table["WKT"] = shapely.to_wkt(table.geometry.values, rounding_precision=-1)
    path = tmp_path / "estates.csv"
    table.drop(columns="geometry").to_csv(path, index=False, encoding="gbk")
    report = run(store, path, crs="EPSG:4490")
    _check_round_trip(store, rows, report)
    assert report.row_kind == "row"


def test_csv_without_a_declared_crs_is_refused(store, tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("编号,名称,经度,纬度\nF-1,站,117.3,34.8\n", encoding="utf-8")
    with pytest.raises(Exception, match="points.csv: the file names no coordinate system.*--crs"):
        run(store, path, layer="facilities")


def test_excel_with_wkt_column(store, tmp_path):
    rows = estate_rows(3)
    book = Workbook()
    sheet = book.active
    headers = ["编号", "小区名称", "街道", "户数", "建筑面积（m²）", "改造年度", "改造状态", "几何"]
    sheet.append(headers)
    for r in rows:
        sheet.append([r["code"], r["name"], r["street_office"], r["households"], r["floor_area_m2"], r["batch"],
                      "已列入计划", r["geometry"].wkt])
    path = tmp_path / "estates.xlsx"
    book.save(path)
    report = run(store, path, crs="wgs84")
    assert report.ok, report.problem_lines()
    got = imported(store)
    assert [got[r["code"]].properties["name"] for r in rows] == [r["name"] for r in rows]
    assert got[rows[0]["code"]].properties["floor_area_m2"] == rows[0]["floor_area_m2"]


def test_mapping_file_maps_unknown_headers_and_value_spellings(store, tmp_path):
    rows = estate_rows(2)
    gdf = frame(rows).rename(columns={"code": "XQBH", "name": "XQMC", "street_office": "JD"})
    gdf["status"] = "竣工"
    gdf["备注"] = "无"
    path = tmp_path / "odd.geojson"
    gdf.to_file(path, driver="GeoJSON", engine="pyogrio")
    mapping = tmp_path / "map.toml"
    mapping.write_text('[columns]\nXQBH = "code"\nXQMC = "name"\nJD = "street_office"\n"备注" = ""\n'
                       '[values.status]\n"竣工" = "completed"\n', encoding="utf-8")
    report = run(store, path, mapping=mapping)
    assert report.ok, report.problem_lines()
    assert {f.properties["status"] for f in imported(store).values()} == {"completed"}
    assert report.columns["备注"] == ""


# --- validation: every problem, by row and field, nothing written ------------------------------
def test_every_bad_row_is_reported_with_row_and_field_and_nothing_is_written(store, tmp_path):
    store_old_estate(store)
    rows = estate_rows(8)
    rows[1]["households"] = -5
    rows[2]["progress_pct"] = 130
    rows[3]["geometry"] = rows[0]["geometry"]  # duplicate of feature 1
    bowtie = rectangle(900, 0)
    (x0, y0), (x1, y1) = bowtie.exterior.coords[0], bowtie.exterior.coords[2]
    rows[4]["geometry"] = Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    rows[5]["geometry"] = rectangle(3000 + 30, 10)  # overlaps the stored estate
    rows[6]["code"] = "OLD-1"
    rows[7]["status"] = "不存在的状态"
    path = geojson_file(tmp_path / "bad.geojson", rows)
    before = snapshot(store)
    report = run(store, path)
    assert not report.ok
    found = {(p.row, p.field) for p in report.errors}
    assert (2, "households") in found and (3, "progress_pct") in found and (4, "") in found
    assert (5, "") in found and (6, "") in found and (7, "code") in found and (8, "status") in found
    messages = " | ".join(p.message for p in report.errors)
    assert "outside 0" in messages and "duplicate" in messages and "overlaps stored estate" in messages
    assert "Self-intersection" in messages and "already belongs" in messages
    assert report.refused == 7 and report.inserted == 0
    assert snapshot(store) == before


def test_a_small_self_intersection_is_repaired_and_reported(store, tmp_path):
    rows = estate_rows(2)
    ring = list(rows[0]["geometry"].exterior.coords)[:-1]
    # The last edge cuts across the first one, leaving a tiny twisted triangle near the corner.
    (x0, y0), (x1, y1) = ring[0], ring[1]
    ring.append((x0 + (x1 - x0) * 0.01, y0 - (y1 - y0 + 1e-5) * 0.1))
    rows[0]["geometry"] = Polygon(ring)
    assert not rows[0]["geometry"].is_valid
    report = run(store, geojson_file(tmp_path / "fixable.geojson", rows))
    assert report.ok, report.problem_lines()
    assert report.repaired == 1 and report.inserted == 2
    assert any(p.severity == "warning" and p.row == 1 and "repaired" in p.message for p in report.problems)
    assert imported(store)[rows[0]["code"]].geometry.is_valid


def test_dry_run_checks_everything_and_writes_nothing(store, tmp_path):
    path = geojson_file(tmp_path / "ok.geojson", estate_rows(3))
    before = snapshot(store)
    report = run(store, path, dry_run=True)
    assert report.ok and report.read == 3 and report.inserted == 0 and report.revision is None
    assert snapshot(store) == before


# --- upserts ----------------------------------------------------------------------------------
def test_upsert_by_name_updates_the_matching_rows_and_inserts_the_rest(store, tmp_path):
    rows = estate_rows(3)
    assert run(store, geojson_file(tmp_path / "first.geojson", rows)).ok
    ids = {code: f.id for code, f in imported(store).items()}
    update = [dict(rows[1], households=999, code=rows[1]["code"], year_built=None)]
    update += [dict(estate_rows(4, prefix="NEW")[3])]
    before = store.revision()
    report = run(store, geojson_file(tmp_path / "second.geojson", update), mode="upsert-name")
    assert report.ok, report.problem_lines()
    assert (report.updated, report.inserted) == (1, 1) and store.revision() == before + 1
    got = imported(store)
    assert got[rows[1]["code"]].id == ids[rows[1]["code"]]
    assert got[rows[1]["code"]].properties["households"] == 999
    assert got[rows[1]["code"]].properties["year_built"] == 1990  # a blank cell keeps the stored value
    assert got[rows[0]["code"]].properties["households"] == rows[0]["households"]
    assert len(got) == 4


def test_an_import_leaves_its_audit_records_with_the_change(store, tmp_path):
    from geo_app.storage.audit import AuditFilter

    rows = estate_rows(3, prefix="AUD")
    assert run(store, geojson_file(tmp_path / "first.geojson", rows)).ok
    [created] = store.audit.entries(AuditFilter(layer="estates"))
    assert (created.actor, created.via, created.reason) == ("cli", "cli", "import of first.geojson")
    assert created.changes[0]["new"] == {"file": "first.geojson", "features": 3,
                                         "first_code": "AUD-001", "last_code": "AUD-003"}
    target = imported(store)["AUD-002"]
    update = [dict(rows[1], households=777)]
    assert run(store, geojson_file(tmp_path / "fix.geojson", update), mode="upsert-name").ok
    [record] = store.audit.entries(AuditFilter(feature_id=target.id))
    assert record.feature_code == "AUD-002" and record.reason == "import of fix.geojson"
    assert {"field": "households", "old": rows[1]["households"], "new": 777} in record.changes
    dry = run(store, geojson_file(tmp_path / "again.geojson", [dict(rows[0], households=1)]), mode="upsert-name",
              dry_run=True)
    assert dry.ok and store.audit.count(AuditFilter(layer="estates")) == 2  # a dry run records nothing


def test_upsert_by_id_updates_exactly_those_ids(store, tmp_path):
    rows = estate_rows(3)
    assert run(store, geojson_file(tmp_path / "first.geojson", rows)).ok
    target = imported(store)[rows[2]["code"]]
    changed = dict(rows[2], id=target.id, name=HOSTILE, geometry=rectangle(600, 500))
    report = run(store, geojson_file(tmp_path / "by_id.geojson", [changed]), mode="upsert-id")
    assert report.ok and report.updated == 1 and report.inserted == 0
    after = store.get("estates", target.id)
    assert after.properties["name"] == HOSTILE
    assert max_vertex_error_m(after.geometry, rectangle(600, 500)) < 0.01
    assert store.count("estates") == 3


def test_bulk_import_keeps_the_spatial_index_and_later_writes_index_too(store, tmp_path):
    rows = estate_rows(6)
    assert run(store, geojson_file(tmp_path / "indexed.geojson", rows)).ok
    for r in rows:  # bbox reads go through the R-tree (GeoPackage) / GiST index (PostGIS)
        found = store.features("estates", FeatureQuery.where(bbox=r["geometry"].bounds))
        assert [f.properties["code"] for f in found] == [r["code"]]
    with store.transaction() as w:  # the insert trigger is back after the bulk load
        w.insert("estates", [{"type": "Feature", "properties": {"code": "LATER", "name": "后加", "street_office":
                              "临城街道", "status": "planned"}, "geometry": mapping(rectangle(5000, 0))}])
    assert [f.properties["code"] for f in store.features(
        "estates", FeatureQuery.where(bbox=rectangle(5000, 0).bounds))] == ["LATER"]
    if hasattr(store, "path"):  # and GDAL agrees with the index it reads
        import pyogrio

        store.checkpoint()
        assert len(pyogrio.read_dataframe(store.path, layer="estates", bbox=rows[2]["geometry"].bounds)) == 1


def _indexes(store) -> list[str]:
    """The estates table's index names as the engine lists them."""
    if hasattr(store, "path"):
        import sqlite3

        with sqlite3.connect(store.path) as con:
            return sorted(r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'index' "
                                                    "AND tbl_name = 'estates'"))
    with store._connection() as conn:
        return sorted(r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'estates' "
                                                 "AND schemaname = current_schema()"))


def _batch_rows() -> list[dict]:
    """Chinese headers and labels (status, items) over 10 rows, with a problem in the rows that
    fall in the first, a middle and the last of the batches of 3 below."""
    rows = grid_rows(10, "BAT")
    for i, r in enumerate(rows):
        r["items_planned"] = ["道路、路灯", "停车位，绿化", "roads,parking"][i % 3]
        r["completion_date"] = ["2022年5月1日", "2022-05-01", "2022.5.1"][i % 3]
        r["zone"] = ["东片区", None, "  ", " 西片区 "][i % 4]  # few values, blanks between them
    rows[1]["households"] = -1
    rows[5]["status"] = "不存在的状态"
    rows[6]["items_planned"] = "道路、不存在的内容"
    rows[9]["completion_date"] = "2022-02-30"
    bowtie = rows[7]["geometry"]
    (x0, y0), (x1, y1) = bowtie.exterior.coords[0], bowtie.exterior.coords[2]
    rows[7]["geometry"] = Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])  # crosses itself
    rows[8]["geometry"] = rows[1]["geometry"]  # the same shape as a feature of another batch
    return rows


def test_a_file_read_in_batches_gets_the_report_and_rows_of_one_read_whole(store, tmp_path, monkeypatch):
    # The attribute and shape checks run batch by batch while GDAL reads (20,000 features a
    # batch): the problems of later batches keep their row numbers, labels resolved in one batch
    # resolve in the next, a duplicate across batches is found, and the stored values and shapes
    # are those of a file read in one go.
    from geo_app.core.importing import reading

    bad = write_shapefile(chinese_frame(_batch_rows()), tmp_path / "bad", "estates", "GBK")
    whole = [(p.row, p.field, p.message) for p in run(store, bad, dry_run=True).problems]
    monkeypatch.setattr(reading, "READ_BATCH", 3)
    batched = run(store, bad, dry_run=True)
    assert [(p.row, p.field, p.message) for p in batched.problems] == whole
    assert {(row, field) for row, field, _ in whole} == {(2, "户数"), (6, "改造状态"), (7, "items_plan"),
                                                          (8, ""), (9, ""), (10, "completion")}  # the file's headers
    assert any(row == 9 and "#2" in message for row, _, message in whole)  # duplicate of feature 2
    good_rows = _batch_rows()
    good_rows[1]["households"], good_rows[5]["status"] = 101, "completed"
    good_rows[6]["items_planned"], good_rows[9]["completion_date"] = "道路", "2022-02-28"
    good_rows[7]["geometry"], good_rows[8]["geometry"] = grid_rows(10, "X")[7]["geometry"], grid_rows(10, "X")[8]["geometry"]
    report = run(store, write_shapefile(chinese_frame(good_rows), tmp_path / "good", "estates", "GBK"))
    assert report.ok and report.inserted == 10, report.problem_lines()
    stored = imported(store)
    assert [stored[f"BAT-{i:03d}"].properties["items_planned"] for i in (1, 2, 3, 7)] == [
        "roads,street_lights", "parking,greening", "roads,parking", "roads"]
    assert {stored[f"BAT-{i:03d}"].properties["completion_date"] for i in (1, 2, 3)} == {"2022-05-01"}
    assert stored["BAT-006"].properties["status"] == "completed" and stored["BAT-002"].properties["households"] == 101
    assert [stored[f"BAT-{i:03d}"].properties["zone"] for i in range(1, 11)] == [
        "东片区", None, None, "西片区", "东片区", None, None, "西片区", "东片区", None]
    for i, row in enumerate(good_rows, 1):  # each shape where it belongs, a one-part MultiPolygon
        geometry = stored[f"BAT-{i:03d}"].geometry
        assert geometry.geom_type == "MultiPolygon" and shapely.normalize(geometry).equals_exact(
            shapely.normalize(shapely.MultiPolygon([row["geometry"]])), 1e-9)


def test_a_large_load_into_an_empty_layer_ends_with_every_index_and_right_bbox_answers(store, tmp_path):
    # A load of 1,000+ rows into an empty layer builds the secondary (and, on PostGIS, GiST)
    # indexes once at the end instead of row by row: they must all be there afterwards.
    before = _indexes(store)
    rows = grid_rows(1200, "BIG")
    report = run(store, geojson_file(tmp_path / "big.geojson", rows))
    assert report.ok and report.inserted == 1200
    assert _indexes(store) == before
    if hasattr(store, "path"):  # the packed R-tree is one SQLite's own integrity check accepts
        import sqlite3

        store.checkpoint()
        with sqlite3.connect(store.path) as con:
            assert con.execute("SELECT rtreecheck('rtree_estates_geom')").fetchone()[0] == "ok"
            assert con.execute("SELECT COUNT(*) FROM rtree_estates_geom").fetchone()[0] == 1200
    for r in rows[::97]:
        found = store.features("estates", FeatureQuery.where(bbox=r["geometry"].bounds))
        assert [f.properties["code"] for f in found] == [r["code"]]


def test_a_large_load_failing_mid_write_leaves_the_store_and_its_indexes_as_they_were(store, tmp_path, monkeypatch):
    assert run(store, geojson_file(tmp_path / "one.geojson", estate_rows(1, "OLD"))).ok
    # An empty layer is what makes the load defer its indexes; the other layer shows nothing changes.
    with store.transaction() as w:
        w.delete("estates", [f.id for f in store.features("estates", FeatureQuery())])
    before, indexes = snapshot(store), _indexes(store)

    class Interrupted(Exception):
        pass

    # The disk fills up once 1,000 rows are in.
    added, loads = BulkLoad.add, []

    def failing_add(self, columns, geometries, on_progress=None):
        loads.append(threading.current_thread().name)
        rows = added(self, columns, geometries, on_progress)
        if self.rows >= 1000:
            raise Interrupted("disk full (simulated) after 1,000 rows")
        return rows

    monkeypatch.setattr(BulkLoad, "add", failing_add)
    with pytest.raises(Interrupted):
        run_import(store, geojson_file(tmp_path / "big.geojson", grid_rows(1200, "BIG")), ImportOptions())
    # The rows went to the write streamed during the read.
    assert loads == ["import-write"]
    assert snapshot(store) == before
    assert _indexes(store) == indexes
    assert store.count("estates") == 0


class _Watch:
    """A progress listener that notes what a reader of the store sees once the checks begin (on
    PostGIS, once the streamed load has ended its COPY: every row is at the server, uncommitted)."""

    def __init__(self, store, monkeypatch):
        import threading as _threading

        from geo_app.storage.bulk import BulkLoad

        self.store, self.seen, self.finished = store, [], _threading.Event()
        finish = BulkLoad.finish

        def finishing(load):
            finish(load)
            self.finished.set()

        monkeypatch.setattr(BulkLoad, "finish", finishing)

    def phase(self, name, total):
        if name == "check":
            # The load ends while the import checks the whole file, not after: the store builds its
            # indexes meanwhile.
            assert self.finished.wait(20), "the streamed load did not end before the checks did"
            self.seen.append(sorted(f.properties["code"] for f in self.store.features("estates", FeatureQuery())))

    def advance(self, done):
        pass


def test_until_an_import_commits_others_read_the_store_as_it_was(store, tmp_path, monkeypatch):
    # On PostGIS the rows go to the server while the file is read; a reader still sees only what
    # was committed (and is not kept waiting: a load this small takes no lock) until the import
    # commits, whole.
    from geo_app.core.importing import reading

    store_old_estate(store)
    monkeypatch.setattr(reading, "READ_BATCH", 50)
    parts = written_by(monkeypatch)
    watch = _Watch(store, monkeypatch)
    rows = [r for i, r in enumerate(grid_rows(201, "NEW")) if i != 10]  # (#11 would overlap OLD-1)
    shp = write_shapefile(chinese_frame(rows), tmp_path / "shp", "estates", "GBK")
    report = run_import(store, shp, ImportOptions(), progress=watch)
    assert report.ok and report.inserted == 200, report.problem_lines()
    assert watch.seen == [["OLD-1"]]
    assert store.count("estates") == 201
    streamed = [rows for thread, rows in parts if thread == "import-write"]
    assert streamed == [50, 50, 50, 50]


def test_a_problem_found_after_the_rows_were_streamed_rolls_all_of_them_back(store, tmp_path, monkeypatch):
    # Every batch passes its own checks and goes to the server; only the check over the whole file
    # finds that row 11 overlaps the stored OLD-1: nothing of the import may remain.
    from geo_app.core.importing import reading

    store_old_estate(store)
    before = snapshot(store)
    monkeypatch.setattr(reading, "READ_BATCH", 4)
    parts = written_by(monkeypatch)
    shp = write_shapefile(chinese_frame(grid_rows(30, "NEW")), tmp_path / "shp", "estates", "GBK")
    report = run_import(store, shp, ImportOptions())
    assert not report.ok
    assert [(p.row, "overlaps stored estate" in p.message) for p in report.errors] == [(11, True)]
    assert snapshot(store) == before
    assert sum(rows for thread, rows in parts if thread == "import-write") == 30


def test_two_imports_into_one_empty_layer_at_once_both_land(store, tmp_path, monkeypatch):
    # Import B streams its rows without a lock (it is small); meanwhile import A, big enough to lock
    # the layer it finds empty (B's rows are not committed), asks for that lock. B's checks then read
    # the layer, behind A's request, while A's lock waits for B to end: A must give the lock up.
    import threading as _threading

    from geo_app.storage import postgis

    monkeypatch.setattr(postgis, "LOCKED_LOAD_ROWS", 20)
    small = write_shapefile(chinese_frame(grid_rows(5, "BBB")), tmp_path / "b", "estates", "GBK")
    big_rows = grid_rows(60, "AAA")[20:]  # 40 rows further north than B's five
    big = write_shapefile(chinese_frame(big_rows), tmp_path / "a", "estates", "GBK")
    reports = {}

    def import_a():
        reports["A"] = run_import(store, big, ImportOptions())

    class StartA:
        def phase(self, name, total):
            if name == "check":
                other = _threading.Thread(target=import_a)
                other.start()
                self.other = other
                import time

                time.sleep(0.5)  # A is at its lock by now

        def advance(self, done):
            pass

    start_a = StartA()
    done = _threading.Thread(target=lambda: reports.setdefault("B", run_import(store, small, ImportOptions(),
                                                                               progress=start_a)))
    done.start()
    done.join(60)
    assert not done.is_alive(), "import B never ended"
    start_a.other.join(60)
    assert not start_a.other.is_alive(), "import A never ended"
    assert reports["A"].ok and reports["B"].ok, (reports["A"].problem_lines(), reports["B"].problem_lines())
    assert store.count("estates") == 45


def test_a_write_after_a_streamed_one_gave_way_finds_the_layer_as_the_checks_took_it(store, tmp_path, monkeypatch):
    # A locked, streamed load into an empty layer: the checks take the layer as empty. The file's
    # coordinates turn out to lack their zone prefix, so the streamed rows (placed by the declared
    # zone) are rolled back and the import writes again. Someone storing an estate in between must
    # make that write refuse, not land unchecked against it.
    from geo_app.storage import postgis

    monkeypatch.setattr(postgis, "LOCKED_LOAD_ROWS", 3)
    rows = estate_rows(3)
    gdf = frame(rows).set_geometry([projected(r["geometry"], 4509) for r in rows], crs=None)
    archive = write_shapefile(gdf, tmp_path / "shp", "six", keep_prj=False)

    class StoreOneMeanwhile:
        def phase(self, name, total):
            if name == "write":
                store_old_estate(store)

        def advance(self, done):
            pass

    with pytest.raises(Conflict, match="while this import was being checked"):
        run_import(store, archive, ImportOptions(crs="EPSG:4498"), progress=StoreOneMeanwhile())
    assert sorted(imported(store)) == ["OLD-1"]
    with store.transaction() as w:
        w.clear("estates")
    report = run(store, archive, crs="EPSG:4498")  # nobody in between: the second write lands
    assert report.ok and report.inserted == 3, report.problem_lines()
    assert any("EPSG:4509" in n for n in report.notes)
    for r in rows:
        assert max_vertex_error_m(imported(store)[r["code"]].geometry, r["geometry"]) < 1.0


def test_the_cycle_collector_is_back_on_after_an_import_whatever_its_end(store, tmp_path):
    import gc

    assert gc.isenabled()
    assert run(store, geojson_file(tmp_path / "ok.geojson", estate_rows(2))).ok
    assert gc.isenabled()
    (tmp_path / "notes.txt").write_text("not a GIS file")
    with pytest.raises(ImportRefused):
        run(store, tmp_path / "notes.txt")
    assert gc.isenabled()


def test_a_column_of_few_values_is_checked_once_per_value_with_the_report_a_check_per_row_gives():
    # A Shapefile's status, items and date columns repeat a few values: the read hands them over as
    # each row's index into the distinct values, and the checks read each value once. The converted
    # column and every problem (row, field, message) must be what checking each row gives.
    import pyarrow as pa

    from geo_app.core.importing import reading
    from geo_app.layers import load_layers
    from geo_app.storage.columns import check_column

    estates = load_layers(Path(__file__).resolve().parent.parent / "layers")["estates"]
    lookup = {"已完工": "completed"}
    cases = {
        "status": ["planned", None, "已完工", "finished", "planned", "finished", None, "completed"],
        "items_planned": ["roofs", "roofs，flying_cars", None, "roofs", "pipes、roofs", "flying_cars"],
        "start_date": ["2021-04-15", "2021-4-5", "next spring", None, "2021-02-30", "2021-04-15"],
        "households": ["120", "-3", "many", None, "120", "1,200"],
    }
    for name, cells in cases.items():
        values, encoded = reading._strings(pa.array(cells * 5, pa.string()))
        assert encoded is not None, name  # (few distinct values: encoded)
        field_def = estates.field(name)
        per_row = check_column(field_def, values, lookup, trimmed=True)
        per_value = check_column(field_def, values, lookup, trimmed=True, encoded=encoded)
        assert per_row[1], f"{name}: the case must have problems"
        # (the report lists problems by row: within a row, in the order the checks found them)
        by_row = lambda problems: sorted(problems, key=lambda p: p.position)  # noqa: E731
        assert by_row(per_value[1]) == by_row(per_row[1]), name
        assert per_value[0].tolist() == per_row[0].tolist(), name
