"""CQL2 filters (OGC API Features Part 3): parsed by pygeofilter, rendered to SQL with bound values.

`parse_filter(text, lang, crs)` returns a `Cql2Filter`, which a `FeatureQuery` carries as its
`condition`; the store asks it for `(clause, params)` in its own dialect. Values never enter the
SQL text: every literal is a bound parameter, every identifier is one of the layer's fields
(quoted by `quote_ident`), and anything else is a 400 naming it. Spatial predicates go through
the store's own `_intersects_clause` (R-tree or GiST), after the geometry is brought from
`filter-crs` to WGS84.

Supported: comparisons (= <> < <= > >=), AND / OR / NOT, LIKE, IN, BETWEEN, IS NULL and
S_INTERSECTS with any geometry or a BBOX literal; a property is compared with a literal of its own
type (text with a string, numbers with numbers, dates with DATE('…') or an ISO date string).

pygeofilter's CQL2 text grammar is used with three corrections to CQL2 1.0: a quote inside a
string is doubled (`'it''s'`, its lexer ended the string at the first quote), `BBOX(…)` is a
literal (it parsed ECQL's BBOX predicate instead), and ECQL's `ENVELOPE` is not accepted.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import shapely
from lark import Lark, v_args
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json import parse as parse_json_ast
from pygeofilter.parsers.cql2_text import parser as text_module

from ..errors import InvalidParameter
from ..layers import FieldDef, LayerDef
from ..storage.base import quote_ident
from .ogcapi_crs import Crs, to_crs84
from .ogcapi_params import check_text

LANGUAGES = ("cql2-text", "cql2-json")
MAX_LENGTH = 20_000  # characters of filter: longer is refused before parsing
GEOMETRY_NAMES = ("geometry", "geom")  # how a filter may name a feature's geometry
P = "filter"  # the parameter every error here names


def _fail(message: str) -> InvalidParameter:
    return InvalidParameter(f"filter: {message}", parameter=P)


# --- parsing ---------------------------------------------------------------------------------

@v_args(inline=True)
class _Transformer(text_module.CQLTransformer):
    def SINGLE_QUOTED(self, token):  # noqa: N802 (lark names terminals in capitals)
        return token[1:-1].replace("''", "'")

    def bbox_literal(self, *numbers):
        return _BBox(tuple(float(n) for n in numbers))


class _BBox:
    """A CQL2 BBOX literal: minx, miny, maxx, maxy in filter-crs axis order."""

    def __init__(self, numbers: tuple[float, ...]):
        self.numbers = numbers


def _text_grammar() -> str:
    grammar = Path(text_module.__file__).with_name("grammar.lark").read_text(encoding="utf-8")
    fixes = {
        'SINGLE_QUOTED: "\'" /.*?/ "\'"': "SINGLE_QUOTED: /'(?:[^']|'')*'/",
        '        | envelope\n': '        | "BBOX"i "(" full_number "," full_number "," full_number "," '
                                'full_number ")" -> bbox_literal\n',
    }
    lines = grammar.splitlines(keepends=True)
    grammar = "".join(line for line in lines
                      if not line.lstrip().startswith(('| "BBOX" "("', "envelope:")))
    for old, new in fixes.items():
        if old not in grammar:
            raise RuntimeError(f"pygeofilter's CQL2 grammar changed: {old!r} not found (check the pin)")
        grammar = grammar.replace(old, new)
    return grammar


_parser = None


def _text_parser() -> Lark:
    global _parser
    if _parser is None:  # built on first use: nothing heavy at import time
        _parser = Lark(_text_grammar(), parser="lalr", maybe_placeholders=False, transformer=_Transformer(),
                       import_paths=[str(Path(text_module.__file__).parent.parent)])
    return _parser


def _between_pairs(node):
    """CQL2 1.0 JSON writes between as [value, low, high]; pygeofilter 0.4 expects [value, [low, high]]."""
    if isinstance(node, list):
        return [_between_pairs(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _between_pairs(v) for k, v in node.items()}
    if node.get("op") == "between" and isinstance(node.get("args"), list) and len(node["args"]) == 3:
        node["args"] = [node["args"][0], node["args"][1:]]
    return node


def parse_filter(text: str, lang: str | None, crs: Crs) -> "Cql2Filter":
    """A `filter` in `filter-lang` (cql2-text by default) whose geometries are in `crs`."""
    lang = lang or "cql2-text"
    if lang not in LANGUAGES:
        raise InvalidParameter(f"filter-lang must be one of {', '.join(LANGUAGES)}, got {lang[:50]!r}",
                               parameter="filter-lang")
    if len(text) > MAX_LENGTH:
        raise _fail(f"at most {MAX_LENGTH} characters")
    try:
        if lang == "cql2-json":
            tree = parse_json_ast(_between_pairs(json.loads(text)))
        else:
            tree = _text_parser().parse(text)
    except Exception as exc:  # noqa: BLE001 - any parser failure on client text is the client's 400
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise _fail(f"not valid {lang}: {first_line[:200]}") from None
    return Cql2Filter(tree, crs)


# --- rendering -------------------------------------------------------------------------------

class Cql2Filter:
    """A parsed filter; `sql(store, layer_def)` renders it for that store (FeatureQuery.condition)."""

    def __init__(self, tree, crs: Crs):
        self.tree = tree
        self.crs = crs

    def sql(self, store, layer_def: LayerDef) -> tuple[str, list]:
        renderer = _Renderer(store, layer_def, self.crs)
        try:
            clause = renderer.condition(self.tree)
        except RecursionError:
            raise _fail("nested too deeply") from None
        return clause, renderer.params


_COMPARISONS = {ast.Equal: "=", ast.NotEqual: "<>", ast.LessThan: "<", ast.LessEqual: "<=",
                ast.GreaterThan: ">", ast.GreaterEqual: ">="}
_MIRRORED = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


class _Renderer:
    """One rendering: SQL text with placeholders, and the values bound to them in order."""

    def __init__(self, store, layer_def: LayerDef, crs: Crs):
        self.store, self.layer, self.crs = store, layer_def, crs
        self.p = store.placeholder
        self.params: list = []

    def bind(self, value) -> str:
        self.params.append(value)
        return self.p

    def condition(self, node) -> str:
        if isinstance(node, bool):
            return "1 = 1" if node else "1 = 0"
        if isinstance(node, (ast.And, ast.Or)):
            word = "AND" if isinstance(node, ast.And) else "OR"
            return f"({self.condition(node.lhs)} {word} {self.condition(node.rhs)})"
        if isinstance(node, ast.Not):
            return f"NOT ({self.condition(node.sub_node)})"
        if type(node) in _COMPARISONS:
            return self.comparison(node)
        handler = {ast.Between: self.between, ast.Like: self.like, ast.In: self.in_list,
                   ast.IsNull: self.is_null, ast.GeometryIntersects: self.intersects}.get(type(node))
        if handler is None:
            raise _fail(f"{_describe(node)} is not supported; use comparisons, AND/OR/NOT, LIKE, IN, "
                        "BETWEEN, IS NULL or S_INTERSECTS")
        return handler(node)

    def field(self, node) -> FieldDef:
        """The layer field an expression names; anything else is a 400 naming it."""
        if not isinstance(node, ast.Attribute):
            raise _fail(f"expected a property name, got {_describe(node)}")
        if node.name in GEOMETRY_NAMES:
            raise _fail(f"'{node.name}' is the geometry: use S_INTERSECTS")
        if not self.layer.has_field(node.name):
            raise _fail(f"unknown property '{node.name[:100]}'; queryables of {self.layer.name}: "
                        f"{', '.join(self.layer.field_names)}")
        return self.layer.field(node.name)

    def literal(self, field: FieldDef, value):
        """A literal in the field's type, to be bound; a mismatch is a 400."""
        if field.type == "text" and isinstance(value, str):
            return check_text(value, P)
        if field.type in ("integer", "real") and isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise _fail(f"'{field.name}' must be compared with a finite number")
            return float(value) if isinstance(value, int) and abs(value) >= 2**63 else value
        if field.type == "date" and type(value) is dt.date:
            return value.isoformat()
        if field.type == "date" and isinstance(value, str):
            try:
                return dt.date.fromisoformat(value).isoformat()
            except ValueError:
                pass
        kinds = {"text": "a string", "integer": "a number", "real": "a number",
                 "date": "DATE('YYYY-MM-DD')"}
        raise _fail(f"'{field.name}' is {field.type}: compare it with {kinds[field.type]}, "
                    f"not {_describe(value)}")

    def comparison(self, node) -> str:
        op, lhs, rhs = _COMPARISONS[type(node)], node.lhs, node.rhs
        if not isinstance(lhs, ast.Attribute) and isinstance(rhs, ast.Attribute):
            op, lhs, rhs = _MIRRORED[op], rhs, lhs  # 5 < households reads as households > 5
        field = self.field(lhs)
        return f"{quote_ident(field.name)} {op} {self.bind(self.literal(field, rhs))}"

    def between(self, node) -> str:
        field = self.field(node.lhs)
        low, high = self.literal(field, node.low), self.literal(field, node.high)
        return f"{quote_ident(field.name)} {'NOT ' if node.not_ else ''}BETWEEN {self.bind(low)} AND {self.bind(high)}"

    def like(self, node) -> str:
        field = self.field(node.lhs)
        if field.type != "text" or not isinstance(node.pattern, str):
            raise _fail(f"LIKE compares a text property with a string pattern ('{field.name}')")
        pattern = check_text(node.pattern, P)
        column = quote_ident(field.name)
        negation = "NOT " if node.not_ else ""
        if self.p == "?":
            # SQLite's LIKE ignores case for ASCII while PostgreSQL's does not; GLOB is
            # case-sensitive, so both engines answer alike.
            return f"{column} {negation}GLOB {self.bind(_like_to_glob(pattern))}"
        return f"{column} {negation}LIKE {self.bind(pattern)} ESCAPE '\\'"

    def in_list(self, node) -> str:
        field = self.field(node.lhs)
        if not isinstance(node.sub_nodes, list):
            raise _fail("IN needs a list of values")
        if not node.sub_nodes:
            return "1 = 1" if node.not_ else "1 = 0"
        marks = ", ".join(self.bind(self.literal(field, v)) for v in node.sub_nodes)
        return f"{quote_ident(field.name)} {'NOT ' if node.not_ else ''}IN ({marks})"

    def is_null(self, node) -> str:
        field = self.field(node.lhs)
        return f"{quote_ident(field.name)} IS {'NOT ' if node.not_ else ''}NULL"

    def intersects(self, node) -> str:
        lhs, rhs = node.lhs, node.rhs
        if not _is_geometry_attribute(lhs):
            lhs, rhs = rhs, lhs
        if not _is_geometry_attribute(lhs):
            raise _fail(f"S_INTERSECTS needs the geometry property ({' or '.join(GEOMETRY_NAMES)}) "
                        "and a geometry literal")
        geometry = to_crs84(_shape(rhs), self.crs, P)
        if geometry.is_empty:
            return "1 = 0"
        # An invalid ring (bow-tie) would make GEOS raise inside the engine: repair it first.
        clause, params = self.store._intersects_clause(self.layer, shapely.make_valid(geometry))
        self.params.extend(params)
        return f"({clause})"


def _is_geometry_attribute(node) -> bool:
    return isinstance(node, ast.Attribute) and node.name in GEOMETRY_NAMES


def _shape(value):
    """A geometry literal (GeoJSON from either language, or a BBOX) as a shapely geometry."""
    try:
        if isinstance(value, _BBox):
            if len(value.numbers) != 4:
                raise ValueError("BBOX takes four numbers")
            return shapely.box(*value.numbers)
        if isinstance(value, values.Envelope):  # cql2-json {"bbox": [minx, miny, maxx, maxy]}
            return shapely.box(value.x1, value.x2, value.y1, value.y2)
        if isinstance(value, values.Geometry):
            geom = shapely.geometry.shape(value.geometry)
            if not all(math.isfinite(v) for v in shapely.get_coordinates(geom).ravel()):
                raise ValueError("coordinates must be finite numbers")
            return geom
    except Exception as exc:  # noqa: BLE001 - a malformed literal from the client is a 400
        raise _fail(f"not a valid geometry: {str(exc)[:200]}") from None
    raise _fail(f"S_INTERSECTS needs a geometry literal, got {_describe(value)}")


def _like_to_glob(pattern: str) -> str:
    """A CQL2 LIKE pattern (% any, _ one, backslash escapes) as the equivalent SQLite GLOB."""
    out, chars = [], iter(pattern)
    for c in chars:
        if c == "\\":
            c = next(chars, "\\")
            out.append({"*": "[*]", "?": "[?]", "[": "[[]"}.get(c, c))
        elif c == "%":
            out.append("*")
        elif c == "_":
            out.append("?")
        else:
            out.append({"*": "[*]", "?": "[?]", "[": "[[]"}.get(c, c))
    return "".join(out)


def _describe(node) -> str:
    """A short name for a piece of filter, for messages."""
    if isinstance(node, ast.Attribute):
        return f"property '{node.name[:100]}'"
    if isinstance(node, ast.Function):
        return f"function {node.name[:50]}()"
    if isinstance(node, ast.Node):
        return type(node).__name__
    if isinstance(node, str):
        return f"string {node[:50]!r}"
    return f"{type(node).__name__} {str(node)[:50]}"
