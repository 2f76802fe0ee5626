"""The demo data, loaded into each backend, reproduces the housing bureau's letter of 2021-07-20."""

from __future__ import annotations

import pytest

from geo_app.core.stats import estate_stats
from geo_app.storage import FeatureQuery


def rows_by_key(store, group_by):
    return {tuple(r["key"].values()): r for r in estate_stats(store, group_by)["rows"]}


def sum_rows(rows, field):
    return sum(r[field] for r in rows)


def test_2014_to_2018_batch(demo_store):
    rows = [r for (batch, _), r in rows_by_key(demo_store, "batch").items() if batch and 2014 <= batch <= 2018]
    assert sum_rows(rows, "estates") == 13
    assert 10_000 < sum_rows(rows, "households") < 10_700  # 受益群众达1万余户
    assert sum_rows(rows, "floor_area_m2") == pytest.approx(650_000, rel=0.005)  # 整治面积达65万平方米
    assert 9_000 < sum_rows(rows, "investment_wan") < 9_700  # 已投入9000余万元
    names = {f.properties["name"] for f in demo_store.features(
        "estates", FeatureQuery.where(batch=[2014, 2015, 2016, 2017, 2018], with_geometry=False))}
    assert {"临山小区", "江南小区", "福泉小区", "八一小区"} <= names


def test_2019_utilities_handover(demo_store):
    rows = [r for (batch, _), r in rows_by_key(demo_store, "batch").items() if batch == 2019]
    mining = next(r for r in rows if "枣矿" in r["label"])
    railway = next(r for r in rows if "房建" in r["label"])
    assert mining["estates"] == 23 and 5_600 < mining["households"] < 6_000
    assert 500_000 < mining["floor_area_m2"] < 540_000
    assert railway["estates"] == 1 and 1_000 < railway["households"] < 1_200
    assert 60_000 < railway["floor_area_m2"] < 66_000


def test_2020_batch(demo_store):
    row = rows_by_key(demo_store, "batch")[(2020, None)]
    assert (row["estates"], row["households"]) == (58, 11_645)
    assert 1_380_000 < row["floor_area_m2"] < 1_400_000
    assert row["status_counts"]["completed"] + row["status_counts"]["accepted"] == 58  # 目前已完成改造
    offices = {f.properties["street_office"] for f in demo_store.features(
        "estates", FeatureQuery.where(batch=2020, with_geometry=False))}
    assert offices == {"临城街道", "巨山街道", "常庄街道"}
    assert demo_store.count("zones", FeatureQuery.where(batch=2020)) == 20


def test_2021_batch_as_of_the_letter(demo_store):
    row = rows_by_key(demo_store, "batch")[(2021, None)]
    assert (row["estates"], row["households"], row["buildings"]) == (65, 7_447, 311)
    assert row["floor_area_m2"] == pytest.approx(760_000, rel=0.015)  # 约76万平方米
    assert row["investment_wan"] == pytest.approx(15_000, rel=0.04)  # 概算总投资约1.5亿元
    assert row["progress_pct"] == pytest.approx(75.0, abs=0.1)  # 已完成工程总量的75%
    offices = {f.properties["street_office"] for f in demo_store.features(
        "estates", FeatureQuery.where(batch=2021, with_geometry=False))}
    assert offices == {"临城街道", "常庄街道", "新城街道"}
    assert demo_store.count("zones", FeatureQuery.where(batch=2021)) == 5


def test_district_totals(demo_store):
    total = estate_stats(demo_store, "batch")["total"]
    assert 160 < total["estates"] < 170  # 约160余个
    assert total["households"] == pytest.approx(38_000, rel=0.015)  # 3.8万户
    assert total["floor_area_m2"] == pytest.approx(3_500_000, rel=0.015)  # 350余万平方米
    assert total["status_counts"]["unscheduled"] > 0


def test_street_office_table_covers_all_nine(demo_store):
    table = estate_stats(demo_store, "street_office")
    assert [r["label"] for r in table["rows"]][:9] and len(table["rows"]) == 9
    assert sum(r["estates"] for r in table["rows"]) == table["total"]["estates"]


def test_facilities_of_the_first_batch(demo_store):
    facilities = demo_store.features("facilities", FeatureQuery(with_geometry=False))
    toilets = [f for f in facilities if f.properties["kind"] == "public_toilet"]
    parking = [f for f in facilities if f.properties["kind"] == "parking_lot"]
    assert len(toilets) == 6  # 新建小区公厕6个
    assert sum(f.properties["capacity"] for f in parking) > 1_600  # 停车位1600余个
