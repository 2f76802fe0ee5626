"""Zipped Shapefile export through pyogrio (GDAL), with the field-name mapping shipped in the zip.

dBASE field names hold at most 10 characters, so `street_office` cannot survive as it is. The
mapping is deterministic and documented (see `shapefile_field_names`), and the zip carries it as
`fields.csv` (short name, field, type, Chinese and English labels), so an import maps the columns
back and a person can read what `inv_distri` was. Text is UTF-8 with a `.cpg` saying so; dBASE
text fields hold at most 254 bytes, so longer values are cut at a character boundary and counted.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterable

import numpy as np
import shapely

from ...layers import LayerDef
from ...storage import FeatureRows
from ..geodesy import GCJ02_WKT
from ..geojson import prepare_geometries
from .options import ExportOptions

MAX_NAME = 10
MAX_TEXT_BYTES = 254
_NUMPY = {"integer": np.int64, "real": np.float64}


def shapefile_field_names(layer: LayerDef) -> dict[str, str]:
    """Field -> dBASE name, for `id` and each field in the layer's order.

    A name of 10 characters or fewer is kept. A longer one is cut to its first 10. When that clashes
    (case-insensitively, as dBASE compares) with a name already given, it becomes the first
    10 - 1 - k characters, `_` and the smallest number n = 1, 2, … (k digits) that is free.
    """
    mapping, taken = {}, set()
    for name in ["id", *layer.field_names]:
        short = name[:MAX_NAME]
        n = 0
        while short.upper() in taken:
            n += 1
            short = f"{name[:MAX_NAME - 1 - len(str(n))]}_{n}"
        mapping[name] = short
        taken.add(short.upper())
    return mapping


def field_mapping_csv(layer: LayerDef) -> str:
    """The mapping as CSV text (UTF-8 with BOM, for Excel): shapefile_field, field, type, labels."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["shapefile_field", "field", "type", "label_zh", "label_en"])
    mapping = shapefile_field_names(layer)
    writer.writerow([mapping["id"], "id", "integer", "编号（系统）", "Feature id"])
    for f in layer.fields:
        writer.writerow([mapping[f.name], f.name, f.type, f.label_zh, f.label_en])
    return "\ufeff" + out.getvalue()


def write_shapefile(pages: Iterable[FeatureRows], layer: LayerDef, options: ExportOptions, path: Path) -> int:
    """Write the pages to `path` (…/<layer>.shp and its sidecars); returns how many text values
    were cut to dBASE's 254 bytes."""
    import pyogrio.raw  # here, not at the top: it brings in pandas, ~0.5 s and ~40 MB other exports skip

    mapping = shapefile_field_names(layer)
    fields = [mapping[n] for n in ["id", *layer.field_names]]
    crs = GCJ02_WKT if options.coords == "gcj02" else "EPSG:4326"  # the .prj says which
    cut, first = 0, True
    for page in pages:
        geoms = prepare_geometries(page.geometries, options.precision, options.coords)
        data, masks = [np.asarray(page.ids, dtype=np.int64)], [None]
        for f, values in zip(layer.fields, page.columns):
            array, mask, n = _column(f.type, values)
            data.append(array)
            masks.append(mask)
            cut += n
        # Layer creation options only on the first write; the rest append to it.
        pyogrio.raw.write(str(path), shapely.to_wkb(geoms), data, fields, field_mask=masks, layer=path.stem,
                          driver="ESRI Shapefile", geometry_type=layer.geometry_type, crs=crs,
                          encoding="UTF-8", append=not first)
        first = False
    if first:  # nothing matched: still a valid, empty shapefile with the layer's fields
        empty = [np.array([], dtype=np.int64), *(_column(f.type, [])[0] for f in layer.fields)]
        pyogrio.raw.write(str(path), np.array([], dtype=object), empty, fields, layer=path.stem,
                          driver="ESRI Shapefile", geometry_type=layer.geometry_type, crs=crs,
                          encoding="UTF-8")
    return cut


def _column(kind: str, values: list) -> tuple[np.ndarray, np.ndarray | None, int]:
    """(values as a typed array, null mask or None, text values cut) for one field of a page."""
    mask = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
    if kind in _NUMPY:
        array = np.array([0 if v is None else v for v in values], dtype=_NUMPY[kind])
        return array, (mask if mask.any() else None), 0
    if kind == "date":
        return np.array(["NaT" if v is None else v for v in values], dtype="datetime64[D]"), None, 0
    texts = np.empty(len(values), dtype=object)
    texts[:] = values
    cut = 0
    # Only a value of more than 254 / 3 characters can exceed 254 bytes in UTF-8.
    for i in [i for i, v in enumerate(values) if v is not None and len(v) > MAX_TEXT_BYTES // 3]:
        encoded = values[i].encode("utf-8")
        if len(encoded) > MAX_TEXT_BYTES:
            texts[i] = encoded[:MAX_TEXT_BYTES].decode("utf-8", "ignore")
            cut += 1
    return texts, None, cut
