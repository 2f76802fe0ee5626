"""A planner edits an estate in a real headless Chromium: signs in, changes its status on the edit
form, and sees the change in the estate's history; the boundary editor loads Geoman from the app
and saves through the JSON API with the CSRF header. Screenshots land in tests/artifacts/.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import serving
from geo_app import create_app
from geo_app.config import load_config
from geo_app.core.accounts import Accounts
from geo_app.core.demo import ensure_store
from geo_app.storage import FeatureQuery

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"
ARTIFACTS = Path(os.environ.get("GEO_APP_TEST_ARTIFACTS", Path(__file__).parent / "artifacts"))
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478"
                    "9c6360000002000154a24f5d0000000049454e44ae426082")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    config = load_config(overrides={"data_dir": str(tmp_path_factory.mktemp("data")),
                                    "map.tile_url": "http://osm.tiles.test/{z}/{x}/{y}.png",
                                    "map.amap_url": "", "map.amap_satellite_url": ""}, environ={})
    app = create_app(config)
    store = app.extensions["geo_app.store"]
    ensure_store(store)
    Accounts(store.accounts).add_user("planner_wang", "planner", PASSWORD)
    with serving(app) as base:
        yield base, store


@pytest.fixture
def page(browser, server):
    base, _ = server
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.errors, page.foreign = [], []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))

    def route(r):
        host = urlsplit(r.request.url).netloc
        if host == urlsplit(base).netloc:
            r.continue_()
        elif host == "osm.tiles.test":
            r.fulfill(status=200, content_type="image/png", body=PNG)
        else:
            page.foreign.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(f"{base}/login")
    page.fill("#username", "planner_wang")
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_load_state()
    yield page
    context.close()


def test_a_planner_changes_the_status_and_sees_it_in_the_history(page, server):
    base, store = server
    estate = store.features("estates", FeatureQuery.where(status="planned", limit=1))[0]
    page.goto(f"{base}/estates/{estate.id}")
    page.click("#edit-estate")
    page.select_option("#input-status", "under_construction")
    page.fill("#input-progress_pct", "15")
    page.fill("#input-reason", "7月20日现场核实：已进场施工")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "estate-edit-form.png"), full_page=True)
    page.click("#save-estate")
    page.wait_for_selector("#history-list li")
    history = page.inner_text("#history-list")
    assert "已列入计划 → 施工中" in history and "7月20日现场核实" in history and "planner_wang" in history
    assert "已保存（2 项修改）" in page.inner_text(".flash-messages")
    page.locator("#history").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "estate-history.png"), full_page=True)
    stored = store.get("estates", estate.id)
    assert stored.properties["status"] == "under_construction" and stored.version == estate.version + 1
    assert page.errors == [] and page.foreign == []


def test_the_boundary_editor_saves_through_the_api(page, server):
    base, store = server
    estate = store.features("estates", FeatureQuery.where(status="accepted", limit=1))[0]
    page.goto(f"{base}/estates/{estate.id}/boundary")
    page.wait_for_selector(".leaflet-pm-toolbar")
    page.wait_for_selector("path.leaflet-interactive")
    page.click("#save-boundary")
    assert "请填写修改原因" in page.inner_text("#boundary-message")
    page.screenshot(path=str(ARTIFACTS / "estate-boundary-editor.png"))
    # Move the whole shape a little with Geoman's drag mode, then save it.
    page.click(".leaflet-pm-icon-drag")
    box = page.locator("path.leaflet-interactive[stroke='#e65100']").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 12, box["y"] + box["height"] / 2 + 6, steps=6)
    page.mouse.up()
    page.fill("#boundary-reason", "按测绘成果调整")
    page.click("#save-boundary")
    page.wait_for_function("document.getElementById('boundary-message').textContent.length > 0")
    if page.is_visible("#confirm-boundary"):  # the moved shape now touches a neighbour
        page.click("#confirm-boundary")
    page.wait_for_url(f"**/estates/{estate.id}#history")
    assert "边界" in page.inner_text("#history-list")
    moved = store.get("estates", estate.id)
    assert moved.version == estate.version + 1 and not moved.geometry.equals(estate.geometry)
    assert page.errors == [] and page.foreign == []
