"""GeoPackage bulk loads go through a scratch file beside the store (`storage.gpkg_staging`): it
must never outlive the transaction, and what lands must be an ordinary, consistent GeoPackage."""

from __future__ import annotations

import sqlite3

import numpy as np
import pyogrio
import pytest
from shapely.geometry import box

from geo_app.errors import Conflict, ValidationError
from geo_app.storage import open_store


@pytest.fixture
def gpkg(tmp_path, layers):
    store = open_store(f"gpkg://{tmp_path / 'store' / 'geo_app.gpkg'}", layers)
    store.initialise()
    yield store
    store.close()


def _columns(codes: list[str], **fields):
    n = len(codes)
    columns = {"code": codes, "name": [f"小区{c}" for c in codes], "street_office": ["临城街道"] * n,
               "status": ["planned"] * n, **fields}
    geoms = np.array([box(117.25 + 0.004 * i, 34.79, 117.252 + 0.004 * i, 34.7915) for i in range(n)], dtype=object)
    return {name: np.array(values, dtype=object) for name, values in columns.items()}, geoms


def _beside(store) -> list[str]:
    return sorted(p.name for p in store.path.parent.iterdir() if not p.name.startswith(store.path.name))


def test_the_scratch_file_is_gone_after_a_commit_and_after_a_refusal(gpkg):
    with gpkg.transaction() as w:
        with w.bulk_load("estates", 2000) as load:
            load.add(*_columns(["A-1", "A-2"]))
            assert _beside(gpkg), "the load stages its rows in a scratch file beside the store"
    assert _beside(gpkg) == []
    with pytest.raises(Conflict, match="A-2"):  # refused when the rows are moved in
        with gpkg.transaction() as w:
            w.insert_columns("estates", *_columns(["B-1", "A-2"]))
    assert _beside(gpkg) == []
    with pytest.raises(ValidationError):  # refused half-way, before the end of the load
        with gpkg.transaction() as w:
            with w.bulk_load("estates", 2000) as load:
                load.add(*_columns(["C-1"]))
                load.add(*_columns(["C-2"], households=[-1]))
    assert _beside(gpkg) == []
    assert sorted(f.properties["code"] for f in gpkg.features("estates")) == ["A-1", "A-2"]


def test_after_big_loads_into_a_layer_with_rows_the_file_is_consistent_for_sqlite_and_gdal(gpkg):
    with gpkg.transaction() as w:
        w.insert_columns("estates", *_columns(["OLD-1", "OLD-2", "OLD-3"]))
    with gpkg.transaction() as w:
        with w.bulk_load("estates", 2000) as load:
            load.add(*_columns([f"NEW-{i}" for i in range(30)]))
    gpkg.close()
    con = sqlite3.connect(gpkg.path)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert con.execute("SELECT rtreecheck('rtree_estates_geom')").fetchone() == ("ok",)
    assert con.execute("SELECT COUNT(*) FROM rtree_estates_geom").fetchone() == (33,)
    con.close()
    info = pyogrio.read_info(gpkg.path, layer="estates")
    assert info["features"] == 33 and info["capabilities"]["fast_spatial_filter"]


def test_one_store_takes_many_bulk_loads_in_a_row(gpkg):
    # Each load attaches its scratch file to the store's connection for its transaction; SQLite
    # allows ten at a time, so each must be let go of when its transaction ends.
    for i in range(12):
        with gpkg.transaction() as w:
            w.insert_columns("estates", *_columns([f"R{i}-1", f"R{i}-2"]))
    assert gpkg.count("estates") == 24


def test_a_scratch_file_left_by_a_dead_process_goes_with_the_next_load(gpkg):
    # A process killed mid-import leaves its scratch file; the store's next load (under the write
    # lock, so no live load owns it) removes it, and leaves another store's files alone.
    folder = gpkg.path.parent
    (folder / f".{gpkg.path.name}.load-dead1234.sqlite").write_bytes(b"x" * 1000)
    (folder / ".other.gpkg.load-live5678.sqlite").write_bytes(b"y")
    with gpkg.transaction() as w:
        w.insert_columns("estates", *_columns(["K-1"]))
    assert _beside(gpkg) == [".other.gpkg.load-live5678.sqlite"]


def test_a_store_in_a_folder_named_with_url_characters_loads_into_itself(tmp_path, layers):
    # The scratch file is opened by a second SQLite library (ADBC's): a folder name with '#', '?',
    # '%' or Chinese must not send it elsewhere.
    folder = tmp_path / "备份 #1?x=%20"
    store = open_store(f"gpkg://{folder / 'geo_app.gpkg'}", layers)
    store.initialise()
    with store.transaction() as w:
        w.insert_columns("estates", *_columns(["U-1", "U-2"]))
    assert sorted(f.properties["code"] for f in store.features("estates")) == ["U-1", "U-2"]
    store.close()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["geo_app.gpkg", "备份 #1?x=%20"]
