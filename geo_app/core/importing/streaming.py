"""An import's write while its file is still being read.

Each batch, once its attributes and shapes are checked (`batch_checks`), goes to a write thread
that holds one store transaction open for the whole import and adds the batch to a bulk load
(`storage.bulk`), so the store parses, stores and indexes rows while GDAL reads the next ones, as
ogr2ogr streams its COPY. Nothing is committed until every check has run over the whole file: the
pipeline then commits (`commit`) or rolls everything back (`abort`) and, when the streamed batches
are not what the checks finally decided (another coordinate system, another field mapping), writes
the usual way. Readers elsewhere see none of it before the commit.

This pays on both engines because neither holds the interpreter lock while it works on a part:
PostgreSQL parses the COPY in its own process; the GeoPackage store binds each part from Arrow
arrays in C into its scratch file (`storage.gpkg_staging`). (With the sqlite3 module's per-row
binding it did not: every row's step let go of the lock and waited to get it back from the read.)
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import Callable

import numpy as np

from ...layers import LayerDef
from ...storage import Store, Writer
from ...storage.columns import CheckedColumns

_END, _PART, _SPOIL, _FINISH = "end", "part", "spoil", "finish"


class _Abort(Exception):
    """Leaves the transaction without committing."""


class StreamedWrite:
    """A write thread holding one transaction and one bulk load of `layer_def`'s new rows.

    `add` hands it a batch (checked columns, the future of its checked shapes); `spoil` says a batch
    cannot be written (a problem, a check that gave up), after which nothing more is written and the
    transaction can only roll back. Always end with `commit` or `abort`."""

    def __init__(self, store: Store, layer_def: LayerDef, expected: int | None):
        self.store, self.layer_def, self.expected = store, layer_def, expected
        self.queue: queue.Queue = queue.Queue(maxsize=2)  # batches waiting: bounded, like the read-ahead
        self.rows = 0
        self.spoiled = False
        self.layer_was_empty = False
        self.begun = threading.Event()  # set once the load has begun (or the write has failed)
        self.ended = False  # (the import's side) commit or abort was asked
        self.end_seen = False  # (the write thread) the end was taken from the queue
        self.committed = False
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="import-write", daemon=True)
        self.thread.start()

    # --- the import's side ------------------------------------------------------------------
    def add(self, columns: dict[str, np.ndarray], shapes: Future) -> None:
        if not self.ended:
            self.queue.put((_PART, (columns, shapes)))

    def spoil(self) -> None:
        if not self.ended:
            self.queue.put((_SPOIL, None))

    def finish(self) -> None:
        """Every batch has been handed over: the load ends now (PostGIS: the COPY ends and the
        indexes set aside are built) while the import runs its checks over the whole file, rather
        than after them. The transaction still waits for `commit` or `abort`."""
        if not self.ended:
            self.queue.put((_FINISH, None))

    def holds_empty_layer(self) -> bool:
        """True when the load found the layer empty and keeps others from writing to it until the
        commit (`BulkLoad.layer_was_empty`): the checks against stored rows must then take it as
        empty and not read it (PostGIS keeps it locked). Known once the load has begun."""
        self.begun.wait()
        return self.layer_was_empty

    def commit(self, final: Callable[[Writer], None], rows: int) -> bool:
        """Commit, after `final(writer)` has added what goes with the rows (the audit record), if
        all `rows` were streamed and none was spoiled; False when nothing was committed because
        the batches are not those rows (the caller then writes the usual way). A failure of the
        write itself (the store refused a part, the load's end, COMMIT) is raised."""
        if self.ended:
            return False
        self._end((final, rows))
        if self.error is not None:
            raise self.error
        return self.committed

    def abort(self) -> None:
        """Roll back whatever was streamed (idempotent)."""
        if not self.ended:
            self._end((None, 0))

    def _end(self, end) -> None:
        self.queue.put((_END, end))
        self.ended = True  # only once the end is in the queue: an interrupted put may be retried
        self.thread.join()

    # --- the write thread -------------------------------------------------------------------
    def _run(self) -> None:
        try:
            with self.store.transaction() as writer:
                with writer.bulk_load(self.layer_def.name, self.expected) as load:
                    load.begin()
                    self.layer_was_empty = load.layer_was_empty
                    self.begun.set()
                    final, rows = self._consume(load)
                    if final is None or self.spoiled or self.rows != rows:
                        raise _Abort  # the load is abandoned and the transaction rolls back
                final(writer)
            self.committed = True
        except _Abort:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the import's thread (see commit)
            self.error, self.spoiled = exc, True
            if not self.end_seen:  # failed while streaming: rolled back; take the batches until the end
                self._drain()
        finally:
            self.begun.set()

    def _consume(self, load) -> tuple:
        """Batches into the load until the end; returns the end: (final or None, rows)."""
        while True:
            kind, item = self.queue.get()
            if kind == _END:
                self.end_seen = True
                return item
            if kind == _SPOIL:
                self.spoiled = True
            elif kind == _FINISH:
                if not self.spoiled:  # (a spoiled load is rolled back: nothing to build)
                    load.finish()
            elif not self.spoiled:
                columns, shapes = item
                _placed, (geoms, problems, _repaired, _valid, _present, areas) = shapes.result()
                if any(p.severity == "error" for p in problems):
                    self.spoiled = True
                    continue
                self.rows += load.add(CheckedColumns(self.layer_def, columns, geoms, areas), geoms)

    def _drain(self) -> None:
        """After a failure: take the import's batches until it ends."""
        self.begun.set()
        while self.queue.get()[0] != _END:
            pass
