"""Benchmark geo_app's storage backends on one synthetic data set, beside a GDAL peer.

For each backend (GeoPackage file, PostGIS) the same generated estates are loaded and read back:
load rate, bbox reads of ~1 km², reads of one street office, counts by status, the stats tables,
`get` by id and `revision()`. In the same run pyogrio (GDAL) writes the same estates to a
GeoPackage and reads our GeoPackage by the same boxes, so figures come with a ratio ours/peer.

Then, when Chromium is present (`--no-browser` skips it), the planner map in headless Chromium
(bench/browser.py): time to drawn, bytes and requests, panning, and the map API's server time, for
the demo data and `--browser-n` generated estates.

    python bench/run.py --n 200000 --backends geopackage,postgis --json out.json
    python bench/run.py --ogc-only --n 200000   # issue 4: nearby, stats, OGC API vs pygeoapi (bench/ogc.py)
    python bench/run.py --backends none --browser-n 20000      # the browser section alone
    python bench/run.py --imports-only --n 200000  # issue 5: geo-app import vs ogr2ogr (bench/imports.py)
    python bench/run.py --export-only --n 200000   # issue 5: exports vs ogr2ogr (bench/export.py)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: import siblings

import browser  # noqa: E402
import export as export_section  # noqa: E402
import generate  # noqa: E402
import imports  # noqa: E402
import ogc  # noqa: E402
import peer  # noqa: E402
from timing import Row, format_table, latency_rows, percentile, repeat, sample  # noqa: E402

from geo_app.core.stats import estate_stats  # noqa: E402
from geo_app.domain import RENOVATION_STATUS  # noqa: E402
from geo_app.layers import load_layers  # noqa: E402
from geo_app.storage import FeatureQuery, open_store  # noqa: E402

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/geo_app_test?schema=bench"
BOX_SIDE_M = 1000.0  # bbox queries: 1 km x 1 km, about a map view of one neighbourhood


class Data:
    """The generated data and the fixed query inputs every backend is measured with."""

    def __init__(self, n: int, seed: int, samples: int):
        t0 = time.perf_counter()
        self.offices = generate.generate_offices(generate.offices_for(n), seed)
        self.estates = generate.generate_estates(n, seed)
        self.generate_s = time.perf_counter() - t0
        rng = np.random.default_rng(seed + 1)  # query inputs: their own stream, same each run
        centres = shapely.centroid(np.array([f.geometry for f in self.estates], dtype=object))
        picks = rng.choice(len(centres), size=min(samples, len(centres)), replace=False)
        self.boxes = [_box_around(p.x, p.y, BOX_SIDE_M) for p in centres[picks]]
        names = [f.properties["name"] for f in self.offices]
        self.office_names = [names[i] for i in rng.permutation(len(names))[:20]]
        self.get_positions = rng.integers(0, n, samples)  # positions in the id list of a load


def _box_around(lon: float, lat: float, side_m: float) -> tuple[float, float, float, float]:
    """A lon/lat box side_m x side_m metres centred on (lon, lat), sized on the ellipsoid."""
    half = side_m / 2
    xs, ys = generate._offset(np.array([lon, lon]), np.array([lat, lat]), [-half, half], [-half, half])
    return float(xs[0]), float(ys[0]), float(xs[1]), float(ys[1])


def load_store(store, data: Data, args, rows: list[Row], name: str, reset) -> list[int]:
    """Load the data `args.repeat` times into a fresh store; rows get the median rate."""
    rates, ids = [], []
    for _ in range(max(1, args.repeat)):
        reset()
        generate.write_offices(store, data.offices)
        t0 = time.perf_counter()
        ids = generate.write_estates(store, data.estates, args.batch_size)
        rates.append(len(data.estates) / (time.perf_counter() - t0))
    rows.append(Row(name, "load estates", float(np.median(rates)), "rate", samples=len(rates),
                    note=f"{args.batch_size} per transaction, validation included"))
    return ids


def measure_reads(store, data: Data, ids: list[int], args, name: str, bbox_peer=None) -> list[Row]:
    """The read figures of one loaded store. bbox_peer(box) -> feature count, timed beside ours."""
    rows: list[Row] = []
    budget, r = args.budget, max(1, args.repeat)
    boxes = data.boxes * r
    ours_t, peer_t, found, mismatches = [], [], [], 0
    store.features("estates", FeatureQuery.where(bbox=boxes[0]))  # warm-up
    if bbox_peer:
        bbox_peer(boxes[0])
    deadline = time.perf_counter() + budget * (2 if bbox_peer else 1)
    for box in boxes:  # ours and the peer alternate, so machine noise hits both alike
        t0 = time.perf_counter()
        got = len(store.features("estates", FeatureQuery.where(bbox=box)))
        ours_t.append(time.perf_counter() - t0)
        found.append(got)
        if bbox_peer:
            t0 = time.perf_counter()
            mismatches += bbox_peer(box) != got
            peer_t.append(time.perf_counter() - t0)
        if time.perf_counter() > deadline:
            break
    note = f"{np.mean(found):.1f} estates/box"
    if bbox_peer:
        note += f"; {'same counts as GDAL' if not mismatches else f'{mismatches} boxes differ from GDAL'}"
    rows += latency_rows(name, "features bbox 1 km²", ours_t, peer_t or None, note=note)

    by_office = lambda office: len(store.features("estates", FeatureQuery.where(street_office=office)))  # noqa: E731
    durations, counts = sample(by_office, data.office_names * r, 20 * r, budget)
    rows += latency_rows(name, "features by street office", durations,
                         note=f"{np.mean(counts):.0f} estates/office")

    statuses = RENOVATION_STATUS.codes() * 3 * r
    count = lambda s: store.count("estates", FeatureQuery.where(status=s))  # noqa: E731
    durations, _ = sample(count, statuses, len(statuses), budget)
    rows += latency_rows(name, "count by status", durations, quantiles=(50,))

    for grouping in ("street_office", "batch"):
        durations = repeat(lambda: estate_stats(store, grouping), 3 * r, budget)
        rows.append(Row(name, f"estate_stats({grouping})", percentile(durations, 50),
                        samples=len(durations), note="median"))

    positions = list(data.get_positions) * r
    durations, _ = sample(lambda i: store.get("estates", ids[i]), positions, len(positions), budget)
    rows += latency_rows(name, "get(id)", durations)
    durations, _ = sample(lambda _: store.revision(), range(200 * r), 200 * r, budget)
    rows += latency_rows(name, "revision()", durations, quantiles=(50,))
    return rows


def bench_geopackage(data: Data, layers, args, tmp: Path) -> list[Row]:
    """Our GeoPackage store and, on the same data, the GDAL peer writing and reading."""
    path = tmp / "bench.gpkg"
    store = open_store(f"gpkg://{path}", layers)

    def reset():
        store.drop()
        store.initialise()

    rows: list[Row] = []
    ids = load_store(store, data, args, rows, "geopackage", reset)
    frame = peer.estates_frame(data.estates, layers["estates"])
    peer_rates = [len(data.estates) / peer.write(frame, tmp / f"peer{i}.gpkg")
                  for i in range(max(1, args.repeat))]
    rows[-1].peer = float(np.median(peer_rates))
    rows += measure_reads(store, data, ids, args, "geopackage",
                          bbox_peer=lambda box: peer.count_bbox(path, "estates", box))
    rows.append(Row("geopackage", "file size (MB)", path.stat().st_size / 1e6, "size",
                    peer=(tmp / "peer0.gpkg").stat().st_size / 1e6, note="after load; peer: GDAL's file"))
    store.close()
    return rows


def postgis_unreachable(url: str) -> str | None:
    """Why PostGIS cannot be used (None when it can): checked quickly, before the pool's 10 s wait."""
    try:
        import psycopg

        from geo_app.storage.postgis import split_url

        conninfo, _ = split_url(url)
        with psycopg.connect(conninfo, connect_timeout=3) as conn:
            if not conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone():
                return "postgis extension not installed in that database"
    except Exception as exc:  # any failure means "skip", with its reason on the row
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    return None


def analyze(url: str, tables: list[str]) -> None:
    """ANALYZE the store's tables in their schema (a side connection: geo_app has no such call)."""
    import psycopg

    from geo_app.storage.postgis import split_url

    conninfo, schema = split_url(url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for table in tables:
            conn.execute(f'ANALYZE "{schema}"."{table}"')


def bench_postgis(data: Data, layers, args) -> list[Row]:
    """Our PostGIS store in its own schema, dropped at the end whatever happens."""
    reason = postgis_unreachable(args.pg_url)
    if reason:
        return [Row("postgis", "skipped", None, note=reason)]
    store = open_store(args.pg_url, layers)

    def reset():
        store.drop()
        store.initialise()

    rows: list[Row] = []
    try:
        ids = load_store(store, data, args, rows, "postgis", reset)
        if not args.no_analyze:
            # Autovacuum would analyse the new rows within a minute; do it now so the figures
            # describe that steady state rather than the planner guessing without statistics.
            analyze(args.pg_url, ["estates", "street_offices"])
        rows += measure_reads(store, data, ids, args, "postgis")
    finally:
        store.drop()
        store.close()
    return rows


def machine() -> dict:
    """What the figures were measured on."""
    return {"date": dt.datetime.now().isoformat(timespec="seconds"), "python": platform.python_version(),
            "platform": platform.platform(), "cpus": os.cpu_count(), "sqlite": sqlite3.sqlite_version,
            "gdal": peer.gdal_version(), "loadavg": " ".join(f"{x:.1f}" for x in os.getloadavg())}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000, help="estates to generate (default 20000)")
    parser.add_argument("--backends", default="geopackage,postgis",
                        help="comma-separated list; 'none' for the browser section alone")
    parser.add_argument("--repeat", type=int, default=1,
                        help="loads and read passes per backend (medians / pooled percentiles)")
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    parser.add_argument("--samples", type=int, default=200, help="bbox boxes and get ids per pass")
    parser.add_argument("--budget", type=float, default=15.0, help="max seconds per read measurement")
    parser.add_argument("--batch-size", type=int, default=5000, help="estates per load transaction")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="PostGIS URL; its schema is dropped")
    parser.add_argument("--no-analyze", action="store_true", help="skip ANALYZE after the PostGIS load")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    ogc.add_arguments(parser)
    imports.add_arguments(parser)
    export_section.add_arguments(parser)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--browser", dest="browser", action="store_true", default=None,
                       help="measure the planner map in Chromium (default: when Chromium is present)")
    group.add_argument("--no-browser", dest="browser", action="store_false", help="skip the browser section")
    browser.add_arguments(parser)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip() and b.strip() != "none"]
    unknown = set(backends) - {"geopackage", "postgis"}
    if unknown:
        print(f"unknown backend(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    if args.browser is None:  # on by default when Chromium is here, except for the --*-only sections
        args.browser = not (args.ogc_only or args.imports_only or args.export_only) and browser.unavailable() is None
    started = time.perf_counter()
    rows: list[Row] = []
    ogc_rows, ogc_http, import_rows, export_rows = [], [], [], []
    offices = generate.offices_for(args.n)
    if backends:
        layers = load_layers(Path(__file__).resolve().parent.parent / "layers")
        data = Data(args.n, args.seed, args.samples)
        print(f"generated {len(data.estates):,} estates in {len(data.offices):,} street offices "
              f"in {data.generate_s:.1f} s (seed {args.seed})", flush=True)
        with tempfile.TemporaryDirectory(prefix="geo_app_bench_") as tmp:
            if args.imports or args.imports_only:  # issue 5: geo-app import vs ogr2ogr
                import_rows = imports.run_section(data, layers, args, backends, Path(tmp))
            for backend in ([] if args.ogc_only or args.imports_only or args.export_only else backends):
                t0 = time.perf_counter()
                if backend == "geopackage":
                    rows += bench_geopackage(data, layers, args, Path(tmp))
                else:
                    rows += bench_postgis(data, layers, args)
                print(f"{backend}: measured in {time.perf_counter() - t0:.0f} s", flush=True)
        if (args.ogc or args.ogc_only) and not (args.export_only or args.imports_only):  # issue 4: its own stores
            ogc_rows, ogc_http = ogc.run_section(data, layers, args, backends)
        if (args.export or args.export_only) and not args.imports_only:  # issue 5: exports vs ogr2ogr
            export_rows = export_section.run_section(data, layers, args, backends)
    browser_rows = browser.bench_browser(args) if args.browser else []
    info = {**machine(), "n": args.n, "offices": offices, "seed": args.seed,
            "repeat": args.repeat, "total_s": round(time.perf_counter() - started, 1)}
    if args.browser:
        info.update(browser_n=args.browser_n, loads=args.loads, chromium=browser.chromium_version())
    print()
    print(f"N = {args.n:,} estates, {info['offices']:,} offices; {info['date']}; {info['cpus']} CPUs, "
          f"load {info['loadavg']}; SQLite {info['sqlite']}, GDAL {info['gdal']}; total {info['total_s']} s")
    if rows:
        print(format_table(rows))
        print("ours/peer is a time ratio: > 1 means geo_app takes longer than GDAL for the same work.")
    if import_rows:
        print()
        print(format_table(import_rows, peer="peer (ogr2ogr)"))
    if ogc_rows:
        print()
        ogc.print_section(ogc_rows, ogc_http)
    if export_rows:
        print()
        export_section.print_section(export_rows)
    if browser_rows:
        print(f"\nPlanner map in {info['chromium']} (headless), {browser.VIEWPORT['width']}x"
              f"{browser.VIEWPORT['height']}; {args.loads} loads per kind")
        browser.print_table(browser_rows)
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "rows": [r.as_dict() for r in rows],
                                         "ogc_rows": [r.as_dict() for r in ogc_rows],
                                         "import_rows": [r.as_dict() for r in import_rows],
                                         "ogc_http": [ogc.result_dict(r) for r in ogc_http], "ogc_anatomy": ogc.ANATOMY,
                                         "export_rows": [r.as_dict() for r in export_rows],
                                         "browser_rows": [r.as_dict() for r in browser_rows]},
                                        ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
