"""Overlaps of imported estates with each other and with stored ones, measured in square metres.

Areas are taken in one Lambert azimuthal equal-area projection centred on the import: equal-area
keeps ellipsoidal areas exact wherever the centre is, and one projection lets shapely intersect all
candidate pairs (from an STRtree) in a few array calls. An overlap above the configured share of
the smaller estate refuses the import; smaller ones (digitising slivers over 1 m²) are reported.
"""

from __future__ import annotations

import numpy as np
import shapely

from ..geodesy import local_transformer, to_local
from .report import ImportProblem

SLIVER_M2 = 1.0


def overlap_problems(geoms: np.ndarray, usable: np.ndarray, existing_ids: np.ndarray, existing: np.ndarray,
                     replaces: np.ndarray, max_share: float, row_number) -> list[ImportProblem]:
    """Problems for usable imported geometries overlapping each other or stored ones.

    `replaces[i]` is the stored id row i updates (-1 for new rows): a row never overlaps itself.
    """
    index = np.flatnonzero(usable)
    if not len(index):
        return []
    bounds = shapely.bounds(geoms[index])
    lon0 = float((bounds[:, 0].min() + bounds[:, 2].max()) / 2)
    lat0 = float((bounds[:, 1].min() + bounds[:, 3].max()) / 2)
    project = local_transformer("laea", lon0, lat0)
    # Pairs are found in lon/lat (whether two small polygons meet does not depend on the map
    # projection); only the few that do are projected to measure the overlap, not all 200,000.
    lonlat = geoms[index]
    tree = shapely.STRtree(lonlat)
    problems = []
    a, b = tree.query(lonlat, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    local = _projected(lonlat, np.union1d(a, b), project)
    problems += _judge(local[a], local[b], max_share, index[b],
                       [f"feature #{row_number(int(i))} of this file" for i in index[a]], row_number)
    if len(existing):
        s, t = tree.query(existing, predicate="intersects")
        keep = existing_ids[s] != replaces[index[t]]
        s, t = s[keep], t[keep]
        stored = _projected(existing, np.unique(s), project)
        local = _projected(lonlat, np.unique(t), project)
        problems += _judge(stored[s], local[t], max_share, index[t],
                           [f"stored estate id {int(existing_ids[k])}" for k in s], row_number)
    return problems


def _projected(geoms: np.ndarray, which: np.ndarray, project) -> np.ndarray:
    """`geoms` with the items at `which` in the local projection (the others are not needed)."""
    out = np.full(len(geoms), None, dtype=object)
    if len(which):
        out[which] = to_local(geoms[which], project)
    return out


def _judge(first, second, max_share, rows, others, row_number) -> list[ImportProblem]:
    if not len(first):
        return []
    overlap = shapely.area(shapely.intersection(first, second))
    share = overlap / np.maximum(np.minimum(shapely.area(first), shapely.area(second)), 1e-9)
    problems = []
    for k in np.flatnonzero(overlap > SLIVER_M2):
        severity = "error" if share[k] > max_share else "warning"
        problems.append(ImportProblem(row_number(int(rows[k])), "",
                                      f"overlaps {others[k]} by {overlap[k]:,.1f} m² ({share[k]:.1%} of the smaller)",
                                      severity))
    return problems
