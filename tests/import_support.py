"""Writing import test files the way other tools write them (GDAL via geopandas/pyogrio, openpyxl),
and snapshots that tell whether a store changed at all."""

from __future__ import annotations

import hashlib
import json
import threading
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import Polygon, mapping

from geo_app.storage import FeatureQuery
from geo_app.storage.bulk import BulkLoad

GEOD = Geod(ellps="WGS84")
# Near Xuecheng: 117.26 E, 34.80 N.
LON0, LAT0 = 117.262, 34.801
HOSTILE = '<img src=x onerror=alert(1)>"\'</script>'


def rectangle(dx_m: float, dy_m: float, w_m: float = 120.0, h_m: float = 80.0) -> Polygon:
    """A w x h metre rectangle whose south-west corner is dx, dy metres from (LON0, LAT0)."""
    corners = [(dx_m, dy_m), (dx_m + w_m, dy_m), (dx_m + w_m, dy_m + h_m), (dx_m, dy_m + h_m)]
    points = []
    for x, y in corners:
        lon, lat, _ = GEOD.fwd(LON0, LAT0, 90, x)
        lon, lat, _ = GEOD.fwd(lon, lat, 0, y)
        points.append((lon, lat))
    return Polygon(points)


def estate_rows(n: int = 5, prefix: str = "IMP") -> list[dict]:
    """n non-overlapping estates with Chinese attributes, as plain property dicts + geometry."""
    rows = []
    for i in range(n):
        rows.append({"code": f"{prefix}-{i + 1:03d}", "name": f"测试{i + 1}号小区", "street_office": "临城街道",
                     "households": 100 + i, "floor_area_m2": 5000.0 + i, "buildings": 3, "year_built": 1990,
                     "batch": 2021, "status": "planned", "geometry": rectangle(i * 300.0, 0.0)})
    return rows


def grid_rows(n: int, prefix: str) -> list[dict]:
    """`estate_rows` laid out 40 a row, 300 m apart: no overlaps, all near the district."""
    rows = estate_rows(n, prefix)
    for i, r in enumerate(rows):
        r["geometry"] = rectangle((i % 40) * 300.0, (i // 40) * 200.0)
    return rows


def written_by(monkeypatch) -> list[tuple[str, int]]:
    """(thread, rows) of every part a bulk load is given from now on."""
    parts = []
    added = BulkLoad.add

    def noted(self, columns, geometries, on_progress=None):
        parts.append((threading.current_thread().name, len(geometries)))
        return added(self, columns, geometries, on_progress)

    monkeypatch.setattr(BulkLoad, "add", noted)
    return parts


def store_old_estate(store) -> None:
    """Store one estate, OLD-1 (老小区), 3 km east of (LON0, LAT0): what imports clash or overlap with."""
    with store.transaction() as w:
        w.insert("estates", [{"type": "Feature", "properties": {
            "code": "OLD-1", "name": "老小区", "street_office": "临城街道", "status": "planned"},
            "geometry": mapping(rectangle(3000, 0))}])


def frame(rows: list[dict], crs="EPSG:4326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame([{k: v for k, v in r.items() if k != "geometry"} for r in rows],
                            geometry=[r["geometry"] for r in rows], crs=crs)


CHINESE_HEADERS = {"code": "编号", "name": "小区名称", "street_office": "街道", "households": "户数",
                   "floor_area_m2": "建筑面积", "buildings": "楼栋数", "year_built": "建成年代", "batch": "改造年度",
                   "status": "改造状态"}


def chinese_frame(rows: list[dict], crs="EPSG:4326") -> gpd.GeoDataFrame:
    """The same rows with the Chinese headers and status labels a bureau's file has."""
    labels = {"planned": "已列入计划", "completed": "已完工"}
    gdf = frame(rows, crs).rename(columns=CHINESE_HEADERS)
    gdf["改造状态"] = gdf["改造状态"].map(labels)
    return gdf


def zip_files(target: Path, files: list[Path], names: list[str] | None = None) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for f, name in zip(files, names or [f.name for f in files]):
            z.write(f, name)
    return target


def write_shapefile(gdf: gpd.GeoDataFrame, folder: Path, stem: str, encoding: str = "UTF-8", *,
                    keep_cpg: bool = True, keep_prj: bool = True) -> Path:
    """A zipped Shapefile written by GDAL; optionally without its .cpg / .prj."""
    folder.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # GDAL says it cut long field names to 10 characters: intended
        gdf.to_file(folder / f"{stem}.shp", encoding=encoding, engine="pyogrio")
    parts = sorted(folder.glob(f"{stem}.*"))
    parts = [p for p in parts if (keep_cpg or p.suffix != ".cpg") and (keep_prj or p.suffix != ".prj")]
    return zip_files(folder / f"{stem}.zip", parts)


def geojson_file(path: Path, rows: list[dict], transform=None) -> Path:
    """A GeoJSON FeatureCollection (UTF-8), coordinates optionally passed through transform(x, y)."""
    features = []
    for r in rows:
        geom = r["geometry"]
        if transform is not None:
            geom = shapely.transform(geom, lambda c: np.column_stack(transform(c[:, 0], c[:, 1])))
        features.append({"type": "Feature", "properties": {k: v for k, v in r.items() if k != "geometry"},
                         "geometry": mapping(geom)})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
                    encoding="utf-8")
    return path


def projected(geom, epsg: int):
    """A WGS84 geometry in another CRS, computed with pyproj independently of geo_app."""
    t = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    return shapely.transform(geom, lambda c: np.column_stack(t.transform(c[:, 0], c[:, 1])))


def max_vertex_error_m(got, truth) -> float:
    """Largest geodesic distance from a true exterior vertex to the nearest imported one (writers may
    reverse or rotate rings, so vertices are matched by position, not by order)."""
    a = np.asarray(got.exterior.coords if got.geom_type == "Polygon" else got.geoms[0].exterior.coords)
    b = np.asarray(truth.exterior.coords)
    assert len(a) == len(b)
    worst = 0.0
    for lon, lat in b:
        _, _, dist = GEOD.inv(np.full(len(a), lon), np.full(len(a), lat), a[:, 0], a[:, 1])
        worst = max(worst, float(np.min(dist)))
    return worst


def snapshot(store) -> str:
    """A fingerprint of everything the store holds: the GeoPackage file bytes (main file + WAL), or
    on PostGIS a dump of every layer's rows and the revision."""
    path = getattr(store, "path", None)
    if path is not None:
        digest = hashlib.sha256()
        for suffix in ("", "-wal"):
            part = Path(f"{path}{suffix}")
            digest.update(part.read_bytes() if part.exists() else b"-")
        return digest.hexdigest()
    dump = [store.revision()]
    for layer in store.layers:
        for f in store.features(layer, FeatureQuery()):
            dump.append((layer, f.id, sorted(f.properties.items()), f.geometry.wkb_hex if f.geometry else None))
    return hashlib.sha256(repr(dump).encode()).hexdigest()
