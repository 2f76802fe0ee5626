"""Editing features safely: per-field checks, versions, boundary rules, and an audit record each time.

`apply_edit` is what the edit form, the JSON API and any script call. One transaction reads the
feature (locked), refuses a stale version, writes, and appends the audit record — all or nothing.
Boundary checks (valid, inside the district, overlaps confirmed) are reads and run before it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import shapely

from ..domain import VOCABULARIES
from ..errors import InvalidParameter
from ..layers import FieldDef, LayerDef, _convert
from ..storage import Feature, FeatureQuery, Store
from . import audit
from .accounts import Actor
from .geodesy import geodesic_area_m2
from .spatial import district_outline

# Below this an "overlap" is two boundaries drawn along the same line, not a shared piece of land.
OVERLAP_TOLERANCE_M2 = 1.0
# How much of a boundary may stick out of the district (digitising noise along the border).
OUTSIDE_TOLERANCE_M2 = 1.0
# Fields the form leaves read-only: the code identifies the estate to inspections and imports.
READ_ONLY_FIELDS = ("code",)


@dataclass(frozen=True)
class FieldProblem:
    """Why one submitted value was refused; `kind` names the case (for a message in any language)."""

    kind: str  # required | integer | number | date | text | range | vocabulary
    params: dict = field(default_factory=dict)


class FieldErrors(InvalidParameter):
    """Some submitted fields are wrong; `problems` maps each field to its FieldProblem."""

    code = "validation_error"

    def __init__(self, layer: str, problems: dict[str, FieldProblem]):
        listing = "; ".join(f"{name}: {p.kind} {p.params or ''}".strip() for name, p in problems.items())
        super().__init__(f"{layer}: invalid field(s): {listing}", parameter=next(iter(problems)))
        self.problems = problems


class BoundaryError(InvalidParameter):
    """A drawn boundary cannot be accepted; `reason` names the case, `details` its figures."""

    code = "invalid_boundary"

    def __init__(self, reason: str, message: str, **details):
        super().__init__(message, parameter="geometry")
        self.reason = reason
        self.details = details


class OverlapNotConfirmed(InvalidParameter):
    """The boundary overlaps other estates and the planner has not confirmed that it should."""

    status = 409
    code = "overlap_unconfirmed"

    def __init__(self, overlaps: list[dict]):
        listing = ", ".join(f"{o['code']} {o['name']} ({o['overlap_m2']:.0f} m²)" for o in overlaps)
        super().__init__(f"the boundary overlaps {len(overlaps)} other estate(s): {listing}; confirm to save",
                         parameter="geometry")
        self.overlaps = overlaps


@dataclass(frozen=True)
class EditResult:
    """The feature after the edit and what changed (empty when the submission changed nothing)."""

    feature: Feature
    changes: list[dict]


def editable_fields(layer_def: LayerDef) -> list[FieldDef]:
    """The fields a planner may type into: every field the store does not compute, but the code."""
    return [f for f in layer_def.fields if not f.computed and f.name not in READ_ONLY_FIELDS]


def check_fields(layer_def: LayerDef, submitted: dict) -> dict:
    """Submitted values (form text or JSON) -> typed values; FieldErrors naming every bad field."""
    allowed = {f.name: f for f in editable_fields(layer_def)}
    values, problems = {}, {}
    for name, raw in submitted.items():
        f = allowed.get(name)
        if f is None:
            problems[name] = FieldProblem("not_editable")
            continue
        try:
            values[name] = _field_value(f, raw)
        except _Refused as refused:
            problems[name] = refused.problem
    if problems:
        raise FieldErrors(layer_def.name, problems)
    return values


class _Refused(Exception):
    def __init__(self, kind: str, **params):
        self.problem = FieldProblem(kind, params)


def _field_value(f: FieldDef, raw):
    if isinstance(raw, (list, tuple)) and f.multiple:
        raw = ",".join(str(v).strip() for v in raw if str(v).strip())
    if raw is None or (isinstance(raw, str) and not raw.strip()) or (isinstance(raw, float) and math.isnan(raw)):
        if f.required:
            raise _Refused("required")
        return None
    try:
        value = _convert(f, raw)
    except (TypeError, ValueError):
        raise _Refused({"integer": "integer", "real": "number", "date": "date"}.get(f.type, "text")) from None
    if f.type in ("integer", "real") and (f.min is not None and value < f.min or f.max is not None and value > f.max):
        raise _Refused("range", min=f.min, max=f.max)
    if f.vocabulary:
        codes = value.split(",") if f.multiple else [value]
        bad = [c for c in codes if c not in VOCABULARIES[f.vocabulary]]
        if bad:
            raise _Refused("vocabulary", codes=", ".join(bad))
    return value


# --- boundaries --------------------------------------------------------------------------------
def check_boundary(store: Store, geometry, feature_id: int | None, confirm_overlap: bool = False) -> list[dict]:
    """Refuse a boundary that is not a valid polygon or leaves the district; return the estates
    it overlaps (code, name, m²), raising OverlapNotConfirmed unless the planner confirmed them."""
    if geometry is None or geometry.is_empty or geometry.geom_type not in ("Polygon", "MultiPolygon"):
        raise BoundaryError("not_polygon", "the boundary must be a polygon")
    if not geometry.is_valid:
        raise BoundaryError("invalid", f"the boundary is not a valid polygon: {shapely.is_valid_reason(geometry)}",
                            why=shapely.is_valid_reason(geometry))
    district = district_outline(store)
    if district is not None:
        outside = geodesic_area_m2(shapely.difference(geometry, district))
        if outside > OUTSIDE_TOLERANCE_M2:
            raise BoundaryError("outside_district", f"{outside:.0f} m² of the boundary lie outside the district",
                                outside_m2=round(outside))
    overlaps = overlapping_estates(store, geometry, feature_id)
    if overlaps and not confirm_overlap:
        raise OverlapNotConfirmed(overlaps)
    return overlaps


def overlapping_estates(store: Store, geometry, feature_id: int | None) -> list[dict]:
    """Other estates sharing land with the geometry, with the shared area (geodesic m²), largest first."""
    found = []
    for other in store.features("estates", FeatureQuery(intersects=geometry)):
        if other.id == feature_id:
            continue
        shared = geodesic_area_m2(shapely.intersection(geometry, other.geometry))
        if shared > OVERLAP_TOLERANCE_M2:
            found.append({"id": other.id, "code": other.properties.get("code"),
                          "name": other.properties.get("name"), "overlap_m2": round(shared, 1)})
    return sorted(found, key=lambda o: -o["overlap_m2"])


# --- the edit ----------------------------------------------------------------------------------
def apply_edit(store: Store, actor: Actor, layer: str, feature_id: int, *, version: int | None,
               properties: dict | None = None, geometry=None, reason: str = "",
               confirm_overlap: bool = False, at: str | None = None) -> EditResult:
    """Check and save an edit of one feature with its audit record, in one transaction.

    `version` is the one the editor started from (required: an edit that does not say is refused,
    so no client can overwrite blindly); a stale one raises StaleVersion carrying the current feature.
    """
    layer_def = store._layer(layer)
    if version is None:
        raise InvalidParameter("the version the edit started from is required", parameter="version")
    values = check_fields(layer_def, properties or {})
    reason = audit.check_reason(reason)
    if geometry is not None:
        check_boundary(store, geometry, feature_id, confirm_overlap)
    try:
        with store.transaction() as writer:
            before = writer.read(layer, feature_id)
            writer.update(layer, feature_id, values, geometry, expected_version=version)
            after = writer.read(layer, feature_id)
            changes = audit.diff(layer_def, before, after)
            if not changes:
                raise _Unchanged(before)  # rolls back: no version bump, no record
            audit.record(writer, actor, layer, feature_id, changes, reason,
                         feature_code=after.properties.get("code"), at=at)
    except _Unchanged as unchanged:
        return EditResult(unchanged.feature, [])
    return EditResult(after, changes)


class _Unchanged(Exception):
    def __init__(self, feature: Feature):
        self.feature = feature
