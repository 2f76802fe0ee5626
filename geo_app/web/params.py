"""Request parameters parsed once, by small reusable functions; bad input is a 400 naming it."""

from __future__ import annotations

import dataclasses
from typing import Mapping

from ..core.geodesy import gcj02_to_wgs84
from ..domain import RENOVATION_ITEMS, RENOVATION_STATUS
from ..errors import InvalidParameter
from ..storage import FeatureQuery


def parse_choice(args: Mapping, name: str, choices, default: str | None = None) -> str | None:
    """One value out of a fixed set."""
    value = args.get(name, default)
    if value is not None and value not in choices:
        raise InvalidParameter(f"{name} must be one of {', '.join(choices)}, got {value!r}", parameter=name)
    return value


def _no_nul(value: str, name: str) -> str:
    # PostgreSQL refuses NUL in text, so it would fail inside the query instead of here.
    if "\x00" in value:
        raise InvalidParameter(f"{name} must not contain NUL characters", parameter=name)
    return value


def parse_list(args: Mapping, name: str) -> list[str] | None:
    """A comma-separated (or repeated) parameter as a list of non-empty strings, None if absent."""
    raw = args.getlist(name) if hasattr(args, "getlist") else [args[name]] if name in args else []
    values = [_no_nul(v.strip(), name) for item in raw for v in item.split(",") if v.strip()]
    return values or None


def parse_int_list(args: Mapping, name: str, lo: int, hi: int, unit: str = "") -> list[int] | None:
    """A comma-separated list of integers within [lo, hi], each optionally followed by its `unit`
    (batch years are written `2021年` as often as `2021`)."""
    values = parse_list(args, name)
    if values is None:
        return None
    try:
        numbers = [int(v.removesuffix(unit) if unit else v) for v in values]
    except ValueError:
        raise InvalidParameter(f"{name} must be comma-separated integers, got {args.get(name)!r}",
                               parameter=name) from None
    if any(not lo <= n <= hi for n in numbers):
        raise InvalidParameter(f"{name} values must lie between {lo} and {hi}", parameter=name)
    return numbers


def parse_bbox(args: Mapping, name: str = "bbox") -> tuple[float, float, float, float] | None:
    """minLon,minLat,maxLon,maxLat in WGS84 degrees."""
    raw = args.get(name)
    if not raw:
        return None
    try:
        minx, miny, maxx, maxy = (float(v) for v in raw.split(","))
    except ValueError:
        raise InvalidParameter(f"{name} must be four numbers minLon,minLat,maxLon,maxLat, got {raw!r}",
                               parameter=name) from None
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidParameter(f"{name} must be WGS84 degrees with min <= max", parameter=name)
    return minx, miny, maxx, maxy


def parse_codes(args: Mapping, name: str, vocabulary) -> list[str] | None:
    """A comma-separated list of terms of one vocabulary, each a code or its Chinese or English label
    (`completed`, `已完工`, `Completed`: file names and imports use the labels), as codes."""
    values = parse_list(args, name)
    if values is None:
        return None
    codes = [vocabulary.code_of(v) for v in values]
    unknown = [v for v, c in zip(values, codes) if c is None]
    if unknown:
        raise InvalidParameter(f"{name}: unknown value(s) {', '.join(unknown)}; allowed: "
                               + ", ".join(f"{t.code} ({t.zh})" for t in vocabulary), parameter=name)
    return codes


def parse_text(args: Mapping, name: str, max_length: int = 100) -> str | None:
    """A free-text parameter, trimmed; too long is a 400 rather than a slow query."""
    value = _no_nul((args.get(name) or "").strip(), name)
    if len(value) > max_length:
        raise InvalidParameter(f"{name} must be at most {max_length} characters", parameter=name)
    return value or None


def parse_estate_filters(args: Mapping) -> FeatureQuery:
    """The estate filters every page and API shares.

    street_office, status, batch (comma-separated lists), item (renovation item codes: estates
    that plan any of them), q (part of the name), bbox.
    """
    return FeatureQuery.where(
        street_office=parse_list(args, "street_office"),
        status=parse_codes(args, "status", RENOVATION_STATUS),
        batch=parse_int_list(args, "batch", 2000, 2100, unit="年"),
        contains={"items_planned": parse_codes(args, "item", RENOVATION_ITEMS)},
        text={"name": parse_text(args, "q")},
        bbox=parse_bbox(args),
    )


MAX_IDS = 10_000


def parse_export_filters(args: Mapping) -> tuple[FeatureQuery, str | None]:
    """An export's filters: the map's (`parse_estate_filters`, so "export what I see" selects what
    the map shows) plus `ids` (comma-separated feature ids), `within_office` (a street office
    code: estates belonging to it by geometry) and `bbox_coords` (wgs84|gcj02: the coordinates the
    bbox is in). Returns (query, office code or None)."""
    query = parse_estate_filters(args)
    query = _bbox_in_wgs84(query, parse_choice(args, "bbox_coords", ("wgs84", "gcj02"), default="wgs84"))
    ids = parse_int_list(args, "ids", 1, 2**63 - 1)
    if ids is not None and len(ids) > MAX_IDS:
        raise InvalidParameter(f"ids: at most {MAX_IDS:,} ids, got {len(ids):,}", parameter="ids")
    if ids is not None:
        query = dataclasses.replace(query, ids=tuple(ids))
    return query, parse_text(args, "within_office")


def _bbox_in_wgs84(query: FeatureQuery, bbox_coords: str) -> FeatureQuery:
    """A map view's bbox is in the basemap's coordinates: over Amap tiles that is GCJ-02."""
    if not query.bbox or bbox_coords == "wgs84":
        return query
    minx, miny, maxx, maxy = query.bbox
    lons, lats = gcj02_to_wgs84([minx, maxx], [miny, maxy])
    return dataclasses.replace(query, bbox=(float(lons[0]), float(lats[0]), float(lons[1]), float(lats[1])))
