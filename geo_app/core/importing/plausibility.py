"""Refusing coordinates that cannot be what the CRS says, before anything is converted or stored.

Likely mistakes, each refused with the file and the first offending feature: latitude and longitude
swapped; projected metres declared as degrees (and degrees declared as a projection); a Gauss-Kruger
zone prefix naming another zone, or coordinates far outside the declared zone; positions outside
China. Checks run on per-feature bounds, vectorised.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np
import shapely
from pyproj import CRS

from ..geodesy import in_china
from .crs import GK_EPSG, SourceCrs, gauss_kruger, zone_code_for_prefix
from .report import ImportRefused

ZONE_MARGIN_DEG = 1.0  # data may spill a little over a zone edge; a whole zone further is a mistake


def _first(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


def check_source(geoms: np.ndarray, source: SourceCrs, label: str, where: Callable[[int], str]) -> tuple[SourceCrs, list[str]]:
    """Check coordinates against their CRS; returns the CRS to read with (a Gauss-Kruger code may
    switch to its prefixed/unprefixed twin) and notes for the report. `where(i)` names feature i."""
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not present.any():
        return source, []
    bounds = shapely.bounds(geoms)
    if source.geographic:
        _check_degrees(bounds, present, source, label, where)
        return source, []
    return _check_projected(bounds, present, source, label, where)


def _check_degrees(bounds, present, source, label, where) -> None:
    # Swapped first: a latitude read as longitude is fine, but 117 read as a latitude is not.
    swapped = present & in_china(bounds[:, 1], bounds[:, 0]) & ~in_china(bounds[:, 0], bounds[:, 1])
    i = _first(swapped)
    if i is not None:
        raise ImportRefused(f"{label}: {where(i)} has longitude {bounds[i, 0]:.4f} and latitude {bounds[i, 1]:.4f}: "
                            "latitude and longitude look swapped (x must be the longitude)")
    x, y = bounds[:, [0, 2]], bounds[:, [1, 3]]
    projected = present & ((np.abs(x) > 180).any(axis=1) | (np.abs(y) > 90).any(axis=1))
    i = _first(projected)
    if i is not None:
        hint = ""
        prefix = int(bounds[i, 0] // 1_000_000)
        if zone_code_for_prefix(prefix):
            hint = f" (eastings start with {prefix}: Gauss-Kruger zone {prefix}, e.g. --crs EPSG:{zone_code_for_prefix(prefix)})"
        raise ImportRefused(f"{label}: {where(i)} has coordinates ({bounds[i, 0]:.1f}, {bounds[i, 1]:.1f}), "
                            f"projected metres, but {source.label} is in degrees; declare the projection{hint}")
    _check_china(bounds, present, label, where)


def _check_china(bounds, present, label, where) -> None:
    outside = present & ~(in_china(bounds[:, 0], bounds[:, 1]) & in_china(bounds[:, 2], bounds[:, 3]))
    i = _first(outside)
    if i is not None:
        raise ImportRefused(f"{label}: {where(i)} lies at ({bounds[i, 0]:.4f}, {bounds[i, 1]:.4f}), outside China; "
                            "check the coordinate system")


def _check_projected(bounds, present, source: SourceCrs, label, where) -> tuple[SourceCrs, list[str]]:
    degrees = present & (np.abs(bounds[:, [0, 2]]) <= 180).all(axis=1) & (np.abs(bounds[:, [1, 3]]) <= 90).all(axis=1)
    i = _first(degrees)
    if i is not None:
        raise ImportRefused(f"{label}: {where(i)} has coordinates ({bounds[i, 0]:.6f}, {bounds[i, 1]:.6f}), which look "
                            f"like degrees, but {source.label} is in metres; declare --crs EPSG:4326 or gcj02")
    zone = gauss_kruger(source.epsg)
    if zone is None:
        return source, []
    notes: list[str] = []
    prefixes = np.floor(bounds[present][:, [0, 2]] / 1_000_000).astype(int)
    has_prefix = prefixes.min() >= 10
    if has_prefix:
        mismatched = present & (np.floor(bounds[:, 0] / 1e6) != zone.zone)
        i = _first(mismatched)
        if i is not None:
            raise ImportRefused(f"{label}: {where(i)} has easting {bounds[i, 0]:.1f}, prefixed with zone "
                                f"{int(bounds[i, 0] // 1e6)}, but {source.label} is zone {zone.zone} "
                                f"(central meridian {zone.central_meridian}°E); the zone does not match")
    elif prefixes.max() >= 10:
        raise ImportRefused(f"{label}: eastings mix values with and without a zone prefix; fix the file")
    if has_prefix != zone.prefixed:
        twin = CRS.from_epsg(zone.counterpart)
        notes.append(f"eastings {'carry' if has_prefix else 'lack'} the zone number {zone.zone}: read as "
                     f"EPSG:{zone.counterpart} {twin.name} instead of EPSG:{zone.epsg}")
        source = replace(source, crs=twin, label=f"EPSG:{zone.counterpart} {twin.name} ({source.label})")
    return source, notes


def check_zone(wgs84_bounds: np.ndarray, present: np.ndarray, source: SourceCrs, label: str,
               where: Callable[[int], str]) -> None:
    """After conversion: Gauss-Kruger positions far outside their zone mean the wrong zone was
    declared; any position outside China means the CRS is wrong."""
    zone = gauss_kruger(source.epsg)
    if zone is not None:
        half = zone.width / 2 + ZONE_MARGIN_DEG
        lon = (wgs84_bounds[:, 0] + wgs84_bounds[:, 2]) / 2
        i = _first(present & (np.abs(lon - zone.central_meridian) > half))
        if i is not None:
            raise ImportRefused(f"{label}: {where(i)} falls at longitude {lon[i]:.3f}°E, outside "
                                f"{source.label}'s zone (central meridian {zone.central_meridian}°E ± {zone.width / 2}°); "
                                "the zone does not match the coordinates")
    _check_china(wgs84_bounds, present, label, where)


def check_near_district(source_geoms: np.ndarray, wgs84_bounds: np.ndarray, present: np.ndarray, source: SourceCrs,
                        district: tuple[float, float, float, float] | None, max_km: float, label: str,
                        where: Callable[[int], str]) -> None:
    """Features must lie within `max_km` of the district's box. Eastings without a zone prefix are
    valid numbers in every Gauss-Kruger zone, so a wrong zone lands whole zones (~270 km) away and
    no other check can see it; here it is refused, naming the zone that would fit."""
    if district is None or not max_km or not present.any():
        return
    distance = _km_outside(wgs84_bounds, district)
    i = _first(present & (distance > max_km))
    if i is None:
        return
    hint = _fitting_zone(source_geoms[i], source, district, max_km)
    raise ImportRefused(f"{label}: {where(i)} lies {distance[i]:,.0f} km from the district (more than "
                        f"{max_km:g} km) when read as {source.label}; the coordinate system or zone is likely "
                        f"wrong{hint}")


def _km_outside(bounds: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """How far (km, ~1% at these latitudes) each feature's box lies outside `box`; 0 if they meet."""
    west, south, east, north = box
    dlon = np.maximum(0, np.maximum(west - bounds[:, 2], bounds[:, 0] - east))
    dlat = np.maximum(0, np.maximum(south - bounds[:, 3], bounds[:, 1] - north))
    km_per_deg_lon = 111.32 * np.cos(np.radians((south + north) / 2))
    return np.hypot(dlon * km_per_deg_lon, dlat * 110.57)


def _fitting_zone(geom, source: SourceCrs, district, max_km: float) -> str:
    """The hint "; read as EPSG:n (…) it would lie in the district" for the first Gauss-Kruger code
    of the same kind (width, prefix) that puts this feature there; "" when none does or the CRS is
    not a Gauss-Kruger zone."""
    zone = gauss_kruger(source.epsg)
    if zone is None or geom is None:
        return ""
    from ..geodesy import transformer

    x, y = shapely.get_coordinates(geom)[0]
    for epsg in GK_EPSG:
        other = gauss_kruger(epsg)
        if epsg == source.epsg or (other.width, other.prefixed) != (zone.width, zone.prefixed):
            continue
        lon, lat = transformer(f"EPSG:{epsg}", "EPSG:4326").transform(x, y)
        if _km_outside(np.array([[lon, lat, lon, lat]]), district)[0] <= max_km:
            return f"; read as EPSG:{epsg} ({CRS.from_epsg(epsg).name}) it would lie in the district"
    return ""
