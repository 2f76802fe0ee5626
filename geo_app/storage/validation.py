"""Checks every feature passes before a backend writes it, and the fields the store computes.

Shared by both backends so they accept and refuse exactly the same features.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import shapely

from ..core.geodesy import geodesic_area_m2_array
from ..errors import StoreError, ValidationError
from ..layers import LayerDef


def prepare_features(layer_def: LayerDef, features: Iterable) -> tuple[list[dict], np.ndarray]:
    """Validate features against their layer and fill computed fields.

    Returns the cleaned property dicts and an array of 2D geometries of the layer's type.
    Raises ValidationError naming the layer, the feature (by position and code) and the field.
    """
    props, geoms = [], []
    for index, item in enumerate(features, 1):
        if isinstance(item, dict):
            item = _feature_from_geojson(item)
        where = f"{layer_def.name} feature #{index}"
        if item.properties.get("code"):
            where += f" ({item.properties['code']})"
        props.append(layer_def.clean(item.properties, where))
        geoms.append(_check_geometry(layer_def, item.geometry, where))
    geometries = np.array(geoms, dtype=object)
    _fill_computed(layer_def, props, geometries)
    return props, geometries


def _feature_from_geojson(item: dict):
    from .base import Feature  # base imports this module; Feature is only needed here

    geometry = item.get("geometry")
    geom = shapely.geometry.shape(geometry) if geometry else None
    return Feature(item.get("id"), dict(item.get("properties") or {}), geom)


def _check_geometry(layer_def: LayerDef, geom, where: str):
    if geom is None or geom.is_empty:
        raise ValidationError(f"{where}: geometry is missing or empty")
    geom = shapely.force_2d(geom)
    if layer_def.geometry_type == "MultiPolygon":
        if geom.geom_type == "Polygon":
            geom = shapely.MultiPolygon([geom])
        elif geom.geom_type != "MultiPolygon":
            raise ValidationError(f"{where}: geometry must be a polygon, got {geom.geom_type}")
    elif geom.geom_type != layer_def.geometry_type:
        raise ValidationError(f"{where}: geometry must be a {layer_def.geometry_type}, got {geom.geom_type}")
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise ValidationError(f"{where}: coordinates ({minx:.1f}, {miny:.1f}) are not WGS84 "
                              "longitude/latitude in degrees (projected coordinates?)")
    if not geom.is_valid:
        raise ValidationError(f"{where}: invalid geometry: {shapely.is_valid_reason(geom)}")
    return geom


def _fill_computed(layer_def: LayerDef, props: list[dict], geoms: np.ndarray) -> None:
    for f in layer_def.fields:
        if f.computed == "geodesic_area":
            # Land area is measured on the ellipsoid from the stored polygon, never typed in.
            areas = geodesic_area_m2_array(geoms)
            for p, area in zip(props, areas):
                p[f.name] = round(float(area), 1)
        elif f.computed:
            raise StoreError(f"layer '{layer_def.name}' field '{f.name}': unknown computed kind {f.computed!r}")
