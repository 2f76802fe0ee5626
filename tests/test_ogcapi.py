"""OGC API – Features at /ogcapi through the test client, on both backends: resources, paging, bbox,
property filters, sortby, properties, CRSs (checked against pyproj), encodings and errors.
CQL2 filters are in test_ogcapi_cql2.py, real clients in test_ogcapi_clients.py."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pyproj
import pytest
import shapely
from shapely.geometry import shape

from geo_app.core.ogcapi import CONFORMANCE
from geo_app.core.ogcapi_crs import CRS84
from geo_app.core.ogcapi_params import parse_limit

from ogcapi_support import ESTATES, client, estates, ogc_app  # noqa: F401 (fixtures)

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
ITEMS = "/ogcapi/collections/estates/items"


def get_json(client, url, status=200, **kwargs):
    response = client.get(url, **kwargs)
    assert response.status_code == status, (url, response.get_data(as_text=True)[:500])
    return response.get_json(force=True)


def link(doc, rel, media=None):
    found = [x for x in doc["links"] if x["rel"] == rel and (media is None or x["type"] == media)]
    return found[0]["href"] if found else None


def relative(href: str) -> str:
    parts = urlsplit(href)
    return f"{parts.path}?{parts.query}"


def assert_bad(client, url, parameter):
    body = get_json(client, url, 400)
    assert body["code"] == "InvalidParameterValue" and body["parameter"] == parameter, body
    assert body["description"]
    return body


# --- landing page, conformance, collections ----------------------------------------------------

def test_landing_page_links_to_everything(client):
    doc = get_json(client, "/ogcapi")
    rels = {x["rel"] for x in doc["links"]}
    assert {"self", "alternate", "service-desc", "service-doc", "conformance", "data"} <= rels
    assert link(doc, "service-desc").endswith("/ogcapi/api")
    assert client.get("/ogcapi/").status_code == 200


def test_conformance_declares_parts_1_2_3_and_cql2(client):
    declared = set(get_json(client, "/ogcapi/conformance")["conformsTo"])
    assert declared == set(CONFORMANCE)
    for uri in ("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
                "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
                "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
                "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
                "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
                "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions"):
        assert uri in declared


def test_collections_come_from_the_layer_definitions(client, estates):
    doc = get_json(client, "/ogcapi/collections")
    by_id = {c["id"]: c for c in doc["collections"]}
    assert set(by_id) == {"district", "street_offices", "zones", "estates", "facilities", "inspections"}
    assert by_id["estates"]["title"] == "老旧小区"
    assert get_json(client, "/ogcapi/collections?lang=en")["collections"][3]["title"] == "Old residential estates"
    estate = by_id["estates"]
    assert estate["storageCrs"] == CRS84 and estate["crs"][0] == CRS84
    assert {EPSG + "4326", EPSG + "4490", EPSG + "4548"} <= set(estate["crs"])
    minx, miny, maxx, maxy = estate["extent"]["spatial"]["bbox"][0]
    bounds = shapely.total_bounds([f.geometry for f in estates.values()])
    assert (minx, miny, maxx, maxy) == pytest.approx(tuple(bounds), abs=1e-6)
    assert link(estate, "items", "application/geo+json")
    assert link(estate, "http://www.opengis.net/def/rel/ogc/1.0/queryables")


def test_one_collection_and_unknown_ones(client):
    assert get_json(client, "/ogcapi/collections/zones")["id"] == "zones"
    body = get_json(client, "/ogcapi/collections/nope", 404)
    assert body["code"] == "NotFound" and "estates" in body["description"]
    assert client.get("/ogcapi/collections/nope/items").status_code == 404
    assert client.get("/ogcapi/collections/nope/queryables").status_code == 404


def test_queryables_are_a_typed_json_schema(client):
    response = client.get("/ogcapi/collections/estates/queryables")
    assert response.mimetype == "application/schema+json"
    doc = response.get_json(force=True)
    props = doc["properties"]
    assert props["households"]["type"] == "integer" and props["progress_pct"]["type"] == "number"
    assert props["completion_date"] == {**props["completion_date"], "type": "string", "format": "date"}
    assert "completed" in props["status"]["enum"]
    assert props["geometry"]["format"] == "geometry-multipolygon"
    assert doc["additionalProperties"] is False


# --- items: paging -----------------------------------------------------------------------------

def test_next_links_walk_every_estate_exactly_once(client):
    seen, url, pages = [], f"{ITEMS}?limit=25", 0
    while url and pages < 20:
        doc = get_json(client, url)
        assert doc["numberMatched"] == ESTATES and doc["numberReturned"] == len(doc["features"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["timeStamp"])
        seen += [f["id"] for f in doc["features"]]
        if pages:
            assert link(doc, "prev")
        url = link(doc, "next") and relative(link(doc, "next"))
        pages += 1
    assert pages == 7 and len(seen) == ESTATES == len(set(seen))


def test_prev_walks_back_and_self_keeps_the_query(client):
    doc = get_json(client, f"{ITEMS}?limit=10&offset=20&status=completed")
    query = parse_qs(urlsplit(link(doc, "self")).query)
    assert query["status"] == ["completed"] and query["offset"] == ["20"] and query["f"] == ["json"]
    assert parse_qs(urlsplit(link(doc, "prev")).query)["offset"] == ["10"]
    assert link(doc, "alternate", "text/html")
    last = get_json(client, f"{ITEMS}?limit=10&offset=160")
    assert last["numberReturned"] == 8 and link(last, "next") is None


def test_limit_defaults_to_10_and_is_clamped_to_1000(client):
    assert get_json(client, ITEMS)["numberReturned"] == 10
    assert get_json(client, f"{ITEMS}?limit=5000")["numberReturned"] == ESTATES
    assert parse_limit({"limit": "5000"}) == 1000 and parse_limit({}) == 10
    for bad in ("0", "-1", "ten", "1.5"):
        assert_bad(client, f"{ITEMS}?limit={bad}", "limit")
    assert_bad(client, f"{ITEMS}?offset=-3", "offset")


# --- items: bbox, property filters, sortby, properties -------------------------------------------

def test_bbox_selects_the_estates_meeting_it(client, estates):
    box = (117.25, 34.75, 117.30, 34.80)
    expected = {i for i, f in estates.items() if f.geometry.intersects(shapely.box(*box))}
    doc = get_json(client, f"{ITEMS}?limit=1000&bbox={','.join(map(str, box))}")
    assert {f["id"] for f in doc["features"]} == expected and doc["numberMatched"] == len(expected) > 5
    # The same box as EPSG:4326, latitude first.
    lat_first = f"{box[1]},{box[0]},{box[3]},{box[2]}"
    doc = get_json(client, f"{ITEMS}?limit=1000&bbox={lat_first}&bbox-crs={EPSG}4326")
    assert {f["id"] for f in doc["features"]} == expected


def test_bbox_in_the_gauss_kruger_zone(client, estates):
    target = next(iter(estates.values()))
    lon, lat = target.geometry.representative_point().coords[0]
    northing, easting = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:4548").transform(lon, lat)
    box = f"{northing - 5},{easting - 5},{northing + 5},{easting + 5}"
    doc = get_json(client, f"{ITEMS}?limit=1000&bbox={box}&bbox-crs={EPSG}4548")
    assert target.id in {f["id"] for f in doc["features"]} and doc["numberMatched"] <= 3


@pytest.mark.parametrize("bbox, crs", [("1,2,3", ""), ("a,b,c,d", ""), ("10,10,0,0", f"&bbox-crs={EPSG}4548"),
                                       ("0,100,1,101", ""), ("1e300,1e300,2e300,2e300", f"&bbox-crs={EPSG}4548")])
def test_bad_bbox_is_a_400(client, bbox, crs):
    assert_bad(client, f"{ITEMS}?bbox={bbox}{crs}", "bbox")


def test_property_filters_are_typed_by_field(client, estates):
    doc = get_json(client, f"{ITEMS}?status=completed&limit=1000")
    assert doc["numberMatched"] == sum(f.properties["status"] == "completed" for f in estates.values()) == 63
    assert {f["properties"]["status"] for f in doc["features"]} == {"completed"}
    doc = get_json(client, f"{ITEMS}?batch=2021&status=completed&limit=1000")
    assert all(f["properties"]["batch"] == 2021 for f in doc["features"])
    doc = get_json(client, f"{ITEMS}?items_planned=public_toilets&limit=1000")
    assert doc["numberMatched"] == sum("public_toilets" in (f.properties["items_planned"] or "").split(",")
                                       for f in estates.values()) > 0
    assert_bad(client, f"{ITEMS}?batch=twenty", "batch")
    assert_bad(client, f"{ITEMS}?progress_pct=lots", "progress_pct")
    assert_bad(client, f"{ITEMS}?completion_date=yesterday", "completion_date")
    assert_bad(client, f"{ITEMS}?name=%00", "name")


def test_unknown_query_parameters_are_refused(client):
    body = assert_bad(client, f"{ITEMS}?colour=red", "colour")
    assert "bbox" in body["description"]
    assert_bad(client, "/ogcapi/collections?limit=3", "limit")
    assert get_json(client, f"{ITEMS}?lang=en&f=json")["numberReturned"] == 10


def test_sortby_several_keys_and_directions(client, estates):
    doc = get_json(client, f"{ITEMS}?limit=1000&sortby=%2Bstreet_office,-households")
    got = [(f["properties"]["street_office"], f["properties"]["households"]) for f in doc["features"]]
    assert got == sorted(got, key=lambda t: (t[0], -(t[1] or 0)))
    # An unencoded "+" arrives as a space: still ascending.
    names = [f["properties"]["name"] for f in get_json(client, f"{ITEMS}?limit=1000&sortby=+name")["features"]]
    assert names == sorted(names)


def test_sortby_puts_nulls_last_and_pages_consistently(client, estates):
    paged = []
    for offset in range(0, ESTATES, 50):
        doc = get_json(client, f"{ITEMS}?limit=50&offset={offset}&sortby=-batch")
        paged += [(f["id"], f["properties"]["batch"]) for f in doc["features"]]
    assert len({i for i, _ in paged}) == ESTATES
    batches = [b for _, b in paged]
    assert batches[-8:] == [None] * 8 and batches[:-8] == sorted(batches[:-8], reverse=True)
    assert_bad(client, f"{ITEMS}?sortby=colour", "sortby")


def test_properties_selects_a_subset(client):
    doc = get_json(client, f"{ITEMS}?properties=name,status&limit=3")
    assert all(set(f["properties"]) == {"name", "status"} for f in doc["features"])
    assert get_json(client, f"{ITEMS}/1?properties=code")["properties"].keys() == {"code"}
    assert_bad(client, f"{ITEMS}?properties=name,colour", "properties")


def test_datetime_is_checked(client):
    assert get_json(client, f"{ITEMS}?datetime=2021-07-20")["numberMatched"] == ESTATES
    assert get_json(client, f"{ITEMS}?datetime=2020-01-01T00:00:00Z/..")["numberMatched"] == ESTATES
    assert_bad(client, f"{ITEMS}?datetime=soon", "datetime")
    assert_bad(client, f"{ITEMS}?datetime=../..", "datetime")


# --- single items ------------------------------------------------------------------------------

def test_single_item_and_unknown_ones(client, estates):
    first = min(estates)
    response = client.get(f"{ITEMS}/{first}")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    assert response.headers["Content-Crs"] == f"<{CRS84}>"
    doc = response.get_json(force=True)
    assert doc["id"] == first and doc["properties"]["code"] == estates[first].properties["code"]
    assert link(doc, "collection")
    for missing in ("999999", "abc", "1.5", "-1", "9" * 40):
        assert client.get(f"{ITEMS}/{missing}").status_code == 404, missing
    assert_bad(client, f"{ITEMS}/{first}?limit=3", "limit")


# --- CRS ---------------------------------------------------------------------------------------

def coordinates(doc) -> list[tuple[float, float]]:
    return [tuple(c) for c in shapely.get_coordinates(shape(doc["geometry"]))]


@pytest.mark.parametrize("code", ["4326", "4490", "4548"])
def test_crs_output_matches_pyproj_in_the_crs_axis_order(client, estates, code):
    """EPSG:4326 and CGCS2000 (4490) are latitude/longitude, EPSG:4548 northing/easting: the axis
    order of each CRS's definition (Part 2), which is pyproj's without always_xy."""
    first = min(estates)
    plain = get_json(client, f"{ITEMS}/{first}")
    response = client.get(f"{ITEMS}/{first}?crs={EPSG}{code}")
    assert response.headers["Content-Crs"] == f"<{EPSG}{code}>"
    got = coordinates(response.get_json(force=True))
    transformer = pyproj.Transformer.from_crs("OGC:CRS84", f"EPSG:{code}")
    expected = [transformer.transform(lon, lat) for lon, lat in coordinates(plain)]
    tolerance = 2e-3 if code == "4548" else 2e-7
    assert len(got) == len(expected)
    # Rings may start elsewhere after re-orientation: compare as sets of rounded points.
    flat = [v for point in sorted(got) for v in point]
    assert flat == pytest.approx([v for point in sorted(expected) for v in point], abs=tolerance)
    if code != "4548":
        assert got[0][0] == pytest.approx(coordinates(plain)[0][1], abs=1e-6)  # latitude first
    else:
        assert 3_800_000 < got[0][0] < 3_900_000 and 400_000 < got[0][1] < 600_000  # northing first


def test_items_in_a_crs_and_unknown_crs(client):
    doc_response = client.get(f"{ITEMS}?limit=2&crs={EPSG}4548")
    assert doc_response.headers["Content-Crs"] == f"<{EPSG}4548>"
    assert get_json(client, f"{ITEMS}?limit=2&crs=EPSG:4326")["numberReturned"] == 2  # CURIE accepted
    assert_bad(client, f"{ITEMS}?crs={EPSG}3857", "crs")
    assert_bad(client, f"{ITEMS}?bbox-crs=nonsense", "bbox-crs")
    assert_bad(client, f"{ITEMS}?filter-crs=nonsense", "filter-crs")


# --- encodings ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/ogcapi", "/ogcapi/conformance", "/ogcapi/collections",
                                  "/ogcapi/collections/estates", "/ogcapi/collections/estates/queryables",
                                  ITEMS, f"{ITEMS}/1"])
def test_html_and_json_by_f_and_by_accept(client, path):
    html = client.get(path, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert html.status_code == 200 and html.mimetype == "text/html"
    assert "as JSON" in html.get_data(as_text=True) or "JSON" in html.get_data(as_text=True)
    assert client.get(f"{path}?f=html").mimetype == "text/html"
    for accept in ("application/json", "application/geo+json", "*/*", None):
        response = client.get(path, headers={"Accept": accept} if accept else {})
        assert response.mimetype != "text/html", accept
        assert response.get_json(force=True) is not None
    assert_bad(client, f"{path}?f=xml", "f")


def test_items_page_lists_features_with_a_map(client):
    html = client.get(f"{ITEMS}?f=html&limit=5&lang=en").get_data(as_text=True)
    assert 'id="ogcapi-map"' in html and "leaflet.js" in html and 'rel="next"' in html
    assert html.count("/ogcapi/collections/estates/items/") >= 5
    projected = client.get(f"{ITEMS}?f=html&limit=5&crs={EPSG}4548").get_data(as_text=True)
    assert 'id="ogcapi-map"' not in projected  # not longitude/latitude: no map


def test_html_pages_escape_data(app):
    """The conftest app (GeoPackage): one estate with markup in its name."""
    hostile = '<img src=x onerror="alert(1)">'
    store = app.extensions["geo_app.store"]
    with store.transaction() as writer:
        new_id, = writer.insert("estates", [{"properties": {"code": "EVIL", "name": hostile, "street_office": hostile,
                                                            "status": "unscheduled"},
                                             "geometry": shapely.geometry.mapping(shapely.box(117.3, 34.7, 117.301,
                                                                                              34.701))}])
    test_client = app.test_client()
    for url in (f"{ITEMS}/{new_id}?f=html", f"{ITEMS}?f=html&code=EVIL"):
        html = test_client.get(url).get_data(as_text=True)
        assert hostile not in html and "&lt;img src=x" in html
        script = re.search(r'id="ogcapi-geojson">(.*?)</script>', html, re.S).group(1)
        assert "<img" not in script
