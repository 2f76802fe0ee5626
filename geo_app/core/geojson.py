"""The one GeoJSON encoder: every coordinate that leaves the server passes through here.

RFC 7946: WGS84 longitude/latitude, exterior rings counter-clockwise, no `crs` member; coordinates
rounded to a fixed precision (7 decimals is about 1 cm) so payloads stay small and stable.
"""

from __future__ import annotations

import json
import re
from typing import Iterable, Iterator

import numpy as np
import shapely

from ..errors import InvalidParameter
from ..storage import Feature
from .geodesy import transform_geometry, wgs84_to_gcj02

DEFAULT_PRECISION = 7
MAX_PRECISION = 15  # decimals of a degree; beyond this a double has no more digits to give
# Output coordinate systems. GCJ-02 is for Amap (高德) basemaps and tools, whose tiles are drawn in
# it: WGS84 overlays would sit ~540 m off their streets there.
COORDINATE_SYSTEMS = ("wgs84", "gcj02")


def check_coordinate_system(name: str | None) -> str:
    """The output coordinate system asked for ("wgs84" when none), or a 400 naming `coords`."""
    name = (name or "wgs84").lower()
    if name not in COORDINATE_SYSTEMS:
        raise InvalidParameter(f"coords must be one of {', '.join(COORDINATE_SYSTEMS)}, got {name!r}",
                               parameter="coords")
    return name


def geometry_to_geojson(geom, precision: int = DEFAULT_PRECISION, coords: str = "wgs84") -> dict | None:
    """A shapely geometry as a GeoJSON geometry dict: counter-clockwise exteriors, rounded."""
    if geom is None:
        return None
    return shapely.geometry.mapping(_prepare(np.array([geom], dtype=object), precision, coords)[0])


def feature_to_geojson(feature: Feature, precision: int = DEFAULT_PRECISION, coords: str = "wgs84") -> dict:
    """One feature as a GeoJSON Feature with its id."""
    return {
        "type": "Feature",
        "id": feature.id,
        "properties": dict(feature.properties),
        "geometry": geometry_to_geojson(feature.geometry, precision, coords),
    }


def feature_collection(features: Iterable[Feature], precision: int = DEFAULT_PRECISION, coords: str = "wgs84",
                       **members) -> dict:
    """A GeoJSON FeatureCollection; extra members (e.g. numberMatched) are added at the top.

    In GCJ-02 the collection says so (`coordinateSystem`), as RFC 7946 has no place for it.
    """
    features = list(features)
    if coords != "wgs84":
        members = {"coordinateSystem": "GCJ-02", **members}
    # One vectorised pass over all geometries: per-feature calls dominate at 20,000 estates.
    geometries = _mappings(_prepare(np.array([f.geometry for f in features], dtype=object), precision, coords))
    return {"type": "FeatureCollection", **members, "features": [
        {"type": "Feature", "id": f.id, "properties": dict(f.properties), "geometry": g}
        for f, g in zip(features, geometries)]}


_POLYGON, _MULTIPOLYGON = 3, 6  # shapely.get_type_id


def _mappings(geoms: np.ndarray) -> list[dict | None]:
    """`shapely.geometry.mapping` of each geometry (None stays None), equal to it value for value.

    2D polygons and multipolygons, nearly every geometry served, have their coordinates read in
    one pass for all of them (per-geometry `mapping` took ~2 s for 20,000 estates); any other
    geometry, or one with Z or an empty part, goes through `mapping` itself.
    """
    out: list[dict | None] = [None] * len(geoms)
    if not len(geoms):
        return out
    types = shapely.get_type_id(geoms)
    plain = ~shapely.is_empty(geoms) & ~shapely.has_z(geoms)
    poly_rows = np.flatnonzero(plain & (types == _POLYGON))
    multi_rows = np.flatnonzero(plain & (types == _MULTIPOLYGON))
    parts, part_of = shapely.get_parts(geoms[multi_rows], return_index=True)
    if len(parts) and shapely.is_empty(parts).any():  # MULTIPOLYGON (EMPTY, …): leave it to mapping
        keep = np.ones(len(multi_rows), dtype=bool)
        keep[part_of[shapely.is_empty(parts)]] = False
        multi_rows = multi_rows[keep]
        parts, part_of = shapely.get_parts(geoms[multi_rows], return_index=True)
    polygons = np.concatenate([geoms[poly_rows], parts])
    if len(polygons):
        rings, ring_of = shapely.get_rings(polygons, return_index=True)
        ends = np.cumsum(shapely.get_num_coordinates(rings)).tolist()
        xy = shapely.get_coordinates(rings)
        points = list(zip(xy[:, 0].tolist(), xy[:, 1].tolist()))
        ring_coords = [tuple(points[start:end]) for start, end in zip([0, *ends[:-1]], ends)]
        polygon_coords, r = [], 0
        for k in np.bincount(ring_of, minlength=len(polygons)).tolist():
            polygon_coords.append(tuple(ring_coords[r:r + k]))  # exterior, then holes
            r += k
        for i, row in enumerate(poly_rows.tolist()):
            out[row] = {"type": "Polygon", "coordinates": polygon_coords[i]}
        p = len(poly_rows)
        for row, k in zip(multi_rows.tolist(), np.bincount(part_of, minlength=len(multi_rows)).tolist()):
            out[row] = {"type": "MultiPolygon", "coordinates": polygon_coords[p:p + k]}
            p += k
    done = np.zeros(len(geoms), dtype=bool)
    done[poly_rows] = done[multi_rows] = True
    for row in np.flatnonzero(~done).tolist():
        if geoms[row] is not None:
            out[row] = shapely.geometry.mapping(geoms[row])
    return out


def check_precision(value, name: str = "precision") -> int:
    """Decimals of a degree to keep (7 is about 1 cm, 6 about 10 cm, 5 about 1 m), or a 400."""
    try:
        precision = int(value)
    except (TypeError, ValueError):
        raise InvalidParameter(f"{name} must be a whole number of decimals, got {value!r}", parameter=name) from None
    if not 1 <= precision <= MAX_PRECISION:
        raise InvalidParameter(f"{name} must be between 1 and {MAX_PRECISION}, got {precision}", parameter=name)
    return precision


def prepare_geometries(geoms, precision: int = DEFAULT_PRECISION, coords: str = "wgs84") -> np.ndarray:
    """Geometries as they leave the server: shifted to GCJ-02 on request, exteriors counter-clockwise
    and holes clockwise (RFC 7946), rounded to `precision` decimals. Every export format takes its
    coordinates from here, so a CSV and a GeoJSON of the same estates agree to the last digit."""
    return _prepare(np.asarray(geoms, dtype=object), precision, coords)


# Stands in for each geometry while the properties are encoded in one json call, then is replaced
# by the geometry's GEOS-written text: one C-level pass per page instead of a call per feature.
# A NUL can sit in stored text, so the split is checked and falls back when a value contains it.
_SENTINEL = "\x00geometry"
_SENTINEL_JSON = json.dumps(_SENTINEL)
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False,
                           allow_nan=False).encode


def encode_features(ids: list, properties: list[dict], geoms: np.ndarray, with_bbox: bool = False,
                    precision: int = DEFAULT_PRECISION) -> str:
    """Features as GeoJSON text, comma-separated (the inside of a `features` array).

    `geoms` must come from `prepare_geometries` with the same `precision`; Chinese text stays
    UTF-8, not \\u escapes.
    """
    if not len(ids):
        return ""
    texts = _shortest_numbers(shapely.to_geojson(geoms).tolist(), precision)
    features = [{"type": "Feature", "id": i, "properties": p, "geometry": _SENTINEL} for i, p in zip(ids, properties)]
    if with_bbox:
        for feature, box, g in zip(features, shapely.bounds(geoms).tolist(), geoms):
            if g is not None and not g.is_empty:
                feature["bbox"] = box
    parts = _ENCODE(features)[1:-1].split(_SENTINEL_JSON)
    if len(parts) != len(texts) + 1:  # a property held the sentinel: encode the slow, sure way
        for feature, text in zip(features, texts):
            feature["geometry"] = json.loads(text)
        return _ENCODE(features)[1:-1]
    return "".join(piece for pair in zip(parts, texts) for piece in pair) + parts[-1]


# GEOS writes a coordinate by Grisu2, which now and then gives 17 digits where fewer read back the
# same double: 117.2493938 rounded to 7 decimals prints as 117.24939380000001 (about 1 in 10,000).
# Those few are found by one regex search per geometry (a fraction longer than `precision` digits)
# and rewritten by Python's shortest repr; the rest are kept as GEOS wrote them.
_NUMBER = re.compile(r"-?\d+\.\d+(?:[eE][-+]?\d+)?")


def _shortest_numbers(texts: list[str | None], precision: int) -> list[str]:
    """GEOS GeoJSON texts (None for no geometry) with every coordinate in its shortest form, which
    has at most `precision` decimals as the values were rounded to that many."""
    search = re.compile(rf"\.\d{{{precision + 1}}}").search  # re caches the compiled pattern
    return ["null" if t is None else _NUMBER.sub(_shortest, t) if search(t) else t for t in texts]


def _shortest(number: re.Match) -> str:
    return repr(float(number.group()))


def stream_feature_collection(pages: Iterable[tuple[list, list[dict], np.ndarray]], *, precision: int = DEFAULT_PRECISION,
                              coords: str = "wgs84", with_bbox: bool = False, **members) -> Iterator[str]:
    """A FeatureCollection as text pieces, one per page of (ids, properties, raw geometries), so that
    any number of features streams in bounded memory.

    With `with_bbox`, each feature gets its `bbox` and the collection's comes last (RFC 7946 lets
    members come in any order; at the start it would need a second pass over the data). No `crs`
    member: RFC 7946 removed it. In GCJ-02 the collection says so (`coordinateSystem`).
    """
    if coords != "wgs84":
        members = {**members, "coordinateSystem": "GCJ-02"}
    head = _ENCODE({"type": "FeatureCollection", **members, "features": []})
    yield head[:-2]  # up to and including "features":[
    extent, separator = None, ""
    for ids, properties, geoms in pages:
        prepared = prepare_geometries(geoms, precision, coords)
        text = encode_features(ids, properties, prepared, with_bbox, precision)
        if text:
            yield separator + text
            separator = ","
        if with_bbox:
            extent = _union_bounds(extent, prepared)
    tail = "]"
    if with_bbox and extent is not None:
        tail += ',"bbox":' + _ENCODE(extent)
    yield tail + "}\n"


def _union_bounds(extent: list | None, geoms: np.ndarray) -> list | None:
    boxes = shapely.bounds(geoms)
    boxes = boxes[~np.isnan(boxes).any(axis=1)]
    if not len(boxes):
        return extent
    box = [*boxes[:, :2].min(axis=0).tolist(), *boxes[:, 2:].max(axis=0).tolist()]
    if extent is None:
        return box
    return [min(extent[0], box[0]), min(extent[1], box[1]), max(extent[2], box[2]), max(extent[3], box[3])]


def _prepare(geoms: np.ndarray, precision: int, coords: str) -> np.ndarray:
    """Shift (GCJ-02 on request), orient and round geometries, all at once."""
    if not len(geoms):
        return geoms
    if coords == "gcj02":
        geoms = transform_geometry(geoms, wgs84_to_gcj02)
    return shapely.transform(shapely.orient_polygons(geoms), lambda xy: np.round(xy, precision))
