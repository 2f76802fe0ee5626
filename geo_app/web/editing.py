"""Planners' edits: the estate edit form, the boundary editor, the JSON edit API and the audit export.

Every write here needs the planner role (the auth guard answers 401/403 first) and a CSRF token
(form field or X-CSRFToken header; bearer-token calls are exempt, see web/auth.py). The work is
core.editing.apply_edit; this module turns requests into its arguments and its errors into
per-field messages in the reader's language.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext

from ..core import audit, editing
from ..core.basemaps import available_basemaps
from ..core.clock import local_day_start, local_text
from ..core.frontend_config import display_value
from ..core.geojson import feature_to_geojson
from ..core.spatial import geometry_from_geojson
from ..domain import VOCABULARIES
from ..errors import InvalidParameter, NotFound
from ..storage import FeatureQuery
from ..storage.base import StaleVersion
from . import get_config, get_store
from .auth import current_actor, require_role
from .downloads import content_disposition
from .i18n import current_locale

bp = Blueprint("editing", __name__)
api = Blueprint("editing_api", __name__)

LAYER = "estates"
FIELD_MESSAGES = {
    "required": lazy_gettext("This field is required."),
    "integer": lazy_gettext("Enter a whole number."),
    "number": lazy_gettext("Enter a number."),
    "date": lazy_gettext("Enter a date as YYYY-MM-DD."),
    "text": lazy_gettext("Enter text."),
    "not_editable": lazy_gettext("This field cannot be changed here."),
}
# Texts the boundary editor's script shows (as `texts.<key>`).
BOUNDARY_UI = {
    "saved": lazy_gettext("Boundary saved."),
    "no_shape": lazy_gettext("Draw or keep one polygon before saving."),
    "need_reason": lazy_gettext("Please say why you make this change."),
    "confirm": lazy_gettext("Save anyway"),
    "failed": lazy_gettext("Could not save:"),
    "other_estates": lazy_gettext("Other estates"),
}
BOUNDARY_MESSAGES = {
    "not_polygon": lazy_gettext("The boundary must be a polygon."),
    "invalid": lazy_gettext("The boundary is not a valid polygon (%(why)s): its edges must not cross."),
    "outside_district": lazy_gettext("%(outside_m2)s m² of the boundary lie outside Xuecheng District."),
}


def field_message(problem: editing.FieldProblem) -> str:
    """A per-field error in the reader's language."""
    if problem.kind == "range":
        low, high = problem.params.get("min"), problem.params.get("max")
        return gettext("Enter a value from %(min)s to %(max)s.", min=_number(low, "−∞"), max=_number(high, "∞"))
    if problem.kind == "vocabulary":
        return gettext("Unknown value: %(codes)s.", codes=problem.params["codes"])
    return str(FIELD_MESSAGES.get(problem.kind, FIELD_MESSAGES["text"]))


def _number(value, missing: str) -> str:
    return missing if value is None else f"{value:g}"


def boundary_message(exc: editing.BoundaryError) -> str:
    return str(BOUNDARY_MESSAGES[exc.reason]) % {k: f"{v:,}" if isinstance(v, int) else v
                                                 for k, v in exc.details.items()}


def overlap_message(overlaps: list[dict]) -> str:
    if current_locale() == "zh":
        listing = "、".join(f"{o['name']}（{o['code']}，{o['overlap_m2']:,.0f} m²）" for o in overlaps)
    else:
        listing = "; ".join(f"{o['name']} ({o['code']}, {o['overlap_m2']:,.0f} m²)" for o in overlaps)
    return gettext("The boundary overlaps %(count)s other estate(s): %(list)s. Save anyway only if this is right.",
                   count=len(overlaps), list=listing)


# --- the edit form -----------------------------------------------------------------------------
def _form_fields(layer_def, values: dict, locale: str) -> list[dict]:
    """What the template needs per editable field: label, input kind, current value, choices."""
    rows = []
    for f in editing.editable_fields(layer_def):
        value = values.get(f.name)
        if isinstance(value, (list, tuple)):
            value = ",".join(value)
        row = {"name": f.name, "label": f.label(locale), "type": f.type, "required": f.required,
               "value": _as_text(value),
               "min": f.min, "max": f.max, "multiple": f.multiple, "choices": None}
        if f.vocabulary:
            row["choices"] = [(t.code, t.label(locale)) for t in VOCABULARIES[f.vocabulary]]
            row["selected"] = set(str(value).split(",")) if value else set()
        rows.append(row)
    return rows


def _render_form(estate, status: int = 200, *, values: dict | None = None, errors: dict | None = None,
                 notice: str | None = None, reason: str = "", stale_changes: list | None = None):
    store, locale = get_store(), current_locale()
    layer_def = store.layers[LAYER]
    return render_template("estate_edit.html", estate=estate, version=estate.version, reason=reason,
                           fields=_form_fields(layer_def, {**estate.properties, **(values or {})}, locale),
                           errors=errors or {}, notice=notice, stale_changes=stale_changes or []), status


def _submitted_properties(layer_def) -> dict:
    """The form's fields (multi-valued ones as lists); fields not on the form are left alone."""
    submitted = {}
    for f in editing.editable_fields(layer_def):
        if f.multiple:
            if f"{f.name}__present" in request.form:  # an all-unticked checkbox list sends nothing
                submitted[f.name] = request.form.getlist(f.name)
        elif f.name in request.form:
            submitted[f.name] = request.form[f.name]
    return submitted


@bp.get("/estates/<int:estate_id>/edit")
@require_role("planner")
def edit_estate(estate_id: int):
    """The form: every editable attribute, the reason, the version the edit starts from."""
    return _render_form(get_store().get(LAYER, estate_id))[0]


@bp.post("/estates/<int:estate_id>/edit")
@require_role("planner")
def save_estate(estate_id: int):
    store = get_store()
    layer_def = store.layers[LAYER]
    submitted = _submitted_properties(layer_def)
    reason = request.form.get("reason", "")
    version = _version(request.form.get("version"))
    try:
        result = editing.apply_edit(store, current_actor(), LAYER, estate_id, version=version,
                                    properties=submitted, reason=reason)
    except editing.FieldErrors as exc:
        errors = {name: field_message(p) for name, p in exc.problems.items()}
        return _render_form(_with_version(store.get(LAYER, estate_id), version), 400, values=submitted,
                            errors=errors, reason=reason)
    except StaleVersion as exc:
        # Nothing was written. Show what is stored now, and what this planner had typed, to redo.
        typed = [(layer_def.field(n).label(current_locale()), v if isinstance(v, str) else ", ".join(v))
                 for n, v in submitted.items() if _differs(exc.current.properties.get(n), v)]
        notice = gettext("Someone else saved this estate while you were editing (now version %(version)s). "
                         "Nothing of yours was saved: the form shows the current values.",
                         version=exc.current.version)
        return _render_form(exc.current, 409, notice=notice, reason=reason, stale_changes=typed)
    except InvalidParameter as exc:
        if exc.parameter != "reason":
            raise
        return _render_form(_with_version(store.get(LAYER, estate_id), version), 400, values=submitted,
                            errors={"reason": gettext("Please say why you make this change.")}, reason=reason)
    flash(gettext("Saved (%(count)s change(s)).", count=len(result.changes)) if result.changes
          else gettext("Nothing changed."))
    return redirect(url_for("pages.estate_page", estate_id=estate_id) + "#history")


def _with_version(estate, version):
    """The stored estate, but keeping the version the form started from (the form is re-shown)."""
    return replace(estate, version=version) if version is not None else estate


def _as_text(value) -> str:
    """A stored value as the form shows it: 27712.0 -> "27712", every significant digit kept."""
    if value is None:
        return ""
    return format(value, ".15g") if isinstance(value, float) else str(value)


def _differs(stored, typed) -> bool:
    text = ",".join(typed) if isinstance(typed, list) else str(typed).strip()
    return _as_text(stored) != text


def _version(raw) -> int | None:
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise InvalidParameter(f"version must be a whole number, got {raw!r}", parameter="version") from None


# --- the boundary editor -----------------------------------------------------------------------
@bp.get("/estates/<int:estate_id>/boundary")
@require_role("planner")
def edit_boundary(estate_id: int):
    """A map where the planner moves the boundary's vertices or draws a new one (Geoman)."""
    store = get_store()
    estate = store.get(LAYER, estate_id)
    minx, miny, maxx, maxy = estate.geometry.bounds
    margin = 0.005  # about 500 m: the neighbours a new boundary could run into
    neighbours = [f for f in store.features(LAYER, FeatureQuery(bbox=(minx - margin, miny - margin,
                                                                     maxx + margin, maxy + margin)))
                  if f.id != estate_id]
    page = {
        "estate": {**feature_to_geojson(estate), "version": estate.version},
        "district": [feature_to_geojson(f, precision=6) for f in store.features("district")],
        "neighbours": [feature_to_geojson(f, precision=7) for f in neighbours],
        "saveUrl": url_for("editing_api.patch_estate", estate_id=estate_id),
        "estateUrl": url_for("pages.estate_page", estate_id=estate_id),
        "basemap": _wgs84_basemap(),
        "texts": {key: str(text) for key, text in BOUNDARY_UI.items()},
    }
    return render_template("estate_boundary.html", estate=estate, page_config=page)


def _wgs84_basemap() -> dict | None:
    """A basemap in WGS84: vertices are placed on it as drawn. A GCJ-02 map (Amap) would shift
    them by hundreds of metres, so the editor offers none rather than a wrong one."""
    for basemap in available_basemaps(get_config().map):
        if basemap.coords == "wgs84" and basemap.tiles:
            tile = basemap.tiles[0]
            return {"url": tile.url, "subdomains": tile.subdomains, "attribution": basemap.attribution,
                    "maxZoom": basemap.max_zoom}
    return None


# --- JSON ---------------------------------------------------------------------------------------
@api.patch("/estates/<int:estate_id>")
@require_role("planner")
def patch_estate(estate_id: int):
    """Edit an estate: {"version", "reason", "properties"?, "geometry"?, "confirm_overlap"?}.

    200 with the feature and its new version (also the ETag); 400 with per-field errors; 409 when
    the version is stale (with the current feature) or the boundary overlaps others unconfirmed.
    """
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidParameter("send a JSON object: {\"version\": …, \"reason\": …, \"properties\": {…}}")
    version = _version(body.get("version", _if_match_version()))
    if not isinstance(body.get("properties") or {}, dict):
        raise InvalidParameter("properties must be an object: field -> value", parameter="properties")
    if not isinstance(body.get("reason", ""), str):
        raise InvalidParameter("reason must be text", parameter="reason")
    geometry = geometry_from_geojson(body["geometry"]) if body.get("geometry") is not None else None
    store = get_store()
    try:
        result = editing.apply_edit(store, current_actor(), LAYER, estate_id, version=version,
                                    properties=body.get("properties") or {}, geometry=geometry,
                                    reason=body.get("reason", ""), confirm_overlap=bool(body.get("confirm_overlap")))
    except editing.FieldErrors as exc:
        return jsonify({"code": exc.code, "description": gettext("Some fields are not valid."),
                        "errors": {n: field_message(p) for n, p in exc.problems.items()}}), 400
    except editing.BoundaryError as exc:
        return jsonify({"code": exc.code, "reason": exc.reason, "description": boundary_message(exc),
                        **exc.details}), 400
    except editing.OverlapNotConfirmed as exc:
        return jsonify({"code": exc.code, "description": overlap_message(exc.overlaps), "overlaps": exc.overlaps}), 409
    except StaleVersion as exc:
        return jsonify({"code": exc.code, "current_version": exc.current.version,
                        "description": gettext("Someone else saved this estate first (now version %(version)s); "
                                               "nothing was saved.", version=exc.current.version),
                        "current": _feature_json(exc.current)}), 409
    response = jsonify({"feature": _feature_json(result.feature), "version": result.feature.version,
                        "changes": result.changes})
    response.headers["ETag"] = f'"v{result.feature.version}"'
    return response


def _if_match_version():
    """`If-Match: "v3"` as the version, for clients that echo the ETag."""
    tag = request.headers.get("If-Match", "").strip().strip('"')
    return tag[1:] if tag.startswith("v") else None


def _feature_json(feature) -> dict:
    return {**feature_to_geojson(feature), "version": feature.version}


@api.get("/audit")
@require_role("planner")
def audit_export():
    """The audit log, filtered by `estate` (code or id), `user`, `from`/`to` (Beijing dates, `to`
    inclusive), as `format=csv` (default) or `json`."""
    where = _audit_filter(request.args)
    rows = get_store().audit.entries(where)
    kind = request.args.get("format", "csv")
    if kind == "json":
        return Response(audit.export_json(rows), mimetype="application/json",
                        headers={"Content-Disposition": content_disposition("audit.json")})
    if kind != "csv":
        raise InvalidParameter("format must be csv or json", parameter="format")
    return Response(audit.export_csv(rows), mimetype="text/csv",
                    headers={"Content-Disposition": content_disposition("audit.csv")})


def _audit_filter(args):
    estate = (args.get("estate") or "").strip()
    feature_id = None
    if estate:
        found = get_store().features(LAYER, FeatureQuery.where(code=estate, with_geometry=False))
        if found:
            feature_id = found[0].id
        elif estate.isdigit():
            feature_id = int(estate)
        else:
            raise NotFound(f"no estate with code {estate!r}")
    until = None
    if args.get("to"):
        try:
            next_day = (dt.date.fromisoformat(args["to"]) + dt.timedelta(days=1)).isoformat()
        except (ValueError, OverflowError):  # 9999-12-31 has no next day
            raise InvalidParameter(f"to must be a date YYYY-MM-DD, got {args['to']!r}", parameter="to") from None
        until = local_day_start(next_day, "to")
    return audit.audit_filter(layer=LAYER if feature_id is not None else None, feature_id=feature_id,
                              actor=(args.get("user") or "").strip() or None,
                              since=local_day_start(args["from"], "from") if args.get("from") else None, until=until)


# --- history on the estate page ----------------------------------------------------------------
def history(store, estate_id: int, locale: str) -> list[dict]:
    """The estate's audit records, newest first, with field labels and values as people read them."""
    layer_def = store.layers[LAYER]
    rows = []
    for entry in store.audit.entries(audit.audit_filter(layer=LAYER, feature_id=estate_id)):
        rows.append({"at": local_text(entry.at), "actor": entry.actor, "reason": entry.reason,
                     "changes": [_change_row(layer_def, c, locale) for c in entry.changes]})
    return rows


def _change_row(layer_def, change: dict, locale: str) -> dict:
    if change["field"] == audit.GEOMETRY:
        old, new = change["old"] or {}, change["new"] or {}
        return {"label": gettext("Boundary"), "old": gettext("%(area)s m²", area=f"{old.get('area_m2', 0):,.1f}"),
                "new": gettext("%(area)s m²", area=f"{new.get('area_m2', 0):,.1f}")}
    name = change["field"]
    if not layer_def.has_field(name):
        return {"label": name, "old": str(change["old"]), "new": str(change["new"])}
    return {"label": layer_def.field(name).label(locale),
            "old": display_value(layer_def, name, change["old"], locale),
            "new": display_value(layer_def, name, change["new"], locale)}

