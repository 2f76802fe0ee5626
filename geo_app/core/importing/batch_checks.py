"""Checks that run batch by batch while GDAL reads a file. GDAL reads on a thread of its own and
lets go of the GIL, so the thread taking its batches has time to check each batch's attributes,
and a helper thread checks its shapes beside them (GEOS lets go of the GIL too).

Both are a head start, never a second set of rules: they run the same checks as the whole-file
path (`validation.check_attributes`, `validation.shape_rows`), and whatever they cannot decide
from one batch — a mapping that needs to know which of two columns is empty, a coordinate system
the plausibility checks change — makes them give up, and the whole-file checks run after the read
as they would without them.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Callable

import numpy as np

from ...layers import LayerDef
from ...storage.columns import check_column
from .crs import SourceCrs, choose, from_file, to_wgs84
from .fields import FieldMapping
from .reading import SourceBatch
from .streaming import StreamedWrite
from .report import ImportProblem, ImportRefused
from .validation import joined_shapes, shape_rows


class EarlyChecks:
    """The import's `on_batch`: each batch's shapes go to the helper, then its attributes are
    checked here, then, given `start_write`, the checked batch goes to the streamed write
    (`streaming.StreamedWrite`, started by `start_write(first batch)`). `close()` rolls back a
    streamed write not committed and ends the helper (always call it)."""

    def __init__(self, attributes: "BatchAttributeChecks", shapes: "BatchShapeChecks",
                 start_write: Callable[[SourceBatch], StreamedWrite] | None = None):
        self.attributes, self.shapes = attributes, shapes
        self.start_write = start_write
        self.write: StreamedWrite | None = None

    def __call__(self, batch: SourceBatch) -> None:
        shapes = attributes = None
        try:
            shapes = self.shapes(batch)
            attributes = self.attributes(batch)
        except Exception:  # noqa: BLE001 - the whole-file checks run instead, and raise where they should
            self.shapes.failed = self.attributes.failed = True
        usable = shapes is not None and attributes is not None and not attributes[1]
        if self.write is None and self.start_write is not None and usable and batch.offset == 0:
            self.write = self.start_write(batch)
        self.start_write = None  # only from the first batch: the write holds every row or none
        if self.write is not None:
            if usable:
                self.write.add(attributes[0], shapes)
            else:  # a problem or a check that gave up: the write can only roll back
                self.write.spoil()

    @property
    def covered(self) -> bool:
        """Whether the checks' results for the whole file came from the batches (then a streamed
        write holds what the checks passed)."""
        return self.attributes.handed_over and self.shapes.handed_over

    def close(self) -> None:
        if self.write is not None:
            self.write.abort()
        self.shapes.close()


class BatchAttributeChecks:
    """`check_attributes` done batch by batch while a file is still being read, with the mapping
    decided from the headers alone.

    Where the headers cannot decide it (two columns for one field: which one is empty needs every
    row; a mapping the whole file decides otherwise, such as a Shapefile's cut names), `result`
    returns None and the checks run on the whole columns after the read, as they otherwise would."""

    def __init__(self, layer_def: LayerDef, decide_mapping):
        self.layer_def, self.decide_mapping = layer_def, decide_mapping
        self.mapping: FieldMapping | None = None
        self.failed = False
        self.rows = 0
        self.parts: dict[str, list[np.ndarray]] = {}
        self.found: dict[str, list[tuple[int, list]]] = {}
        self.memos: dict[str, dict] = {}  # per field: vocabulary values resolved in earlier batches
        self.handed_over = False

    def __call__(self, batch: SourceBatch) -> tuple[dict[str, np.ndarray], bool] | None:
        """Checks the batch; returns its checked columns and whether a value had a problem, or None
        when these checks gave up."""
        if self.failed:
            return None
        if self.mapping is None:
            self.mapping = self._mapping(list(batch.columns))
            if self.mapping is None:
                return None
        if batch.offset != self.rows:
            self.failed = True
            return None
        columns, any_problem = {}, False
        for header, name in self.mapping.columns.items():
            out, found = check_column(self.layer_def.field(name), batch.columns[header], self.mapping.values.get(name),
                                      trimmed=header in batch.trimmed, memo=self.memos.setdefault(name, {}),
                                      encoded=batch.encoded.get(header))
            self.parts.setdefault(name, []).append(out)
            self.found.setdefault(header, []).append((batch.offset, found))
            columns[name], any_problem = out, any_problem or bool(found)
        self.rows += len(batch.geometries)
        return columns, any_problem

    def _mapping(self, headers: list[str]) -> FieldMapping | None:
        try:
            return self.decide_mapping(headers, _undecided)
        except Exception:  # noqa: BLE001 - an undecidable or refused mapping: decided after the read
            self.failed = True
            return None

    def result(self, mapping: FieldMapping, rows: int,
               row_number) -> tuple[dict[str, np.ndarray], list[ImportProblem]] | None:
        """What `check_attributes` returns for the whole file, or None when the batches did not
        cover it with this mapping; once."""
        if self.failed or self.mapping is None or self.rows != rows or mapping != self.mapping:
            return None
        columns = {name: parts[0] if len(parts) == 1 else np.concatenate(parts) for name, parts in self.parts.items()}
        problems = [ImportProblem(row_number(offset + p.position), header, p.message)
                    for header in mapping.columns for offset, found in self.found.get(header, []) for p in found]
        self.parts, self.found, self.failed = {}, {}, True  # handed over: the parts go, and no second result
        self.handed_over = True
        return columns, problems


def _undecided(header: str) -> bool:
    raise LookupError(header)


class BatchShapeChecks:
    """`validation.shape_rows` batch by batch on a helper thread, on the batch placed in WGS84 by
    the coordinate system the file states or the user declared (`crs.choose`). The pipeline takes
    the result only when the plausibility checks, run on the whole file after the read, keep that
    coordinate system (they may switch a Gauss-Kruger zone to its prefixed twin)."""

    def __init__(self, layer_def: LayerDef, declared: SourceCrs | None, label: str, max_area_change: float):
        self.layer_def, self.declared, self.label = layer_def, declared, label
        self.max_area_change = max_area_change
        self.source: SourceCrs | None = None
        self.failed = False
        self.rows = 0
        self.helper: ThreadPoolExecutor | None = None
        self.parts: list = []  # futures of (placed, shape_rows result), in batch order
        self.handed_over = False

    def __call__(self, batch: SourceBatch) -> Future | None:
        """The future of the batch's (placed, shape_rows result), or None when these checks gave up."""
        if self.failed:
            return None
        if self.source is None:
            try:
                self.source = choose(from_file(batch.crs_text), self.declared, self.label)
            except ImportRefused:  # no coordinate system: the pipeline says so after the read
                self.failed = True
                return None
            self.helper = ThreadPoolExecutor(1, thread_name_prefix="import-shapes")
        if batch.offset != self.rows:
            self.failed = True
            return None
        self.parts.append(self.helper.submit(self._check, batch.geometries, batch.offset))
        self.rows += len(batch.geometries)
        return self.parts[-1]

    def _check(self, geoms: np.ndarray, offset: int):
        # Placed by a CRS the plausibility checks may yet change, coordinates can be far off (even
        # inf): numpy's warnings about them would reach the user for a result that is thrown away.
        with np.errstate(all="ignore"):
            placed = to_wgs84(geoms, self.source)
            # Positions in the file (0-based) for now; `checked` numbers the rows as the user sees them.
            return placed, shape_rows(self.layer_def, placed, self.max_area_change, lambda i: i + offset)

    def _results(self, source: SourceCrs, rows: int) -> list | None:
        if self.failed or self.source != source or self.rows != rows:
            return None
        try:
            return [part.result() for part in self.parts]
        except Exception:  # noqa: BLE001 - e.g. a transformation GEOS or PROJ refused: the whole-file path says it
            return None

    def placed(self, source: SourceCrs, rows: int) -> np.ndarray | None:
        """The file's geometries in WGS84 if they were placed by `source`, all `rows` of them."""
        results = self._results(source, rows)
        if results is None:
            return None
        return np.concatenate([placed for placed, _ in results]) if len(results) > 1 else results[0][0]

    def checked(self, source: SourceCrs, rows: int, row_number):
        """`validation.check_shapes`' result for the whole file, or None (see `placed`); once."""
        results = self._results(source, rows)
        if results is None:
            return None
        parts = []
        for _placed, (geoms, problems, repaired, valid, present, areas) in results:
            problems = [replace(p, row=row_number(p.row)) for p in problems]
            parts.append((geoms, problems, repaired, valid, present, areas))
        self.parts, self.failed = [], True  # handed over: the batches' arrays go, and no second result
        self.handed_over = True
        del results
        return joined_shapes(parts, row_number)

    def close(self) -> None:
        if self.helper is not None:
            self.helper.shutdown(wait=True, cancel_futures=True)
