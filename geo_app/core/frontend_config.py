"""What the pages' scripts and templates need to present data: labels, vocabularies, display rows.

Framework-neutral: the web layer adds URLs and UI strings. Values stay raw here; escaping is the
template's (autoescape) or the script's (textContent) job.
"""

from __future__ import annotations

from ..domain import FUNDING_SOURCES, MANAGEMENT_MODES, RENOVATION_ITEMS, RENOVATION_STATUS, VOCABULARIES
from ..layers import LayerDef
from ..storage import FeatureQuery, Store


def labels(locale: str) -> dict:
    """Vocabularies with labels (and status colours) in the locale, plus estate field labels."""
    return {
        "statuses": [{"code": t.code, "label": t.label(locale), "color": t.color} for t in RENOVATION_STATUS],
        "items": [{"code": t.code, "label": t.label(locale)} for t in RENOVATION_ITEMS],
        "management": {t.code: t.label(locale) for t in MANAGEMENT_MODES},
        "funding": [{"code": t.code, "label": t.label(locale)} for t in FUNDING_SOURCES],
    }


def planner_config(store: Store, locale: str, as_of: str, urls: dict) -> dict:
    """The planner map script's configuration: URLs, vocabularies, offices, batch years, field labels."""
    estates = store.layers["estates"]
    offices = store.features("street_offices", FeatureQuery(with_geometry=False))
    batches = store.aggregate("estates", ["batch"], [])
    return {
        "urls": urls,
        "locale": locale,
        "asOf": as_of,
        "labels": labels(locale),
        "fields": {f.name: f.label(locale) for f in estates.fields},
        "offices": [{"code": f.properties["code"], "name": f.properties["name"]} for f in offices],
        "batches": [r["batch"] for r in batches if r["batch"] is not None],
    }


def display_value(layer: LayerDef, name: str, value, locale: str) -> str:
    """A property as a person reads it: vocabulary labels, thousands separators, units kept out."""
    if value is None or value == "":
        return "—"
    field = layer.field(name)
    if field.vocabulary:
        vocabulary = VOCABULARIES[field.vocabulary]
        codes = str(value).split(",") if field.multiple else [value]
        return "、".join(vocabulary.label(c, locale) for c in codes) if locale == "zh" else \
            ", ".join(vocabulary.label(c, locale) for c in codes)
    if field.type == "integer" and name != "batch" and name != "year_built":
        return f"{int(value):,}"
    if field.type == "real":
        return f"{float(value):,.1f}"
    return str(value)


def attribute_rows(layer: LayerDef, properties: dict, locale: str) -> list[tuple[str, str]]:
    """(label, display value) for every field of a feature, in the layer's field order."""
    return [(f.label(locale), display_value(layer, f.name, properties.get(f.name), locale)) for f in layer.fields]


def item_rows(properties: dict, locale: str) -> list[dict]:
    """Every renovation item with whether the estate plans it and whether it is done."""
    planned = set(filter(None, (properties.get("items_planned") or "").split(",")))
    done = set(filter(None, (properties.get("items_done") or "").split(",")))
    return [{"code": t.code, "label": t.label(locale), "planned": t.code in planned, "done": t.code in done}
            for t in RENOVATION_ITEMS]
