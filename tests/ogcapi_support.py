"""Shared by the OGC API tests: the app on each backend with the demo data, and a server on a port."""

from __future__ import annotations

import contextlib
import threading

import pytest
from werkzeug.serving import make_server

from geo_app import create_app
from geo_app.config import load_config
from geo_app.core.demo import ensure_store

from conftest import BACKENDS, make_store_url

ESTATES = 168  # demo estates; the letter's "160-odd"


def demo_app(request, tmp_path_factory, backend: str):
    """An app whose store (`database.url`) is a fresh one of `backend`, loaded with the demo data."""
    folder = tmp_path_factory.mktemp(f"ogc-{backend}")
    url = make_store_url(backend, folder, request)
    config = load_config(overrides={"data_dir": str(folder / "data"), "database.url": url, "map.tile_url": ""},
                         environ={})
    app = create_app(config)
    app.config["TESTING"] = True
    ensure_store(app.extensions["geo_app.store"])
    return app


# Fixtures for the OGC API test modules (import them: `from ogcapi_support import ogc_app, ...`);
# module scope, so each module builds its demo stores once per backend.
@pytest.fixture(scope="module", params=BACKENDS)
def ogc_app(request, tmp_path_factory):
    app = demo_app(request, tmp_path_factory, request.param)
    yield app
    dispose(app)


@pytest.fixture
def client(ogc_app):
    return ogc_app.test_client()


@pytest.fixture(scope="module")
def estates(ogc_app):
    """Every estate as the store holds it (WGS84), by id."""
    return {f.id: f for f in ogc_app.extensions["geo_app.store"].features("estates")}


def dispose(app) -> None:
    store = app.extensions["geo_app.store"]
    store.drop()
    store.close()


@contextlib.contextmanager
def running(app):
    """The app served on a free port of 127.0.0.1 in a thread; yields its base URL."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(timeout=10)
