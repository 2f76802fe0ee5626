"""Reading an import file into columns and geometries: one dispatcher by file type.

GeoJSON, GeoPackage, Shapefile (zipped or as a .shp with its sidecars), KML/KMZ go through pyogrio
(GDAL); CSV (a WKT column or lon/lat columns) through pandas; Excel .xlsx through openpyxl. The
result keeps the source CRS as the file states it (or None) and the coordinates untouched:
converting them is the CRS module's job.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyogrio
import shapely

from ..geodesy import GCJ02_LABEL
from .archive import MB, Limits, Workspace, unpack
from .encoding import dbf_encoding, maybe_cut, mend_cut_field_names, sidecar
from .formats import ARCHIVE_SUFFIXES, FORMATS, GIS_SUFFIXES, TABLE_SUFFIXES
from .report import ImportRefused
from .tabular import read_csv, read_xlsx

_JSON_CHECK_MAX = 64 * 1024 * 1024  # parse smaller GeoJSON once with json for a line/column error
READ_BATCH = 20_000  # features per Arrow batch: a progress step, no slower than one batch
READ_AHEAD = 2  # batches GDAL may read ahead of the checks
_FIRST_FEATURE_ID = re.compile(r'"features"\s*:\s*\[\s*\{"type"\s*:\s*"Feature"\s*,\s*"id"\s*:\s*-?\d+\s*[,}]')


@dataclass
class SourceTable:
    """What a file holds: columns by header, geometries (source CRS), the CRS it states."""

    label: str
    columns: dict[str, np.ndarray]
    geometries: np.ndarray
    crs_text: str | None
    row_kind: str = "feature"  # spreadsheet rows are numbered as the user sees them
    first_row: int = 1
    notes: list = field(default_factory=list)
    # Headers whose cells are already text stripped of surrounding blanks, blank cells None (the
    # column checks skip their own per-cell strip for these).
    trimmed: frozenset = frozenset()
    # Headers that may be longer names cut short by the format (a .dbf name holds 10 bytes): the
    # field mapping also tries them as the start of a known header.
    cut_headers: frozenset = frozenset()

    count: int = field(init=False)

    def __post_init__(self):
        self.count = len(self.geometries)

    def __len__(self) -> int:
        return self.count

    def where(self, i: int) -> str:
        """How a user finds item i (0-based): "feature 12" or "row 13"."""
        return f"{self.row_kind} {i + self.first_row}"


@dataclass
class SourceBatch:
    """A part of a GIS file as it is read (see `read_source`'s `on_batch`): its columns as the
    SourceTable will hold them, the headers of trimmed text, the position of its first feature in
    the file (0-based), its geometries (source CRS), the CRS the file states and how many features
    the file holds, when GDAL knows without reading them all."""

    columns: dict[str, np.ndarray]
    trimmed: set
    offset: int
    geometries: np.ndarray
    crs_text: str | None
    total: int | None = None
    encoded: dict = field(default_factory=dict)  # header -> (codes, words) of a column of few values (`_strings`)


def read_source(path: Path, label: str, workspace: Workspace, limits: Limits, *, encoding: str | None = None,
                layer_hint: str | None = None, progress=None, on_batch=None) -> SourceTable:
    """Read the file at `path` (named `label` to the user) into a SourceTable. `progress` (the
    import's: `phase(name, total)`, `advance(done)`) hears of every batch a GIS file yields, and
    `on_batch(SourceBatch)` gets each batch (spreadsheets come whole and do not call it)."""
    suffix = path.suffix.lower()
    if path.stat().st_size > limits.max_upload:
        raise ImportRefused(f"{label}: {path.stat().st_size / MB:,.0f} MB is more than the limit of "
                            f"{limits.max_upload / MB:,.0f} MB")
    if suffix in ARCHIVE_SUFFIXES:
        path = _dataset_in(unpack(path, label, workspace, limits), label)
        suffix = path.suffix.lower()
    if suffix in TABLE_SUFFIXES:
        reader = read_csv if suffix == ".csv" else read_xlsx
        columns, geoms, crs_text, notes = reader(path, label, encoding)
        return SourceTable(label, columns, geoms, crs_text, row_kind="row", first_row=2, notes=notes)
    if suffix in GIS_SUFFIXES:
        return _read_gis(path, label, suffix, workspace, encoding, layer_hint, progress, on_batch)
    raise ImportRefused(f"{label}: unsupported file type '{suffix or '(none)'}'; supported: {FORMATS}")


def _dataset_in(files: list[Path], label: str) -> Path:
    datasets = [f for f in files if f.suffix in GIS_SUFFIXES | TABLE_SUFFIXES]
    shapefiles = [f for f in datasets if f.suffix == ".shp"]
    if len(shapefiles) == 1:  # tables beside one Shapefile are its notes (an export's fields.csv)
        datasets = shapefiles
    kml = [f for f in datasets if f.suffix == ".kml"]
    if len(kml) > 1:  # a KMZ as GDAL/QGIS write it: doc.kml only links to layers/<name>.kml
        with_placemarks = [f for f in kml if b"<Placemark" in f.read_bytes()]
        if len(with_placemarks) == 1:
            datasets = with_placemarks
    shapefile_parts = [f for f in files if f.suffix in (".dbf", ".shx")]
    if not datasets and shapefile_parts:
        raise ImportRefused(f"{label}: the archive holds a .dbf/.shx but no .shp geometry file")
    if len(datasets) != 1:
        found = ", ".join(sorted(f.suffix for f in datasets)) or "nothing importable"
        raise ImportRefused(f"{label}: the archive must hold exactly one dataset ({FORMATS}); found {found}")
    return datasets[0]


def _check_content(path: Path, label: str, suffix: str) -> None:
    """The file must be what its name says before GDAL opens it: GDAL picks its reader by content,
    so an upload named .kml that holds an OGR VRT would read files on the server (or URLs) and show
    them in the preview."""
    with open(path, "rb") as f:
        head = f.read(4096)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if suffix == ".gpkg":
        ok = head.startswith(b"SQLite format 3\x00")
    elif suffix == ".shp":
        ok = head[:4] == b"\x00\x00\x27\x0a"  # the Shapefile file code, 9994 big-endian
    elif suffix == ".kml":
        ok = text.startswith(b"<") and b"<kml" in head and b"OGRVRTDataSource" not in head
    else:  # GeoJSON
        ok = text.startswith(b"{")
    if not ok:
        raise ImportRefused(f"{label}: the content is not {suffix.lstrip('.').upper()} (check the file and its name)")


def _read_gis(path: Path, label: str, suffix: str, workspace: Workspace, encoding: str | None,
              layer_hint: str | None, progress, on_batch) -> SourceTable:
    notes, options = [], {}
    _check_content(path, label, suffix)
    if suffix == ".shp":
        if sidecar(path, ".dbf") is None:
            raise ImportRefused(f"{label}: the Shapefile has no .dbf attribute table (zip .shp, .shx, .dbf "
                                "and .prj together)")
        if encoding is None:
            encoding, how = dbf_encoding(path, label)
            notes.append(f"attribute encoding {encoding}: {how}")
        else:
            notes.append(f"attribute encoding {encoding}: declared")
        options["encoding"] = encoding
        path, mended = mend_cut_field_names(path, encoding, workspace.path / workspace.new_stem())
        if mended:
            notes.append("field name(s) cut in the middle of a character by the program that wrote the file "
                         f"(a .dbf name holds 10 bytes), read as: {', '.join(mended)}")
    elif suffix in (".geojson", ".json"):
        path, feature_ids = _utf8_geojson(path, label, workspace, encoding)
    # Feature ids that are the store's own (an export's GeoPackage primary key `id`, GeoJSON's
    # Feature `id`) come in as an `id` column, so an export imports back by id (--mode upsert-id).
    options["return_fids"] = suffix == ".gpkg" or (suffix in (".geojson", ".json") and feature_ids)
    layer = _pick_layer(path, label, layer_hint) if suffix == ".gpkg" else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # GDAL's chatter; errors still raise
            meta, columns, geoms, crs_text = _read_columns(path, layer, options, progress, suffix, on_batch)
    except Exception as exc:  # pyogrio raises several DataSource/Field/GDAL error types
        raise ImportRefused(f"{label}: cannot be read as {suffix.lstrip('.').upper()}: {_first_line(exc)}") from None
    trimmed = {name for name, values in columns.items() if values.trimmed}
    columns = {name: values.array for name, values in columns.items()}
    cut = frozenset(h for h in meta["fields"] if maybe_cut(h, options["encoding"])) if suffix == ".shp" else frozenset()
    return SourceTable(label, columns, np.asarray(geoms, dtype=object), crs_text, notes=notes,
                       trimmed=frozenset(trimmed), cut_headers=cut)


def _stated_crs(meta: dict, suffix: str, path: Path) -> str | None:
    """The CRS the file states: its own (.prj, srs), WGS84 for KML, GCJ-02 where our export says so."""
    if suffix in (".kml", ".geojson", ".json") and _says_gcj02(path):
        return GCJ02_LABEL  # the formats have no CRS but WGS 84: our GCJ-02 exports mark it
    if suffix == ".kml":
        return "EPSG:4326"  # KML is WGS84 by definition
    return meta.get("crs")


def _read_columns(path: Path, layer: str | None, options: dict, progress, suffix: str,
                  on_batch) -> tuple[dict, dict[str, "_Column"], np.ndarray, str | None]:
    """The layer through GDAL's Arrow stream: columns filled in C++, no Python object per cell
    before the text is trimmed (a 200,000-estate Shapefile is read and trimmed in half the time of
    a per-feature read). Batch by batch, so a long read shows its progress, and GDAL reads the next
    batch on another thread (it lets go of the GIL) while this one converts the last, so the
    conversion hides behind GDAL's own read."""
    # Shapefiles and GeoPackages know their count; GDAL would parse a GeoJSON or KML twice.
    count = (pyogrio.read_info(path, layer=layer, encoding=options.get("encoding"))["features"]
             if path.suffix.lower() in (".shp", ".gpkg") else -1)
    total = count if count >= 0 else None
    if progress is not None:
        progress.phase("read", total)
    with pyogrio.raw.open_arrow(path, layer=layer, use_pyarrow=True, batch_size=READ_BATCH, **options) as (meta, reader):
        crs_text = _stated_crs(meta, suffix, path)
        geometry_name = meta.get("geometry_name") or "wkb_geometry"
        fid_name = meta.get("fid_column") or "OGC_FID"
        with_fid = (options["return_fids"] and fid_name in reader.schema.names and "id" not in list(meta["fields"])
                    and (suffix != ".gpkg" or fid_name.lower() == "id"))
        # Our column name -> the stream's: the fields, and the feature id as `id` when it is ours.
        sources = {**({"id": fid_name} if with_fid else {}), **{name: name for name in meta["fields"]}}
        parts: dict[str, list[_Column]] = {name: [] for name in sources}
        geometry_parts, done = [], 0
        for batch in _read_ahead(reader):
            if geometry_name in batch.schema.names:
                geometry_parts.append(shapely.from_wkb(batch.column(geometry_name).to_numpy(zero_copy_only=False)))
            else:
                geometry_parts.append(np.full(batch.num_rows, None))
            converted = {name: _Column(*_numpy_column(batch.column(source))) for name, source in sources.items()}
            for name, column in converted.items():
                parts[name].append(column)
            if on_batch is not None:
                on_batch(SourceBatch({name: c.array for name, c in converted.items()},
                                     {name for name, c in converted.items() if c.trimmed}, done,
                                     geometry_parts[-1], crs_text, total,
                                     {name: c.encoded for name, c in converted.items() if c.encoded is not None}))
            done += batch.num_rows
            del batch  # its Arrow buffers go now: the file is never held whole twice
            if progress is not None:
                progress.advance(done)
        if not done:  # no batch at all: empty columns of the schema's types
            empty = reader.schema.empty_table()
            parts = {name: [_Column(*_numpy_column(_chunk(empty.column(source))))] for name, source in sources.items()}
    columns = {name: _Column.joined(parts.pop(name)) for name in list(parts)}  # each batch's arrays go as joined
    geoms = np.concatenate(geometry_parts) if geometry_parts else np.empty(0, dtype=object)
    return meta, columns, np.asarray(geoms, dtype=object), crs_text


@dataclass
class _Column:
    """One column's values (numpy), whether they are trimmed text (see SourceTable.trimmed) and,
    for text repeating few values, the batch's (codes, words) (see `_strings`; not kept once joined)."""

    array: np.ndarray
    trimmed: bool
    encoded: tuple[np.ndarray, np.ndarray] | None = None

    @staticmethod
    def joined(pieces: list["_Column"]) -> "_Column":
        # Batches of one column agree on the Arrow type; numpy promotes where a batch without nulls
        # kept an integer or boolean dtype and another with nulls became float (as one read would).
        array = pieces[0].array if len(pieces) == 1 else np.concatenate([p.array for p in pieces])
        return _Column(array, all(p.trimmed for p in pieces))


def _read_ahead(reader) -> Iterator[pa.RecordBatch]:
    """The reader's batches, the next ones read by a helper thread while the caller works on the
    last (at most READ_AHEAD batches ahead: a caller slower than GDAL would otherwise hold the file
    twice). The helper stops at the next batch when the caller stops early (an error), and is always
    joined before this returns: GDAL's dataset must outlive every read from it."""
    ready: queue.Queue = queue.Queue(maxsize=READ_AHEAD)
    stop = threading.Event()
    end = object()

    def pump():
        try:
            for batch in reader:
                ready.put(batch)
                if stop.is_set():
                    break
            ready.put(end)
        except BaseException as exc:  # handed to the caller, raised there
            ready.put(exc)

    helper = threading.Thread(target=pump, name="import-read", daemon=True)
    helper.start()
    try:
        while (item := ready.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while helper.is_alive():  # it may wait to hand over a batch: take them until it has stopped
            try:
                ready.get(timeout=0.05)
            except queue.Empty:
                pass
        helper.join()


def _chunk(column) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _numpy_column(values: pa.Array) -> tuple:
    """One Arrow column as the numpy array the column checks take, whether it is trimmed text, and
    its (codes, words) when it is text repeating few values (`_strings`).

    Numbers, dates and times keep their dtypes (nulls as NaN/NaT). Text is stripped and blank cells
    made None by Arrow's kernels before any Python string exists. Booleans with gaps become 1.0/0.0/
    NaN (as a per-feature read gives them); lists become Python lists.
    """
    if isinstance(values.type, pa.ExtensionType):  # arrow.json and the like: their text
        values = values.storage
    kind = values.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        stripped = pc.utf8_trim_whitespace(values)
        blank = pc.fill_null(pc.equal(stripped, ""), True)
        array, encoded = _strings(pc.if_else(blank, pa.scalar(None, kind), stripped))
        return array, True, encoded
    if pa.types.is_boolean(kind) and values.null_count:
        return pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False), False
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_struct(kind):
        return np.array(values.to_pylist() + [None], dtype=object)[:-1], False
    return values.to_numpy(zero_copy_only=False), False


_DISTINCT_SAMPLE = 1000


def _mostly_distinct(distinct: int, values: int) -> bool:
    return 10 * distinct > 8 * values


def _strings(values: pa.Array) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """Arrow text as an object array of str (None for nulls) and, for a column repeating few values
    (street office, status, dates, items), its encoding: (codes, words), each row's index into the
    distinct values, None last for the nulls. Such a column gets one str per distinct value,
    shared by its rows: building a Python object per cell was most of the read's own work, and the
    checks then check each distinct value once (`check_column`'s `encoded`)."""
    # Nearly all distinct (codes, addresses): one by one, as encoding them would be time lost. A
    # sample tells: encoding 20,000 distinct names cost as much as making their strings, while a
    # column of renovation items (a fifth of its values distinct) is read and checked 1.6x faster encoded.
    sample = values.slice(0, _DISTINCT_SAMPLE)
    if len(values) > _DISTINCT_SAMPLE and _mostly_distinct(pc.count_distinct(sample).as_py(), len(sample)):
        return values.to_numpy(zero_copy_only=False), None
    encoded = pc.dictionary_encode(values)
    if _mostly_distinct(len(encoded.dictionary), len(values)):
        return values.to_numpy(zero_copy_only=False), None
    words = np.array(encoded.dictionary.to_pylist() + [None], dtype=object)  # the last one for nulls
    codes = pc.fill_null(encoded.indices, len(encoded.dictionary)).to_numpy()
    return words[codes], (codes, words)


# Where our GCJ-02 exports say so: GeoJSON's `coordinateSystem` member, before "features"; KML's
# Document-level <ExtendedData>. Both within the file's first bytes.
_GCJ02_MARKS = (re.compile(rb'"coordinateSystem"\s*:\s*"GCJ-02"'),
                re.compile(rb'<Data name="coordinateSystem">\s*<value>GCJ-02</value>'))


def _says_gcj02(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(16384)
    return any(mark.search(head) for mark in _GCJ02_MARKS)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _utf8_geojson(path: Path, label: str, workspace: Workspace, encoding: str | None) -> tuple[Path, bool]:
    """GeoJSON must be UTF-8 (RFC 7946): refuse anything else unless an encoding is declared, in
    which case a UTF-8 copy is read; small files are parsed once for a precise syntax error.
    Returns the path to read and whether every feature has an integer `id` (GDAL numbers them
    itself otherwise; a file too large to parse here is judged by its first feature)."""
    data = path.read_bytes()
    try:
        text = data.decode(encoding or "utf-8")
    except UnicodeDecodeError as exc:
        raise ImportRefused(f"{label}: not UTF-8 text (byte {exc.start}: {data[exc.start:exc.start + 1]!r}); "
                            "GeoJSON must be UTF-8 — re-save it, or declare its encoding with --encoding") from None
    if len(data) <= _JSON_CHECK_MAX:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ImportRefused(f"{label}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
        features = document.get("features") if isinstance(document, dict) else None
        feature_ids = bool(features) and isinstance(features, list) and all(
            isinstance(f, dict) and type(f.get("id")) is int for f in features)
    else:
        feature_ids = _FIRST_FEATURE_ID.search(text[:65536]) is not None
    if encoding and encoding.replace("-", "").lower() not in ("utf8", "utf_8"):
        path = workspace.path / f"{workspace.new_stem()}.geojson"
        path.write_text(text, encoding="utf-8")
    return path, feature_ids


def _pick_layer(path: Path, label: str, hint: str | None) -> str:
    try:
        layers = [name for name, geometry_type in pyogrio.list_layers(path) if geometry_type]
    except Exception as exc:
        raise ImportRefused(f"{label}: not a readable GeoPackage: {_first_line(exc)}") from None
    if len(layers) == 1:
        return layers[0]
    if hint in layers:
        return hint
    raise ImportRefused(f"{label}: the GeoPackage holds {len(layers)} feature layers ({', '.join(layers) or 'none'}) "
                        f"and none is called '{hint}'; export the one to import")
