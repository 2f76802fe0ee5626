"""File names that say what is inside: layer, filters, coordinate system.

`estates_临城街道_2021_已完工.geojson`, `estates_2021_gcj02.gpkg`: the same filters give the same
name from the web and the CLI. Vocabulary codes are named by their Chinese labels, the language
the data and its users share; characters no file system accepts become `-`.
"""

from __future__ import annotations

import re

from ...domain import VOCABULARIES
from ...layers import LayerDef
from ...storage import FeatureQuery
from .options import ExportOptions

_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f\s]+')
_PART_MAX = 40  # characters per filter value list, so one long filter cannot crowd out the rest
_STEM_MAX = 120  # well under the 255 bytes most file systems allow, in UTF-8 Chinese too


def export_filename(layer: LayerDef, query: FeatureQuery, options: ExportOptions, office_name: str | None = None) -> str:
    """The download's name: `<layer>[_<filter>…][_gcj02].<extension>`."""
    parts = [layer.name]
    if office_name:
        parts.append(f"{office_name}范围")  # by geometry: "within the office's area"
    for f in layer.fields:  # in the layer's field order, whatever order the filters came in
        if f.name in query.equals:
            parts.append(_values(layer, f.name, query.equals[f.name]))
        if f.name in query.contains:
            parts.append(_values(layer, f.name, query.contains[f.name]))
        if f.name in query.text:
            parts.append(f"含{query.text[f.name]}")
    if query.bbox:
        parts.append("bbox")
    if query.ids is not None and not office_name:
        parts.append(f"{len(query.ids)}ids")
    if options.coords != "wgs84":
        parts.append(options.coords)
    stem = "_".join(filter(None, (_safe(p)[:_PART_MAX] for p in parts)))[:_STEM_MAX].rstrip("_-.")
    return f"{stem}.{options.spec.extension}"


def _values(layer: LayerDef, name: str, values) -> str:
    vocabulary = VOCABULARIES.get(layer.field(name).vocabulary or "")
    labels = [vocabulary.label(str(v)) if vocabulary else str(v) for v in values]
    return "+".join(labels)


def _safe(text: str) -> str:
    return _UNSAFE.sub("-", text).strip("-.")
