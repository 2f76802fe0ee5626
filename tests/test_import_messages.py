"""The import page speaks Chinese: the problems, notes and refusals the importer says in English (on
the command line and in its JSON report) are said in Chinese on the page, every value kept."""

from __future__ import annotations

import json
import re
import zipfile

import pytest
from shapely.geometry import Point, Polygon

from geo_app.core.importing import ImportOptions, ImportRefused, run_import
from geo_app.web.import_messages import localised

from import_support import (chinese_frame, estate_rows, frame, geojson_file, projected, rectangle, store_old_estate,
                            write_shapefile)
from test_import_field_files import with_district
from test_import_web import csrf, make_app, signed_in, upload

CJK = re.compile(r"[\u4e00-\u9fff]")
NUMBERS = re.compile(r"\d+(?:[.,]\d+)*")


def said_in_chinese(message: str) -> str:
    """The message's Chinese, checked: it has Chinese in it and keeps every number of the English."""
    zh = localised(message, "zh")
    assert zh != message and CJK.search(zh), f"not said in Chinese: {message!r}"
    assert sorted(NUMBERS.findall(message)) == sorted(NUMBERS.findall(zh)), (message, zh)
    assert localised(message, "en") == message
    return zh


def test_every_kind_of_problem_and_note_is_said_in_chinese(store, tmp_path):
    store_old_estate(store)
    rows = estate_rows(12)
    rows[1]["households"] = -5
    rows[2]["status"] = "不存在的状态"
    rows[3]["geometry"] = rows[0]["geometry"]  # a duplicate shape
    bowtie = rectangle(900, 0)
    (x0, y0), (x1, y1) = bowtie.exterior.coords[0], bowtie.exterior.coords[2]
    rows[4]["geometry"] = Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])  # cannot be repaired
    rows[5]["geometry"] = rectangle(3000 + 30, 10)  # overlaps the stored estate
    rows[6]["code"] = "OLD-1"  # already stored
    rows[7]["geometry"] = rectangle(6000, 0, 0.5, 0.5)  # 0.25 m²
    rows[8]["geometry"] = Point(117.3, 34.8)  # a point where a polygon belongs
    rows[9]["geometry"] = rectangle(9000 + 60, 0)  # overlaps the next one
    rows[10]["geometry"] = rectangle(9000, 0)
    rows[11]["code"] = rows[10]["code"]  # a duplicate code
    report = run_import(store, geojson_file(tmp_path / "bad.geojson", rows), ImportOptions())
    kinds = {re.sub(r"[\d.,]+", "#", p.message) for p in report.problems}
    assert len(kinds) >= 9, kinds
    # Notes: a UTF-8 Shapefile whose Chinese field names were cut, a column nobody knows, an empty one.
    gdf = chinese_frame(estate_rows(2, prefix="NOTE"))
    gdf["备注"], gdf["空列"] = "x", None
    notes = run_import(store, write_shapefile(gdf, tmp_path / "notes", "estates", "UTF-8"),
                       ImportOptions(dry_run=True)).notes
    assert len(notes) >= 4, notes
    for message in [p.message for p in report.problems] + report.notes + notes:
        said_in_chinese(message)
    assert any("截断" in localised(note, "zh") for note in notes)  # the cut field names
    # GEOS's reason why the bowtie is invalid is said in Chinese too, where it crosses itself kept.
    [bowtie_problem] = [localised(p.message, "zh") for p in report.problems if p.row == 5]
    assert "自相交，位于 " in bowtie_problem and "Self-intersection" not in bowtie_problem


@pytest.mark.parametrize("shape, zh", [
    (Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]), "自相交"),
    (Polygon([(0, 0), (2, 0), (2, 2), (0, 2)], [[(3, 3), (4, 3), (4, 4), (3, 4)]]), "内环位于外环之外"),
    (Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (3, 1), (3, 3), (1, 3)], [(1.5, 1.5), (2.5, 1.5), (2.5, 2.5),
                                                                             (1.5, 2.5)]]), "内环相互嵌套"),
    (Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(0, 2), (2, 0), (4, 2), (2, 4)]]), "内部不连通"),
])
def test_geos_reasons_for_invalid_shapes_are_said_in_chinese(shape, zh):
    import shapely

    reason = shapely.is_valid_reason(shape)  # what GEOS says, e.g. "Self-intersection[0.5 0.5]"
    said = said_in_chinese(f"invalid geometry: {reason}")
    assert zh in said and reason.split("[")[0] not in said, (reason, said)


def _refusal(store, path, **options) -> str:
    with pytest.raises(ImportRefused) as caught:
        run_import(store, path, ImportOptions(**options))
    return caught.value.message


def test_every_common_refusal_is_said_in_chinese(store, tmp_path):
    rows = estate_rows(2)
    swapped = geojson_file(tmp_path / "swapped.geojson", rows, transform=lambda x, y: (y, x))
    abroad = geojson_file(tmp_path / "abroad.geojson", rows, transform=lambda x, y: (x - 100, y))
    gk = frame(rows).set_geometry([projected(r["geometry"], 4527) for r in rows], crs=None)
    no_crs = write_shapefile(gk, tmp_path / "gk", "zone", keep_prj=False)
    metres = geojson_file(tmp_path / "metres.geojson", [{**r, "geometry": projected(r["geometry"], 4527)}
                                                         for r in rows])
    (tmp_path / "empty.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    (tmp_path / "broken.geojson").write_text('{"type": "FeatureCollection", "features": [')
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "gbk.geojson").write_bytes('{"名称": "小区"}'.encode("gbk"))
    with zipfile.ZipFile(tmp_path / "slip.zip", "w") as z:
        z.writestr("../evil.geojson", "{}")
    far = frame(rows).set_geometry([projected(r["geometry"], 4527) for r in rows], crs="EPSG:4528")
    messages = [
        _refusal(store, swapped), _refusal(store, abroad), _refusal(store, no_crs),
        _refusal(store, no_crs, crs="EPSG:4526"), _refusal(store, metres),
        _refusal(store, tmp_path / "empty.geojson"), _refusal(store, tmp_path / "broken.geojson"),
        _refusal(store, tmp_path / "notes.txt"), _refusal(store, tmp_path / "gbk.geojson"),
        _refusal(store, tmp_path / "slip.zip"),
        _refusal(store, write_shapefile(far, tmp_path / "far", "far")),
    ]
    (tmp_path / "not.zip").write_bytes(b"not a zip")
    (tmp_path / "not.xlsx").write_bytes(b"not a workbook")
    (tmp_path / "map.toml").write_text("[colums]\n", encoding="utf-8")
    good = geojson_file(tmp_path / "good.geojson", rows)
    two = tmp_path / "two.gpkg"
    frame(rows).to_file(two, layer="a", engine="pyogrio")
    frame(rows).to_file(two, layer="b", engine="pyogrio")
    messages += [
        _refusal(store, tmp_path / "not.zip"), _refusal(store, tmp_path / "not.xlsx"),
        _refusal(store, good, mapping=tmp_path / "map.toml"), _refusal(store, good, encoding="klingon"),
        _refusal(store, good, crs="EPSG:3857"), _refusal(store, two),
    ]
    with_district(store)  # then a Gauss-Kruger zone that puts the file 270 km east is refused too
    survey = write_shapefile(frame(rows).set_geometry([projected(r["geometry"], 4548) for r in rows], crs=None),
                             tmp_path / "survey", "survey", keep_prj=False)
    messages.append(_refusal(store, survey, crs="EPSG:4549"))
    for message in messages:
        said_in_chinese(message)
    assert "第 1 个要素" in localised(messages[0], "zh")  # "feature 1", said as the page says it
    assert "按 EPSG:4548" in localised(messages[-1], "zh") and "本区内" in localised(messages[-1], "zh")


def test_the_page_says_problems_in_chinese_and_english_when_asked(tmp_path):
    app = make_app(tmp_path)
    client = signed_in(app)
    rows = estate_rows(2, prefix="BAD")
    rows[1]["households"] = -3
    path = geojson_file(tmp_path / "bad.geojson", rows)
    html = upload(client, path, csrf(client)).get_data(as_text=True)
    assert "字段“households”= -3，超出范围 0…2147483647" in html and "outside" not in html
    client.get("/?lang=en")
    html = upload(client, path, csrf(client)).get_data(as_text=True)
    assert "field &#39;households&#39; = -3 is outside 0…2147483647" in html
