"""Signing in through the form in headless Chromium: the user menu, the account page, signing out."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from conftest import serving
from geo_app import create_app
from geo_app.config import load_config
from geo_app.core.demo import ensure_store

pytestmark = pytest.mark.browser
PASSWORD = "巡查-Passw0rd-2021"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    config = load_config(overrides={
        "data_dir": str(tmp_path_factory.mktemp("data")), "secret_key": "browser-test",
        "map.tile_url": "", "map.amap_url": "", "map.amap_satellite_url": "",  # no tile hosts to reach
    }, environ={})
    app = create_app(config)
    ensure_store(app.extensions["geo_app.store"])
    app.extensions["geo_app.accounts"].add_user("li.planner", "planner", PASSWORD)
    with serving(app) as base:
        yield base


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    own = urlsplit(server).netloc
    page.route("**/*", lambda r: r.continue_() if urlsplit(r.request.url).netloc == own else r.abort())
    yield page
    context.close()


def test_sign_in_through_the_form_shows_the_user_menu_then_sign_out(page, server):
    page.goto(f"{server}/dashboard")
    page.click("a.sign-in")  # from the page the visitor was on
    page.wait_for_url("**/login")
    page.fill("#username", "li.planner")
    page.fill("#password", "wrong password")
    page.click("#login-form button[type=submit]")
    assert "用户名或密码错误" in page.inner_text("#login-error")

    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{server}/dashboard")
    menu = page.locator("#user-menu")
    assert menu.is_visible()
    assert "li.planner" in menu.inner_text() and "规划员" in menu.inner_text()
    assert page.locator("a.sign-in").count() == 0
    cookie = next(c for c in page.context.cookies() if c["name"] == "session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    page.click("#user-menu a.user-name")
    page.wait_for_url("**/account")
    page.fill("#label", "QGIS 办公室")
    page.click("#token-form button[type=submit]")
    token = page.inner_text("#new-token").strip()
    assert token.startswith("geo_")
    assert "QGIS 办公室" in page.inner_text("#tokens")

    page.click("#user-menu button[type=submit]")
    page.wait_for_url(f"{server}/")
    assert page.locator("a.sign-in").is_visible()
    assert "您已退出登录" in page.inner_text(".flash-messages")
    assert page.errors == []
