"""Vectorised feature checks: whole columns and geometry arrays at once, for bulk writes (imports).

The same rules as `LayerDef.clean` and `validation.prepare_features` (types, required, min/max,
vocabularies, geometry type and validity, WGS84 range), but on numpy/pandas arrays, so checking
200,000 estates costs a few array passes instead of 200,000 Python calls. Each check returns every
problem it finds as (position, field, message) rather than stopping at the first, so an import can
report them all; `prepare_columns` is the store's own safety net and raises on the first.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from ..core.geodesy import geodesic_area_m2_array
from ..domain import VOCABULARIES
from ..errors import StoreError, ValidationError
from ..layers import FieldDef, LayerDef


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one feature: its 0-based position, the field ("" for the geometry)."""

    position: int
    field: str
    message: str


_LIST_SEPARATORS = re.compile(r"\s*[,，、;；]\s*")
_DATE_SEPARATORS = re.compile(r"[./年月]")


def _stripped(series: pd.Series) -> pd.Series:
    """Text cells stripped; NaN wherever a cell is not text (the .str accessor refuses columns
    holding no text at all, hence the fallback)."""
    try:
        return series.str.strip()
    except AttributeError:
        return pd.Series(np.nan, index=series.index, dtype=object)


def null_mask(values: np.ndarray) -> np.ndarray:
    """True where a value is missing: None, NaN/NaT or blank text."""
    return _null_and_stripped(values)[0]


def _null_and_stripped(values: np.ndarray, trimmed: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """The null mask and, for object columns, the stripped text (None where a cell is not text),
    which the text conversion reuses: stripping 200,000 cells twice was a tenth of an import.
    One list comprehension strips faster than pandas' `.str.strip` (which maps a lambda).
    `trimmed`: the cells are stripped text or None already (an Arrow read did it in C++)."""
    if trimmed and values.dtype.kind == "O":
        return np.equal(values, None), values  # text or None only: thrice as fast as pd.isna
    if values.dtype.kind in "iub":
        return np.zeros(len(values), dtype=bool), None
    if values.dtype.kind in "fcmM":
        return pd.isna(values), None
    stripped = np.empty(len(values), dtype=object)
    stripped[:] = [v.strip() if type(v) is str else None for v in values.tolist()]
    # Only text can be blank; comparing the stripped column (text or None) with "" is safe for
    # any cell, unlike comparing the raw cells (lists, arrays).
    return pd.isna(values) | (stripped == ""), stripped


def check_column(f: FieldDef, values, vocabulary_lookup: dict | None = None, *, trimmed: bool = False,
                 memo: dict | None = None, encoded: tuple[np.ndarray, np.ndarray] | None = None
                 ) -> tuple[np.ndarray, list[Problem]]:
    """Convert one column to its field's type and check it; returns (object array, problems).

    Missing values become None; values become plain Python objects (what DB drivers bind).
    Numeric and datetime arrays (as GDAL reads them) take array-only paths; text cells are
    parsed once per distinct value. `vocabulary_lookup` maps extra spellings (labels) to codes.
    `trimmed`: every cell is text already stripped, or None (see `_null_and_stripped`).
    `memo`: a dict kept across calls for one field, so a column checked in parts resolves each
    distinct vocabulary value once, not once per part.
    `encoded`: `values` as (codes, words), each row's index into its distinct values, trimmed text
    with None last (as an Arrow read encodes a column repeating few values): each distinct value is
    then converted and checked once, and the results taken row by row.
    """
    if encoded is not None:
        return _check_distinct(f, *encoded, vocabulary_lookup, memo)
    values = np.asarray(values)
    if values.ndim != 1:
        values = np.asarray(list(values), dtype=object)
    out = np.full(len(values), None, dtype=object)
    null, stripped = _null_and_stripped(values, trimmed)
    problems: list[Problem] = []
    if f.required:
        problems += [Problem(int(i), f.name, f"field '{f.name}' is required") for i in np.flatnonzero(null)]
    present = np.flatnonzero(~null)
    if not len(present):
        return out, problems
    if f.type == "text" and trimmed and values.dtype.kind == "O":
        # Stripped text or None already (an Arrow read): the column is its own converted copy.
        out, good = values.copy(), present
        if f.vocabulary:
            problems += _vocabulary_problems(f, out, good, vocabulary_lookup or {}, {} if memo is None else memo)
        return out, problems
    if f.type == "text" and stripped is not None and not (stripped[present] == None).any():  # noqa: E711
        # Every present cell is text: the stripped values are the converted ones.
        converted, bad = stripped[present], np.zeros(len(present), dtype=bool)
    else:
        converted, bad = _convert(f.type, values[present])
    for i in np.flatnonzero(bad):
        problems.append(Problem(int(present[i]), f.name, f"field '{f.name}' must be {f.type}, got {values[present[i]]!r}"))
    good = present[~bad]
    out[good] = converted[~bad]
    if f.type in ("integer", "real") and len(good):
        problems += _range_problems(f, out, good, values if values.dtype.kind in "iuf" else None)
    if f.type == "text" and not trimmed and len(good):  # GDAL's readers (trimmed) end text at a NUL
        problems += [Problem(int(i), f.name, f"field '{f.name}' holds a NUL character (\\x00), which no "
                                             "database text may hold; remove it in the source")
                     for i in good if "\x00" in out[i]]
    if f.vocabulary and len(good):
        problems += _vocabulary_problems(f, out, good, vocabulary_lookup or {}, {} if memo is None else memo)
    return out, problems


def _check_distinct(f: FieldDef, codes: np.ndarray, words: np.ndarray, lookup: dict | None,
                    memo: dict | None) -> tuple[np.ndarray, list[Problem]]:
    """`check_column` of a column given as each row's index into its distinct values: the words are
    checked, and each row gets its word's converted value and problems, listed by row (a check of
    the rows lists them kind by kind; the report shows them by row either way)."""
    converted, found = check_column(f, words, lookup, trimmed=True, memo=memo)
    out = converted[codes]
    if not found:
        return out, []
    by_word: dict[int, list[Problem]] = {}
    for p in found:
        by_word.setdefault(p.position, []).append(p)
    flagged = np.zeros(len(words), dtype=bool)
    flagged[list(by_word)] = True
    return out, [Problem(int(row), p.field, p.message)
                 for row in np.flatnonzero(flagged[codes]) for p in by_word[int(codes[row])]]


def _convert(kind: str, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if values.dtype.kind in "iuf" and kind in ("integer", "real"):
        numbers, bad = values.astype(float), np.zeros(len(values), dtype=bool)
    elif values.dtype.kind == "M" and kind == "date":
        return np.datetime_as_string(values, unit="D").astype(object), np.zeros(len(values), dtype=bool)
    elif kind == "text":
        return _text(values)
    elif kind == "date":
        return _date(values)
    else:
        numbers, bad = _numbers(values)
    bad = bad | ~np.isfinite(numbers)
    if kind == "integer":
        bad |= np.where(bad, 0, numbers) != np.floor(np.where(bad, 0, numbers))
        bad |= np.abs(np.where(bad, 0, numbers)) > 2.0 ** 62  # (no int64 to convert it to: not a count)
        return np.where(bad, None, np.where(bad, 0, numbers).astype(np.int64).astype(object)), bad
    return np.where(bad, None, numbers.astype(object)), bad


def _per_distinct(values: np.ndarray, one) -> tuple[np.ndarray, np.ndarray]:
    """Apply one(value) -> converted (raising ValueError/TypeError when bad) once per distinct value."""
    series = pd.Series(values, dtype=object)
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=False)
    except TypeError:  # unhashable cells (lists): convert each
        codes, uniques = np.arange(len(values)), values
    results = np.full(len(uniques), None, dtype=object)
    failed = np.zeros(len(uniques), dtype=bool)
    for k, value in enumerate(uniques):
        try:
            results[k] = one(value)
        except (TypeError, ValueError):
            failed[k] = True
    return results[codes], failed[codes]


def _text(values: np.ndarray):
    def one(v):
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))  # a code typed into a spreadsheet cell comes back as 101.0
        if isinstance(v, (list, tuple)):
            return ",".join(str(x).strip() for x in v)
        return str(v).strip()
    if values.dtype.kind == "O":
        stripped = _stripped(pd.Series(values, dtype=object))
        plain = stripped.notna().to_numpy()
        if plain.all():
            return stripped.to_numpy(dtype=object), np.zeros(len(values), dtype=bool)
    return _per_distinct(values.astype(object), one)


def _numbers(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    is_bool = np.array([isinstance(v, (bool, np.bool_)) for v in values], dtype=bool)
    series = pd.Series(values, dtype=object)
    texts = _stripped(series).str.replace(",", "", regex=False)
    cleaned = texts.where(texts.notna(), series)
    numbers = pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype=float)
    return numbers, is_bool | ~np.isfinite(numbers)


def _date(values: np.ndarray):
    def one(v):
        if isinstance(v, (dt.datetime, pd.Timestamp)):
            return v.date().isoformat()
        if isinstance(v, dt.date):
            return v.isoformat()
        if isinstance(v, np.datetime64):
            return str(np.datetime_as_string(v, unit="D"))
        text = _DATE_SEPARATORS.sub("-", str(v).strip()).rstrip("日").split(" ")[0].split("T")[0]
        year, month, day = (int(part) for part in text.split("-"))
        return dt.date(year, month, day).isoformat()

    # A date column repeats its values (a batch's completion days): each distinct one is read once.
    try:
        positions, distinct = pd.factorize(values)
    except TypeError:  # unhashable cells: read each
        positions, distinct = None, values
    if positions is not None and len(distinct) < len(values):
        out, bad = _distinct_dates(np.asarray(distinct, dtype=object), one)
        return out[positions], bad[positions]
    return _distinct_dates(values, one)


def _distinct_dates(values: np.ndarray, one):
    # The common case, ISO text, in one pandas call that also checks the calendar; whatever it
    # cannot read (other spellings, date objects, impossible days) is parsed once per distinct value.
    series = pd.Series(values, dtype=object)
    try:
        parsed = pd.to_datetime(series, format="%Y-%m-%d", errors="coerce").to_numpy()
    except (TypeError, ValueError):
        return _per_distinct(values, one)
    unread = np.isnat(parsed)
    # Read cells of ten characters are ISO already and kept; others (2021-1-5) are written out.
    lengths = series.where(~unread, "").str.len().fillna(0).to_numpy()
    out = series.to_numpy(dtype=object, copy=True)
    respell = ~unread & (lengths != 10)
    if respell.any():
        out[respell] = np.datetime_as_string(parsed[respell], unit="D").astype(object)
    if unread.any():
        out[unread], bad = _per_distinct(values[unread], one)
        return out, _in_place(unread, bad)
    return out, np.zeros(len(values), dtype=bool)


def _in_place(where: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """A mask as long as `where`, set from `flags` at its True positions."""
    out = np.zeros(len(where), dtype=bool)
    out[where] = flags
    return out


def _range_problems(f: FieldDef, out: np.ndarray, good: np.ndarray, numeric: np.ndarray | None) -> list[Problem]:
    """Values outside the field's limits (`FieldDef.limits`); `numeric`: the column as numbers
    already, if it was."""
    low_end, high_end = f.limits()
    if low_end is None and high_end is None:
        return []
    numbers = (out[good] if numeric is None else numeric[good]).astype(float)
    low = numbers < low_end if low_end is not None else np.zeros(len(good), dtype=bool)
    high = numbers > high_end if high_end is not None else np.zeros(len(good), dtype=bool)
    span = f.span()
    return [Problem(int(good[i]), f.name, f"field '{f.name}' = {out[good[i]]} is outside {span}")
            for i in np.flatnonzero(low | high)]


def _vocabulary_problems(f: FieldDef, out: np.ndarray, good: np.ndarray, lookup: dict, memo: dict) -> list[Problem]:
    """Codes (or their labels, via lookup) checked once per distinct value, not once per row;
    `memo` (value -> resolved codes, unknown parts) remembers them for the next part of a column."""
    vocabulary = VOCABULARIES[f.vocabulary]
    # factorize: each row's index into the distinct values, so resolving is one take, not a map.
    positions, distinct = pd.factorize(out[good])
    resolved = np.empty(len(distinct), dtype=object)
    unknown = {}
    for k, value in enumerate(distinct):
        known = memo.get(value)
        if known is None:
            parts = _LIST_SEPARATORS.split(value) if f.multiple else [value]
            codes = [lookup.get(p, p) for p in parts if p]
            known = memo[value] = (",".join(codes), [p for p, c in zip(parts, codes) if c not in vocabulary])
        resolved[k], bad = known
        if bad:
            unknown[k] = bad
    out[good] = resolved[positions]
    if not unknown:
        return []
    allowed = ", ".join(vocabulary.codes())
    return [Problem(int(good[i]), f.name, f"field '{f.name}' has unknown {f.vocabulary} code(s) "
                                          f"{', '.join(unknown[k])}; allowed: {allowed}")
            for i in np.flatnonzero(np.isin(positions, list(unknown))) for k in [positions[i]]]


def check_geometries(layer_def: LayerDef, geoms, valid: np.ndarray | None = None) -> tuple[np.ndarray, list[Problem]]:
    """Geometries forced to 2D and to the layer's type (a Polygon becomes a one-part MultiPolygon),
    with every missing, empty, wrongly typed, out-of-range or invalid one reported.

    `valid`: `shapely.is_valid` of these geometries when the caller has it already (neither
    dropping Z nor making a Polygon a one-part MultiPolygon changes validity)."""
    geoms = np.asarray(geoms, dtype=object)
    if shapely.has_z(geoms).any():  # force_2d copies every geometry: only when there is a Z
        geoms = shapely.force_2d(geoms)
    else:
        geoms = geoms.copy()
    problems: list[Problem] = []
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    problems += [Problem(int(i), "", "geometry is missing or empty") for i in np.flatnonzero(missing)]
    type_ids = shapely.get_type_id(geoms)
    if layer_def.geometry_type == "MultiPolygon":
        polygons = type_ids == shapely.GeometryType.POLYGON
        if polygons.any():
            geoms[polygons] = shapely.multipolygons(geoms[polygons], indices=np.arange(int(polygons.sum())))
        wrong = ~missing & ~polygons & (type_ids != shapely.GeometryType.MULTIPOLYGON)
    else:
        wrong = ~missing & (type_ids != getattr(shapely.GeometryType, layer_def.geometry_type.upper()))
    problems += [Problem(int(i), "", f"geometry must be a {layer_def.geometry_type}, got {geoms[i].geom_type}")
                 for i in np.flatnonzero(wrong)]
    checked = ~missing & ~wrong
    bounds = shapely.bounds(geoms)
    outside = checked & ((bounds[:, 0] < -180) | (bounds[:, 2] > 180) | (bounds[:, 1] < -90) | (bounds[:, 3] > 90))
    problems += [Problem(int(i), "", f"coordinates ({bounds[i, 0]:.1f}, {bounds[i, 1]:.1f}) are not WGS84 "
                                     "longitude/latitude in degrees (projected coordinates?)")
                 for i in np.flatnonzero(outside)]
    invalid = checked & ~outside & ~(shapely.is_valid(geoms) if valid is None else valid)
    problems += [Problem(int(i), "", f"invalid geometry: {shapely.is_valid_reason(geoms[i])}")
                 for i in np.flatnonzero(invalid)]
    return geoms, problems


def fill_computed(layer_def: LayerDef, columns: dict[str, np.ndarray], geoms: np.ndarray,
                  areas: np.ndarray | None = None) -> None:
    """Fields the store computes (the geodesic land area), never taken from the input. `areas`:
    the geodesic areas of these very geometries when the caller's checks computed them."""
    for f in layer_def.fields:
        if f.computed == "geodesic_area":
            columns[f.name] = np.round(geodesic_area_m2_array(geoms) if areas is None else areas, 1).astype(object)
        elif f.computed:
            raise StoreError(f"layer '{layer_def.name}' field '{f.name}': unknown computed kind {f.computed!r}")


class CheckedColumns(dict):
    """Columns that have been through `check_column` for this layer already: the importer checks
    every value to report all problems at once, so the store's own check (`prepare_columns`) takes
    them as they are instead of checking each value a second time (a fifth of a 200,000-estate
    import). Columns not given are checked as absent. `geometries`, when given, is the array that
    went through `check_geometries`: the store trusts that very array and checks any other."""

    def __init__(self, layer_def: LayerDef, columns: dict, geometries: np.ndarray | None = None,
                 areas: np.ndarray | None = None):
        super().__init__(columns)
        self.layer_name = layer_def.name
        self.geometries = geometries
        self.areas = areas  # geodesic m² of `geometries`, as the import's degenerate test measured them


def prepare_columns(layer_def: LayerDef, columns: dict, geoms) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The store's check before a bulk write: every layer field as a checked object array (absent
    columns are None), geometries of the layer's type, computed fields filled.

    Raises ValidationError at the first problem, naming the layer, the feature and the field.
    """
    unknown = set(columns) - set(layer_def.field_names)
    if unknown:
        raise ValidationError(f"{layer_def.name}: unknown field(s) {', '.join(sorted(unknown))}")
    n = len(geoms)
    out: dict[str, np.ndarray] = {}
    problems: list[Problem] = []
    trusted = isinstance(columns, CheckedColumns) and columns.layer_name == layer_def.name
    for f in layer_def.fields:
        if f.computed:
            continue
        values = columns.get(f.name)
        if trusted and values is not None:
            out[f.name] = values
            continue
        out[f.name], found = check_column(f, np.full(n, None, dtype=object) if values is None else values)
        problems += found
    own_geometries = trusted and columns.geometries is geoms
    if not own_geometries:
        geoms, found = check_geometries(layer_def, geoms)
        problems += found
    if problems:
        first = min(problems, key=lambda p: p.position)
        code = out.get("code")
        label = f" ({code[first.position]})" if code is not None and code[first.position] else ""
        raise ValidationError(f"{layer_def.name} feature #{first.position + 1}{label}: {first.message}"
                              + (f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""))
    areas = columns.areas if own_geometries and columns.areas is not None and not np.isnan(columns.areas).any() else None
    fill_computed(layer_def, out, geoms, areas)
    return out, geoms
