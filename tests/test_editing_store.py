"""Versions, the audit log and edits in the store: the same behaviour on GeoPackage and PostGIS."""

from __future__ import annotations

import sqlite3
import threading

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import box

from geo_app.core import audit, editing
from geo_app.core.accounts import Actor
from geo_app.core.demo import load_layer_sources
from geo_app.errors import InvalidParameter
from geo_app.storage import FeatureQuery
from geo_app.storage.audit import APPEND_ONLY_MESSAGE, AUDIT
from geo_app.storage.base import StaleVersion

PLANNER = Actor("planner_li", 7, "planner", "session")
GEOD = Geod(ellps="WGS84")


@pytest.fixture
def demo(store):
    load_layer_sources(store)
    return store


def an_estate(store, **where):
    return store.features("estates", FeatureQuery.where(limit=1, **where))[0]


def geodesic_area(geom) -> float:
    return sum(abs(GEOD.geometry_area_perimeter(part)[0]) for part in getattr(geom, "geoms", [geom]))


def raw_sql(store, sql: str):
    """Run SQL past the app, as someone with the database open in another tool would."""
    if hasattr(store, "path"):
        con = sqlite3.connect(store.path)
        try:
            con.execute(sql)
            con.commit()
        finally:
            con.close()
    else:
        import psycopg

        with psycopg.connect(store.conninfo, options=f"-c search_path={store.schema},public",
                             autocommit=True) as conn:
            conn.execute(sql)


def test_features_carry_a_version_bumped_by_every_update(demo):
    estate = an_estate(demo)
    assert estate.version == 1
    with demo.transaction() as w:
        w.update("estates", estate.id, {"progress_pct": 10})
        w.update("estates", estate.id, {"progress_pct": 20})
    assert demo.get("estates", estate.id).version == 3


def test_a_stale_version_is_refused_and_nothing_is_written(demo):
    estate = an_estate(demo, status="under_construction")
    editing.apply_edit(demo, PLANNER, "estates", estate.id, version=1, properties={"progress_pct": 55},
                       reason="site visit")
    with pytest.raises(StaleVersion) as refused:
        editing.apply_edit(demo, PLANNER, "estates", estate.id, version=1, properties={"progress_pct": 80},
                           reason="from an old form")
    assert refused.value.status == 409
    assert refused.value.current.version == 2 and refused.value.current.properties["progress_pct"] == 55
    now = demo.get("estates", estate.id)
    assert (now.version, now.properties["progress_pct"]) == (2, 55)
    assert demo.audit.count() == 1


def test_every_edit_leaves_exactly_one_record_with_old_and_new(demo):
    estate = an_estate(demo, status="planned")
    result = editing.apply_edit(demo, PLANNER, "estates", estate.id, version=estate.version,
                                properties={"status": "under_construction", "progress_pct": "12.5",
                                            "address": estate.properties["address"]},
                                reason="开工了")
    assert {c["field"] for c in result.changes} == {"status", "progress_pct"}
    [entry] = demo.audit.entries()
    assert (entry.actor, entry.actor_role, entry.layer, entry.feature_id, entry.reason) == (
        "planner_li", "planner", "estates", estate.id, "开工了")
    assert entry.feature_code == estate.properties["code"]
    changes = {c["field"]: (c["old"], c["new"]) for c in entry.changes}
    assert changes == {"status": ("planned", "under_construction"),
                       "progress_pct": (estate.properties["progress_pct"], 12.5)}
    assert entry.at.endswith("Z") and entry.at[:4] >= "2024"


def test_an_edit_that_changes_nothing_records_nothing_and_keeps_the_version(demo):
    estate = an_estate(demo)
    result = editing.apply_edit(demo, PLANNER, "estates", estate.id, version=1,
                                properties={"status": estate.properties["status"]}, reason="checked")
    assert result.changes == []
    assert demo.get("estates", estate.id).version == 1 and demo.audit.count() == 0


def test_the_change_and_its_record_commit_together_or_not_at_all(demo, monkeypatch):
    estate = an_estate(demo)

    def broken(self, row):
        raise RuntimeError("disk full while writing the audit record")

    from geo_app.storage.base import Writer

    monkeypatch.setattr(Writer, "append_audit", broken)
    with pytest.raises(RuntimeError):
        editing.apply_edit(demo, PLANNER, "estates", estate.id, version=1, properties={"progress_pct": 99},
                           reason="x")
    assert demo.get("estates", estate.id).properties == estate.properties
    assert demo.get("estates", estate.id).version == 1


def test_bad_fields_are_all_named_and_nothing_is_written(demo):
    estate = an_estate(demo)
    with pytest.raises(editing.FieldErrors) as refused:
        editing.apply_edit(demo, PLANNER, "estates", estate.id, version=1, reason="x",
                           properties={"status": "finished", "progress_pct": "150", "households": "many",
                                       "name": " ", "start_date": "2021-13-40", "code": "NEW"})
    kinds = {name: p.kind for name, p in refused.value.problems.items()}
    assert kinds == {"status": "vocabulary", "progress_pct": "range", "households": "integer",
                     "name": "required", "start_date": "date", "code": "not_editable"}
    assert demo.get("estates", estate.id).version == 1 and demo.audit.count() == 0


def test_a_reason_is_required(demo):
    estate = an_estate(demo)
    with pytest.raises(InvalidParameter) as refused:
        editing.apply_edit(demo, PLANNER, "estates", estate.id, version=1, properties={"progress_pct": 5},
                           reason="   ")
    assert refused.value.parameter == "reason"


def test_the_audit_log_refuses_update_delete_and_truncate_from_any_client(demo):
    estate = an_estate(demo)
    editing.apply_edit(demo, PLANNER, "estates", estate.id, version=1, properties={"progress_pct": 1},
                       reason="first")
    statements = [f"UPDATE {AUDIT} SET reason = 'rewritten'", f"DELETE FROM {AUDIT}"]
    if not hasattr(demo, "path"):
        statements.append(f"TRUNCATE {AUDIT}")
    for sql in statements:
        with pytest.raises(Exception, match="append-only"):
            raw_sql(demo, sql)
    [entry] = demo.audit.entries()
    assert entry.reason == "first"
    assert APPEND_ONLY_MESSAGE.startswith("the audit log is append-only")


def test_two_concurrent_edits_from_the_same_version_one_wins_one_is_stale(demo):
    estate = an_estate(demo)
    barrier = threading.Barrier(2)
    outcomes = {}

    def edit(value):
        barrier.wait()
        try:
            editing.apply_edit(demo, PLANNER, "estates", estate.id, version=1, properties={"progress_pct": value},
                               reason=f"set {value}")
            outcomes[value] = "saved"
        except StaleVersion as exc:
            outcomes[value] = exc.current.properties["progress_pct"]

    threads = [threading.Thread(target=edit, args=(v,)) for v in (30, 70)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    [winner] = [v for v, o in outcomes.items() if o == "saved"]
    [loser] = [v for v in outcomes if v != winner]
    assert outcomes[loser] == winner  # the loser is told the value that won
    stored = demo.get("estates", estate.id)
    assert (stored.version, stored.properties["progress_pct"]) == (2, winner)
    [entry] = demo.audit.entries()
    assert entry.changes[0]["new"] == winner


def test_a_boundary_outside_the_district_is_refused_with_the_area_outside(demo):
    estate = an_estate(demo)
    district = shapely.union_all([f.geometry for f in demo.features("district")])
    minx, miny, maxx, maxy = district.bounds
    straddling = box(maxx - 0.001, (miny + maxy) / 2, maxx + 0.004, (miny + maxy) / 2 + 0.003)
    with pytest.raises(editing.BoundaryError) as refused:
        editing.apply_edit(demo, PLANNER, "estates", estate.id, version=1, geometry=straddling, reason="x")
    expected = geodesic_area(straddling.difference(district))
    assert refused.value.reason == "outside_district"
    assert refused.value.details["outside_m2"] == pytest.approx(expected, rel=0.01)
    assert demo.get("estates", estate.id).version == 1


def test_an_overlapping_boundary_needs_confirmation_and_reports_the_shared_area(demo):
    a, b = demo.features("estates", FeatureQuery(limit=2, order_by="code"))
    # a's new boundary: its own shape plus a strip over the middle of b's.
    strip = b.geometry.centroid.buffer(0.0005)
    new_shape = shapely.union(a.geometry, strip)
    if new_shape.geom_type == "MultiPolygon" and len(new_shape.geoms) > 1:
        new_shape = shapely.convex_hull(new_shape)
    with pytest.raises(editing.OverlapNotConfirmed) as refused:
        editing.apply_edit(demo, PLANNER, "estates", a.id, version=1, geometry=new_shape, reason="redraw")
    overlaps = {o["code"]: o["overlap_m2"] for o in refused.value.overlaps}
    others = demo.features("estates", FeatureQuery(intersects=new_shape))
    expected = {o.properties["code"]: geodesic_area(new_shape.intersection(o.geometry)) for o in others
                if o.id != a.id and geodesic_area(new_shape.intersection(o.geometry)) > 1}
    assert b.properties["code"] in overlaps
    assert overlaps == pytest.approx(expected, rel=0.001)
    assert demo.get("estates", a.id).version == 1
    result = editing.apply_edit(demo, PLANNER, "estates", a.id, version=1, geometry=new_shape, reason="redraw",
                                confirm_overlap=True)
    [geometry_change] = [c for c in result.changes if c["field"] == "geometry"]
    assert geometry_change["old"]["area_m2"] == pytest.approx(geodesic_area(a.geometry), rel=1e-3)
    assert geometry_change["new"]["area_m2"] == pytest.approx(geodesic_area(new_shape), rel=1e-3)
    assert shapely.geometry.shape(geometry_change["old"]["geojson"]).equals_exact(a.geometry, 1e-9)
    assert demo.get("estates", a.id).properties["land_area_m2"] == pytest.approx(geodesic_area(new_shape), rel=1e-3)


def test_value_as_of_walks_back_through_the_history(demo):
    estate = an_estate(demo)
    steps = [("2021-06-10T00:00:00.000000Z", 10), ("2021-06-25T00:00:00.000000Z", 20),
             ("2021-07-05T00:00:00.000000Z", 40)]
    version = 1
    for at, value in steps:
        editing.apply_edit(demo, PLANNER, "estates", estate.id, version=version,
                           properties={"progress_pct": value}, reason="monthly", at=at)
        version += 1
    entries = demo.audit.entries(audit.audit_filter(layer="estates", feature_id=estate.id))
    assert [e.at for e in entries] == sorted((s[0] for s in steps), reverse=True)
    original = estate.properties["progress_pct"]
    assert audit.value_as_of(entries, "progress_pct", 40, "2021-06-01T00:00:00Z") == original
    assert audit.value_as_of(entries, "progress_pct", 40, "2021-06-30T16:00:00Z") == 20
    assert audit.value_as_of(entries, "progress_pct", 40, "2021-08-01T00:00:00Z") == 40


def test_audit_export_filters_and_formats(demo):
    first, second = demo.features("estates", FeatureQuery(limit=2))
    editing.apply_edit(demo, PLANNER, "estates", first.id, version=1, properties={"progress_pct": 3},
                       reason="=HYPERLINK(\"x\")", at="2021-07-01T01:00:00.000000Z")
    other = Actor("wang", 8, "planner", "token", 3)
    editing.apply_edit(demo, other, "estates", second.id, version=1, properties={"status": "completed"},
                       reason="验收", at="2021-07-02T01:00:00.000000Z")
    mine = demo.audit.entries(audit.audit_filter(actor="wang"))
    assert [e.feature_id for e in mine] == [second.id]
    dated = demo.audit.entries(audit.audit_filter(since="2021-07-01T12:00:00Z"))
    assert [e.actor for e in dated] == ["wang"]
    text = audit.export_csv(demo.audit.entries()).decode("utf-8")
    assert text.startswith("\ufeffid,at,actor")
    assert "'=HYPERLINK" in text and "验收" in text
    import json

    records = json.loads(audit.export_json(demo.audit.entries()))["records"]
    assert [r["actor"] for r in records] == ["wang", "planner_li"]
