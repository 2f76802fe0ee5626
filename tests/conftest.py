"""Fixtures: a temp store per test on each backend, demo stores per session, an app and a client.

PostGIS tests use the server at $GEO_APP_TEST_POSTGIS_URL (default: local trust auth, database
geo_app_test, created with the postgis extension when missing), one schema per test. Locally they
skip with the reason when no server answers; with GEO_APP_REQUIRE_POSTGIS=1 (set by CI) a missing
server fails the run instead.
"""

from __future__ import annotations

import contextlib
import os
import threading
import shutil
import uuid
from pathlib import Path

import pytest

from geo_app.config import load_config
from geo_app.core.demo import load_layer_sources
from geo_app.frontend import ensure_assets
from geo_app.layers import load_layers
from geo_app.storage import open_store

ROOT = Path(__file__).resolve().parent.parent
POSTGIS_URL = os.environ.get("GEO_APP_TEST_POSTGIS_URL", "postgresql://postgres@127.0.0.1:5432/geo_app_test")
BACKENDS = ["geopackage", pytest.param("postgis", marks=pytest.mark.postgis)]


def required(what: str) -> bool:
    """Whether a missing external part must fail the run (CI) rather than skip (a laptop)."""
    return os.environ.get(f"GEO_APP_REQUIRE_{what}") == "1"


@pytest.fixture(scope="session", autouse=True)
def front_end_assets():
    """The npm packages the pages load, installed once (`npm ci`) so a fresh clone's tests pass."""
    ensure_assets(ROOT)


@pytest.fixture(scope="session")
def layers():
    return load_layers(ROOT / "layers")


@pytest.fixture(scope="session")
def postgis_url():
    """A reachable PostGIS database URL, creating the database and extension when needed."""
    reason = _prepare_postgis(POSTGIS_URL)
    if reason:
        if required("POSTGIS"):
            pytest.fail(f"PostGIS is required (GEO_APP_REQUIRE_POSTGIS=1) but {reason}")
        pytest.skip(f"PostGIS not available: {reason}")
    return POSTGIS_URL


def _prepare_postgis(url: str) -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    from urllib.parse import urlsplit

    dbname = urlsplit(url).path.lstrip("/")
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone():
                conn.execute(f'CREATE DATABASE "{dbname}"')
        with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except psycopg.Error as exc:
        return f"cannot use {url}: {str(exc).strip().splitlines()[0]}"
    return None


def make_store_url(backend: str, tmp_path: Path, request) -> str:
    if backend == "geopackage":
        return f"gpkg://{tmp_path / f'store-{uuid.uuid4().hex[:8]}.gpkg'}"
    base = request.getfixturevalue("postgis_url")
    return f"{base}?schema=t_{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=BACKENDS)
def store_url(request, tmp_path):
    return make_store_url(request.param, tmp_path, request)


@pytest.fixture
def store(store_url, layers):
    """An empty, initialised store of one backend; dropped afterwards."""
    s = open_store(store_url, layers)
    s.initialise()
    yield s
    s.drop()
    s.close()


@pytest.fixture(scope="session", params=BACKENDS)
def demo_store(request, tmp_path_factory, layers):
    """A store of each backend loaded with the demo data once per session (read-only tests)."""
    url = make_store_url(request.param, tmp_path_factory.mktemp("demo"), request)
    s = open_store(url, layers)
    s.initialise()
    load_layer_sources(s)
    yield s
    s.drop()
    s.close()


@pytest.fixture
def config(tmp_path):
    return load_config(overrides={"data_dir": str(tmp_path / "data")}, environ={})


@pytest.fixture
def app(config):
    from geo_app import create_app
    from geo_app.core.demo import ensure_store

    application = create_app(config)
    application.config["TESTING"] = True
    ensure_store(application.extensions["geo_app.store"])
    return application


@pytest.fixture
def client(app):
    return app.test_client()


# --- headless Chromium for the browser tests --------------------------------------------------
# Debian's /usr/bin/chromium driven by Playwright (never Playwright's own browser download). Skips
# with the reason when Chromium or Playwright is missing; GEO_APP_REQUIRE_BROWSER=1 (CI) fails.
CHROMIUM = os.environ.get("GEO_APP_CHROMIUM", "/usr/bin/chromium")
# As root, without a sandbox; no background traffic, which this machine's closed network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session")
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
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@contextlib.contextmanager
def serving(app):
    """The app served on a free port of 127.0.0.1 in a thread (for browsers and real clients);
    yields its base URL and stops the server afterwards."""
    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
