"""Coordinate reference systems of the OGC API (Features Part 2): which ones, and coordinates in and out.

The store keeps WGS84 longitude/latitude; other CRSs exist only at this edge. A CRS is named by
its URI (`http://www.opengis.net/def/crs/EPSG/0/4548`) and its coordinates are in the axis order
of its definition, as Part 2 says: CRS84 is longitude/latitude, EPSG:4326 and CGCS2000
(EPSG:4490) are latitude/longitude, and the CGCS2000 3-degree Gauss-Kruger zone of Xuecheng
(EPSG:4548, central meridian 117°E) is northing (X) then easting (Y), the Chinese surveying
order. pyproj does the work with authority axis order, so no axis is swapped by hand.

Outgoing geometries pass through the one GeoJSON encoder (`core.geojson`) after reprojection here.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pyproj
import shapely

from ..errors import InvalidParameter
from ..storage import Feature
from .geojson import feature_collection, feature_to_geojson

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_EPSG = "http://www.opengis.net/def/crs/EPSG/0/"


@dataclass(frozen=True)
class Crs:
    """One offered CRS: its URI, the pyproj name and how many decimals its coordinates keep."""

    uri: str
    code: str  # pyproj's name for it: "OGC:CRS84", "EPSG:4548"
    precision: int  # 7 decimals of a degree ~ 1 cm; 3 decimals of a metre = 1 mm

    @property
    def is_crs84(self) -> bool:
        return self.uri == CRS84

    @property
    def header(self) -> str:
        """The value of the Content-Crs header: the URI in angle brackets."""
        return f"<{self.uri}>"


SUPPORTED: tuple[Crs, ...] = (
    Crs(CRS84, "OGC:CRS84", 7),
    Crs(_EPSG + "4326", "EPSG:4326", 7),  # WGS 84, latitude first
    Crs(_EPSG + "4490", "EPSG:4490", 7),  # CGCS2000, latitude first
    Crs(_EPSG + "4548", "EPSG:4548", 3),  # CGCS2000 / 3-degree Gauss-Kruger CM 117E: northing, easting
)
BY_URI = {crs.uri: crs for crs in SUPPORTED}
# Also accepted: the CURIE forms some clients send ("EPSG:4326", "[EPSG:4326]"), and https URIs.
_ALIASES = {**{crs.code.lower(): crs for crs in SUPPORTED},
            **{crs.uri.replace("http://", "https://"): crs for crs in SUPPORTED}}


def crs_uris() -> list[str]:
    """Every offered CRS as a URI, CRS84 first (the default)."""
    return [crs.uri for crs in SUPPORTED]


def parse_crs(value: str | None, parameter: str) -> Crs:
    """The CRS a parameter names (CRS84 when absent), or a 400 naming the parameter."""
    if value is None or value == "":
        return SUPPORTED[0]
    text = value.strip()
    found = BY_URI.get(text) or _ALIASES.get(text) or _ALIASES.get(text.strip("[]").lower())
    if found is None:
        raise InvalidParameter(f"{parameter} must be one of {', '.join(crs_uris())}, got {value[:200]!r}",
                               parameter=parameter)
    return found


@functools.lru_cache(maxsize=None)
def _transformer(source: str, target: str) -> pyproj.Transformer:
    # Authority axis order on both sides (no always_xy): the CRS definition decides the order.
    return pyproj.Transformer.from_crs(source, target)


def _apply(transformer: pyproj.Transformer, xy: np.ndarray) -> np.ndarray:
    a, b = transformer.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([a, b])


def from_crs84(geoms: np.ndarray, crs: Crs) -> np.ndarray:
    """WGS84 lon/lat geometries -> the CRS's coordinates, in its axis order."""
    if crs.is_crs84 or not len(geoms):
        return geoms
    transformer = _transformer("OGC:CRS84", crs.code)
    return shapely.transform(geoms, lambda xy: _apply(transformer, xy))


def to_crs84(geom, crs: Crs, parameter: str):
    """A geometry given in the CRS (its axis order) -> WGS84 lon/lat; 400 when it cannot be."""
    if not crs.is_crs84:
        transformer = _transformer(crs.code, "OGC:CRS84")
        geom = shapely.transform(geom, lambda xy: _apply(transformer, xy))
    if geom.is_empty:
        return geom
    minx, miny, maxx, maxy = geom.bounds
    if not all(math.isfinite(v) for v in geom.bounds) or not (
            -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidParameter(f"{parameter}: coordinates lie outside the valid area of {crs.uri}",
                               parameter=parameter)
    return geom


def box_to_crs84(bbox: tuple[float, ...], crs: Crs, parameter: str):
    """A bbox in the CRS's axis order -> the WGS84 polygon it covers (edges densified, so a
    projected box keeps its curved outline in degrees)."""
    a1, b1, a2, b2 = bbox
    box = shapely.box(a1, b1, a2, b2)
    if not crs.is_crs84:
        try:
            box = shapely.segmentize(box, max(a2 - a1, b2 - b1) / 16 or 1.0)
        except shapely.errors.GEOSException:  # absurd magnitudes (1e300): nowhere in this CRS
            raise InvalidParameter(f"{parameter}: coordinates lie outside the valid area of {crs.uri}",
                                   parameter=parameter) from None
    return to_crs84(box, crs, parameter)


def _reprojected(feature: Feature, geometry) -> Feature:
    return Feature(feature.id, feature.properties, geometry)


def features_in_crs(features: Iterable[Feature], crs: Crs) -> list[Feature]:
    """The features with their geometries in the CRS (one vectorised transform for all)."""
    features = list(features)
    if crs.is_crs84:
        return features
    geoms = from_crs84(np.array([f.geometry for f in features], dtype=object), crs)
    return [_reprojected(f, g) for f, g in zip(features, geoms)]


def collection_in_crs(features: Iterable[Feature], crs: Crs, **members) -> dict:
    """A GeoJSON FeatureCollection in the CRS, through the one encoder."""
    return feature_collection(features_in_crs(features, crs), precision=crs.precision, **members)


def feature_in_crs(feature: Feature, crs: Crs) -> dict:
    """One GeoJSON Feature in the CRS, through the one encoder."""
    return feature_to_geojson(features_in_crs([feature], crs)[0], precision=crs.precision)
