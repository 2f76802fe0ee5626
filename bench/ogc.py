"""Issue 4: spatial queries in-process and the OGC API over HTTP, geo_app beside its peers.

For each backend (GeoPackage file, PostGIS) the generated estates are loaded once into a store
that stays for the whole section, then:

- **in-process**: `store.nearby("estates", lon, lat, 500, 20)` at random points within 300 m of
  random estates (p50/p99; the issue's goal is p99 < 5 ms) and `estate_stats(store,
  "street_office")` (median of 3);
- **over HTTP**, every server under gunicorn with 2 sync workers on 127.0.0.1, on the very same
  data (the same GeoPackage file; the same PostGIS tables):
  - geo_app (`geo_app.wsgi:app`, its OGC API at `/ogcapi`);
  - pygeoapi (pip) with its `SQLiteGPKG` provider (GeoPackage; needs Debian's
    `libsqlite3-mod-spatialite`) and its `OGR` provider (GeoPackage; needs Debian's
    `python3-gdal`, whose `osgeo` package alone is put on the server's PYTHONPATH) or its
    `PostgreSQL` provider (PostGIS);
  - optionally (`--tipg`) tipg (pip, in the venv of `--tipg-venv`; PostGIS only), under gunicorn
    with 2 uvicorn workers.

  Load: Debian's `wrk`, 16 connections, for a bounded time per case and server (also capped in
  requests), with a Lua script cycling through pre-generated paths. Cases:
  `/collections/estates/items?bbox=<1 km x 1 km around a random estate>`,
  `/collections/estates/items/<id>` and `/collections/estates/items?limit=100`. Before timing,
  each server's answers to a few of those paths are fetched and compared with geo_app's (feature
  counts and ids), so all servers are known to do the same work.

A missing peer (not installed, fails to start) gives a row saying why; the run carries on.

    python bench/run.py --ogc-only                     # N = 20,000
    python bench/run.py --ogc-only --n 200000          # the issue's size
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: import siblings

import generate  # noqa: E402
from timing import Row, format_table, latency_rows, percentile, repeat, sample  # noqa: E402

from geo_app.core.stats import estate_stats  # noqa: E402
from geo_app.storage import open_store  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/geo_app_test?schema=bench4"
OURS = "geo_app"
ANATOMY: list[dict] = []  # request_anatomy() rows of the last run_section
NEARBY_RADIUS_M, NEARBY_LIMIT, NEARBY_JITTER_M = 500.0, 20, 300.0
BOX_SIDE_M = 1000.0
PAGE_LIMIT = 100
CONNECTIONS, WRK_THREADS = 16, 2
CASES = ("bbox", "item", "page")
CASE_LABELS = {"bbox": "items?bbox= 1 km²", "item": "items/<id>", "page": f"items?limit={PAGE_LIMIT}"}
DEBIAN_OSGEO = Path("/usr/lib/python3/dist-packages/osgeo")
SPATIALITE = "mod_spatialite"

# wrk script: cycles through the paths file (each thread from its own offset), stops a thread at
# its share of the request cap, and prints one JSON line with the figures; wall time from the
# first request to the last response is taken with LuaJIT's FFI, because a thread stopped by the
# cap leaves wrk waiting for the rest of -d.
WRK_LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now() ffi.C.clock_gettime(1, ts); return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3 end

local threads, next_id = {}, 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local paths, i, counter, cap = {}, 0, 0, 0
t_first, t_last = 0, 0
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  cap = tonumber(args[2])
  i = (id * 7919) % #paths
end
function request()
  if t_first == 0 then t_first = now() end
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
function response(status, headers, body)
  counter = counter + 1
  t_last = now()
  if counter >= cap then wrk.thread:stop() end
end
function done(summary, latency, requests)
  local first, last = math.huge, 0
  for _, t in ipairs(threads) do
    local a, b = t:get("t_first"), t:get("t_last")
    if a and a > 0 and a < first then first = a end
    if b and b > last then last = b end
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"bytes":%d,"duration_us":%d,"elapsed_us":%.0f,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.bytes, summary.duration, last > first and (last - first) or summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


# --- inputs -------------------------------------------------------------------------------------

@dataclass
class Inputs:
    """Query inputs shared by every backend and server: drawn once from seed + 3."""

    points: list[tuple[float, float]]  # nearby: within NEARBY_JITTER_M of random estates
    boxes: list[tuple[float, float, float, float]]  # 1 km x 1 km around random estates
    positions: np.ndarray  # positions in the loaded id list

    @classmethod
    def draw(cls, estates: list, seed: int, count: int) -> "Inputs":
        rng = np.random.default_rng(seed + 3)
        centres = shapely.centroid(np.array([f.geometry for f in estates], dtype=object))
        xs, ys = shapely.get_x(centres), shapely.get_y(centres)
        k = min(count, len(estates))
        near = rng.choice(len(estates), k, replace=False)
        radius = NEARBY_JITTER_M * np.sqrt(rng.random(k))
        angle = rng.uniform(0, 2 * np.pi, k)
        px, py = generate._offset(xs[near], ys[near], radius * np.sin(angle), radius * np.cos(angle))
        boxed = rng.choice(len(estates), k, replace=False)
        half = BOX_SIDE_M / 2
        x0, y0 = generate._offset(xs[boxed], ys[boxed], np.full(k, -half), np.full(k, -half))
        x1, y1 = generate._offset(xs[boxed], ys[boxed], np.full(k, half), np.full(k, half))
        return cls(points=list(zip(px.tolist(), py.tolist())),
                   boxes=[(float(a), float(b), float(c), float(d)) for a, b, c, d in zip(x0, y0, x1, y1)],
                   positions=rng.integers(0, len(estates), k))

    def paths(self, case: str, ids: list[int], prefix: str, suffix: str = "") -> list[str]:
        """The request paths of one case for a server whose collections live under `prefix`."""
        base = f"{prefix}/collections/estates/items"
        joiner = "&" if suffix else ""
        if case == "bbox":
            return [f"{base}?bbox={a:.7f},{b:.7f},{c:.7f},{d:.7f}{joiner}{suffix}" for a, b, c, d in self.boxes]
        if case == "item":
            return [f"{base}/{ids[p]}" + (f"?{suffix}" if suffix else "") for p in self.positions]
        return [f"{base}?limit={PAGE_LIMIT}{joiner}{suffix}"]


# --- servers ------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """One HTTP server under gunicorn, started in its own session so that it and its workers stop
    together; `prefix` is where its /collections live, `suffix` extra query parameters."""

    name: str
    argv: list[str]
    env: dict
    port: int
    prefix: str = ""
    suffix: str = ""
    note: str = ""
    log: Path | None = None
    proc: subprocess.Popen | None = None
    ready_path: str = "/collections/estates/items?limit=1"
    error: str | None = None
    info: dict = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, log_dir: Path) -> None:
        self.log = log_dir / f"{self.name.replace(' ', '_').replace('/', '_')}.log"
        env = {**os.environ, **self.env}
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(self.argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_ready(self, timeout: float = 90.0) -> bool:
        """Poll until the ready path answers 200 (or the process dies, or time runs out)."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.error = f"exited with {self.proc.returncode}: {self.log_tail()}"
                return False
            try:
                with urllib.request.urlopen(self.base + self.prefix + self.ready_path, timeout=30) as r:
                    if r.status == 200:
                        return True
                    last = f"HTTP {r.status}"
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
                if exc.code == 404 and self.name == OURS:
                    break  # the app runs but has no such route: no point waiting
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
                last = type(exc).__name__
            time.sleep(0.3)
        self.error = f"{self.prefix + self.ready_path} → {last}"
        return False

    def log_tail(self, lines: int = 3) -> str:
        if not self.log or not self.log.exists():
            return ""
        text = self.log.read_text(errors="replace").strip().splitlines()
        return " | ".join(line.strip() for line in text[-lines:])

    def worker_pids(self) -> list[int]:
        """The gunicorn workers: children of the master we started."""
        if not self.proc:
            return []
        try:
            out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True,
                                 text=True, timeout=5).stdout
        except (OSError, subprocess.SubprocessError):
            return []
        return [int(p) for p in out.split()]

    def stop(self) -> None:
        """TERM the process group we created (the master and its workers), KILL after 15 s."""
        if not self.proc or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


def gunicorn_argv(app: str, port: int, workers: int = 2, extra: list[str] | None = None,
                  bin_dir: Path = VENV_BIN) -> list[str]:
    """gunicorn, 2 sync workers by default; no control socket (several masters run at once)."""
    return [str(bin_dir / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}", "--no-control-socket",
            "--timeout", "60", "--log-level", "warning", *(extra or []), app]


def geo_app_server(store_url: str, data_dir: Path) -> Server:
    port = free_port()
    return Server(OURS, gunicorn_argv("geo_app.wsgi:app", port),
                  {"GEO_APP_DATABASE_URL": store_url, "GEO_APP_DATA_DIR": str(data_dir),
                   "GEO_APP_SECRET_KEY": "bench-only"}, port, prefix="/ogcapi")


def osgeo_path(tmp: Path) -> Path | None:
    """A directory holding only Debian's `osgeo` (python3-gdal), for the pygeoapi OGR provider:
    usable when it was built for this Python's ABI; None otherwise."""
    if not DEBIAN_OSGEO.is_dir():
        return None
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ""
    if not any(p.name.endswith(suffix) for p in DEBIAN_OSGEO.glob("_gdal*")):
        return None
    target = tmp / "osgeo_only"
    target.mkdir(exist_ok=True)
    link = target / "osgeo"
    if not link.exists():
        link.symlink_to(DEBIAN_OSGEO)
    return target


def spatialite_available(python: Path) -> bool:
    """Whether that Python's sqlite3 can load mod_spatialite (pygeoapi's SQLiteGPKG needs it)."""
    code = ("import sqlite3; c = sqlite3.connect(':memory:'); c.enable_load_extension(True); "
            f"c.execute(\"SELECT load_extension('{SPATIALITE}')\")")
    try:
        return subprocess.run([str(python), "-c", code], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


SYSTEM_PYTHON = Path("/usr/bin/python3")
PYGEOAPI_VERSION = "0.21.0"  # the version the README's figures were taken with
TIPG_VERSION, UVICORN_VERSION = "1.6.1", "0.54.0"  # pinned: a newer tipg may change its SQL or its output


def build_venv(path: Path, packages: list[str], system_site: bool) -> tuple[Path | None, str]:
    """A venv of Debian's /usr/bin/python3 at `path` with `packages` pip-installed, so that a peer's
    dependencies (pydantic, starlette, Flask ...) never meet the bench's own. Made once and kept
    between runs: a stamp file written after pip succeeded lists the packages, so a venv left half
    made, or made with other pins, is installed into again."""
    bin_dir, stamp = path / "bin", path / "bench-installed.txt"
    wanted = "\n".join(packages) + "\n"
    if stamp.exists() and stamp.read_text() == wanted:
        return bin_dir, ""
    if not SYSTEM_PYTHON.exists():
        return None, f"no {SYSTEM_PYTHON} for a peer venv"
    try:
        subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", *(["--system-site-packages"] if system_site else []),
                        str(path)], check=True, capture_output=True, timeout=120)
        subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", *packages], check=True,
                       capture_output=True, text=True, timeout=600)
    except subprocess.CalledProcessError as exc:
        return None, f"peer venv at {path} failed: {(exc.stderr or '').strip()[-200:]}"
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"peer venv at {path} failed: {type(exc).__name__}"
    stamp.write_text(wanted)
    return bin_dir, ""


def peer_venv(path: Path) -> tuple[Path | None, str]:
    """The pygeoapi venv: this venv's Python may be built without sqlite3 extension loading, which
    pygeoapi's SQLiteGPKG provider needs, so Debian's Python with its site packages (mod_spatialite
    through its sqlite3, osgeo from python3-gdal for the OGR provider), gunicorn at this venv's version."""
    import gunicorn

    return build_venv(path, [f"pygeoapi=={PYGEOAPI_VERSION}", f"gunicorn=={gunicorn.__version__}"],
                      system_site=True)


def tipg_venv(path: Path) -> tuple[Path | None, str]:
    """The tipg venv (tipg needs Python >= 3.11; Debian's is 3.11), without Debian's site packages:
    tipg pins its own pydantic, starlette and asyncpg. uvicorn runs it alone; gunicorn, at this
    venv's version, for the issue-4 section's two workers."""
    import gunicorn

    packages = [f"tipg=={TIPG_VERSION}", f"uvicorn=={UVICORN_VERSION}", f"gunicorn=={gunicorn.__version__}"]
    return build_venv(path, packages, system_site=False)


def pygeoapi_config(provider: dict, bbox: tuple, port: int) -> dict:
    """A minimal pygeoapi configuration with one collection `estates` on one provider."""
    return {
        "server": {
            "bind": {"host": "127.0.0.1", "port": port}, "url": f"http://127.0.0.1:{port}",
            "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8", "language": "en-US",
            "gzip": False, "cors": False, "pretty_print": False,
            "limits": {"default_items": 10, "max_items": 1000, "on_exceed": "throttle"},
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"},
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {"title": "bench", "description": "geo_app bench peer", "keywords": ["bench"],
                               "keywords_type": "theme", "terms_of_service": "", "url": "http://127.0.0.1"},
            "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": "bench", "url": "http://127.0.0.1"},
            "contact": {"name": "bench", "url": "http://127.0.0.1", "email": "bench@127.0.0.1"},
        },
        "resources": {
            "estates": {
                "type": "collection", "title": "estates", "description": "generated estates",
                "keywords": ["estates"], "links": [],
                "extents": {"spatial": {"bbox": list(bbox), "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
                "providers": [provider],
            },
        },
    }


def pygeoapi_server(name: str, provider: dict, bbox: tuple, tmp: Path, pythonpath: Path | None = None,
                    bin_dir: Path = VENV_BIN) -> Server:
    """pygeoapi under gunicorn (2 workers) with its config and OpenAPI document in `tmp`."""
    import yaml

    port = free_port()
    folder = tmp / name.replace(" ", "_").replace("/", "_")
    folder.mkdir(parents=True, exist_ok=True)
    config, openapi = folder / "pygeoapi-config.yml", folder / "openapi.yml"
    config.write_text(yaml.safe_dump(pygeoapi_config(provider, bbox, port), allow_unicode=True))
    env = {"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    server = Server(name, gunicorn_argv("pygeoapi.flask_app:APP", port, bin_dir=bin_dir), env, port)
    generated = subprocess.run([str(bin_dir / "pygeoapi"), "openapi", "generate", str(config),
                                "--output-file", str(openapi)], env={**os.environ, **env}, cwd=folder,
                               capture_output=True, text=True, timeout=120)
    if generated.returncode != 0 or not openapi.exists():
        tail = (generated.stderr or generated.stdout).strip().splitlines()[-1:] or ["?"]
        server.error = f"openapi generate failed: {tail[0][:200]}"
    return server


def tipg_env(pg_url: str, max_features: int = 10000) -> dict:
    """tipg's settings for our PostGIS store: only its schema and its `estates` table (tipg matches
    TIPG_DB_TABLES against `<schema>.<table>`), `limit` allowed up to `max_features` (a larger one
    is refused with 422 rather than cut); a catalogue kept for the whole run."""
    from geo_app.storage.postgis import split_url

    conninfo, schema = split_url(pg_url)
    return {"DATABASE_URL": conninfo, "TIPG_DB_SCHEMAS": json.dumps([schema]),
            "TIPG_DB_TABLES": json.dumps([f"{schema}.estates"]), "TIPG_DEFAULT_FEATURES_LIMIT": "10",
            "TIPG_MAX_FEATURES_PER_QUERY": str(max_features), "TIPG_CATALOG_TTL": "3600",
            "DB_MIN_CONN_SIZE": "1", "DB_MAX_CONN_SIZE": "10"}


def tipg_collection(pg_url: str) -> str:
    """tipg names a table's collection `<schema>.<table>`."""
    from geo_app.storage.postgis import split_url

    return f"{split_url(pg_url)[1]}.estates"


def tipg_server(pg_url: str, bin_dir: Path) -> Server:
    """tipg (FastAPI) over the same PostGIS tables, gunicorn with 2 uvicorn workers (issue 4)."""
    port = free_port()
    argv = gunicorn_argv("tipg.main:app", port, extra=["-k", "uvicorn.workers.UvicornWorker"], bin_dir=bin_dir)
    collection = tipg_collection(pg_url)
    return Server("tipg", argv, tipg_env(pg_url), port, ready_path=f"/collections/{collection}/items?limit=1",
                  info={"collection": collection})


def tipg_uvicorn_server(pg_url: str, bin_dir: Path, max_features: int) -> Server:
    """tipg as one uvicorn process (no workers: the process we start is the one that answers, so
    its VmHWM is the request's peak), allowed to return `max_features` in one response."""
    port = free_port()
    argv = [str(bin_dir / "uvicorn"), "tipg.main:app", "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1", "--log-level", "warning", "--no-access-log"]
    collection = tipg_collection(pg_url)
    return Server("tipg", argv, tipg_env(pg_url, max_features), port,
                  ready_path=f"/collections/{collection}/items?limit=1",
                  info={"collection": collection, "f": "geojson"})


# --- load generation ------------------------------------------------------------------------------

def wrk_available() -> str | None:
    return shutil.which("wrk")


def run_wrk(server: Server, paths: list[str], seconds: float, max_requests: int, tmp: Path) -> dict:
    """One bounded wrk run: 16 connections, `seconds` long, at most max_requests (split per thread)."""
    script = tmp / "bench.lua"
    if not script.exists():
        script.write_text(WRK_LUA)
    paths_file = tmp / f"paths_{server.port}.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    per_thread = max(1, max_requests // WRK_THREADS)
    argv = [wrk_available(), f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s",
            "--timeout", "10s", "-s", str(script), server.base, "--", str(paths_file), str(per_thread)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    line = [x for x in done.stdout.splitlines() if x.startswith("{")]
    if not line:
        return {"error": (done.stderr or done.stdout).strip()[-200:]}
    result = json.loads(line[-1])
    kinds = ("connect", "read", "write", "status", "timeout")
    result["errors"] = sum(result[k] for k in kinds)
    result["error_kinds"] = ", ".join(f"{result[k]} {k}" for k in kinds if result[k])
    if not result["requests"]:
        return {"error": f"no response within {seconds:.0f} s ({result['error_kinds'] or 'no errors'}); "
                         f"server log: {server.log_tail(2)[:200]}"}
    elapsed = result["elapsed_us"] / 1e6
    result["rate"] = result["requests"] / elapsed if elapsed > 0 else None
    result["capped"] = result["requests"] >= per_thread * WRK_THREADS
    return result


def fetch_json(url: str) -> tuple[int, dict | None, int]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            body = r.read()
            return r.status, json.loads(body), len(body)
    except urllib.error.HTTPError as exc:
        return exc.code, None, 0
    except (urllib.error.URLError, OSError, ValueError):
        return 0, None, 0


def answers(server: Server, case: str, paths: list[str], count: int = 5) -> list[tuple]:
    """(status, feature ids, bytes) of the first `count` paths of a case, for the same-work check."""
    out = []
    for path in paths[:count]:
        status, body, size = fetch_json(server.base + path)
        if body is None:
            out.append((status, None, size))
        elif case == "item":
            out.append((status, (str(body.get("id")),), size))
        else:
            out.append((status, tuple(sorted(str(f.get("id")) for f in body.get("features", []))), size))
    return out


# --- the section --------------------------------------------------------------------------------

@dataclass
class HttpResult:
    server: str
    backend: str
    case: str
    figures: dict
    note: str = ""


def vacuum_analyze(url: str, tables: list[str]) -> None:
    """VACUUM ANALYZE after the bulk load: the state autovacuum reaches soon after such a load
    (statistics, and the visibility map that lets COUNT(*) use an index-only scan)."""
    import psycopg

    from geo_app.storage.postgis import split_url

    conninfo, schema = split_url(url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for table in tables:
            conn.execute(f'VACUUM ANALYZE "{schema}"."{table}"')


def in_process_rows(store, backend: str, inputs: Inputs, budget: float) -> list[Row]:
    """nearby p50/p99 and estate_stats(street_office), in this process, warm."""
    rows = []
    call = lambda p: len(store.nearby("estates", p[0], p[1], NEARBY_RADIUS_M, NEARBY_LIMIT))  # noqa: E731
    durations, found = sample(call, inputs.points, len(inputs.points), budget)
    p99 = percentile(durations, 99)
    goal = "met" if p99 is not None and p99 < 0.005 else "missed"
    rows += latency_rows(backend, f"nearby {NEARBY_RADIUS_M:.0f} m, {NEARBY_LIMIT} results", durations,
                         note=f"{np.mean(found):.1f} results/point; goal p99 < 5 ms: {goal}")
    durations = repeat(lambda: estate_stats(store, "street_office"), 3, budget)
    rows.append(Row(backend, "estate_stats(street_office)", percentile(durations, 50), samples=len(durations),
                    note="median"))
    durations = repeat(lambda: store.count("estates"), 5, budget)
    rows.append(Row(backend, "count(estates), no filter", percentile(durations, 50), samples=len(durations),
                    note="median; numberMatched of items?limit=100"))
    return rows


def measure_http(servers: list[Server], backend: str, inputs: Inputs, ids: list[int], args,
                 tmp: Path) -> list[HttpResult]:
    """Every case on every running server; the servers' order rotates from case to case so that
    no one server always runs first (or last) on this noisy machine."""
    results: list[HttpResult] = []
    live = [s for s in servers if not s.error]
    for c, case in enumerate(CASES):
        reference = None
        order = live[c % len(live):] + live[:c % len(live)] if live else []
        for server in order:
            prefix = server.prefix
            paths = inputs.paths(case, ids, prefix, server.suffix)
            if server.name == "tipg":
                paths = [p.replace("/collections/estates/", f"/collections/{server.info['collection']}/")
                         for p in paths]
            got = answers(server, case, paths)
            if server.name == OURS:
                reference = got
            bad = [a for a in got if a[0] != 200]
            note = f"{np.mean([a[2] for a in got]) / 1e3:.1f} kB/response" if got else ""
            if bad:
                note = f"HTTP {bad[0][0]} on a check request; " + note
            # a short warm-up (imports, caches, connection pools), then the timed run
            run_wrk(server, paths, 1, 200, tmp)
            figures = run_wrk(server, paths, args.http_seconds, args.http_max_requests, tmp)
            results.append(HttpResult(server.name, backend, case, {**figures, "check": got}, note))
        for r in results[-len(order):]:
            if r.server != OURS and reference is not None:
                same = [a[1] == b[1] for a, b in zip(r.figures["check"], reference)]
                r.note += "; same features as geo_app" if all(same) else \
                    f"; {len(same) - sum(same)}/{len(same)} check answers differ from geo_app"
    return results


def http_rows(results: list[HttpResult], backend: str, servers: list[Server]) -> list[Row]:
    """Rows for geo_app per case (req/s, p50, p99) with the best peer's figure beside each."""
    rows: list[Row] = []
    for case in CASES:
        label = f"HTTP {CASE_LABELS[case]}"
        mine = next((r for r in results if r.case == case and r.server == OURS), None)
        peers = [r for r in results if r.case == case and r.server != OURS and "rate" in r.figures]
        ours_ok = mine is not None and "rate" in mine.figures
        for metric, key, kind in (("req/s", "rate", "rate"), ("p50", "p50_us", "time"), ("p99", "p99_us", "time")):
            def value(r):
                v = r.figures.get(key)
                return None if v is None else (v if kind == "rate" else v / 1e6)
            # A peer that answered with errors (e.g. HTTP 500) is not a fair bar: error answers are
            # cheap. It only counts when no peer answered cleanly; the note says so.
            clean = [p for p in peers if not p.figures["errors"]] or peers
            candidates = [(value(p), p.server) for p in clean if value(p) is not None]
            best = (max if kind == "rate" else min)(candidates, default=(None, None))
            dirty = [p for p in peers if p not in clean or p.figures["errors"]]
            note = ""
            if ours_ok:
                note = f"errors {mine.figures['errors']}/{mine.figures['requests']}"
                if mine.figures["errors"]:
                    note += f" ({mine.figures['error_kinds']})"
            elif mine is not None:
                note = f"geo_app: {mine.figures.get('error', '?')}"
            elif case == CASES[0] and metric == "req/s":  # say why once
                why = next((s.error for s in servers if s.name == OURS), None)
                note = f"geo_app not measured: {why[:160]}" if why else "geo_app not measured"
            if best[1]:
                note += ("; " if note else "") + f"best peer {best[1]}"
            for p in dirty:
                note += f"; {p.server} left out: {p.figures['errors']}/{p.figures['requests']} errors"
            rows.append(Row(backend, f"{label} {metric}", value(mine) if ours_ok else None, kind,
                            best[0], mine.figures["requests"] if ours_ok else 0, note))
    return rows


def server_table(results: list[HttpResult]) -> str:
    """Every server's HTTP figures: the full picture behind the best-peer ratios."""
    header = ["backend", "server", "case", "req/s", "p50", "p99", "max", "requests", "errors", "note"]
    cells = [header]
    for r in results:
        f = r.figures
        if "rate" not in f:
            cells.append([r.backend, r.server, CASE_LABELS[r.case], "—", "", "", "", "", "", f.get("error", "")])
            continue
        ms = lambda us: f"{us / 1e3:.1f} ms"  # noqa: E731
        cells.append([r.backend, r.server, CASE_LABELS[r.case], f"{f['rate']:,.0f}", ms(f["p50_us"]), ms(f["p99_us"]),
                      ms(f["max_us"]), f"{f['requests']:,}" + (" (cap)" if f.get("capped") else ""),
                      f"{f['errors']} ({f['error_kinds']})" if f["errors"] else "0", r.note])
    widths = [max(len(row[i]) for row in cells) for i in range(len(header) - 1)]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join([row[i].ljust(widths[i]) if i < 3 else row[i].rjust(widths[i])
                                for i in range(len(widths))] + [row[-1]]).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths) + "  ----")
    return "\n".join(lines)


def request_anatomy(url: str, data_dir: Path, inputs: Inputs, ids: list[int], backend: str,
                    count: int = 60) -> list[dict]:
    """Where one geo_app OGC API request's time goes, in this process (Flask test client, one
    thread, warm): cProfile over `count` requests per case, read out per request as SQL statements
    (`_fetch` calls), time in COUNT(*) for numberMatched (`Store.count`), in reading the page or
    feature (`Store.features`), in building the GeoJSON dict and in `json.dumps`."""
    import cProfile
    import pstats

    from geo_app import create_app

    app = create_app({"database.url": url, "data_dir": str(data_dir), "secret_key": "bench-only"})
    client = app.test_client()
    out = []
    for case in CASES:
        paths = inputs.paths(case, ids, "/ogcapi")[:count]
        paths = (paths * (count // len(paths) + 1))[:count]
        for path in paths[:3]:
            client.get(path)  # warm
        profile = cProfile.Profile()
        t0 = time.perf_counter()
        profile.enable()
        sizes = [len(client.get(path).data) for path in paths]
        profile.disable()
        wall = (time.perf_counter() - t0) / len(paths)
        stats = pstats.Stats(profile).stats  # (file, line, name) -> (cc, nc, tt, ct, callers)

        def cumulative(name: str, file_part: str = "") -> tuple[float, int]:
            hits = [(v[3], v[1]) for (f, _, n), v in stats.items() if n == name and file_part in f]
            return (max(hits)[0], max(hits)[1]) if hits else (0.0, 0)

        fetch_t, fetch_n = cumulative("_fetch", "storage")
        count_t, _ = cumulative("count", "storage/base.py")
        features_t, _ = cumulative("features", "storage/base.py")
        build_t = sum(cumulative(n, "ogcapi_crs")[0] for n in ("collection_in_crs", "feature_in_crs"))
        dumps_t = sum(v[3] for (f, _, n), v in stats.items() if n == "dumps" and f.endswith("json/__init__.py"))
        total_profiled = sum(v[2] for v in stats.values())
        k = len(paths)
        out.append({"backend": backend, "case": case, "requests": k, "wall_ms": wall * 1e3,
                    "profiled_ms": total_profiled / k * 1e3, "queries": fetch_n / k, "sql_ms": fetch_t / k * 1e3,
                    "count_ms": count_t / k * 1e3, "features_ms": features_t / k * 1e3,
                    "geojson_ms": build_t / k * 1e3, "dumps_ms": dumps_t / k * 1e3,
                    "kb": float(np.mean(sizes)) / 1e3})
    app.extensions["geo_app.store"].close()
    return out


def anatomy_table(rows: list[dict]) -> str:
    header = ["backend", "case", "wall", "queries", "SQL (all)", "COUNT(*)", "read features", "build GeoJSON",
              "json.dumps", "body"]
    cells = [header]
    for r in rows:
        ms = lambda key: f"{r[key]:.2f} ms"  # noqa: E731
        cells.append([r["backend"], CASE_LABELS[r["case"]], ms("wall_ms"), f"{r['queries']:.1f}", ms("sql_ms"),
                      ms("count_ms"), ms("features_ms"), ms("geojson_ms"), ms("dumps_ms"), f"{r['kb']:.1f} kB"])
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(row[i].ljust(widths[i]) if i < 2 else row[i].rjust(widths[i]) for i in range(len(header)))
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def skipped_server(name: str, why: str) -> Server:
    s = Server(name, [], {}, 0)
    s.error = why
    return s


def start_all(servers: list[Server], log_dir: Path) -> None:
    """Start every server that could be configured, then wait for each (they boot in parallel)."""
    for s in servers:
        if not s.error:
            s.start(log_dir)
    for s in servers:
        if not s.error and not s.wait_ready():
            s.stop()


def peers_for(backend: str, store_url: str, gpkg: Path | None, bbox: tuple, args, tmp: Path) -> list[Server]:
    """The peer servers for one backend, or rows saying why one cannot run."""
    servers: list[Server] = []
    if importlib.util.find_spec("pygeoapi") is None:
        return [skipped_server("pygeoapi", "pygeoapi not installed (pip install pygeoapi)")]
    if backend == "geopackage":
        bin_dir, why = (VENV_BIN, "") if spatialite_available(VENV_BIN / "python") else peer_venv(args.peer_venv)
        if bin_dir and spatialite_available(bin_dir / "python"):
            servers.append(pygeoapi_server("pygeoapi/SQLiteGPKG", {
                "type": "feature", "name": "SQLiteGPKG", "data": str(gpkg), "id_field": "id", "table": "estates"},
                bbox, tmp, bin_dir=bin_dir))
            if bin_dir != VENV_BIN:
                servers[-1].note = f"Python of {bin_dir.parent}"
        else:
            servers.append(skipped_server("pygeoapi/SQLiteGPKG", why or "no mod_spatialite (apt-get install "
                                                                        "libsqlite3-mod-spatialite)"))
        osgeo = osgeo_path(tmp)
        if osgeo:
            servers.append(pygeoapi_server("pygeoapi/OGR", {
                "type": "feature", "name": "OGR", "data": {"source_type": "GPKG", "source": str(gpkg)},
                "id_field": "id", "layer": "estates", "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]},
                bbox, tmp, pythonpath=osgeo))
        else:
            servers.append(skipped_server("pygeoapi/OGR", "no usable osgeo (apt-get install python3-gdal)"))
    else:
        from geo_app.storage.postgis import split_url
        from urllib.parse import urlsplit

        conninfo, schema = split_url(store_url)
        parts = urlsplit(conninfo)
        servers.append(pygeoapi_server("pygeoapi/PostgreSQL", {
            "type": "feature", "name": "PostgreSQL",
            "data": {"host": parts.hostname, "port": parts.port or 5432, "dbname": parts.path.lstrip("/"),
                     "user": parts.username or "postgres", "password": parts.password or "",
                     "search_path": [schema, "public"]},
            "id_field": "id", "table": "estates", "geom_field": "geom"}, bbox, tmp))
        if args.tipg:
            bin_dir, why = tipg_venv(args.tipg_venv)
            servers.append(tipg_server(store_url, bin_dir) if bin_dir else skipped_server("tipg", why))
    return servers


def bench_backend(backend: str, data, layers, inputs: Inputs, args, tmp: Path) -> tuple[list[Row], list[HttpResult]]:
    """Load one backend's store, measure in-process, serve it with every server and load them."""
    if backend == "geopackage":
        gpkg = tmp / "ogc_bench.gpkg"
        url = f"gpkg://{gpkg}"
    else:
        gpkg, url = None, args.ogc_pg_url
    store = open_store(url, layers)
    servers: list[Server] = []
    rows: list[Row] = []
    results: list[HttpResult] = []
    try:
        store.drop()
        store.initialise()
        t0 = time.perf_counter()
        generate.write_offices(store, data.offices)
        ids = generate.write_estates(store, data.estates, args.batch_size)
        load_s = time.perf_counter() - t0
        if backend == "geopackage":
            store.checkpoint()  # the WAL into the file, so every reader sees one plain GeoPackage
        else:
            vacuum_analyze(url, ["estates", "street_offices"])
        rows.append(Row(backend, "load estates (for this section)", len(ids) / load_s, "rate", samples=1,
                        note=f"{len(ids):,} estates"))
        rows += in_process_rows(store, backend, inputs, args.budget)
        if not wrk_available():
            rows.append(Row(backend, "HTTP skipped", None, note="no wrk (apt-get install wrk)"))
            return rows, results
        bbox = generate.EXTENT
        log_dir = tmp / f"logs_{backend}"
        log_dir.mkdir(exist_ok=True)
        servers = [geo_app_server(url, tmp / "data")] + peers_for(backend, url, gpkg, bbox, args, tmp)
        (tmp / "data").mkdir(exist_ok=True)
        start_all(servers, log_dir)
        for s in servers:
            state = "ready" if not s.error else f"not measured: {s.error}"
            print(f"  {backend} {s.name}: {state}", flush=True)
        results = measure_http(servers, backend, inputs, ids, args, tmp)
        if args.profile:
            profile_ours(servers, inputs, ids, args, tmp, backend)
        rows += http_rows(results, backend, servers)
        for s in servers:
            s.stop()  # the machine to ourselves for the in-process anatomy
        ANATOMY.extend(request_anatomy(url, tmp / "data", inputs, ids, backend))
        for s in servers:
            if s.error and s.name != OURS:
                rows.append(Row(backend, f"peer {s.name}", None, note=f"not measured: {s.error}"))
    finally:
        for s in servers:
            s.stop()
        if backend == "postgis" and not args.keep:
            store.drop()
        store.close()
    return rows, results


def profile_ours(servers: list[Server], inputs: Inputs, ids: list[int], args, tmp: Path, backend: str) -> None:
    """py-spy on one geo_app worker while wrk loads each case again (flame graphs in --profile)."""
    ours = next((s for s in servers if s.name == OURS and not s.error), None)
    spy = shutil.which("py-spy") or str(VENV_BIN / "py-spy")
    if not ours or not Path(spy).exists():
        return
    out_dir = Path(args.profile)
    out_dir.mkdir(parents=True, exist_ok=True)
    for case in CASES:
        pids = ours.worker_pids()
        if not pids:
            return
        paths = inputs.paths(case, ids, ours.prefix, ours.suffix)
        seconds = min(args.http_seconds, 8)
        recorders = [subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", str(int(seconds)),
                                       "--rate", "200", "--idle", "--format", fmt, "--output",
                                       str(out_dir / f"{backend}_{case}_{pid}.{ext}"), "--nonblocking"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                     for pid in pids[:1] for fmt, ext in (("raw", "txt"),)]
        time.sleep(0.5)
        run_wrk(ours, paths, seconds, args.http_max_requests, tmp)
        for r in recorders:
            try:
                r.wait(seconds + 30)
            except subprocess.TimeoutExpired:
                r.terminate()


def run_section(data, layers, args, backends: list[str]) -> tuple[list[Row], list[HttpResult]]:
    """The whole issue-4 section, for `run.py --ogc`."""
    inputs = Inputs.draw(data.estates, args.seed, args.ogc_samples)
    rows: list[Row] = []
    results: list[HttpResult] = []
    with tempfile.TemporaryDirectory(prefix="geo_app_ogc_") as tmp:
        for backend in backends:
            t0 = time.perf_counter()
            if backend == "postgis":
                from run import postgis_unreachable

                reason = postgis_unreachable(args.ogc_pg_url)
                if reason:
                    rows.append(Row("postgis", "skipped", None, note=reason))
                    continue
            r, h = bench_backend(backend, data, layers, inputs, args, Path(tmp))
            rows += r
            results += h
            print(f"ogc {backend}: measured in {time.perf_counter() - t0:.0f} s", flush=True)
    return rows, results


def print_section(rows: list[Row], results: list[HttpResult]) -> None:
    print(format_table(rows, peer="best peer"))
    print("ours/peer is a time ratio (per request, on req/s rows too: best peer's req/s ÷ ours): "
          "> 1 means geo_app is slower than the best peer for the same request on the same backend.")
    if results:
        print()
        print(f"Every server, {CONNECTIONS} connections (wrk, {WRK_THREADS} threads), gunicorn with 2 workers:")
        print(server_table(results))
    if ANATOMY:
        print()
        print("Where a geo_app request's time goes, in-process (Flask test client, 1 thread, under cProfile, "
              "so slower than unprofiled; per request):")
        print(anatomy_table(ANATOMY))


def add_arguments(parser) -> None:
    group = parser.add_argument_group("OGC API and spatial queries (issue 4)")
    group.add_argument("--ogc", action="store_true", help="also run the issue-4 section (bench/ogc.py)")
    group.add_argument("--ogc-only", action="store_true", help="run only the issue-4 section")
    group.add_argument("--ogc-pg-url", default=DEFAULT_PG_URL, help="PostGIS URL; its schema is dropped")
    group.add_argument("--ogc-samples", type=int, default=1000, help="nearby points, boxes and ids")
    group.add_argument("--http-seconds", type=float, default=10.0, help="seconds per case and server")
    group.add_argument("--http-max-requests", type=int, default=50000, help="request cap per case and server")
    group.add_argument("--tipg", action="store_true", help="also run tipg over PostGIS (installed in --tipg-venv)")
    group.add_argument("--profile", metavar="DIR", help="py-spy geo_app's workers per case into DIR")
    group.add_argument("--keep", action="store_true", help="keep the PostGIS schema after the section")
    group.add_argument("--peer-venv", type=Path, default=Path(tempfile.gettempdir()) / "geo_app_bench_peer_venv",
                       help="venv for the SQLiteGPKG peer when this Python cannot load SQLite extensions")
    group.add_argument("--tipg-venv", type=Path, default=Path(tempfile.gettempdir()) / "geo_app_bench_tipg_venv",
                       help=f"venv for tipg {TIPG_VERSION} (made with Debian's Python when missing)")


def result_dict(r: HttpResult) -> dict:
    return {"server": r.server, "backend": r.backend, "case": r.case, "note": r.note,
            **{k: v for k, v in r.figures.items() if k != "check"}}
