"""Reproduce the performance findings of bench/README.md (geo_app itself is left unchanged).

1. Where the load time goes: validation, geodesic areas, the engine's insert.
2. A vectorised equal-area alternative to the per-geometry geodesic area loop.
3. The GeoPackage per-call connection cost.
4. GeoPackage attribute filters with and without b-tree indexes (on a temporary copy).

    python bench/findings.py --n 20000
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate  # noqa: E402

from geo_app.core.geodesy import geodesic_area_m2_array  # noqa: E402
from geo_app.layers import load_layers  # noqa: E402
from geo_app.storage import FeatureQuery, open_store  # noqa: E402
from geo_app.storage.base import prepare_features  # noqa: E402


def best(fn, times: int = 3) -> float:
    """The best of a few timings of fn(), in seconds (the least disturbed by the noisy machine)."""
    durations = []
    for _ in range(times):
        t0 = time.perf_counter()
        fn()
        durations.append(time.perf_counter() - t0)
    return min(durations)


def median_ms(fn, inputs) -> float:
    """Median milliseconds of fn(x) over the inputs, after one warm-up call."""
    fn(inputs[0])
    durations = []
    for x in inputs:
        t0 = time.perf_counter()
        fn(x)
        durations.append(time.perf_counter() - t0)
    return float(np.median(durations)) * 1e3


def equal_area_m2(geoms: np.ndarray) -> np.ndarray:
    """Areas from one Lambert azimuthal equal-area projection centred on the data (vectorised)."""
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    laea = f"+proj=laea +lat_0={(miny + maxy) / 2} +lon_0={(minx + maxx) / 2} +ellps=WGS84"
    to_laea = Transformer.from_crs("EPSG:4326", laea, always_xy=True)
    projected = shapely.transform(geoms, lambda xy: np.column_stack(to_laea.transform(xy[:, 0], xy[:, 1])))
    return shapely.area(projected)


def load_split(layers, estates, tmp: Path, n: int) -> None:
    """Finding 1 and 2: the per-estate cost of each part of a GeoPackage load."""
    layer = layers["estates"]
    geoms = np.array([f.geometry for f in estates], dtype=object)
    clean = best(lambda: [layer.clean(f.properties, "x") for f in estates])
    area = best(lambda: geodesic_area_m2_array(geoms))
    prepare = best(lambda: prepare_features(layer, estates))
    store = open_store(f"gpkg://{tmp / 'split.gpkg'}", layers)
    store.initialise()
    props, checked = prepare_features(layer, estates)
    t0 = time.perf_counter()
    with store.transaction() as tx:
        tx._insert_rows(layer, props, checked)  # the engine's part alone, validation done above
    insert = time.perf_counter() - t0
    alt = best(lambda: equal_area_m2(geoms))
    diff = np.max(np.abs(equal_area_m2(geoms) / geodesic_area_m2_array(geoms) - 1))
    per = 1e6 / n
    print(f"1. per estate: LayerDef.clean {clean * per:.0f} µs, geodesic_area_m2_array {area * per:.0f} µs, "
          f"prepare_features in all {prepare * per:.0f} µs; GeoPackage _insert_rows {insert * per:.0f} µs")
    print(f"2. equal-area alternative: {alt * per:.1f} µs per geometry vs {area * per:.1f} µs; "
          f"max relative difference {diff:.1e}")


def connection_cost(path: Path, store) -> None:
    """Finding 3: a GeoPackage read opens a connection and parses the schema every time."""
    kept = sqlite3.connect(path, isolation_level=None)
    sql = "SELECT value FROM geo_app_meta WHERE key = 'revision'"
    revision = median_ms(lambda _: store.revision(), range(300))
    bare = median_ms(lambda _: sqlite3.connect(path).close(), range(300))
    reuse = median_ms(lambda _: kept.execute(sql).fetchone(), range(300))
    objects = kept.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
    kept.close()
    print(f"3. revision() {revision * 1e3:.0f} µs; bare connect+close {bare * 1e3:.0f} µs; the same query on a "
          f"kept-open connection {reuse * 1e3:.0f} µs ({objects} schema objects parsed per new connection)")


def index_effect(layers, path: Path, tmp: Path) -> None:
    """Finding 4: attribute filters on GeoPackage, before and after b-tree indexes (on a copy)."""
    copy = tmp / "indexed.gpkg"
    shutil.copy(path, copy)
    store = open_store(f"gpkg://{copy}", layers)
    offices = [f.properties["name"] for f in
               store.features("street_offices", FeatureQuery(limit=20, with_geometry=False))]
    statuses = ["planned", "accepted", "unscheduled"] * 3

    def figures() -> tuple[float, float]:
        by_office = median_ms(lambda o: store.features("estates", FeatureQuery.where(street_office=o)), offices)
        by_status = median_ms(lambda s: store.count("estates", FeatureQuery.where(status=s)), statuses)
        return by_office, by_status

    before = figures()
    with sqlite3.connect(copy) as con:
        for column in ("street_office", "status", "batch"):
            con.execute(f'CREATE INDEX "estates_{column}_idx" ON estates ("{column}")')
    after = figures()
    print(f"4. GeoPackage features(street_office=…) {before[0]:.1f} -> {after[0]:.1f} ms, "
          f"count(status=…) {before[1]:.1f} -> {after[1]:.1f} ms with b-tree indexes")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    args = parser.parse_args(argv)
    layers = load_layers(Path(__file__).resolve().parent.parent / "layers")
    offices = generate.generate_offices(generate.offices_for(args.n), args.seed)
    estates = generate.generate_estates(args.n, args.seed)
    with tempfile.TemporaryDirectory(prefix="geo_app_findings_") as tmp:
        tmp = Path(tmp)
        load_split(layers, estates, tmp, args.n)
        path = tmp / "full.gpkg"
        store = open_store(f"gpkg://{path}", layers)
        store.initialise()
        generate.write(store, offices, estates)
        connection_cost(path, store)
        index_effect(layers, path, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
