"""Spatial queries of the GeoPackage backend: the R-tree narrows the candidates, shapely decides.

Distances and bearings are measured in an azimuthal equidistant projection centred on the query
point, where both are exact geodesic values from the centre; areas in an equal-area projection.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import shapely

from ..core.geodesy import geodesic_area_m2_array, local_transformer, to_local
from .base import Feature, FeatureQuery, circle_bbox

# k-nearest without a radius: widen the search this many times before giving up.
_KNN_RADII_M = (500, 2_000, 8_000, 32_000, 128_000, 512_000, 2_048_000)


class GeoPackageSpatial:
    """Mixed into GeoPackageStore; relies on its `features()` (R-tree backed bbox filter)."""

    def nearby(self, layer: str, lon: float, lat: float, radius_m: float | None, limit: int,
               query: FeatureQuery | None = None) -> list[tuple[Feature, float, float | None]]:
        query = query or FeatureQuery()
        radii = [radius_m] if radius_m is not None else list(_KNN_RADII_M)
        found: list = []
        for radius in radii:
            candidates = self.features(layer, dataclasses.replace(query, bbox=circle_bbox(lon, lat, radius),
                                                                 limit=None, offset=0))
            found = _measure(candidates, lon, lat, radius)
            if len(found) >= limit or radius_m is not None:
                break
        return found[:limit]

    def intersection_areas(self, layer: str, other: str, query: FeatureQuery | None = None) -> list[tuple]:
        left = self.features(layer, query or FeatureQuery())
        right = left if other == layer else self.features(other, FeatureQuery())
        if not left or not right:
            return []
        tree = shapely.STRtree([f.geometry for f in right])
        li, ri = tree.query([f.geometry for f in left], predicate="intersects")
        pairs = [(int(a), int(b)) for a, b in zip(li, ri) if other != layer or left[a].id < right[b].id]
        if not pairs:
            return []
        pieces = shapely.intersection(np.array([left[a].geometry for a, _ in pairs], dtype=object),
                                      np.array([right[b].geometry for _, b in pairs], dtype=object))
        areas = geodesic_area_m2_array(pieces)
        return [(left[a].id, right[b].id, float(area)) for (a, b), area in zip(pairs, areas)]

    def invalid_geometries(self, layer: str) -> list[tuple[int, str]]:
        features = self.features(layer, FeatureQuery())
        geoms = np.array([f.geometry for f in features], dtype=object)
        bad = shapely.is_missing(geoms) | shapely.is_empty(geoms) | ~shapely.is_valid(geoms)
        return [(features[i].id, "empty" if features[i].geometry is None or features[i].geometry.is_empty
                 else shapely.is_valid_reason(features[i].geometry)) for i in np.flatnonzero(bad)]


def _measure(candidates: list[Feature], lon: float, lat: float, radius_m: float):
    """(feature, distance m, bearing °) within the radius, nearest first; 0 m and no bearing inside."""
    if not candidates:
        return []
    projected = to_local(np.array([f.geometry for f in candidates], dtype=object), local_transformer("aeqd", lon, lat))
    origin = shapely.Point(0, 0)
    distances = shapely.distance(projected, origin)
    results = []
    for feature, geom, distance in zip(candidates, projected, distances):
        if distance > radius_m:
            continue
        bearing = None
        if distance > 0:
            # Azimuths from the centre of an azimuthal equidistant projection are true bearings.
            nearest = shapely.shortest_line(origin, geom).coords[-1]
            bearing = float(np.degrees(np.arctan2(nearest[0], nearest[1])) % 360)
        results.append((feature, float(distance), bearing))
    results.sort(key=lambda r: (r[1], r[0].id))
    return results
