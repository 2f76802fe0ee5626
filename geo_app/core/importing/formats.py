"""The file types an import takes, by suffix: light enough for a web page to name them without
loading the readers (pyogrio, pyarrow, pandas: ~80 MB a server need not hold until it imports)."""

GIS_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp", ".kml"}
TABLE_SUFFIXES = {".csv", ".xlsx"}
ARCHIVE_SUFFIXES = {".zip", ".kmz"}
FORMATS = "GeoJSON, GeoPackage, zipped Shapefile, KML/KMZ, CSV, Excel (.xlsx)"
