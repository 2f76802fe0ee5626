"""The start page in a real headless Chromium with no basemap at all (an intranet without tiles).

The `browser` fixture (conftest.py) says how Chromium is found and when a missing one fails the run.
"""

from __future__ import annotations

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


pytestmark = pytest.mark.browser
HOSTILE = '<img src=x onerror="window.__pwned=1">小区'


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on a free port of 127.0.0.1 with every tile URL emptied: only "no basemap" is left."""
    config = load_config(overrides={"data_dir": str(tmp_path_factory.mktemp("data")), "map.tile_url": "",
                                    "map.amap_url": "", "map.amap_satellite_url": ""},
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


def test_without_basemap_outlines_and_estates_still_show(browser, server, tmp_path):
    base, store = server
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors, hosts = [], set()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.on("request", lambda req: hosts.add(urlsplit(req.url).netloc))
    page.goto(base + "/")
    page.wait_for_selector('#map-ready[data-ready="1"]', state="attached")
    assert page.locator(".leaflet-tile").count() == 0
    labels = page.locator(".leaflet-tooltip.area-label").all_inner_texts()
    assert {"临城街道", "常庄街道", "沙沟镇"} <= set(labels)  # street offices drawn and labelled
    estates = store.features("estates", FeatureQuery(with_geometry=False))
    drawn = sum(page.locator(f'path.leaflet-interactive[fill="{t.color}"]').count() for t in RENOVATION_STATUS)
    assert drawn == len(estates)
    assert "示例数据" in page.locator(".illustrative-note").inner_text()
    page.screenshot(path=str(tmp_path / "no-basemap.png"))
    assert errors == []
    assert hosts == {urlsplit(base).netloc}  # nothing from a CDN or any other host
    page.close()


def test_tooltip_shows_hostile_names_as_text(browser, server):
    base, _store = server
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(base + "/")
    page.wait_for_selector('#map-ready[data-ready="1"]', state="attached")
    # Zoom onto the hostile estate, mark its SVG path, and hover it as a user would.
    page.evaluate("""() => {
        const map = window.GeoApp.map;
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
