"""Layer definitions: `layers/*.toml` loaded into typed objects.

A layer definition is data: its fields (name, type, constraints, labels), geometry type, the demo
source file and its map style. Both storage backends build their tables from it and every feature
written is checked against it, so adding a layer is a new TOML file, not new Python.
"""

from __future__ import annotations

import functools

import datetime as dt
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .domain import VOCABULARIES
from .errors import ConfigError, ValidationError

FIELD_TYPES = ("text", "integer", "real", "date")
# Roles a layer's `read_role` may name (the same ladder as geo_app/core/accounts.py ROLES).
READ_ROLES = ("viewer", "inspector", "planner", "admin")
GEOMETRY_TYPES = ("Point", "MultiPolygon")
# Columns every layer table has beside its fields (the store's, never typed in).
RESERVED_COLUMNS = ("id", "geom", "version")
# What an integer field can hold in every store: a 4-byte integer (PostgreSQL's `integer`).
INTEGER_RANGE = (-2**31, 2**31 - 1)


@dataclass(frozen=True)
class FieldDef:
    """One attribute column of a layer."""

    name: str
    type: str
    label_zh: str
    label_en: str
    required: bool = False
    unique: bool = False
    vocabulary: str | None = None
    multiple: bool = False  # comma-separated list of vocabulary codes
    min: float | None = None
    max: float | None = None
    computed: str | None = None  # e.g. "geodesic_area": filled by the store, never typed in
    index: bool = False  # a b-tree index for the filters users apply most

    def label(self, locale: str = "zh") -> str:
        """The column's label for a user in that locale."""
        return self.label_en if locale == "en" else self.label_zh

    def limits(self) -> tuple[float | None, float | None]:
        """The least and greatest value a number field takes (None: unbounded): its min and max,
        within INTEGER_RANGE for an integer field."""
        if self.type != "integer":
            return self.min, self.max
        low, high = INTEGER_RANGE
        return (low if self.min is None else max(self.min, low)), (high if self.max is None else min(self.max, high))

    def span(self) -> str:
        """`limits` as users read them: "0…100", "-∞…100"."""
        low, high = self.limits()
        return f"{'-∞' if low is None else low}…{'∞' if high is None else high}"


@dataclass(frozen=True)
class LayerDef:
    """A layer: its table schema, demo source and style."""

    name: str
    title_zh: str
    title_en: str
    geometry_type: str
    fields: tuple[FieldDef, ...]
    source: Path | None = None
    illustrative: bool = False
    order: int = 0
    label_field: str | None = None
    style: dict = field(default_factory=dict)
    # Records about people (who inspected what) are for signed-in users only, whatever the
    # anonymous-viewing switch says: their features need this role or above.
    read_role: str | None = None

    def title(self, locale: str = "zh") -> str:
        """The layer's title for a user in that locale."""
        return self.title_en if locale == "en" else self.title_zh

    @functools.cached_property  # read for every row of every query
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> FieldDef:
        """The field of that name; KeyError when the layer has none."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def has_field(self, name: str) -> bool:
        return any(f.name == name for f in self.fields)

    def clean(self, properties: dict, where: str) -> dict:
        """Check and normalise one feature's properties against the schema.

        Returns a dict with exactly the layer's fields (computed ones left None for the store).
        Raises ValidationError naming `where` (e.g. "estates feature 12") and the field.
        """
        unknown = set(properties) - set(self.field_names)
        if unknown:
            raise ValidationError(f"{where}: unknown field(s) {', '.join(sorted(unknown))} "
                                  f"for layer '{self.name}'")
        return {f.name: _clean_value(f, properties.get(f.name), where) for f in self.fields}


def _clean_value(f: FieldDef, value, where: str):
    if f.computed:
        return None
    if value is None or (isinstance(value, str) and not value.strip()) or (
            isinstance(value, float) and math.isnan(value)):
        if f.required:
            raise ValidationError(f"{where}: field '{f.name}' is required")
        return None
    try:
        value = _convert(f, value)
    except (TypeError, ValueError):
        raise ValidationError(f"{where}: field '{f.name}' must be {f.type}, got {value!r}") from None
    if f.type in ("integer", "real"):
        low, high = f.limits()
        if low is not None and value < low or high is not None and value > high:
            raise ValidationError(f"{where}: field '{f.name}' = {value} is outside {f.span()}")
    if f.vocabulary:
        vocabulary = VOCABULARIES[f.vocabulary]
        codes = value.split(",") if f.multiple else [value]
        bad = [c for c in codes if c not in vocabulary]
        if bad:
            raise ValidationError(f"{where}: field '{f.name}' has unknown {f.vocabulary} code(s) "
                                  f"{', '.join(bad)}; allowed: {', '.join(vocabulary.codes())}")
    return value


def _convert(f: FieldDef, value):
    if f.type == "text":
        if f.multiple and isinstance(value, (list, tuple)):
            return ",".join(str(v).strip() for v in value)
        if isinstance(value, (bool, dict, list, tuple, set)):  # not text: never stored as its Python repr
            raise TypeError
        return str(value).strip()
    if f.type == "integer":
        if isinstance(value, bool):
            raise TypeError
        number = float(value)
        if not number.is_integer():
            raise ValueError
        return int(number)
    if f.type == "real":
        if isinstance(value, bool):
            raise TypeError
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            raise ValueError
        return number
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return dt.date.fromisoformat(str(value)[:10]).isoformat()


def load_layers(layers_dir: Path) -> dict[str, LayerDef]:
    """Every `*.toml` layer definition in the folder, keyed by layer name, in drawing order."""
    layers = [load_layer(path) for path in sorted(Path(layers_dir).glob("*.toml"))]
    if not layers:
        raise ConfigError(f"no layer definitions (*.toml) in {layers_dir}")
    return {layer.name: layer for layer in sorted(layers, key=lambda layer: (layer.order, layer.name))}


def load_layer(path: Path) -> LayerDef:
    """One layer definition; errors name the file and the offending key."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        fields = tuple(_field_def(path, i, item) for i, item in enumerate(raw["fields"], 1))
        layer = LayerDef(
            name=raw["name"],
            title_zh=raw["title"]["zh"],
            title_en=raw["title"]["en"],
            geometry_type=raw["geometry_type"],
            fields=fields,
            source=path.parent / raw["source"] if raw.get("source") else None,
            illustrative=bool(raw.get("illustrative", False)),
            order=int(raw.get("order", 0)),
            label_field=raw.get("label_field"),
            style=dict(raw.get("style", {})),
            read_role=raw.get("read_role"),
        )
    except KeyError as exc:
        raise ConfigError(f"{path}: missing key {exc}") from None
    if layer.geometry_type not in GEOMETRY_TYPES:
        raise ConfigError(f"{path}: geometry_type must be one of {', '.join(GEOMETRY_TYPES)}")
    if layer.read_role is not None and layer.read_role not in READ_ROLES:
        raise ConfigError(f"{path}: read_role must be one of {', '.join(READ_ROLES)}")
    if not layer.name.isidentifier() or layer.name.startswith("gpkg"):
        raise ConfigError(f"{path}: layer name {layer.name!r} must be a plain identifier")
    return layer


def _field_def(path: Path, index: int, item: dict) -> FieldDef:
    where = f"{path}: field #{index} ({item.get('name', '?')})"
    if item.get("type") not in FIELD_TYPES:
        raise ConfigError(f"{where}: type must be one of {', '.join(FIELD_TYPES)}")
    if not str(item.get("name", "")).isidentifier() or item["name"] in RESERVED_COLUMNS:
        raise ConfigError(f"{where}: name must be a plain identifier other than {'/'.join(RESERVED_COLUMNS)}")
    if item.get("vocabulary") and item["vocabulary"] not in VOCABULARIES:
        raise ConfigError(f"{where}: unknown vocabulary {item['vocabulary']!r}")
    return FieldDef(
        name=item["name"],
        type=item["type"],
        label_zh=item["label"]["zh"],
        label_en=item["label"]["en"],
        required=bool(item.get("required", False)),
        unique=bool(item.get("unique", False)),
        vocabulary=item.get("vocabulary"),
        multiple=bool(item.get("multiple", False)),
        min=item.get("min"),
        max=item.get("max"),
        computed=item.get("computed"),
        index=bool(item.get("index", False)),
    )
