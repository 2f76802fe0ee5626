"""Exports of any layer, filtered as the map filters, in GeoJSON, GeoPackage, zipped Shapefile, KML,
CSV and Excel, streamed from the store in pages.

One module per format family: GeoJSON text comes from the one encoder (`core.geojson`), GeoPackage
from the store's own GeoPackage code (`gpkg`), Shapefile from pyogrio (`shapefile`), CSV and Excel
(`tables`), KML (`kml`); `source` pages the store, `naming` names the file, `job` ties them.
"""

from .job import Export, Progress
from .options import FORMATS, ExportOptions, parse_export_options
from .shapefile import shapefile_field_names

__all__ = ["Export", "ExportOptions", "FORMATS", "Progress", "parse_export_options", "shapefile_field_names"]
