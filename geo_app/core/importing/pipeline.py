"""One import from file to store: read, place (CRS), map fields, check everything, write or not.

Nothing is written unless every row passes: the whole import is one store transaction (one
revision bump), so a refused or failed import leaves the store exactly as it was. A dry run stops
before the transaction. The CLI and the web page both call `run_import`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import shapely

from ...errors import Conflict
from ...storage import Feature, Store
from ...storage.columns import CheckedColumns
from .. import audit
from ..collector import cycle_collector_paused
from ..spatial import district_outline
from ..accounts import Actor
from .archive import Limits, Workspace
from .batch_checks import BatchAttributeChecks, BatchShapeChecks, EarlyChecks
from .checking import check_rows
from .crs import SourceCrs, choose, from_file, parse_declared, to_wgs84
from .encoding import check_encoding
from .fields import load_mapping_file, map_columns
from .matching import MODES, EmptyLayer
from .plausibility import check_near_district, check_source, check_zone
from .reading import SourceTable, read_source
from .report import ImportReport, ImportRefused
from .streaming import StreamedWrite
from .validation import Checked


class Progress(Protocol):
    """Where an import reports how far it is: phases ("read", "check", "write") and row counts."""

    def phase(self, name: str, total: int | None) -> None: ...

    def advance(self, done: int) -> None: ...


class NoProgress:
    def phase(self, name: str, total: int | None) -> None:
        pass

    def advance(self, done: int) -> None:
        pass


# The command line acts as an administrator of its own machine (no sign-in).
CLI_ACTOR = Actor("cli", None, "admin", "cli")


@dataclass(frozen=True)
class ImportOptions:
    """What the user chose: target layer, declared CRS and encoding, mapping file, mode, dry run."""

    layer: str = "estates"
    crs: str | None = None
    encoding: str | None = None
    mapping: Path | None = None
    mode: str = "insert"
    dry_run: bool = False
    limits: Limits = Limits()
    max_overlap_share: float = 0.05
    max_repair_area_change: float = 0.01
    max_km_outside_district: float = 50.0  # 0: no check (see plausibility.check_near_district)
    temp_dir: Path | None = None  # where the private workspace goes (default: the system's)
    preview_rows: int = 0  # first rows kept in the report (source values + WGS84 geometry), for the web page
    # Who imports, for the audit log (the web page passes the signed-in admin; default: the CLI).
    actor: Actor = CLI_ACTOR
    reason: str | None = None  # default: "import of <file>"


def run_import(store: Store, path: Path, options: ImportOptions, *, label: str | None = None,
               progress: Progress | None = None) -> ImportReport:
    """Import one file into a layer; returns the report (check `report.ok`).

    Raises ImportRefused for a file that cannot be imported at all (unreadable, unsafe, CRS).
    """
    with cycle_collector_paused():  # see core.collector: a tenth of a large import's time
        return _run_import(store, path, options, label, progress or NoProgress())


def _run_import(store: Store, path: Path, options: ImportOptions, label: str | None,
                progress: Progress) -> ImportReport:
    started = time.perf_counter()
    label = label or Path(path).name
    if options.layer not in store.layers:
        raise ImportRefused(f"unknown layer '{options.layer}'; layers: {', '.join(store.layers)}")
    if options.mode not in MODES:
        raise ImportRefused(f"unknown mode '{options.mode}'; modes: {', '.join(MODES)}")
    layer_def = store.layers[options.layer]
    mapping_file = load_mapping_file(options.mapping) if options.mapping else None
    declared = parse_declared(options.crs) if options.crs else None
    encoding = check_encoding(options.encoding) if options.encoding else None
    report = ImportReport(file=label, layer=options.layer, mode=options.mode, dry_run=options.dry_run)

    # Read now: a streamed write may soon lock the layer, and then this thread must not wait for a
    # connection that other sessions, waiting on that lock, hold (PostGIS).
    district = _district_box(store, options)
    clock = _PhaseClock(report)
    progress.phase("read", None)
    # Attributes and shapes are checked batch by batch as GDAL reads (see batch_checks). New rows
    # go to the store's bulk load as they pass, in a transaction committed only once every check has
    # run (see streaming); a dry run and the upserts, which match stored rows first, write after.
    streams = not options.dry_run and options.mode == "insert"
    early = EarlyChecks(
        BatchAttributeChecks(layer_def, lambda headers, is_empty: map_columns(layer_def, headers, mapping_file,
                                                                               is_empty, label)),
        BatchShapeChecks(layer_def, declared, label, options.max_repair_area_change),
        (lambda batch: StreamedWrite(store, layer_def, _rows_coming(batch))) if streams else None)
    try:
        with Workspace(options.temp_dir) as workspace:
            table = read_source(Path(path), label, workspace, options.limits, encoding=encoding,
                                layer_hint=options.layer, progress=progress, on_batch=early)
        if early.write is not None:
            early.write.finish()  # the store ends its load (builds its indexes) during the checks below
        report.read, report.row_kind = len(table), table.row_kind
        report.notes += table.notes
        if not len(table):
            raise ImportRefused(f"{label}: holds no features")
        clock.lap("read")
        source, geoms = _placed(table, declared, report, district, options.max_km_outside_district, early.shapes)
        table.geometries = None  # from here on only the placed and checked copies are used
        clock.lap("place")
        # A streamed write into an empty layer holds it (PostGIS: locked): the checks against its
        # stored rows take it as it was, empty, instead of reading it.
        held_empty = early.write is not None and early.write.holds_empty_layer()
        stored = EmptyLayer() if held_empty else store
        checked, replaces = check_rows(stored, layer_def, table, geoms, options, mapping_file, report, progress,
                                       early, source)
        del geoms  # the checked ones replace them: ~80 MB less at the write's peak for 200,000
        table.columns = {}  # so do the checked columns: the source's arrays go before the write
        report.problems += checked.problems
        report.repaired = checked.repaired
        report.refused = len(checked.error_rows())
        report.planned = (int((replaces < 0).sum()), int((replaces >= 0).sum()))
        clock.lap("check")
        if report.ok and not options.dry_run:
            reason = options.reason or f"import of {label}"
            if not _commit_streamed(early, store, options.layer, checked, replaces, report, progress,
                                    options.actor, reason):
                _write(store, options.layer, checked, replaces, report, progress, options.actor, reason,
                       expect_empty=held_empty)
            clock.lap("write")
    finally:
        early.close()
    report.seconds = time.perf_counter() - started
    return report


def _rows_coming(batch) -> int:
    """How many rows a streamed write will get: the file's count, or at least the first batch's
    (GDAL does not count a GeoJSON's or KML's features without reading them all)."""
    return batch.total if batch.total is not None else len(batch.geometries)


class _PhaseClock:
    """Seconds per phase into the report (the summary line shows them; the benchmark compares the
    read and write phases with ogr2ogr, which checks nothing)."""

    def __init__(self, report: ImportReport):
        self.report, self.last = report, time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.report.phases[name] = round(now - self.last, 3)
        self.last = now


def _district_box(store: Store, options: ImportOptions) -> tuple[float, float, float, float] | None:
    """The stored district's box, which imports into other layers must stay near; None when there
    is none (a new store) or the district itself is imported."""
    if options.layer == "district" or not options.max_km_outside_district:
        return None
    outline = district_outline(store)
    return None if outline is None else outline.bounds


def _placed(table: SourceTable, declared, report: ImportReport, district, max_km: float,
            early: BatchShapeChecks) -> tuple[SourceCrs, np.ndarray]:
    """The CRS the file is read in and its geometries in WGS84, after the CRS is chosen and its
    plausibility checked (placed during the read already when that CRS was the one used then)."""
    source = choose(from_file(table.crs_text), declared, table.label)
    source, notes = check_source(table.geometries, source, table.label, table.where)
    report.notes += notes
    geoms = early.placed(source, len(table))
    if geoms is None:
        geoms = to_wgs84(table.geometries, source)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    bounds = shapely.bounds(geoms)
    check_zone(bounds, present, source, table.label, table.where)
    check_near_district(table.geometries, bounds, present, source, district, max_km, table.label, table.where)
    report.crs = source.label
    return source, geoms


def _python(value):
    """A numpy scalar as the plain Python value (audit records are JSON)."""
    return value.item() if isinstance(value, np.generic) else value


def _commit_streamed(early: EarlyChecks, store: Store, layer: str, checked: Checked, replaces: np.ndarray,
                     report: ImportReport, progress: Progress, actor: Actor, reason: str) -> bool:
    """Commit the rows streamed during the read, with the import's audit record, if they are every
    row as checked (the batch checks' results were the ones used, all rows new); False otherwise,
    with nothing written (a streamed write not used is rolled back first: it holds the store)."""
    if early.write is None:
        return False
    if not early.covered or not (replaces < 0).all():
        early.write.abort()
        return False
    progress.phase("write", len(replaces))
    if not early.write.commit(lambda writer: _record_created(writer, actor, layer, report.file, len(replaces),
                                                             checked.columns.get("code"), reason), len(replaces)):
        return False
    report.inserted, report.updated = len(replaces), 0
    progress.advance(len(replaces))
    report.revision = store.revision()
    return True


def _record_created(writer, actor: Actor, layer: str, file: str, count: int, codes: np.ndarray | None,
                    reason: str) -> None:
    """The one audit record of an import's new rows: file, count, first and last code."""
    created = {"file": file, "features": count}
    if codes is not None and len(codes):
        created.update(first_code=_python(codes[0]), last_code=_python(codes[-1]))
    audit.record(writer, actor, layer, 0, [{"field": "imported", "old": None, "new": created}], reason)


def _write(store: Store, layer: str, checked: Checked, replaces: np.ndarray, report: ImportReport,
           progress: Progress, actor: Actor, reason: str, expect_empty: bool = False) -> None:
    """Everything in one transaction: new rows by the bulk path, updates merged into stored rows,
    and their audit records.

    A blank cell in an updating row keeps the stored value: an import never erases what it does not
    state. Each updated feature gets its own audit record (field: old -> new); the new ones get one
    record for the import (file, count, first and last code): a record per created row would double
    the cost of a 200,000-estate import and say nothing a row's `version` 1 does not.
    """
    new = replaces < 0
    layer_def = store.layers[layer]
    progress.phase("write", len(replaces))
    # Checked by `check_shapes` and `check_column`: the store takes them as they are. An import of
    # only new rows passes its arrays whole (a copy of 200,000 rows is ~50 MB).
    pick = (lambda column: column) if new.all() else (lambda column: column[new])  # noqa: E731
    inserted = pick(checked.geometries)
    with store.transaction() as writer:
        # The checks took the layer as empty (a streamed write held it so, then gave way to this
        # one): it must still be, or what came in since was checked against nothing.
        if expect_empty and not writer.layer_is_empty(layer):
            raise Conflict(f"{layer}: features were stored by someone else while this import was being checked; "
                           "nothing was written, import the file again")
        report.inserted = writer.insert_columns(
            layer, CheckedColumns(layer_def, {name: pick(column) for name, column in checked.columns.items()}, inserted,
                                  None if checked.areas is None else pick(checked.areas)),
            inserted, on_progress=progress.advance)
        if report.inserted:
            codes = checked.columns.get("code")
            _record_created(writer, actor, layer, report.file, report.inserted,
                            None if codes is None else codes[new], reason)
        done = report.inserted
        for i in np.flatnonzero(~new):
            values = {name: _python(column[i]) for name, column in checked.columns.items() if column[i] is not None}
            feature_id = int(replaces[i])
            before = store.get(layer, feature_id)
            writer.update(layer, feature_id, values, checked.geometries[i])
            after = Feature(feature_id, {**before.properties, **values},
                            checked.geometries[i] if checked.geometries[i] is not None else before.geometry)
            changes = audit.diff(layer_def, before, after)
            if changes:
                audit.record(writer, actor, layer, feature_id, changes, reason,
                             feature_code=before.properties.get("code"))
            done += 1
            if done % 500 == 0:
                progress.advance(done)
        report.updated = int((~new).sum())
    progress.advance(len(replaces))
    report.revision = store.revision()
