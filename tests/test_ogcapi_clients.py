"""Real clients against /ogcapi on a running server (a free 127.0.0.1 port), on both backends:
GDAL's OAPIF driver (ogrinfo), OWSLib, schemathesis over the whole OpenAPI document, and QGIS's
OAPIF provider (headless, Debian's python3-qgis with the system Python).

GDAL, schemathesis and OWSLib skip locally when missing; GEO_APP_REQUIRE_GDAL=1 and
GEO_APP_REQUIRE_QGIS=1 (CI) turn those skips into failures.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import shapely

from conftest import BACKENDS, required
from ogcapi_support import ESTATES, demo_app, dispose, running

# Local servers only: a proxy from the environment must never see these requests.
LOCAL_ENV = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
BOX = (117.25, 34.75, 117.30, 34.80)
QGIS_PYTHON = os.environ.get("GEO_APP_QGIS_PYTHON", "/usr/bin/python3")


@pytest.fixture(scope="module", params=BACKENDS)
def served(request, tmp_path_factory):
    """(base URL, app) of the app with the demo data, served on a free port."""
    app = demo_app(request, tmp_path_factory, request.param)
    with running(app) as base:
        yield base, app
    dispose(app)


@pytest.fixture(scope="module")
def expected(served):
    """What the demo data says: estates meeting BOX, completed estates."""
    features = served[1].extensions["geo_app.store"].features("estates")
    return {"bbox": sum(f.geometry.intersects(shapely.box(*BOX)) for f in features),
            "completed": sum(f.properties["status"] == "completed" for f in features)}


# --- GDAL ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ogrinfo():
    if not shutil.which("ogrinfo"):
        if required("GDAL"):
            pytest.fail("ogrinfo is required (GEO_APP_REQUIRE_GDAL=1): install Debian's gdal-bin")
        pytest.skip("ogrinfo not installed (Debian package gdal-bin)")

    def run(*args: str) -> str:
        done = subprocess.run(["ogrinfo", "-ro", *args], capture_output=True, text=True, timeout=180,
                              env=LOCAL_ENV)
        assert done.returncode == 0, done.stderr
        return done.stdout

    return run


def feature_count(output: str) -> int:
    return len(re.findall(r"^OGRFeature\(estates\):", output, re.M))


def test_ogrinfo_lists_the_collections(served, ogrinfo):
    listing = ogrinfo("-so", f"OAPIF:{served[0]}/ogcapi")
    layers = re.findall(r"^\d+: (\w+) \(title: ", listing, re.M)
    assert sorted(layers) == ["district", "estates", "facilities", "inspections", "street_offices", "zones"]
    summary = ogrinfo("-so", f"OAPIF:{served[0]}/ogcapi", "estates")
    assert f"Feature Count: {ESTATES}" in summary and "households: Integer" in summary


def test_ogrinfo_reads_every_estate(served, ogrinfo):
    assert feature_count(ogrinfo("-q", f"OAPIF:{served[0]}/ogcapi", "estates")) == ESTATES


def test_ogrinfo_spatial_and_attribute_filters(served, ogrinfo, expected):
    url = f"OAPIF:{served[0]}/ogcapi"
    assert feature_count(ogrinfo("-q", "-spat", *map(str, BOX), url, "estates")) == expected["bbox"] > 0
    assert feature_count(ogrinfo("-q", "-where", "status = 'completed'", url, "estates")) == expected["completed"]


# --- OWSLib --------------------------------------------------------------------------------------

def test_owslib_reads_collections_and_items(served, expected):
    features_api = pytest.importorskip("owslib.ogcapi.features")
    api = features_api.Features(f"{served[0]}/ogcapi", timeout=60)
    assert {c["id"] for c in api.collections()["collections"]} == {
        "district", "street_offices", "zones", "estates", "facilities", "inspections"}
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in api.conformance()["conformsTo"]
    assert api.collection("estates")["id"] == "estates"
    assert "households" in api.collection_queryables("estates")["properties"]
    everything = api.collection_items("estates", limit=1000)
    assert everything["numberMatched"] == ESTATES == len(everything["features"])
    assert api.collection_items("estates", bbox=list(BOX), limit=1000)["numberMatched"] == expected["bbox"]
    assert api.collection_items("estates", status="completed", limit=1000)["numberMatched"] == expected["completed"]
    one = everything["features"][0]
    assert api.collection_item("estates", one["id"])["properties"] == one["properties"]


# --- schemathesis ----------------------------------------------------------------------------------

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance," \
         "response_headers_conformance"
# POST /api/query answers 500 on a MultiLineString with an empty part (core/spatial.py calls
# shapely's shape() without catching EmptyPartError): reported to its owners, left out until fixed.
KNOWN_BROKEN: tuple[str, ...] = ()


def test_schemathesis_finds_no_server_error_and_no_schema_violation(served, tmp_path):
    """Every documented operation, a few generated requests each, within a time limit: no 5xx, and
    status codes, content types, headers and bodies as the OpenAPI document says."""
    cli = Path(sys.executable).with_name("schemathesis")
    if not cli.exists():
        pytest.skip("schemathesis is not installed (requirements.txt, # tests)")
    excluded = [arg for op in KNOWN_BROKEN for arg in ("--exclude-operation-id", op)]
    done = subprocess.run(
        [str(cli), "run", f"{served[0]}/api/openapi.json", "--checks", CHECKS, "--mode", "positive",
         "--max-examples", "4", "--max-time", "75", "--workers", "1", "--seed", "20210720",
         "--generation-database", "none", "--no-color", "--request-timeout", "30", *excluded],
        capture_output=True, text=True, timeout=300, env=LOCAL_ENV, cwd=tmp_path)
    failures = done.stdout.find("FAILURES")
    summary = done.stdout[failures:failures + 8000] if failures >= 0 else done.stdout[-4000:]
    assert done.returncode == 0, summary
    assert re.search(r"Tested: (\d+)", summary) and int(re.search(r"Tested: (\d+)", summary).group(1)) >= 30


# --- QGIS ----------------------------------------------------------------------------------------

QGIS_SCRIPT = textwrap.dedent("""
    import json, os, sys
    from qgis.core import QgsApplication, QgsFeatureRequest, QgsRectangle, QgsVectorLayer
    app = QgsApplication([], False)
    app.initQgis()
    base = sys.argv[1]
    layer = QgsVectorLayer(f"url='{base}/ogcapi' typename='estates' pagingEnabled='true'", "estates", "OAPIF")
    result = {"valid": layer.isValid()}
    if layer.isValid():
        result["count"] = sum(1 for _ in layer.getFeatures())
        result["fields"] = [f.name() for f in layer.fields()]
        box = QgsRectangle(*[float(v) for v in sys.argv[2].split(",")])
        request = QgsFeatureRequest().setFilterRect(box)
        result["bbox"] = sum(1 for f in layer.getFeatures(request) if f.geometry().intersects(box))
        layer.setSubsetString("status = 'completed'")
        result["completed"] = sum(1 for _ in layer.getFeatures())
    print(json.dumps(result), flush=True)
    # QGIS 3.22 can crash while tearing down a provider's worker threads at exit; the answer is
    # printed by then, so leave without the teardown.
    os._exit(0)
""")


def qgis_available() -> str | None:
    """None when QGIS's Python bindings run headless, else why not."""
    if not Path(QGIS_PYTHON).exists():
        return f"no system Python at {QGIS_PYTHON}"
    probe = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, text=True, timeout=60)
    return None if probe.returncode == 0 else "QGIS Python bindings missing (Debian package python3-qgis)"


def test_qgis_oapif_provider_reads_the_estates(served, expected, tmp_path):
    reason = qgis_available()
    if reason:
        if required("QGIS"):
            pytest.fail(f"QGIS is required (GEO_APP_REQUIRE_QGIS=1) but {reason}")
        pytest.skip(reason)
    env = {**LOCAL_ENV, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path), "HOME": str(tmp_path)}
    done = subprocess.run([QGIS_PYTHON, "-c", QGIS_SCRIPT, served[0], ",".join(map(str, BOX))],
                          capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["valid"] and result["count"] == ESTATES
    assert {"name", "status", "households"} <= set(result["fields"])
    assert result["bbox"] == expected["bbox"]
    assert result["completed"] == expected["completed"]
