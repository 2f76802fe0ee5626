"""The planner map with thousands of estates, in headless Chromium: what is drawn at each scale.

Above 3,000 estates the map draws one status ring per street office while more than 3,000 would be
in view, and the estates' own polygons, only those in view, once zoomed in. These tests check what a
planner sees: the rings add up to every estate, zooming in shows every estate in view and nothing
far away, and picking a far-away estate still opens it.
"""

from __future__ import annotations


import pytest
from shapely.geometry import box, mapping

from conftest import serving
from geo_app import create_app
from geo_app.config import load_config
from geo_app.storage import FeatureQuery
from test_planner_browser import ARTIFACTS, PNG

pytestmark = pytest.mark.browser

# 45 offices (9 x 5 cells of 0.1 x 0.12 degrees) with 12 x 12 = 144 estates each: 6,480 estates.
COLS, ROWS, PER_SIDE = 9, 5, 12
STATUSES = ["accepted", "completed", "under_construction", "planned", "unscheduled"]


def office_cell(col: int, row: int):
    x0, y0 = 117.0 + col * 0.1, 34.5 + row * 0.12
    return box(x0, y0, x0 + 0.1, y0 + 0.12)


def synthetic_layers():
    offices, estates = [], []
    for col in range(COLS):
        for row in range(ROWS):
            cell = office_cell(col, row)
            name = f"测试{col}{row}街道"
            offices.append({"properties": {"code": f"O{col}{row}", "name": name, "kind": "street"},
                            "geometry": mapping(cell)})
            x0, y0 = cell.bounds[0] + 0.02, cell.bounds[1] + 0.02
            for i in range(PER_SIDE * PER_SIDE):
                ex, ey = x0 + (i % PER_SIDE) * 0.004, y0 + (i // PER_SIDE) * 0.004
                status = STATUSES[i % len(STATUSES)]
                estates.append({"properties": {
                    "code": f"E{col}{row}-{i}", "name": f"小区{col}{row}-{i}", "street_office": name,
                    "status": status, "batch": None if status == "unscheduled" else 2020,
                    "households": 10}, "geometry": mapping(box(ex, ey, ex + 0.002, ey + 0.002))})
    return offices, estates


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    config = load_config(overrides={"data_dir": str(tmp_path_factory.mktemp("data")),
                                    "map.tile_url": "http://osm.tiles.test/{z}/{x}/{y}.png",
                                    "map.center_lon": 117.45, "map.center_lat": 34.8, "map.zoom": 9},
                         environ={})
    app = create_app(config)
    store = app.extensions["geo_app.store"]
    store.initialise()
    offices, estates = synthetic_layers()
    with store.transaction() as w:
        w.insert("street_offices", offices)
        w.insert("estates", estates)
    with serving(app) as base:
        yield base, store


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.route("**/*", lambda r: r.fulfill(status=200, content_type="image/png", body=PNG)
               if "tiles.test" in r.request.url else r.continue_())
    yield page
    context.close()


def open_map(page, base):
    page.goto(base + "/")
    page.wait_for_selector('#map-ready[data-ready="1"]', state="attached", timeout=30000)


DRAWN_JS = """() => {
  const codes = [];
  window.GeoApp.map.eachLayer(l => { if (l.feature && l.feature.properties.street_office) codes.push(l.feature.properties.code); });
  return codes;
}"""


def view_bounds(page, pad=0.0):
    return page.evaluate("""pad => { const b = window.GeoApp.map.getBounds().pad(pad);
        return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; }""", pad)


def test_zoomed_out_each_street_office_is_one_ring_adding_up_to_every_estate(page, server):
    base, store = server
    open_map(page, base)
    total = store.count("estates")
    assert page.evaluate("window.GeoAppState.features.length") == total > 3000
    rings = page.locator(".office-summary")
    assert rings.count() == COLS * ROWS
    assert page.evaluate(DRAWN_JS) == []  # no polygons: 6,480 of them would be specks
    counts = [int(t.replace(",", "")) for t in page.locator(".office-summary .summary-count").all_inner_texts()]
    assert sum(counts) == total
    legend = sum(int(t) for t in page.locator("#map-legend .count").all_inner_texts())
    assert legend == total
    # Hundreds of office names written across the map would hide it: no permanent labels here.
    assert page.locator(".leaflet-tooltip.area-label").count() == 0
    page.locator(".office-summary").first.hover()
    tip = page.locator(".leaflet-tooltip").last.inner_text()
    assert "街道" in tip and "已验收" in tip
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "planner-many-rings.png"))
    assert page.errors == []


def test_clicking_a_ring_shows_every_estate_in_view_and_nothing_far(page, server):
    base, store = server
    open_map(page, base)
    page.locator(".office-summary").first.click()
    page.wait_for_function("document.querySelectorAll('.office-summary').length === 0", timeout=10000)
    page.wait_for_timeout(300)  # the fly ends with moveend; drawing follows in the same task
    drawn = set(page.evaluate(DRAWN_JS))
    near = {f.properties["code"] for f in store.features(
        "estates", FeatureQuery.where(bbox=tuple(view_bounds(page, 0.25)), with_geometry=False))}
    assert drawn == near and 0 < len(drawn) <= 3000
    seen = {f.properties["code"] for f in store.features(
        "estates", FeatureQuery.where(bbox=tuple(view_bounds(page)), with_geometry=False))}
    assert seen <= drawn and len(seen) > 100
    page.screenshot(path=str(ARTIFACTS / "planner-many-zoomed.png"))
    assert page.errors == []


def test_picking_a_far_estate_draws_it_and_opens_its_popup(page, server):
    base, store = server
    open_map(page, base)
    far = store.features("estates", FeatureQuery.where(code="E84-143", with_geometry=False))[0]
    page.evaluate("id => window.GeoAppPlanner.focusEstate(id)", far.id)
    page.wait_for_selector(".estate-popup", timeout=15000)
    assert far.properties["name"] in page.locator(".estate-popup h3").inner_text()
    assert "E84-143" in page.evaluate(DRAWN_JS)
    assert page.errors == []
