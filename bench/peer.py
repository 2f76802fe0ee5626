"""The GDAL peer: pyogrio writing the same estates to a GeoPackage and reading ours by bbox.

GDAL's GeoPackage driver is what QGIS and ogr2ogr use, so "as fast as GDAL on the same file" is
the fair bar for our GeoPackage store. The frame is built outside any timing: the peer's write is
only `write_dataframe`, while our load also validates every feature (see the README).
"""

from __future__ import annotations

import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from geo_app.core.geodesy import geodesic_area_m2_array
from geo_app.layers import LayerDef

_PANDAS_TYPES = {"integer": "Int64", "real": "float64", "text": "object", "date": "object"}


def estates_frame(estates: list, layer_def: LayerDef) -> gpd.GeoDataFrame:
    """The estates as a GeoDataFrame with the layer's columns and types (nullable integers stay
    integers in the file), including the computed land area our store fills in."""
    geoms = [f.geometry for f in estates]
    frame = pd.DataFrame([f.properties for f in estates])
    columns = {}
    for f in layer_def.fields:
        if f.computed == "geodesic_area":
            columns[f.name] = geodesic_area_m2_array(geoms).round(1)
        else:
            columns[f.name] = frame[f.name].astype(_PANDAS_TYPES[f.type]) if f.name in frame else None
    return gpd.GeoDataFrame(columns, geometry=geoms, crs="EPSG:4326")


def write(frame: gpd.GeoDataFrame, path: Path, layer: str = "estates") -> float:
    """Seconds for pyogrio to write the frame as a new GeoPackage layer (with its R-tree)."""
    t0 = time.perf_counter()
    pyogrio.write_dataframe(frame, path, layer=layer, driver="GPKG")
    return time.perf_counter() - t0


def count_bbox(path: Path, layer: str, bbox: tuple) -> int:
    """How many features GDAL reads from the GeoPackage for the bbox (geometries decoded too)."""
    return len(pyogrio.read_dataframe(path, layer=layer, bbox=bbox))


def gdal_version() -> str:
    return pyogrio.__gdal_version_string__
