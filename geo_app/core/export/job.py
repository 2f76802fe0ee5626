"""One export: a layer, a filter and options -> a named file, streamed in pages.

The web layer sends `Export.chunks()` as the response body; the CLI writes `Export.write_to(path)`
or the chunks to stdout. Both run this code on the same query, so the same filters give the same
bytes (text formats) and the same file name.
"""

from __future__ import annotations

import os
import tempfile
import uuid
import zipfile
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from ...errors import InvalidParameter, NotFound
from ...storage import FeatureQuery, Store
from ..collector import cycle_collector_paused
from ..geojson import stream_feature_collection
from ..spatial import office_by_code
from .gpkg import copy_geopackage, write_geopackage
from .kml import kml_chunks
from .naming import ascii_filename, export_filename
from .options import ExportOptions
from .shapefile import field_mapping_csv, write_shapefile
from .source import (PAGE_SIZE, feature_pages, geopackage_source, resolve_street_offices, street_office_codes,
                     within_office)
from .tables import EXCEL_MAX_ROWS, csv_chunks, write_xlsx

Progress = Callable[[int, int], None]  # (features done, features in all)
_READ_BLOCK = 1 << 20
_COORDINATES = {"wgs84": "WGS 84 lon/lat (EPSG:4326)",
                "gcj02": "GCJ-02 lon/lat (高德/Amap; NOT WGS 84: about 500 m off on other maps)"}


class Export:
    """An export of one layer's features matching `query` (plus, for estates, those within a street
    office by geometry: `office_code`). Counting happens at once, so a caller can show a total.
    A `street_office` filter may name an office by its code; one that matches nothing is refused."""

    def __init__(self, store: Store, layer: str, query: FeatureQuery, options: ExportOptions,
                 office_code: str | None = None, page_size: int = PAGE_SIZE):
        if layer not in store.layers:
            raise NotFound(f"unknown layer '{layer}'; layers: {', '.join(store.layers)}")
        self.store, self.layer, self.options, self.page_size = store, store.layers[layer], options, page_size
        self.office_name = None
        if office_code:
            self.office_name = _office_name(store, office_code)
        # Only a street_office filter needs the offices (its values and the ASCII file name).
        office_codes = street_office_codes(store) if query.equals.get("street_office") else {}
        query = resolve_street_offices(store, layer, query, office_codes)
        self.query = within_office(store, layer, query, office_code)
        self.total = store.count(layer, self.query)
        if options.format == "xlsx" and self.total > EXCEL_MAX_ROWS:
            raise InvalidParameter(f"{self.total:,} features do not fit in an Excel sheet "
                                   f"({EXCEL_MAX_ROWS:,} rows at most): filter further or choose csv",
                                   parameter="format")
        self.filename = export_filename(self.layer, self.query, options, self.office_name)
        self.ascii_filename = ascii_filename(self.layer, self.query, options, office_code, office_codes)
        self.written = 0  # features written so far
        self.cut_values = 0  # shapefile text values cut to 254 bytes

    @property
    def media_type(self) -> str:
        return self.options.spec.media_type

    def about(self) -> list[tuple[str, str]]:
        """What the file holds, as (key, value) lines for a README, a sheet or a description."""
        return [("layer 图层", f"{self.layer.title_zh} / {self.layer.title_en} ({self.layer.name})"),
                ("features 要素数", str(self.total)),
                ("filters 筛选", _describe(self.query, self.office_name) or "none 无"),
                ("coordinates 坐标", _COORDINATES[self.options.coords]),
                ("precision 精度", f"{self.options.precision} decimals of a degree"),
                ("file 文件", self.filename)]

    def description(self) -> str:
        return "; ".join(f"{k}: {v}" for k, v in self.about() if not k.startswith("file"))

    def _pages(self, progress: Progress | None):
        for page in feature_pages(self.store, self.layer.name, self.query, self.page_size):
            yield page
            self._advance(len(page.ids), progress)

    def _advance(self, features: int, progress: Progress | None) -> None:
        self.written += features
        if progress:
            progress(self.written, self.total)

    def chunks(self, progress: Progress | None = None) -> Iterator[bytes]:
        """The file's bytes in pieces. Text formats are encoded page by page as they are read;
        the others are written to a temporary file first, which is removed when the stream ends,
        fails or is abandoned (a client hanging up closes the generator)."""
        self.written = 0
        if self.options.spec.streams:
            yield from self._stream(self._pages(progress))
            return
        with tempfile.TemporaryDirectory(prefix="geo_app_export_") as tmp:
            path = self._write_file(Path(tmp), progress)
            with open(path, "rb") as f:
                while block := f.read(_READ_BLOCK):
                    yield block

    def write_to(self, target: Path | BinaryIO, progress: Progress | None = None) -> int:
        """Write the file to a path (atomically: complete or not at all) or a binary stream;
        returns the bytes written."""
        if not isinstance(target, (str, Path)):
            return sum(target.write(chunk) or len(chunk) for chunk in self.chunks(progress))
        target = Path(target)
        if not self.options.spec.streams:  # written beside the target, then renamed: no copy
            self.written = 0
            with tempfile.TemporaryDirectory(prefix=".geo_app_export_", dir=target.parent) as tmp:
                path = self._write_file(Path(tmp), progress)
                size = path.stat().st_size
                os.replace(path, target)
            return size
        part = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            with open(part, "wb") as f:
                size = sum(f.write(chunk) for chunk in self.chunks(progress))
            os.replace(part, target)
        finally:
            part.unlink(missing_ok=True)
        return size

    def _stream(self, pages) -> Iterator[bytes]:
        fmt = self.options.format
        if fmt == "geojson":
            pieces = stream_feature_collection(
                ((p.ids, [dict(zip(p.names, values)) for values in zip(*p.columns)], p.geometries) for p in pages),
                precision=self.options.precision, coords=self.options.coords, with_bbox=self.options.with_bbox,
                name=self.layer.name)
            return (piece.encode("utf-8") for piece in pieces)
        if fmt == "csv":
            return csv_chunks(pages, self.layer, self.options)
        return kml_chunks(pages, self.layer, self.options, self.description())

    def _write_file(self, directory: Path, progress: Progress | None) -> Path:
        # Building the file takes as long as the data does, not as a client reads it: bounded work
        # for which the cycle collector may pause (core.collector).
        with cycle_collector_paused():
            return self._build_file(directory, progress)

    def _build_file(self, directory: Path, progress: Progress | None) -> Path:
        fmt = self.options.format
        pages = self._pages(progress)
        if fmt == "gpkg":
            path = directory / f"{self.layer.name}.gpkg"
            source = geopackage_source(self.store, self.layer.name, self.query)
            if source is None:
                write_geopackage(pages, self.layer, self.options, path, self.description())
            else:  # a GeoPackage store: its attribute columns are copied by SQLite itself
                copy_geopackage(source.path, source.ids, self.layer, self.options, path, self.description(),
                                on_page=lambda n: self._advance(n, progress), page_size=self.page_size)
            return path
        if fmt == "xlsx":
            path = directory / f"{self.layer.name}.xlsx"
            write_xlsx(pages, self.layer, self.options, path, self.about())
            return path
        return self._zipped_shapefile(directory, pages)

    def _zipped_shapefile(self, directory: Path, pages) -> Path:
        folder = directory / "shp"
        folder.mkdir()
        self.cut_values = write_shapefile(pages, self.layer, self.options, folder / f"{self.layer.name}.shp")
        readme = "\r\n".join([*(f"{k}: {v}" for k, v in self.about()),
                              "fields.csv: the 10-character shapefile field names and the fields they hold "
                              "(字段名对照)",
                              "encoding 编码: UTF-8 (see the .cpg file)",
                              f"text values cut to 254 bytes 截断的文本: {self.cut_values}", ""])
        path = directory / "export.zip"
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            for member in sorted(folder.iterdir()):
                archive.write(member, member.name)
            archive.writestr("fields.csv", field_mapping_csv(self.layer).encode("utf-8"))
            archive.writestr("README.txt", readme.encode("utf-8"))
        return path


def _office_name(store: Store, code: str) -> str:
    return office_by_code(store, code).properties["name"]


def _describe(query: FeatureQuery, office_name: str | None) -> str:
    parts = [f"within street office 街道范围 {office_name} (by geometry)"] if office_name else []
    parts += [f"{name} = {', '.join(map(str, values))}" for name, values in query.equals.items()]
    parts += [f"{name} has any of {', '.join(values)}" for name, values in query.contains.items()]
    parts += [f"{name} contains {text!r}" for name, text in query.text.items()]
    if query.bbox:
        parts.append("bbox " + ",".join(f"{v:g}" for v in query.bbox))
    if query.ids is not None and not office_name:
        parts.append(f"ids ({len(query.ids)})")
    return "; ".join(parts)

