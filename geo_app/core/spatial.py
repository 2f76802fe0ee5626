"""Spatial questions planners and inspectors ask, answered on any store.

- Which street office an estate belongs to by its geometry: the one containing it, or the one it
  overlaps most when it straddles a boundary; straddlers and estates whose `street_office`
  attribute disagrees with their geometry are reported.
- Estates near a point (geodesic distance to the edge, 0 inside, with bearing), k nearest.
- What contains a point; what meets a drawn polygon or a buffer around a road.
- A data QA report.
The stores do the spatial work (SQL in PostGIS, R-tree + shapely in a GeoPackage).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import shapely
from shapely.geometry import shape

from ..errors import InvalidParameter, NotFound
from ..storage import Feature, FeatureQuery, Store
from .geodesy import local_transformer, to_local

# A piece of an estate smaller than this share of its area, on the far side of a boundary, is
# digitising noise, not a straddle.
STRADDLE_SHARE = 0.01
MAX_BUFFER_M = 5_000
MAX_QUERY_VERTICES = 10_000


@dataclass(frozen=True)
class Membership:
    """Where an estate lies: the office by geometry, the office its attribute names, and flags."""

    estate_id: int
    office: str | None  # office name by geometry (most overlap), None when outside every office
    attribute_office: str | None
    shares: dict  # office name -> share of the estate's area in it
    straddles: bool
    mismatch: bool


def memberships(store: Store, query: FeatureQuery | None = None) -> list[Membership]:
    """Each estate's office by geometry (filtered estates only), with straddle and mismatch flags."""
    estates = store.features("estates", _attributes_only(query))
    names = {f.id: f.properties["name"] for f in store.features("street_offices", FeatureQuery(with_geometry=False))}
    overlaps: dict[int, dict] = {}
    for estate_id, office_id, area in store.intersection_areas("estates", "street_offices", query):
        overlaps.setdefault(estate_id, {})[names[office_id]] = area
    result = []
    for estate in estates:
        areas = overlaps.get(estate.id, {})
        total = estate.properties.get("land_area_m2") or sum(areas.values()) or 1.0
        shares = {name: area / total for name, area in areas.items() if area / total >= STRADDLE_SHARE}
        office = max(shares, key=shares.get) if shares else None
        attribute = estate.properties.get("street_office")
        result.append(Membership(estate.id, office, attribute, shares, len(shares) > 1,
                                 office is not None and office != attribute))
    return result


def _attributes_only(query: FeatureQuery | None) -> FeatureQuery:
    return dataclasses.replace(query or FeatureQuery(), with_geometry=False)


def district_outline(store: Store):
    """The stored district's outline (all its parts as one geometry), or None when the store has
    none; edits check boundaries against it, imports their distance from it."""
    if "district" not in store.layers:
        return None
    shapes = [f.geometry for f in store.features("district") if f.geometry is not None]
    return shapely.union_all(shapes) if shapes else None


def office_by_code(store: Store, code: str) -> Feature:
    """A street office by its code; NotFound naming the code."""
    found = store.features("street_offices", FeatureQuery.where(code=code))
    if not found:
        raise NotFound(f"no street office with code {code!r}")
    return found[0]


def estates_of_office(store: Store, code: str) -> tuple[Feature, list[Feature], dict[int, Membership]]:
    """The office, the estates that belong to it by geometry, and their memberships."""
    office = office_by_code(store, code)
    # Only estates meeting the office can belong to it: let the store's index find those first.
    near = memberships(store, FeatureQuery.where(intersects=office.geometry))
    mine = {m.estate_id: m for m in near if m.office == office.properties["name"]}
    estates = store.features("estates", FeatureQuery(ids=tuple(mine), order_by="name")) if mine else []
    return office, estates, mine


def check_point(lon, lat) -> tuple[float, float]:
    """A WGS84 longitude/latitude pair, or a 400 naming the bad coordinate."""
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError):
        raise InvalidParameter("lon and lat must be numbers (WGS84 degrees)", parameter="lon") from None
    if not -180 <= lon <= 180:
        raise InvalidParameter(f"lon must be between -180 and 180, got {lon}", parameter="lon")
    if not -90 <= lat <= 90:
        raise InvalidParameter(f"lat must be between -90 and 90, got {lat}", parameter="lat")
    return lon, lat


def locate(store: Store, lon: float, lat: float) -> dict:
    """The street office and the estate containing a point (None where there is none)."""
    point = shapely.Point(lon, lat)
    office = store.features("street_offices", FeatureQuery.where(intersects=point, with_geometry=False))
    estate = store.features("estates", FeatureQuery.where(intersects=point, with_geometry=False))
    return {"street_office": office[0] if office else None, "estate": estate[0] if estate else None}


def geometry_from_geojson(value) -> shapely.Geometry:
    """A drawn polygon or a road line from a request body, checked; 400 naming `geometry` if bad."""
    if not isinstance(value, dict) or value.get("type") not in ("Polygon", "MultiPolygon", "LineString",
                                                                  "MultiLineString", "Point"):
        raise InvalidParameter("geometry must be a GeoJSON Polygon, MultiPolygon, LineString, "
                               "MultiLineString or Point", parameter="geometry")
    try:
        geom = shape(value)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, shapely.errors.ShapelyError) as exc:
        raise InvalidParameter(f"geometry is not valid GeoJSON: {exc}", parameter="geometry") from None
    if geom.is_empty or shapely.get_num_coordinates(geom) > MAX_QUERY_VERTICES:
        raise InvalidParameter(f"geometry must be non-empty with at most {MAX_QUERY_VERTICES} vertices",
                               parameter="geometry")
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise InvalidParameter("geometry coordinates must be WGS84 longitude/latitude", parameter="geometry")
    if not geom.is_valid:
        raise InvalidParameter(f"geometry is invalid: {shapely.is_valid_reason(geom)}", parameter="geometry")
    return geom


def buffered(geom, buffer_m: float) -> shapely.Geometry:
    """The geometry grown by `buffer_m` metres, measured in a projection centred on it."""
    if not 0 <= buffer_m <= MAX_BUFFER_M:
        raise InvalidParameter(f"buffer_m must be between 0 and {MAX_BUFFER_M}", parameter="buffer_m")
    if buffer_m == 0:
        return geom
    centre = geom.centroid
    local = local_transformer("aeqd", centre.x, centre.y)
    grown = shapely.buffer(to_local(geom, local), buffer_m, quad_segs=16)
    return to_local(grown, local, inverse=True)


def estates_meeting(store: Store, geom, buffer_m: float = 0, query: FeatureQuery | None = None) -> list[Feature]:
    """Estates meeting a drawn polygon, or a buffer around a line (a road under works)."""
    area = buffered(geom, buffer_m)  # with 0 m a bare line still selects the estates it crosses
    return store.features("estates", dataclasses.replace(query or FeatureQuery(), intersects=area))


def qa_report(store: Store) -> dict:
    """Data QA: overlapping estates, estates outside the district, invalid or empty geometries,
    attribute/geometry mismatches and straddlers."""
    estates = store.features("estates", FeatureQuery(with_geometry=False))
    names = {f.id: (f.properties["code"], f.properties["name"]) for f in estates}
    land = {f.id: f.properties.get("land_area_m2") or 0 for f in estates}
    overlaps = [{"estates": [_ref(a, names), _ref(b, names)], "area_m2": round(area, 1)}
                for a, b, area in store.intersection_areas("estates", "estates") if area >= 1.0]
    inside: dict[int, float] = {}
    for estate_id, _district, area in store.intersection_areas("estates", "district"):
        inside[estate_id] = inside.get(estate_id, 0.0) + area
    outside = [{**_ref(i, names), "outside_m2": round(land[i] - inside.get(i, 0.0), 1)}
               for i in names if land[i] - inside.get(i, 0.0) > max(1.0, 0.001 * land[i])]
    members = memberships(store)
    return {
        "revision": store.revision(),
        "overlapping_estates": overlaps,
        "outside_district": outside,
        "invalid_geometries": [{"layer": layer, "id": i, "reason": reason}
                               for layer in ("estates", "street_offices", "zones", "district")
                               for i, reason in store.invalid_geometries(layer)],
        "attribute_mismatches": [{**_ref(m.estate_id, names), "attribute": m.attribute_office,
                                  "by_geometry": m.office} for m in members if m.mismatch],
        "straddling_estates": [{**_ref(m.estate_id, names),
                                "shares": {k: round(v, 4) for k, v in m.shares.items()}}
                               for m in members if m.straddles],
        "outside_every_office": [_ref(m.estate_id, names) for m in members if m.office is None],
    }


def _ref(estate_id: int, names: dict) -> dict:
    code, name = names[estate_id]
    return {"id": estate_id, "code": code, "name": name}
