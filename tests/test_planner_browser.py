"""The planner map in a real headless Chromium: drawing, popups, filters, search, Amap shift, XSS.

Tiles come from fake hosts answered by the test (the machine has no internet); every other request
must go to the app itself. Screenshots land in tests/artifacts/ (or $GEO_APP_TEST_ARTIFACTS).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pyproj import Geod
from shapely.geometry import box, mapping

from conftest import serving
from geo_app import create_app
from geo_app.config import load_config
from geo_app.core.demo import ensure_store
from geo_app.core.geodesy import wgs84_to_gcj02
from geo_app.domain import RENOVATION_STATUS
from geo_app.storage import FeatureQuery

pytestmark = pytest.mark.browser
HOSTILE = '<img src=x onerror="window.__pwned=1">恶意小区'
TILE_HOSTS = {"osm.tiles.test", "amap1.tiles.test", "amap2.tiles.test", "amap3.tiles.test", "amap4.tiles.test"}
# A 1x1 transparent PNG for every tile request.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478"
                    "9c6360000002000154a24f5d0000000049454e44ae426082")
ARTIFACTS = Path(os.environ.get("GEO_APP_TEST_ARTIFACTS", Path(__file__).parent / "artifacts"))
GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    config = load_config(overrides={
        "data_dir": str(tmp_path_factory.mktemp("data")),
        "map.tile_url": "http://osm.tiles.test/{z}/{x}/{y}.png",
        "map.amap_url": "http://amap{s}.tiles.test/{z}/{x}/{y}.png",
        "map.amap_satellite_url": "",
    }, environ={})
    app = create_app(config)
    store = app.extensions["geo_app.store"]
    ensure_store(store)
    with store.transaction() as w:
        w.insert("estates", [{"properties": {"code": "EVIL", "name": HOSTILE, "street_office": "临城街道",
                                             "status": "planned", "batch": 2021, "households": 1},
                              "geometry": mapping(box(117.30, 34.70, 117.302, 34.702))}])
    with serving(app) as base:
        yield base, store


@pytest.fixture
def page(browser, server):
    """A page whose requests may go only to the app and the configured tile hosts."""
    base, _store = server
    context = browser.new_context(viewport={"width": 1366, "height": 860}, locale="zh-CN")
    page = context.new_page()
    page.errors = []
    page.foreign = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and page.errors.append(msg.text))

    def route(r):
        host = urlsplit(r.request.url).netloc
        if host == urlsplit(base).netloc:
            r.continue_()
        elif host in TILE_HOSTS:
            r.fulfill(status=200, content_type="image/png", body=PNG)
        else:
            page.foreign.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    yield page
    context.close()


def open_map(page, base, query=""):
    page.goto(f"{base}/{query}")
    page.wait_for_selector('#map-ready[data-ready="1"]', state="attached", timeout=15000)


def drawn_count(page):
    return page.evaluate("window.GeoAppState.features.length")


def test_every_estate_is_drawn_in_its_status_colour(page, server):
    base, store = server
    open_map(page, base)
    estates = store.features("estates", FeatureQuery(with_geometry=False))
    assert drawn_count(page) == len(estates)
    for term in RENOVATION_STATUS:
        expected = sum(1 for f in estates if f.properties["status"] == term.code)
        assert page.locator(f'path.leaflet-interactive[fill="{term.color}"]').count() == expected, term.code
        assert page.locator(f'#map-legend .count[data-status="{term.code}"]').inner_text() == str(expected)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "planner-map.png"))
    assert page.errors == [] and page.foreign == []


def click_estate(page, code):
    page.evaluate("""code => {
        const {map} = window.GeoApp;
        map.eachLayer(l => { if (l.feature && l.feature.properties.code === code && l._path) {
            map.fitBounds(l.getBounds(), {animate: false, maxZoom: 17}); l._path.id = "target-estate"; } });
    }""", code)
    page.click("#target-estate", force=True)
    page.wait_for_selector(".estate-popup")


def test_clicking_an_estate_opens_its_true_figures(page, server):
    base, store = server
    estate = store.features("estates", FeatureQuery.where(name="临山小区"))[0]
    p = estate.properties
    open_map(page, base)
    click_estate(page, p["code"])
    popup = page.locator(".estate-popup").inner_text()
    assert "临山小区" in popup and p["street_office"] in popup
    assert f"{p['households']:,}" in popup and f"{p['floor_area_m2']:,.1f}" in popup
    assert RENOVATION_STATUS[p["status"]].zh in popup
    total = sum(p[k] or 0 for k in ("inv_subsidy", "inv_district", "inv_town", "inv_utility", "inv_residents"))
    assert f"{total:,.1f}" in popup
    assert page.locator(".estate-popup a", has_text="详情").get_attribute("href") == f"/estates/{estate.id}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(400)  # let the popup's fade-in finish before the picture
    page.screenshot(path=str(ARTIFACTS / "planner-popup.png"))


def test_filtering_to_a_street_office_leaves_exactly_its_estates(page, server):
    base, store = server
    open_map(page, base)
    page.select_option("#f-office", "常庄街道")
    page.wait_for_function("window.GeoAppState.features.every(f => f.properties.street_office === '常庄街道')")
    wanted = store.count("estates", FeatureQuery.where(street_office="常庄街道"))
    page.wait_for_function(f"window.GeoAppState.features.length === {wanted}")
    assert "street_office=" in page.url  # the view is a shareable link
    page.wait_for_function(f"document.getElementById('fig-estates').textContent === '{wanted}'")
    assert page.locator("#office-link").is_visible()


def test_a_shared_link_reproduces_the_view(page, server):
    base, store = server
    open_map(page, base, "?street_office=临城街道&status=completed,accepted&batch=2020")
    wanted = store.count("estates", FeatureQuery.where(street_office="临城街道", status=["completed", "accepted"],
                                                       batch=2020))
    assert drawn_count(page) == wanted > 0
    assert page.locator("#f-office").input_value() == "临城街道"
    assert page.locator('input[name=status][value="completed"]').is_checked()


def test_name_search_flies_to_the_estate(page, server):
    base, store = server
    estate = store.features("estates", FeatureQuery.where(name="江南小区"))[0]
    open_map(page, base)
    page.fill("#search", "江南")
    page.click("#search-results li[data-id='%d']" % estate.id)
    page.wait_for_selector(".estate-popup")
    center = page.evaluate("(() => { const c = window.GeoApp.map.getCenter(); return [c.lng, c.lat]; })()")
    middle = estate.geometry.centroid
    # Within a few hundred metres: the popup pans the map a little to fit on screen.
    assert GEOD.inv(center[0], center[1], middle.x, middle.y)[2] < 500
    assert page.evaluate("window.GeoApp.map.getZoom()") >= 15
    assert drawn_count(page) == store.count("estates")  # picking does not filter the map


def test_a_link_to_one_estate_opens_it_on_the_map(page, server):
    base, store = server
    estate = store.features("estates", FeatureQuery.where(name="八一小区"))[0]
    open_map(page, base, f"?estate={estate.id}")
    page.wait_for_selector(".estate-popup")
    assert page.locator(".estate-popup h3").inner_text() == "八一小区"


def test_amap_basemap_shifts_every_overlay_to_gcj02(page, server):
    base, store = server
    estate = store.features("estates", FeatureQuery.where(name="福泉小区"))[0]
    open_map(page, base)
    page.hover(".leaflet-control-layers")
    page.locator(".leaflet-control-layers-base label", has_text="高德地图").click()
    page.wait_for_function("window.GeoAppState.coords === 'gcj02' && window.GeoAppState.features.length > 0")
    page.wait_for_function("document.body.classList.contains('loading') === false")
    drawn = page.evaluate("""code => {
        let out = null;
        window.GeoApp.map.eachLayer(l => { if (l.feature && l.feature.properties.code === code && l.getLatLngs)
            out = l.getLatLngs().flat(3).map(p => [p.lng, p.lat]); });
        return out;
    }""", estate.properties["code"])
    stored = list(estate.geometry.geoms[0].exterior.coords)[:-1]
    assert len(drawn) == len(stored)
    errors = []
    for lon, lat in stored:
        want = wgs84_to_gcj02(lon, lat)
        errors.append(min(GEOD.inv(d[0], d[1], *want)[2] for d in drawn))
    assert max(errors) < 1.0, errors  # every drawn vertex within 1 m of its GCJ-02 position
    assert page.foreign == []


def test_hostile_estate_name_stays_text(page, server):
    base, _store = server
    open_map(page, base)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    click_estate(page, "EVIL")
    assert page.locator(".estate-popup h3").inner_text() == HOSTILE
    page.fill("#search", "恶意")
    page.wait_for_selector("#search-results li[data-id]")
    assert HOSTILE in page.locator("#search-results").inner_text()
    assert HOSTILE in page.locator("#estate-list").inner_text()
    assert page.evaluate("window.__pwned") is None and dialogs == []


def test_time_view_replays_the_years(page, server):
    base, store = server
    open_map(page, base)
    page.check("#time-toggle")
    page.fill("#time-year", "2014")
    page.dispatch_event("#time-year", "input")
    estates = store.features("estates", FeatureQuery(with_geometry=False))
    accepted_2014 = sum(1 for f in estates if (f.properties["acceptance_date"] or "9999") <= "2014-12-31")
    assert page.locator('#map-legend .count[data-status="accepted"]').inner_text() == str(accepted_2014)
    page.fill("#time-year", "2021")
    page.dispatch_event("#time-year", "input")
    for term in RENOVATION_STATUS:  # at the letter's date the replay matches the stored statuses
        expected = sum(1 for f in estates if f.properties["status"] == term.code)
        assert page.locator(f'#map-legend .count[data-status="{term.code}"]').inner_text() == str(expected)


def test_phone_layout_opens_the_filters_as_a_drawer(browser, server):
    base, _store = server
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.route("**/*", lambda r: r.continue_() if "127.0.0.1" in r.request.url
               else r.fulfill(status=200, content_type="image/png", body=PNG))
    open_map(page, base)
    assert not page.locator("#f-office").is_visible() or page.locator("#sidebar").bounding_box()["x"] < 0
    page.click("#sidebar-toggle")
    page.wait_for_timeout(400)
    assert page.locator("#f-office").is_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "planner-phone.png"))
    context.close()


def test_street_office_page_table_sorts_by_any_column(page, server):
    base, store = server
    page.goto(f"{base}/street-offices/changzhuang")
    page.wait_for_selector("#office-estates-table tbody tr")
    households = lambda: [int(v.replace(",", "")) for v in  # noqa: E731
                          page.locator("#office-estates-table tbody tr td:nth-child(4)").all_inner_texts()]
    header = page.locator("#office-estates-table th", has_text="户数")
    header.click()
    assert households() == sorted(households())
    header.click()
    assert households() == sorted(households(), reverse=True)
    assert len(households()) == store.count("estates", FeatureQuery.where(street_office="常庄街道"))
    assert page.locator(".small-map path.leaflet-interactive").count() >= len(households())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "street-office.png"), full_page=True)


def test_estate_page_shows_its_map_and_items(page, server):
    base, store = server
    estate = store.features("estates", FeatureQuery.where(name="临山小区"))[0]
    page.goto(f"{base}/estates/{estate.id}")
    page.wait_for_selector(".small-map path.leaflet-interactive")
    planned = [c for c in (estate.properties["items_planned"] or "").split(",") if c]
    assert page.locator("#estate-items tbody tr").count() == len(planned)
    assert page.errors == [] and page.foreign == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "estate.png"), full_page=True)
