"""PostGIS backend: the server deployment. Spatial work runs in SQL on GiST-indexed columns.

The URL is an ordinary libpq URL; an optional `?schema=NAME` puts the tables in their own schema
(tests use one per test; a deployment may keep several districts in one database). The schema is
created by the app and brought up to the layer definitions by `initialise()`; the version lives in
`geo_app_meta` beside the revision.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import re
from typing import Iterator, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import shapely

from ..errors import Conflict, StoreError
from ..layers import LayerDef
from .accounts import TABLES as ACCOUNT_TABLES
from .accounts import PostgisAccounts
from .audit import AUDIT, POSTGIS_DDL as AUDIT_DDL
from .base import SRID, Feature, FeatureQuery, FeatureRows, Store, Writer, quote_ident
from .bulk import BIG_LOAD_ROWS, BulkLoad
from .postgis_spatial import PostgisSpatial

_SQL_TYPES = {"text": "text", "integer": "integer", "real": "double precision", "date": "date"}
BULK_CHUNK = 10_000  # rows per progress report in bulk inserts
# A bulk load of at least this many rows (known in advance) into an empty table locks it and
# builds its non-unique indexes and unique constraints once at the end (see PostgisBulkLoad),
# waiting at most LOCK_WAIT_MS for the lock.
LOCKED_LOAD_ROWS = BIG_LOAD_ROWS
LOCK_WAIT_MS = 2000
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _import_psycopg():
    try:
        import psycopg
        import psycopg_pool
    except ImportError:  # pragma: no cover - declared dependency
        raise StoreError("PostGIS needs the 'psycopg[binary]' and 'psycopg-pool' packages") from None
    return psycopg, psycopg_pool


def split_url(url: str) -> tuple[str, str]:
    """A postgresql:// URL -> (libpq URL without our `schema` parameter, schema name)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    schema = query.pop("schema", "public")
    if not _SCHEMA_NAME.match(schema):
        raise StoreError(f"database URL: schema {schema!r} must be a lower-case identifier")
    return urlunsplit(parts._replace(query=urlencode(query))), schema


def redact(url: str) -> str:
    """The URL without its password, for logs and messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


class PostgisStore(PostgisSpatial, Store):
    """Tables in a PostgreSQL database with the PostGIS extension."""

    placeholder = "%s"

    def __init__(self, url: str, layers: dict[str, LayerDef], pool_size: int = 4):
        super().__init__(layers)
        self.url = url
        self.conninfo, self.schema = split_url(url)
        psycopg, psycopg_pool = _import_psycopg()
        self._psycopg = psycopg
        # Connections set their search_path once, so every statement sees our schema then public
        # (where the postgis extension lives).
        self._pool = psycopg_pool.ConnectionPool(
            self.conninfo, min_size=1, max_size=pool_size, open=False,
            kwargs={"options": f"-c search_path={self.schema},public", "autocommit": True},
        )
        self._opened = False

    @property
    def description(self) -> str:
        return f"PostGIS {redact(self.url)}"

    @functools.cached_property
    def accounts(self) -> PostgisAccounts:
        return PostgisAccounts(self)

    @contextlib.contextmanager
    def _connection(self):
        if not self._opened:
            try:
                self._pool.open(wait=True, timeout=10)
            except Exception as exc:
                raise StoreError(f"cannot connect to {self.description}: {exc}") from None
            self._opened = True
        with self._pool.connection() as conn:
            yield conn

    def close(self) -> None:
        if self._opened:
            self._pool.close()
            self._opened = False

    # --- lifecycle -------------------------------------------------------------------------
    def exists(self) -> bool:
        rows = self._fetch("SELECT to_regclass(%s) IS NOT NULL", [f"{self.schema}.geo_app_meta"])
        return bool(rows[0][0])

    def initialise(self) -> None:
        with self._connection() as conn, conn.transaction():
            self._ensure_postgis(conn)
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(self.schema)}")
            conn.execute("CREATE TABLE IF NOT EXISTS geo_app_meta (key text PRIMARY KEY, value text NOT NULL)")
            conn.execute("INSERT INTO geo_app_meta VALUES ('revision', '0'), ('schema_version', '1') "
                         "ON CONFLICT (key) DO NOTHING")
            for layer_def in self.layers.values():
                self._ensure_layer(conn, layer_def)
            for statement in [*self.accounts.ddl(), *AUDIT_DDL]:
                conn.execute(statement)

    def _ensure_postgis(self, conn) -> None:
        installed = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone()
        if installed:
            return
        try:
            with conn.transaction():
                conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        except self._psycopg.Error as exc:
            raise StoreError(
                f"{self.description}: the PostGIS extension is not available ({exc.__class__.__name__}: "
                f"{str(exc).strip()}). Install it (Debian: postgresql-15-postgis-3) and run "
                "CREATE EXTENSION postgis as a superuser.") from None

    def _ensure_layer(self, conn, layer_def: LayerDef) -> None:
        table = quote_ident(layer_def.name)
        geometry = f"geometry({layer_def.geometry_type}, {SRID})"
        columns = [f"{quote_ident(f.name)} {_SQL_TYPES[f.type]}" +
                   (" NOT NULL" if f.required else "") + (" UNIQUE" if f.unique else "")
                   for f in layer_def.fields]
        conn.execute(f'CREATE TABLE IF NOT EXISTS {table} ("id" integer GENERATED BY DEFAULT AS IDENTITY '
                     f'PRIMARY KEY, "geom" {geometry} NOT NULL, {", ".join(columns)})')
        # The store's edit counter of each feature (storage.base.Feature.version); not a layer field.
        conn.execute(f'ALTER TABLE {table} ADD COLUMN IF NOT EXISTS "version" integer NOT NULL DEFAULT 1')
        for f in layer_def.fields:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {quote_ident(f.name)} {_SQL_TYPES[f.type]}")
        conn.execute(f'CREATE INDEX IF NOT EXISTS {quote_ident(layer_def.name + "_geom_gist")} '
                     f'ON {table} USING gist ("geom")')
        for f in layer_def.fields:
            if f.index:
                conn.execute(f"CREATE INDEX IF NOT EXISTS {quote_ident(f'{layer_def.name}_{f.name}_idx')} "
                             f"ON {table} ({quote_ident(f.name)})")
        conn.execute(f"COMMENT ON TABLE {table} IS {_literal(layer_def.title_zh)}")

    def drop(self) -> None:
        with self._connection() as conn, conn.transaction():
            if self.schema == "public":
                for layer_def in self.layers.values():
                    conn.execute(f"DROP TABLE IF EXISTS {quote_ident(layer_def.name)} CASCADE")
                for table in (*ACCOUNT_TABLES, AUDIT):
                    conn.execute(f"DROP TABLE IF EXISTS {quote_ident(table)}")
                conn.execute(f"DROP FUNCTION IF EXISTS {quote_ident(AUDIT + '_refuse')}()")
                conn.execute("DROP TABLE IF EXISTS geo_app_meta")
            else:
                conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(self.schema)} CASCADE")

    # --- reads -----------------------------------------------------------------------------
    def revision(self) -> int:
        return int(self._fetch("SELECT value FROM geo_app_meta WHERE key = 'revision'", [])[0][0])

    def _fetch(self, sql: str, params: Sequence) -> list[tuple]:
        with self._connection() as conn:
            try:
                return conn.execute(sql, list(params)).fetchall()
            except self._psycopg.Error as exc:
                raise StoreError(f"{self.description}: {str(exc).strip()}") from None

    def _geometry_column_sql(self, layer: LayerDef) -> str:
        return 'ST_AsBinary("geom")'

    def _fetch_bulk(self, sql: str, params: Sequence) -> list[tuple]:
        # Binary results: geometries as raw WKB rather than hex text twice its size, numbers
        # without parsing. feature_rows selects only ints, floats, text (dates as text) and bytea.
        with self._connection() as conn:
            try:
                return conn.execute(sql, list(params), binary=True).fetchall()
            except self._psycopg.Error as exc:
                raise StoreError(f"{self.description}: {str(exc).strip()}") from None

    def keyset_pages(self, layer: str, query: FeatureQuery) -> Iterator[FeatureRows]:
        """Pages as the base class reads them, pipelined: the next page's statement is sent as soon
        as this page's last id is known, so the server reads and sends it while the caller works on
        this one (~0.4 s of a 200,000-estate export on two cores). One pooled connection is held
        until the last page, or until the caller drops the generator."""
        if not self._psycopg.Pipeline.is_supported():  # libpq < 14
            yield from super().keyset_pages(layer, query)
            return
        layer_def = self._layer(layer)

        def send(conn, after):
            sql, params, names = self._feature_rows_sql(layer_def, dataclasses.replace(query, after_id=after))
            return conn.cursor(binary=True).execute(sql, params), names

        with self._connection() as conn:
            try:
                with conn.pipeline():
                    cursor, names = send(conn, query.after_id)
                    while cursor is not None:
                        rows = cursor.fetchall()
                        cursor = send(conn, rows[-1][0])[0] if len(rows) == query.limit else None
                        if rows:
                            yield self._feature_rows_from(rows, names, query.with_geometry)
            except self._psycopg.Error as exc:
                raise StoreError(f"{self.description}: {str(exc).strip()}") from None

    def _value_sql(self, field_def) -> str:
        # Dates leave as ISO text (what `_plain` would make of datetime.date, without a Python call
        # per value: 0.6 s of a 200,000-estate export); not aliased, so ORDER BY still sees the date.
        if field_def.type == "date":
            return f"to_char({quote_ident(field_def.name)}, 'YYYY-MM-DD')"
        return quote_ident(field_def.name)

    def _decode_geometries(self, values: list) -> np.ndarray:
        return shapely.from_wkb([bytes(v) if v is not None else None for v in values])

    def _bbox_clause(self, layer: LayerDef, bbox: tuple) -> tuple[str, list]:
        # ST_Intersects uses the GiST index for the envelope pass, then tests the exact shape.
        return f'ST_Intersects("geom", ST_MakeEnvelope(%s, %s, %s, %s, {SRID}))', list(bbox)

    def _intersects_clause(self, layer: LayerDef, geometry) -> tuple[str, list]:
        return f'ST_Intersects("geom", ST_GeomFromWKB(%s, {SRID}))', [shapely.to_wkb(geometry)]

    # --- writes ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self):
        with self._connection() as conn:
            try:
                with conn.transaction():
                    writer = PostgisWriter(self, conn)
                    yield writer
                    writer.refuse_if_abandoned()
                    conn.execute("UPDATE geo_app_meta SET value = (value::bigint + 1)::text "
                                 "WHERE key = 'revision'")
            except self._psycopg.errors.IntegrityError as exc:
                raise Conflict(_integrity_message(exc)) from None
            except self._psycopg.Error as exc:
                raise StoreError(f"{self.description}: {str(exc).strip()}") from None


def _integrity_message(exc) -> str:
    """A constraint violation in words a user can act on: table, constraint, offending value."""
    diag = exc.diag
    detail = (diag.message_detail or "").replace("Key ", "")
    return f"{diag.table_name or 'store'}: {diag.message_primary}" + (f" ({detail})" if detail else "")


def _literal(text: str) -> str:
    """A SQL string literal for DDL comments (COMMENT takes no bound parameters)."""
    return "'" + text.replace("'", "''") + "'"


class PostgisWriter(Writer):
    def __init__(self, store: PostgisStore, conn):
        super().__init__(store)
        self.conn = conn

    def _run(self, sql: str, params) -> None:
        self.conn.execute(sql, list(params))

    def _select_features(self, layer_def: LayerDef, feature_id: int) -> Feature | None:
        # FOR UPDATE: a concurrent edit of the same row waits here until this transaction ends,
        # then reads the version this one wrote (so its version check sees the change).
        columns = ", ".join(quote_ident(n) for n in layer_def.field_names)
        row = self.conn.execute(f'SELECT {columns}, "version", ST_AsBinary("geom") FROM '
                                f'{quote_ident(layer_def.name)} WHERE "id" = %s FOR UPDATE', [feature_id]).fetchone()
        if row is None:
            return None
        props = {n: v.isoformat() if hasattr(v, "isoformat") else v for n, v in zip(layer_def.field_names, row)}
        return Feature(feature_id, props, shapely.from_wkb(bytes(row[-1])), row[-2])

    def _insert_rows(self, layer_def: LayerDef, props: list[dict], geoms: np.ndarray) -> list[int]:
        names = layer_def.field_names
        columns = ", ".join(quote_ident(n) for n in names)
        placeholders = ", ".join(["%s"] * len(names))
        sql = (f'INSERT INTO {quote_ident(layer_def.name)} ({columns}, "geom") '
               f'VALUES ({placeholders}, ST_GeomFromWKB(%s, {SRID})) RETURNING "id"')
        wkbs = shapely.to_wkb(geoms, byte_order=1)
        ids = []
        with self.conn.cursor() as cur:
            cur.executemany(sql, [[*(p[n] for n in names), w] for p, w in zip(props, wkbs)], returning=True)
            while True:
                ids.append(cur.fetchone()[0])
                if not cur.nextset():
                    break
        return ids

    def _layer_is_empty(self, layer_def: LayerDef) -> bool:
        table = quote_ident(layer_def.name)
        self.conn.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")  # writers wait, readers not
        return not _has_rows(self.conn, table)

    def _bulk_load(self, layer_def: LayerDef, expected: int | None) -> PostgisBulkLoad:
        return PostgisBulkLoad(self, layer_def, expected)

    def _update_row(self, layer_def: LayerDef, feature_id: int, props: dict, geom) -> None:
        names = layer_def.field_names
        assignments = ", ".join(f"{quote_ident(n)} = %s" for n in names)
        self.conn.execute(f'UPDATE {quote_ident(layer_def.name)} SET {assignments}, '
                          f'"geom" = ST_GeomFromWKB(%s, {SRID}), "version" = "version" + 1 WHERE "id" = %s',
                          [*(props[n] for n in names), shapely.to_wkb(geom), feature_id])

    def _delete_rows(self, layer_def: LayerDef, ids: list[int] | None) -> int:
        table = quote_ident(layer_def.name)
        if ids is None:
            return self.conn.execute(f"DELETE FROM {table}").rowcount
        return self.conn.execute(f'DELETE FROM {table} WHERE "id" = ANY(%s)', [ids]).rowcount


class _NotEmpty(Exception):
    pass


def _has_rows(conn, table: str) -> bool:
    """Whether the (quoted) table holds a row this transaction can see."""
    return conn.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0]


class PostgisBulkLoad(BulkLoad):
    """COPY, as geopandas and ogr2ogr load PostGIS: one stream for the whole load instead of a
    statement per row, sent by psycopg's queued writer so the server parses one part while the next
    is made. Each part is binary COPY made by Arrow's kernels from the checked columns
    (`postgis_copy`; the CSV it replaced cost the server ~60% more to parse, hex geometries above all).

    A load known to bring 1,000 rows or more into an empty table drops the table's non-unique
    indexes (GiST and per field) and its unique constraints (`code`), and builds them once at the
    end, as ogr2ogr does with its indexes; a value given twice is refused then, the message naming
    it (the import took 2–4% less time without the unique index kept up during the COPY). The
    table is locked first and found empty under the lock; that lock (DROP INDEX takes the same)
    keeps other sessions out of the table until COMMIT, so it is taken only for such loads, and only
    if it comes within LOCK_WAIT_MS (otherwise the indexes stay and are kept up row by row)."""

    def _begin(self) -> None:
        from psycopg.copy import QueuedLibpqWriter

        from . import postgis_copy  # pyarrow.compute: loaded by bulk loads only

        conn, table = self.writer.conn, quote_ident(self.layer_def.name)
        self.indexes: list[tuple[str, str]] = []
        self.constraints: list[tuple[str, str]] = []
        if self.expected is not None and self.expected >= LOCKED_LOAD_ROWS:
            self.layer_was_empty = self._locked_empty(table)
        if self.layer_was_empty:
            self.indexes = conn.execute(
                "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                "WHERE x.indrelid = %s::regclass AND NOT x.indisunique AND NOT x.indisprimary", [table]).fetchall()
            for name, _sql in self.indexes:
                conn.execute(f"DROP INDEX {quote_ident(name)}")
            self.constraints = conn.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                "AND contype = 'u'", [table]).fetchall()
            for name, _sql in self.constraints:
                conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {quote_ident(name)}")
        column_list = ", ".join(quote_ident(n) for n in [*self.layer_def.field_names, "geom"])
        self.stack = contextlib.ExitStack()
        cursor = self.stack.enter_context(conn.cursor())
        self.copy = self.stack.enter_context(cursor.copy(f"COPY {table} ({column_list}) FROM STDIN (FORMAT binary)",
                                                         writer=QueuedLibpqWriter(cursor)))
        self.copy.write(postgis_copy.SIGNATURE)  # the trailer follows the last part (`_finish`)

    def _locked_empty(self, table: str) -> bool:
        """Whether the table is empty, found under an exclusive lock that is kept only if so (a
        savepoint rolled back lets go of a lock taken after it). The lock is waited for a short
        while only: another load into the same table (its rows not committed yet, so the table
        looks empty) may need to read the table before it ends, behind our waiting lock request."""
        conn = self.writer.conn
        if _has_rows(conn, table):
            return False
        try:
            with conn.transaction():
                conn.execute(f"SET LOCAL lock_timeout = '{LOCK_WAIT_MS}ms'")
                conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
                if _has_rows(conn, table):
                    raise _NotEmpty  # a row came in before the lock: rows stay readable to others
        except (_NotEmpty, self.writer.store._psycopg.errors.LockNotAvailable):
            return False  # (the savepoint's rollback undid the SET LOCAL too)
        conn.execute("SET LOCAL lock_timeout TO DEFAULT")
        return True

    def _add(self, columns: dict, geoms: np.ndarray, on_progress) -> int:
        from . import postgis_copy

        names = self.layer_def.field_names
        for start in range(0, len(geoms), BULK_CHUNK):
            stop = min(start + BULK_CHUNK, len(geoms))
            self.copy.write(postgis_copy.copy_rows(self.layer_def, {n: columns[n][start:stop] for n in names},
                                                   geoms[start:stop], SRID))
            on_progress(stop)
        return len(geoms)

    def _finish(self) -> None:
        from . import postgis_copy

        self.copy.write(postgis_copy.TRAILER)
        self.stack.close()  # the end of the COPY: the server reports any constraint violation now
        table = quote_ident(self.layer_def.name)
        for name, definition in self.constraints:
            self.writer.conn.execute(f"ALTER TABLE {table} ADD CONSTRAINT {quote_ident(name)} {definition}")
        for _name, sql in self.indexes:
            self.writer.conn.execute(sql)

    def _abandon(self, exc: BaseException) -> None:
        try:
            self.stack.__exit__(type(exc), exc, exc.__traceback__)
        except Exception:  # noqa: BLE001 - e.g. a broken connection: the error being raised says more
            pass
