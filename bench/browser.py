"""The planner map in headless Chromium: time to drawn, bytes, requests, panning, server encode.

Two cases, each on its own temporary GeoPackage served by waitress (as `geo-app serve` does) on
127.0.0.1: the demo data (`geo_app.core.demo.ensure_store`) and N generated estates
(`generate.load`, default 20,000, viewed at zoom 7 over the whole synthetic province so that every
estate is inside the map). Basemap tiles come from a second local server answering every tile with
a 1x1 PNG (another origin, as a real tile host is, so tiles do not take the app's connections).

In Chromium (Debian's /usr/bin/chromium through Playwright, never Playwright's download):

- **drawn**: navigation start to `#map-ready[data-ready="1"]` plus the next animation frame (the
  canvas renderer draws in that frame), read from `performance.now()` in the page. Cold loads use a
  fresh browser context with the HTTP cache disabled; warm loads navigate again in one context;
  "after a write" bumps the store revision before each load, so the server encodes afresh.
- **bytes**: Resource Timing of every request of the app's origin: bodies as sent (gzip where the
  server compressed), uncompressed, and on the wire with headers; tiles are counted apart.
- **pan**: after drawn, 10 `map.panBy` of 250 px and a zoom in and out, each waited for its
  `moveend`; requestAnimationFrame deltas over the whole sequence give the frame times, and
  `requestIdleCallback` after the last step says when the map is idle.
- **server**: `/api/estates?view=map` over HTTP with and without gzip: after a write (encoded
  afresh), again at the same revision, and revalidated with its ETag (304).
- **phases** (the large case): where a cold load's time goes, from the same Resource Timing
  (server wait, download) and, measured again in the page on the same body, JSON.parse, building
  the Leaflet layers, adding them to the map, the first canvas draw, and sorting the list.

Every loop is bounded by a count and by a time budget.

    python bench/browser.py --n 20000 --loads 5
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import http.client
import logging
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: import siblings

import generate  # noqa: E402
from timing import Row, format_table  # noqa: E402

CHROMIUM = os.environ.get("GEO_APP_CHROMIUM", "/usr/bin/chromium")
# As in tests/conftest.py: as root, without a sandbox, no background traffic (the network is closed).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT = {"width": 1366, "height": 860}
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478"
                    "9c6360000002000154a24f5d0000000049454e44ae426082")
MAP_URL = "/api/estates?view=map&coords=wgs84"  # what the planner fetches with no filter
BUDGETS = {"demo": 1.0, "large": 3.0}  # the targets for "drawn", seconds
PANS, PAN_PX = 10, 250
WAIT_MS = 60_000  # the longest any one wait in the page may take

# Installed before any page script: records when #map-ready turns "1" and the frame after it.
INIT_SCRIPT = """
(() => {
  performance.setResourceTimingBufferSize(2000);
  const marks = window.__bench = {ready: null, frame: null, painted: null};
  const observer = new MutationObserver(() => {
    const node = document.getElementById("map-ready");
    if (marks.ready !== null || !node || node.dataset.ready !== "1") return;
    marks.ready = performance.now();
    observer.disconnect();
    requestAnimationFrame(() => {
      marks.frame = performance.now();
      setTimeout(() => { marks.painted = performance.now(); }, 0);
    });
  });
  observer.observe(document, {subtree: true, attributes: true, attributeFilter: ["data-ready"]});
})();
"""

# Every request of the page so far, from Resource Timing (the navigation first).
ENTRIES_JS = """
() => [performance.getEntriesByType("navigation")[0], ...performance.getEntriesByType("resource")].map((e) => ({
  name: e.name, start: e.startTime, requestStart: e.requestStart, responseStart: e.responseStart,
  responseEnd: e.responseEnd, transfer: e.transferSize, encoded: e.encodedBodySize, decoded: e.decodedBodySize,
  status: e.responseStatus || 0, dcl: e.domContentLoadedEventEnd || null,
}))
"""

PAN_JS = """
async ({pans, px, waitMs, view}) => {
  const map = window.GeoApp.map;
  if (view) {
    const moved = new Promise((done) => map.once("moveend", done));
    map.setView([view.lat, view.lon], view.zoom, {animate: false});
    await moved;
  }
  const frames = [];
  let last = null, running = true;
  const tick = (t) => { if (last !== null) frames.push(t - last); last = t; if (running) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  const nextFrame = () => new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
  const settled = (name) => new Promise((done) => {
    const timer = setTimeout(() => done(false), waitMs);
    map.once(name, () => { clearTimeout(timer); done(true); });
  });
  await nextFrame(); await nextFrame();
  const b = map.getBounds();
  const bounds = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];
  const idleUntil = performance.now() + 1000;  // a second of the drawn map at rest: the baseline
  while (performance.now() < idleUntil) await nextFrame();
  const baseline = frames.splice(0);
  const moves = [[1, 0], [0, 1], [-1, 0], [0, -1]];
  const steps = [];
  for (let i = 0; i < pans; i++) {
    const [dx, dy] = moves[i % 4];
    steps.push(["pan", () => map.panBy([dx * px, dy * px])]);
  }
  steps.push(["zoom", () => map.zoomIn()], ["zoom", () => map.zoomOut()]);
  const t0 = performance.now();
  const results = [];
  let timeouts = 0;
  for (const [kind, act] of steps) {
    const start = performance.now();
    const moved = settled("moveend");
    act();
    if (!(await moved)) timeouts++;
    await nextFrame();  // the frame after moveend: the renderer has re-clipped and redrawn
    results.push({kind, ms: performance.now() - start});
  }
  const done = performance.now();
  await new Promise((ok) => requestIdleCallback(ok, {timeout: waitMs}));
  running = false;
  let drawn = 0;
  const estates = new Set(window.GeoAppState.features);  // Leaflet keeps each layer's feature object
  map.eachLayer((l) => { if (estates.has(l.feature)) drawn++; });
  const rings = document.querySelectorAll(".office-summary").length;
  return {bounds, frames, baseline, steps: results, doneMs: done - t0, idleMs: performance.now() - t0, drawn, rings,
          idleAfterMs: performance.now() - done, timeouts, zoom: map.getZoom()};
}
"""

# The planner's own steps on the body it fetched, timed one by one (planner.js does them in one go),
# and two cheaper variants of its steps as peers: tooltips built when first shown, one collator.
PHASES_JS = """
async ({url}) => {
  const map = window.GeoApp.map;
  const text = await (await fetch(url, {headers: {Accept: "application/json"}})).text();
  const t0 = performance.now();
  const data = JSON.parse(text);
  const t1 = performance.now();
  const renderer = () => data.features.length > 3000 ? L.canvas({padding: 0.5}) : L.svg();
  const style = () => ({color: "#e53935", weight: 1, fillColor: "#e53935", fillOpacity: 0.65});
  const el = (tag, text) => {
    const node = document.createElement(tag);
    if (text) node.textContent = text;
    return node;
  };
  const layer = L.geoJSON(null, {renderer: renderer(), style, onEachFeature: (f, l) => {
    const tip = el("div");  // as planner.js bindEstate: a DOM tooltip per estate, built up front
    tip.appendChild(el("b", f.properties.name));
    tip.appendChild(el("br"));
    tip.appendChild(document.createTextNode(f.properties.status));
    l.bindTooltip(tip, {sticky: true});
    l.on("click", () => null);
  }});
  layer.addData(data);
  const t2 = performance.now();
  layer.addTo(map);
  const t3 = performance.now();
  await new Promise((done) => requestAnimationFrame(() => done()));
  const t4 = performance.now();
  map.removeLayer(layer);
  const lazy = L.geoJSON(null, {renderer: renderer(), style, onEachFeature: (f, l) => {
    l.bindTooltip(() => {
      const tip = el("div");
      tip.appendChild(el("b", f.properties.name));
      return tip;
    }, {sticky: true});
    l.on("click", () => null);
  }});
  const t5 = performance.now();
  lazy.addData(data);
  const t6 = performance.now();
  const features = window.GeoAppState.features;
  const t7 = performance.now();
  [...features].sort((a, b) => a.properties.name.localeCompare(b.properties.name, "zh-CN"));
  const t8 = performance.now();
  const collator = new Intl.Collator("zh-CN");
  [...features].sort((a, b) => collator.compare(a.properties.name, b.properties.name));
  const t9 = performance.now();
  return {bytes: text.length, features: data.features.length, parse: t1 - t0, build: t2 - t1, add: t3 - t2,
          draw: t4 - t3, buildLazy: t6 - t5, sort: t8 - t7, sortCollator: t9 - t8};
}
"""


def unavailable() -> str | None:
    """Why the browser section cannot run (None when it can)."""
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed"
    if not shutil.which(CHROMIUM):
        return f"no Chromium at {CHROMIUM}"
    return None


def chromium_version() -> str:
    """"Chromium 156.0…" as the browser says it."""
    try:
        out = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return "Chromium"
    return " ".join(out.split()[:2]) or "Chromium"


# --- servers ------------------------------------------------------------------------------------
def _tile_app(environ, start_response):
    """Every path is a 1x1 PNG, cacheable, with timing visible to the map's origin."""
    start_response("200 OK", [("Content-Type", "image/png"), ("Content-Length", str(len(PNG))),
                              ("Cache-Control", "public, max-age=86400"), ("Timing-Allow-Origin", "*"),
                              ("Access-Control-Allow-Origin", "*")])
    return [PNG]


@contextlib.contextmanager
def _serving(wsgi_app, threads: int = 8):
    """Serve a WSGI app with waitress on a free 127.0.0.1 port; yields the base URL."""
    from waitress import create_server

    server = create_server(wsgi_app, host="127.0.0.1", port=0, threads=threads, ident="geo_app")

    def run():
        with contextlib.suppress(OSError):  # close() pulls the socket from under the select loop
            server.run()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.task_dispatcher.shutdown(timeout=5)
        server.close()
        thread.join(timeout=5)


class Site:
    """One case: a temporary GeoPackage, the app over it, and a tile host."""

    def __init__(self, label: str, kind: str, tiles: str, tmp: Path, n: int = 0, seed: int = generate.DEFAULT_SEED):
        from geo_app import create_app
        from geo_app.config import load_config

        self.label, self.kind = label, kind
        overrides = {"data_dir": str(tmp), "database.url": "", "secret_key": "bench",
                     "map.tile_url": f"{tiles}/osm/{{z}}/{{x}}/{{y}}.png",
                     "map.amap_url": f"{tiles}/amap{{s}}/{{z}}/{{x}}/{{y}}.png", "map.amap_satellite_url": "",
                     "map.tianditu_key": "", "map.default_basemap": "osm"}
        if kind == "large":  # the whole synthetic province in view, so every estate is drawn
            minx, miny, maxx, maxy = generate.EXTENT
            overrides.update({"map.center_lon": (minx + maxx) / 2, "map.center_lat": (miny + maxy) / 2,
                              "map.zoom": 7})
        self.app = create_app(load_config(overrides=overrides, environ={}))
        self.store = self.app.extensions["geo_app.store"]
        t0 = time.perf_counter()
        if kind == "large":
            self.store.initialise()
            generate.load(self.store, n, seed)
        else:
            from geo_app.core.demo import ensure_store

            ensure_store(self.store)
        self.load_s = time.perf_counter() - t0
        from geo_app.storage import FeatureQuery

        self.estates = self.store.count("estates")
        self.first_id = self.store.features("estates", FeatureQuery(limit=1, with_geometry=False))[0].id

    def bump(self) -> None:
        """A real write that changes nothing: the revision moves on, so every cache misses."""
        with self.store.transaction() as tx:
            tx.update("estates", self.first_id, {})


# --- the browser ---------------------------------------------------------------------------------
def _new_page(browser, cache: bool):
    """A page in a new context; the DevTools protocol records each response's status (304s)."""
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    context.add_init_script(INIT_SCRIPT)
    page = context.new_page()
    page.errors, page.statuses = [], {}
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    cdp = context.new_cdp_session(page)
    cdp.on("Network.responseReceived",
           lambda e: page.statuses.__setitem__(e["response"]["url"], e["response"]["status"]))
    cdp.send("Network.enable")
    if not cache:
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    return context, page


def _load(page, url: str) -> dict:
    """Navigate and wait until drawn, then until the network is quiet; the page's own figures."""
    page.statuses.clear()
    page.goto(url, wait_until="commit", timeout=WAIT_MS)
    page.wait_for_function("window.__bench && window.__bench.painted !== null", timeout=WAIT_MS, polling=50)
    with contextlib.suppress(Exception):  # stats and the favicon may still be on their way
        page.wait_for_load_state("networkidle", timeout=10_000)
    marks = page.evaluate("window.__bench")
    entries = page.evaluate(ENTRIES_JS)
    origin = url.split("/", 3)[:3]
    app_entries = [e for e in entries if e["name"].split("/", 3)[:3] == origin]
    estates = [e for e in app_entries if "/api/estates?" in e["name"]]
    for e in app_entries:
        e["status"] = page.statuses.get(e["name"], e["status"])
    return {"ready": marks["ready"] / 1e3, "painted": marks["painted"] / 1e3, "app": app_entries,
            "tiles": len(entries) - len(app_entries), "estates": estates[-1] if estates else None,
            "dcl": (entries[0]["dcl"] or 0) / 1e3}


def _p95(values):
    values = sorted(values)
    return values[min(len(values) - 1, int(0.95 * len(values)))] if values else None


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _loads(browser, url: str, count: int, budget: float, cache: bool, before=None) -> tuple[list[dict], list[str]]:
    """Up to `count` loads within `budget` seconds; cold ones each in a fresh context."""
    results, errors = [], []
    deadline = time.perf_counter() + budget
    if cache:
        context, page = _new_page(browser, cache=True)
        _load(page, url)  # fills the cache; not timed
    for _ in range(max(1, count)):
        if before:
            before()
        if not cache:
            context, page = _new_page(browser, cache=False)
        results.append(_load(page, url))
        errors += page.errors
        page.errors.clear()
        if not cache:
            context.close()
        if time.perf_counter() > deadline:
            break
    if cache:
        context.close()
    return results, errors


def _bytes_note(load: dict) -> str:
    app = load["app"]
    cached = sum(1 for e in app if e["transfer"] == 0 and e["status"] != 304)
    revalidated = sum(1 for e in app if e["status"] == 304)
    gzipped = sum(1 for e in app if e["transfer"] and e["encoded"] < e["decoded"])
    return (f"{len(app)} requests to the app ({gzipped} gzip, {revalidated} × 304, {cached} from cache); "
            f"+{load['tiles']} tile requests elsewhere")


def _gzipped_size(base: str, entries: list[dict]) -> int:
    """The bytes of these responses had every uncompressed text one (≥ 1 kB) been gzipped."""
    total = 0
    for e in entries:
        if e["encoded"] < e["decoded"] or e["decoded"] < 1024:  # compressed already, or too small to
            total += e["encoded"]
            continue
        path = e["name"][len(base):] or "/"
        status, body, content_type = _fetch(base, path)
        text = status == 200 and not content_type.startswith(("image/png", "image/jpeg", "font/woff"))
        total += len(gzip.compress(body, 6)) if text else e["encoded"]
    return total


def measure_loads(browser, site: Site, base: str, args, rows: list[Row]) -> list[dict]:
    """Cold, warm and after-a-write loads: time to drawn, bytes and requests."""
    label, budget = site.label, BUDGETS[site.kind]
    url = base + "/"
    _loads(browser, url, 1, args.browser_budget, cache=False)  # warms the server: page shell, SQLite pages
    cold, errors = _loads(browser, url, args.loads, args.browser_budget, cache=False)
    warm, errors_w = _loads(browser, url, args.loads, args.browser_budget, cache=True)
    fresh, errors_f = _loads(browser, url, max(1, args.loads // 2 + 1), args.browser_budget, cache=False,
                             before=site.bump)
    errors += errors_w + errors_f
    painted = [r["painted"] for r in cold]
    ready = _median([r["ready"] for r in cold])
    rows.append(Row(label, "drawn, cold p50", _median(painted), peer=budget, samples=len(cold),
                    note=f"nav start → #map-ready {ready * 1e3:.0f} ms → next frame; HTTP cache off; "
                         f"peer = the issue's {budget:g} s"))
    rows.append(Row(label, "drawn, cold max", max(painted), peer=budget, samples=len(cold)))
    rows.append(Row(label, "drawn, warm p50", _median([r["painted"] for r in warm]), peer=_median(painted),
                    samples=len(warm), note="same context again: vendor files cached, API 304; peer = cold"))
    rows.append(Row(label, "drawn, first load after a write p50", _median([r["painted"] for r in fresh]),
                    peer=budget, samples=len(fresh), note="revision bumped first: the server encodes afresh"))
    first = cold[0]
    sent = sum(e["encoded"] for e in first["app"])
    raw = sum(e["decoded"] for e in first["app"])
    wire = sum(e["transfer"] for e in first["app"])
    rows.append(Row(label, "page bytes, cold (bodies as sent)", sent, "bytes", peer=raw, samples=len(first["app"]),
                    note=f"peer = uncompressed; {wire / 1e3:,.0f} kB on the wire with headers; " + _bytes_note(first)))
    could = _gzipped_size(base, first["app"])
    rows.append(Row(label, "page bytes, cold, if all text were gzipped", could, "bytes", peer=sent,
                    note="HTML, /static and /vendor gzipped too (level 6, measured here); peer = as sent"))
    est = first["estates"]
    if est:
        rows.append(Row(label, "  of which /api/estates map view", est["encoded"], "bytes", peer=est["decoded"],
                        note=f"{site.estates:,} estates; gzip / uncompressed"))
    last_warm = warm[-1]
    rows.append(Row(label, "page bytes, warm (on the wire)", sum(e["transfer"] for e in last_warm["app"]), "bytes",
                    peer=wire, samples=len(last_warm["app"]), note="headers + bodies; peer = cold on the wire; "
                                                                    + _bytes_note(last_warm)))
    if errors:
        rows.append(Row(label, "page errors", len(errors), "count", note="; ".join(sorted(set(errors)))[:200]))
    return cold


def measure_phases(browser, cold: list[dict], base: str, site: Site, rows: list[Row]) -> None:
    """Where a cold load's time goes: Resource Timing of the loads, then the planner's steps in the page."""
    label = site.label
    ests = [r["estates"] for r in cold if r["estates"]]
    if ests:
        rows.append(Row(label, "phase: scripts loaded (DOMContentLoaded)", _median([r["dcl"] for r in cold]),
                        samples=len(cold), note="from nav start"))
        rows.append(Row(label, "phase: /api/estates requested at", _median([e["start"] / 1e3 for e in ests]),
                        samples=len(ests), note="from nav start"))
        rows.append(Row(label, "phase: /api/estates server wait", _median(
            [(e["responseStart"] - e["requestStart"]) / 1e3 for e in ests]), samples=len(ests),
            note="request sent → first byte (query, encode, gzip)"))
        rows.append(Row(label, "phase: /api/estates download", _median(
            [(e["responseEnd"] - e["responseStart"]) / 1e3 for e in ests]), samples=len(ests)))
        rows.append(Row(label, "phase: response → #map-ready", _median(
            [r["ready"] - r["estates"]["responseEnd"] / 1e3 for r in cold if r["estates"]]), samples=len(ests),
            note="JSON parse, Leaflet layers, legend, list (planner.js)"))
        rows.append(Row(label, "phase: #map-ready → drawn", _median([r["painted"] - r["ready"] for r in cold]),
                        samples=len(cold), note="the frame in which the renderer draws"))
    context, page = _new_page(browser, cache=True)
    try:
        _load(page, base + "/")
        split = page.evaluate(PHASES_JS, {"url": base + MAP_URL})
    finally:
        context.close()
    n = split["features"]
    renderer = "canvas" if n > 3000 else "SVG"
    rows += [
        Row(label, "in page: JSON.parse", split["parse"] / 1e3, note=f"{split['bytes'] / 1e6:.1f} MB of text"),
        Row(label, "in page: build Leaflet layers", split["build"] / 1e3, peer=split["buildLazy"] / 1e3,
            note=f"{n:,} polygons, a DOM tooltip each (planner.js draws all only up to 3,000; beyond, "
                 "those in view, or office rings); peer = tooltip content as a function"),
        Row(label, "in page: add to map", split["add"] / 1e3, note=f"{renderer}: project + clip"),
        Row(label, "in page: first draw", split["draw"] / 1e3, note="to the next animation frame"),
        Row(label, "in page: list sort (localeCompare)", split["sort"] / 1e3, peer=split["sortCollator"] / 1e3,
            note="renderList's sort by name; peer = one Intl.Collator('zh-CN')"),
    ]


def city_view(site: Site) -> dict:
    """Zoom 12 on the estate nearest the province's centre: an old town and its neighbours."""
    from geo_app.storage import FeatureQuery

    minx, miny, maxx, maxy = generate.EXTENT
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    near = site.store.features("estates", FeatureQuery.where(bbox=(cx - 1, cy - 1, cx + 1, cy + 1), limit=500))
    if not near:
        return {"lon": cx, "lat": cy, "zoom": 12}
    c = min((f.geometry.centroid for f in near), key=lambda c: (c.x - cx) ** 2 + (c.y - cy) ** 2)
    return {"lon": c.x, "lat": c.y, "zoom": 12}


def measure_pan(browser, base: str, site: Site, rows: list[Row], view: dict | None = None, name: str = "") -> None:
    """10 animated panBy of PAN_PX and a zoom in and out after drawn: frame times and idle time."""
    from geo_app.storage import FeatureQuery

    label = site.label
    context, page = _new_page(browser, cache=True)
    try:
        _load(page, base + "/")
        got = page.evaluate(PAN_JS, {"pans": PANS, "px": PAN_PX, "waitMs": 10_000, "view": view})
    finally:
        context.close()
    in_view = site.store.count("estates", FeatureQuery.where(bbox=got["bounds"]))
    frames, baseline = sorted(got["frames"]), sorted(got["baseline"])
    p95 = _p95(frames)
    long = sum(1 for f in frames if f > 50)
    pans = [s["ms"] for s in got["steps"] if s["kind"] == "pan"]
    zooms = [s["ms"] for s in got["steps"] if s["kind"] == "zoom"]
    where = f"zoom {view['zoom']}, " if view else ""
    drawn = f"{got['rings']} office rings" if got["rings"] else f"{got['drawn']:,} polygons"
    note = (f"{where}{in_view:,} of {site.estates:,} estates in view, drawn as {drawn}; "
            f"{len(frames)} frames, {long} over 50 ms")
    if got["timeouts"]:
        note += f"; {got['timeouts']} steps never reached moveend"
    name = f" ({name})" if name else ""
    rows += [
        Row(label, f"pan+zoom frame p95{name}", p95 / 1e3 if p95 is not None else None,
            peer=_p95(baseline) / 1e3 if baseline else None, samples=len(frames),
            note=note + f"; peer = the map at rest for 1 s ({len(baseline)} frames, "
                        f"max {max(baseline, default=0):.0f} ms)"),
        Row(label, f"pan+zoom frame max{name}", frames[-1] / 1e3 if frames else None, samples=len(frames)),
        Row(label, f"pan step p50{name}", _median(pans) / 1e3, samples=len(pans),
            note=f"panBy {PAN_PX} px (0.25 s animation) → moveend → next frame"),
        Row(label, f"zoom step max{name}", max(zooms) / 1e3, samples=len(zooms),
            note="zoomIn / zoomOut → moveend → next frame"),
        Row(label, f"pan+zoom until idle{name}", got["idleMs"] / 1e3, samples=len(got["steps"]),
            note=f"{len(got['steps'])} steps; idle {got['idleAfterMs']:.0f} ms after the last one"),
    ]


def measure_profile(browser, base: str, site: Site, rows: list[Row]) -> None:
    """One cold load under the DevTools sampling profiler: main-thread time by script and the
    planner's functions (inclusive). The profiler slows the page a little."""
    context, page = _new_page(browser, cache=False)
    try:
        page.goto(base + "/api/health", timeout=WAIT_MS)  # same origin: the renderer stays for "/"
        cdp = context.new_cdp_session(page)
        cdp.send("Profiler.enable")
        cdp.send("Profiler.setSamplingInterval", {"interval": 250})
        cdp.send("Profiler.start")
        load = _load(page, base + "/")
        profile = cdp.send("Profiler.stop")["profile"]
    finally:
        context.close()
    nodes = {node["id"]: node for node in profile["nodes"]}
    parent = {child: node["id"] for node in profile["nodes"] for child in node.get("children", [])}
    by_script: dict[str, float] = {}
    planner: dict[str, float] = {}
    deltas = profile["timeDeltas"][1:] + [0]  # each sample lasts until the next
    for sample, delta in zip(profile["samples"], deltas):
        frame = nodes[sample]["callFrame"]
        key = frame["url"].rsplit("/", 1)[-1].split("?")[0] or frame["functionName"]
        by_script[key] = by_script.get(key, 0) + delta
        seen, node = set(), sample
        while node in nodes:
            f = nodes[node]["callFrame"]
            if f["url"].endswith("/planner.js") and f["functionName"] and f["functionName"] not in seen:
                seen.add(f["functionName"])
                planner[f["functionName"]] = planner.get(f["functionName"], 0) + delta
            node = parent.get(node)
    busy = sum(v for k, v in by_script.items() if k != "(idle)")
    label = site.label
    rows.append(Row(label, "profile: main thread busy", busy / 1e6, samples=len(profile["samples"]),
                    note=f"nav → network idle; drawn at {load['painted']:.2f} s under the profiler"))
    for key, value in sorted(by_script.items(), key=lambda kv: -kv[1])[:7]:
        if key != "(idle)":
            rows.append(Row(label, f"profile: {key} (self)", value / 1e6,
                            note="(program) = native: parsing, style, layout" if key == "(program)" else ""))
    for key, value in sorted(planner.items(), key=lambda kv: -kv[1])[:5]:
        rows.append(Row(label, f"profile: planner.js {key}()", value / 1e6, note="inclusive"))


def _fetch(base: str, path: str) -> tuple[int, bytes, str]:
    """GET without compression: status, body, content type."""
    host, port = base.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    try:
        conn.request("GET", path, headers={"Accept-Encoding": "identity"})
        response = conn.getresponse()
        return response.status, response.read(), response.getheader("Content-Type") or ""
    finally:
        conn.close()


def _get(base: str, path: str, headers: dict) -> tuple[int, int, float, str | None]:
    """One HTTP GET: status, body bytes as sent, seconds, ETag."""
    host, port = base.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    t0 = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - t0
    conn.close()
    if response.getheader("Content-Encoding") == "gzip":
        gzip.decompress(body)  # check it is whole
    return response.status, len(body), elapsed, response.getheader("ETag")


def measure_server(base: str, site: Site, args, rows: list[Row]) -> None:
    """/api/estates?view=map over HTTP: encoded afresh after a write, at the same revision, and 304."""
    label, budget = site.label, args.browser_budget
    results: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    etag = None
    deadline = time.perf_counter() + budget
    for i in range(3):
        for enc in ("gzip", "identity"):
            site.bump()
            status, size, elapsed, etag = _get(base, MAP_URL, {"Accept-Encoding": enc})
            assert status == 200, status
            results.setdefault(f"fresh {enc}", []).append(elapsed)
            sizes[enc] = size
            for _ in range(3 if i == 0 else 1):
                _, _, elapsed, etag = _get(base, MAP_URL, {"Accept-Encoding": enc})
                results.setdefault(f"same {enc}", []).append(elapsed)
        _, _, elapsed, _ = _get(base, MAP_URL, {"Accept-Encoding": "gzip", "If-None-Match": etag})
        results.setdefault("304", []).append(elapsed)
        if time.perf_counter() > deadline:
            break
    fresh_gzip = _median(results["fresh gzip"])
    rows += [
        Row(label, "server: /api/estates after a write, gzip p50", fresh_gzip, peer=_median(results["fresh identity"]),
            samples=len(results["fresh gzip"]), note="query + encode + gzip; peer = without gzip"),
        Row(label, "server: same revision again, gzip p50", _median(results["same gzip"]), peer=fresh_gzip,
            samples=len(results["same gzip"]), note="peer = after a write"),
        Row(label, "server: same revision again, no gzip p50", _median(results["same identity"]),
            peer=_median(results["fresh identity"]), samples=len(results["same identity"]),
            note="peer = after a write, no gzip"),
        Row(label, "server: 304 revalidation p50", _median(results["304"]), peer=fresh_gzip,
            samples=len(results["304"]), note="If-None-Match; peer = after a write"),
        Row(label, "server: body gzip vs identity", sizes["gzip"], "bytes", peer=sizes["identity"],
            note=f"{site.estates:,} estates; ratio = gzip / uncompressed"),
    ]


def bench_browser(args) -> list[Row]:
    """Both cases; a row saying why when Chromium or Playwright is missing."""
    reason = unavailable()
    if reason:
        return [Row("browser", "skipped", None, note=reason)]
    from playwright.sync_api import sync_playwright

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth" while Chromium fans out
    rows: list[Row] = []
    cases = [("demo", "demo", 0)]
    if args.browser_n:
        cases.append((f"N={args.browser_n:,}", "large", args.browser_n))
    with tempfile.TemporaryDirectory(prefix="geo_app_browser_") as tmp, _serving(_tile_app, threads=4) as tiles, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for label, kind, n in cases:
                t0 = time.perf_counter()
                data_dir = Path(tmp) / kind
                data_dir.mkdir()
                site = Site(label, kind, tiles, data_dir, n, args.seed)
                try:
                    with _serving(site.app) as base:
                        cold = measure_loads(browser, site, base, args, rows)
                        if kind == "large" or args.phases_demo:
                            measure_phases(browser, cold, base, site, rows)
                            measure_profile(browser, base, site, rows)
                        if kind == "large":
                            measure_pan(browser, base, site, rows, name="province")
                            measure_pan(browser, base, site, rows, view=city_view(site), name="city")
                        else:
                            measure_pan(browser, base, site, rows)
                        measure_server(base, site, args, rows)
                except Exception as exc:  # a broken case says so and the next one still runs
                    rows.append(Row(label, "failed", None, note=f"{type(exc).__name__}: {exc}"[:300]))
                finally:
                    site.store.close()
                print(f"browser {label}: {site.estates:,} estates loaded in {site.load_s:.1f} s, "
                      f"measured in {time.perf_counter() - t0:.0f} s", flush=True)
        finally:
            browser.close()
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The browser section's options (shared by run.py and this script)."""
    parser.add_argument("--browser-n", type=int, default=20000,
                        help="generated estates for the large map case (0 = demo data only)")
    parser.add_argument("--loads", type=int, default=5, help="timed page loads per kind (cold, warm)")
    parser.add_argument("--browser-budget", type=float, default=90.0,
                        help="max seconds for each series of loads or requests")
    parser.add_argument("--phases-demo", action="store_true",
                        help="also split the demo load into phases and profile it")


def print_table(rows: list[Row]) -> None:
    print(format_table(rows, first="case", peer="peer"))
    print("ours/peer = value / peer (time or bytes); each row's note names its peer.")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = bench_browser(args)
    print(f"\nPlanner map in {chromium_version()} (headless), {VIEWPORT['width']}x{VIEWPORT['height']}; "
          f"{args.loads} loads per kind; {os.cpu_count()} CPUs, load "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; total {time.perf_counter() - started:.0f} s")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
