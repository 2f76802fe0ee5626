"""GeoPackage export: the layer's own schema, as the store keeps it, in a file of its own.

Written with the store's GeoPackage code (`storage.gpkg_schema`): the same table, types, NOT NULL
and UNIQUE constraints, R-tree index, Chinese field aliases (`gpkg_data_columns`, QGIS shows them)
and layer description, with the feature ids kept as the primary key. Why not pyogrio here: written
in pages with `append=True` it cannot keep the ids (GDAL makes `id` the FID column, which an append
can no longer address), and one call for all pages would hold every feature in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import shapely

from ...layers import LayerDef
from ...storage import FeatureRows
from ...storage import gpkg_schema
from ...storage.base import quote_ident
from ...storage.geopackage import connect, encode_geometries
from ...storage.gpkg_rtree import bulk_fill
from ..geojson import prepare_geometries
from .options import ExportOptions


def write_geopackage(pages: Iterable[FeatureRows], layer: LayerDef, options: ExportOptions, path: Path,
                     description: str) -> None:
    """Write the pages to a new GeoPackage at `path` (which must not exist)."""
    con = connect(path)
    try:
        # As the store does: application_id in the main file before anything else is written.
        con.execute(f"PRAGMA application_id = {gpkg_schema.APPLICATION_ID}")
        con.execute(f"PRAGMA user_version = {gpkg_schema.USER_VERSION}")
        # A file nobody reads until it is finished, deleted whole on failure: no journal needed.
        con.execute("PRAGMA journal_mode = OFF")
        con.execute("PRAGMA synchronous = OFF")
        con.execute("BEGIN")
        gpkg_schema.create_core_tables(con, store_meta=False)
        gpkg_schema.ensure_layer(con, layer)
        con.execute("UPDATE gpkg_contents SET description = ? WHERE table_name = ?", (description, layer.name))
        deferred = _drop_triggers_and_indexes(con, layer.name)
        names = ["id", "geom", *layer.field_names]
        sql = (f"INSERT INTO {quote_ident(layer.name)} ({', '.join(map(quote_ident, names))}) "
               f"VALUES ({', '.join('?' * len(names))})")
        ids, bounds = [], []  # every page's, for one bulk fill of the R-tree at the end
        for page in pages:
            geoms = prepare_geometries(page.geometries, options.precision, options.coords)
            con.executemany(sql, zip(page.ids, encode_geometries(geoms), *page.columns))
            ids.append(np.asarray(page.ids, dtype=np.int64))
            bounds.append(shapely.bounds(geoms))
        bulk_fill(con, f"rtree_{layer.name}_geom", np.concatenate(ids) if ids else np.empty(0, np.int64),
                  np.concatenate(bounds) if bounds else np.empty((0, 4)))
        for statement in deferred:
            con.execute(statement)
        gpkg_schema.refresh_extent(con, layer)
        con.execute("COMMIT")
    finally:
        con.close()


def _drop_triggers_and_indexes(con, table: str) -> list[str]:
    """Drop the table's R-tree triggers and its column indexes, returning the statements that make
    them again. A bulk load is faster filling the R-tree from envelopes computed all at once (the
    triggers call back into Python four times a row) and building each index once at the end."""
    rows = con.execute("SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL "
                       "AND type IN ('trigger', 'index')", (table,)).fetchall()
    for kind, name, _sql in rows:  # names as SQLite reports them, quoted as identifiers
        quoted = '"' + name.replace('"', '""') + '"'
        con.execute(f"DROP {kind.upper()} {quoted}")
    return [sql for _kind, _name, sql in rows]
