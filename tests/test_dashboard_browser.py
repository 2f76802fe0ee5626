"""The dashboard in a real headless Chromium: charts drawn, nothing fetched from elsewhere, print view.

Skips locally when Chromium or Playwright is missing; GEO_APP_REQUIRE_BROWSER=1 (CI) makes that a
failure instead. Screenshots (screen, phone, print) go to tests/artifacts/dashboard/ (gitignored),
or to $GEO_APP_TEST_ARTIFACTS; each test prints where it put them (see them with `pytest -rP`).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from shapely.geometry import box, mapping
from werkzeug.serving import make_server

from geo_app import create_app
from geo_app.config import load_config
from geo_app.core.demo import ensure_store
from geo_app.domain import RENOVATION_STATUS


pytestmark = pytest.mark.browser
ARTIFACTS = Path(os.environ.get("GEO_APP_TEST_ARTIFACTS", Path(__file__).parent / "artifacts")) / "dashboard"
HOSTILE = '<img src=x onerror="window.__pwned=1">街道'
CHARTS = ("chart-status-by-office", "chart-progress-by-batch", "chart-investment-by-source")

# Per canvas: how many pixels are painted, and which of the given colours occur exactly.
CANVAS_PIXELS = """([id, colours]) => {
    const canvas = document.getElementById(id);
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    const wanted = new Set(colours);
    const found = new Set();
    let painted = 0;
    for (let i = 0; i < pixels.length; i += 4) {
        if (pixels[i + 3] === 0) continue;
        painted++;
        const hex = "#" + [pixels[i], pixels[i + 1], pixels[i + 2]].map(v => v.toString(16).padStart(2, "0")).join("");
        if (wanted.has(hex)) found.add(hex);
    }
    return {painted, total: pixels.length / 4, found: [...found]};
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on a free port of 127.0.0.1, with the demo data and one hostile street office."""
    config = load_config(overrides={"data_dir": str(tmp_path_factory.mktemp("data")), "map.tile_url": ""},
                         environ={})
    app = create_app(config)
    store = app.extensions["geo_app.store"]
    ensure_store(store)
    with store.transaction() as w:
        w.insert("estates", [{"properties": {"code": "EVIL", "name": HOSTILE, "street_office": HOSTILE,
                                             "status": "unscheduled", "households": 1},
                              "geometry": mapping(box(117.30, 34.70, 117.302, 34.702))}])
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    print(f"dashboard screenshots: {ARTIFACTS}")
    return ARTIFACTS


def open_dashboard(browser, base: str, query: str = "", **viewport):
    """A page on /dashboard that records errors, hosts asked and dialogs opened."""
    page = browser.new_page(viewport=viewport or {"width": 1280, "height": 900})
    seen = {"errors": [], "hosts": set(), "dialogs": []}
    page.on("pageerror", lambda exc: seen["errors"].append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and seen["errors"].append(msg.text))
    page.on("request", lambda req: seen["hosts"].add(urlsplit(req.url).netloc))
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.goto(base + "/dashboard" + query, wait_until="networkidle")
    return page, seen


def chart_pixels(page, chart_id: str, colours=()) -> dict:
    return page.evaluate(CANVAS_PIXELS, [chart_id, list(colours)])


def test_three_charts_render_from_the_app_alone(browser, server, artifacts):
    page, seen = open_dashboard(browser, server)
    charts = page.evaluate("Object.values(Chart.instances).map(c => [c.canvas.id, c.config.type])")
    assert sorted(charts) == sorted([[CHARTS[0], "bar"], [CHARTS[1], "bar"], [CHARTS[2], "doughnut"]])
    for chart_id in CHARTS:
        pixels = chart_pixels(page, chart_id)
        assert pixels["painted"] > pixels["total"] * 0.02, chart_id  # more than axes and a legend
    # Stacked bars in the status colours (every status the demo data has is drawn).
    colours = [t.color for t in RENOVATION_STATUS]
    assert set(chart_pixels(page, CHARTS[0], colours)["found"]) == set(colours)
    assert "示例数据" in page.locator(".illustrative-note").inner_text()
    assert HOSTILE in page.locator("#table-street-office").inner_text()  # shown as text
    page.screenshot(path=str(artifacts / "dashboard-screen.png"), full_page=True)
    assert seen["errors"] == [] and seen["dialogs"] == []
    assert page.evaluate("window.__pwned") is None
    assert seen["hosts"] == {urlsplit(server).netloc}  # nothing from a CDN or any other host
    page.close()


def test_english_dashboard(browser, server, artifacts):
    page, seen = open_dashboard(browser, server, "?lang=en")
    legend = page.evaluate("Chart.instances && Object.values(Chart.instances)"
                           ".find(c => c.canvas.id === 'chart-status-by-office').data.datasets.map(d => d.label)")
    assert legend == [t.en for t in RENOVATION_STATUS]
    page.screenshot(path=str(artifacts / "dashboard-screen-en.png"), full_page=True)
    assert seen["errors"] == []
    page.close()


def test_phone_layout_scrolls_tables_not_the_page(browser, server, artifacts):
    page, seen = open_dashboard(browser, server, width=390, height=844)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for chart_id in CHARTS:
        assert chart_pixels(page, chart_id)["painted"] > 0, chart_id
    page.screenshot(path=str(artifacts / "dashboard-phone.png"), full_page=True)
    assert seen["errors"] == []
    page.close()


def test_print_view_hides_navigation_and_keeps_charts(browser, server, artifacts):
    # 703 px is the text block of A4 (210 mm less 2 x 12 mm margins) at 96 dpi, as printed.
    page, seen = open_dashboard(browser, server, width=703, height=1000)
    page.emulate_media(media="print")
    page.wait_for_function("Object.values(Chart.instances).every(c => c.canvas.clientHeight < 300)")
    assert page.locator(".topbar nav").is_hidden()
    assert page.locator("#print-button").is_hidden() and page.locator("#xlsx-link").is_hidden()
    assert page.locator(".filters").is_hidden()
    assert page.locator(".illustrative-note").is_visible()
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)")
    for chart_id in CHARTS:
        assert chart_pixels(page, chart_id)["painted"] > 0, chart_id
    page.screenshot(path=str(artifacts / "dashboard-print.png"), full_page=True)
    page.pdf(path=str(artifacts / "dashboard-print.pdf"), format="A4", print_background=True)
    assert seen["errors"] == []
    page.close()
