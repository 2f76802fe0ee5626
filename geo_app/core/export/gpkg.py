"""GeoPackage export: the layer's own schema, as the store keeps it, in a file of its own.

Written with the store's GeoPackage code (`storage.gpkg_schema`): the same table, types, NOT NULL
and UNIQUE constraints, R-tree index, Chinese field aliases (`gpkg_data_columns`, QGIS shows them)
and layer description, with the feature ids kept as the primary key. Why not pyogrio here: written
in pages with `append=True` it cannot keep the ids (GDAL makes `id` the FID column, which an append
can no longer address), and one call for all pages would hold every feature in memory.

Two ways in, one file out:

- `write_geopackage` takes pages of features from any store (PostGIS) and inserts them row by row;
- `copy_geopackage` serves a GeoPackage store: its file is attached to the export's connection and
  the attribute columns go across in SQLite itself (`INSERT … SELECT`), page by page, while only the
  ids and geometries pass through Python (shift, orientation and rounding are applied to every
  geometry, as for any store). For 200,000 estates this saves ~2 s of Python values read and bound
  again (`fetchall` and `executemany` of 30 columns).

Either way the R-tree is filled once at the end from the envelopes of every page, as a packed tree
(`storage.gpkg_rtree.bulk_fill`), and the column indexes are built once after the rows.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import shapely

from ...errors import StoreError
from ...layers import LayerDef
from ...storage import FeatureRows
from ...storage import gpkg_schema
from ...storage.base import SRID, quote_ident
from ...storage.geopackage import connect, decode_geometries, encode_geometries
from ...storage.gpkg_rtree import bulk_fill
from ..geodesy import GCJ02_WKT
from ..geojson import prepare_geometries
from .options import ExportOptions

GCJ02_SRS_ID = 990002  # our own srs row for GCJ-02 (organization "geo_app"): it has no EPSG code
COPY_PAGE_SIZE = 5_000  # features per page of the attached copy (geometries held at once)


def write_geopackage(pages: Iterable[FeatureRows], layer: LayerDef, options: ExportOptions, path: Path,
                     description: str) -> None:
    """Write the pages to a new GeoPackage at `path` (which must not exist)."""
    con = connect(path)
    try:
        _start(con, layer, description, options.coords)
        deferred = gpkg_schema.set_aside(con, layer.name)
        names = ["id", "geom", *layer.field_names]
        sql = (f"INSERT INTO {quote_ident(layer.name)} ({', '.join(map(quote_ident, names))}) "
               f"VALUES ({', '.join('?' * len(names))})")
        envelopes = _Envelopes()
        for page in pages:
            geoms = prepare_geometries(page.geometries, options.precision, options.coords)
            bounds = envelopes.add(page.ids, geoms)
            con.executemany(sql, zip(page.ids, encode_geometries(geoms, _srs_id(options), bounds=bounds), *page.columns))
        _finish(con, layer, deferred, envelopes)
    finally:
        con.close()


def copy_geopackage(source: Path, ids: Sequence[int] | None, layer: LayerDef, options: ExportOptions, path: Path,
                    description: str, on_page: Callable[[int], None] = lambda n: None,
                    page_size: int = COPY_PAGE_SIZE) -> None:
    """Write a new GeoPackage at `path` from the layer's table in the GeoPackage store file `source`:
    the features with these `ids` (sorted, unique), or all of them when `ids` is None.

    All reads of `source` happen in one read transaction (a snapshot: WAL lets the store's writers
    go on meanwhile), so each feature's geometry and attributes come from the same state of it.
    `on_page(n)` is called after each page of n features is written.
    """
    con = connect(path)
    try:
        con.execute("ATTACH DATABASE ? AS geo_app_source", (str(source),))
        _start(con, layer, description, options.coords)
        deferred = gpkg_schema.set_aside(con, layer.name)
        table = quote_ident(layer.name)
        columns = ", ".join(map(quote_ident, layer.field_names))
        selected = ""
        if ids is not None:
            con.execute("CREATE TEMP TABLE geo_app_export_ids (id INTEGER PRIMARY KEY)")
            con.executemany("INSERT INTO temp.geo_app_export_ids VALUES (?)", ((i,) for i in ids))
            selected = ' AND "id" IN (SELECT id FROM temp.geo_app_export_ids)'
        # The page's prepared geometry blobs by id, looked up by SQLite as it copies each row.
        page_blobs: dict[int, bytes] = {}
        con.create_function("geo_app_export_geometry", 1, page_blobs.__getitem__)
        read = f'SELECT "id", "geom" FROM geo_app_source.{table} WHERE "id" > ?{selected} ORDER BY "id" LIMIT ?'
        copy = (f'INSERT INTO main.{table} ("id", "geom", {columns}) '
                f'SELECT "id", geo_app_export_geometry("id"), {columns} FROM geo_app_source.{table} '
                f'WHERE "id" > ? AND "id" <= ?{selected} ORDER BY "id"')
        envelopes = _Envelopes()
        after = -(2 ** 63)  # below every rowid SQLite can hold (AUTOINCREMENT ids start at 1)
        while True:
            rows = con.execute(read, (after, page_size)).fetchall()
            if not rows:
                break
            page_ids = [r[0] for r in rows]
            geoms = prepare_geometries(decode_geometries([r[1] for r in rows]), options.precision, options.coords)
            page_blobs.clear()
            page_blobs.update(zip(page_ids, encode_geometries(geoms, _srs_id(options), bounds=envelopes.add(page_ids, geoms))))
            written = con.execute(copy, (after, page_ids[-1])).rowcount
            if written != len(rows):  # one snapshot: cannot happen unless the file is not what it seems
                raise StoreError(f"{source}: {written} rows copied for a page of {len(rows)}")
            on_page(len(rows))
            if len(rows) < page_size:
                break
            after = page_ids[-1]
        page_blobs.clear()
        _finish(con, layer, deferred, envelopes)
        con.execute("DETACH DATABASE geo_app_source")
    finally:
        con.close()


def _start(con: sqlite3.Connection, layer: LayerDef, description: str, coords: str) -> None:
    # 8 KiB pages: ~2-3% faster to fill than SQLite's 4 KiB default (fewer page splits and index
    # levels); the R-tree's node size stays 1228 bytes (SQLite caps it at 51 cells).
    con.execute("PRAGMA main.page_size = 8192")
    # As the store does: application_id in the main file before anything else is written.
    con.execute(f"PRAGMA main.application_id = {gpkg_schema.APPLICATION_ID}")
    con.execute(f"PRAGMA main.user_version = {gpkg_schema.USER_VERSION}")
    # A file nobody reads until it is finished, deleted whole on failure: no journal needed. (Only
    # main's: an attached store keeps its own.)
    con.execute("PRAGMA main.journal_mode = OFF")
    con.execute("PRAGMA main.synchronous = OFF")
    con.execute("BEGIN")
    gpkg_schema.create_core_tables(con, store_meta=False)
    gpkg_schema.ensure_layer(con, layer)
    con.execute("UPDATE gpkg_contents SET description = ? WHERE table_name = ?", (description, layer.name))
    if coords == "gcj02":
        _label_gcj02(con, layer)


def _srs_id(options: ExportOptions) -> int:
    """The srs_id every geometry blob's header carries: the layer's."""
    return GCJ02_SRS_ID if options.coords == "gcj02" else SRID


def _label_gcj02(con: sqlite3.Connection, layer: LayerDef) -> None:
    """The layer's srs is GCJ-02 (no EPSG code: an srs of our own), so QGIS, GDAL and our import
    never take the shifted positions for WGS 84."""
    con.execute("INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, 'geo_app', ?, ?, ?)",
                ("GCJ-02", GCJ02_SRS_ID, GCJ02_SRS_ID, GCJ02_WKT,
                 "GCJ-02 (Amap/高德) longitude/latitude: WGS 84 shifted by the Chinese offset; not EPSG:4326"))
    for table in ("gpkg_contents", "gpkg_geometry_columns"):
        con.execute(f"UPDATE {table} SET srs_id = ? WHERE table_name = ?", (GCJ02_SRS_ID, layer.name))


def _finish(con: sqlite3.Connection, layer: LayerDef, deferred: list[str], envelopes: "_Envelopes") -> None:
    bulk_fill(con, f"rtree_{layer.name}_geom", *envelopes.arrays())
    for statement in deferred:
        con.execute(statement)
    gpkg_schema.refresh_extent(con, layer)
    con.execute("COMMIT")


class _Envelopes:
    """The ids and envelopes of every page, kept as compact arrays (40 bytes a feature) for one bulk
    fill of the R-tree at the end."""

    def __init__(self):
        self.ids: list[np.ndarray] = []
        self.bounds: list[np.ndarray] = []

    def add(self, ids, geoms: np.ndarray) -> np.ndarray:
        """Keep the page's ids and envelopes; returns the envelopes (minx, miny, maxx, maxy)."""
        bounds = shapely.bounds(geoms)
        self.ids.append(np.asarray(ids, dtype=np.int64))
        self.bounds.append(bounds)
        return bounds

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All pages' ids and envelopes, once (the pages' own arrays are let go)."""
        if not self.ids:
            return np.empty(0, dtype=np.int64), np.empty((0, 4))
        ids = np.concatenate(self.ids)
        self.ids.clear()
        bounds = np.concatenate(self.bounds)
        self.bounds.clear()
        return ids, bounds
