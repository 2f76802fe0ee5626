"""KML 2.2 export, streamed: a typed `Schema`, one `Placemark` per feature with `SchemaData`.

This is the structure GDAL's KML driver writes and reads back as typed fields. It is written here
rather than through pyogrio because GDAL's KML driver cannot append: pages could not be written
one after another, and a single write would hold every feature in memory. KML is always WGS84
lon/lat (a GCJ-02 export says so in the document's description and its file name).
"""

from __future__ import annotations

import re
from typing import Iterable, Iterator
from xml.sax.saxutils import escape, quoteattr

import shapely

from ...layers import LayerDef
from ...storage import FeatureRows
from ..geojson import prepare_geometries
from .options import ExportOptions

_KML_TYPES = {"text": "string", "integer": "int", "real": "double", "date": "string"}
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # control characters XML 1.0 forbids


def _text(value) -> str:
    text = str(value)
    if text and min(text) < " ":
        text = _XML_ILLEGAL.sub("", text)
    return escape(text)


def kml_chunks(pages: Iterable[FeatureRows], layer: LayerDef, options: ExportOptions, description: str) -> Iterator[bytes]:
    """The KML document as UTF-8 byte chunks, one per page."""
    schema_id = layer.name
    # As GDAL's LIBKML driver maps them, read and written: the `name` field is the Placemark's
    # <name> and the feature id its `id` attribute; every other field goes in typed SchemaData.
    names = [n for n in layer.field_names if n != "name"]
    fields = "".join(f'<SimpleField name={quoteattr(f.name)} type="{_KML_TYPES[f.type]}"><displayName>'
                     f"{_text(f.label_zh)}</displayName></SimpleField>" for f in layer.fields if f.name != "name")
    yield ('<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">\n<Document>'
           f"<name>{_text(layer.name)}</name><description>{_text(description)}</description>\n"
           # KML is WGS 84 by definition: a GCJ-02 file says otherwise where an import looks.
           + ('<ExtendedData><Data name="coordinateSystem"><value>GCJ-02</value></Data></ExtendedData>\n'
              if options.coords == "gcj02" else "") +
           f"<Schema name={quoteattr(schema_id)} id={quoteattr(schema_id)}>{fields}</Schema>\n"
           f"<Folder><name>{_text(layer.name)}</name>\n").encode("utf-8")
    columns = dict(zip(layer.field_names, range(len(layer.field_names))))
    for page in pages:
        geoms = prepare_geometries(page.geometries, options.precision, options.coords)
        values = [page.columns[columns[n]] for n in names]
        labels = page.columns[columns["name"]] if "name" in columns else [None] * len(page.ids)
        out = []
        for feature_id, label, row, geom in zip(page.ids, labels, zip(*values) if values else [()] * len(page.ids),
                                                 geoms):
            data = "".join(f'<SimpleData name="{n}">{_text(v)}</SimpleData>' for n, v in zip(names, row)
                           if v is not None)
            name = "" if label is None else f"<name>{_text(label)}</name>"
            out.append(f'<Placemark id="{feature_id}">{name}<ExtendedData><SchemaData schemaUrl="#{schema_id}">'
                       f"{data}</SchemaData></ExtendedData>{_geometry(geom)}</Placemark>\n")
        yield "".join(out).encode("utf-8")
    yield b"</Folder>\n</Document>\n</kml>\n"


def _coordinates(ring) -> str:
    return " ".join(f"{x!r},{y!r}" for x, y in shapely.get_coordinates(ring).tolist())


def _polygon(polygon) -> str:
    inner = "".join(f"<innerBoundaryIs><LinearRing><coordinates>{_coordinates(r)}</coordinates></LinearRing>"
                    "</innerBoundaryIs>" for r in polygon.interiors)
    return (f"<Polygon><outerBoundaryIs><LinearRing><coordinates>{_coordinates(polygon.exterior)}</coordinates>"
            f"</LinearRing></outerBoundaryIs>{inner}</Polygon>")


def _geometry(geom) -> str:
    if geom is None or geom.is_empty:
        return ""
    kind = geom.geom_type
    if kind == "Point":
        return f"<Point><coordinates>{geom.x!r},{geom.y!r}</coordinates></Point>"
    if kind == "Polygon":
        return _polygon(geom)
    if kind == "MultiPolygon":
        return "<MultiGeometry>" + "".join(_polygon(p) for p in geom.geoms) + "</MultiGeometry>"
    if kind == "LineString":
        return f"<LineString><coordinates>{_coordinates(geom)}</coordinates></LineString>"
    return "<MultiGeometry>" + "".join(_geometry(g) for g in shapely.get_parts(geom)) + "</MultiGeometry>"
