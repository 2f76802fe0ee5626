"""Query parameters of the OGC API, parsed once by small functions; bad input is a 400 naming it.

Framework-neutral: `args` is any mapping of parameter name -> string (a werkzeug MultiDict, a
dict in tests). Which parameters an operation knows is declared here too, so that an unknown one
is refused (Part 1, /req/core/query-param-unknown) rather than silently ignored: a misspelt
`bbx=` would otherwise return the whole layer and look like a result.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Mapping

import shapely

from ..errors import InvalidParameter
from ..layers import FieldDef, LayerDef
from .ogcapi_crs import Crs, box_to_crs84, parse_crs

DEFAULT_LIMIT = 10
MAX_LIMIT = 1000
MAX_OFFSET = 2**31 - 1  # beyond any layer, and safely inside every engine's integer
MAX_TEXT = 500  # longest property-filter value: longer is a 400, not a slow query
FORMATS = ("json", "html")
# Parameters any OGC API page takes: the encoding and the page language of the HTML.
COMMON_PARAMS = ("f", "lang")
ITEMS_PARAMS = (*COMMON_PARAMS, "limit", "offset", "bbox", "bbox-crs", "crs", "datetime", "filter",
                "filter-lang", "filter-crs", "sortby", "properties")
ITEM_PARAMS = (*COMMON_PARAMS, "crs", "properties")


def check_known(args: Mapping, known: tuple[str, ...], layer_def: LayerDef | None = None) -> None:
    """A 400 naming the first parameter the operation does not define."""
    allowed = set(known) | (set(layer_def.field_names) if layer_def else set())
    for name in args:
        if name not in allowed:
            raise InvalidParameter(f"unknown query parameter {name[:100]!r}; this operation takes "
                                   f"{', '.join(sorted(allowed))}", parameter=name[:100])


def parse_format(args: Mapping) -> str | None:
    """`f=json|html`, or None when the Accept header should decide."""
    value = args.get("f")
    if value is None:
        return None
    if value not in FORMATS:
        raise InvalidParameter(f"f must be one of {', '.join(FORMATS)}, got {value[:50]!r}", parameter="f")
    return value


def _integer(args: Mapping, name: str, default: int, lo: int, hi: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"\s*[+]?\d{1,12}\s*", raw):
        raise InvalidParameter(f"{name} must be an integer between {lo} and {hi}, got {raw[:50]!r}",
                               parameter=name)
    value = int(raw)
    if value < lo or value > hi:
        raise InvalidParameter(f"{name} must be an integer between {lo} and {hi}, got {value}", parameter=name)
    return value


def parse_limit(args: Mapping) -> int:
    """`limit`: 1 or more, default 10; above 1000 it is clamped to 1000 (documented in OpenAPI)."""
    raw = args.get("limit")
    if raw is not None and re.fullmatch(r"\s*[+]?\d{1,12}\s*", raw) and int(raw) > MAX_LIMIT:
        return MAX_LIMIT
    return _integer(args, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)


def parse_offset(args: Mapping) -> int:
    """`offset`: how many matching features to skip, 0 by default."""
    return _integer(args, "offset", 0, 0, MAX_OFFSET)


def _numbers(raw: str, name: str, counts: tuple[int, ...]) -> list[float]:
    try:
        values = [float(v) for v in raw.split(",")]
    except ValueError:
        values = []
    if len(values) not in counts or not all(math.isfinite(v) for v in values):
        raise InvalidParameter(f"{name} must be {' or '.join(map(str, counts))} comma-separated numbers, "
                               f"got {raw[:100]!r}", parameter=name)
    return values


@dataclass(frozen=True)
class Area:
    """Where features must be: a CRS84 bbox the store filters on directly, or a WGS84 geometry."""

    bbox: tuple[float, float, float, float] | None = None
    geometry: object | None = None


def parse_bbox(args: Mapping) -> Area | None:
    """`bbox` (4 numbers, or 6 with heights, which are ignored) in `bbox-crs` (default CRS84).

    In CRS84 a minimum longitude above the maximum crosses the antimeridian (Part 1 allows it);
    in another CRS the box is turned into the WGS84 polygon it covers.
    """
    bbox_crs = parse_crs(args.get("bbox-crs"), "bbox-crs")
    raw = args.get("bbox")
    if raw is None or raw == "":
        return None
    values = _numbers(raw, "bbox", (4, 6))
    box = tuple(values[:2] + values[3:5]) if len(values) == 6 else tuple(values)
    a1, b1, a2, b2 = box
    if b1 > b2 or (a1 > a2 and not bbox_crs.is_crs84):
        raise InvalidParameter("bbox must be lower corner then upper corner, each minimum <= maximum",
                               parameter="bbox")
    if not bbox_crs.is_crs84:
        return Area(geometry=box_to_crs84(box, bbox_crs, "bbox"))
    if not (-180 <= a1 <= 180 and -180 <= a2 <= 180 and -90 <= b1 <= b2 <= 90):
        raise InvalidParameter("bbox must be longitude/latitude degrees in CRS84", parameter="bbox")
    if a1 > a2:  # across the antimeridian: two boxes
        return Area(geometry=shapely.MultiPolygon([shapely.box(a1, b1, 180, b2), shapely.box(-180, b1, a2, b2)]))
    return Area(bbox=(a1, b1, a2, b2))


def parse_output_crs(args: Mapping) -> Crs:
    """`crs`: the CRS of the geometries in the response (default CRS84)."""
    return parse_crs(args.get("crs"), "crs")


_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?)?")


def parse_datetime(args: Mapping) -> str | None:
    """`datetime`: an instant or an interval (`a/b`, either end `..` or empty), RFC 3339.

    Checked, then not applied: no layer here has a primary temporal property (their dates are
    milestones, filterable with `filter`), which the OpenAPI document says.
    """
    raw = args.get("datetime")
    if raw is None:
        return None
    ends = raw.split("/")
    if len(ends) > 2 or not any(e not in ("", "..") for e in ends):
        raise InvalidParameter("datetime must be an RFC 3339 instant or an interval a/b", parameter="datetime")
    for end in ends:
        if end in ("", "..") and len(ends) == 2:
            continue
        if not _DATETIME.fullmatch(end):
            raise InvalidParameter(f"datetime: {end[:50]!r} is not an RFC 3339 date or date-time",
                                   parameter="datetime")
        try:
            dt.datetime.fromisoformat(end.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidParameter(f"datetime: {end[:50]!r} is not a valid date", parameter="datetime") from None
    return raw


def parse_sortby(args: Mapping, layer_def: LayerDef) -> list[tuple[str, bool]] | None:
    """`sortby=+name,-households`: (field, descending) pairs. A leading `+` arrives as a space
    when the client did not encode it, so a space means ascending too."""
    raw = args.get("sortby")
    if raw is None or not raw.strip():
        return None
    keys = []
    for item in raw.split(","):
        item = item.strip()
        descending = item.startswith("-")
        name = item[1:].strip() if item[:1] in ("+", "-") else item
        if not layer_def.has_field(name):
            raise InvalidParameter(f"sortby: {name[:100]!r} is not a property of {layer_def.name}; "
                                   f"sortables: {', '.join(layer_def.field_names)}", parameter="sortby")
        keys.append((name, descending))
    return keys


def parse_properties(args: Mapping, layer_def: LayerDef) -> list[str] | None:
    """`properties=name,status`: only these properties in the response (empty: none at all)."""
    raw = args.get("properties")
    if raw is None:
        return None
    names = [n.strip() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if not layer_def.has_field(n)]
    if unknown:
        raise InvalidParameter(f"properties: {unknown[0][:100]!r} is not a property of {layer_def.name}; "
                               f"properties: {', '.join(layer_def.field_names)}", parameter="properties")
    return names


def check_text(value: str, parameter: str) -> str:
    """Text that every engine can compare: no NUL (PostgreSQL refuses it), no lone surrogates."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidParameter(f"{parameter}: not valid Unicode text", parameter=parameter) from None
    if "\x00" in value:
        raise InvalidParameter(f"{parameter}: text must not contain NUL characters", parameter=parameter)
    return value


def typed_value(field: FieldDef, raw: str, parameter: str):
    """A property-filter value in its field's type (integer, real, ISO date or text)."""
    try:
        if field.type == "integer":
            if not re.fullmatch(r"\s*[+-]?\d{1,18}\s*", raw):
                raise ValueError
            return int(raw)
        if field.type == "real":
            number = float(raw)
            if not math.isfinite(number):
                raise ValueError
            return number
        if field.type == "date":
            return dt.date.fromisoformat(raw.strip()).isoformat()
    except ValueError:
        kind = {"integer": "an integer", "real": "a number", "date": "a date YYYY-MM-DD"}[field.type]
        raise InvalidParameter(f"{parameter} must be {kind}, got {raw[:50]!r}", parameter=parameter) from None
    if len(raw) > MAX_TEXT:
        raise InvalidParameter(f"{parameter} must be at most {MAX_TEXT} characters", parameter=parameter)
    return check_text(raw, parameter)


def parse_property_filters(args: Mapping, layer_def: LayerDef) -> tuple[dict, dict]:
    """`?status=completed&batch=2021`: equality per queryable, typed by field -> (equals, contains).

    A list field (renovation items, stored "a,b,c") matches when it holds the code.
    """
    equals, contains = {}, {}
    for field in layer_def.fields:
        raw = args.get(field.name)
        if raw is None:
            continue
        value = typed_value(field, raw, field.name)
        (contains if field.multiple else equals)[field.name] = (value,)
    return equals, contains
