"""GeoPackage backend: an ordinary OGC GeoPackage file that GDAL and QGIS open as they are.

Each layer is a feature table registered in `gpkg_contents` / `gpkg_geometry_columns`, with a
`gpkg_rtree_index` spatial index kept by the standard triggers, and its Chinese field labels in
`gpkg_data_columns` (QGIS shows them as aliases). The store's revision lives in the attribute
table `geo_app_meta`. Reads open a connection per call (WAL lets them run beside a writer); writes
take SQLite's write lock with BEGIN IMMEDIATE, so writers from every process are serialised.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import struct
import threading
from pathlib import Path
from typing import Sequence

import numpy as np
import shapely

from ..errors import Conflict, StoreError
from ..layers import LayerDef
from .accounts import GeoPackageAccounts
from .audit import GPKG_DDL as AUDIT_DDL
from .base import SRID, Feature, Store, Writer, quote_ident
from .bulk import BIG_LOAD_ROWS, BulkLoad
from . import gpkg_rtree, gpkg_schema
from .gpkg_spatial import GeoPackageSpatial

_FLAGS_LE_XY_ENVELOPE = 0b0000_0011  # little-endian, envelope [minx, maxx, miny, maxy]
_ENVELOPE_SIZES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
BULK_CHUNK = 10_000  # rows per executemany in bulk inserts: progress granularity, bounded memory


# The GeoPackage binary header: "GP", version 0, flags (little-endian, envelope [minx, maxx, miny,
# maxy]), srs_id, envelope; the ISO WKB follows.
_HEADER = np.dtype([("magic", "S2"), ("version", "u1"), ("flags", "u1"), ("srs_id", "<i4"), ("envelope", "<f8", 4)])


def encode_geometries(geoms: np.ndarray, srid: int = SRID, bounds: np.ndarray | None = None) -> list[bytearray]:
    """Shapely geometries -> GeoPackage binary blobs (header with envelope + ISO WKB).

    `bounds`: `shapely.bounds(geoms)` when the caller has them. The headers are packed all at once
    by numpy, and the blobs are bytearrays: the sqlite3 module binds them straight away, where
    bytes first go through its adaptation lookups (~0.25 µs a value)."""
    wkbs = shapely.to_wkb(geoms, byte_order=1, flavor="iso").tolist()
    header = np.zeros(len(wkbs), dtype=_HEADER)
    header["magic"], header["flags"], header["srs_id"] = b"GP", _FLAGS_LE_XY_ENVELOPE, srid
    header["envelope"] = (shapely.bounds(geoms) if bounds is None else bounds)[:, [0, 2, 1, 3]]
    packed, size = header.tobytes(), _HEADER.itemsize
    return [bytearray(packed[i:i + size]) + wkb for i, wkb in zip(range(0, len(packed), size), wkbs)]


def _wkb_offset(blob: bytes) -> int:
    flags = blob[3]
    return 8 + _ENVELOPE_SIZES[(flags >> 1) & 0b111]


def decode_geometries(blobs: list) -> np.ndarray:
    """GeoPackage binary blobs (from any writer, any envelope kind) -> shapely geometries."""
    wkbs = [None if b is None else bytes(b[_wkb_offset(b):]) for b in blobs]
    return shapely.from_wkb(wkbs)


def _envelope(blob):
    """(minx, maxx, miny, maxy) of a blob, read from its header or, if absent, its geometry."""
    if blob is None:
        return None
    flags = blob[3]
    if flags & 0b1_0000:  # empty geometry flag
        return None
    if (flags >> 1) & 0b111:
        fmt = "<4d" if flags & 1 else ">4d"
        return struct.unpack_from(fmt, blob, 8)
    geom = shapely.from_wkb(bytes(blob[_wkb_offset(blob):]))
    if geom.is_empty:
        return None
    minx, miny, maxx, maxy = geom.bounds
    return minx, maxx, miny, maxy


def _register_functions(con: sqlite3.Connection) -> None:
    # The gpkg_rtree_index triggers call these SQL functions; GDAL defines them on its connections,
    # and so must we on ours or every write to a feature table would fail.
    def component(i):
        return lambda blob: None if (env := _envelope(blob)) is None else env[i]

    con.create_function("ST_MinX", 1, component(0), deterministic=True)
    con.create_function("ST_MaxX", 1, component(1), deterministic=True)
    con.create_function("ST_MinY", 1, component(2), deterministic=True)
    con.create_function("ST_MaxY", 1, component(3), deterministic=True)
    con.create_function("ST_IsEmpty", 1, lambda blob: 1 if blob is None or _envelope(blob) is None else 0,
                        deterministic=True)
    con.create_function("geo_app_intersects_box", 5, _intersects_box, deterministic=True)
    con.create_function("geo_app_intersects_wkb", 2, _intersects_wkb, deterministic=True)


def connect(path: Path) -> sqlite3.Connection:
    """A connection to a GeoPackage file (created when absent) with the SQL functions its R-tree
    triggers call: autocommit mode, so callers open their transactions explicitly."""
    try:
        con = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open GeoPackage {path}: {exc}") from None
    _register_functions(con)
    con.execute("PRAGMA busy_timeout = 30000")
    return con


@functools.lru_cache(maxsize=64)
def _prepared(wkb: bytes):
    """The query geometry, parsed and prepared once per distinct query, not once per row."""
    geom = shapely.from_wkb(wkb)
    shapely.prepare(geom)
    return geom


def _intersects_wkb(blob, wkb) -> int:
    """Exact test of a row's geometry against a query geometry given as WKB."""
    if blob is None or _envelope(blob) is None:
        return 0
    geom = shapely.from_wkb(bytes(blob[_wkb_offset(blob):]))
    return int(shapely.intersects(_prepared(bytes(wkb)), geom))


def _intersects_box(blob, minx, miny, maxx, maxy) -> int:
    """Exact geometry/box test for the rows the R-tree lets through (envelope checks first)."""
    env = _envelope(blob)
    if env is None:
        return 0
    e_minx, e_maxx, e_miny, e_maxy = env
    if e_minx > maxx or e_maxx < minx or e_miny > maxy or e_maxy < miny:
        return 0
    if e_minx >= minx and e_maxx <= maxx and e_miny >= miny and e_maxy <= maxy:
        return 1  # the envelope lies inside the box, so the shape does too
    geom = shapely.from_wkb(bytes(blob[_wkb_offset(blob):]))
    return int(shapely.intersects(geom, shapely.box(minx, miny, maxx, maxy)))


class GeoPackageStore(GeoPackageSpatial, Store):
    """The embedded store: one GeoPackage file."""

    placeholder = "?"
    plain_values = True  # sqlite3 returns int, float, str, bytes or None, exactly what _plain keeps

    def __init__(self, path: str | Path, layers: dict[str, LayerDef]):
        super().__init__(layers)
        self.path = Path(path)
        self._write_lock = threading.Lock()
        # One connection per thread, kept open: opening one and parsing the schema costs ~1 ms,
        # which would dominate small reads. SQLite connections must not cross threads.
        self._local = threading.local()
        self._all_connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()

    @property
    def description(self) -> str:
        return f"GeoPackage {self.path}"

    @functools.cached_property
    def accounts(self) -> GeoPackageAccounts:
        return GeoPackageAccounts(self)

    @contextlib.contextmanager
    def _connect(self):
        con = getattr(self._local, "connection", None)
        if con is None:
            con = self._open_connection()
            self._local.connection = con
            with self._connections_lock:
                self._all_connections.append(con)
        yield con

    def _open_connection(self) -> sqlite3.Connection:
        return connect(self.path)

    def close(self) -> None:
        """Close every thread's connection (they reopen lazily if the store is used again)."""
        if self._all_connections and self.path.exists():
            self.checkpoint()
        with self._connections_lock:
            for con in self._all_connections:
                con.close()
            self._all_connections.clear()
        self._local = threading.local()

    # --- lifecycle -------------------------------------------------------------------------
    def exists(self) -> bool:
        if not self.path.exists():
            return False  # checked first: connecting would create an empty file
        with self._connect() as con:
            return gpkg_schema.has_meta(con)

    def initialise(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._write_lock, self._connect() as con:
            # GDAL reads application_id from the file header itself, so it must be written to
            # the main file before WAL mode would park page 1 in the -wal file.
            con.execute(f"PRAGMA application_id = {gpkg_schema.APPLICATION_ID}")
            con.execute(f"PRAGMA user_version = {gpkg_schema.USER_VERSION}")
            con.execute("PRAGMA journal_mode = WAL")
            con.execute("BEGIN IMMEDIATE")
            try:
                gpkg_schema.create_core_tables(con)
                for layer_def in self.layers.values():
                    gpkg_schema.ensure_layer(con, layer_def)
                for statement in [*self.accounts.ddl(), *AUDIT_DDL]:
                    con.execute(statement)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the file, so the .gpkg alone is complete to copy."""
        with self._connect() as con:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def drop(self) -> None:
        self.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    # --- reads -----------------------------------------------------------------------------
    def revision(self) -> int:
        with self._connect() as con:
            row = con.execute("SELECT value FROM geo_app_meta WHERE key = 'revision'").fetchone()
        return int(row[0])

    def _fetch(self, sql: str, params: Sequence) -> list[tuple]:
        with self._connect() as con:
            try:
                return con.execute(sql, list(params)).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"{self.description}: {exc}") from None

    def _geometry_column_sql(self, layer: LayerDef) -> str:
        return '"geom"'

    def _decode_geometries(self, values: list) -> np.ndarray:
        return decode_geometries(values)

    def _bbox_clause(self, layer: LayerDef, bbox: tuple) -> tuple[str, list]:
        # The R-tree narrows the candidates by envelope; the exact test runs only on those.
        rtree = quote_ident(f"rtree_{layer.name}_geom")
        minx, miny, maxx, maxy = bbox
        return (f'"id" IN (SELECT id FROM {rtree} WHERE maxx >= ? AND minx <= ? '
                f'AND maxy >= ? AND miny <= ?) AND geo_app_intersects_box("geom", ?, ?, ?, ?)',
                [minx, maxx, miny, maxy, minx, miny, maxx, maxy])

    def _intersects_clause(self, layer: LayerDef, geometry) -> tuple[str, list]:
        rtree = quote_ident(f"rtree_{layer.name}_geom")
        minx, miny, maxx, maxy = geometry.bounds
        return (f'"id" IN (SELECT id FROM {rtree} WHERE maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?) '
                'AND geo_app_intersects_wkb("geom", ?)', [minx, maxx, miny, maxy, shapely.to_wkb(geometry)])

    # --- writes ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self):
        with self._write_lock, self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            writer = GeoPackageWriter(self, con)
            try:
                yield writer
                writer.refuse_if_abandoned()
                for layer in sorted(writer.touched):
                    gpkg_schema.refresh_extent(con, self.layers[layer])
                con.execute("UPDATE geo_app_meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) "
                            "WHERE key = 'revision'")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise


class GeoPackageWriter(Writer):
    def __init__(self, store: GeoPackageStore, con: sqlite3.Connection):
        super().__init__(store)
        self.con = con

    def _execute(self, sql: str, params=(), layer: str = ""):
        try:
            return self.con.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"{layer or self.store.description}: {exc}") from None

    def _run(self, sql: str, params) -> None:
        try:
            self.con.execute(sql, list(params))
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"{self.store.description}: {exc}") from None

    def _select_features(self, layer_def: LayerDef, feature_id: int) -> Feature | None:
        # BEGIN IMMEDIATE already holds the write lock: no other writer can change the row now.
        columns = ", ".join(quote_ident(n) for n in layer_def.field_names)
        row = self.con.execute(f'SELECT {columns}, "version", "geom" FROM {quote_ident(layer_def.name)} '
                               'WHERE "id" = ?', (feature_id,)).fetchone()
        if row is None:
            return None
        props = dict(zip(layer_def.field_names, row[:-2]))
        return Feature(feature_id, props, decode_geometries([row[-1]])[0], row[-2])

    def _insert_rows(self, layer_def: LayerDef, props: list[dict], geoms: np.ndarray) -> list[int]:
        names = layer_def.field_names
        sql = (f"INSERT INTO {quote_ident(layer_def.name)} ({', '.join(quote_ident(n) for n in names)}, \"geom\") "
               f"VALUES ({', '.join('?' * (len(names) + 1))})")
        ids = []
        for index, (p, blob) in enumerate(zip(props, encode_geometries(geoms)), 1):
            where = f"{layer_def.name} feature #{index}" + (f" ({p['code']})" if p.get("code") else "")
            ids.append(self._execute(sql, [*(p[n] for n in names), blob], where).lastrowid)
        return ids

    def _layer_is_empty(self, layer_def: LayerDef) -> bool:
        # BEGIN IMMEDIATE holds the file's write lock already.
        return not self.con.execute(f"SELECT EXISTS (SELECT 1 FROM {quote_ident(layer_def.name)})").fetchone()[0]

    def _bulk_load(self, layer_def: LayerDef, expected: int | None) -> GeoPackageBulkLoad:
        return GeoPackageBulkLoad(self, layer_def, expected)

    def _update_row(self, layer_def: LayerDef, feature_id: int, props: dict, geom) -> None:
        names = layer_def.field_names
        assignments = ", ".join(f"{quote_ident(n)} = ?" for n in names)
        blob = encode_geometries(np.array([geom], dtype=object))[0]
        self._execute(f'UPDATE {quote_ident(layer_def.name)} SET {assignments}, "geom" = ?, '
                      '"version" = "version" + 1 WHERE "id" = ?',
                      [*(props[n] for n in names), blob, feature_id], f"{layer_def.name} feature {feature_id}")

    def _delete_rows(self, layer_def: LayerDef, ids: list[int] | None) -> int:
        table = quote_ident(layer_def.name)
        if ids is None:
            return self._execute(f"DELETE FROM {table}").rowcount
        deleted = 0
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start:chunk_start + 500]
            deleted += self._execute(f'DELETE FROM {table} WHERE "id" IN ({", ".join("?" * len(chunk))})',
                                     chunk).rowcount
        return deleted


class GeoPackageBulkLoad(BulkLoad):
    """As GDAL loads a GeoPackage: the R-tree's insert trigger (one Python callback per bound per
    row) is set aside and the index filled at the end from bounds computed with shapely, and a load
    at least as big as the table (or of unknown size into an empty one) builds the secondary
    indexes once at the end; small loads into a big table keep them. All comes back before COMMIT,
    and a failure rolls all of it back (DDL is transactional). BEGIN IMMEDIATE holds the write lock,
    so the layer stays as this transaction finds it, and other connections (WAL) read the last
    commit meanwhile."""

    def _begin(self) -> None:
        con, name = self.writer.con, self.layer_def.name
        self.table = quote_ident(name)
        self.statements: dict[tuple, str] = {}  # (each field's missing values: none, some, all) -> INSERT
        self.last_id = con.execute(f'SELECT COALESCE(MAX("id"), 0) FROM {self.table}').fetchone()[0]
        self.stored = con.execute(f"SELECT COUNT(*) FROM {self.table}").fetchone()[0]
        self.layer_was_empty = not self.stored
        self.rtree = f"rtree_{name}_geom"
        indexes = not self.stored if self.expected is None else self.expected >= max(self.stored, BIG_LOAD_ROWS)
        self.deferred = gpkg_schema.set_aside(con, name, triggers=f"{self.rtree}_insert", indexes=indexes)
        self.has_rtree = any(f"{self.rtree}_insert" in statement for statement in self.deferred)
        self.bounds: list[np.ndarray] = []

    def _add(self, columns: dict, geoms: np.ndarray, on_progress) -> int:
        # (Making the next chunk's blobs on a helper thread meanwhile was slower: each row's
        # executemany step lets go of the GIL, and getting it back from a busy helper takes a while.)
        bounds = shapely.bounds(geoms)
        self.bounds.append(bounds)
        for start in range(0, len(geoms), BULK_CHUNK):
            stop = min(start + BULK_CHUNK, len(geoms))
            blobs = encode_geometries(geoms[start:stop], bounds=bounds[start:stop])
            bindable = [_bindable(columns[f.name][start:stop], f.type) for f in self.layer_def.fields]
            missing = tuple(state for _values, state in bindable)
            rows = zip(*(values for values, state in bindable if state != _ALL), blobs)
            try:
                self.writer.con.executemany(self._insert(missing), rows)
            except sqlite3.IntegrityError as exc:
                first = self.rows + start + 1
                raise Conflict(f"{self.layer_def.name} (features {first}–{self.rows + stop}): {exc}") from None
            on_progress(stop)
        return len(geoms)

    def _insert(self, missing: tuple) -> str:
        """The INSERT for a chunk whose fields miss none, some or all of their values: a field
        missing all is left out (NULL), `NULLIF` is only where some text is missing (_bindable)."""
        sql = self.statements.get(missing)
        if sql is None:
            fields = [(f, state) for f, state in zip(self.layer_def.fields, missing) if state != _ALL]
            names = [quote_ident(f.name) for f, _state in fields] + ['"geom"']
            values = ["NULLIF(?, char(0))" if state == _SOME and f.type not in _NUMBERS else "?" for f, state in fields]
            sql = self.statements[missing] = (f"INSERT INTO {self.table} ({', '.join(names)}) "
                                              f"VALUES ({', '.join(values + ['?'])})")
        return sql

    def _finish(self) -> None:
        con = self.writer.con
        if self.has_rtree and self.rows:
            # AUTOINCREMENT ids of this transaction's rows are all above the previous maximum, in
            # order, and one apart as nothing else writes meanwhile: a range, unless the count says not.
            low, high, count = con.execute(f'SELECT MIN("id"), MAX("id"), COUNT(*) FROM {self.table} WHERE "id" > ?',
                                           (self.last_id,)).fetchone()
            ids = (np.arange(low, high + 1, dtype=np.int64) if count == self.rows == high - low + 1 else
                   np.fromiter((r[0] for r in con.execute(f'SELECT "id" FROM {self.table} WHERE "id" > ? ORDER BY "id"',
                                                         (self.last_id,))), dtype=np.int64))
            bounds = np.concatenate(self.bounds) if len(self.bounds) > 1 else self.bounds[0]
            if not self.stored:  # an empty layer: its R-tree is packed in one go (gpkg_rtree), ~10x faster
                gpkg_rtree.bulk_fill(con, self.rtree, ids, bounds)
            else:
                con.executemany(f"INSERT INTO {quote_ident(self.rtree)} VALUES (?, ?, ?, ?, ?)",
                                zip(ids.tolist(), *bounds[:, [0, 2, 1, 3]].T.tolist()))
        for statement in self.deferred:
            try:
                con.execute(statement)
            except sqlite3.IntegrityError:  # a unique index built again: which value is twice in the layer
                raise Conflict(self._duplicated()) from None

    def _duplicated(self) -> str:
        for f in self.layer_def.fields:
            if f.unique:
                column = quote_ident(f.name)
                row = self.writer.con.execute(f"SELECT {column}, COUNT(*) FROM {self.table} WHERE {column} IS NOT NULL "
                                              f"GROUP BY {column} HAVING COUNT(*) > 1 LIMIT 1").fetchone()
                if row is not None:
                    return f"{self.layer_def.name}: {row[1]} features have the {f.name} '{row[0]}', which must be unique"
        return f"{self.layer_def.name}: a unique field holds a value twice"


# The sqlite3 module binds None ~8x slower than a number or a text (it looks for an adapter, raising
# and clearing an AttributeError each time), and a 200,000-estate import has a million of them. A
# bulk load binds NaN for a missing number, which SQLite stores as NULL, and a NUL character for a
# missing text, which its INSERT turns into NULL (NULLIF): no checked text holds a NUL character.
# A column missing no value in a chunk binds as it is, without NULLIF (its cost on each text value
# was a seventh of the insert); a column missing every value is left out of the chunk's INSERT.
_NUMBERS = ("integer", "real")
_NONE, _SOME, _ALL = "none", "some", "all"


def _bindable(values: np.ndarray, kind: str) -> tuple[np.ndarray, str]:
    """The values to bind and how many are missing (_NONE, _SOME, _ALL)."""
    missing = np.equal(values, None)
    if not missing.any():
        return values, _NONE
    if missing.all():
        return values, _ALL
    values = values.copy()
    values[missing] = np.nan if kind in _NUMBERS else "\x00"
    return values, _SOME
