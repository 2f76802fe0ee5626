"""The admin import page: off by default; CSRF on its forms; a preview that writes nothing and escapes
every imported value; confirm, progress, report; and the whole flow in a real Chromium."""

from __future__ import annotations

import io
import re
import threading
import time
import zipfile

import pytest
from werkzeug.serving import make_server

from geo_app import create_app
from geo_app.config import load_config
from geo_app.core.demo import ensure_store

from import_support import HOSTILE, estate_rows, geojson_file, snapshot

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


PASSWORD = "Import-Passw0rd-导入"


def make_app(tmp_path, **overrides):
    config = load_config(overrides={"data_dir": str(tmp_path / "data"), "secret_key": "test", **overrides},
                         environ={})
    application = create_app(config)
    ensure_store(application.extensions["geo_app.store"])
    accounts = application.extensions["geo_app.accounts"]
    accounts.add_user("chief", "admin", PASSWORD)
    accounts.add_user("planner", "planner", PASSWORD)
    return application


@pytest.fixture
def enabled_app(tmp_path):
    return make_app(tmp_path)


def signed_in(application, username="chief"):
    """A test client signed in through the sign-in form."""
    client = application.test_client()
    token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def csrf(client) -> str:
    return TOKEN.search(client.get("/admin/import/").get_data(as_text=True)).group(1)


def upload(client, path, token, **fields):
    data = {"layer": "estates", "crs": "", "encoding": "", "mode": "insert", "csrf_token": token, **fields,
            "file": (io.BytesIO(path.read_bytes()), path.name)}
    return client.post("/admin/import/", data=data, content_type="multipart/form-data")


def wait_for_report(client, status_url: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if client.get(status_url + "/progress").get_json()["finished"]:
            return client.get(status_url).get_data(as_text=True)
        time.sleep(0.1)
    raise AssertionError("the import did not finish within 60 s")


def test_the_page_is_for_admins_and_off_when_switched_off(tmp_path, enabled_app):
    anonymous = enabled_app.test_client().get("/admin/import/")
    assert anonymous.status_code == 302 and "/login" in anonymous.location
    assert signed_in(enabled_app, "planner").get("/admin/import/").status_code == 403
    assert signed_in(enabled_app).get("/admin/import/").status_code == 200
    switched_off = signed_in(make_app(tmp_path / "off", **{"imports.web_enabled": False})).get("/admin/import/")
    assert switched_off.status_code == 404 and "imports.web_enabled" in switched_off.get_data(as_text=True)


def test_forms_without_a_csrf_token_are_refused(enabled_app, tmp_path):
    client = signed_in(enabled_app)
    path = geojson_file(tmp_path / "a.geojson", estate_rows(1))
    assert upload(client, path, "forged").status_code == 400
    assert client.post("/api/query", json={"geometry": {"type": "Point", "coordinates": [117.3, 34.8]},
                                           "buffer_m": 10}).status_code == 200  # read-only, exempt


def test_preview_escapes_every_value_writes_nothing_then_confirm_imports(enabled_app, tmp_path):
    client = signed_in(enabled_app)
    store = enabled_app.extensions["geo_app.store"]
    rows = estate_rows(3, prefix="WEB")
    rows[0]["name"] = HOSTILE
    rows[1]["address"] = "</script><script>alert(1)</script>"
    path = geojson_file(tmp_path / "web.geojson", rows)
    before, count = snapshot(store), store.count("estates")
    response = upload(client, path, csrf(client))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert HOSTILE not in html and "<script>alert(1)" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # shown, as text
    assert 'id="import-preview"' in html and 'id="import-confirm"' in html
    assert snapshot(store) == before
    confirm = re.search(r'action="(/admin/import/[0-9a-f]{32}/confirm)"', html).group(1)
    token = TOKEN.search(html).group(1)
    redirect = client.post(confirm, data={"csrf_token": token})
    assert redirect.status_code == 302
    report = wait_for_report(client, redirect.headers["Location"])
    assert "已导入" in report or "Imported" in report
    assert store.count("estates") == count + 3
    folder = enabled_app.config["GEO_APP"].data_dir / "uploads" / confirm.split("/")[3]
    assert not [p for p in folder.iterdir() if p.name.startswith("upload")]  # the upload is gone
    assert not list((folder / "work").glob("*")) if (folder / "work").exists() else True


def test_a_refused_upload_says_why_and_keeps_nothing(enabled_app, tmp_path):
    client = signed_in(enabled_app)
    archive = tmp_path / "slip.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../evil.geojson", "{}")
    html = upload(client, archive, csrf(client)).get_data(as_text=True)
    assert "slip.zip：已拒绝：成员“../evil.geojson”路径中含有“..”（不安全的压缩包）" in html
    assert not list((enabled_app.config["GEO_APP"].data_dir / "uploads").iterdir())


def test_problems_are_listed_and_nothing_can_be_confirmed(enabled_app, tmp_path):
    client = signed_in(enabled_app)
    rows = estate_rows(2, prefix="BAD")
    rows[1]["households"] = -3
    html = upload(client, geojson_file(tmp_path / "bad.geojson", rows), csrf(client)).get_data(as_text=True)
    assert 'id="import-problems"' in html and "字段“households”= -3，超出范围 0…2147483647" in html
    assert 'id="import-confirm"' not in html


@pytest.mark.browser
def test_upload_preview_confirm_and_progress_in_chromium(browser, tmp_path):
    application = make_app(tmp_path, **{"map.tile_url": "", "map.amap_url": "", "map.amap_satellite_url": ""})
    store = application.extensions["geo_app.store"]
    httpd = make_server("127.0.0.1", 0, application, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        rows = estate_rows(4, prefix="UI")
        rows[0]["name"] = '<img src=x onerror="window.__pwned=1">小区'
        path = geojson_file(tmp_path / "ui.geojson", rows)
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"http://127.0.0.1:{httpd.server_port}/admin/import/")  # -> the sign-in page
        page.fill('input[name="username"]', "chief")
        page.fill('input[name="password"]', PASSWORD)
        page.click('form button[type="submit"]')
        page.wait_for_url("**/admin/import/")
        page.set_input_files('input[name="file"]', str(path))
        page.click('#import-form button[type="submit"]')
        page.wait_for_selector('#import-map[data-drawn="4"]')
        assert page.locator("#import-map path.leaflet-interactive").count() == 4
        assert page.locator("#import-preview tbody tr").count() == 4
        assert store.count("estates", None) == 168
        page.click('#import-confirm button')
        page.wait_for_selector("#import-result", timeout=60_000)
        assert "4" in page.locator("#import-summary").inner_text()
        assert store.count("estates") == 172
        assert page.evaluate("window.__pwned") is None and errors == []
    finally:
        httpd.shutdown()


@pytest.mark.postgis
def test_a_big_upload_into_an_empty_postgis_layer_streams_and_lands_whole(tmp_path, request, monkeypatch):
    # On PostGIS the confirmed import streams its rows to the server while the page's job reads the
    # file; 1,200 features into an emptied layer take the locked path (indexes built at the end).
    import uuid

    import shapely

    from geo_app.storage import FeatureQuery
    from import_support import chinese_frame, grid_rows, write_shapefile, written_by

    parts = written_by(monkeypatch)

    url = f"{request.getfixturevalue('postgis_url')}?schema=t_{uuid.uuid4().hex[:12]}"
    application = make_app(tmp_path, **{"database.url": url})
    store = application.extensions["geo_app.store"]
    try:
        with store.transaction() as w:
            w.clear("estates")
        rows = grid_rows(1200, "BIG")
        archive = write_shapefile(chinese_frame(rows), tmp_path / "shp", "estates", "GBK")
        client = signed_in(application)
        html = upload(client, archive, csrf(client)).get_data(as_text=True)
        confirm = re.search(r'action="(/admin/import/[0-9a-f]{32}/confirm)"', html).group(1)
        redirect = client.post(confirm, data={"csrf_token": TOKEN.search(html).group(1)})
        report = wait_for_report(client, redirect.headers["Location"])
        assert "已导入" in report or "Imported" in report
        assert store.count("estates") == 1200
        assert {thread for thread, _rows in parts} == {"import-write"}  # written by the stream, during the read
        corner = rows[1199]["geometry"]
        found = store.features("estates", FeatureQuery.where(bbox=shapely.centroid(corner).buffer(1e-5).bounds))
        assert [f.properties["code"] for f in found] == ["BIG-1200"]
        assert [f.properties["name"] for f in found] == ["测试1200号小区"]  # GBK names intact
    finally:
        store.drop()
        store.close()
