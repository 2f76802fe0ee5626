"""Export fixes after the outside audit: the dialog's count (HEAD), GCJ-02 boxes from the CLI,
shortest coordinates, street offices by name or code, vocabulary labels as filters, ASCII fallback
names. The CLI's own (Shapefile names, pyogrio's log) are in test_export_cli.py, the dialog in
Chromium in test_export_web.py."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from geo_app.cli import main
from geo_app.core.export import Export, parse_export_options
from geo_app.core.export import job as export_job
from geo_app.core.geodesy import wgs84_to_gcj02
from geo_app.errors import InvalidParameter
from geo_app.storage import FeatureQuery
from geo_app.web.params import parse_export_filters

BOX = (117.20, 34.78, 117.28, 34.82)


def export(store, args: dict, layer: str = "estates") -> Export:
    query, office = parse_export_filters(args)
    return Export(store, layer, query, parse_export_options(args), office_code=office)


def ids_of(body: bytes) -> list[int]:
    return [f["id"] for f in json.loads(body)["features"]]


def gcj02_box(box=BOX) -> str:
    (x0, x1), (y0, y1) = wgs84_to_gcj02([box[0], box[2]], [box[1], box[3]])
    return f"{x0:.9f},{y0:.9f},{x1:.9f},{y1:.9f}"


# --- the dialog's count: HEAD of the download's own request ------------------------------------------
@pytest.mark.parametrize("query", [
    "street_office=临城街道&batch=2021&bbox=117.235,34.78,117.26,34.80",
    f"street_office=临城街道&bbox={gcj02_box((117.235, 34.78, 117.26, 34.80))}&bbox_coords=gcj02",
    "street_office=临城街道&batch=2021&bbox=117.2540331,34.7940611,117.2592902,34.7978408",  # the audit's empty view
])
def test_head_counts_what_the_download_holds_without_building_it(client, tmp_path, monkeypatch, query):
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(export_job.tempfile, "tempdir", str(temp))
    head = client.head(f"/api/export/estates?{query}&format=gpkg")
    assert head.status_code == 200 and head.data == b"" and not any(temp.iterdir())  # nothing written
    download = client.get(f"/api/export/estates?{query}")
    assert int(head.headers["X-Feature-Count"]) == len(ids_of(download.data))
    assert head.headers["Content-Disposition"].replace(".gpkg", ".geojson") == download.headers["Content-Disposition"]


# --- bbox_coords from the command line --------------------------------------------------------------
def test_the_cli_takes_a_gcj02_bbox_as_the_dialog_sends_it(client, config, tmp_path, monkeypatch):
    monkeypatch.setenv("GEO_APP_DATA_DIR", str(config.data_dir))
    monkeypatch.setenv("GEO_APP_DATABASE_URL", "")
    monkeypatch.chdir(tmp_path)
    web = client.get(f"/api/export/estates?bbox={gcj02_box()}&bbox_coords=gcj02&coords=gcj02")
    assert main(["export", "--bbox", gcj02_box(), "--bbox-coords", "gcj02", "--coords", "gcj02",
                 "-o", "cli.geojson"]) == 0
    assert (tmp_path / "cli.geojson").read_bytes() == web.data
    in_wgs84 = client.get(f"/api/export/estates?bbox={','.join(map(str, BOX))}")
    assert ids_of(web.data) == ids_of(in_wgs84.data) and ids_of(web.data)


# --- coordinates printed in their shortest form -----------------------------------------------------
# GEOS writes these two, rounded to 7 decimals, as 117.24939380000001 and 117.21752239999999.
AWKWARD = [(117.2493938, 34.7952239), (117.2175224, 34.7952239), (117.2175224, 34.7969), (117.2493938, 34.7969),
           (117.2493938, 34.7952239)]


@pytest.mark.parametrize("precision", [5, 7, 9])
def test_geojson_coordinates_have_at_most_precision_decimals(store, layers, tmp_path, precision):
    demo = json.loads(Path(layers["estates"].source).read_text(encoding="utf-8"))["features"]
    with store.transaction() as tx:
        tx.insert("estates", [{"properties": {**demo[0]["properties"], "code": "T-1"},
                               "geometry": {"type": "MultiPolygon", "coordinates": [[AWKWARD]]}},
                              *({"properties": f["properties"], "geometry": f["geometry"]} for f in demo)])
    job = export(store, {"precision": str(precision), "with_bbox": "1"})
    text = b"".join(job.chunks()).decode("utf-8")
    geometries = re.findall(r'"geometry":(\{.*?\]\]\]\]\})', text)
    assert len(geometries) == job.total
    numbers = [n for g in geometries for n in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", g)]
    assert numbers and all(len(n.partition(".")[2]) <= precision for n in numbers)
    assert all(n == repr(float(n)) for n in numbers if "." in n)  # the shortest text of the value
    if precision == 7:
        assert "[117.2493938,34.7952239]" in text and "[117.2175224,34.7969]" in text


# --- street offices by name or code, labels as filters ----------------------------------------------
def test_a_street_office_may_be_named_by_its_code(demo_store):
    by_name = export(demo_store, {"street_office": "临城街道", "batch": "2021"})
    by_code = export(demo_store, {"street_office": "lincheng", "batch": "2021"})
    assert by_code.total == by_name.total > 0 and by_code.query == by_name.query
    assert by_code.filename == by_name.filename == "estates_临城街道_2021.geojson"


@pytest.mark.parametrize("office", ["不存在街道", "atlantis"])
def test_an_unknown_street_office_is_refused_naming_the_offices(demo_store, client, office):
    with pytest.raises(InvalidParameter) as error:
        export(demo_store, {"street_office": f"临城街道,{office}"})
    assert error.value.parameter == "street_office"
    assert office in error.value.message and "临城街道" in error.value.message
    response = client.get(f"/api/export/estates?street_office={quote(office)}")
    assert response.status_code == 400 and response.get_json()["parameter"] == "street_office"
    assert "临城街道" in response.get_json()["description"]


def test_a_street_office_only_the_features_name_is_still_a_filter(store, layers):
    # Imported data may name an office the offices layer lacks: the map filters on it, so may an export.
    demo = json.loads(Path(layers["estates"].source).read_text(encoding="utf-8"))["features"][0]
    with store.transaction() as tx:
        tx.insert("estates", [{"properties": {**demo["properties"], "street_office": "新设街道"},
                               "geometry": demo["geometry"]}])
    assert export(store, {"street_office": "新设街道"}).total == 1


@pytest.mark.parametrize("labels, codes", [
    ({"status": "已完工,Accepted"}, {"status": "completed,accepted"}),
    ({"status": "under construction"}, {"status": "under_construction"}),
    ({"item": "停车位,Greening"}, {"item": "parking,greening"}),
    ({"batch": "2021年,2020"}, {"batch": "2021,2020"}),
])
def test_vocabulary_labels_filter_as_their_codes(demo_store, client, labels, codes):
    by_label, by_code = export(demo_store, labels), export(demo_store, codes)
    assert by_label.query == by_code.query and by_label.total > 0
    assert by_label.filename == by_code.filename
    on_map = client.get(f"/api/estates?{urlencode(labels)}&view=map").get_json()["features"]
    assert len(on_map) == by_label.total  # the map's filters are the export's


def test_an_unknown_label_is_refused_listing_codes_and_labels(demo_store):
    with pytest.raises(InvalidParameter) as error:
        export(demo_store, {"status": "已完成"})
    assert error.value.parameter == "status" and "completed (已完工)" in error.value.message


# --- an ASCII fallback name that still says what is inside ------------------------------------------
@pytest.mark.parametrize("query, fallback", [
    ("street_office=临城街道&batch=2021", "estates_lincheng_2021.geojson"),
    ("street_office=lincheng&status=已完工,accepted&format=csv", "estates_lincheng_completed+accepted.csv"),
    ("item=parking&coords=gcj02&format=shp", "estates_parking_gcj02.shp.zip"),
    ("within_office=lincheng&batch=2021&format=gpkg", "estates_within-lincheng_2021.gpkg"),
    ("q=小区&bbox=117.2,34.78,117.28,34.82", "estates_q_bbox.geojson"),
    ("", "estates.geojson"),
])
def test_the_ascii_fallback_name_is_built_from_codes(client, query, fallback):
    response = client.get(f"/api/export/estates?{query}")
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith(f'attachment; filename="{fallback}"; filename*=UTF-8\'\'')
    assert disposition.isascii()


def test_other_layers_get_ascii_names_too(client):
    response = client.get("/api/export/street_offices?format=csv")
    assert 'filename="street_offices.csv"' in response.headers["Content-Disposition"]
    response = client.get(f"/api/export/facilities?street_office={quote('临城街道')}")
    assert 'filename="facilities_lincheng.geojson"' in response.headers["Content-Disposition"]
