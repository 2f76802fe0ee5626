"""File names that say what is inside: layer, filters, coordinate system.

`estates_临城街道_2021_已完工.geojson`, `estates_2021_gcj02.gpkg`: the same filters give the same
name from the web and the CLI. Vocabulary codes are named by their Chinese labels, the language
the data and its users share; characters no file system accepts become `-`. For clients that cannot
read a UTF-8 name there is an ASCII one built from the same filters' codes
(`estates_lincheng_2021_completed.geojson`).
"""

from __future__ import annotations

import re

from ...domain import VOCABULARIES
from ...layers import LayerDef
from ...storage import FeatureQuery
from .options import ExportOptions

_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f\s]+')
_NOT_ASCII = re.compile(r"[^A-Za-z0-9_+-]+")
_PART_MAX = 40  # characters per filter value list, so one long filter cannot crowd out the rest
_STEM_MAX = 120  # well under the 255 bytes most file systems allow, in UTF-8 Chinese too


def export_filename(layer: LayerDef, query: FeatureQuery, options: ExportOptions, office_name: str | None = None) -> str:
    """The download's name: `<layer>[_<filter>…][_gcj02].<extension>`."""
    parts = _parts(layer, query, options, f"{office_name}范围" if office_name else None,  # "within the office's area"
                   lambda name, values: _labels(layer, name, values), lambda text: f"含{text}")
    return _joined(parts, _UNSAFE, options)


def ascii_filename(layer: LayerDef, query: FeatureQuery, options: ExportOptions, office_code: str | None = None,
                   office_codes: dict[str, str] | None = None) -> str:
    """The same name in ASCII for the `filename=` fallback of old clients, from codes instead of
    labels: street offices by their codes (`office_codes`: name -> code), vocabulary codes, batch
    years (`estates_lincheng_2021.geojson`); a value with no ASCII form (free text) is left out."""
    def values(name: str, found) -> str:
        if name == "street_office":
            found = [(office_codes or {}).get(v, v) for v in found]
        return "+".join(filter(None, (_safe(str(v), _NOT_ASCII) for v in found)))

    parts = _parts(layer, query, options, f"within-{office_code}" if office_code else None, values,
                   lambda text: f"q-{_safe(text, _NOT_ASCII)}" if _safe(text, _NOT_ASCII) else "q")
    return _joined(parts, _NOT_ASCII, options)


def _parts(layer: LayerDef, query: FeatureQuery, options: ExportOptions, within: str | None, values, text) -> list[str]:
    parts = [layer.name, within]
    for f in layer.fields:  # in the layer's field order, whatever order the filters came in
        if f.name in query.equals:
            parts.append(values(f.name, query.equals[f.name]))
        if f.name in query.contains:
            parts.append(values(f.name, query.contains[f.name]))
        if f.name in query.text:
            parts.append(text(query.text[f.name]))
    if query.bbox:
        parts.append("bbox")
    if query.ids is not None and not within:
        parts.append(f"{len(query.ids)}ids")
    if options.coords != "wgs84":
        parts.append(options.coords)
    return parts


def _joined(parts: list[str | None], unsafe: re.Pattern, options: ExportOptions) -> str:
    stem = "_".join(filter(None, (_safe(p or "", unsafe)[:_PART_MAX] for p in parts)))[:_STEM_MAX].rstrip("_-.")
    return f"{stem}.{options.spec.extension}"


def _labels(layer: LayerDef, name: str, values) -> str:
    vocabulary = VOCABULARIES.get(layer.field(name).vocabulary or "")
    labels = [vocabulary.label(str(v)) if vocabulary else str(v) for v in values]
    return "+".join(labels)


def _safe(text: str, unsafe: re.Pattern = _UNSAFE) -> str:
    return unsafe.sub("-", text).strip("-.")
