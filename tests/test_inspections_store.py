"""The inspections layer on both backends: made by `initialise` from layers/inspections.toml,
records stored once per client_id, and the planners' questions (latest per estate, since, overdue)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from shapely.geometry import Point, box, mapping

from geo_app.core import inspections as core
from geo_app.core.demo import load_layer_sources
from geo_app.errors import Conflict, InvalidParameter, NotFound
from geo_app.storage import Feature


def add_estates(store, count: int = 3) -> list[int]:
    features = [{"properties": {"code": f"T-{i}", "name": f"测试小区{i}", "street_office": "临城街道" if i else "常庄街道",
                                "status": "under_construction", "items_planned": "roads,greening,pipes",
                                "items_done": "roads"},
                 "geometry": mapping(box(117.30 + i * 0.01, 34.70, 117.305 + i * 0.01, 34.705))} for i in range(count)]
    with store.transaction() as writer:
        return writer.insert("estates", features)


def submission(estate_id: int, client_id: str | None = "client-0001", **changes):
    data = {"lon": 117.301, "lat": 34.701, "verdict": "issues", "accuracy_m": 8,
            "checklist": {"roads": "done", "greening": "problem", "pipes": "problem"}, "notes": "井盖缺失",
            "client_id": client_id}
    data.update(changes)
    return core.parse_submission(estate_id, data)


def test_the_layer_is_created_empty_by_initialise_and_by_a_demo_load(store):
    assert store.count("inspections") == 0
    counts = load_layer_sources(store)  # a layer without a source file is left alone, not an error
    assert "inspections" not in counts and counts["estates"] > 100
    assert store.count("inspections") == 0
    assert store.layers["inspections"].geometry_type == "Point"


def test_a_record_is_stored_with_server_time_and_counted_problems(store):
    estate_id = add_estates(store)[0]
    feature, created = core.record(store, submission(estate_id), "wang", ["a" * 32])
    assert created
    props = feature.properties
    assert props["estate_code"] == "T-0" and props["inspector"] == "wang" and props["problems"] == 2
    assert json.loads(props["checklist"]) == {"roads": "done", "greening": "problem", "pipes": "problem"}
    assert json.loads(props["photos"]) == ["a" * 32]
    stamped = dt.datetime.fromisoformat(props["inspected_at"].replace("Z", "+00:00"))
    assert abs((dt.datetime.now(dt.timezone.utc) - stamped).total_seconds()) < 60
    assert feature.geometry.equals(Point(117.301, 34.701))
    assert props["notes"] == "井盖缺失"


def test_the_same_client_id_is_stored_once(store):
    estate_id = add_estates(store)[0]
    first, created = core.record(store, submission(estate_id), "wang", [])
    again, created_again = core.record(store, submission(estate_id, verdict="pass"), "wang", [])
    assert created and not created_again and again.id == first.id and again.properties["verdict"] == "issues"
    assert store.count("inspections") == 1


def test_the_store_itself_refuses_a_duplicate_client_id(store):
    estate_id = add_estates(store)[0]
    core.record(store, submission(estate_id), "wang", [])
    duplicate = {"estate_id": estate_id, "inspector": "li", "inspected_at": core.now_utc(), "verdict": "pass",
                 "client_id": "client-0001"}
    with pytest.raises(Conflict):
        with store.transaction() as writer:
            writer.insert("inspections", [Feature(None, duplicate, Point(117.3, 34.7))])
    assert store.count("inspections") == 1


def test_a_checklist_item_the_estate_does_not_plan_is_refused(store):
    estate_id = add_estates(store)[0]
    with pytest.raises(InvalidParameter, match="facade.*not planned for estate T-0"):
        core.record(store, submission(estate_id, checklist={"facade": "done"}), "wang", [])
    with pytest.raises(NotFound):
        core.record(store, submission(999_999), "wang", [])
    assert store.count("inspections") == 0


def test_latest_per_estate_since_and_overdue(store):
    a, b, c = add_estates(store)
    core.record(store, submission(a, "client-a1", verdict="fail"), "wang", [])
    core.record(store, submission(a, "client-a2", verdict="pass"), "li", [])
    core.record(store, submission(b, "client-b1"), "wang", [])
    latest = {f.properties["estate_id"]: f.properties["client_id"] for f in core.inspections(store, latest_only=True)}
    assert latest == {a: "client-a2", b: "client-b1"}
    assert [f.properties["client_id"] for f in core.inspections(store, estate_id=a)] == ["client-a2", "client-a1"]
    assert [f.properties["client_id"] for f in core.inspections(store, inspector="li")] == ["client-a2"]
    assert len(core.inspections(store, since=core.parse_since("2000-01-01"))) == 3
    assert core.inspections(store, since=core.parse_since("2999-01-01T00:00:00+08:00")) == []
    assert len(core.inspections(store, limit=2)) == 2
    # Today nothing inspected is overdue but c (never visited); in 40 days all three are.
    overdue = core.overdue_estates(store, 30)
    assert [row["id"] for row in overdue] == [c] and overdue[0]["days_since"] is None
    later = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=40)
    rows = core.overdue_estates(store, 30, today=later)
    assert [row["id"] for row in rows] == [c, a, b] or [row["id"] for row in rows] == [c, b, a]
    assert rows[1]["days_since"] == 40 and {rows[1]["last_verdict"], rows[2]["last_verdict"]} == {"pass", "issues"}
    assert [row["id"] for row in core.overdue_estates(store, 30, street_office="常庄街道", today=later)] == [a]


def test_parse_since_reads_dates_and_zones_as_utc():
    assert core.parse_since("2021-07-20") == "2021-07-20T00:00:00Z"
    assert core.parse_since("2021-07-20T08:00:00+08:00") == "2021-07-20T00:00:00Z"
    with pytest.raises(InvalidParameter):
        core.parse_since("last week")
