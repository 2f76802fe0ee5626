"""Deterministic synthetic data for benchmarks: street offices and old estates over a province.

The extent is Shandong-like (lon 115.0-122.5, lat 34.4-38.3). Street offices are the cells of a
grid that is square-ish in metres; each office's estates sit in a compact "old town" core inside
its cell, one estate per slot of a regular grid, so estates never overlap and a 1 km² box holds a
realistic handful of them whatever N is. Estate outlines are rotated rectangles 50-300 m a side,
built in metres around the core centre and turned into lon/lat with geodesic offsets
(`pyproj.Geod.fwd`, i.e. an exact azimuthal-equidistant projection centred on the core), never by
treating degrees as metres. Every value passes `LayerDef.clean` and uses geo_app's vocabularies.

Same (n, seed) -> same data, byte for byte: everything random comes from one numpy default_rng.

    python bench/generate.py --n 200000 --url gpkg:///tmp/bench.gpkg
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import time
from pathlib import Path

import numpy as np
import shapely
from pyproj import Geod

from geo_app.domain import MANAGEMENT_MODES, RENOVATION_ITEMS
from geo_app.storage import Feature

EXTENT = (115.0, 34.4, 122.5, 38.3)  # lon/lat box of the synthetic province
ESTATES_PER_OFFICE = 150
SLOT_PITCH_M = 450.0  # distance between estate centres in an office's core
SIDE_RANGE_M = (50.0, 300.0)
BATCHES = tuple(range(2014, 2022))
DEFAULT_SEED = 20210720  # the date of the housing bureau's letter

_GEOD = Geod(ellps="WGS84")
_CITIES = ("济南", "青岛", "淄博", "枣庄", "东营", "烟台", "潍坊", "济宁",
           "泰安", "威海", "日照", "临沂", "德州", "聊城", "滨州", "菏泽")
_NAME_HEADS = ("和平", "幸福", "建设", "光明", "文化", "胜利", "新华", "友谊", "团结", "阳光",
               "工人", "电业", "矿务", "铁路", "纺织", "粮食", "供销", "邮电", "机械", "化工")
_NAME_TAILS = ("小区", "花园", "新村", "家属院", "宿舍", "里")
_ROADS = ("人民", "解放", "建设", "中山", "文化", "青年", "和平", "光明")
_PROGRAMME = "老旧小区改造"
_PROGRAMME_2019_SPLIT = "三供一业"  # the 2019 batch is reported in two programmes
# Batch weights rise over the years as the programme grew; None is "not yet scheduled".
_BATCH_WEIGHTS = np.array([0.04, 0.05, 0.06, 0.08, 0.10, 0.13, 0.14, 0.15, 0.25])


def offices_for(n_estates: int) -> int:
    """How many street offices N estates are spread over (about 150 estates each)."""
    return max(1, round(n_estates / ESTATES_PER_OFFICE))


def office_cells(n_offices: int) -> np.ndarray:
    """(n_offices, 4) lon/lat bounds of the offices' grid cells, row by row from the south-west.

    The grid's columns and rows are chosen so that cells are about square in metres at the
    province's middle latitude; the last row may be partly empty.
    """
    minx, miny, maxx, maxy = EXTENT
    mid_lat = (miny + maxy) / 2
    width_m = _GEOD.inv(minx, mid_lat, maxx, mid_lat)[2]
    height_m = _GEOD.inv(minx, miny, minx, maxy)[2]
    cols = max(1, round(math.sqrt(n_offices * width_m / height_m)))
    rows = math.ceil(n_offices / cols)
    dx, dy = (maxx - minx) / cols, (maxy - miny) / rows
    index = np.arange(n_offices)
    x0 = minx + (index % cols) * dx
    y0 = miny + (index // cols) * dy
    return np.column_stack([x0, y0, x0 + dx, y0 + dy])


def office_name(i: int) -> tuple[str, str, str]:
    """(code, name, kind) of office i: derived from the index alone so names are stable."""
    kind = "town" if i % 3 == 2 else "street"
    city = _CITIES[i % len(_CITIES)]
    serial = i // len(_CITIES) + 1
    return f"SO{i + 1:05d}", f"{city}{serial}{'镇' if kind == 'town' else '街道'}", kind


def generate_offices(n_offices: int, seed: int = DEFAULT_SEED) -> list[Feature]:
    """The street offices: grid cells as MultiPolygons. `seed` is accepted for symmetry; the
    offices depend on their count only, so any seed's estates fit them."""
    del seed
    cells = office_cells(n_offices)
    features = []
    for i, (x0, y0, x1, y1) in enumerate(cells.tolist()):
        code, name, kind = office_name(i)
        geom = shapely.MultiPolygon([shapely.box(x0, y0, x1, y1)])
        features.append(Feature(None, {"code": code, "name": name, "kind": kind}, geom))
    return features


def _estates_per_office(rng: np.random.Generator, n: int, n_offices: int) -> np.ndarray:
    """Uneven office sizes (log-normal weights), summing to n."""
    weights = rng.lognormal(0.0, 0.4, n_offices)
    return rng.multinomial(n, weights / weights.sum())


def _cell_size_m(cells: np.ndarray) -> np.ndarray:
    """(n, 2) usable width and height in metres of each cell: its north edge is the narrowest."""
    width = _GEOD.inv(cells[:, 0], cells[:, 3], cells[:, 2], cells[:, 3])[2]
    height = _GEOD.inv(cells[:, 0], cells[:, 1], cells[:, 0], cells[:, 3])[2]
    return np.column_stack([width, height]) * 0.9  # 5% margin on every side


def estate_outlines(rng: np.random.Generator, cells: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estate polygons (shapely array, grouped by office) plus their sides in metres (w, h).

    Per office: a square grid of slots of pitch <= 450 m holds its estates; the grid sits at a
    random spot of the cell. Each estate is a w x h rectangle, rotated, jittered inside its slot
    and kept within it so neighbours never overlap.
    """
    n = int(counts.sum())
    office = np.repeat(np.arange(len(cells)), counts)
    side = np.ceil(np.sqrt(np.maximum(counts, 1))).astype(int)
    usable = _cell_size_m(cells)
    pitch = np.minimum(SLOT_PITCH_M, usable.min(axis=1) / side)
    # Core centre: cell centre plus a random offset that keeps the whole core inside the cell.
    room = np.maximum(usable - (side * pitch)[:, None], 0.0) / 2
    shift = rng.uniform(-1.0, 1.0, (len(cells), 2)) * room
    centre_lon, centre_lat = _offset((cells[:, 0] + cells[:, 2]) / 2, (cells[:, 1] + cells[:, 3]) / 2,
                                     shift[:, 0], shift[:, 1])
    # Slots: a random choice of counts[i] distinct slots out of side[i]**2, per office.
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.empty(n, dtype=int)
    for i in np.flatnonzero(counts):
        slot[first[i]:first[i] + counts[i]] = rng.permutation(side[i] ** 2)[:counts[i]]
    s, p = side[office], pitch[office]
    slot_x = (slot % s - (s - 1) / 2) * p
    slot_y = (slot // s - (s - 1) / 2) * p
    # Sides 50-300 m; shrink both when the rectangle's diagonal would leave its slot.
    w, h = rng.uniform(*SIDE_RANGE_M, n), rng.uniform(*SIDE_RANGE_M, n)
    fit = np.minimum(1.0, 0.9 * p / np.hypot(w, h))
    w, h = w * fit, h * fit
    slack = (0.9 * p - np.hypot(w, h)) / 2
    cx = slot_x + rng.uniform(-1, 1, n) * slack
    cy = slot_y + rng.uniform(-1, 1, n) * slack
    theta = rng.uniform(0, np.pi, n)
    # Corners counter-clockwise in local east/north metres, closed ring of 5.
    ux = np.array([-0.5, 0.5, 0.5, -0.5, -0.5])
    uy = np.array([-0.5, -0.5, 0.5, 0.5, -0.5])
    ex, ey = ux[None, :] * w[:, None], uy[None, :] * h[:, None]
    cos, sin = np.cos(theta)[:, None], np.sin(theta)[:, None]
    east = cx[:, None] + ex * cos - ey * sin
    north = cy[:, None] + ex * sin + ey * cos
    lon, lat = _offset(np.repeat(centre_lon[office], 5), np.repeat(centre_lat[office], 5),
                       east.ravel(), north.ravel())
    rings = np.stack([lon.reshape(n, 5), lat.reshape(n, 5)], axis=-1)
    polygons = shapely.polygons(rings)
    multi = np.array([shapely.MultiPolygon([poly]) for poly in polygons], dtype=object)
    return multi, w, h


def _offset(lon, lat, east_m, north_m):
    """Points east/north metres away from (lon, lat) along geodesics (exact inverse azimuthal
    equidistant projection centred on each origin)."""
    east_m, north_m = np.asarray(east_m, float), np.asarray(north_m, float)
    azimuth = np.degrees(np.arctan2(east_m, north_m))
    distance = np.hypot(east_m, north_m)
    lon2, lat2, _ = _GEOD.fwd(np.broadcast_to(lon, distance.shape), np.broadcast_to(lat, distance.shape),
                              azimuth, distance)
    return np.asarray(lon2), np.asarray(lat2)


def _status_for(rng: np.random.Generator, batch: np.ndarray) -> np.ndarray:
    """Renovation status by batch year, as of mid-2021: old batches accepted, new ones planned."""
    codes = np.array(["planned", "under_construction", "completed", "accepted"])
    table = {2019: [0.0, 0.10, 0.30, 0.60], 2020: [0.0, 0.40, 0.40, 0.20], 2021: [0.5, 0.5, 0.0, 0.0]}
    status = np.full(len(batch), "unscheduled", dtype=object)
    for year in BATCHES:
        rows = np.flatnonzero(batch == year)
        probs = table.get(year, [0.0, 0.0, 0.15, 0.85])
        status[rows] = codes[rng.choice(4, size=len(rows), p=probs)]
    return status


def _items(rng: np.random.Generator, n: int) -> list[list[str]]:
    """For each estate a planned list of 3-9 renovation items, in vocabulary order."""
    codes = np.array(RENOVATION_ITEMS.codes())
    order = np.argsort(rng.random((n, len(codes))), axis=1)
    sizes = rng.integers(3, 10, n)
    return [codes[np.sort(order[i, :sizes[i]])].tolist() for i in range(n)]


def _date(year: int, day_of_year: int) -> str:
    return (dt.date(year, 1, 1) + dt.timedelta(days=int(day_of_year))).isoformat()


def estate_properties(rng: np.random.Generator, office_of: np.ndarray, office_names: list[str]) -> list[dict]:
    """Attribute dicts for every estate; office_of[i] is the index of estate i's office."""
    n = len(office_of)
    batch_pick = rng.choice(len(_BATCH_WEIGHTS), size=n, p=_BATCH_WEIGHTS / _BATCH_WEIGHTS.sum())
    batch = np.where(batch_pick < len(BATCHES), np.array([*BATCHES, 0])[batch_pick], 0)
    status = _status_for(rng, batch)
    buildings = rng.integers(1, 31, n)
    households = buildings * rng.integers(12, 61, n)
    floor_area = np.round(households * rng.uniform(55, 90, n), 1)
    investment = floor_area * rng.uniform(150, 450, n) / 1e4  # 万元
    shares = rng.dirichlet([4, 2, 1, 1, 0.5], n)
    progress = rng.uniform(5, 95, n)
    items = _items(rng, n)
    done_share = rng.uniform(0.1, 0.9, n)
    modes = MANAGEMENT_MODES.codes()
    mode = rng.integers(0, len(modes), n)
    days = rng.integers(0, 200, (n, 4))
    heads, tails = rng.integers(0, len(_NAME_HEADS), n), rng.integers(0, len(_NAME_TAILS), n)
    year_built = rng.integers(1960, 2001, n)
    numbers = rng.integers(1, 300, n)
    return [_one_estate(i, office_names[office_of[i]], int(batch[i]), status[i], int(buildings[i]),
                        int(households[i]), float(floor_area[i]), investment[i] * shares[i],
                        float(progress[i]), items[i], float(done_share[i]), modes[mode[i]],
                        days[i].tolist(), _NAME_HEADS[heads[i]] + _NAME_TAILS[tails[i]],
                        int(year_built[i]), int(numbers[i]))
            for i in range(n)]


def _one_estate(i, office, batch, status, buildings, households, floor_area, inv, progress, items,
                done_share, mode, days, name, year_built, number) -> dict:
    """One estate's properties, consistent across status, progress, items and dates."""
    scheduled = status != "unscheduled"
    started = status in ("under_construction", "completed", "accepted")
    finished = status in ("completed", "accepted")
    if finished:
        done = items
    elif started:
        done = items[:max(1, int(len(items) * done_share))]
    else:
        done = []
    planned_start = _date(batch, 60 + days[0] // 2) if scheduled else None
    start = _date(batch, 90 + days[1]) if started else None
    completion = _date(batch + 1, days[2] // 2) if finished else None
    acceptance = _date(batch + 1, 100 + days[3] // 2) if status == "accepted" else None
    funds = [round(float(v), 1) for v in inv] if scheduled else [None] * 5
    programme = None
    if scheduled:
        programme = _PROGRAMME_2019_SPLIT if batch == 2019 and i % 5 == 0 else _PROGRAMME
    return {
        "code": f"E{i + 1:07d}", "name": f"{name}{number % 9 + 1}区", "street_office": office,
        "zone": f"{office}第{number % 4 + 1}片区", "address": f"{office}{_ROADS[number % 8]}路{number}号",
        "year_built": year_built, "buildings": buildings, "households": households,
        "floor_area_m2": floor_area, "batch": batch if scheduled else None, "programme": programme,
        "status": status, "progress_pct": (100.0 if finished else round(progress, 1) if started
                                           else 0.0 if scheduled else None),
        "inv_subsidy": funds[0], "inv_district": funds[1], "inv_town": funds[2],
        "inv_utility": funds[3], "inv_residents": funds[4],
        "items_planned": ",".join(items) if scheduled else None,
        "items_done": ",".join(done) if done else None,
        "management": mode if finished or (scheduled and i % 3 == 0) else None,
        "planned_start": planned_start, "start_date": start,
        "completion_date": completion, "acceptance_date": acceptance,
    }


def generate_estates(n: int, seed: int = DEFAULT_SEED) -> list[Feature]:
    """N estates over `offices_for(n)` offices (names match `generate_offices`), as Features."""
    rng = np.random.default_rng(seed)
    n_offices = offices_for(n)
    cells = office_cells(n_offices)
    counts = _estates_per_office(rng, n, n_offices)
    geoms, _, _ = estate_outlines(rng, cells, counts)
    office_of = np.repeat(np.arange(n_offices), counts)
    names = [office_name(i)[1] for i in range(n_offices)]
    props = estate_properties(rng, office_of, names)
    return [Feature(None, p, g) for p, g in zip(props, geoms)]


def write_offices(store, offices: list[Feature]) -> list[int]:
    """Write the street offices in one transaction; returns their ids."""
    with store.transaction() as tx:
        return tx.insert("street_offices", offices)


def write_estates(store, estates: list[Feature], batch_size: int = 5000) -> list[int]:
    """Write estates, one transaction per batch_size of them (a failed batch rolls back alone,
    and no transaction holds the write lock for minutes); returns their ids in order."""
    ids: list[int] = []
    for start in range(0, len(estates), max(1, batch_size)):
        with store.transaction() as tx:
            ids.extend(tx.insert("estates", estates[start:start + batch_size]))
    return ids


def write(store, offices: list[Feature], estates: list[Feature], batch_size: int = 5000) -> list[int]:
    """Write offices then estates (offices first: estates name them); returns estate ids."""
    write_offices(store, offices)
    return write_estates(store, estates, batch_size)


def load(store, n: int, seed: int = DEFAULT_SEED, batch_size: int = 5000) -> dict:
    """Generate and write N estates and their offices into an initialised store; returns timings."""
    t0 = time.perf_counter()
    offices, estates = generate_offices(offices_for(n), seed), generate_estates(n, seed)
    t1 = time.perf_counter()
    write(store, offices, estates, batch_size)
    t2 = time.perf_counter()
    return {"estates": n, "offices": len(offices), "generate_s": t1 - t0, "write_s": t2 - t1,
            "estates_per_s": n / (t2 - t1) if t2 > t1 else float("inf")}


def _layers():
    from geo_app.layers import load_layers

    return load_layers(Path(__file__).resolve().parent.parent / "layers")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000, help="number of estates (default 20000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--url", required=True, help="gpkg:///abs/path.gpkg or postgresql://…")
    parser.add_argument("--batch-size", type=int, default=5000, help="estates per transaction")
    parser.add_argument("--replace", action="store_true", help="drop the store first (deletes its data!)")
    args = parser.parse_args(argv)
    from geo_app.storage import open_store

    store = open_store(args.url, _layers())
    try:
        if args.replace:
            store.drop()
        store.initialise()
        if store.count("estates"):
            print(f"{store.description} already holds estates; use --replace", file=sys.stderr)
            return 2
        result = load(store, args.n, args.seed, args.batch_size)
    finally:
        store.close()
    print(f"{store.description}: {result['offices']} offices, {result['estates']} estates; "
          f"generated in {result['generate_s']:.1f} s, written in {result['write_s']:.1f} s "
          f"({result['estates_per_s']:,.0f} estates/s, {args.batch_size} per transaction)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
