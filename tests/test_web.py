"""The start page and the stats API, through Flask's test client."""

from __future__ import annotations

import json
import re

from shapely.geometry import box, mapping

from geo_app.domain import RENOVATION_STATUS
from geo_app.storage import FeatureQuery

HOSTILE = '</script><script>alert("x")</script><img src=x onerror=alert(1)>'


def store_of(app):
    return app.extensions["geo_app.store"]


def page_config(html: str) -> dict:
    raw = html.split('<script type="application/json" id="page-config">', 1)[1].split("</script>", 1)[0]
    return json.loads(raw)


def test_start_page_is_the_planner_map_with_legend_filters_and_note(app, client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "示例数据" in html
    for term in RENOVATION_STATUS:  # legend and status filter: every status with its colour
        assert f'data-status="{term.code}"' in html
        assert f'value="{term.code}"' in html
    config = page_config(html)
    assert [o["name"] for o in config["offices"]][:5] == ["临城街道", "常庄街道", "巨山街道", "新城街道", "兴城街道"]
    assert config["batches"] == [2014, 2015, 2016, 2017, 2018, 2019, 2020, 2021]
    assert config["urls"]["estates"] == "/api/estates"
    assert f'id="fig-estates">{store_of(app).count("estates")}<' in html


def test_start_page_loads_nothing_from_a_cdn(client):
    html = client.get("/").get_data(as_text=True)
    hosts = set(re.findall(r'(?:src|href)="(?:https?:)?//([^/"]+)', html))
    assert hosts == set(), hosts
    for url in re.findall(r'(?:src|href)="(/vendor/[^"]+)"', html):
        assert client.get(url).status_code == 200, url


def test_start_page_speaks_english_on_request(client):
    html = client.get("/?lang=en").get_data(as_text=True)
    assert "Renovation status" in html and "Under construction" in html and "Street office" in html
    assert "Renovation status" in client.get("/").get_data(as_text=True)  # the cookie remembers


def test_hostile_names_are_escaped_in_pages(app, client):
    with store_of(app).transaction() as w:
        w.insert("street_offices", [{"properties": {"code": "evil", "name": HOSTILE, "kind": "street"},
                                     "geometry": mapping(box(117.40, 34.70, 117.41, 34.71))}])
        w.insert("estates", [{"properties": {"code": "EVIL<1>", "name": HOSTILE, "street_office": HOSTILE,
                                             "status": "planned"},
                              "geometry": mapping(box(117.40, 34.70, 117.401, 34.701))}])
    estate_id = store_of(app).features("estates", FeatureQuery.where(code="EVIL<1>"))[0].id
    for url in ["/", "/street-offices/evil", f"/estates/{estate_id}"]:
        html = client.get(url).get_data(as_text=True)
        assert "<img src=x" not in html, url
        assert '<script>alert("x")' not in html, url


def test_bad_filters_in_a_shared_link_are_400(client):
    response = client.get("/?status=done")
    assert response.status_code == 400 and "status" in response.get_data(as_text=True)


def test_street_office_page_lists_its_estates_with_aggregates(app, client):
    html = client.get("/street-offices/lincheng").get_data(as_text=True)
    estates = store_of(app).features("estates", FeatureQuery.where(street_office="临城街道", with_geometry=False))
    assert html.count("<tr>") - 1 == len(estates)  # header row + one per estate
    assert f'id="office-estates">{len(estates):,}<' in html
    assert f'id="office-households">{sum(f.properties["households"] for f in estates):,}<' in html
    assert client.get("/street-offices/nowhere").status_code == 404


def test_estate_page_shows_attributes_items_and_history_placeholder(app, client):
    estate = store_of(app).features("estates", FeatureQuery.where(name="临山小区"))[0]
    html = client.get(f"/estates/{estate.id}").get_data(as_text=True)
    assert "临山小区" in html and estate.properties["code"] in html
    assert f"{estate.properties['households']:,}" in html
    assert "已验收" in html  # status label, not the code
    assert 'id="inspection-history"' in html
    assert client.get("/estates/999999").status_code == 404


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


def test_a_body_beyond_the_default_limit_is_refused_before_it_is_read(client):
    from geo_app.app import DEFAULT_MAX_BODY

    response = client.post("/api/query", data=b"x" * (DEFAULT_MAX_BODY + 1), content_type="application/json")
    assert response.status_code == 413
