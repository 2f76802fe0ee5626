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
import logging
import sqlite3
import struct
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

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

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

_FLAGS_LE_XY_ENVELOPE = 0b0000_0011  # little-endian, envelope [minx, maxx, miny, maxy]
_ENVELOPE_SIZES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
BULK_CHUNK = 10_000  # rows per staged Arrow batch in bulk loads: progress granularity, bounded memory


# The GeoPackage binary header: "GP", version 0, flags (little-endian, envelope [minx, maxx, miny,
# maxy]), srs_id, envelope; the ISO WKB follows.
_HEADER = np.dtype([("magic", "S2"), ("version", "u1"), ("flags", "u1"), ("srs_id", "<i4"), ("envelope", "<f8", 4)])


def _headers(geoms: np.ndarray, srid: int, bounds: np.ndarray | None) -> bytes:
    """The blobs' headers, packed all at once by numpy (`_HEADER.itemsize` bytes each)."""
    header = np.zeros(len(geoms), dtype=_HEADER)
    header["magic"], header["flags"], header["srs_id"] = b"GP", _FLAGS_LE_XY_ENVELOPE, srid
    header["envelope"] = (shapely.bounds(geoms) if bounds is None else bounds)[:, [0, 2, 1, 3]]
    return header.tobytes()


def encode_geometries(geoms: np.ndarray, srid: int = SRID, bounds: np.ndarray | None = None) -> list[bytearray]:
    """Shapely geometries -> GeoPackage binary blobs (header with envelope + ISO WKB).

    `bounds`: `shapely.bounds(geoms)` when the caller has them. The blobs are bytearrays: the
    sqlite3 module binds them straight away, where bytes first go through its adaptation lookups
    (~0.25 µs a value)."""
    wkbs = shapely.to_wkb(geoms, byte_order=1, flavor="iso").tolist()
    packed, size = _headers(geoms, srid, bounds), _HEADER.itemsize
    return [bytearray(packed[i:i + size]) + wkb for i, wkb in zip(range(0, len(packed), size), wkbs)]


def geometry_blob_array(geoms: np.ndarray, srid: int = SRID, bounds: np.ndarray | None = None) -> pa.Array:
    """As `encode_geometries`, as one Arrow binary array (for `gpkg_staging`): each header joined
    to its WKB by Arrow, with no Python object per blob. Geometries must not be missing."""
    import pyarrow as pa  # (pyarrow.compute: ~40 ms of imports that only bulk loads need)
    import pyarrow.compute as pc

    headers = pa.FixedSizeBinaryArray.from_buffers(pa.binary(_HEADER.itemsize), len(geoms),
                                                   [None, pa.py_buffer(_headers(geoms, srid, bounds))])
    wkbs = pa.array(shapely.to_wkb(geoms, byte_order=1, flavor="iso"), type=pa.binary())
    return pc.binary_join_element_wise(headers.cast(pa.binary()), wkbs, b"")


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
            finally:
                writer.end()


class GeoPackageWriter(Writer):
    def __init__(self, store: GeoPackageStore, con: sqlite3.Connection):
        super().__init__(store)
        self.con = con
        self.after_end: list = []  # called once the transaction has committed or rolled back

    def end(self) -> None:
        """Run `after_end`. A failure there is logged, not raised: the transaction has already
        committed (or rolled back), and saying otherwise would be wrong."""
        for call in self.after_end:
            try:
                call()
            except Exception:
                log.warning("%s: cleaning up after a transaction failed", self.store.description, exc_info=True)
        self.after_end.clear()

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
    """As GDAL loads a GeoPackage, with the rows bound in C (`gpkg_staging`): each part goes into
    the load's scratch file as it comes, and when the load ends one INSERT … SELECT moves them all
    into the layer. The R-tree's insert trigger (one Python callback per bound per row) is set aside
    meanwhile; a load at least as big as the table (or of unknown size into an empty one) also sets
    aside the secondary indexes and builds them once at the end, and packs the R-tree anew with the
    stored entries and the new ones (`gpkg_rtree`); a smaller load keeps the indexes and inserts its
    entries into the R-tree. All comes back before COMMIT, and a failure rolls all of it back (DDL is
    transactional). BEGIN IMMEDIATE holds the write lock, so the layer stays as this transaction
    finds it, and other connections (WAL) read the last commit meanwhile."""

    def _begin(self) -> None:
        con, name = self.writer.con, self.layer_def.name
        self.table = quote_ident(name)
        self.last_id = con.execute(f'SELECT COALESCE(MAX("id"), 0) FROM {self.table}').fetchone()[0]
        self.stored = con.execute(f"SELECT COUNT(*) FROM {self.table}").fetchone()[0]
        self.layer_was_empty = not self.stored
        self.rtree = f"rtree_{name}_geom"
        self.big = not self.stored if self.expected is None else self.expected >= max(self.stored, BIG_LOAD_ROWS)
        self.deferred = gpkg_schema.set_aside(con, name, triggers=f"{self.rtree}_insert", indexes=self.big)
        self.has_rtree = any(f"{self.rtree}_insert" in statement for statement in self.deferred)
        self.bounds: list[np.ndarray] = []
        from .gpkg_staging import Staging  # pyarrow and ADBC: loaded by the first bulk load, not every start

        self.staging = Staging(self.writer.store.path, self.layer_def.fields)
        self.writer.after_end.append(self.staging.discard)

    def _add(self, columns: dict, geoms: np.ndarray, on_progress) -> int:
        bounds = shapely.bounds(geoms)
        self.bounds.append(bounds)
        for start in range(0, len(geoms), BULK_CHUNK):
            stop = min(start + BULK_CHUNK, len(geoms))
            self.staging.add({name: values[start:stop] for name, values in columns.items()},
                             geometry_blob_array(geoms[start:stop], bounds=bounds[start:stop]))
            on_progress(stop)
        return len(geoms)

    def _finish(self) -> None:
        con = self.writer.con
        try:
            self.staging.move_into(con, self.table)
        except sqlite3.IntegrityError as exc:  # a unique index kept during the load
            raise Conflict(self._duplicated() or f"{self.layer_def.name}: {exc}") from None
        if self.has_rtree and self.rows:
            self._index_shapes(con)
        for statement in self.deferred:
            try:
                con.execute(statement)
            except sqlite3.IntegrityError:  # a unique index built again: which value is twice in the layer
                raise Conflict(self._duplicated() or f"{self.layer_def.name}: a unique field holds a value twice") from None

    def _index_shapes(self, con: sqlite3.Connection) -> None:
        """The new rows' entries into the R-tree: packed anew with the stored ones after a big load
        (~10x faster than SQLite's R*-tree inserting them one by one), else inserted."""
        # AUTOINCREMENT ids of this transaction's rows are all above the previous maximum, in order,
        # and one apart as nothing else writes meanwhile: a range, unless the count says not.
        low, high, count = con.execute(f'SELECT MIN("id"), MAX("id"), COUNT(*) FROM {self.table} WHERE "id" > ?',
                                       (self.last_id,)).fetchone()
        ids = (np.arange(low, high + 1, dtype=np.int64) if count == self.rows == high - low + 1 else
               np.fromiter((r[0] for r in con.execute(f'SELECT "id" FROM {self.table} WHERE "id" > ? ORDER BY "id"',
                                                     (self.last_id,))), dtype=np.int64))
        bounds = np.concatenate(self.bounds) if len(self.bounds) > 1 else self.bounds[0]
        rtree = quote_ident(self.rtree)
        if self.big:
            if self.stored:
                stored = np.array(con.execute(f"SELECT id, minx, miny, maxx, maxy FROM {rtree}").fetchall(),
                                  dtype=np.float64).reshape(-1, 5)
                ids = np.concatenate([stored[:, 0].astype(np.int64), ids])
                bounds = np.concatenate([stored[:, 1:], bounds])
            gpkg_rtree.bulk_fill(con, self.rtree, ids, bounds, replace=True)
        else:
            con.executemany(f"INSERT INTO {rtree} VALUES (?, ?, ?, ?, ?)",
                            zip(ids.tolist(), *bounds[:, [0, 2, 1, 3]].T.tolist()))

    def _duplicated(self) -> str | None:
        """Which unique value the layer (with the staged rows, if they could not be moved) holds twice."""
        for f in self.layer_def.fields:
            if f.unique:
                column = quote_ident(f.name)
                row = self.staging.duplicated(self.table, f.name) or self.writer.con.execute(
                    f"SELECT {column}, COUNT(*) FROM {self.table} WHERE {column} IS NOT NULL "
                    f"GROUP BY {column} HAVING COUNT(*) > 1 LIMIT 1").fetchone()
                if row is not None:
                    return f"{self.layer_def.name}: {row[1]} features have the {f.name} '{row[0]}', which must be unique"
        return None
