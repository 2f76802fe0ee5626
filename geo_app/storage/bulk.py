"""Bulk loads: many new rows into one layer inside a writer's transaction, part after part.

An import hands its rows over as it reads and checks them, so the engine works while the file is
still being read (ogr2ogr streams its COPY the same way). `Writer.insert_columns`, given all rows at
once, is one load with one part. Engines set aside what is cheaper to build once at the end (the
GeoPackage R-tree's triggers, secondary indexes) and build it when the load ends normally.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import StoreError
from ..layers import LayerDef

if TYPE_CHECKING:
    from .base import Writer

# A load of at least this many rows (known in advance) builds what it sets aside (indexes) once at
# the end rather than keeping it up row by row, when the layer is empty (or, GeoPackage, smaller).
BIG_LOAD_ROWS = 1000


class BulkLoad:
    """Rows added to one layer part by part; a context manager. The engine begins its load with
    the first part that passes the store's checks. Leaving the context normally finishes the load
    (what was set aside is built again); leaving it with an exception after it began abandons it,
    and the transaction then cannot commit (`Writer.abandoned`): it rolls back.

    `layer_was_empty`: once begun, the layer held no row when the load began and nobody else can
    write to it until the transaction ends, so checks against its stored rows may take it as empty.
    On PostGIS such a load also keeps other sessions from reading the layer until then (its indexes
    are dropped), so they must not be asked.
    """

    def __init__(self, writer: Writer, layer_def: LayerDef, expected: int | None = None):
        self.writer, self.layer_def, self.expected = writer, layer_def, expected
        self.rows = 0
        self.begun = False
        self.finished = False
        self.layer_was_empty = False

    def add(self, columns: dict, geometries, on_progress=None) -> int:
        """Write one part: columns (field -> array) and geometries, checked by the store
        (`columns.prepare_columns`; checked columns of the import pass as they are) before any of
        it is written. `on_progress(rows)` counts the load's rows so far. Returns the part's rows."""
        from .columns import prepare_columns  # pandas: imported by bulk writers only, not every CLI start

        if self.finished:
            raise StoreError(f"{self.layer_def.name}: the bulk load has ended; no more rows can be added to it")
        prepared, geoms = prepare_columns(self.layer_def, columns, geometries)
        if not len(geoms):
            return 0
        self.begin()
        self.writer.touched.add(self.layer_def.name)
        before = self.rows
        report = (lambda done: on_progress(before + done)) if on_progress else (lambda done: None)  # noqa: E731
        self.rows += self._add(prepared, geoms, report)
        return self.rows - before

    def begin(self) -> None:
        """Begin the load now rather than with the first part (idempotent), e.g. to know
        `layer_was_empty` early."""
        if not self.begun:
            self._begin()
            self.begun = True

    def finish(self) -> None:
        """End the load now rather than when its context is left (idempotent): what was set aside
        is built again while the caller still has other work before it commits (an import's checks
        over the whole file). No part may follow. A failure here marks the transaction abandoned."""
        if not self.begun or self.finished:
            return
        self.finished = True
        try:
            self._finish()
        except BaseException:
            self.writer.abandoned = True  # what was set aside may not be back: no commit
            raise

    def _begin(self) -> None:
        """Set aside what is cheaper to build once at the end; say whether the layer was empty."""

    def _add(self, columns: dict[str, np.ndarray], geoms: np.ndarray, on_progress) -> int:
        """Write prepared rows with the engine's bulk interface; returns how many."""
        raise NotImplementedError

    def _finish(self) -> None:
        """Build again what the load set aside."""

    def _abandon(self, exc: BaseException) -> None:
        """Let go of what the load holds open after a failure (the transaction will roll back)."""

    def __enter__(self) -> BulkLoad:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if not self.begun:
            return False
        if exc is None:
            self.finish()
        else:
            self.writer.abandoned = True
            if not self.finished:  # a finished load holds nothing open any more
                self._abandon(exc)
        return False
