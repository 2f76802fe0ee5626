"""The one GeoJSON encoder: every coordinate that leaves the server passes through here.

RFC 7946: WGS84 longitude/latitude, exterior rings counter-clockwise, no `crs` member; coordinates
rounded to a fixed precision (7 decimals is about 1 cm) so payloads stay small and stable.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import shapely

from ..errors import InvalidParameter
from ..storage import Feature
from .geodesy import transform_geometry, wgs84_to_gcj02

DEFAULT_PRECISION = 7
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


def _prepare(geoms: np.ndarray, precision: int, coords: str) -> np.ndarray:
    """Shift (GCJ-02 on request), orient and round geometries, all at once."""
    if not len(geoms):
        return geoms
    if coords == "gcj02":
        geoms = transform_geometry(geoms, wgs84_to_gcj02)
    return shapely.transform(shapely.orient_polygons(geoms), lambda xy: np.round(xy, precision))
