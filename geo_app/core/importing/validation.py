"""Checking every imported row at once and collecting every problem, not just the first.

Attributes go through the store's own vectorised column checks (types, required, min/max,
vocabularies — `storage.columns`), so what passes here passes the store. Geometries: invalid ones
are repaired with `shapely.make_valid` when that changes the area by at most the configured share
(reported as a warning), otherwise refused; empty, degenerate (under 1 m²) and duplicate features
are refused; duplicate codes inside the file or clashing with stored estates are refused.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely

from ...layers import LayerDef
from ...storage.columns import check_column, check_geometries
from ..geodesy import geodesic_area_m2_array
from .fields import FieldMapping
from .report import ImportProblem

MIN_AREA_M2 = 1.0  # smaller "estates" are slivers or points digitised as polygons


@dataclass
class Checked:
    """Validated rows: field columns, WGS84 geometries of the layer's type, what was found."""

    columns: dict[str, np.ndarray]
    geometries: np.ndarray
    problems: list[ImportProblem] = field(default_factory=list)
    repaired: int = 0
    areas: np.ndarray | None = None  # geodesic m² of each valid polygon (NaN elsewhere), for the store

    def error_rows(self) -> set[int]:
        return {p.row for p in self.problems if p.severity == "error"}


def check_attributes(layer_def: LayerDef, columns: dict[str, np.ndarray], mapping: FieldMapping,
                     row_number, trimmed: frozenset = frozenset()) -> tuple[dict[str, np.ndarray], list[ImportProblem]]:
    """Each mapped column converted to its field's type and checked (required, range, vocabulary).
    `trimmed`: headers whose cells are stripped text or None already (`SourceTable.trimmed`)."""
    out, problems = {}, []
    for header, name in mapping.columns.items():
        f = layer_def.field(name)
        out[name], found = check_column(f, columns[header], mapping.values.get(name), trimmed=header in trimmed)
        problems += [ImportProblem(row_number(p.position), header, p.message) for p in found]
    return out, problems


def missing_required(layer_def: LayerDef, mapped: dict, inserting: np.ndarray, row_number) -> list[ImportProblem]:
    """Required fields the file has no column for: a problem when any row is a new feature."""
    if not inserting.any():
        return []
    first = row_number(int(np.flatnonzero(inserting)[0]))
    return [ImportProblem(first, f.name, f"field '{f.name}' ({f.label_zh}) is required for new features but the "
                                         f"file has no column for it ({int(inserting.sum()):,} new features); "
                                         "map one with --mapping")
            for f in layer_def.fields if f.required and not f.computed and f.name not in mapped]


def check_shapes(layer_def: LayerDef, geoms: np.ndarray, max_area_change: float, row_number,
                 threads: int = 2) -> tuple[np.ndarray, list[ImportProblem], int, np.ndarray, np.ndarray | None]:
    """Geometries repaired where safe and checked; returns (geometries, problems, repaired count,
    mask of the present and valid ones, their geodesic areas or None for points). Validity is
    computed once and reused by every step; the areas serve the degenerate test and the store's
    computed land area alike. The per-row checks run on `threads` slices at once (GEOS lets go of
    the GIL); duplicates are then looked for over all rows."""
    geoms = np.asarray(geoms, dtype=object)
    edges = np.linspace(0, len(geoms), max(1, min(threads, len(geoms) // 1000)) + 1).astype(int)
    slices = list(zip(edges[:-1], edges[1:]))
    job = lambda bounds: shape_rows(layer_def, geoms[bounds[0]:bounds[1]], max_area_change,  # noqa: E731
                                     lambda i: row_number(i + bounds[0]))
    if len(slices) == 1:
        parts = [job(slices[0])]
    else:
        with ThreadPoolExecutor(len(slices) - 1, thread_name_prefix="import-shape-rows") as pool:
            others = [pool.submit(job, bounds) for bounds in slices[1:]]
            parts = [job(slices[0])] + [other.result() for other in others]
    return joined_shapes(parts, row_number)


def joined_shapes(parts: list[tuple], row_number) -> tuple[np.ndarray, list[ImportProblem], int, np.ndarray,
                                                            np.ndarray | None]:
    """`check_shapes`' result from the `shape_rows` of consecutive slices: joined, and duplicates
    looked for over all rows."""
    geoms = np.concatenate([part[0] for part in parts]) if len(parts) > 1 else parts[0][0]
    problems = [p for part in parts for p in part[1]]
    repaired = sum(part[2] for part in parts)
    valid = np.concatenate([part[3] for part in parts])
    present = np.concatenate([part[4] for part in parts])
    areas = None if parts[0][5] is None else np.concatenate([part[5] for part in parts])
    problems += _duplicate_geometries(geoms, present, row_number)
    return geoms, problems, repaired, valid, areas


def shape_rows(layer_def: LayerDef, geoms: np.ndarray, max_area_change: float, row_number):
    """The checks of `check_shapes` that look at one row at a time, on a slice of the rows
    (`row_number(i)` names its item i); returns (geometries, problems, repaired count, valid,
    present, areas or None)."""
    geoms = geoms.copy()
    problems: list[ImportProblem] = []
    repaired = 0
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    valid = present & shapely.is_valid(geoms)
    invalid = np.flatnonzero(present & ~valid)
    for i in invalid:
        fixed, message = _repair(geoms[i], max_area_change)
        if fixed is None:
            problems.append(ImportProblem(row_number(i), "", message))
        else:
            geoms[i] = fixed
            valid[i] = True
            repaired += 1
            problems.append(ImportProblem(row_number(i), "", message, "warning"))
    geoms, found = check_geometries(layer_def, geoms, valid=valid | ~present)
    refused_invalid = {row_number(i) for i in invalid}
    problems += [ImportProblem(row_number(p.position), "", p.message) for p in found
                 if not (p.message.startswith("invalid geometry") and row_number(p.position) in refused_invalid)]
    areas = None
    if layer_def.geometry_type != "Point":
        # Only shapes of the layer's type: a point where a polygon belongs is reported once, as such.
        of_type = np.isin(shapely.get_type_id(geoms), (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON))
        areas, found = _degenerate(geoms, valid & of_type, row_number)
        problems += found
    return geoms, problems, repaired, valid, present, areas


def _repair(geom, max_area_change: float):
    """make_valid keeping only polygonal parts, accepted when the area barely changes."""
    reason = shapely.is_valid_reason(geom)
    fixed = shapely.make_valid(geom)
    parts = [p for p in shapely.get_parts(fixed) if p.geom_type in ("Polygon", "MultiPolygon")]
    polygons = [q for p in parts for q in (p.geoms if p.geom_type == "MultiPolygon" else [p])]
    if geom.geom_type not in ("Polygon", "MultiPolygon") or not polygons:
        return None, f"invalid geometry ({reason}) cannot be repaired"
    fixed = shapely.MultiPolygon(polygons)
    # The original's "area" (shoelace, as drawn) against the repaired one, both on the ellipsoid.
    before, after = geodesic_area_m2_array([shapely.orient_polygons(geom), fixed])
    change = abs(after - before) / before if before > 0 else np.inf
    if change > max_area_change:
        amount = f"{change:.1%}" if np.isfinite(change) and change < 1 else "more than 100%"
        return None, (f"invalid geometry ({reason}); repairing it would change the area by {amount} "
                      f"(at most {max_area_change:.1%} is repaired) — refused, fix it in the source")
    return fixed, f"invalid geometry ({reason}) repaired; area changed by {change:.3%}"


def _degenerate(geoms: np.ndarray, valid: np.ndarray, row_number) -> tuple[np.ndarray, list[ImportProblem]]:
    areas = np.full(len(geoms), np.nan)
    areas[valid] = geodesic_area_m2_array(geoms[valid])
    return areas, [ImportProblem(row_number(i), "", f"degenerate polygon: area {areas[i]:.2f} m² "
                                                    f"(less than {MIN_AREA_M2:g} m²)")
                   for i in np.flatnonzero(valid & (areas < MIN_AREA_M2))]


def _duplicate_geometries(geoms: np.ndarray, present: np.ndarray, row_number) -> list[ImportProblem]:
    """Rows whose geometry (normalised: any start vertex or ring order) an earlier row has.
    Equal geometries have equal bounds, so only rows sharing their bounds with another are compared."""
    present = present.copy()
    bounds = pd.DataFrame(shapely.bounds(geoms))
    present &= bounds.duplicated(keep=False).to_numpy()
    keys = pd.Series(np.full(len(geoms), None, dtype=object))
    if present.any():
        keys[present] = shapely.to_wkb(shapely.normalize(geoms[present]))
    return _duplicates(keys, present, row_number, "", "the same geometry as")


def duplicate_values(values: np.ndarray, field_name: str, row_number) -> list[ImportProblem]:
    """Rows repeating a value of a unique field (e.g. code) that an earlier row already has."""
    keys = pd.Series(values, dtype=object)
    return _duplicates(keys, keys.notna().to_numpy(), row_number, field_name, f"the same {field_name} as")


def _duplicates(keys: pd.Series, present: np.ndarray, row_number, field_name: str, what: str) -> list[ImportProblem]:
    subset = keys[present]
    repeated = subset.duplicated(keep="first")
    if not repeated.any():
        return []
    first_of = {}
    for position, key in subset[~repeated].items():
        first_of[key] = position
    return [ImportProblem(row_number(int(pos)), field_name,
                          f"duplicate: {what} #{row_number(first_of[key])}")
            for pos, key in subset[repeated].items()]
