"""`geo-app export`: a layer, filtered as the map filters, to a file or stdout.

    python -m geo_app export --layer estates --format gpkg --street-office 临城街道 -o out.gpkg

The filters become the same request arguments the web export takes and go through the same
parser, so the CLI and "export what I see" on the map select the same features and write the same
file. A progress line (counts, rate) is drawn on stderr when it is a terminal; a summary line
(features, bytes, time) is printed at the end either way.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .core.collector import cycle_collector_paused
from .core.export import FORMATS, Export, parse_export_options
from .errors import InvalidParameter
from .progress import ProgressBar, human_bytes


def add_parser(commands) -> None:
    """Register the `export` command on the CLI's subparsers."""
    p = commands.add_parser(
        "export", help="export a layer (GeoJSON, GeoPackage, Shapefile, KML, CSV, Excel)",
        description="Export a layer's features, filtered as on the map, to a file named for what it holds.")
    p.add_argument("--layer", default="estates", help="layer to export (default estates)")
    p.add_argument("--format", default="geojson", choices=sorted(FORMATS), help="output format (default geojson)")
    p.add_argument("-o", "--output", help="file to write; '-' for stdout; default: the descriptive name "
                                          "(e.g. estates_临城街道_2021.geojson) in the current folder; "
                                          "a Shapefile is a zip: name it *.zip (out.shp.zip)")
    p.add_argument("--street-office", action="append", help="street office name or code, by attribute as on the map "
                                                            "(repeatable)")
    p.add_argument("--within-office", metavar="CODE", help="street office code: estates inside it by geometry")
    p.add_argument("--batch", action="append", help="batch year (repeatable or comma-separated)")
    p.add_argument("--status", action="append", help="status code or label, e.g. completed or 已完工 "
                                                     "(repeatable or comma-separated)")
    p.add_argument("--item", action="append", help="renovation item code or label: estates that plan any of them")
    p.add_argument("--q", help="part of the name")
    p.add_argument("--bbox", help="minLon,minLat,maxLon,maxLat (WGS84 unless --bbox-coords gcj02)")
    p.add_argument("--bbox-coords", choices=("wgs84", "gcj02"),
                   help="coordinates --bbox is in: gcj02 for a view over Amap tiles, as the map's dialog sends it")
    p.add_argument("--ids", help="comma-separated feature ids")
    p.add_argument("--coords", default="wgs84", choices=("wgs84", "gcj02"),
                   help="output coordinates; gcj02 for Amap (高德) tools, marked in the file name")
    p.add_argument("--precision", help="decimals of a degree (default 7, about 1 cm)")
    p.add_argument("--with-bbox", action="store_true", help="GeoJSON: bbox on each feature and the collection")
    p.add_argument("--csv-geometry", default="wkt", choices=("wkt", "centroid"), help="CSV: WKT or centroid lon/lat")
    p.add_argument("--headers", default="field", choices=("field", "zh", "en"),
                   help="CSV/Excel column titles: field names (default, re-importable) or labels")


def request_args(args) -> dict:
    """The command line's options as the web export's query-string arguments."""
    joined = {name: ",".join(values) for name, values in
              (("street_office", args.street_office), ("batch", args.batch), ("status", args.status),
               ("item", args.item)) if values}
    single = {"q": args.q, "bbox": args.bbox, "bbox_coords": args.bbox_coords, "ids": args.ids,
              "within_office": args.within_office,
              "format": args.format, "coords": args.coords, "precision": args.precision,
              "with_bbox": "1" if args.with_bbox else None, "csv_geometry": args.csv_geometry,
              "headers": args.headers}
    return {**joined, **{k: v for k, v in single.items() if v is not None}}


def check_output_name(output: str, fmt: str) -> None:
    """A Shapefile export is a zip (.shp .shx .dbf .prj .cpg, fields.csv, README.txt); written under
    a `.shp` name it is a file GDAL and QGIS refuse, so such a name is refused before any work."""
    if fmt == "shp" and not output.lower().endswith(".zip"):
        raise InvalidParameter(f"a Shapefile export is a zip archive (.shp, .shx, .dbf, .prj and more): "
                               f"name it {output}.zip, which QGIS and GDAL open as it is", parameter="output")


def run_export(store, args) -> int:
    """Run the export described by parsed CLI arguments against an open store."""
    from .web.params import parse_export_filters

    to_stdout = args.output == "-"
    if args.output and not to_stdout:
        check_output_name(args.output, args.format)
    request = request_args(args)
    query, office = parse_export_filters(request)
    export = Export(store, args.layer, query, parse_export_options(request), office_code=office)
    target = sys.stdout.buffer if to_stdout else Path(args.output or export.filename)
    bar = ProgressBar(f"{args.layer} → {'stdout' if to_stdout else target}")
    t0 = time.perf_counter()
    try:
        with cycle_collector_paused():  # the process does nothing else meanwhile (core.collector)
            size = export.write_to(target, progress=bar)
    finally:
        bar.finish()
    seconds = time.perf_counter() - t0
    rate = export.written / seconds if seconds else 0
    print(f"{args.layer}: {export.written:,} features written to {'stdout' if to_stdout else target} "
          f"({human_bytes(size)}) in {seconds:.1f} s ({rate:,.0f}/s)", file=sys.stderr)
    if export.cut_values:
        print(f"note: {export.cut_values} text values were cut to the Shapefile limit of 254 bytes",
              file=sys.stderr)
    return 0
