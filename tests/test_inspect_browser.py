"""The inspector's phone page in a real headless Chromium: a faked geolocation beside a demo estate,
an inspection with a photo that a planner then sees, and a form sent while the network is cut.

Screenshots of the phone page (390x844) land in tests/artifacts/ (or $GEO_APP_TEST_ARTIFACTS).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import serving
from geo_app import create_app
from geo_app.config import load_config
from geo_app.core.demo import ensure_store
from geo_app.storage import FeatureQuery

from inspections_support import PASSWORD, add_user, jpeg

pytestmark = pytest.mark.browser
ARTIFACTS = Path(os.environ.get("GEO_APP_TEST_ARTIFACTS", Path(__file__).parent / "artifacts"))
TILE_HOST = "osm.tiles.test"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478"
                    "9c6360000002000154a24f5d0000000049454e44ae426082")
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    config = load_config(overrides={"data_dir": str(tmp_path_factory.mktemp("data")), "secret_key": "browser",
                                    "map.tile_url": f"http://{TILE_HOST}/{{z}}/{{x}}/{{y}}.png"}, environ={})
    app = create_app(config)
    store = app.extensions["geo_app.store"]
    ensure_store(store)
    add_user(app, "wang", "inspector")
    add_user(app, "zhao", "inspector")
    add_user(app, "li", "planner")
    with serving(app) as base:
        yield base, store


def lonely_estate(store):
    """A demo estate with planned items and a point inside it that lies in no other estate."""
    for estate in store.features("estates", FeatureQuery(limit=60)):
        inside = estate.geometry.representative_point()
        if len((estate.properties["items_planned"] or "").split(",")) < 2:
            continue
        if [f.id for f, _d, _b in store.nearby("estates", inside.x, inside.y, 0, 5)] == [estate.id]:
            return estate, inside
    raise AssertionError("no suitable demo estate")


def new_phone(browser, base, position=None):
    """A phone-sized context that may reach only the app (tiles are answered here)."""
    options = {"viewport": PHONE, "locale": "zh-CN", "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
    if position is not None:
        options.update(geolocation={"longitude": position.x, "latitude": position.y, "accuracy": 15},
                       permissions=["geolocation"])
    context = browser.new_context(**options)
    context.errors, context.foreign = [], []

    def route(r):
        host = urlsplit(r.request.url).netloc
        if host == urlsplit(base).netloc:
            r.continue_()
        elif host == TILE_HOST:
            r.fulfill(status=200, content_type="image/png", body=PNG)
        else:
            context.foreign.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    return context


def sign_in(page, base, username, next_path):
    page.goto(f"{base}/login?next={next_path}")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}{next_path}")


def sign_out(page):
    with page.expect_navigation():
        page.click("#user-menu form button[type=submit]")


def watch_errors(page, context):
    page.on("pageerror", lambda exc: context.errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and context.errors.append(msg.text))


def fill_form(page, estate_id, notes):
    page.click(f"#nearby-list .nearby-estate[data-id='{estate_id}']")
    page.wait_for_selector("#inspection-form:not([hidden])")
    first_item = page.locator("#checklist-items .check-row").first
    first_item.locator("input[value=problem]").check()
    page.fill("#progress", "70")
    page.fill("#notes", notes)
    page.check("#verdict-options input[value=issues]")


def wait_until(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_inspector_finds_the_estate_first_submits_with_a_photo_and_a_planner_sees_it(browser, server):
    base, store = server
    estate, inside = lonely_estate(store)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = new_phone(browser, base, inside)
    page = context.new_page()
    watch_errors(page, context)
    sign_in(page, base, "wang", "/inspect")
    page.wait_for_selector("#nearby-list .nearby-estate")
    first = page.locator("#nearby-list .nearby-estate").first
    assert first.get_attribute("data-id") == str(estate.id)
    assert estate.properties["name"] in first.inner_text() and "在小区内" in first.inner_text()
    # Further estates say how far and which way, e.g. "东北 120 m".
    assert page.locator("#nearby-list .nearby-estate .distance").nth(1).inner_text().split()[0] in \
        {"北", "东北", "东", "东南", "南", "西南", "西", "西北"}
    assert "± 15 m" in page.inner_text("#position-status")
    assert page.evaluate("document.querySelectorAll('#inspect-map path.leaflet-interactive').length") >= 2
    page.screenshot(path=str(ARTIFACTS / "inspect_phone_nearby.png"))

    fill_form(page, estate.id, "南门路面破损 <script>alert(1)</script>")
    page.set_input_files("#photos", files=[{"name": "现场.jpg", "mimeType": "image/jpeg",
                                            "buffer": jpeg(640, 480, gps=(inside.x, inside.y))}])
    page.screenshot(path=str(ARTIFACTS / "inspect_phone_form.png"), full_page=True)
    before = store.count("inspections")
    page.click("#submit-inspection")
    page.wait_for_function("document.getElementById('position-status').textContent.startsWith('已发送')")
    assert store.count("inspections") == before + 1
    record = store.features("inspections", FeatureQuery.where(estate_id=estate.id))[-1]
    assert record.properties["inspector"] == "wang" and record.properties["problems"] == 1
    assert record.properties["accuracy_m"] == 15 and record.properties["photos"] != "[]"
    assert abs(record.geometry.x - inside.x) < 1e-6 and abs(record.geometry.y - inside.y) < 1e-6
    # The outbox list is drawn after the status line, once the phone's outbox (IndexedDB) answers.
    page.wait_for_function("document.getElementById('outbox-list').textContent.includes('已发送')", timeout=5000)
    assert estate.properties["name"] in page.inner_text("#outbox-list")
    page.screenshot(path=str(ARTIFACTS / "inspect_phone_sent.png"))
    assert context.errors == [] and context.foreign == []
    context.close()

    planner = new_phone(browser, base)
    page = planner.new_page()
    watch_errors(page, planner)
    sign_in(page, base, "li", f"/estates/{estate.id}")
    history = page.locator("#inspection-history")
    assert "wang" in history.inner_text() and "南门路面破损 <script>alert(1)</script>" in history.inner_text()
    assert "存在问题" in history.inner_text()
    page.locator("#inspection-history img").first.scroll_into_view_if_needed()  # thumbnails load lazily
    page.wait_for_function("[...document.querySelectorAll('#inspection-history img')].every(i => i.complete && i.naturalWidth > 0)")
    page.locator("#inspection-history").screenshot(path=str(ARTIFACTS / "estate_inspection_history.png"))
    # On the planner map: the inspections overlay, and the latest inspection in the estate's popup.
    page.goto(f"{base}/?estate={estate.id}")
    page.wait_for_selector(".leaflet-overlay-pane path.inspection-marker")
    page.wait_for_selector(f".estate-popup[data-estate-id='{estate.id}'] .popup-inspection")
    page.wait_for_function("!document.querySelector('.popup-inspection').textContent.startsWith('…')")
    note = page.inner_text(".popup-inspection")
    assert note.startswith("最近一次巡查: 存在问题") and "wang" in note and "问题数 1" in note
    assert "巡查" in page.inner_text(".leaflet-control-layers-overlays")
    assert planner.errors == [] and planner.foreign == []
    planner.close()


def test_a_form_sent_while_the_network_is_cut_waits_on_the_phone_and_is_sent_when_it_returns(browser, server):
    base, store = server
    estate, inside = lonely_estate(store)
    context = new_phone(browser, base, inside)
    page = context.new_page()
    watch_errors(page, context)
    sign_in(page, base, "wang", "/inspect")
    page.wait_for_selector(f"#nearby-list .nearby-estate[data-id='{estate.id}']")
    fill_form(page, estate.id, "断网时填写")
    page.set_input_files("#photos", files=[{"name": "offline.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}])
    before = store.count("inspections")
    context.set_offline(True)
    page.click("#submit-inspection")
    page.wait_for_selector("#outbox-badge:not([hidden])")
    assert page.inner_text("#outbox-badge") == "待发送 (1)"
    assert "网络不可用" in page.inner_text("#position-status")
    assert "断网时填写" not in str(store.features("inspections", FeatureQuery(with_geometry=False)))
    page.screenshot(path=str(ARTIFACTS / "inspect_phone_pending.png"))
    time.sleep(1)
    assert store.count("inspections") == before  # nothing got through while offline

    context.set_offline(False)
    page.wait_for_selector("#outbox-badge", state="hidden", timeout=40000)
    assert wait_until(lambda: store.count("inspections") == before + 1)
    sent = [f for f in store.features("inspections", FeatureQuery(with_geometry=False))
            if f.properties["notes"] == "断网时填写"]
    assert len(sent) == 1 and sent[0].properties["photos"] != "[]"  # stored once, with its photo
    assert "已发送" in page.inner_text("#outbox-list")
    page.screenshot(path=str(ARTIFACTS / "inspect_phone_resent.png"))
    # Only the offline fetch failed; nothing else went wrong and nothing left the app.
    assert [e for e in context.errors if "ERR_INTERNET_DISCONNECTED" not in e] == []
    assert context.foreign == []
    context.close()


def test_on_a_shared_phone_a_queued_form_waits_for_its_own_inspector(browser, server):
    base, store = server
    estate, inside = lonely_estate(store)
    context = new_phone(browser, base, inside)
    page = context.new_page()
    sign_in(page, base, "wang", "/inspect")
    page.wait_for_selector(f"#nearby-list .nearby-estate[data-id='{estate.id}']")
    fill_form(page, estate.id, "王的离线记录")
    # The submission fails for want of a network (the rest of the page still loads).
    cut = lambda route: route.abort("internetdisconnected") if route.request.method == "POST" else route.continue_()
    page.route("**/inspections", cut)
    page.click("#submit-inspection")
    page.wait_for_selector("#outbox-badge:not([hidden])")
    sign_out(page)  # wang signs out, zhao takes the phone
    sign_in(page, base, "zhao", "/inspect")
    page.wait_for_selector("#nearby-list .nearby-estate")
    page.unroute("**/inspections", cut)  # the network is back
    page.evaluate("window.GeoAppOutbox.flush()")
    page.wait_for_timeout(1500)  # (through Playwright, so routed requests go through)
    mine = lambda who: [f for f in store.features("inspections", FeatureQuery.where(inspector=who, with_geometry=False))
                        if f.properties["notes"] == "王的离线记录"]
    assert mine("zhao") == [] and mine("wang") == []  # never stored under zhao's name
    assert page.locator("#outbox-badge").is_hidden()  # and not shown as zhao's
    sign_out(page)
    sign_in(page, base, "wang", "/inspect")  # wang is back: his form goes, under his name
    # Waiting through Playwright (not time.sleep): the context's route handler that lets the POST
    # through runs only while this thread is inside a Playwright call.
    assert wait_until(lambda: page.wait_for_timeout(200) or len(mine("wang")) == 1)
    context.close()


def test_without_a_position_the_inspector_types_coordinates(browser, server):
    base, store = server
    estate, inside = lonely_estate(store)
    context = new_phone(browser, base)  # no geolocation permission
    page = context.new_page()
    sign_in(page, base, "wang", "/inspect")
    page.wait_for_function("document.getElementById('position-status').textContent.includes('无法获取')")
    page.fill("#manual-lon", f"{inside.x:.6f}")
    page.fill("#manual-lat", f"{inside.y:.6f}")
    page.click("#manual-go")
    page.wait_for_selector("#nearby-list .nearby-estate")
    assert page.locator("#nearby-list .nearby-estate").first.get_attribute("data-id") == str(estate.id)
    assert "手动" in page.inner_text("#position-status")
    context.close()
