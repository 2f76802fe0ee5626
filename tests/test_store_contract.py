"""The storage contract: the same behaviour from the GeoPackage and the PostGIS backend."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import shapely
import shapely.affinity
from pyproj import Geod
from shapely.geometry import Polygon, box, mapping

from geo_app.errors import Conflict, InvalidParameter, NotFound, StoreError, ValidationError
from geo_app.layers import FieldDef
from geo_app.storage import FeatureQuery, Measure, open_store

GEOD = Geod(ellps="WGS84")
HOSTILE = '<img src=x onerror=alert(1)>"\'</script>'


def estate(code, *, office="临城街道", status="planned", batch=2021, households=100, floor=10000.0,
           progress=None, geom=None, **extra):
    geom = geom if geom is not None else box(117.25, 34.79, 117.252, 34.7915)
    props = {"code": code, "name": f"小区{code}", "street_office": office, "status": status, "batch": batch,
             "households": households, "floor_area_m2": floor, "progress_pct": progress, **extra}
    return {"type": "Feature", "properties": props, "geometry": mapping(geom)}


def test_new_store_exists_only_after_initialise(store_url, layers):
    s = open_store(store_url, layers)
    try:
        assert not s.exists()
        s.initialise()
        assert s.exists()
        assert s.revision() == 0
        s.initialise()  # idempotent
        assert s.revision() == 0
    finally:
        s.drop()
        s.close()


def test_written_features_read_back_exactly(store):
    geom = Polygon([(117.25, 34.79), (117.253, 34.79), (117.253, 34.792), (117.25, 34.792)])
    props = dict(name=HOSTILE, address="泰山路１号 ‘引号’", year_built=1988, buildings=7,
                 inv_subsidy=123.4, items_planned="roads,parking", items_done="roads",
                 management="property_company", planned_start="2021-03-01", start_date="2021-04-15")
    with store.transaction() as w:
        [new_id] = w.insert("estates", [estate("E-1", geom=geom, progress=42.5, **props)])
    got = store.get("estates", new_id)
    for key, value in props.items():
        assert got.properties[key] == value, key
    assert got.properties["progress_pct"] == 42.5
    assert got.geometry.geom_type == "MultiPolygon"  # a Polygon is stored as its layer's type
    assert shapely.equals_exact(got.geometry.geoms[0], geom, tolerance=1e-9)


def test_a_read_can_ask_for_only_some_fields(store):
    props = dict(year_built=1988, start_date="2021-04-15", inv_subsidy=123.4)
    with store.transaction() as w:
        w.insert("estates", [estate("E-1", progress=42.5, **props)])
    [got] = store.features("estates", FeatureQuery.where(fields=["code", "start_date", "progress_pct", "inv_subsidy"]))
    # The same plain values as a full read, and nothing else.
    assert got.properties == {"code": "E-1", "start_date": "2021-04-15", "progress_pct": 42.5, "inv_subsidy": 123.4}
    assert got.geometry.geom_type == "MultiPolygon"
    with pytest.raises(InvalidParameter, match="no field 'colour'"):
        store.features("estates", FeatureQuery.where(fields=["code", "colour"]))


def test_land_area_is_computed_geodesically_not_typed_in(store):
    geom = box(117.25, 34.79, 117.26, 34.80)
    with store.transaction() as w:
        [new_id] = w.insert("estates", [estate("E-1", geom=geom, land_area_m2=1.0)])
    expected = abs(GEOD.geometry_area_perimeter(geom)[0])
    assert store.get("estates", new_id).properties["land_area_m2"] == pytest.approx(expected, abs=0.1)
    assert 1_000_000 < expected < 1_030_000  # 0.01° x 0.01° at 34.8°N is ~912 m x 1109 m


def test_filters_by_street_office_status_batch_and_ids(store):
    with store.transaction() as w:
        ids = w.insert("estates", [
            estate("A", office="临城街道", status="planned", batch=2021),
            estate("B", office="常庄街道", status="completed", batch=2020,
                   geom=box(117.21, 34.79, 117.212, 34.792)),
            estate("C", office="临城街道", status="completed", batch=2020,
                   geom=box(117.26, 34.79, 117.262, 34.792)),
        ])

    def codes(**kw):
        return [f.properties["code"] for f in store.features("estates", FeatureQuery.where(**kw))]

    assert codes(street_office="临城街道") == ["A", "C"]
    assert codes(status=["completed"]) == ["B", "C"]
    assert codes(batch=2020, street_office="临城街道") == ["C"]
    assert codes(ids=[ids[1]]) == ["B"]
    assert codes(status=[]) == []
    assert codes(order_by="code", limit=2, offset=1) == ["B", "C"]
    assert store.count("estates", FeatureQuery.where(status="completed")) == 2


def test_bbox_keeps_only_shapes_that_really_meet_the_box(store):
    l_shape = Polygon([(117.20, 34.70), (117.30, 34.70), (117.30, 34.71), (117.21, 34.71),
                       (117.21, 34.80), (117.20, 34.80)])
    with store.transaction() as w:
        w.insert("estates", [estate("L", geom=l_shape), estate("far", geom=box(118, 35, 118.01, 35.01))])

    def codes(bbox):
        return [f.properties["code"] for f in store.features("estates", FeatureQuery.where(bbox=bbox))]

    assert codes((117.19, 34.69, 117.31, 34.81)) == ["L"]
    assert codes((117.25, 34.75, 117.28, 34.78)) == []  # inside the L's envelope, outside its shape
    assert codes((117.995, 34.995, 118.005, 35.005)) == ["far"]
    assert store.count("estates", FeatureQuery.where(bbox=(117.25, 34.75, 117.28, 34.78))) == 0
    inside_envelope_only = store.aggregate("estates", [], [Measure("n", "count")],
                                           FeatureQuery.where(bbox=(117.25, 34.75, 117.28, 34.78)))
    assert inside_envelope_only[0]["n"] == 0


def test_filter_values_are_typed_by_their_column(store):
    with store.transaction() as w:
        w.insert("estates", [estate("A", batch=2021)])
    assert store.count("estates", FeatureQuery.where(batch="2021")) == 1
    with pytest.raises(InvalidParameter, match="batch"):
        store.count("estates", FeatureQuery.where(batch="soon"))


def test_every_commit_bumps_the_revision_once(store):
    assert store.revision() == 0
    with store.transaction() as w:
        w.insert("estates", [estate("A")])
        w.insert("estates", [estate("B", geom=box(117.26, 34.79, 117.262, 34.792))])
    assert store.revision() == 1
    with store.transaction() as w:
        w.update("estates", store.features("estates")[0].id, {"status": "under_construction", "progress_pct": 10})
    assert store.revision() == 2


def test_revision_is_seen_by_another_process_view_of_the_store(store, store_url, layers):
    other = open_store(store_url, layers)  # what a second worker process opens
    try:
        before = other.revision()
        with store.transaction() as w:
            w.insert("estates", [estate("A")])
        assert other.revision() == before + 1
        assert [f.properties["code"] for f in other.features("estates")] == ["A"]
    finally:
        other.close()


def test_failed_transaction_leaves_nothing_behind(store):
    with store.transaction() as w:
        w.insert("estates", [estate("KEEP")])
    with pytest.raises(ValidationError, match="households"):
        with store.transaction() as w:
            w.clear("estates")
            w.insert("estates", [estate("NEW-1")])
            w.insert("estates", [estate("NEW-2", households=-5)])
    assert [f.properties["code"] for f in store.features("estates")] == ["KEEP"]
    assert store.revision() == 1


def test_duplicate_code_is_a_conflict_and_rolls_back(store):
    with store.transaction() as w:
        w.insert("estates", [estate("DUP")])
    with pytest.raises(Conflict, match="estates"):
        with store.transaction() as w:
            w.insert("estates", [estate("OTHER"), estate("DUP")])
    assert store.count("estates") == 1
    assert store.revision() == 1


def _columns(codes: list[str], **fields) -> tuple[dict, np.ndarray]:
    """Bulk-load columns (object arrays) for estates with these codes, side by side 300 m apart."""
    n = len(codes)
    columns = {"code": codes, "name": [f"小区{c}" for c in codes], "street_office": ["临城街道"] * n,
               "status": ["planned"] * n, **fields}
    geoms = np.array([box(117.25 + 0.004 * i, 34.79, 117.252 + 0.004 * i, 34.7915) for i in range(n)], dtype=object)
    return {name: np.array(values, dtype=object) for name, values in columns.items()}, geoms


def test_a_bulk_load_in_parts_reads_back_exactly_missing_values_as_null(store):
    first = _columns(["B-1", "B-2"], households=[120, None], floor_area_m2=[None, 8000.5],
                     address=["泰山路１号", None], start_date=[None, "2021-04-15"])
    second = _columns(["B-3"], households=[None], floor_area_m2=[None], address=[None], start_date=[None])
    second[1][0] = shapely.affinity.translate(second[1][0], 0.012)
    with store.transaction() as w:
        with w.bulk_load("estates") as load:
            assert load.add(*first) == 2 and load.add(*second) == 1
    got = {f.properties["code"]: f.properties for f in store.features("estates")}
    assert [(got[c]["households"], got[c]["floor_area_m2"], got[c]["address"], got[c]["start_date"])
            for c in ("B-1", "B-2", "B-3")] == [(120, None, "泰山路１号", None), (None, 8000.5, None, "2021-04-15"),
                                                (None, None, None, None)]
    assert all(got[c]["land_area_m2"] > 0 for c in got)
    assert [f.properties["code"] for f in store.features("estates", FeatureQuery.where(
        bbox=(117.2625, 34.7905, 117.2635, 34.791)))] == ["B-3"]  # the spatial index holds every part


def test_a_bulk_load_ended_early_takes_no_more_rows_and_commits_what_it_had(store):
    # An import ends its load once the file is read and commits after its last checks: the indexes
    # set aside (a load announced as big, into an empty layer) are back before the commit.
    with store.transaction() as w:
        with w.bulk_load("estates", 2000) as load:
            load.add(*_columns(["E-1", "E-2", "E-3"]))
            load.finish()
            load.finish()  # (idempotent)
            with pytest.raises(StoreError, match="has ended"):
                load.add(*_columns(["LATE"]))
    assert sorted(f.properties["code"] for f in store.features("estates")) == ["E-1", "E-2", "E-3"]
    assert [f.properties["code"] for f in store.features("estates", FeatureQuery.where(
        bbox=(117.2535, 34.7905, 117.2545, 34.791)))] == ["E-2"]
    assert store.revision() == 1


def test_a_big_bulk_load_into_an_empty_layer_still_refuses_a_code_twice(store):
    # A load announced as big, into an empty layer, builds its indexes once at the end (GeoPackage:
    # the unique code index too): a code given twice is refused then, naming it, and nothing lands.
    with pytest.raises(Conflict, match="TWICE"):
        with store.transaction() as w:
            with w.bulk_load("estates", 2000) as load:
                load.add(*_columns(["ONCE", "TWICE"]))
                load.add(*_columns(["TWICE"]))
    assert store.count("estates") == 0
    assert store.revision() == 0


def test_a_bulk_load_keeps_every_value_exactly(store):
    # The rows travel as Arrow arrays (GeoPackage: through a scratch file; PostGIS: COPY): a double
    # needing all 17 digits, the largest 32-bit integer and text of every script must come back bit for bit.
    columns, geoms = _columns(["X-1", "X-2"], floor_area_m2=[0.1 + 0.2, 1e-300], households=[2**31 - 1, 0],
                              address=["泰山路１号 ‘引号’ \"quote\" \\ back\nline", "𠀋𡈽 emoji 🏠"])
    with store.transaction() as w:
        w.insert_columns("estates", columns, geoms)
    got = {f.properties["code"]: f.properties for f in store.features("estates")}
    assert (got["X-1"]["floor_area_m2"], got["X-2"]["floor_area_m2"]) == (0.30000000000000004, 1e-300)
    assert (got["X-1"]["households"], got["X-2"]["households"]) == (2**31 - 1, 0)
    assert got["X-1"]["address"] == "泰山路１号 ‘引号’ \"quote\" \\ back\nline"
    assert got["X-2"]["address"] == "𠀋𡈽 emoji 🏠"


@pytest.mark.parametrize("households, message", [
    (3_000_000_000, "households' = 3000000000 is outside 0…2147483647"),
    (1e20, "households' must be integer"),  # not a count: no 8-byte integer holds it either
])
def test_a_bulk_load_refuses_a_count_no_store_can_keep(store, households, message):
    with pytest.raises(ValidationError, match=message) as info:
        with store.transaction() as w:
            w.insert_columns("estates", *_columns(["OK-1", "HUGE-2"], households=[10, households]))
    assert "feature #2 (HUGE-2)" in str(info.value)
    assert store.count("estates") == 0


def test_a_big_bulk_load_into_a_layer_with_rows_indexes_old_and_new_alike(store):
    # A load bigger than the layer builds its indexes anew once it ends (GeoPackage: the R-tree is
    # packed again with the stored entries): stored and new rows are both found by place.
    with store.transaction() as w:
        w.insert("estates", [estate("OLD-A", geom=box(117.20, 34.70, 117.201, 34.701)),
                             estate("OLD-B", geom=box(117.30, 34.70, 117.301, 34.701))])
    with store.transaction() as w:
        with w.bulk_load("estates", 2000) as load:
            load.add(*_columns([f"N-{i}" for i in range(40)]))
    assert store.count("estates") == 42
    assert [f.properties["code"] for f in store.features("estates", FeatureQuery.where(
        bbox=(117.1995, 34.6995, 117.2015, 34.7015)))] == ["OLD-A"]
    assert [f.properties["code"] for f in store.features("estates", FeatureQuery.where(
        bbox=(117.2535, 34.7905, 117.2545, 34.791)))] == ["N-1"]
    with store.transaction() as w:  # and a later edit still keeps the index right
        w.delete("estates", [f.id for f in store.features("estates") if f.properties["code"] == "OLD-A"])
    assert not list(store.features("estates", FeatureQuery.where(bbox=(117.1995, 34.6995, 117.2015, 34.7015))))


def test_a_small_bulk_load_giving_a_stored_code_is_refused_naming_it(store):
    # A load smaller than the layer keeps its unique index while it writes: the clash is found
    # then, and the message names the code.
    with store.transaction() as w:
        w.insert("estates", [estate(f"S-{i}", geom=box(117.20 + 0.004 * i, 34.70, 117.202 + 0.004 * i, 34.7015))
                             for i in range(3)])
    with pytest.raises(Conflict, match="S-1"):
        with store.transaction() as w:
            w.insert_columns("estates", *_columns(["FRESH", "S-1"]))
    assert sorted(f.properties["code"] for f in store.features("estates")) == ["S-0", "S-1", "S-2"]
    assert store.revision() == 1


def test_a_bulk_load_that_fails_half_way_cannot_be_committed(store):
    with store.transaction() as w:
        w.insert("estates", [estate("KEEP")])
    with pytest.raises(StoreError, match="bulk load failed"):
        with store.transaction() as w:
            try:
                with w.bulk_load("estates", 2000) as load:
                    load.add(*_columns(["B-1", "B-2"]))
                    load.add(*_columns(["B-3"], households=[-4]))  # refused before it is written
            except ValidationError:
                pass  # a caller that goes on must not commit the first part alone
    assert [f.properties["code"] for f in store.features("estates")] == ["KEEP"]
    assert store.revision() == 1


@pytest.mark.parametrize("bad, message", [
    (dict(status="finished"), "unknown status code"),
    (dict(households=-1), "households"),
    (dict(households=3_000_000_000), "households' = 3000000000 is outside 0…2147483647"),  # beyond 4 bytes
    (dict(progress=101), "progress_pct"),
    (dict(name=None), "'name' is required"),
    (dict(items_planned="roads,flying_cars"), "flying_cars"),
    (dict(planned_start="next spring"), "planned_start"),
    (dict(geom=Polygon([(117.25, 34.79), (117.26, 34.80), (117.26, 34.79), (117.25, 34.80)])), "invalid geometry"),
    (dict(geom=box(500000, 3850000, 500100, 3850100)), "not WGS84"),
])
def test_bad_features_are_refused_naming_feature_and_field(store, bad, message):
    with pytest.raises(ValidationError, match=message) as info:
        with store.transaction() as w:
            w.insert("estates", [estate("OK-1"), estate("BAD-7", **bad)])
    assert "estates feature #2 (BAD-7)" in str(info.value)
    assert store.count("estates") == 0


def test_update_changes_properties_geometry_and_recomputes_area(store):
    with store.transaction() as w:
        [fid] = w.insert("estates", [estate("U")])
    bigger = box(117.25, 34.79, 117.255, 34.795)
    with store.transaction() as w:
        w.update("estates", fid, {"status": "completed", "progress_pct": 100}, geometry=bigger)
    got = store.get("estates", fid)
    assert (got.properties["status"], got.properties["progress_pct"]) == ("completed", 100)
    assert got.properties["land_area_m2"] == pytest.approx(abs(GEOD.geometry_area_perimeter(bigger)[0]), abs=0.1)
    assert got.properties["name"] == "小区U"  # untouched fields stay
    with pytest.raises(NotFound):
        with store.transaction() as w:
            w.update("estates", fid + 1000, {"status": "completed"})


def test_delete_and_not_found(store):
    with store.transaction() as w:
        ids = w.insert("estates", [estate("A"), estate("B", geom=box(117.26, 34.79, 117.262, 34.792))])
    with store.transaction() as w:
        assert w.delete("estates", [ids[0]]) == 1
    assert [f.properties["code"] for f in store.features("estates")] == ["B"]
    with pytest.raises(NotFound):
        store.get("estates", ids[0])


def test_aggregate_sums_and_weights_progress_by_floor_area(store):
    with store.transaction() as w:
        w.insert("estates", [
            estate("A", floor=30000, progress=100, households=300),
            estate("B", floor=10000, progress=0, households=100, geom=box(117.26, 34.79, 117.262, 34.792)),
            estate("C", office="常庄街道", floor=5000, progress=None, households=50,
                   geom=box(117.21, 34.79, 117.212, 34.792)),
        ])
    rows = store.aggregate("estates", ["street_office"], [
        Measure("n", "count"), Measure("households", "sum", "households"),
        Measure("progress", "weighted_mean", "progress_pct", "floor_area_m2")])
    by_office = {r["street_office"]: r for r in rows}
    assert by_office["临城街道"]["n"] == 2
    assert by_office["临城街道"]["households"] == 400
    assert by_office["临城街道"]["progress"] == pytest.approx(75.0)
    assert by_office["常庄街道"]["progress"] is None  # no progress reported is not 0 %


def test_points_layer_round_trips(store):
    with store.transaction() as w:
        [fid] = w.insert("facilities", [{"properties": {"code": "F1", "name": "临山小区公厕", "kind": "public_toilet"},
                                         "geometry": {"type": "Point", "coordinates": [117.2512, 34.7901]}}])
    got = store.get("facilities", fid)
    assert (got.geometry.x, got.geometry.y) == (117.2512, 34.7901)


def test_initialise_adds_columns_a_layer_definition_gains(store_url, layers):
    s = open_store(store_url, layers)
    s.initialise()
    with s.transaction() as w:
        w.insert("estates", [estate("OLD")])
    extra = FieldDef(name="community", type="text", label_zh="社区", label_en="Community")
    grown = dict(layers, estates=dataclasses.replace(layers["estates"], fields=(*layers["estates"].fields, extra)))
    s2 = open_store(store_url, grown)
    try:
        s2.initialise()
        with s2.transaction() as w:
            w.insert("estates", [estate("NEW", community="龙潭社区", geom=box(117.26, 34.79, 117.262, 34.792))])
        rows = {f.properties["code"]: f.properties["community"] for f in s2.features("estates")}
        assert rows == {"OLD": None, "NEW": "龙潭社区"}
    finally:
        s2.drop()
        s2.close()
        s.close()


def test_item_and_name_filters(store):
    with store.transaction() as w:
        w.insert("estates", [
            estate("A", name="临山小区", items_planned="roads,street_lights"),
            estate("B", name="江南小区", items_planned="greening", geom=box(117.26, 34.79, 117.262, 34.792)),
            estate("C", name="100%_小区", items_planned=None, geom=box(117.21, 34.79, 117.212, 34.792)),
        ])

    def codes(**kw):
        return [f.properties["code"] for f in store.features("estates", FeatureQuery.where(**kw))]

    assert codes(contains={"items_planned": ["street_lights"]}) == ["A"]
    assert codes(contains={"items_planned": ["greening", "roads"]}) == ["A", "B"]
    assert codes(contains={"items_planned": ["lights"]}) == []  # whole codes only
    assert codes(text={"name": "山"}) == ["A"]
    assert codes(text={"name": "%"}) == ["C"]  # user text is literal, not a pattern
    assert codes(text={"name": "_"}) == ["C"]


def test_intersects_a_drawn_polygon(store):
    with store.transaction() as w:
        w.insert("estates", [estate("A"), estate("B", geom=box(117.26, 34.79, 117.262, 34.792))])
    triangle = Polygon([(117.249, 34.789), (117.2525, 34.789), (117.249, 34.7925)])  # touches A only
    found = store.features("estates", FeatureQuery.where(intersects=triangle))
    assert [f.properties["code"] for f in found] == ["A"]
    assert store.count("estates", FeatureQuery.where(intersects=box(0, 0, 1, 1))) == 0


def test_nearby_is_geodesic_distance_to_the_edge_with_bearing(store):
    # A 100 m x 100 m-ish estate centred 1 km north of the point, another around the point.
    lon, lat = 117.25, 34.79
    north = box(lon - 0.0005, lat + 0.0085, lon + 0.0005, lat + 0.0095)
    with store.transaction() as w:
        w.insert("estates", [estate("AROUND", geom=box(lon - 0.001, lat - 0.001, lon + 0.001, lat + 0.001)),
                             estate("NORTH", geom=north),
                             estate("FAR", geom=box(lon + 0.2, lat, lon + 0.201, lat + 0.001))])
    found = store.nearby("estates", lon, lat, 1000, 10)
    assert [(f.properties["code"]) for f, _, _ in found] == ["AROUND", "NORTH"]
    (_, inside, no_bearing), (_, distance, bearing) = found
    assert inside == 0 and no_bearing is None
    expected = GEOD.inv(lon, lat, lon, lat + 0.0085)[2]
    assert distance == pytest.approx(expected, abs=0.5)
    assert bearing == pytest.approx(0, abs=0.5) or bearing == pytest.approx(360, abs=0.5)
    assert [f.properties["code"] for f, _, _ in store.nearby("estates", lon, lat, None, 3)] == ["AROUND", "NORTH", "FAR"]
    assert store.nearby("estates", lon, lat, 500, 10, FeatureQuery.where(status="completed")) == []


def test_intersection_areas_between_layers_and_within_one(store):
    with store.transaction() as w:
        w.insert("street_offices", [
            {"properties": {"code": "w", "name": "西", "kind": "street"}, "geometry": mapping(box(117.0, 34.0, 117.25, 35.0))},
            {"properties": {"code": "e", "name": "东", "kind": "street"}, "geometry": mapping(box(117.25, 34.0, 117.5, 35.0))}])
        ids = w.insert("estates", [estate("STRADDLE", geom=box(117.249, 34.79, 117.252, 34.791)),
                                   estate("OVERLAP", geom=box(117.251, 34.79, 117.253, 34.791))])
    pairs = store.intersection_areas("estates", "street_offices")
    by_estate = {}
    for estate_id, office_id, area in pairs:
        by_estate.setdefault(estate_id, []).append(area)
    assert len(by_estate[ids[0]]) == 2  # the straddler meets both offices
    assert sum(by_estate[ids[0]]) == pytest.approx(store.get("estates", ids[0]).properties["land_area_m2"], rel=1e-4)
    [(a, b, area)] = store.intersection_areas("estates", "estates")
    assert (a, b) == (ids[0], ids[1]) and area == pytest.approx(
        abs(GEOD.geometry_area_perimeter(box(117.251, 34.79, 117.252, 34.791))[0]), rel=1e-3)
    assert store.invalid_geometries("estates") == []
