"""Which imported rows are new and which update a stored feature (upsert by id, or by name + street
office), and the stored features an import must not clash with (codes) or overlap.

Stored rows are read by the keys the file holds, in chunks of bound parameters, never whole tables.
"""

from __future__ import annotations

import numpy as np
import shapely

from ...storage import FeatureQuery, Store
from .report import ImportProblem

MODES = ("insert", "upsert-id", "upsert-name")
_CHUNK = 2000


class EmptyLayer:
    """The stored side of the checks when the import's own transaction found the layer empty and
    keeps others from writing to it (`BulkLoad.layer_was_empty`): nothing to match, clash with or
    overlap. Reading the store instead would wait on that transaction's lock (PostGIS)."""

    def count(self, layer: str) -> int:
        return 0

    def features(self, layer: str, query: FeatureQuery | None = None) -> list:
        return []


def _stored(store: Store, layer: str, field: str, values) -> list:
    distinct = sorted({v for v in values if v is not None})
    found = []
    for start in range(0, len(distinct), _CHUNK):
        chunk = distinct[start:start + _CHUNK]
        query = FeatureQuery(ids=tuple(chunk), with_geometry=False) if field == "id" else \
            FeatureQuery.where(with_geometry=False, **{field: chunk})
        found += store.features(layer, query)
    return found


def match_rows(store: Store, layer: str, mode: str, columns: dict, ids: np.ndarray | None, n: int,
               row_number) -> tuple[np.ndarray, list[ImportProblem]]:
    """The stored id each row updates (-1: a new row), and matching problems."""
    replaces = np.full(n, -1, dtype=np.int64)
    problems: list[ImportProblem] = []
    if mode == "upsert-id":
        if ids is None:
            return replaces, [ImportProblem(row_number(0), "id", "--mode upsert-id needs an 'id' column")]
        numbers = [_as_int(v) for v in ids]
        known = {f.id for f in _stored(store, layer, "id", numbers)}
        for i, number in enumerate(numbers):
            if number is not None and number in known:
                replaces[i] = number
            elif ids[i] is not None and str(ids[i]).strip() and number is None:
                problems.append(ImportProblem(row_number(i), "id", f"id {ids[i]!r} is not a whole number"))
    elif mode == "upsert-name":
        names, offices = columns.get("name"), columns.get("street_office")
        if names is None or offices is None:
            return replaces, [ImportProblem(row_number(0), "name", "--mode upsert-name needs name and street "
                                                                  "office columns")]
        stored: dict[tuple, list[int]] = {}
        for f in _stored(store, layer, "name", names):
            stored.setdefault((f.properties["name"], f.properties["street_office"]), []).append(f.id)
        for i, key in enumerate(zip(names, offices)):
            hits = stored.get(key, [])
            if len(hits) > 1:
                problems.append(ImportProblem(row_number(i), "name", f"{len(hits)} stored estates are named "
                                              f"{key[0]} in {key[1]} (ids {', '.join(map(str, hits))}); "
                                              "use --mode upsert-id"))
            elif hits:
                replaces[i] = hits[0]
    return replaces, problems


def _as_int(value) -> int | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


def code_clashes(store: Store, layer: str, codes: np.ndarray, replaces: np.ndarray, row_number) -> list[ImportProblem]:
    """Rows whose code a different stored feature already has (codes are unique)."""
    if not store.count(layer):  # an empty layer: no need to look up 200,000 codes in it
        return []
    stored = {f.properties["code"]: f.id for f in _stored(store, layer, "code", codes)}
    problems = []
    for i, code in enumerate(codes):
        owner = stored.get(code)
        if owner is not None and owner != replaces[i]:
            problems.append(ImportProblem(row_number(i), "code", f"code {code} already belongs to stored feature "
                                          f"id {owner}; use --mode upsert-id or upsert-name to update it"))
    return problems


def stored_near(store: Store, layer: str, geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ids, geometries) of stored features within the import's bounding box, for overlap checks."""
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not present.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object)
    minx, miny, maxx, maxy = shapely.total_bounds(geoms[present])
    found = store.features(layer, FeatureQuery(bbox=(minx, miny, maxx, maxy)))
    return (np.array([f.id for f in found], dtype=np.int64),
            np.array([f.geometry for f in found], dtype=object))
