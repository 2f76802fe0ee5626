"""The audit log in the store: one append-only table beside the layers, on both engines.

Every change to a feature is a row: who, when (UTC), which layer and feature, what changed (a JSON
list of field: old -> new) and why. Rows are written by `Writer.append_audit` inside the same
transaction as the change they describe, so a change and its record commit together or not at all.
Nothing may change or remove a row once written: the engine refuses it (SQLite triggers that RAISE,
a PostgreSQL trigger that raises), not just the absence of an API, so a hand-made SQL statement or a
QGIS edit cannot rewrite history either. Like the account tables, the audit table is not registered
in `gpkg_contents`: GIS clients list map layers, not the log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Sequence

AUDIT = "geo_app_audit"
APPEND_ONLY_MESSAGE = "the audit log is append-only: its records cannot be changed or deleted"
COLUMNS = ("id", "at", "actor", "actor_id", "actor_role", "via", "token_id", "layer", "feature_id",
           "feature_code", "changes", "reason")


@dataclass(frozen=True)
class AuditFilter:
    """Which records to read: of one layer / feature / user, between two UTC ISO times."""

    layer: str | None = None
    feature_id: int | None = None
    actor: str | None = None
    since: str | None = None  # inclusive, "2021-07-01T00:00:00Z"
    until: str | None = None  # exclusive
    limit: int | None = None


@dataclass(frozen=True)
class AuditRow:
    """One stored record; `changes` is the decoded list of {field, old, new}."""

    id: int
    at: str
    actor: str
    actor_id: int | None
    actor_role: str
    via: str
    token_id: int | None
    layer: str
    feature_id: int
    feature_code: str | None
    changes: list
    reason: str


class AuditLog:
    """Reads of the audit log of one store (writes go through a Writer). Reached as `store.audit`."""

    def __init__(self, fetch: Callable[[str, Sequence], list[tuple]], placeholder: str):
        self._fetch = fetch
        self.placeholder = placeholder

    def entries(self, where: AuditFilter | None = None, *, oldest_first: bool = False) -> list[AuditRow]:
        """Records matching the filter, newest first (or oldest first)."""
        where = where or AuditFilter()
        clauses, params = self._clauses(where)
        sql = f"SELECT {', '.join(COLUMNS)} FROM {AUDIT}"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY at, id" if oldest_first else " ORDER BY at DESC, id DESC"
        if where.limit is not None:
            sql += f" LIMIT {int(where.limit)}"
        return [_row(r) for r in self._fetch(sql, params)]

    def count(self, where: AuditFilter | None = None) -> int:
        clauses, params = self._clauses(where or AuditFilter())
        sql = f"SELECT COUNT(*) FROM {AUDIT}" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        return int(self._fetch(sql, params)[0][0])

    def _clauses(self, where: AuditFilter) -> tuple[list[str], list]:
        p = self.placeholder
        conditions = [("layer", "=", where.layer), ("feature_id", "=", where.feature_id),
                      ("actor", "=", where.actor), ("at", ">=", where.since), ("at", "<", where.until)]
        clauses, params = [], []
        for column, op, value in conditions:
            if value is not None:
                clauses.append(f"{column} {op} {p}")
                params.append(value)
        return clauses, params


def insert_statement(placeholder: str) -> str:
    """The one INSERT both engines run (the id is the engine's)."""
    names = COLUMNS[1:]
    return f"INSERT INTO {AUDIT} ({', '.join(names)}) VALUES ({', '.join([placeholder] * len(names))})"


def insert_values(row: dict) -> list:
    """A record dict (as core.audit builds it) -> the INSERT's values, changes as JSON text."""
    values = {**row, "changes": json.dumps(row["changes"], ensure_ascii=False, sort_keys=True)}
    return [values[name] for name in COLUMNS[1:]]


def _row(r: tuple) -> AuditRow:
    values = dict(zip(COLUMNS, r))
    values["changes"] = json.loads(values["changes"])
    values["feature_id"] = int(values["feature_id"])
    return AuditRow(**values)


_TABLE = """CREATE TABLE IF NOT EXISTS {table} (
  id {id_type}, at TEXT NOT NULL, actor TEXT NOT NULL, actor_id INTEGER, actor_role TEXT NOT NULL,
  via TEXT NOT NULL, token_id INTEGER, layer TEXT NOT NULL, feature_id INTEGER NOT NULL,
  feature_code TEXT, changes TEXT NOT NULL, reason TEXT NOT NULL)"""
_INDEXES = [f"CREATE INDEX IF NOT EXISTS {AUDIT}_feature_idx ON {AUDIT} (layer, feature_id, at)",
            f"CREATE INDEX IF NOT EXISTS {AUDIT}_at_idx ON {AUDIT} (at)"]

GPKG_DDL = [
    _TABLE.format(table=AUDIT, id_type="INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL"),
    *_INDEXES,
    # RAISE(ABORT) fails the statement and keeps the row as it was, whoever runs it.
    f"CREATE TRIGGER IF NOT EXISTS {AUDIT}_no_update BEFORE UPDATE ON {AUDIT} "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END",
    f"CREATE TRIGGER IF NOT EXISTS {AUDIT}_no_delete BEFORE DELETE ON {AUDIT} "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END",
]

POSTGIS_DDL = [
    _TABLE.format(table=AUDIT, id_type="integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    *_INDEXES,
    # A trigger rather than revoked rights: the app usually connects as the table's owner, and an
    # owner keeps every right a REVOKE could take away. TRUNCATE has its own statement trigger.
    f"""CREATE OR REPLACE FUNCTION {AUDIT}_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}' USING ERRCODE = 'insufficient_privilege'; END $$""",
    f"CREATE OR REPLACE TRIGGER {AUDIT}_no_change BEFORE UPDATE OR DELETE ON {AUDIT} "
    f"FOR EACH ROW EXECUTE FUNCTION {AUDIT}_refuse()",
    f"CREATE OR REPLACE TRIGGER {AUDIT}_no_truncate BEFORE TRUNCATE ON {AUDIT} "
    f"FOR EACH STATEMENT EXECUTE FUNCTION {AUDIT}_refuse()",
]
