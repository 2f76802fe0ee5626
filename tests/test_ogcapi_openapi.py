"""The OpenAPI document (/ogcapi/api, /api/openapi.json) and its Swagger UI page (/api/docs)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from geo_app.core.openapi import openapi_document

ITEMS = "/ogcapi/collections/estates/items"


@pytest.fixture
def documents(client):
    return client.get("/api/openapi.json").get_json(), client.get("/ogcapi/api").get_json(force=True)


def test_both_documents_describe_the_same_operations(client, documents):
    absolute, ogc = documents
    assert absolute["openapi"].startswith("3.0") and ogc["openapi"].startswith("3.0")
    assert client.get("/ogcapi/api").mimetype == "application/vnd.oai.openapi+json"
    assert urlsplit(absolute["servers"][0]["url"]).path in ("", "/")
    assert ogc["servers"][0]["url"].endswith("/ogcapi")
    # At /ogcapi/api the OGC paths are relative to the landing page (where GDAL looks for them).
    assert "/collections/estates/items" in ogc["paths"] and ITEMS in absolute["paths"]
    assert ogc["paths"]["/api/estates"]["servers"][0]["url"] == absolute["servers"][0]["url"]
    assert len(ogc["paths"]) == len(absolute["paths"])


def test_every_collection_and_the_json_api_are_documented(documents):
    paths = documents[0]["paths"]
    for layer in ("district", "street_offices", "zones", "estates", "facilities"):
        for suffix in ("", "/items", "/items/{featureId}", "/queryables"):
            assert f"/ogcapi/collections/{layer}{suffix}" in paths
    for path in ("/api/estates", "/api/estates/{estate_id}", "/api/estates/search", "/api/layers/{name}",
                 "/api/stats", "/api/health", "/dashboard", "/dashboard.xlsx", "/api/openapi.json", "/api/docs"):
        assert path in paths, path
    params = {p.get("name") for p in paths[f"{ITEMS}"]["get"]["parameters"]}
    assert {"sortby", "status", "households", "completion_date"} <= params


def test_limit_is_documented_with_its_clamp(documents):
    limit = documents[0]["components"]["parameters"]["limit"]
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000, "default": 10}
    assert "clamped to 1000" in limit["description"]


def test_only_routes_the_app_serves_are_documented():
    from geo_app.layers import load_layers
    from conftest import ROOT

    layers = load_layers(ROOT / "layers")
    doc = openapi_document(layers, "http://x/", {("GET", "/api/estates"), ("GET", "/api/qa")})
    assert "/api/estates" in doc["paths"] and "/api/qa" in doc["paths"]
    assert "/api/locate" not in doc["paths"] and "/api/query" not in doc["paths"]
    doc = openapi_document(layers, "http://x/", {("POST", "/api/query"), ("GET", "/api/street-offices/<x>")})
    assert "post" in doc["paths"]["/api/query"]


def test_the_document_is_valid_openapi(documents):
    schemathesis = pytest.importorskip("schemathesis")
    schema = schemathesis.openapi.from_dict(documents[0])
    assert len(list(schema.get_all_operations())) >= 30


def test_api_docs_page_uses_swagger_ui_from_the_app(client):
    html = client.get("/api/docs").get_data(as_text=True)
    assert "swagger-ui-bundle.js" in html and 'data-spec-url="/api/openapi.json"' in html
    assert set(re.findall(r'(?:src|href)="(?:https?:)?//([^/"]+)', html)) == set()
    for url in re.findall(r'(?:src|href)="(/(?:vendor|static)/[^"]+)"', html):
        assert client.get(url.replace("&amp;", "&")).status_code == 200, url
    assert client.get("/ogcapi/api?f=html").get_data(as_text=True) == html


@pytest.mark.browser
def test_swagger_ui_and_the_items_map_render(browser, request, tmp_path_factory):
    """In Chromium: Swagger UI lists the operations, the items page draws its features; nothing
    is fetched from anywhere but the app."""
    from ogcapi_support import demo_app, dispose, running

    app = demo_app(request, tmp_path_factory, "geopackage")
    page = browser.new_page()
    hosts, errors = set(), []
    page.on("request", lambda r: hosts.add(urlsplit(r.url).netloc))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        with running(app) as base:
            page.goto(f"{base}/api/docs", wait_until="networkidle")
            page.wait_for_selector(".opblock", timeout=30_000)
            assert page.locator(".opblock").count() >= 30
            page.goto(f"{base}{ITEMS}?f=html&limit=20", wait_until="networkidle")
            page.wait_for_function("window.ogcapiMap && document.querySelectorAll("
                                   "'#ogcapi-map path.leaflet-interactive').length === 20", timeout=30_000)
            assert hosts == {urlsplit(base).netloc} and errors == []
    finally:
        page.close()
        dispose(app)


def test_what_schemathesis_found_stays_fixed(client):
    """NUL in a text filter failed inside PostgreSQL (500); control characters in a filter made
    the Excel title illegal (500)."""
    for url in ("/api/estates?q=a%00b", "/api/estates?street_office=%00", "/api/stats?street_office=x%00"):
        response = client.get(url)
        assert response.status_code == 400 and response.get_json()["parameter"] in ("q", "street_office"), url
    response = client.get("/dashboard.xlsx?street_office=%0E%0B")
    assert response.status_code == 200 and response.data[:2] == b"PK"
    assert client.get(f"{ITEMS}?bbox=1e300,1e300,2e300,2e300&bbox-crs="
                      "http://www.opengis.net/def/crs/EPSG/0/4548").status_code == 400
