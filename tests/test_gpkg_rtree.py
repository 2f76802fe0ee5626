"""The packed R-tree bulk loader (`storage.gpkg_rtree.bulk_fill`) against SQLite's own R*-tree filled
row by row: the same entries to the last float bit, `rtreecheck` 'ok', the same answers to spatial
queries, at every size where the tree's depth changes, and a tree that keeps working through the
GeoPackage triggers afterwards."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
import shapely

from geo_app.storage import gpkg_schema
from geo_app.storage.geopackage import connect, encode_geometries
from geo_app.storage.gpkg_rtree import bulk_fill

CAPACITY = 51  # cells per node at SQLite's default node size for 2-D trees (1228 bytes)
QUERY = "SELECT id FROM {} WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ? ORDER BY id"


def random_boxes(rng, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Unique ids in random order and boxes (minx, miny, maxx, maxy) of 0–1 km over Shandong."""
    ids = rng.permutation(3 * n + 10)[:n].astype(np.int64) + 1
    x, y = rng.uniform(115.0, 122.5, n), rng.uniform(34.4, 38.3, n)
    w, h = rng.uniform(0, 0.01, n), rng.uniform(0, 0.01, n)
    return ids, np.column_stack([x, y, x + w, y + h])


def fill_by_rows(con, table: str, ids, bounds) -> None:
    con.executemany(f'INSERT INTO "{table}" VALUES (?, ?, ?, ?, ?)',
                    zip(ids.tolist(), bounds[:, 0].tolist(), bounds[:, 2].tolist(), bounds[:, 1].tolist(),
                        bounds[:, 3].tolist()))


def two_trees(ids, bounds):
    """An in-memory database with R-tree `bulk` (bulk_fill) and `rows` (filled row by row)."""
    con = sqlite3.connect(":memory:", isolation_level=None)
    for name in ("bulk", "rows"):
        con.execute(f"CREATE VIRTUAL TABLE {name} USING rtree(id, minx, maxx, miny, maxy)")
    con.execute("BEGIN")
    bulk_fill(con, "bulk", ids, bounds)
    fill_by_rows(con, "rows", ids, bounds)
    con.execute("COMMIT")
    return con


def check(con, table: str) -> None:
    assert con.execute(f"SELECT rtreecheck('{table}')").fetchone()[0] == "ok"


def depth(con, table: str) -> int:
    return int.from_bytes(con.execute(f"SELECT substr(data, 1, 2) FROM {table}_node WHERE nodeno = 1").fetchone()[0],
                          "big")


def assert_same_answers(con, rng, a: str, b: str, queries: int = 300) -> int:
    found = 0
    for _ in range(queries):
        x, y, size = rng.uniform(114.9, 122.6), rng.uniform(34.3, 38.4), rng.choice([0.0, 0.005, 0.05, 0.5, 5])
        params = (x + size, x, y + size, y)
        got = con.execute(QUERY.format(a), params).fetchall()
        assert got == con.execute(QUERY.format(b), params).fetchall()
        found += len(got)
    return found


@pytest.mark.parametrize("n, expected_depth", [
    (0, 0), (1, 0), (CAPACITY, 0), (CAPACITY + 1, 1), (CAPACITY ** 2, 1), (CAPACITY ** 2 + 1, 2), (100_000, 2),
])
def test_bulk_tree_holds_what_row_by_row_holds(n, expected_depth):
    rng = np.random.default_rng(n)
    ids, bounds = random_boxes(rng, n)
    con = two_trees(ids, bounds)
    check(con, "bulk")
    assert depth(con, "bulk") == expected_depth
    # The same entries, float for float: doubles are rounded outwards exactly as SQLite rounds them.
    assert con.execute("SELECT * FROM bulk ORDER BY id").fetchall() == con.execute("SELECT * FROM rows ORDER BY id").fetchall()
    assert con.execute("SELECT count(*) FROM bulk_rowid").fetchone()[0] == n
    found = assert_same_answers(con, rng, "bulk", "rows")
    assert n < 1000 or found > 100  # the queries do hit entries
    # Nodes are filled evenly: none but a lone root is below half full.
    counts = [int.from_bytes(blob[2:4], "big") for (blob,) in con.execute("SELECT data FROM bulk_node WHERE nodeno > 1")]
    assert all(CAPACITY // 2 <= c <= CAPACITY for c in counts)
    assert {len(blob) for (blob,) in con.execute("SELECT data FROM bulk_node")} == {1228}


@pytest.mark.parametrize("n", [1, CAPACITY + 1, 20_000])
def test_ids_one_apart_as_a_load_gives_them_hold_the_same(n):
    # A load's AUTOINCREMENT ids are one apart: their rowid rows take another path (json_each).
    rng = np.random.default_rng(n + 7)
    _ids, bounds = random_boxes(rng, n)
    ids = rng.permutation(np.arange(5000, 5000 + n, dtype=np.int64))
    con = two_trees(ids, bounds)
    check(con, "bulk")
    assert con.execute("SELECT count(*), min(rowid), max(rowid) FROM bulk_rowid").fetchone() == (n, 5000, 4999 + n)
    assert con.execute("SELECT * FROM bulk ORDER BY id").fetchall() == con.execute("SELECT * FROM rows ORDER BY id").fetchall()
    assert_same_answers(con, rng, "bulk", "rows", queries=100)


def test_replace_packs_a_tree_that_holds_entries_anew():
    # A big load into a layer with rows packs the stored entries and the new ones together.
    rng = np.random.default_rng(11)
    ids, bounds = random_boxes(rng, 3000)
    con = sqlite3.connect(":memory:", isolation_level=None)
    for name in ("bulk", "rows"):
        con.execute(f"CREATE VIRTUAL TABLE {name} USING rtree(id, minx, maxx, miny, maxy)")
    fill_by_rows(con, "bulk", ids[:500], bounds[:500])  # what was stored, kept up row by row
    stored = np.array(con.execute("SELECT id, minx, miny, maxx, maxy FROM bulk").fetchall())
    bulk_fill(con, "bulk", np.concatenate([stored[:, 0].astype(np.int64), ids[500:]]),
              np.concatenate([stored[:, 1:], bounds[500:]]), replace=True)
    fill_by_rows(con, "rows", ids, bounds)
    check(con, "bulk")
    assert con.execute("SELECT * FROM bulk ORDER BY id").fetchall() == con.execute("SELECT * FROM rows ORDER BY id").fetchall()
    assert_same_answers(con, rng, "bulk", "rows", queries=100)


def test_rounding_is_sqlites_for_awkward_values():
    values = np.array([0.0, -0.0, 1e-30, -1e-30, 0.1, -0.1, 117.123456789, -117.123456789, 16777217.0, -16777217.0,
                       1.5, -1.5, 3.4e38, -3.4e38, 2.0 ** -149, 179.99999999, -179.99999999])
    lo, hi = np.meshgrid(values, values)
    lo, hi = np.minimum(lo.ravel(), hi.ravel()), np.maximum(lo.ravel(), hi.ravel())
    bounds = np.column_stack([lo, lo[::-1].copy(), hi, hi[::-1].copy()])
    bounds[:, 1], bounds[:, 3] = np.minimum(bounds[:, 1], bounds[:, 3]), np.maximum(bounds[:, 1], bounds[:, 3])
    ids = np.arange(1, len(bounds) + 1, dtype=np.int64)
    con = two_trees(ids, bounds)
    check(con, "bulk")
    assert con.execute("SELECT * FROM bulk ORDER BY id").fetchall() == con.execute("SELECT * FROM rows ORDER BY id").fetchall()


def test_points_and_clusters_of_equal_boxes():
    """Degenerate boxes (points) and many identical boxes: ties in the sorts still give a valid tree."""
    rng = np.random.default_rng(7)
    n = 5000
    ids = np.arange(1, n + 1, dtype=np.int64) * 10
    xy = np.repeat(rng.uniform([115, 34.4], [122.5, 38.3], (50, 2)), n // 50, axis=0)
    bounds = np.column_stack([xy, xy])
    con = two_trees(ids, bounds)
    check(con, "bulk")
    assert_same_answers(con, rng, "bulk", "rows")


def test_empty_geometries_are_skipped_like_the_triggers_skip_them():
    rng = np.random.default_rng(3)
    ids, bounds = random_boxes(rng, 500)
    bounds[::7] = np.nan  # shapely.bounds of an empty or missing geometry
    con = sqlite3.connect(":memory:", isolation_level=None)
    con.execute("CREATE VIRTUAL TABLE bulk USING rtree(id, minx, maxx, miny, maxy)")
    bulk_fill(con, "bulk", ids, bounds)
    check(con, "bulk")
    stored = [r[0] for r in con.execute("SELECT id FROM bulk ORDER BY id")]
    assert stored == sorted(ids[~np.isnan(bounds).any(axis=1)].tolist()) and len(stored) == 500 - 72


def test_refuses_a_tree_that_is_not_empty_and_rolls_back_a_failure():
    rng = np.random.default_rng(4)
    ids, bounds = random_boxes(rng, 200)
    con = sqlite3.connect(":memory:", isolation_level=None)
    con.execute("CREATE VIRTUAL TABLE bulk USING rtree(id, minx, maxx, miny, maxy)")
    con.execute("BEGIN")
    duplicated = ids.copy()
    duplicated[150] = duplicated[3]
    with pytest.raises(sqlite3.IntegrityError):
        bulk_fill(con, "bulk", duplicated, bounds)
    assert con.in_transaction  # the caller's transaction goes on, the tree as it was
    assert con.execute("SELECT count(*) FROM bulk").fetchone()[0] == 0
    check(con, "bulk")
    bulk_fill(con, "bulk", ids, bounds)
    with pytest.raises(ValueError, match="not empty"):
        bulk_fill(con, "bulk", ids + 10_000, bounds)
    con.execute("COMMIT")
    check(con, "bulk")
    assert con.execute("SELECT count(*) FROM bulk").fetchone()[0] == 200
    with pytest.raises(ValueError, match="N×4"):
        bulk_fill(con, "bulk", ids, bounds[:, :2])
    with pytest.raises(ValueError, match="min > max"):
        bulk_fill(con, "bulk", ids[:1], np.array([[1.0, 1.0, 0.0, 2.0]]))


def test_a_tree_emptied_by_deletes_can_be_filled_again():
    rng = np.random.default_rng(5)
    ids, bounds = random_boxes(rng, 3000)
    con = two_trees(ids, bounds)
    con.execute("DELETE FROM bulk")
    con.execute("BEGIN")
    bulk_fill(con, "bulk", ids, bounds)
    con.execute("COMMIT")
    check(con, "bulk")
    assert_same_answers(con, rng, "bulk", "rows")


def gpkg_table(con, name: str, geoms: np.ndarray, bulk: bool) -> None:
    """A GeoPackage feature table with the standard R-tree and its triggers, filled either through
    the triggers (row by row) or with the triggers made after the rows and bulk_fill."""
    con.execute(f'CREATE TABLE "{name}" ("id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "geom" MULTIPOLYGON)')
    con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) VALUES (?, 'features', ?, 4326)",
                (name, name))
    con.execute("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', 'MULTIPOLYGON', 4326, 0, 0)", (name,))
    rows = list(zip(range(1, len(geoms) + 1), encode_geometries(geoms)))
    if not bulk:
        gpkg_schema._create_rtree(con, name)
    con.executemany(f'INSERT INTO "{name}" VALUES (?, ?)', rows)
    if bulk:
        gpkg_schema._create_rtree(con, name)
        bulk_fill(con, f"rtree_{name}_geom", np.arange(1, len(geoms) + 1), shapely.bounds(geoms))


def random_polygons(rng, n: int) -> np.ndarray:
    ids, b = random_boxes(rng, n)
    return shapely.multipolygons(shapely.box(b[:, 0], b[:, 1], b[:, 2], b[:, 3]).reshape(-1, 1))


def test_tree_keeps_working_through_the_geopackage_triggers(tmp_path):
    rng = np.random.default_rng(6)
    geoms = random_polygons(rng, 6000)
    con = connect(tmp_path / "t.gpkg")
    con.execute("BEGIN")
    gpkg_schema.create_core_tables(con, store_meta=False)
    gpkg_table(con, "bulk", geoms, bulk=True)
    gpkg_table(con, "rows", geoms, bulk=False)
    con.execute("COMMIT")
    check(con, "rtree_bulk_geom")
    # The same edits on both tables, through the triggers: inserts, geometry updates, deletes,
    # geometries emptied (NULL) and set again, an id changed.
    new = random_polygons(rng, 3000)
    con.execute("BEGIN")
    for table in ("bulk", "rows"):
        con.executemany(f'INSERT INTO "{table}" (geom) VALUES (?)', [(b,) for b in encode_geometries(new[:1500])])
        con.executemany(f'UPDATE "{table}" SET geom = ? WHERE id = ?',
                        [(b, i) for i, b in zip(range(1, 6001, 5), encode_geometries(new[1500:2700]))])
        con.execute(f'DELETE FROM "{table}" WHERE id % 3 = 0')
        con.execute(f'UPDATE "{table}" SET geom = NULL WHERE id % 11 = 1')
        con.executemany(f'UPDATE "{table}" SET geom = ? WHERE id = ?',
                        [(b, i) for i, b in zip(range(1, 6001, 22), encode_geometries(new[2700:3000]))])
        con.execute(f'UPDATE "{table}" SET id = 100000 WHERE id = 2')
    con.execute("COMMIT")
    for table in ("bulk", "rows"):
        check(con, f"rtree_{table}_geom")
    assert (con.execute('SELECT * FROM rtree_bulk_geom ORDER BY id').fetchall()
            == con.execute('SELECT * FROM rtree_rows_geom ORDER BY id').fetchall())
    assert assert_same_answers(con, rng, "rtree_bulk_geom", "rtree_rows_geom") > 100
    # Delete nearly everything: nodes underflow and their entries are reinserted.
    con.execute('DELETE FROM "bulk" WHERE id % 50 != 7')
    con.execute('DELETE FROM "rows" WHERE id % 50 != 7')
    check(con, "rtree_bulk_geom")
    assert_same_answers(con, rng, "rtree_bulk_geom", "rtree_rows_geom")
    con.close()
