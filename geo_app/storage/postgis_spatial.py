"""Spatial queries of the PostGIS backend, done in SQL on the GiST-indexed geometry.

Distances, bearings and areas use the `geography` type (on the WGS84 spheroid); the index is used
through a `&&` box pre-filter on the geometry column, since a cast to geography cannot use it.
"""

from __future__ import annotations

import dataclasses

import shapely

from .base import SRID, Feature, FeatureQuery, _plain, circle_bbox, quote_ident

# k-nearest without a radius: take this many index-ordered candidates per wanted result, then
# re-rank them by true geodesic distance (the index orders by planar degrees).
_KNN_OVERFETCH = 4


class PostgisSpatial:
    """Mixed into PostgisStore; relies on its `_fetch`, `_where` and layer lookup."""

    def nearby(self, layer: str, lon: float, lat: float, radius_m: float | None, limit: int,
               query: FeatureQuery | None = None) -> list[tuple[Feature, float, float | None]]:
        layer_def = self._layer(layer)
        query = query or FeatureQuery()
        if radius_m is not None:
            query = dataclasses.replace(query, bbox=circle_bbox(lon, lat, radius_m))
        where, params = self._where(layer_def, dataclasses.replace(query, limit=None, offset=0))
        columns = ", ".join(quote_ident(n) for n in ["id", *layer_def.field_names])
        point = f"ST_SetSRID(ST_MakePoint(%s, %s), {SRID})"
        table = quote_ident(layer_def.name)
        if radius_m is not None:
            clause = (" AND " if where else " WHERE ") + f'ST_DWithin("geom"::geography, {point}::geography, %s)'
            source = f"SELECT * FROM {table}{where}{clause}"
            params = [*params, lon, lat, radius_m]
        else:
            source = f'SELECT * FROM {table}{where} ORDER BY "geom" <-> {point} LIMIT %s'
            params = [*params, lon, lat, limit * _KNN_OVERFETCH + 10]
        sql = (f'SELECT {columns}, ST_AsBinary("geom"), ST_Distance("geom"::geography, {point}::geography) AS d, '
               f'degrees(ST_Azimuth({point}::geography, ST_ClosestPoint("geom", {point})::geography)) '
               f'FROM ({source}) AS candidates ORDER BY d, "id" LIMIT %s')
        rows = self._fetch(sql, [lon, lat, lon, lat, lon, lat, *params, limit])
        results = []
        n = len(layer_def.field_names)
        for row in rows:
            props = {name: _plain(v) for name, v in zip(layer_def.field_names, row[1:n + 1])}
            distance = float(row[n + 2])
            bearing = None if distance == 0 or row[n + 3] is None else float(row[n + 3])
            results.append((Feature(row[0], props, shapely.from_wkb(bytes(row[n + 1]))), distance, bearing))
        return results

    def intersection_areas(self, layer: str, other: str, query: FeatureQuery | None = None) -> list[tuple]:
        left, right = self._layer(layer), self._layer(other)
        where, params = self._where(left, query or FeatureQuery())
        same = " AND a.id < b.id" if other == layer else ""
        sql = (f"SELECT a.id, b.id, ST_Area(ST_Intersection(a.geom, b.geom)::geography) "
               f"FROM (SELECT * FROM {quote_ident(left.name)}{where}) AS a "
               f"JOIN {quote_ident(right.name)} AS b ON ST_Intersects(a.geom, b.geom){same} ORDER BY a.id, b.id")
        return [(r[0], r[1], float(r[2])) for r in self._fetch(sql, params)]

    def invalid_geometries(self, layer: str) -> list[tuple[int, str]]:
        table = quote_ident(self._layer(layer).name)
        rows = self._fetch(f'SELECT id, CASE WHEN ST_IsEmpty(geom) THEN %s ELSE ST_IsValidReason(geom) END '
                           f'FROM {table} WHERE ST_IsEmpty(geom) OR NOT ST_IsValid(geom) ORDER BY id', ["empty"])
        return [(r[0], r[1]) for r in rows]
