"""GeoPackage DDL: the required metadata tables, feature tables with R-tree index, field aliases.

Written from the OGC GeoPackage 1.3 encoding standard (tables gpkg_spatial_ref_sys, gpkg_contents,
gpkg_geometry_columns, gpkg_extensions; extensions gpkg_rtree_index and gpkg_schema), so that
`ogrinfo` and QGIS see every layer, its CRS, extent and spatial index with no warnings.
"""

from __future__ import annotations

import sqlite3

from ..layers import LayerDef
from .base import SRID, quote_ident

APPLICATION_ID = 0x47504B47  # "GPKG"
USER_VERSION = 10300  # GeoPackage 1.3.0

WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
    'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,'
    'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],'
    'AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]'
)

_SQL_TYPES = {"text": "TEXT", "integer": "INTEGER", "real": "REAL", "date": "DATE"}
# The store's edit counter of each feature (see storage.base.Feature.version); not a layer field.
VERSION_COLUMN = '"version" INTEGER NOT NULL DEFAULT 1'
_GEOMETRY_TYPE_NAMES = {"MultiPolygon": "MULTIPOLYGON", "Point": "POINT"}

_CORE_DDL = """
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE IF NOT EXISTS gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE IF NOT EXISTS gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
  scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
CREATE TABLE IF NOT EXISTS gpkg_data_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, name TEXT, title TEXT, description TEXT,
  mime_type TEXT, constraint_name TEXT,
  CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name),
  CONSTRAINT gdc_tn UNIQUE (table_name, name));
CREATE TABLE IF NOT EXISTS geo_app_meta (key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL);
"""


def has_meta(con: sqlite3.Connection) -> bool:
    """Whether the file already holds a geo_app store."""
    row = con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'geo_app_meta'").fetchone()
    return row is not None


def create_core_tables(con: sqlite3.Connection, store_meta: bool = True) -> None:
    """The GeoPackage metadata tables, the WGS84 CRS and (unless `store_meta` is False: an exported
    file is data, not a store) the store's own meta table."""
    for statement in _CORE_DDL.split(";"):
        if statement.strip() and (store_meta or "geo_app_meta" not in statement):
            con.execute(statement)
    srs_rows = [
        ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian coordinate reference system"),
        ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic coordinate reference system"),
        ("WGS 84 geodetic", SRID, "EPSG", SRID, WGS84_WKT,
         "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid"),
    ]
    con.executemany("INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)", srs_rows)
    con.execute("INSERT OR IGNORE INTO gpkg_extensions VALUES ('gpkg_data_columns', NULL, 'gpkg_schema', "
                "'http://www.geopackage.org/spec/#extension_schema', 'read-write')")
    if not store_meta:
        return
    con.execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) "
                "VALUES ('geo_app_meta', 'attributes', 'geo_app_meta', 'geo_app store metadata (revision)')")
    con.execute("INSERT OR IGNORE INTO geo_app_meta VALUES ('revision', '0')")
    con.execute("INSERT OR IGNORE INTO geo_app_meta VALUES ('schema_version', '1')")


def ensure_layer(con: sqlite3.Connection, layer: LayerDef) -> None:
    """Create the layer's table, index and registrations, or add columns the definition gained."""
    exists = con.execute("SELECT 1 FROM gpkg_contents WHERE table_name = ?", (layer.name,)).fetchone()
    if exists:
        _add_missing_columns(con, layer)
    else:
        _create_layer(con, layer)
    _create_indexes(con, layer)
    _write_aliases(con, layer)


def _create_indexes(con: sqlite3.Connection, layer: LayerDef) -> None:
    for f in layer.fields:
        if f.unique and not _has_unique_index(con, layer.name, f.name):
            # A unique index, not a column constraint (as stores made before 2026-12 have): a bulk
            # load into an empty layer sets it aside and builds it once at the end. Kept up row by
            # row, it was over a quarter of the SQLite time of a 200,000-estate import.
            name = quote_ident(f"{layer.name}_{f.name}_key")
            con.execute(f"CREATE UNIQUE INDEX {name} ON {quote_ident(layer.name)} ({quote_ident(f.name)})")
        if f.index:
            name = quote_ident(f"{layer.name}_{f.name}_idx")
            con.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {quote_ident(layer.name)} ({quote_ident(f.name)})")


def _column_sql(f) -> str:
    sql = f"{quote_ident(f.name)} {_SQL_TYPES[f.type]}"
    if f.required:
        sql += " NOT NULL"
    return sql  # (uniqueness: an index of its own, `_create_indexes`)


def _has_unique_index(con: sqlite3.Connection, table: str, column: str) -> bool:
    """Whether a unique index (a column constraint's automatic one included) covers `column` alone."""
    return any(unique and [info[2] for info in con.execute(f"PRAGMA index_info({quote_ident(name)})")] == [column]
               for _seq, name, unique, *_rest in con.execute(f"PRAGMA index_list({quote_ident(table)})"))


def _create_layer(con: sqlite3.Connection, layer: LayerDef) -> None:
    table = quote_ident(layer.name)
    geometry_type = _GEOMETRY_TYPE_NAMES[layer.geometry_type]
    columns = ", ".join(_column_sql(f) for f in layer.fields)
    con.execute(f'CREATE TABLE {table} ("id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, '
                f'"geom" {geometry_type}, {columns}, {VERSION_COLUMN})')
    con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) "
                "VALUES (?, 'features', ?, ?, ?)", (layer.name, layer.name, layer.title_zh, SRID))
    con.execute("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, ?, 0, 0)",
                (layer.name, geometry_type, SRID))
    _create_rtree(con, layer.name)


def _create_rtree(con: sqlite3.Connection, name: str) -> None:
    rtree = quote_ident(f"rtree_{name}_geom")
    t = quote_ident(name)
    values = "(NEW.id, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom))"
    present = "(NEW.geom NOT NULL AND NOT ST_IsEmpty(NEW.geom))"
    absent = "(NEW.geom IS NULL OR ST_IsEmpty(NEW.geom))"
    trigger = f"rtree_{name}_geom"
    con.execute(f"CREATE VIRTUAL TABLE {rtree} USING rtree(id, minx, maxx, miny, maxy)")
    # One statement per execute: executescript() would COMMIT the surrounding transaction.
    triggers = [
        f"{trigger}_insert\" AFTER INSERT ON {t} WHEN {present} "
        f"BEGIN INSERT OR REPLACE INTO {rtree} VALUES {values}; END",
        f"{trigger}_update1\" AFTER UPDATE OF geom ON {t} WHEN OLD.id = NEW.id AND {present} "
        f"BEGIN INSERT OR REPLACE INTO {rtree} VALUES {values}; END",
        f"{trigger}_update2\" AFTER UPDATE OF geom ON {t} WHEN OLD.id = NEW.id AND {absent} "
        f"BEGIN DELETE FROM {rtree} WHERE id = OLD.id; END",
        f"{trigger}_update3\" AFTER UPDATE ON {t} WHEN OLD.id != NEW.id AND {present} "
        f"BEGIN DELETE FROM {rtree} WHERE id = OLD.id; INSERT OR REPLACE INTO {rtree} VALUES {values}; END",
        f"{trigger}_update4\" AFTER UPDATE ON {t} WHEN OLD.id != NEW.id AND {absent} "
        f"BEGIN DELETE FROM {rtree} WHERE id IN (OLD.id, NEW.id); END",
        f"{trigger}_delete\" AFTER DELETE ON {t} WHEN OLD.geom NOT NULL "
        f"BEGIN DELETE FROM {rtree} WHERE id = OLD.id; END",
    ]
    for body in triggers:
        con.execute(f'CREATE TRIGGER "{body}')
    con.execute("INSERT INTO gpkg_extensions VALUES (?, 'geom', 'gpkg_rtree_index', "
                "'http://www.geopackage.org/spec/#extension_rtree', 'write-only')", (name,))


def _add_missing_columns(con: sqlite3.Connection, layer: LayerDef) -> None:
    present = {row[1] for row in con.execute(f"PRAGMA table_info({quote_ident(layer.name)})")}
    if "version" not in present:  # a store made before features carried versions
        con.execute(f"ALTER TABLE {quote_ident(layer.name)} ADD COLUMN {VERSION_COLUMN}")
    for f in layer.fields:
        if f.name not in present:
            # SQLite cannot add a NOT NULL column to a filled table; the schema check in
            # LayerDef.clean still enforces it on every write (uniqueness: `_create_indexes`).
            con.execute(f"ALTER TABLE {quote_ident(layer.name)} ADD COLUMN {quote_ident(f.name)} {_SQL_TYPES[f.type]}")


def _write_aliases(con: sqlite3.Connection, layer: LayerDef) -> None:
    rows = [(layer.name, f.name, f.name, f.label_zh, f.label_en) for f in layer.fields]
    con.executemany("INSERT OR REPLACE INTO gpkg_data_columns (table_name, column_name, name, title, description) "
                    "VALUES (?, ?, ?, ?, ?)", rows)


def refresh_extent(con: sqlite3.Connection, layer: LayerDef) -> None:
    """Keep gpkg_contents' extent and last_change true after a write (QGIS zooms to it)."""
    rtree = quote_ident(f"rtree_{layer.name}_geom")
    # One pass over the R-tree (four subqueries read it four times: 0.15 s at 200,000 estates).
    extent = con.execute(f"SELECT MIN(minx), MIN(miny), MAX(maxx), MAX(maxy) FROM {rtree}").fetchone()
    con.execute("UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ?, "
                "last_change = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE table_name = ?", (*extent, layer.name))


def set_aside(con: sqlite3.Connection, table: str, triggers: str | None = "%", indexes: bool = True) -> list[str]:
    """Drop a table's triggers (named LIKE `triggers`; None: none) and, if `indexes`, its own column
    indexes (not the automatic UNIQUE ones), returning the statements that make them again. Bulk
    loads run them once at the end: the R-tree is then filled from envelopes computed all at once
    (its triggers call back into Python four times a row) and each index is built in one pass."""
    rows = con.execute("SELECT type, name, sql FROM main.sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL "
                       "AND ((type = 'trigger' AND name LIKE ?) OR (type = 'index' AND ?))",
                       (table, triggers, indexes)).fetchall()
    for kind, name, _sql in rows:
        con.execute(f"DROP {kind.upper()} main.{quote_ident(name)}")
    return [sql for _kind, _name, sql in rows]
