"""GET /api/export/<layer>: the map's filters, the CLI's bytes, named downloads, streaming over a
real HTTP server, temporary files removed, and "export what I see" on the planner map in Chromium."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import threading
import time
from urllib.parse import quote, urlencode

import pytest
from waitress.server import create_server

from geo_app.cli import main
from geo_app.core.export import job as export_job
from geo_app.core.geodesy import wgs84_to_gcj02
from geo_app.storage import FeatureQuery

FILTERS = [
    {"street_office": "临城街道"},
    {"street_office": "临城街道", "batch": "2021"},
    {"batch": "2020,2021", "status": "completed,accepted"},
    {"item": "parking"},
    {"q": "小区"},
    {"bbox": "117.20,34.78,117.28,34.82"},
]


def store_of(client):
    return client.application.extensions["geo_app.store"]


def ids_of(body: bytes) -> list[int]:
    return [f["id"] for f in json.loads(body)["features"]]


@pytest.mark.parametrize("filters", FILTERS)
def test_export_gives_exactly_the_maps_estates(client, filters):
    on_map = client.get(f"/api/estates?{urlencode(filters)}&view=map").get_json()
    exported = client.get(f"/api/export/estates?{urlencode(filters)}")
    assert exported.status_code == 200
    assert ids_of(exported.data) == sorted(f["id"] for f in on_map["features"]) and on_map["features"]
    assert int(exported.headers["X-Feature-Count"]) == len(on_map["features"])


@pytest.mark.parametrize("fmt", ["geojson", "csv", "kml"])
def test_the_web_and_the_cli_write_the_same_bytes(app, client, config, tmp_path, monkeypatch, fmt):
    monkeypatch.setenv("GEO_APP_DATA_DIR", str(config.data_dir))
    monkeypatch.setenv("GEO_APP_DATABASE_URL", "")
    monkeypatch.chdir(tmp_path)
    web = client.get(f"/api/export/estates?street_office=临城街道&batch=2021&format={fmt}&coords=gcj02")
    assert main(["export", "--street-office", "临城街道", "--batch", "2021", "--format", fmt, "--coords", "gcj02"]) == 0
    name = f"estates_临城街道_2021_gcj02.{fmt}"
    assert (tmp_path / name).read_bytes() == web.data and len(web.data) > 1000
    assert web.headers["Content-Disposition"] == (f"attachment; filename=\"estates_lincheng_2021_gcj02.{fmt}\"; "
                                                  f"filename*=UTF-8''{quote(name)}")


def test_downloads_are_named_typed_and_not_cached(client):
    cases = {"geojson": "application/geo+json", "gpkg": "application/geopackage+sqlite3", "shp": "application/zip",
             "kml": "application/vnd.google-earth.kml+xml", "csv": "text/csv",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    for fmt, media in cases.items():
        response = client.get(f"/api/export/estates?status=completed&format={fmt}")
        assert response.status_code == 200 and response.mimetype == media
        extension = "shp.zip" if fmt == "shp" else fmt
        assert response.headers["Content-Disposition"].endswith(quote(f"estates_已完工.{extension}"))
        assert response.headers["Cache-Control"] == "no-store" and response.is_streamed
    for layer in ("district", "street_offices", "zones", "facilities"):
        response = client.get(f"/api/export/{layer}?format=csv")
        assert response.status_code == 200 and response.data.startswith(b"\xef\xbb\xbfid,")


def test_a_view_over_amap_tiles_is_a_gcj02_bbox(client):
    box = (117.20, 34.78, 117.28, 34.82)
    (x0, x1), (y0, y1) = wgs84_to_gcj02([box[0], box[2]], [box[1], box[3]])
    shifted = f"{x0:.9f},{y0:.9f},{x1:.9f},{y1:.9f}"
    wgs = ids_of(client.get(f"/api/export/estates?bbox={','.join(map(str, box))}").data)
    gcj = ids_of(client.get(f"/api/export/estates?bbox={shifted}&bbox_coords=gcj02").data)
    naive = ids_of(client.get(f"/api/export/estates?bbox={shifted}").data)
    assert gcj == wgs and naive != wgs  # ~500 m off without saying which coordinates the box is in


@pytest.mark.parametrize("query, status, parameter", [
    ("stauts=planned", 400, "stauts"),
    ("format=dxf", 400, "format"),
    ("precision=0", 400, "precision"),
    ("batch=twenty", 400, "batch"),
    ("bbox_coords=bd09&bbox=1,2,3,4", 400, "bbox_coords"),
    ("ids=1,x", 400, "ids"),
])
def test_bad_parameters_are_a_400_naming_them(client, query, status, parameter):
    response = client.get(f"/api/export/estates?{query}")
    assert response.status_code == status and response.get_json()["parameter"] == parameter


def test_unknown_layer_and_office_are_404(client):
    assert client.get("/api/export/lakes").status_code == 404
    assert "layers: " in client.get("/api/export/lakes").get_json()["description"]
    assert client.get("/api/export/estates?within_office=atlantis").status_code == 404


@pytest.mark.parametrize("fmt", ["gpkg", "shp", "xlsx"])
def test_temporary_files_go_when_the_response_closes(client, tmp_path, monkeypatch, fmt):
    temp = tmp_path / "temp"  # tmp_path also holds the app's store
    temp.mkdir()
    monkeypatch.setattr(export_job.tempfile, "tempdir", str(temp))
    response = client.get(f"/api/export/estates?format={fmt}", buffered=False)
    first = next(iter(response.response))
    assert first and any(temp.iterdir())
    response.close()  # the client went away after the first block
    assert not any(temp.iterdir())


def test_street_office_page_and_dashboard_link_to_their_exports(client):
    page = client.get("/street-offices/lincheng").get_data(as_text=True)
    links = [part.split('"', 1)[0] for part in page.split('href="')[1:] if part.startswith("/api/export/")]
    assert len(links) == 6
    for link in links:
        response = client.get(link.replace("&amp;", "&"))
        assert response.status_code == 200
        assert int(response.headers["X-Feature-Count"]) == store_of(client).count(
            "estates", FeatureQuery.where(street_office="临城街道")) > 0
    dashboard = client.get("/dashboard?street_office=临城街道&batch=2021").get_data(as_text=True)
    link = dashboard.split('id="export-link" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    response = client.get(link)
    assert response.status_code == 200 and response.data[:6] == b"SQLite"
    assert int(response.headers["X-Feature-Count"]) == store_of(client).count(
        "estates", FeatureQuery.where(street_office="临城街道", batch=2021)) > 0


# --- over a real HTTP server ------------------------------------------------------------------------
@pytest.fixture
def http_server(app):
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server.effective_port
    server.close()


def test_exports_stream_over_http(http_server, client):
    connection = http.client.HTTPConnection("127.0.0.1", http_server, timeout=30)
    connection.request("GET", "/api/export/estates?format=geojson&with_bbox=1")
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("Transfer-Encoding") == "chunked"
    assert response.getheader("Content-Length") is None  # streamed, not built whole first
    body = response.read()
    connection.close()
    assert body == client.get("/api/export/estates?format=geojson&with_bbox=1").data
    assert len(json.loads(body)["features"]) == 168


def test_a_client_hanging_up_leaves_no_temporary_file(http_server, tmp_path, monkeypatch):
    temp = tmp_path / "temp"  # tmp_path also holds the app's store
    temp.mkdir()
    monkeypatch.setattr(export_job.tempfile, "tempdir", str(temp))
    with socket.create_connection(("127.0.0.1", http_server), timeout=30) as s:
        s.sendall(b"GET /api/export/estates?format=xlsx HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(64).startswith(b"HTTP/1.1 200")
    deadline = time.monotonic() + 10
    while any(temp.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(temp.iterdir())


# --- the planner map's "export what I see" in Chromium ----------------------------------------------
@pytest.mark.browser
def test_export_what_i_see_downloads_what_the_cli_writes(browser, http_server, client, config, tmp_path, monkeypatch):
    base = f"http://127.0.0.1:{http_server}"
    expected = store_of(client).count("estates", FeatureQuery.where(street_office="临城街道", batch=2021))
    context = browser.new_context(viewport={"width": 1366, "height": 860}, locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
    try:
        page.goto(f"{base}/?street_office=临城街道&batch=2021")
        page.wait_for_selector("#map-ready[data-ready='1']", state="attached", timeout=30_000)
        page.click("#export-open")
        assert page.is_visible("#export-dialog")
        assert page.text_content("#export-what").endswith(str(expected))
        page.select_option("#export-format", "csv")
        with page.expect_download(timeout=30_000) as download_info:
            page.click("#export-go")
        download = download_info.value
        assert download.suggested_filename == "estates_临城街道_2021.csv"
        saved = tmp_path / "browser.csv"
        download.save_as(saved)
        page.wait_for_function(f"document.getElementById('export-status').textContent.includes(': {expected}')")
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.check("#export-in-view")
        page.select_option("#export-format", "geojson")
        with page.expect_download(timeout=30_000):
            page.click("#export-go")
        assert any("bbox=" in url and "/api/export/estates" in url for url in requests)
    finally:
        context.close()
    assert errors == []
    monkeypatch.setenv("GEO_APP_DATA_DIR", str(config.data_dir))
    monkeypatch.setenv("GEO_APP_DATABASE_URL", "")
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--street-office", "临城街道", "--batch", "2021", "--format", "csv"]) == 0
    assert saved.read_bytes() == (tmp_path / "estates_临城街道_2021.csv").read_bytes()


@contextlib.contextmanager
def planner_page(browser, base: str):
    """A Chinese-locale page that may download, reaches only our server, and keeps (page, the
    page's script errors, the URLs it asked for); closed afterwards."""
    context = browser.new_context(viewport={"width": 1366, "height": 860}, locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    errors, requests = [], []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda r: requests.append(r.url))
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
    try:
        yield page, errors, requests
    finally:
        context.close()


def download_from_dialog(page, count_pattern: str, saved) -> tuple[int, str]:
    """Once the export dialog has counted and enabled its button: the count it says (the first
    group of `count_pattern` in its text) and the suggested name of the file it downloads to `saved`."""
    page.wait_for_function("!document.getElementById('export-what').textContent.includes('…') && "
                           "!document.getElementById('export-go').disabled")
    shown = int(re.search(count_pattern, page.text_content("#export-what")).group(1).replace(",", ""))
    with page.expect_download(timeout=30_000) as download_info:
        page.click("#export-go")
    download_info.value.save_as(saved)
    return shown, download_info.value.suggested_filename


# The estates drawn on the map: those whose outline lies wholly in the view, and those that reach into it.
IN_VIEW_JS = """() => {
    const map = window.GeoApp.map, view = map.getBounds(), inside = [], reaching = [];
    map.eachLayer(l => {
        if (!l.feature || l.feature.properties.status === undefined || !l.getBounds) return;
        if (view.contains(l.getBounds())) inside.push(l.feature.id);
        if (view.intersects(l.getBounds())) reaching.push(l.feature.id);
    });
    return [inside, reaching];
}"""


@pytest.mark.browser
@pytest.mark.parametrize("basemap", ["OpenStreetMap", "高德地图"])
def test_export_of_the_map_view_counts_and_holds_what_is_in_view(browser, http_server, client, tmp_path, basemap):
    """Zoomed to a part of a street office, "only the current map view" shows the count of the file
    it then downloads, over a WGS84 basemap and over Amap's GCJ-02 tiles alike (the audit's defect:
    the office's whole count shown, an empty file saved)."""
    base = f"http://127.0.0.1:{http_server}"
    office_total = store_of(client).count("estates", FeatureQuery.where(street_office="临城街道"))
    with planner_page(browser, base) as (page, errors, requests):
        page.goto(f"{base}/?street_office=临城街道")
        page.wait_for_selector("#map-ready[data-ready='1']", state="attached", timeout=30_000)
        if basemap != "OpenStreetMap":
            page.hover(".leaflet-control-layers")
            page.locator(".leaflet-control-layers-base label", has_text=basemap).click()
            page.wait_for_function("window.GeoAppState.coords === 'gcj02' && "
                                   "!document.body.classList.contains('loading')")
        # Zoom in on one estate: the view holds it and some of its neighbours, not the whole office.
        # Asked again until it holds: a view set while the page's own zoom-to-office animates is lost.
        page.wait_for_function("""() => {
            const map = window.GeoApp.map, f = window.GeoAppState.features[10];
            if (map.getZoom() !== 17) map.setView(L.geoJSON(f).getBounds().getCenter(), 17, {animate: false});
            return map.getZoom() === 17;
        }""")
        inside, reaching = page.evaluate(IN_VIEW_JS)
        page.click("#export-open")
        page.check("#export-in-view")
        saved = tmp_path / "view.geojson"
        shown, _name = download_from_dialog(page, r"(\d[\d,]*) \(", saved)
    assert errors == []
    exported = ids_of(saved.read_bytes())
    assert shown == len(exported) and 0 < shown < office_total
    assert set(inside) <= set(exported) <= set(reaching)  # what the map shows in its view
    sent = [url for url in requests if "/api/export/estates" in url and "bbox=" in url]
    assert sent and all(("bbox_coords=gcj02" in url) == (basemap == "高德地图") for url in sent)


@pytest.mark.browser
def test_a_street_office_can_be_exported_by_its_boundary(browser, http_server, client, tmp_path):
    """With one street office chosen, the dialog offers its estates by boundary: the file holds
    exactly what /api/street-offices/<code>/estates lists, and the count said so before."""
    base = f"http://127.0.0.1:{http_server}"
    listed = {f["id"] for f in client.get("/api/street-offices/lincheng/estates").get_json()["features"]}
    by_field = store_of(client).count("estates", FeatureQuery.where(street_office="临城街道"))
    with planner_page(browser, base) as (page, errors, requests):
        page.goto(f"{base}/")
        page.wait_for_selector("#map-ready[data-ready='1']", state="attached", timeout=30_000)
        page.click("#export-open")
        assert not page.is_visible("#export-by-boundary")  # no office chosen: nothing to offer
        page.click("#export-cancel")
        page.goto(f"{base}/?street_office=临城街道")
        page.wait_for_selector("#map-ready[data-ready='1']", state="attached", timeout=30_000)
        page.click("#export-open")
        page.check("#export-by-boundary")
        saved = tmp_path / "office.geojson"
        shown, name = download_from_dialog(page, r"(\d[\d,]*)$", saved)
        assert name == "estates_临城街道范围.geojson"
    assert errors == []
    assert shown == len(listed) and set(ids_of(saved.read_bytes())) == listed
    assert listed and by_field  # both ways give estates; the boundary's need not be the field's
    assert any("within_office=lincheng" in url and "street_office=" not in url for url in requests
               if "/api/export/estates" in url)


def test_inspections_name_people_so_their_export_needs_a_signed_in_user(client):
    from geo_app.core.accounts import Accounts

    assert client.get("/api/export/inspections").status_code == 401
    app = client.application
    accounts = Accounts(app.extensions["geo_app.store"].accounts)
    user = accounts.add_user("reader", "viewer", "Reader-Passw0rd-读者")
    token, _ = accounts.create_token(user, "export")
    response = client.get("/api/export/inspections", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.get_json()["features"] == []
