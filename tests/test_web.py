"""The start page and the stats API, through Flask's test client."""

from __future__ import annotations

import json
import re

from shapely.geometry import box, mapping

from geo_app.domain import RENOVATION_STATUS
from geo_app.storage import FeatureQuery

HOSTILE = '</script><script>alert("x")</script><img src=x onerror=alert(1)>'


def embedded(text: str, html: str) -> bool:
    """Whether text is in the page, as is or JSON-escaped inside the map's script."""
    return text in html or json.dumps(text)[1:-1] in html


def store_of(app):
    return app.extensions["geo_app.store"]


def test_start_page_shows_every_estate_legend_and_illustrative_note(app, client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    estates = store_of(app).features("estates", FeatureQuery(with_geometry=False))
    assert len(estates) > 100
    missing = [f.properties["code"] for f in estates if f'"{f.properties["code"]}"' not in html]
    assert missing == []
    assert f'id="estate-count">{len(estates)}<' in html
    assert "示例数据" in html
    for term in RENOVATION_STATUS:  # legend: every status with its colour and live count
        count = sum(1 for f in estates if f.properties["status"] == term.code)
        assert re.search(rf'background:{term.color}"></span>{term.zh} <span class="count" '
                         rf'data-status="{term.code}">{count}</span>', html), term.code
    assert embedded("薛城区", html.split("<script>", 1)[1])  # the district outline is on the map


def test_start_page_loads_nothing_from_a_cdn(client):
    html = client.get("/").get_data(as_text=True)
    hosts = set(re.findall(r'(?:src|href)="(?:https?:)?//([^/"]+)', html))
    assert hosts == set(), hosts
    assert client.get("/vendor/leaflet/dist/leaflet.js").status_code == 200
    assert client.get("/vendor/leaflet/nothing.js").status_code == 404


def test_start_page_speaks_english_on_request(client):
    html = client.get("/?lang=en").get_data(as_text=True)
    assert "Renovation status" in html and "Under construction" in html
    assert client.get("/").get_data(as_text=True).count("Renovation status") == 1  # cookie remembers


def test_hostile_estate_names_are_never_live_html(app, client):
    with store_of(app).transaction() as w:
        w.insert("estates", [{"properties": {"code": "EVIL<1>", "name": HOSTILE, "street_office": "临城街道",
                                             "status": "planned"},
                              "geometry": mapping(box(117.40, 34.70, 117.401, 34.701))}])
    html = client.get("/").get_data(as_text=True)
    assert "<img src=x" not in html
    assert '<script>alert("x")' not in html
    assert "EVIL\\u003c1\\u003e" in html or "EVIL&lt;1&gt;" in html  # it is there, escaped


def test_map_is_rebuilt_when_the_store_changes(app, client):
    first = client.get("/").get_data(as_text=True)
    with store_of(app).transaction() as w:
        w.insert("estates", [{"properties": {"code": "NEW-1", "name": "新加小区", "street_office": "临城街道",
                                             "status": "planned"},
                              "geometry": mapping(box(117.40, 34.70, 117.401, 34.701))}])
    second = client.get("/").get_data(as_text=True)
    assert not embedded("新加小区", first) and embedded("新加小区", second)


def test_stats_api_by_batch_and_street_office(client):
    by_batch = client.get("/api/stats?group_by=batch").get_json()
    assert by_batch["group_by"] == "batch"
    row_2021 = next(r for r in by_batch["rows"] if r["key"] == {"batch": 2021, "programme": None})
    assert (row_2021["estates"], row_2021["households"], row_2021["buildings"]) == (65, 7447, 311)
    by_office = client.get("/api/stats?group_by=street_office").get_json()
    labels = [r["label"] for r in by_office["rows"]]
    assert {"临城街道", "常庄街道", "沙沟镇"} <= set(labels)
    assert by_office["total"]["estates"] == by_batch["total"]["estates"]


def test_stats_api_filters(client):
    body = client.get("/api/stats?group_by=street_office&batch=2021&status=under_construction,completed").get_json()
    assert {r["label"] for r in body["rows"] if r["estates"]} <= {"临城街道", "常庄街道", "新城街道"}
    assert body["total"]["status_counts"]["planned"] == 0


def test_bad_parameters_get_400_naming_the_parameter(client):
    for url, parameter in [("/api/stats?group_by=colour", "group_by"), ("/api/stats?batch=soon", "batch"),
                           ("/api/stats?status=done", "status"), ("/api/stats?bbox=1,2,3", "bbox")]:
        response = client.get(url)
        assert response.status_code == 400, url
        assert response.get_json()["parameter"] == parameter


def test_unknown_pages_are_friendly(client):
    assert client.get("/api/nothing").get_json()["code"] == "NotFound"
    page = client.get("/nothing")
    assert page.status_code == 404 and "返回地图" in page.get_data(as_text=True)
