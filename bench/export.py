"""Issue 5: exporting the generated estates, geo_app beside `ogr2ogr` in the same run.

For each backend (GeoPackage file, PostGIS) the estates are loaded once into a store of their own,
then exported whole to GeoJSON and to GeoPackage three ways:

- **CLI**: `python -m geo_app export --format F -o FILE` in a fresh process (the core, as a user
  runs it), timed from start to exit;
- **HTTP**: `GET /api/export/estates?format=F` from `geo_app serve` (waitress, started fresh for
  each format so that its peak memory belongs to that export) on 127.0.0.1, read to the end; the
  time to the first byte is noted;
- **peer**: `ogr2ogr` (Debian's GDAL) doing the same conversion from the same store: the same
  GeoPackage file, or the same PostGIS table (`PG:` driver); GeoJSON with `-lco RFC7946=YES`;
- **OGC API peers** (`--export-ogc-peers`), each answering every estate in one GeoJSON response,
  started fresh in every repetition (taking turns with ours and ogr2ogr), read to the end (300 s
  bound), its feature count read back like the others:
  - GeoPackage: pygeoapi (bench/ogc.py's server, in the Debian-Python venv of `--peer-venv`) with
    its SQLiteGPKG and OGR providers on the same file, `server.limits.max_items` raised to the
    store's count, `/collections/estates/items?f=json&limit=<all>`;
  - PostGIS: tipg (pinned, in the venv of `--tipg-venv`) as one uvicorn process on the same
    table, `TIPG_MAX_FEATURES_PER_QUERY` raised to the store's count,
    `/collections/<schema>.estates/items?f=geojson&limit=<all>`.

Peak memory is the resident set's high-water mark of the process doing the work: `/usr/bin/time
-v`'s "Maximum resident set size" for the CLI and ogr2ogr, `VmHWM` of the server process (read from
/proc after the export; it includes the server's start, which is the honest figure for a server).
Every output is read back with pyogrio and its feature count compared with the store's.

    python bench/run.py --export-only --n 200000
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyogrio

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: import siblings

import generate  # noqa: E402
from ogc import (Server, free_port, peer_venv, pygeoapi_server, skipped_server, spatialite_available,  # noqa: E402
                 tipg_uvicorn_server, tipg_venv)
from timing import Row, format_table  # noqa: E402

from geo_app.storage import open_store  # noqa: E402
from geo_app.storage.postgis import split_url  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/geo_app_test?schema=bench5"
FORMATS = {"geojson": ("GeoJSON", ["-lco", "RFC7946=YES"]), "gpkg": ("GPKG", [])}
TIME = "/usr/bin/time"


def timed(argv: list[str], env: dict | None = None, stdout=subprocess.DEVNULL) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB, stderr) of a command run under /usr/bin/time -v."""
    t0 = time.perf_counter()
    result = subprocess.run([TIME, "-v", *argv], env={**os.environ, **(env or {})}, cwd=ROOT, stdout=stdout,
                            stderr=subprocess.PIPE, text=True, timeout=1800)
    wall = time.perf_counter() - t0
    if result.returncode:
        own = result.stderr.split("\tCommand being timed:")[0].strip()  # the command's, not time's
        raise RuntimeError(f"{' '.join(argv[:4])} failed: {own[-600:]}")
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    return wall, peak_kb / 1024, result.stderr


def features_in(path: Path) -> int:
    return pyogrio.read_info(path)["features"]


def ogr_source(backend: str, store_url: str, gpkg: Path | None) -> list[str]:
    if backend == "geopackage":
        return [str(gpkg)]
    conninfo, schema = split_url(store_url)
    parts = urllib.parse.urlsplit(conninfo)
    pg = (f"PG:dbname={parts.path.lstrip('/')} host={parts.hostname} port={parts.port or 5432} "
          f"user={parts.username or 'postgres'} active_schema={schema}")
    return [pg]


def run_cli(fmt: str, store_url: str, data_dir: Path, out: Path) -> tuple[float, float]:
    env = {"GEO_APP_DATABASE_URL": store_url, "GEO_APP_DATA_DIR": str(data_dir)}
    wall, peak, _ = timed([sys.executable, "-m", "geo_app", "export", "--format", fmt, "-o", str(out)], env)
    return wall, peak


def run_peer(fmt: str, backend: str, store_url: str, gpkg: Path | None, out: Path) -> tuple[float, float]:
    driver, options = FORMATS[fmt]
    out.unlink(missing_ok=True)
    wall, peak, _ = timed(["ogr2ogr", "-f", driver, *options, str(out), *ogr_source(backend, store_url, gpkg),
                           "estates"])
    return wall, peak


def vm_hwm_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def run_http(fmt: str, store_url: str, data_dir: Path, out: Path, log_dir: Path) -> tuple[float, float, float | None]:
    """(seconds for the whole download, seconds to the first byte, server peak RSS MB)."""
    port = free_port()
    server = Server("geo_app serve", [sys.executable, "-m", "geo_app", "serve", "--port", str(port), "--threads", "4"],
                    {"GEO_APP_DATABASE_URL": store_url, "GEO_APP_DATA_DIR": str(data_dir)}, port,
                    ready_path="/api/health")
    server.start(log_dir)
    try:
        if not server.wait_ready():
            raise RuntimeError(f"geo_app serve did not start: {server.error}")
        t0 = time.perf_counter()
        first = None
        with urllib.request.urlopen(f"{server.base}/api/export/estates?format={fmt}", timeout=600) as response, \
                open(out, "wb") as f:
            while block := response.read(1 << 20):
                if first is None:
                    first = time.perf_counter() - t0
                f.write(block)
        total = time.perf_counter() - t0
        return total, first or total, vm_hwm_mb(server.proc.pid)
    finally:
        server.stop()


def bench_backend(backend: str, data, layers, args, tmp: Path) -> list[Row]:
    """Load the estates into a store of this backend, then every export and its peer."""
    data_dir = tmp / backend
    data_dir.mkdir()
    gpkg = data_dir / "store.gpkg" if backend == "geopackage" else None
    store_url = f"gpkg://{gpkg}" if gpkg else args.export_pg_url
    store = open_store(store_url, layers)
    rows: list[Row] = []
    try:
        store.drop()
        store.initialise()
        t0 = time.perf_counter()
        generate.write(store, data.offices, data.estates, args.batch_size)
        print(f"export/{backend}: loaded {len(data.estates):,} estates in {time.perf_counter() - t0:.0f} s", flush=True)
        if backend == "postgis":
            _vacuum_analyze(store_url)
        store.checkpoint()
        expected = store.count("estates")
        formats = args.export_formats.split(",")
        peers = ogc_peer_servers(backend, store_url, gpkg, expected, args, tmp) if args.export_ogc_peers else []
        if peers and "geojson" not in formats:  # the peers answer GeoJSON: compare with ours on the same run
            formats.append("geojson")
        for fmt in formats:
            rows += bench_format(fmt, backend, store_url, gpkg, data_dir, expected, args, tmp,
                                 peers if fmt == "geojson" else [])
    finally:
        if backend == "postgis":
            store.drop()
        store.close()
    return rows


def bench_format(fmt: str, backend: str, store_url: str, gpkg: Path | None, data_dir: Path, expected: int, args,
                 tmp: Path, ogc_peers: list[Server]) -> list[Row]:
    """Rows for one format: ours (CLI, HTTP) and ogr2ogr, then each OGC API peer (GeoJSON only),
    all taking turns within every repetition so that the machine's noise hits them alike."""
    label = FORMATS[fmt][0]
    cli, http, peer = [], [], []
    ogc = {server.name: [] for server in ogc_peers}  # per peer: one OgcRun or failure text per repetition
    for i in range(max(1, args.export_repeat)):
        ours_out, peer_out, http_out = (tmp / f"{backend}-{name}.{fmt}" for name in ("cli", "peer", "http"))
        cli.append(run_cli(fmt, store_url, data_dir, ours_out))
        peer.append(run_peer(fmt, backend, store_url, gpkg, peer_out))
        http.append(run_http(fmt, store_url, data_dir, http_out, tmp))
        for server in ogc_peers:
            if not server.error:
                ogc[server.name].append(run_ogc_peer(server, backend, expected, tmp))
        counts = {name: features_in(path) for name, path in (("cli", ours_out), ("http", http_out), ("ogr2ogr", peer_out))}
        if set(counts.values()) != {expected}:
            raise RuntimeError(f"{backend} {fmt}: feature counts {counts}, store {expected}")
        sizes = {name: path.stat().st_size / 1e6 for name, path in (("ours", ours_out), ("ogr2ogr", peer_out))}
        for path in (ours_out, peer_out, http_out):
            path.unlink()
    median = lambda values: float(np.median(values))  # noqa: E731
    peer_s, peer_mb = median([p[0] for p in peer]), median([p[1] for p in peer])
    n = len(cli)
    note = f"{expected:,} features, same count read back from all three; files {sizes['ours']:.0f} MB vs {sizes['ogr2ogr']:.0f} MB"
    return [
        Row(backend, f"{label} via CLI", median([c[0] for c in cli]), peer=peer_s, samples=n,
            note="python -m geo_app export, process start to exit; " + note),
        Row(backend, f"{label} over HTTP", median([h[0] for h in http]), peer=peer_s, samples=n,
            note=f"first byte after {median([h[1] for h in http]) * 1e3:,.0f} ms; peer: ogr2ogr"),
        Row(backend, f"{label} peak RSS, CLI", median([c[1] for c in cli]), "size", peer=peer_mb, samples=n,
            note="/usr/bin/time -v, whole process"),
        Row(backend, f"{label} peak RSS, server", median([h[2] or np.nan for h in http]), "size", peer=peer_mb,
            samples=n, note="VmHWM of geo_app serve after the export (start-up included)"),
    ] + [ogc_peer_row(server, ogc[server.name], backend, expected, [h[0] for h in http], peer_s)
         for server in ogc_peers]


OGC_TIMEOUT_S = 300
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


@dataclass
class OgcRun:
    """One OGC API peer's single full response: seconds to the last and to the first byte, body MB,
    the serving process's peak RSS MB (None when /proc had none)."""

    total: float
    first: float
    size_mb: float
    peak_mb: float | None


def ogc_peer_servers(backend: str, store_url: str, gpkg: Path | None, expected: int, args, tmp: Path) -> list[Server]:
    """The OGC API peers of this backend, each allowed to return every feature in one response:
    pygeoapi on the GeoPackage file, tipg on the PostGIS table. A peer that cannot run is a Server
    with `error` set, which becomes a row saying why."""
    if backend == "geopackage":
        return pygeoapi_servers(gpkg, expected, args, tmp)
    bin_dir, why = tipg_venv(args.tipg_venv)
    return [tipg_uvicorn_server(store_url, bin_dir, expected) if bin_dir else skipped_server("tipg", why)]


def pygeoapi_servers(gpkg: Path, expected: int, args, tmp: Path) -> list[Server]:
    """pygeoapi on the same GeoPackage, SQLiteGPKG and OGR providers, allowed to return every feature."""
    bin_dir, why = peer_venv(args.peer_venv)
    servers: list[Server] = []
    if not bin_dir:
        return [skipped_server("pygeoapi", why)]
    folder = tmp / "ogc_peers"
    folder.mkdir(exist_ok=True)
    providers = []
    if spatialite_available(bin_dir / "python"):
        providers.append(("pygeoapi/SQLiteGPKG", {"type": "feature", "name": "SQLiteGPKG", "data": str(gpkg),
                                                  "id_field": "id", "table": "estates"}))
    else:
        servers.append(skipped_server("pygeoapi/SQLiteGPKG",
                                      "no mod_spatialite (apt-get install libsqlite3-mod-spatialite)"))
    # the peer venv has Debian's site packages, osgeo (python3-gdal) among them
    if subprocess.run([str(bin_dir / "python"), "-c", "from osgeo import ogr"], capture_output=True,
                      timeout=60).returncode == 0:
        providers.append(("pygeoapi/OGR", {"type": "feature", "name": "OGR",
                                           "data": {"source_type": "GPKG", "source": str(gpkg)}, "id_field": "id",
                                           "layer": "estates", "crs": [CRS84]}))
    else:
        servers.append(skipped_server("pygeoapi/OGR", "no osgeo (apt-get install python3-gdal)"))
    for name, provider in providers:
        server = pygeoapi_server(name, provider, generate.EXTENT, folder, bin_dir=bin_dir)
        server.argv[server.argv.index("--timeout") + 1] = str(OGC_TIMEOUT_S + 60)  # gunicorn's worker timeout
        server.argv[server.argv.index("-w") + 1] = "1"  # one request: one worker, whose memory is the figure
        server.info.update(collection="estates", f="json")
        _raise_limit(server, expected)
        servers.append(server)
    return servers


def _raise_limit(server: Server, expected: int) -> None:
    """`server.limits.max_items` up to the store's count, `on_exceed: error` so that a cap cannot pass silently."""
    import yaml

    config = Path(server.env["PYGEOAPI_CONFIG"])
    doc = yaml.safe_load(config.read_text())
    doc["server"]["limits"] = {"default_items": 10, "max_items": expected, "on_exceed": "error"}
    config.write_text(yaml.safe_dump(doc, allow_unicode=True))


def items_query(server: Server, expected: int) -> str:
    """The path asking for every feature in one GeoJSON response (pygeoapi: f=json, tipg: f=geojson)."""
    return f"{server.prefix}/collections/{server.info['collection']}/items?f={server.info['f']}&limit={expected}"


def fetch_all(url: str, out: Path) -> tuple[float, float]:
    """(seconds for the whole response, seconds to the first byte), the body written to `out`;
    TimeoutError past OGC_TIMEOUT_S, whether the server is silent or still sending."""
    t0 = time.perf_counter()
    first = None
    with urllib.request.urlopen(url, timeout=OGC_TIMEOUT_S) as response, open(out, "wb") as f:
        while block := response.read(1 << 20):
            if first is None:
                first = time.perf_counter() - t0
            f.write(block)
            if time.perf_counter() - t0 > OGC_TIMEOUT_S:
                raise TimeoutError(f"over {OGC_TIMEOUT_S} s")
    total = time.perf_counter() - t0
    return total, first or total


def serving_peak_mb(server: Server) -> float | None:
    """VmHWM of the process that answered: gunicorn's worker(s) for pygeoapi (the master only
    forks), the process itself for tipg under uvicorn, which has no children."""
    pids = server.worker_pids() or [server.proc.pid]
    peaks = [p for p in map(vm_hwm_mb, pids) if p]
    return max(peaks) if peaks else None


def run_ogc_peer(server: Server, backend: str, expected: int, tmp: Path) -> OgcRun | str:
    """One fresh start of the peer (so its peak memory is this request's), readiness probes, then
    one request for every feature, read to the end; the server is stopped whatever happens. A
    failure (no start, timeout, error answer) comes back as text for the row, and the peer is not
    asked again in later repetitions; a response short of features stops the run."""
    log_dir = tmp / "ogc_logs"
    log_dir.mkdir(exist_ok=True)
    out = tmp / f"{backend}-{server.name.replace('/', '_')}.json"
    server.start(log_dir)
    try:
        if not server.wait_ready():
            server.error = f"did not start: {server.error}"
            return server.error
        try:
            total, first = fetch_all(server.base + items_query(server, expected), out)
        except Exception as exc:  # a timeout or an error answer is the finding: say so on the row
            server.error = f"failed: {type(exc).__name__}: {str(exc)[:160]}; {server.log_tail(1)[:200]}"
            return server.error
        peak = serving_peak_mb(server)
    finally:
        server.stop()
    got = features_in(out)
    size = out.stat().st_size / 1e6
    out.unlink()
    if got != expected:
        raise RuntimeError(f"{server.name}: {got:,} features in one response, store {expected:,}")
    print(f"export/{backend}: {server.name} answered {got:,} features in {total:.1f} s", flush=True)
    return OgcRun(total, first, size, peak)


def ogc_peer_row(server: Server, runs: list, backend: str, expected: int, ours_http: list[float],
                 ogr2ogr_s: float) -> Row:
    """The peer's median time beside ogr2ogr's; the note gives its first byte, body, peak memory and,
    paired run by run, our GeoJSON over HTTP against it (ours/peer < 1: ours is faster)."""
    metric = f"GeoJSON via {server.name}"
    done = [r for r in runs if isinstance(r, OgcRun)]
    if not done:
        why = next((r for r in runs if isinstance(r, str)), None) or server.error or "not run"
        return Row(backend, metric, None, note=f"not measured: {why}")
    median = lambda values: float(np.median(values))  # noqa: E731
    paired = [ours / r.total for ours, r in zip(ours_http, runs) if isinstance(r, OgcRun)]
    peaks = [r.peak_mb for r in done if r.peak_mb]
    peak = f", peak RSS {median(peaks):,.0f} MB" if peaks else ""
    spread = f" ({min(paired):.2f}–{max(paired):.2f})" if len(paired) > 1 else ""
    failed = f"; {len(runs) - len(done)} run(s) failed: {server.error}" if len(done) < len(runs) else ""
    return Row(backend, metric, median([r.total for r in done]), peer=ogr2ogr_s, samples=len(done),
               note=f"items?f={server.info['f']}&limit={expected}: {expected:,} features, "
                    f"{median([r.size_mb for r in done]):.0f} MB, first byte after "
                    f"{median([r.first for r in done]) * 1e3:,.0f} ms{peak}; ours over HTTP / this: "
                    f"{median(paired):.2f}×{spread}; peer: ogr2ogr{failed}")


def _vacuum_analyze(url: str) -> None:
    import psycopg

    conninfo, schema = split_url(url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for table in ("estates", "street_offices"):
            conn.execute(f'VACUUM ANALYZE "{schema}"."{table}"')


def unavailable() -> str | None:
    for tool in ("ogr2ogr", TIME):
        if not shutil.which(tool):
            return f"{tool} not found (Debian packages gdal-bin, time)"
    return None


def run_section(data, layers, args, backends: list[str]) -> list[Row]:
    """Every backend's export rows; a backend that cannot run gets a row saying why."""
    import tempfile

    from run import postgis_unreachable

    reason = unavailable()
    if reason:
        return [Row("export", "skipped", None, note=reason)]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="geo_app_bench_export_") as tmp:
        for backend in backends:
            if backend == "postgis" and (why := postgis_unreachable(args.export_pg_url)):
                rows.append(Row("postgis", "skipped", None, note=why))
                continue
            t0 = time.perf_counter()
            rows += bench_backend(backend, data, layers, args, Path(tmp))
            print(f"export/{backend}: measured in {time.perf_counter() - t0:.0f} s", flush=True)
    return rows


def print_section(rows: list[Row]) -> None:
    print("Export of every estate (issue 5): geo_app beside ogr2ogr doing the same conversion from the same store")
    print(format_table(rows, peer="ogr2ogr"))
    print("ours/peer: time (or memory) over ogr2ogr's; the goals are <= 1.3x over HTTP and < 300 MB.")


def add_arguments(parser) -> None:
    parser.add_argument("--export", action="store_true", help="also run the export section (issue 5)")
    parser.add_argument("--export-only", action="store_true", help="run only the export section")
    parser.add_argument("--export-repeat", type=int, default=1, help="runs per export (median)")
    parser.add_argument("--export-formats", default="geojson,gpkg", help="comma-separated: geojson,gpkg")
    parser.add_argument("--export-pg-url", default=DEFAULT_PG_URL,
                        help="PostGIS store for the export section; its schema is dropped")
    parser.add_argument("--export-ogc-peers", action="store_true",
                        help="also time OGC API servers answering every estate in one GeoJSON response: "
                             "pygeoapi (SQLiteGPKG, OGR) on GeoPackage, tipg on PostGIS")

