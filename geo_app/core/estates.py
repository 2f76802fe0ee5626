"""Estate reads the pages share: the slim map view, name search, one street office's figures."""

from __future__ import annotations

import dataclasses

from ..storage import Feature, FeatureQuery, Store

# What the planner map needs to draw, colour, list, count and replay in the time view; the popup
# fetches the full record of one estate when opened.
MAP_FIELDS = ("code", "name", "street_office", "zone", "status", "progress_pct", "batch", "households",
              "floor_area_m2", "items_planned", "start_date", "completion_date", "acceptance_date")


def map_query(query: FeatureQuery) -> FeatureQuery:
    """The query reading only the map's properties (keeps 20,000 estates a few MB gzipped)."""
    return dataclasses.replace(query, fields=MAP_FIELDS)


def search_by_name(store: Store, text: str, limit: int = 20) -> list[dict]:
    """Estates whose name contains `text`, shortest names first (the likeliest pick)."""
    found = store.features("estates", FeatureQuery.where(text={"name": text}))
    found.sort(key=lambda f: (len(f.properties["name"]), f.properties["name"]))
    results = []
    for f in found[:limit]:
        minx, miny, maxx, maxy = f.geometry.bounds
        results.append({"id": f.id, "code": f.properties["code"], "name": f.properties["name"],
                        "street_office": f.properties["street_office"], "status": f.properties["status"],
                        "bbox": [minx, miny, maxx, maxy]})
    return results
