"""OGC API – Features (Parts 1, 2 and 3) over the store: the resources as plain dicts, no Flask.

The web layer (`geo_app.web.ogcapi`) parses nothing itself: it hands the query arguments, the
chosen encoding and the base URL to an `OgcApi`, and encodes what comes back (JSON as is, HTML
through templates). Collections are the layers of `layers/*.toml`; a feature's id is its store id.

Choices the standard leaves open, made here:
- an unknown query parameter is a 400 naming it (Part 1 allows either; a typo should not pass);
- `limit` is 10 by default and clamped to 1000;
- `sortby` keys sort in the core over the matching rows' attributes (the store orders by one
  ascending field only), NULLs last either way, then by id, the same on both engines;
- `datetime` is checked and not applied: no layer has a primary temporal property.
"""

from __future__ import annotations

import datetime as dt
import weakref
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

import numpy as np
import shapely

from ..domain import VOCABULARIES
from ..errors import NotFound
from ..layers import LayerDef
from ..storage import Feature, FeatureQuery, Store
from .ogcapi_crs import CRS84, Crs, collection_in_crs, crs_uris, feature_in_crs, parse_crs
from .ogcapi_params import (ITEM_PARAMS, ITEMS_PARAMS, MAX_LIMIT, check_known, parse_bbox, parse_datetime,
                            parse_limit, parse_offset, parse_output_crs, parse_properties,
                            parse_property_filters, parse_sortby)

CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
)
OGC_REL = "http://www.opengis.net/def/rel/ogc/1.0/"
MEDIA = {"json": "application/json", "geojson": "application/geo+json", "html": "text/html",
         "schema": "application/schema+json", "openapi": "application/vnd.oai.openapi+json;version=3.0"}
# The service's own name and description, zh and en (data, like the layers' titles).
SERVICE = {
    "zh": ("薛城区老旧小区改造 OGC API", "老旧小区、街道（镇）、片区、区界与配套设施，符合 OGC API – Features "
                                 "第 1、2、3 部分。街道及小区边界为示例数据。"),
    "en": ("Xuecheng old-estate renovation – OGC API", "Old residential estates, street offices, zones, the "
           "district outline and facilities, per OGC API – Features Parts 1, 2 and 3. Street-office and "
           "estate boundaries are illustrative (示例数据)."),
}
GEOMETRY_FORMATS = {"Point": "geometry-point", "MultiPolygon": "geometry-multipolygon"}
FIELD_SCHEMA = {"text": {"type": "string"}, "integer": {"type": "integer"}, "real": {"type": "number"},
                "date": {"type": "string", "format": "date"}}


@dataclass
class Result:
    """A resource: its body (a dict), what it is (picks the HTML template) and its headers."""

    kind: str
    body: dict
    media_type: str
    headers: dict = field(default_factory=dict)


class OgcApi:
    """The OGC API resources for one request: the store, the service's base URL and the language."""

    def __init__(self, store: Store, base_url: str, locale: str = "zh", fmt: str = "json", docs_url: str = ""):
        self.store = store
        self.base = base_url.rstrip("/")
        self.docs_url = docs_url  # the human-readable API documentation (service-doc)
        self.locale = "en" if locale == "en" else "zh"
        self.fmt = fmt

    # --- links -------------------------------------------------------------------------------
    def href(self, path: str, params=(), fmt: str | None = None) -> str:
        query = [(k, v) for k, v in params if k != "f"] + [("f", fmt or self.fmt)]
        return f"{self.base}{path}?{urlencode(query)}"

    def self_links(self, path: str, json_type: str, params=(), title: str = "") -> list[dict]:
        """`self` in the requested encoding and `alternate` in the other one."""
        links = []
        for fmt, media in (("json", json_type), ("html", MEDIA["html"])):
            rel = "self" if fmt == self.fmt else "alternate"
            links.append({"href": self.href(path, params, fmt), "rel": rel, "type": media,
                          "title": f"{title} ({fmt.upper()})" if title else fmt.upper()})
        return links

    # --- resources ---------------------------------------------------------------------------
    def landing(self) -> Result:
        """The landing page: what the service is and where its parts are."""
        title, description = SERVICE[self.locale]
        links = self.self_links("/", MEDIA["json"], title="landing page")
        links.append({"href": f"{self.base}/api", "rel": "service-desc", "type": MEDIA["openapi"],
                      "title": "OpenAPI 3.0 definition"})
        if self.docs_url:
            links.append({"href": self.docs_url, "rel": "service-doc", "type": MEDIA["html"],
                          "title": "API documentation (Swagger UI)"})
        for rel in ("conformance", "data"):
            path = "/conformance" if rel == "conformance" else "/collections"
            for name in (rel, OGC_REL + rel):
                links.append({"href": self.href(path, fmt="json"), "rel": name, "type": MEDIA["json"],
                              "title": rel})
        return Result("landing", {"title": title, "description": description, "links": links}, MEDIA["json"])

    def conformance(self) -> Result:
        """The conformance classes the service implements."""
        return Result("conformance", {"conformsTo": list(CONFORMANCE),
                                      "links": self.self_links("/conformance", MEDIA["json"])}, MEDIA["json"])

    def collections(self) -> Result:
        """Every layer as a collection."""
        body = {"links": self.self_links("/collections", MEDIA["json"], title="collections"),
                "collections": [self._collection(layer) for layer in self.store.layers.values()],
                "crs": crs_uris()}
        return Result("collections", body, MEDIA["json"])

    def collection(self, collection_id: str) -> Result:
        """One collection: title, extent, CRSs and links to its items and queryables."""
        return Result("collection", self._collection(self.layer(collection_id)), MEDIA["json"])

    def _collection(self, layer: LayerDef) -> dict:
        path = f"/collections/{layer.name}"
        links = self.self_links(path, MEDIA["json"], title=layer.title(self.locale))
        links += [
            {"href": self.href(f"{path}/items", fmt="json"), "rel": "items", "type": MEDIA["geojson"],
             "title": "items (GeoJSON)"},
            {"href": self.href(f"{path}/items", fmt="html"), "rel": "items", "type": MEDIA["html"],
             "title": "items (HTML)"},
            {"href": self.href(f"{path}/queryables", fmt="json"), "rel": OGC_REL + "queryables",
             "type": MEDIA["schema"], "title": "queryables"},
        ]
        other = "en" if self.locale == "zh" else "zh"
        description = f"{layer.title(self.locale)} / {layer.title(other)}"
        if layer.illustrative:
            description += " — 示例数据 (illustrative)"
        body = {"id": layer.name, "title": layer.title(self.locale), "description": description,
                "links": links, "itemType": "feature", "crs": crs_uris(), "storageCrs": CRS84}
        # A layer with a read_role (inspections) is listed to everyone, so its data extent would
        # tell anyone where its records were made: left out (its items need the role anyway).
        bbox = None if layer.read_role else layer_extent(self.store, layer.name)
        if bbox is not None:
            body["extent"] = {"spatial": {"bbox": [bbox], "crs": CRS84}}
        return body

    def queryables(self, collection_id: str) -> Result:
        """The properties a filter may use, as a JSON Schema (Part 3)."""
        from .cql2 import GEOMETRY_NAMES  # pygeofilter and lark (~11 MB): with the first filter

        layer = self.layer(collection_id)
        properties = {GEOMETRY_NAMES[0]: {"title": "Geometry", "format": GEOMETRY_FORMATS[layer.geometry_type],
                                          "x-ogc-role": "primary-geometry"}}
        for f in layer.fields:
            schema = {"title": f.label(self.locale), **FIELD_SCHEMA[f.type]}
            if f.vocabulary and not f.multiple:
                schema["enum"] = VOCABULARIES[f.vocabulary].codes()
            if f.multiple:
                schema["description"] = "comma-separated codes; ?name=code matches features that hold the code"
            properties[f.name] = schema
        body = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": self.href(f"/collections/{layer.name}/queryables", fmt="json"),
                "type": "object", "title": layer.title(self.locale), "properties": properties,
                "additionalProperties": False,
                "links": self.self_links(f"/collections/{layer.name}/queryables", MEDIA["schema"])}
        return Result("queryables", body, MEDIA["schema"])

    def items(self, collection_id: str, args) -> Result:
        """A page of features matching the query, with paging links and counts."""
        layer = self.layer(collection_id)
        check_known(args, ITEMS_PARAMS, layer)
        limit, offset = parse_limit(args), parse_offset(args)
        crs, sortby, names = parse_output_crs(args), parse_sortby(args, layer), parse_properties(args, layer)
        parse_datetime(args)
        query = self.items_query(layer, args)
        matched = self.store.count(layer.name, query)
        features = _select(self.page(layer, query, sortby, limit, offset), names)
        params = [(k, v) for k, v in _pairs(args) if k != "offset"]
        links = self.self_links(f"/collections/{layer.name}/items", MEDIA["geojson"], [*params, ("offset", offset)])
        if offset + len(features) < matched:
            links.append(self._page_link("next", layer, params, offset + limit))
        if offset > 0:
            links.append(self._page_link("prev", layer, params, max(0, offset - limit)))
        links.append({"href": self.href(f"/collections/{layer.name}", fmt="json"), "rel": "collection",
                      "type": MEDIA["json"], "title": layer.title(self.locale)})
        body = collection_in_crs(features, crs, numberMatched=matched, numberReturned=len(features),
                                 timeStamp=_now(), links=links)
        return Result("items", body, MEDIA["geojson"], {"Content-Crs": crs.header})

    def _page_link(self, rel: str, layer: LayerDef, params: list, offset: int) -> dict:
        return {"href": self.href(f"/collections/{layer.name}/items", [*params, ("offset", offset)]),
                "rel": rel, "type": MEDIA["geojson"] if self.fmt == "json" else MEDIA["html"],
                "title": f"{rel} page"}

    def items_query(self, layer: LayerDef, args) -> FeatureQuery:
        """The store query for bbox, property filters and the CQL2 filter."""
        area = parse_bbox(args)
        equals, contains = parse_property_filters(args, layer)
        filter_crs = parse_crs(args.get("filter-crs"), "filter-crs")
        condition = None
        if args.get("filter") is not None or args.get("filter-lang") is not None:
            from .cql2 import parse_filter  # pygeofilter and lark (~11 MB): with the first filter
        if args.get("filter") is not None:
            condition = parse_filter(args.get("filter"), args.get("filter-lang"), filter_crs)
        elif args.get("filter-lang") is not None:
            parse_filter("1 = 1", args.get("filter-lang"), filter_crs)  # checks the name only
        return FeatureQuery(equals=equals, contains=contains, bbox=area.bbox if area else None,
                            intersects=area.geometry if area else None, condition=condition)

    def page(self, layer: LayerDef, query: FeatureQuery, sortby, limit: int, offset: int) -> list[Feature]:
        """One page of features in id order, or in `sortby` order (sorted here, see the module)."""
        if not sortby:
            return self.store.features(layer.name, replace(query, limit=limit, offset=offset))
        rows = self.store.features(layer.name, replace(query, with_geometry=False))
        for name, descending in reversed(sortby):  # stable sorts, last key first
            if descending:
                rows.sort(key=lambda r: (r.properties[name] is not None, r.properties[name]), reverse=True)
            else:
                rows.sort(key=lambda r: (r.properties[name] is None, r.properties[name]))
        ids = [r.id for r in rows[offset:offset + limit]]
        found = {f.id: f for f in self.store.features(layer.name, FeatureQuery(ids=tuple(ids)))} if ids else {}
        return [found[i] for i in ids]

    def item(self, collection_id: str, item_id: str, args) -> Result:
        """One feature by id."""
        layer = self.layer(collection_id)
        check_known(args, ITEM_PARAMS)
        crs, names = parse_output_crs(args), parse_properties(args, layer)
        if not (item_id.isascii() and item_id.isdigit() and len(item_id) <= 18):
            raise NotFound(f"{layer.name} has no feature {item_id[:50]!r}")
        feature = _select([self.store.get(layer.name, int(item_id))], names)[0]
        body = feature_in_crs(feature, crs)
        path = f"/collections/{layer.name}/items/{item_id}"
        body["links"] = self.self_links(path, MEDIA["geojson"], _pairs(args)) + [
            {"href": self.href(f"/collections/{layer.name}", fmt="json"), "rel": "collection",
             "type": MEDIA["json"], "title": layer.title(self.locale)}]
        return Result("item", body, MEDIA["geojson"], {"Content-Crs": crs.header})

    def layer(self, collection_id: str) -> LayerDef:
        """The layer a collection id names, or a 404."""
        try:
            return self.store.layers[collection_id]
        except KeyError:
            raise NotFound(f"no collection {collection_id[:100]!r}; collections: "
                           f"{', '.join(self.store.layers)}") from None


def _pairs(args) -> list[tuple[str, str]]:
    if hasattr(args, "items") and hasattr(args, "getlist"):
        return list(args.items(multi=True))
    return list(args.items())


def _select(features: list[Feature], names: list[str] | None) -> list[Feature]:
    if names is None:
        return features
    return [Feature(f.id, {n: f.properties[n] for n in names}, f.geometry) for f in features]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# Extents per store, for its current revision only: one read of the geometries per write, not per request.
_extents: "weakref.WeakKeyDictionary[Store, tuple[int, dict]]" = weakref.WeakKeyDictionary()


def layer_extent(store: Store, layer: str) -> list[float] | None:
    """The layer's bounding box [minLon, minLat, maxLon, maxLat], None when it is empty."""
    revision = store.revision()
    cached = _extents.get(store)
    if cached is None or cached[0] != revision:
        cached = (revision, {})
        _extents[store] = cached
    if layer not in cached[1]:
        geoms = np.array([f.geometry for f in store.features(layer, FeatureQuery())], dtype=object)
        bounds = shapely.total_bounds(geoms) if len(geoms) else np.full(4, np.nan)
        cached[1][layer] = None if np.isnan(bounds).any() else [round(float(v), 7) for v in bounds]
    return cached[1][layer]


__all__ = ["CONFORMANCE", "MAX_LIMIT", "OgcApi", "Result", "Crs", "layer_extent"]
