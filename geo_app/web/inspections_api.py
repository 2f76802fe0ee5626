"""Inspections API under /api: submit (inspector), read (viewer), latest per estate, overdue, photos.

A submission is multipart (`inspection`: the JSON fields, `photos`: image files) or plain JSON
without photos. Photos are checked and stored before the record, and removed again when the record
is not stored (bad field, unknown estate, or a retry of a stored submission), so no photo is left
without an inspection and no inspection points at a missing photo.
"""

from __future__ import annotations

import json

from flask import Blueprint, current_app, jsonify, request, send_file, url_for
from flask_babel import gettext
from werkzeug.exceptions import RequestEntityTooLarge

from ..core import inspections as core
from ..core.geojson import check_coordinate_system, feature_collection
from ..core.photos import PhotoStore
from ..errors import InvalidParameter
from ..storage import Feature
from . import get_config, get_store
from .auth import current_user, require_role
from .params import parse_int_list, parse_text

bp = Blueprint("inspections_api", __name__)

# Room for the form fields beside the photos in one request.
FORM_ALLOWANCE_BYTES = 1_000_000


def upload_limit_bytes(limits) -> int:
    """The largest inspection request: every photo at its limit, plus the form."""
    return int(limits.max_photos * limits.max_photo_mb * 1_000_000) + FORM_ALLOWANCE_BYTES


def get_photos() -> PhotoStore:
    """The app's photo folder, with the configured size limit."""
    store = current_app.extensions.get("geo_app.photos")
    if store is None:
        config = get_config()
        store = current_app.extensions.setdefault(
            "geo_app.photos", PhotoStore(config.photos_dir, int(config.inspections.max_photo_mb * 1_000_000)))
    return store


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc):
    limits = get_config().inspections
    message = gettext("The upload is too large: at most %(count)d photos of %(mb)g MB each.",
                      count=limits.max_photos, mb=limits.max_photo_mb)
    return jsonify({"code": "PayloadTooLarge", "description": message, "parameter": "photos"}), 413


# --- writing -------------------------------------------------------------------------------------
@bp.post("/estates/<int:estate_id>/inspections")
@require_role("inspector")
def submit(estate_id: int):
    """Store an inspection of the estate: 201 with the record, or 200 with the one stored earlier
    under the same client_id (the phone retried after losing the answer)."""
    limits = get_config().inspections
    data, files = _submission_parts()
    submission = core.parse_submission(estate_id, data)
    store = get_store()
    earlier = core.find_earlier(store, submission.client_id, current_user().username)
    if earlier is not None:
        return jsonify(_encode(earlier)), 200
    core.require_estate(store, estate_id)
    if len(files) > limits.max_photos:
        raise InvalidParameter(f"at most {limits.max_photos} photos per inspection, got {len(files)}",
                               parameter="photos")
    photos = get_photos()
    saved: list[str] = []
    try:
        for upload in files:
            saved.append(photos.save(upload.read(), upload.filename or "").id)
        feature, created = core.record(store, submission, current_user().username, saved)
    except BaseException:
        photos.delete(saved)
        raise
    if not created:
        photos.delete(saved)  # a concurrent retry stored the same submission first
    return jsonify(_encode(feature)), 201 if created else 200


def _submission_parts() -> tuple[dict, list]:
    if request.mimetype == "multipart/form-data":
        raw = request.form.get("inspection")
        if not raw:
            raise InvalidParameter("a multipart submission needs the field 'inspection' (JSON)",
                                   parameter="inspection")
        try:
            data = json.loads(raw)
        except ValueError:
            raise InvalidParameter("the field 'inspection' must be JSON", parameter="inspection") from None
        files = [f for f in request.files.getlist("photos") if f.filename or f.content_length]
        return data, files
    data = request.get_json(silent=True)
    if data is None:
        raise InvalidParameter("send the inspection as JSON or as multipart/form-data", parameter="body")
    return data, []


# --- reading -------------------------------------------------------------------------------------
@bp.get("/estates/<int:estate_id>/inspections")
@require_role("viewer")
def estate_inspections(estate_id: int):
    """The estate's inspections, newest first (`limit`)."""
    store = get_store()
    core.require_estate(store, estate_id)
    found = core.inspections(store, estate_id=estate_id, limit=_limit())
    return _collection(found)


@bp.get("/inspections")
@require_role("viewer")
def all_inspections():
    """Inspections, newest first; filters `estate` (id), `inspector`, `since` (ISO date/time)."""
    estate = parse_int_list(request.args, "estate", 1, 2**31 - 1)
    found = core.inspections(get_store(), estate_id=estate, inspector=parse_text(request.args, "inspector", 64),
                             since=core.parse_since(request.args.get("since")), limit=_limit())
    return _collection(found)


@bp.get("/inspections/latest")
@require_role("viewer")
def latest():
    """Each estate's latest inspection (one point per inspected estate)."""
    return _collection(core.inspections(get_store(), latest_only=True))


@bp.get("/inspections/overdue")
@require_role("viewer")
def overdue():
    """Estates not inspected in `days` days (default [inspections] overdue_days), as GeoJSON."""
    days = (parse_int_list(request.args, "days", 1, 3650) or [get_config().inspections.overdue_days])[0]
    office = parse_text(request.args, "street_office")
    rows = core.overdue_estates(get_store(), days, office)
    coords = check_coordinate_system(request.args.get("coords"))
    features = [Feature(row.pop("id"), row, row.pop("geometry")) for row in rows]
    return jsonify(feature_collection(features, precision=6, coords=coords, days=days,
                                      numberMatched=len(features)))


@bp.get("/photos/<photo_id>")
@require_role("viewer")
def photo(photo_id: str):
    """A stored inspection photo (its own format); `?thumb=1` for the 320 px JPEG thumbnail."""
    photos = get_photos()
    thumb = request.args.get("thumb") == "1"
    info = photos.info(photo_id)
    response = send_file(photos.path(photo_id, thumbnail=thumb), mimetype="image/jpeg" if thumb else info.media_type,
                         max_age=86400, conditional=True)
    response.headers["Cache-Control"] = "private, max-age=86400"  # photos are for signed-in users
    return response


def _limit() -> int | None:
    values = parse_int_list(request.args, "limit", 1, 10_000)
    return values[0] if values else None


def _collection(found: list[Feature]):
    coords = check_coordinate_system(request.args.get("coords"))
    features = [Feature(f.id, _properties(f), f.geometry) for f in found]
    return jsonify(feature_collection(features, coords=coords, numberReturned=len(features)))


def _encode(feature: Feature) -> dict:
    return feature_collection([Feature(feature.id, _properties(feature), feature.geometry)])["features"][0]


def _properties(feature: Feature) -> dict:
    """The stored record, with the checklist as an object and photos as links with their EXIF position."""
    props = dict(feature.properties)
    props["checklist"] = core.checklist(feature)
    photos = get_photos()
    listed = []
    for photo_id in core.photo_ids(feature):
        info = photos.find(photo_id)
        if info is None:  # a photo removed by hand from the folder: listed without facts
            listed.append({"id": photo_id})
            continue
        listed.append({"id": info.id, "url": url_for("inspections_api.photo", photo_id=info.id),
                       "thumb_url": url_for("inspections_api.photo", photo_id=info.id, thumb=1),
                       "lon": info.lon, "lat": info.lat, "width": info.width, "height": info.height})
    props["photos"] = listed
    return props
