"""The start page in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

Skips locally when Chromium or Playwright is missing; GEO_APP_REQUIRE_BROWSER=1 (CI) makes that a
failure instead.
"""

from __future__ import annotations

import os
import shutil
import threading
from urllib.parse import urlsplit

import pytest
from shapely.geometry import box, mapping
from werkzeug.serving import make_server

from geo_app import create_app
from geo_app.config import load_config
from geo_app.core.demo import ensure_store
from geo_app.domain import RENOVATION_STATUS
from geo_app.storage import FeatureQuery

from conftest import required

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("GEO_APP_CHROMIUM", "/usr/bin/chromium")
HOSTILE = '<img src=x onerror="window.__pwned=1">小区'


@pytest.fixture(scope="module")
def browser():
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed"
    if reason is None and not shutil.which(CHROMIUM):
        reason = f"no Chromium at {CHROMIUM} (Debian package chromium)"
    if reason:
        if required("BROWSER"):
            pytest.fail(f"browser tests are required (GEO_APP_REQUIRE_BROWSER=1) but {reason}")
        pytest.skip(reason)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on a free port of 127.0.0.1, with no basemap (the test machine has no internet)."""
    config = load_config(overrides={"data_dir": str(tmp_path_factory.mktemp("data")), "map.tile_url": ""},
                         environ={})
    app = create_app(config)
    store = app.extensions["geo_app.store"]
    ensure_store(store)
    with store.transaction() as w:
        w.insert("estates", [{"properties": {"code": "EVIL", "name": HOSTILE, "street_office": "临城街道",
                                             "status": "planned"},
                              "geometry": mapping(box(117.30, 34.70, 117.302, 34.702))}])
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", store
    httpd.shutdown()


def test_start_page_draws_every_estate_in_its_status_colour(browser, server, tmp_path):
    base, store = server
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors, hosts = [], set()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.on("request", lambda req: hosts.add(urlsplit(req.url).netloc))
    page.goto(base + "/", wait_until="networkidle")
    page.wait_for_selector("path.leaflet-interactive")
    estates = store.features("estates", FeatureQuery(with_geometry=False))
    for term in RENOVATION_STATUS:
        expected = sum(1 for f in estates if f.properties["status"] == term.code)
        drawn = page.locator(f'path.leaflet-interactive[fill="{term.color}"]').count()
        assert drawn == expected, term.code
    assert page.locator("#map-legend").is_visible()
    assert "示例数据" in page.locator(".illustrative-note").inner_text()
    page.screenshot(path=str(tmp_path / "start-page.png"))
    assert errors == []
    assert hosts == {urlsplit(base).netloc}  # nothing from a CDN or any other host
    page.close()


def test_tooltip_shows_hostile_names_as_text(browser, server):
    base, _store = server
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(base + "/", wait_until="networkidle")
    # Zoom onto the hostile estate, mark its SVG path, and hover it as a user would.
    page.evaluate("""() => {
        const map = Object.values(window).find(v => v instanceof L.Map);
        let target = null;
        map.eachLayer(l => { if (l.feature && l.feature.properties.code === "EVIL" && l._path) target = l; });
        map.fitBounds(target.getBounds(), {animate: false, maxZoom: 17});
        target._path.id = "evil-estate";
    }""")
    page.hover("#evil-estate")
    tooltip = page.locator(".leaflet-tooltip:not(.area-label)")
    tooltip.wait_for()
    assert HOSTILE in tooltip.inner_text()
    assert page.evaluate("window.__pwned") is None and dialogs == []
    page.close()
