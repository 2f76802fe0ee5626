"""The audit trail: who changed what, when and why; written with the change, read as history.

`record(writer, actor, layer, feature_id, changes, reason)` is the one way anything writes a
record (edits here, imports elsewhere): it goes into the writer's transaction, so the change and its
record commit together. `diff` turns a feature before/after into those changes, geometry
summarised (area before and after, the old shape as GeoJSON so it can be restored). Exports are
CSV (one row per changed field, UTF-8 with BOM so Excel shows Chinese) and JSON.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Iterable, Mapping

from shapely.geometry import mapping

from ..errors import InvalidParameter
from ..layers import LayerDef
from ..storage import Feature, Writer
from ..storage.audit import AuditFilter, AuditRow
from .accounts import Actor
from .clock import utc_iso
from .geodesy import geodesic_area_m2

GEOMETRY = "geometry"  # the `field` of a geometry change
MAX_REASON_LENGTH = 2000
CSV_COLUMNS = ("id", "at", "actor", "actor_role", "via", "layer", "feature_id", "feature_code",
               "field", "old", "new", "reason")


def record(writer: Writer, actor: Actor, layer: str, feature_id: int, changes, reason: str, *,
           feature_code: str | None = None, at: str | None = None) -> dict:
    """Append one audit record inside `writer`'s transaction and return it.

    `changes` is a list of {"field", "old", "new"} or a mapping field -> (old, new); `reason` is
    what the person typed (required: a change nobody can explain is not accepted); `at` defaults to
    the server's UTC now.
    """
    reason = check_reason(reason)
    row = {
        "at": at or utc_iso(), "actor": actor.username, "actor_id": actor.user_id,
        "actor_role": actor.role, "via": actor.via, "token_id": actor.token_id, "layer": layer,
        "feature_id": int(feature_id), "feature_code": feature_code, "changes": _normalise(changes),
        "reason": reason,
    }
    writer.append_audit(row)
    return row


def check_reason(reason: str | None) -> str:
    """The reason, trimmed; a 400 naming `reason` when it is empty or absurdly long."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidParameter("a reason for the change is required", parameter="reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidParameter(f"the reason is longer than {MAX_REASON_LENGTH} characters", parameter="reason")
    return reason


def _normalise(changes) -> list[dict]:
    if isinstance(changes, Mapping):
        changes = [{"field": name, "old": old, "new": new} for name, (old, new) in changes.items()]
    result = [{"field": str(c["field"]), "old": c.get("old"), "new": c.get("new")} for c in changes]
    if not result:
        raise InvalidParameter("an audit record needs at least one change")
    return result


def diff(layer_def: LayerDef, before: Feature, after: Feature) -> list[dict]:
    """The changes from one state of a feature to the next: fields typed in, then the geometry.

    Computed fields (land area) are left out: they follow the geometry, whose change carries the
    areas before and after.
    """
    changes = [{"field": f.name, "old": before.properties.get(f.name), "new": after.properties.get(f.name)}
               for f in layer_def.fields
               if not f.computed and not _same(before.properties.get(f.name), after.properties.get(f.name))]
    if before.geometry is not None and after.geometry is not None and not before.geometry.equals_exact(
            after.geometry, 1e-9):
        changes.append({"field": GEOMETRY, "old": geometry_summary(before.geometry, with_shape=True),
                        "new": geometry_summary(after.geometry)})
    return changes


def geometry_summary(geom, with_shape: bool = False) -> dict:
    """A geometry as the audit keeps it: its geodesic area, and the shape itself when asked."""
    summary = {"type": geom.geom_type, "area_m2": round(geodesic_area_m2(geom), 1)}
    if with_shape:
        summary["geojson"] = mapping(geom)
    return summary


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return a is not None and b is not None and math.isclose(float(a), float(b), abs_tol=1e-9)
        except (TypeError, ValueError):
            return False
    return a == b


def value_as_of(entries_newest_first: Iterable[AuditRow], field: str, current, moment: str):
    """A field's value at a moment, from its current value and the records after that moment:
    the `old` of the earliest change to the field made at or after `moment`, else `current`."""
    value = current
    for entry in entries_newest_first:
        if entry.at < moment:
            break
        for change in entry.changes:
            if change["field"] == field:
                value = change["old"]
    return value


# --- export ------------------------------------------------------------------------------------
def export_json(rows: list[AuditRow]) -> str:
    """The records as a JSON document (newest first), every field as stored."""
    return json.dumps({"records": [_as_dict(r) for r in rows]}, ensure_ascii=False, indent=1)


def export_csv(rows: list[AuditRow]) -> bytes:
    """One CSV row per changed field; values that are not text as JSON. UTF-8 with BOM (Excel)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        for change in row.changes:
            values = {**_as_dict(row), "field": change["field"], "old": _cell(change["old"]),
                      "new": _cell(change["new"])}
            writer.writerow([_csv_safe(values[c]) for c in CSV_COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _as_dict(row: AuditRow) -> dict:
    return {"id": row.id, "at": row.at, "actor": row.actor, "actor_role": row.actor_role, "via": row.via,
            "token_id": row.token_id, "layer": row.layer, "feature_id": row.feature_id,
            "feature_code": row.feature_code, "changes": row.changes, "reason": row.reason}


def _cell(value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _csv_safe(value):
    # A cell starting with = + - @ is a formula to Excel: typed text must stay text (CSV injection).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def audit_filter(layer: str | None = None, feature_id: int | None = None, actor: str | None = None,
                 since: str | None = None, until: str | None = None, limit: int | None = None) -> AuditFilter:
    """A filter for `store.audit.entries` (re-exported so callers need not reach into storage)."""
    return AuditFilter(layer=layer, feature_id=feature_id, actor=actor, since=since, until=until, limit=limit)
