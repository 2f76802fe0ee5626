"""The storage interface every backend implements, and the logic they share.

A store holds the layers defined in `layers/*.toml`, one table each, geometries in WGS84 lon/lat
(EPSG:4326). Reads take a `FeatureQuery`; writes go through `store.transaction()`, which commits
whole or not at all and bumps the store revision, the number caches key on. Backends differ only
in their engine: how they connect, encode geometry, use their spatial index and run DDL.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import datetime as dt
import decimal
import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

import numpy as np
from pyproj import Geod
from shapely.geometry.base import BaseGeometry

from ..errors import Conflict, InvalidParameter, NotFound, StoreError
from ..layers import LayerDef
from .audit import AuditLog, insert_statement, insert_values
from .bulk import BulkLoad
from .validation import prepare_features

if TYPE_CHECKING:
    from .accounts import AccountRepository

SRID = 4326
_GEOD = Geod(ellps="WGS84")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote_ident(name: str) -> str:
    """Quote an SQL identifier; only plain identifiers from layer definitions ever get here."""
    if not _IDENTIFIER.match(name):
        raise StoreError(f"not a plain SQL identifier: {name!r}")
    return f'"{name}"'


@dataclass(frozen=True)
class Feature:
    """One feature as the core sees it: an id, its properties and a shapely geometry.

    `version` is the store's edit counter of the feature (1 when inserted, +1 on every update), so
    an edit can say which state it started from; None for features not read from a store.
    """

    id: int | None
    properties: dict
    geometry: BaseGeometry | None
    version: int | None = None


class StaleVersion(Conflict):
    """An update started from an older version of the feature than the stored one."""

    code = "stale_version"

    def __init__(self, message: str, current: Feature):
        super().__init__(message)
        self.current = current


@dataclass(frozen=True)
class FeatureQuery:
    """What to read: attribute filters, bbox, ids, paging and order.

    `equals`: field -> allowed values; `contains`: a comma-separated list field (renovation items)
    -> codes of which it must hold at least one; `text`: field -> substring it must contain.
    """

    equals: dict[str, tuple] = field(default_factory=dict)
    contains: dict[str, tuple] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)
    bbox: tuple[float, float, float, float] | None = None
    # Features whose shape meets this WGS84 geometry (a drawn polygon, a buffered road).
    intersects: BaseGeometry | None = None
    # Any further condition that renders itself to SQL with bound parameters for this store
    # (`condition.sql(store, layer_def) -> (clause, params)`), e.g. a CQL2 filter.
    condition: object | None = None
    ids: tuple[int, ...] | None = None
    # Keyset paging: only ids above this one (with the default id order, the next page starts
    # where the last ended, at the cost of an index seek rather than OFFSET's skipped rows).
    after_id: int | None = None
    limit: int | None = None
    offset: int = 0
    order_by: str | None = None
    with_geometry: bool = True
    # Only these properties (None: all). Reading 13 of 30 columns halves a 20,000-estate map read.
    fields: tuple[str, ...] | None = None

    @classmethod
    def where(cls, *, bbox=None, ids=None, limit=None, offset=0, order_by=None, with_geometry=True,
              contains=None, text=None, intersects=None, condition=None, fields=None, **equals) -> "FeatureQuery":
        """Build a query from keyword filters; a None filter is ignored, a scalar means one value.

        `FeatureQuery.where(street_office="临城街道", status=["planned", "completed"], batch=2021)`
        """
        filters = {}
        for name, value in equals.items():
            if value is None:
                continue
            values = tuple(value) if isinstance(value, (list, tuple, set, frozenset)) else (value,)
            filters[name] = values
        return cls(equals=filters, contains={k: tuple(v) for k, v in (contains or {}).items() if v is not None},
                   text={k: v for k, v in (text or {}).items() if v}, bbox=tuple(bbox) if bbox else None,
                   intersects=intersects, condition=condition,
                   ids=tuple(ids) if ids is not None else None, limit=limit, offset=offset,
                   order_by=order_by, with_geometry=with_geometry,
                   fields=tuple(fields) if fields is not None else None)


@dataclass(frozen=True)
class FeatureRows:
    """Features read column by column: ids, one list of plain values per field (in `names`
    order), and their shapely geometries (None when the query asked for none)."""

    ids: list[int]
    names: list[str]
    columns: list[list]
    geometries: np.ndarray | None
    versions: list[int] | None = None  # the store's edit counter of each feature


@dataclass(frozen=True)
class Measure:
    """One aggregate column: count, sum of a field, or a mean of a field weighted by another."""

    name: str
    kind: str  # "count" | "sum" | "weighted_mean" | "weight_of" (the denominator of weighted_mean)
    field: str | None = None
    weight: str | None = None


class Store(abc.ABC):
    """The one storage interface. Create through `geo_app.storage.open_store(url, layers)`."""

    placeholder = "?"  # DB-API parameter marker of the engine
    # True when the engine's values are already plain Python (int, float, str, None), so bulk reads
    # need not look at each one: SQLite's are; PostgreSQL gives dates as datetime.date.
    plain_values = False

    def __init__(self, layers: dict[str, LayerDef]):
        self.layers = layers

    # --- lifecycle -------------------------------------------------------------------------
    @abc.abstractmethod
    def exists(self) -> bool:
        """Whether the store has been initialised (schema present)."""

    @abc.abstractmethod
    def initialise(self) -> None:
        """Create the schema, or bring it up to the layer definitions (new tables, new columns)."""

    @abc.abstractmethod
    def drop(self) -> None:
        """Remove everything this store holds (used by `init --force`)."""

    def close(self) -> None:
        """Release connections; the default holds none."""

    def checkpoint(self) -> None:
        """Make committed data durable in the store's main file(s); nothing to do for servers."""

    @property
    @abc.abstractmethod
    def description(self) -> str:
        """A human-readable name for logs (never contains a password)."""

    @property
    @abc.abstractmethod
    def accounts(self) -> "AccountRepository":
        """Users, API tokens and login failures, kept in this store beside the layers."""

    @functools.cached_property
    def audit(self) -> AuditLog:
        """The append-only record of every change (written through `Writer.append_audit`)."""
        return AuditLog(self._fetch, self.placeholder)

    # --- reads -----------------------------------------------------------------------------
    @abc.abstractmethod
    def revision(self) -> int:
        """The store revision: bumped by every committed write, visible to every process at once."""

    @abc.abstractmethod
    def _fetch(self, sql: str, params: Sequence) -> list[tuple]:
        """Run one read query and return all rows."""

    @abc.abstractmethod
    def _geometry_column_sql(self, layer: LayerDef) -> str:
        """The select expression that returns the geometry in the engine's transport encoding."""

    def _fetch_bulk(self, sql: str, params: Sequence) -> list[tuple]:
        """`_fetch` for the column reads of `feature_rows` (many rows, geometries): engines may
        choose a cheaper transfer for them."""
        return self._fetch(sql, params)

    def _value_sql(self, field_def) -> str:
        """The select expression of a field in bulk reads; engines whose driver would return a
        value that is not plain (a date object) can have SQL write it as the plain value instead."""
        return quote_ident(field_def.name)

    @abc.abstractmethod
    def _decode_geometries(self, values: list) -> np.ndarray:
        """Transport-encoded geometries -> array of shapely geometries."""

    @abc.abstractmethod
    def _bbox_clause(self, layer: LayerDef, bbox: tuple) -> tuple[str, list]:
        """A WHERE clause selecting rows whose geometry intersects bbox (exactly), using the index."""

    @abc.abstractmethod
    def _intersects_clause(self, layer: LayerDef, geometry: BaseGeometry) -> tuple[str, list]:
        """A WHERE clause selecting rows whose geometry intersects a WGS84 geometry, using the index."""

    def features(self, layer: str, query: FeatureQuery | None = None) -> list[Feature]:
        """The features of a layer matching the query, ordered by `order_by` (default id)."""
        rows = self.feature_rows(layer, query)
        values = zip(*rows.columns) if rows.columns else [()] * len(rows.ids)
        geometries = rows.geometries if rows.geometries is not None else [None] * len(rows.ids)
        return [Feature(i, dict(zip(rows.names, v)), g, version)
                for i, v, g, version in zip(rows.ids, values, geometries, rows.versions)]

    def feature_rows(self, layer: str, query: FeatureQuery | None = None) -> FeatureRows:
        """The same read as `features`, column by column, without a dict per feature: bulk
        readers (exports of 200,000 estates) need the values, not Feature objects."""
        layer_def = self._layer(layer)
        query = query or FeatureQuery()
        sql, params, names = self._feature_rows_sql(layer_def, query)
        return self._feature_rows_from(self._fetch_bulk(sql, params), names, query.with_geometry)

    def keyset_pages(self, layer: str, query: FeatureQuery) -> Iterator[FeatureRows]:
        """Every feature matching `query` (which must keep the default id order and no offset), in
        pages of `query.limit` read by keyset (`id > last id`): each page is one statement and
        costs an index seek however deep into the layer it is. Engines may read ahead."""
        after = query.after_id
        while True:
            rows = self.feature_rows(layer, dataclasses.replace(query, after_id=after))
            if rows.ids:
                yield rows
            if len(rows.ids) < query.limit:
                return
            after = rows.ids[-1]

    def _feature_rows_sql(self, layer_def: LayerDef, query: FeatureQuery) -> tuple[str, list, list[str]]:
        """The statement of `feature_rows`: (sql, params, the names of the fields it selects)."""
        names = self._selected_fields(layer_def, query)
        # The store-managed version follows the id: edits start from it.
        select = ", ".join([quote_ident("id"), quote_ident("version"),
                            *(self._value_sql(self._field(layer_def, n)) for n in names)])
        if query.with_geometry:
            select += ", " + self._geometry_column_sql(layer_def)
        where, params = self._where(layer_def, query)
        order = quote_ident(self._order_field(layer_def, query.order_by))
        sql = f"SELECT {select} FROM {quote_ident(layer_def.name)}{where} ORDER BY {order}, \"id\""
        if query.limit is not None:
            sql += f" LIMIT {int(query.limit)} OFFSET {int(query.offset)}"
        return sql, params, names

    def _feature_rows_from(self, rows: list[tuple], names: list[str], with_geometry: bool) -> FeatureRows:
        columns = [list(c) for c in zip(*rows)] if rows else [[] for _ in range(len(names) + 2 + with_geometry)]
        geometries = self._decode_geometries(columns.pop()) if with_geometry else None
        ids, versions = columns[0], columns[1]
        values = columns[2:] if self.plain_values else [_plain_column(c) for c in columns[2:]]
        return FeatureRows(ids, names, values, geometries, versions)

    def _selected_fields(self, layer_def: LayerDef, query: FeatureQuery) -> list[str]:
        if query.fields is None:
            return layer_def.field_names
        for name in query.fields:
            self._field(layer_def, name)  # an unknown field is the caller's error, named
        return list(query.fields)

    def get(self, layer: str, feature_id: int) -> Feature:
        """One feature by id; NotFound when there is none."""
        if not -2**63 <= int(feature_id) < 2**63:  # beyond any engine's integer: no such feature
            raise NotFound(f"{layer} feature {feature_id} not found")
        found = self.features(layer, FeatureQuery(ids=(int(feature_id),)))
        if not found:
            raise NotFound(f"{layer} feature {feature_id} not found")
        return found[0]

    def count(self, layer: str, query: FeatureQuery | None = None) -> int:
        """How many features match the query (ignoring limit and offset)."""
        layer_def = self._layer(layer)
        where, params = self._where(layer_def, query or FeatureQuery())
        return int(self._fetch(f"SELECT COUNT(*) FROM {quote_ident(layer_def.name)}{where}", params)[0][0])

    def aggregate(self, layer: str, group_by: Sequence[str], measures: Sequence[Measure],
                  query: FeatureQuery | None = None) -> list[dict]:
        """Grouped aggregates computed by the engine (SQL), one dict per group, ordered by group."""
        layer_def = self._layer(layer)
        keys = [quote_ident(self._field(layer_def, g).name) for g in group_by]
        select = [*keys, *(self._measure_sql(layer_def, m) for m in measures)]
        where, params = self._where(layer_def, query or FeatureQuery())
        sql = f"SELECT {', '.join(select)} FROM {quote_ident(layer_def.name)}{where}"
        if keys:
            sql += f" GROUP BY {', '.join(keys)} ORDER BY {', '.join(keys)}"
        names = [*group_by, *(m.name for m in measures)]
        return [{n: _plain(v) for n, v in zip(names, row)} for row in self._fetch(sql, params)]

    def _measure_sql(self, layer_def: LayerDef, m: Measure) -> str:
        if m.kind == "count":
            return "COUNT(*)"
        column = quote_ident(self._field(layer_def, m.field).name)
        if m.kind == "sum":
            return f"SUM({column})"
        if m.kind in ("weighted_mean", "weight_of"):
            weight = quote_ident(self._field(layer_def, m.weight).name)
            # Features without a value carry no weight, rather than counting as zero.
            denominator = f"SUM(CASE WHEN {column} IS NOT NULL THEN {weight} END)"
            if m.kind == "weight_of":
                return denominator
            return f"SUM({column} * {weight}) / NULLIF({denominator}, 0)"
        raise StoreError(f"unknown measure kind {m.kind!r}")

    def _where(self, layer_def: LayerDef, query: FeatureQuery) -> tuple[str, list]:
        clauses, params = [], []
        p = self.placeholder
        for name, values in query.equals.items():
            field_def = self._field(layer_def, name)
            if not values:
                clauses.append("1 = 0")
                continue
            clauses.append(f"{quote_ident(field_def.name)} IN ({', '.join([p] * len(values))})")
            params.extend(_typed(field_def, v) for v in values)
        for name, codes in query.contains.items():
            column = quote_ident(self._field(layer_def, name).name)
            if not codes:
                clauses.append("1 = 0")
                continue
            # Lists are stored as "a,b,c": wrap in commas so "roads" never matches "railroads".
            clauses.append("(" + " OR ".join([f"(',' || {column} || ',') LIKE {p} ESCAPE '\\'"] * len(codes)) + ")")
            params.extend(f"%,{_like_escape(str(c))},%" for c in codes)
        for name, needle in query.text.items():
            column = quote_ident(self._field(layer_def, name).name)
            clauses.append(f"{column} LIKE {p} ESCAPE '\\'")
            params.append(f"%{_like_escape(needle)}%")
        if query.ids is not None:
            if not query.ids:
                clauses.append("1 = 0")
            else:
                clauses.append(f'"id" IN ({", ".join([p] * len(query.ids))})')
                params.extend(int(i) for i in query.ids)
        if query.after_id is not None:
            clauses.append(f'"id" > {p}')
            params.append(int(query.after_id))
        if query.bbox:
            clause, bbox_params = self._bbox_clause(layer_def, _check_bbox(query.bbox))
            clauses.append(clause)
            params.extend(bbox_params)
        if query.intersects is not None:
            clause, geometry_params = self._intersects_clause(layer_def, query.intersects)
            clauses.append(clause)
            params.extend(geometry_params)
        if query.condition is not None:
            clause, condition_params = query.condition.sql(self, layer_def)
            clauses.append(f"({clause})")
            params.extend(condition_params)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def _layer(self, name: str) -> LayerDef:
        try:
            return self.layers[name]
        except KeyError:
            raise NotFound(f"unknown layer '{name}'; layers: {', '.join(self.layers)}") from None

    @staticmethod
    def _field(layer_def: LayerDef, name: str):
        try:
            return layer_def.field(name)
        except KeyError:
            raise InvalidParameter(f"layer '{layer_def.name}' has no field '{name}'",
                                   parameter=name) from None

    def _order_field(self, layer_def: LayerDef, name: str | None) -> str:
        return "id" if name in (None, "id") else self._field(layer_def, name).name

    # --- spatial queries (each engine its own way) -------------------------------------------
    @abc.abstractmethod
    def nearby(self, layer: str, lon: float, lat: float, radius_m: float | None, limit: int,
               query: FeatureQuery | None = None) -> list[tuple[Feature, float, float | None]]:
        """Features within `radius_m` of a WGS84 point (or the `limit` nearest when radius is None):
        (feature, geodesic distance to its edge in m — 0 inside —, bearing in degrees or None
        inside), nearest first."""

    @abc.abstractmethod
    def intersection_areas(self, layer: str, other: str, query: FeatureQuery | None = None) -> list[tuple]:
        """(id, other id, area m² of the overlap) for every intersecting pair of a layer's features
        (filtered by query) with another layer's; with other == layer, each pair once (id < other)."""

    @abc.abstractmethod
    def invalid_geometries(self, layer: str) -> list[tuple[int, str]]:
        """(id, reason) of features whose stored geometry is empty or invalid (e.g. edited in QGIS)."""

    # --- writes ----------------------------------------------------------------------------
    @abc.abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager["Writer"]:
        """A write transaction: all of it commits and the revision bumps, or none of it does."""


class Writer(abc.ABC):
    """Writes inside one transaction. Validation and computed fields are shared here."""

    def __init__(self, store: Store):
        self.store = store
        self.touched: set[str] = set()
        self.abandoned = False  # a bulk load failed half-way: the transaction must roll back

    def refuse_if_abandoned(self) -> None:
        """Called by the engine's transaction before it commits (see `abandoned`)."""
        if self.abandoned:
            raise StoreError(f"{self.store.description}: a bulk load failed half-way; nothing was written")

    def insert(self, layer: str, features: Iterable[Feature | dict]) -> list[int]:
        """Insert features (Feature objects or GeoJSON-like dicts); returns their new ids."""
        layer_def = self.store._layer(layer)
        props, geoms = prepare_features(layer_def, features)
        if not props:
            return []
        self.touched.add(layer)
        return self._insert_rows(layer_def, props, geoms)

    def insert_columns(self, layer: str, columns: dict, geometries, on_progress=None) -> int:
        """Insert many features given as columns (field -> array) and a geometry array: the bulk
        path, checked with array operations (`columns.prepare_columns`) before anything is written
        and written with the engine's bulk interface. `on_progress(done)` is called as rows are
        written. Returns the number of rows written."""
        with self.bulk_load(layer, len(geometries)) as load:
            load.add(columns, geometries, on_progress)
        return load.rows

    def layer_is_empty(self, layer: str) -> bool:
        """Whether `layer` holds no feature, under a lock that keeps other writers out of it until
        this transaction ends (readers may go on)."""
        return self._layer_is_empty(self.store._layer(layer))

    @abc.abstractmethod
    def _layer_is_empty(self, layer_def: LayerDef) -> bool: ...

    def bulk_load(self, layer: str, expected: int | None = None) -> BulkLoad:
        """A load of new rows into `layer` in parts (see `bulk.BulkLoad`); `expected`: how many
        rows will come, when known (an engine may rebuild indexes once only for a load that big)."""
        return self._bulk_load(self.store._layer(layer), expected)

    @abc.abstractmethod
    def _bulk_load(self, layer_def: LayerDef, expected: int | None) -> BulkLoad: ...

    def update(self, layer: str, feature_id: int, properties: dict | None = None,
               geometry: BaseGeometry | None = None, expected_version: int | None = None) -> None:
        """Change some properties and/or the geometry of one feature and bump its version;
        NotFound if it is absent, StaleVersion if `expected_version` is given and not the stored one."""
        layer_def = self.store._layer(layer)
        current = self._read_for_update(layer_def, int(feature_id))
        if expected_version is not None and int(expected_version) != current.version:
            raise StaleVersion(f"{layer} feature {feature_id} was changed by someone else: it is at version "
                               f"{current.version}, the edit started from version {expected_version}", current)
        merged = {**current.properties, **(properties or {})}
        feature = Feature(feature_id, merged, geometry if geometry is not None else current.geometry)
        props, geoms = prepare_features(layer_def, [feature])
        self.touched.add(layer)
        self._update_row(layer_def, int(feature_id), props[0], geoms[0])

    def delete(self, layer: str, ids: Iterable[int]) -> int:
        """Delete features by id; returns how many were deleted."""
        layer_def = self.store._layer(layer)
        self.touched.add(layer)
        return self._delete_rows(layer_def, [int(i) for i in ids])

    def clear(self, layer: str) -> None:
        """Delete every feature of a layer (used when the demo data is loaded again)."""
        layer_def = self.store._layer(layer)
        self.touched.add(layer)
        self._delete_rows(layer_def, None)

    def read(self, layer: str, feature_id: int) -> Feature:
        """One feature as this transaction sees it, locked against concurrent writers until commit."""
        return self._read_for_update(self.store._layer(layer), int(feature_id))

    def append_audit(self, row: dict) -> None:
        """Add one audit record (built by `geo_app.core.audit.record`) in this transaction."""
        self._run(insert_statement(self.store.placeholder), insert_values(row))

    @abc.abstractmethod
    def _run(self, sql: str, params: Sequence) -> None:
        """Run one statement in this transaction."""

    def _read_for_update(self, layer_def: LayerDef, feature_id: int) -> Feature:
        found = self._select_features(layer_def, feature_id)
        if found is None:
            raise NotFound(f"{layer_def.name} feature {feature_id} not found")
        return found

    @abc.abstractmethod
    def _select_features(self, layer_def: LayerDef, feature_id: int) -> Feature | None:
        """Read one feature with its version inside this transaction (sees its own uncommitted writes)."""

    @abc.abstractmethod
    def _insert_rows(self, layer_def: LayerDef, props: list[dict], geoms: np.ndarray) -> list[int]:
        ...

    @abc.abstractmethod
    def _update_row(self, layer_def: LayerDef, feature_id: int, props: dict, geom) -> None:
        ...

    @abc.abstractmethod
    def _delete_rows(self, layer_def: LayerDef, ids: list[int] | None) -> int:
        ...


def circle_bbox(lon: float, lat: float, radius_m: float) -> tuple[float, float, float, float]:
    """The lon/lat box enclosing a geodesic circle (for an index pre-filter; slightly generous)."""
    lons, lats, _ = _GEOD.fwd([lon] * 4, [lat] * 4, [0, 90, 180, 270], [radius_m * 1.001 + 1] * 4)
    return (max(min(lons), -180.0), max(min(lats), -90.0), min(max(lons), 180.0), min(max(lats), 90.0))


def _like_escape(text: str) -> str:
    """User text inside a LIKE pattern matches literally (%, _ and the escape are escaped)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _typed(field_def, value):
    """A filter value in its column's type, so both engines compare alike and bad input is a 400."""
    try:
        if field_def.type == "integer":
            number = float(value)
            if not number.is_integer():
                raise ValueError
            return int(number)
        if field_def.type == "real":
            return float(value)
    except (TypeError, ValueError):
        raise InvalidParameter(f"{field_def.name} must be a number, got {value!r}",
                               parameter=field_def.name) from None
    return str(value)


def _check_bbox(bbox: tuple) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = (float(v) for v in bbox)
    if minx > maxx or miny > maxy:
        raise InvalidParameter("bbox must be minx,miny,maxx,maxy with min <= max", parameter="bbox")
    return minx, miny, maxx, maxy


_PLAIN_TYPES = frozenset({int, float, str, type(None)})


def _plain_column(values: list) -> list:
    """A column of engine values as plain Python; untouched (no call per value) when it already is,
    as every GeoPackage column and most PostGIS ones are."""
    if set(map(type, values)) <= _PLAIN_TYPES:
        return values
    return [_plain(v) for v in values]


def _plain(value):
    """Engine values -> plain JSON-able Python (dates as ISO strings, numerics as int/float)."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value

