"""GeoPackage bulk loads: rows bound from Arrow arrays in C, moved into the layer by one INSERT … SELECT.

The sqlite3 module binds every value of every row through a Python object: of a 200,000-estate
load's write (2.4 s), its `executemany` took 1.2 s for 28 values a row. ADBC's SQLite driver
(Apache Arrow ADBC) binds whole Arrow arrays in C, without holding the interpreter lock. It needs
a connection of its own, while ours holds the store's write lock in the import's transaction; so
the rows go first into a scratch SQLite file beside the store, and when the load ends one
`INSERT INTO <layer> SELECT … FROM` the attached scratch file moves them in, inside the transaction:
the load still lands whole or not at all. Measured on those 200,000 estates: 0.35 s into the
scratch file plus 0.25 s to move them, against the 1.2 s of `executemany` (bench/README.md).

The scratch file is disposable: no journal, no fsync. It is removed when the transaction ends,
committed or not (a SQLite database cannot be detached inside a transaction). One left by a process
that died is removed by the store's next load: loads of one store run one at a time, under its
write lock, so a scratch file of that store seen then belongs to no live load.
"""

from __future__ import annotations

import glob
import os
import secrets
import sqlite3
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..errors import StoreError
from ..layers import FieldDef
from .base import quote_ident

_TABLE = "rows"
_SUFFIX = ".sqlite"
_ARROW_TYPES = {"text": pa.string(), "date": pa.string(), "integer": pa.int64(), "real": pa.float64()}


class Staging:
    """One bulk load's rows on their way into a layer (see `GeoPackageBulkLoad`).

    `add` writes checked columns and GeoPackage geometry blobs to the scratch file; `move_into`
    copies them, in the order added, into the layer through `con` (the store's connection, inside
    its transaction); `discard` lets go of the scratch file, once that transaction has ended."""

    def __init__(self, store_path: Path, fields: list[FieldDef]):
        """A scratch file beside the GeoPackage `store_path`. The caller holds the store's write lock."""
        import adbc_driver_sqlite.dbapi as adbc_sqlite  # ~30 ms: only bulk loads pay for it

        self.fields = fields
        self.schema = pa.schema([pa.field(f.name, _ARROW_TYPES[f.type]) for f in fields]
                                + [pa.field("geom", pa.binary())])
        prefix = f".{store_path.name}.load-"
        try:
            for stale in store_path.parent.glob(f"{glob.escape(prefix)}*{_SUFFIX}"):
                stale.unlink(missing_ok=True)
            handle, name = tempfile.mkstemp(prefix=prefix, suffix=_SUFFIX, dir=store_path.parent)
        except OSError as exc:
            raise StoreError(f"cannot stage a bulk load beside {store_path}: {exc}") from None
        os.close(handle)
        self.path = Path(name)
        self.rows = 0
        self.moved = False  # the rows are in the layer
        self.attached: tuple[sqlite3.Connection, str] | None = None
        self._adbc = None
        try:
            self._adbc = adbc_sqlite.connect(str(self.path), autocommit=True)
            with self._adbc.cursor() as cur:
                cur.execute("PRAGMA journal_mode = OFF")
                cur.execute("PRAGMA synchronous = OFF")
        except Exception as exc:
            self.discard()
            raise StoreError(f"cannot stage a bulk load in {self.path}: {exc}") from None

    def add(self, columns: dict[str, np.ndarray], blobs: pa.Array) -> None:
        """Append rows: every field's checked object array (None for missing; NaN too for
        numbers) and their geometry blobs."""
        arrays = [pa.array(columns[f.name], type=_ARROW_TYPES[f.type], from_pandas=True) for f in self.fields]
        batch = pa.record_batch([*arrays, blobs], schema=self.schema)
        try:
            with self._adbc.cursor() as cur:
                cur.adbc_ingest(_TABLE, batch, mode="append" if self.rows else "create")
        except Exception as exc:  # adbc_driver_manager.Error: e.g. the disk is full
            raise StoreError(f"cannot stage a bulk load in {self.path}: {exc}") from None
        self.rows += batch.num_rows

    def move_into(self, con: sqlite3.Connection, table: str) -> None:
        """INSERT the staged rows into `table` (quoted) through `con`, in the order they were added
        (AUTOINCREMENT ids follow it). sqlite3.IntegrityError passes to the caller."""
        if self._adbc is not None:
            self._adbc.close()  # the scratch file is complete
            self._adbc = None
        if not self.rows:
            return
        schema = f"geo_app_load_{secrets.token_hex(4)}"  # unique while attached (till the transaction ends)
        con.execute(f"ATTACH DATABASE ? AS {schema}", (str(self.path),))
        self.attached = (con, schema)
        names = ", ".join(quote_ident(name) for name in self.schema.names)
        con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {schema}.{_TABLE} ORDER BY rowid")
        self.moved = True

    def duplicated(self, table: str, field: str) -> tuple[str, int] | None:
        """A value of unique `field` given twice among the staged rows, or once there and once in
        `table` already, with how many rows hold it: why `move_into` failed."""
        if self.attached is None or self.moved:
            return None
        con, schema = self.attached
        column = quote_ident(field)
        return con.execute(
            f"SELECT {column}, COUNT(*) FROM (SELECT {column} FROM {schema}.{_TABLE} UNION ALL "
            f"SELECT {column} FROM {table} WHERE {column} IN (SELECT {column} FROM {schema}.{_TABLE})) "
            f"WHERE {column} IS NOT NULL GROUP BY {column} HAVING COUNT(*) > 1 LIMIT 1").fetchone()

    def discard(self) -> None:
        """Close and remove the scratch file (idempotent). Called once the store's transaction has
        ended: SQLite detaches a database only outside a transaction."""
        if self._adbc is not None:
            self._adbc.close()
            self._adbc = None
        if self.attached is not None:
            con, schema = self.attached
            self.attached = None
            con.execute(f"DETACH DATABASE {schema}")
        self.path.unlink(missing_ok=True)
