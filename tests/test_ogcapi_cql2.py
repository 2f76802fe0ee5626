"""CQL2 filters (Part 3) on both backends: text and JSON, every supported operator, S_INTERSECTS in
filter-crs, bound parameters against injection, and 400s that name the parameter."""

from __future__ import annotations

import json
from urllib.parse import quote

import pyproj
import pytest
import shapely

from geo_app.core.cql2 import _like_to_glob, parse_filter
from geo_app.core.ogcapi_crs import SUPPORTED
from geo_app.errors import InvalidParameter

from ogcapi_support import ESTATES, client, estates, ogc_app  # noqa: F401 (fixtures)

ITEMS = "/ogcapi/collections/estates/items"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"


def ids(client, cql, lang="cql2-text", extra=""):
    """The ids a filter selects (numberMatched checked against them)."""
    text = cql if isinstance(cql, str) else json.dumps(cql)
    response = client.get(f"{ITEMS}?limit=1000&filter-lang={lang}&filter={quote(text)}{extra}")
    assert response.status_code == 200, (cql, response.get_data(as_text=True))
    doc = response.get_json(force=True)
    assert doc["numberMatched"] == len(doc["features"])
    return {f["id"] for f in doc["features"]}


def where(estates, test):
    return {i for i, f in estates.items() if test(f.properties)}


def bad(client, cql, lang="cql2-text", parameter="filter", extra=""):
    text = cql if isinstance(cql, str) else json.dumps(cql)
    response = client.get(f"{ITEMS}?filter-lang={lang}&filter={quote(text)}{extra}")
    assert response.status_code == 400, (cql, response.get_data(as_text=True))
    body = response.get_json(force=True)
    assert body["parameter"] == parameter and body["code"] == "InvalidParameterValue"
    return body["description"]


CASES = [  # (cql2-text, cql2-json, expected as a predicate over properties)
    ("status = 'completed'", {"op": "=", "args": [{"property": "status"}, "completed"]},
     lambda p: p["status"] == "completed"),
    ("households > 500 AND batch <> 2021",
     {"op": "and", "args": [{"op": ">", "args": [{"property": "households"}, 500]},
                            {"op": "<>", "args": [{"property": "batch"}, 2021]}]},
     lambda p: p["households"] > 500 and p["batch"] is not None and p["batch"] != 2021),
    ("batch = 2014 OR NOT (progress_pct < 100)",
     {"op": "or", "args": [{"op": "=", "args": [{"property": "batch"}, 2014]},
                           {"op": "not", "args": [{"op": "<", "args": [{"property": "progress_pct"}, 100]}]}]},
     lambda p: p["batch"] == 2014 or (p["progress_pct"] is not None and not p["progress_pct"] < 100)),
    ("name LIKE '%山%'", {"op": "like", "args": [{"property": "name"}, "%山%"]}, lambda p: "山" in p["name"]),
    ("code LIKE 'XC-E-00_'", {"op": "like", "args": [{"property": "code"}, "XC-E-00_"]},
     lambda p: p["code"].startswith("XC-E-00") and len(p["code"]) == 8),
    ("code LIKE 'xc-%'", {"op": "like", "args": [{"property": "code"}, "xc-%"]}, lambda p: False),  # case counts
    ("status IN ('planned', 'unscheduled')",
     {"op": "in", "args": [{"property": "status"}, ["planned", "unscheduled"]]},
     lambda p: p["status"] in ("planned", "unscheduled")),
    ("batch NOT IN (2020, 2021)", {"op": "not", "args": [{"op": "in", "args": [{"property": "batch"}, [2020, 2021]]}]},
     lambda p: p["batch"] is not None and p["batch"] not in (2020, 2021)),
    ("year_built BETWEEN 1980 AND 1989", {"op": "between", "args": [{"property": "year_built"}, 1980, 1989]},
     lambda p: p["year_built"] is not None and 1980 <= p["year_built"] <= 1989),
    ("zone IS NULL", {"op": "isNull", "args": [{"property": "zone"}]}, lambda p: p["zone"] is None),
    ("zone IS NOT NULL", {"op": "not", "args": [{"op": "isNull", "args": [{"property": "zone"}]}]},
     lambda p: p["zone"] is not None),
    ("completion_date >= DATE('2020-01-01')",
     {"op": ">=", "args": [{"property": "completion_date"}, {"date": "2020-01-01"}]},
     lambda p: p["completion_date"] is not None and p["completion_date"] >= "2020-01-01"),
    ("2000 > year_built", {"op": ">", "args": [2000, {"property": "year_built"}]},
     lambda p: p["year_built"] is not None and p["year_built"] < 2000),
]


@pytest.mark.parametrize("text, as_json, predicate", CASES, ids=[c[0] for c in CASES])
def test_text_and_json_select_what_python_selects(client, estates, text, as_json, predicate):
    expected = where(estates, predicate)
    assert ids(client, text) == expected
    assert ids(client, as_json, "cql2-json") == expected


def test_the_cases_are_not_trivial(estates):
    sizes = [len(where(estates, predicate)) for _, _, predicate in CASES]
    assert sum(0 < n < ESTATES for n in sizes) >= 10


def test_s_intersects_with_a_polygon_a_point_and_a_bbox(client, estates):
    box = (117.25, 34.75, 117.30, 34.80)
    expected = {i for i, f in estates.items() if f.geometry.intersects(shapely.box(*box))}
    polygon = shapely.box(*box).wkt
    assert ids(client, f"S_INTERSECTS(geometry, {polygon})") == expected
    assert ids(client, f"S_INTERSECTS(geometry, BBOX({', '.join(map(str, box))}))") == expected
    assert ids(client, {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": list(box)}]},
               "cql2-json") == expected
    target = estates[min(estates)]
    x, y = target.geometry.representative_point().coords[0]
    assert ids(client, f"S_INTERSECTS(geometry, POINT({x} {y}))") == {target.id}
    point = {"type": "Point", "coordinates": [x, y]}
    assert ids(client, {"op": "s_intersects", "args": [{"property": "geom"}, point]}, "cql2-json") == {target.id}
    both = ids(client, f"S_INTERSECTS(geometry, {polygon}) AND status = 'completed'")
    assert both == {i for i in expected if estates[i].properties["status"] == "completed"}


def test_s_intersects_in_filter_crs(client, estates):
    target = estates[min(estates)]
    lon, lat = target.geometry.representative_point().coords[0]
    assert ids(client, f"S_INTERSECTS(geometry, POINT({lat} {lon}))", extra=f"&filter-crs={EPSG}4326") == {target.id}
    northing, easting = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:4548").transform(lon, lat)
    assert ids(client, f"S_INTERSECTS(geometry, POINT({northing} {easting}))",
               extra=f"&filter-crs={EPSG}4548") == {target.id}


def test_injection_attempts_match_nothing_and_harm_nothing(client, estates):
    assert ids(client, "name = 'x'' OR 1=1 --'") == set()
    assert ids(client, "name = 'x''; DROP TABLE estates; --'") == set()
    assert ids(client, {"op": "=", "args": [{"property": "name"}, "x' OR '1'='1"]}, "cql2-json") == set()
    assert ids(client, "name LIKE '%'' OR ''1''=''1'") == set()
    assert ids(client, "status = 'completed'") and len(ids(client, "zone IS NULL OR zone IS NOT NULL")) == ESTATES


def test_quotes_inside_strings_are_doubled():
    tree = parse_filter("name = 'it''s'", None, SUPPORTED[0]).tree
    assert tree.rhs == "it's"


@pytest.mark.parametrize("cql, fragment", [
    ("colour = 'red'", "unknown property 'colour'"),
    ("households = 'many'", "households"),
    ("name = 5", "name"),
    ("status = ", "not valid cql2-text"),
    ("name LIKE 5", "LIKE"),
    ("households LIKE '5%'", "LIKE"),
    ("S_WITHIN(geometry, POINT(1 2))", "not supported"),
    ("S_INTERSECTS(name, POINT(1 2))", "geometry"),
    ("geometry = 'x'", "S_INTERSECTS"),
    ("households + 1 > 5", "property"),
    ("households > name", "households"),
    ("S_INTERSECTS(geometry, POINT(500 500))", "outside"),
    ("completion_date > TIMESTAMP('2020-01-01T00:00:00Z')", "completion_date"),
    ("\"households\" > 1e999", "finite"),
])
def test_bad_filters_are_400s_that_say_why(client, cql, fragment):
    assert fragment in bad(client, cql)


def test_bad_json_filters_and_languages(client):
    assert "not valid cql2-json" in bad(client, "{not json", "cql2-json")
    assert "not valid cql2-json" in bad(client, {"op": "between", "args": [{"property": "batch"}]}, "cql2-json")
    assert "unknown property" in bad(client, {"op": "=", "args": [{"property": "x y"}, 1]}, "cql2-json")
    assert "text" in bad(client, {"op": "=", "args": [{"property": "name"}, "a\u0000b"]}, "cql2-json")
    bad(client, "status = 'completed'", "ecql", parameter="filter-lang")
    assert len(ids(client, "(" * 2000 + "status = 'completed'" + ")" * 2000)) == 63  # deep is fine
    assert "at most" in bad(client, "name = '" + "x" * 30_000 + "'")


def test_like_patterns_become_equivalent_globs():
    assert _like_to_glob("a%b_c") == "a*b?c"
    assert _like_to_glob(r"100\%") == "100%"
    assert _like_to_glob("*?[") == "[*][?][[]"


def test_unknown_identifiers_never_reach_sql(ogc_app):
    store = ogc_app.extensions["geo_app.store"]
    layer = store.layers["estates"]
    condition = parse_filter('"name; DROP TABLE estates" = 1', None, SUPPORTED[0])
    with pytest.raises(InvalidParameter) as caught:
        condition.sql(store, layer)
    assert caught.value.parameter == "filter"
    clause, params = parse_filter("name = 'a' AND households > 3", None, SUPPORTED[0]).sql(store, layer)
    assert "'a'" not in clause and "3" not in clause and params == ["a", 3]
