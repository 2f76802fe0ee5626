"""The one GeoJSON encoder: every coordinate that leaves the server passes through here.

RFC 7946: WGS84 longitude/latitude, exterior rings counter-clockwise, no `crs` member; coordinates
rounded to a fixed precision (7 decimals is about 1 cm) so payloads stay small and stable.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import shapely

from ..storage import Feature

DEFAULT_PRECISION = 7


def geometry_to_geojson(geom, precision: int = DEFAULT_PRECISION) -> dict | None:
    """A shapely geometry as an RFC 7946 GeoJSON geometry dict."""
    if geom is None:
        return None
    geom = shapely.transform(shapely.orient_polygons(geom), lambda xy: np.round(xy, precision))
    return shapely.geometry.mapping(geom)


def feature_to_geojson(feature: Feature, precision: int = DEFAULT_PRECISION) -> dict:
    """One feature as a GeoJSON Feature with its id."""
    return {
        "type": "Feature",
        "id": feature.id,
        "properties": dict(feature.properties),
        "geometry": geometry_to_geojson(feature.geometry, precision),
    }


def feature_collection(features: Iterable[Feature], precision: int = DEFAULT_PRECISION, **members) -> dict:
    """A GeoJSON FeatureCollection; extra members (e.g. numberMatched) are added at the top."""
    return {"type": "FeatureCollection", **members,
            "features": [feature_to_geojson(f, precision) for f in features]}
