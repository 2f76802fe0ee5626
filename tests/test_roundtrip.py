"""Export -> import round trips, every format, both backends: what `geo-app export` writes,
`geo-app import` brings back whole — the same attributes and every vertex within 1 cm.

The source is the demo store (168 estates with Chinese names, dates, reals, lists); the target an
empty store of either backend.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyproj import Geod

from geo_app.core.export import Export, parse_export_options
from geo_app.core.importing import ImportOptions, run_import
from geo_app.storage import FeatureQuery

GEOD = Geod(ellps="WGS84")
FORMATS = ("geojson", "gpkg", "shp", "kml", "csv", "xlsx")
# Spreadsheets say nothing of their coordinates; the export writes WGS84 lon/lat, and the import
# must be told so (it never guesses).
DECLARED = {"csv": "EPSG:4326", "xlsx": "EPSG:4326"}


def worst_vertex_error_m(got, truth) -> float:
    """The largest geodesic distance from a true vertex to the nearest vertex read back."""
    import shapely

    a, b = shapely.get_coordinates(got), shapely.get_coordinates(truth)
    worst = 0.0
    for lon, lat in b:
        _, _, dist = GEOD.inv(np.full(len(a), lon), np.full(len(a), lat), a[:, 0], a[:, 1])
        worst = max(worst, float(dist.min()))
    return worst


def same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
    return a == b


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_then_import_gives_back_every_estate(demo_store, store, tmp_path, fmt):
    job = Export(demo_store, "estates", FeatureQuery(), parse_export_options({"format": fmt}))
    path = tmp_path / job.filename
    job.write_to(path)

    report = run_import(store, path, ImportOptions(layer="estates", crs=DECLARED.get(fmt)))
    assert report.ok, report.problem_lines()
    source = {f.properties["code"]: f for f in demo_store.features("estates")}
    back = {f.properties["code"]: f for f in store.features("estates")}
    assert report.inserted == len(back) == len(source) == 168

    layer = demo_store.layers["estates"]
    for code, original in source.items():
        got = back[code]
        for field in layer.fields:
            want, have = original.properties[field.name], got.properties[field.name]
            if field.computed:  # land area: recomputed from the geometry that came back
                assert math.isclose(have, want, rel_tol=1e-6), (fmt, code, field.name)
            else:
                assert same(have, want), (fmt, code, field.name, want, have)
        assert worst_vertex_error_m(got.geometry, original.geometry) < 0.01, (fmt, code)
