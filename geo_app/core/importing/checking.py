"""The check step of an import: the file's columns mapped to the layer's fields and every row checked
(attributes, matches with stored features, shapes, overlaps), each problem kept with its row.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import shapely
import shapely.geometry

from ...storage import Store
from ...storage.columns import null_mask
from .fields import map_columns
from .matching import code_clashes, match_rows, stored_near
from .overlaps import overlap_problems
from .batch_checks import EarlyChecks
from .crs import SourceCrs
from .reading import SourceTable
from .report import ImportReport
from .validation import Checked, check_attributes, check_shapes, duplicate_values, missing_required

if TYPE_CHECKING:
    from .pipeline import ImportOptions, Progress

# What GDAL's KML readers add to every KML layer: how Google Earth draws a placemark, no data.
_KML_DISPLAY_COLUMNS = frozenset({"description", "timestamp", "begin", "end", "altitudeMode", "tessellate",
                                  "extrude", "visibility", "drawOrder", "icon", "snippet"})


def check_rows(store: Store, layer_def, table: SourceTable, geoms: np.ndarray, options: ImportOptions,
               mapping_file: dict | None, report: ImportReport, progress: Progress,
               early: EarlyChecks | None = None, source: SourceCrs | None = None) -> tuple[Checked, np.ndarray]:
    """The checked rows and, per row, the id of the stored feature it replaces (-1: a new one).
    `early`: the checks done batch by batch during the read, if they were; `source`: the CRS the
    geometries were placed from."""
    progress.phase("check", len(table))
    row_number = lambda i: i + table.first_row  # noqa: E731 - the number a user sees for item i
    # Checked during the read, or now on a helper thread while this one checks the attributes (GEOS
    # lets go of the GIL, so the two take the time of the longer one on a machine with two cores).
    shapes = early.shapes.checked(source, len(table), row_number) if early is not None else None
    with ThreadPoolExecutor(1, thread_name_prefix="import-shapes") as helper:
        pending = None if shapes is not None else helper.submit(
            check_shapes, layer_def, geoms, options.max_repair_area_change, row_number)
        # (Should this raise, leaving the block still waits for the helper.)
        columns, replaces, problems, mapping = _check_attributes(store, layer_def, table, options, mapping_file,
                                                                 report, row_number, early)
        geoms, found, repaired, valid, areas = shapes if shapes is not None else pending.result()
    problems += found
    if layer_def.geometry_type != "Point":
        bad_shape = {p.row for p in found if p.severity == "error"}
        usable = valid & ~np.isin(np.arange(len(geoms)) + table.first_row, list(bad_shape))
        stored_ids, stored_geoms = stored_near(store, layer_def.name, geoms[usable])
        problems += overlap_problems(geoms, usable, stored_ids, stored_geoms, replaces,
                                     options.max_overlap_share, row_number)
    report.preview = _preview(table, mapping.columns, geoms, options.preview_rows)
    progress.advance(len(table))
    return Checked(columns, geoms, problems, repaired, areas), replaces


def _check_attributes(store: Store, layer_def, table: SourceTable, options: ImportOptions, mapping_file: dict | None,
                      report: ImportReport, row_number, early: EarlyChecks | None):
    """Columns mapped to fields, converted and checked; rows matched to stored features (by mode);
    required fields, duplicate and clashing codes. Returns (columns, replaces, problems, mapping)."""
    is_empty = lambda header: bool(null_mask(table.columns[header]).all())  # noqa: E731
    mapping = map_columns(layer_def, list(table.columns), mapping_file, is_empty, table.label, table.cut_headers)
    report.columns = {**{h: t for h, t in mapping.columns.items()}, **{h: "" for h in mapping.ignored}}
    report.notes += _ignored_notes(mapping.ignored, is_empty, Path(table.label).suffix.lower() in (".kml", ".kmz"))
    done = early.attributes.result(mapping, len(table), row_number) if early is not None else None
    columns, problems = done or check_attributes(layer_def, table.columns, mapping, row_number, table.trimmed)
    ids = table.columns.get(mapping.id_column) if mapping.id_column else None
    replaces, found = match_rows(store, layer_def.name, options.mode, columns, ids, len(table), row_number)
    problems += found
    problems += missing_required(layer_def, columns, replaces < 0, row_number)
    for f in layer_def.fields:
        if f.unique and f.name in columns:
            problems += duplicate_values(columns[f.name], f.name, row_number)
    if "code" in columns:
        problems += code_clashes(store, layer_def.name, columns["code"], replaces, row_number)
    return columns, replaces, problems, mapping


def _ignored_notes(ignored: dict[str, str], is_empty, kml: bool) -> list[str]:
    """A note per column not imported, but one for all the unrecognised empty ones and one for a
    KML's display columns (GDAL's readers add a dozen: description, timestamp, altitudeMode …)."""
    unrecognised = [h for h, why in ignored.items() if why == "not recognised"]
    display = [h for h in unrecognised if kml and h in _KML_DISPLAY_COLUMNS]
    empty = [h for h in unrecognised if h not in display and is_empty(h)]
    notes = [f"column '{h}' not imported: {why}" for h, why in ignored.items() if h not in empty + display]
    if empty:
        notes.append(f"empty column(s) not imported: {', '.join(empty)}")
    if display:
        notes.append(f"KML display column(s) not imported: {', '.join(display)}")
    return notes


def _preview(table: SourceTable, mapped: dict, geoms: np.ndarray, limit: int) -> list[dict]:
    """The first rows as the file states them (mapped columns, as text) with their WGS84 shapes."""
    rows = []
    for i in range(min(limit, len(table))):
        values = {header: (None if _blank(table.columns[header][i]) else str(table.columns[header][i]))
                  for header in mapped}
        geometry = geoms[i]
        shape = None if geometry is None or geometry.is_empty else shapely.geometry.mapping(
            shapely.set_precision(geometry, 1e-7))
        rows.append({"row": i + table.first_row, "values": values, "geometry": shape})
    return rows


def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or (isinstance(value, str) and not value.strip())
