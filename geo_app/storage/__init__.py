"""Storage: one interface (`Store`), a GeoPackage and a PostGIS backend, chosen by URL."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from ..layers import LayerDef
from .base import Feature, FeatureQuery, FeatureRows, Measure, Store, Writer

__all__ = ["Feature", "FeatureQuery", "FeatureRows", "Measure", "Store", "Writer", "open_store"]


def open_store(url: str, layers: dict[str, LayerDef]) -> Store:
    """The store for a database URL: `postgresql://…` is PostGIS, `gpkg://PATH` a GeoPackage file.

    Opening connects to nothing yet; the first read or `initialise()` does.
    """
    if url.startswith(("postgresql://", "postgres://")):
        from .postgis import PostgisStore

        return PostgisStore(url, layers)
    if url.startswith("gpkg://"):
        from .geopackage import GeoPackageStore

        return GeoPackageStore(Path(url[len("gpkg://"):]), layers)
    raise ConfigError(f"database URL {url!r}: expected postgresql://… or gpkg://PATH")
