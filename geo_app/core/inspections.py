"""Field inspections: checking a submission, storing it once, and the questions planners ask.

A submission comes from the inspector page (or a script): the estate, where the inspector stood,
a checklist over that estate's renovation items, a progress estimate, notes, photo ids and a
verdict. The server stamps `inspected_at` (UTC) itself; the phone's clock is kept as
`device_time`, since a form sent from the offline queue may arrive hours after it was filled.
`client_id` is the phone's id for the submission: a retry after a lost answer finds the stored
record instead of storing a second one.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

from shapely.geometry import Point

from ..domain import CHECKLIST_STATES, INSPECTION_VERDICTS
from ..errors import Conflict, InvalidParameter, NotFound
from ..storage import Feature, FeatureQuery, Store
from ..storage.base import quote_ident

LAYER = "inspections"
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_NOTES = 4000
MAX_ACCURACY_M = 100_000  # a browser reports tens of km for an IP-based guess; more is nonsense


@dataclass(frozen=True)
class Submission:
    """One inspection as sent, before the server adds who and when."""

    estate_id: int
    lon: float
    lat: float
    verdict: str
    checklist: dict
    accuracy_m: float | None = None
    progress_estimate_pct: float | None = None
    notes: str = ""
    device_time: str | None = None
    client_id: str | None = None


def parse_submission(estate_id: int, data: dict) -> Submission:
    """Check the sent fields (types, ranges, vocabularies); errors name the field."""
    if not isinstance(data, dict):
        raise InvalidParameter("the inspection must be a JSON object", parameter="inspection")
    lon, lat = _position(data)
    checklist = data.get("checklist") or {}
    if not isinstance(checklist, dict):
        raise InvalidParameter("checklist must be an object: item code -> done | in_progress | problem",
                               parameter="checklist")
    for code, state in checklist.items():
        if not isinstance(state, str) or state not in CHECKLIST_STATES:
            raise InvalidParameter(f"checklist item {str(code)[:40]!r}: state must be one of "
                                   f"{', '.join(CHECKLIST_STATES.codes())}, got {str(state)[:40]!r}",
                                   parameter="checklist")
    verdict = data.get("verdict")
    if not isinstance(verdict, str) or verdict not in INSPECTION_VERDICTS:
        raise InvalidParameter(f"verdict must be one of {', '.join(INSPECTION_VERDICTS.codes())}",
                               parameter="verdict")
    notes = str(data.get("notes") or "").strip()
    # Line breaks and tabs are text; other control characters are not (they also break Excel files).
    if len(notes) > MAX_NOTES or any(ord(ch) < 32 and ch not in "\n\r\t" for ch in notes):
        raise InvalidParameter(f"notes must be at most {MAX_NOTES} characters of text", parameter="notes")
    client_id = data.get("client_id") or None
    if client_id is not None and not CLIENT_ID.fullmatch(str(client_id)):
        raise InvalidParameter("client_id must be 8-64 letters, digits, '-' or '_'", parameter="client_id")
    return Submission(
        estate_id=int(estate_id), lon=lon, lat=lat, verdict=verdict, checklist=dict(checklist),
        accuracy_m=_number(data, "accuracy_m", 0, MAX_ACCURACY_M),
        progress_estimate_pct=_number(data, "progress_estimate_pct", 0, 100),
        notes=notes, device_time=_device_time(data.get("device_time")), client_id=client_id)


def _position(data: dict) -> tuple[float, float]:
    lon, lat = _number(data, "lon", -180, 180), _number(data, "lat", -90, 90)
    if lon is None or lat is None:
        raise InvalidParameter("lon and lat (WGS84 degrees, where the inspector stood) are required",
                               parameter="lon" if lon is None else "lat")
    return lon, lat


def _number(data: dict, name: str, lo: float, hi: float) -> float | None:
    raw = data.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise InvalidParameter(f"{name} must be a number, got {str(raw)[:40]!r}", parameter=name) from None
    if not lo <= value <= hi:  # also refuses NaN
        raise InvalidParameter(f"{name} must be between {lo:g} and {hi:g}, got {value:g}", parameter=name)
    return value


def _device_time(raw) -> str | None:
    if raw in (None, ""):
        return None
    try:
        return dt.datetime.fromisoformat(str(raw).replace("Z", "+00:00")).isoformat()
    except ValueError:
        raise InvalidParameter(f"device_time must be an ISO 8601 time, got {str(raw)[:40]!r}",
                               parameter="device_time") from None


def now_utc() -> str:
    """The server's time as stored in `inspected_at`: ISO 8601, UTC, to the second."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def find_by_client_id(store: Store, client_id: str | None) -> Feature | None:
    """The stored inspection a phone already sent under this id, if any."""
    if not client_id:
        return None
    found = store.features(LAYER, FeatureQuery.where(client_id=client_id))
    return found[0] if found else None


def find_earlier(store: Store, client_id: str | None, inspector: str) -> Feature | None:
    """This inspector's earlier submission under the id (a retry); Conflict when the id is someone
    else's: their record is never handed back, and this submission is not dropped silently."""
    earlier = find_by_client_id(store, client_id)
    if earlier is not None and earlier.properties.get("inspector") != inspector:
        raise Conflict("client_id was already used by another inspector's submission; send it again with a new id")
    return earlier


def record(store: Store, submission: Submission, inspector: str, photo_ids: list[str]) -> tuple[Feature, bool]:
    """Store the inspection once: (the record, True) — or (the earlier record, False) when the
    phone's client_id was stored before (a retry), in which case nothing new is written."""
    earlier = find_earlier(store, submission.client_id, inspector)
    if earlier is not None:
        return earlier, False
    estate = store.get("estates", submission.estate_id)
    planned = set(filter(None, (estate.properties.get("items_planned") or "").split(",")))
    stray = sorted(set(submission.checklist) - planned)
    if stray:
        raise InvalidParameter(f"checklist item(s) {', '.join(map(str, stray))[:200]} are not planned for "
                               f"estate {estate.properties['code']}; planned: {', '.join(sorted(planned)) or '-'}",
                               parameter="checklist")
    properties = {
        "estate_id": estate.id, "estate_code": estate.properties.get("code"), "inspector": inspector,
        "inspected_at": now_utc(), "device_time": submission.device_time, "accuracy_m": submission.accuracy_m,
        "checklist": json.dumps(submission.checklist, ensure_ascii=False, sort_keys=True),
        "progress_estimate_pct": submission.progress_estimate_pct, "notes": submission.notes or None,
        "verdict": submission.verdict,
        "problems": sum(1 for state in submission.checklist.values() if state == "problem"),
        "photos": json.dumps(list(photo_ids)), "client_id": submission.client_id,
    }
    try:
        with store.transaction() as writer:
            new_id = writer.insert(LAYER, [Feature(None, properties, Point(submission.lon, submission.lat))])[0]
    except Conflict:
        # The same client_id arrived twice at once and the other request won: answer with its record.
        earlier = find_by_client_id(store, submission.client_id)
        if earlier is None:
            raise
        return earlier, False
    return store.get(LAYER, new_id), True


def photo_ids(feature: Feature) -> list[str]:
    """The photo ids an inspection record lists."""
    try:
        ids = json.loads(feature.properties.get("photos") or "[]")
    except ValueError:
        return []
    return [i for i in ids if isinstance(i, str)]


def checklist(feature: Feature) -> dict:
    """The inspection's checklist: renovation item code -> done | in_progress | problem."""
    try:
        value = json.loads(feature.properties.get("checklist") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# --- reading -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Condition:
    """The inspection filters FeatureQuery has no words for, as SQL with bound parameters:
    `inspected_at >= since` (ISO UTC strings sort as times) and each estate's newest record only
    (ids grow with server time, so the largest id per estate is its latest inspection)."""

    since: str | None = None
    latest_only: bool = False

    def sql(self, store: Store, layer_def) -> tuple[str, list]:
        clauses, params = ["1 = 1"], []
        if self.since:
            clauses.append(f'{quote_ident("inspected_at")} >= {store.placeholder}')
            params.append(self.since)
        if self.latest_only:
            table, estate = quote_ident(LAYER), quote_ident("estate_id")
            clauses.append(f'"id" IN (SELECT MAX("id") FROM {table} GROUP BY {estate})')
        return " AND ".join(clauses), params


def parse_since(raw: str | None) -> str | None:
    """A date or time (ISO 8601) as the UTC string `inspected_at` compares with."""
    if not raw:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidParameter(f"since must be an ISO 8601 date or time, got {raw[:40]!r}", parameter="since") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def inspections(store: Store, estate_id: int | None = None, inspector: str | None = None,
                since: str | None = None, limit: int | None = None, latest_only: bool = False) -> list[Feature]:
    """Inspections, newest first, filtered by estate, inspector and time (`since`, UTC ISO)."""
    query = FeatureQuery.where(estate_id=estate_id, inspector=inspector,
                               condition=_Condition(since, latest_only))
    found = store.features(LAYER, query)
    found.sort(key=lambda f: (f.properties["inspected_at"], f.id), reverse=True)
    return found[:limit] if limit else found


def overdue_estates(store: Store, days: int, street_office: str | None = None,
                    today: dt.date | None = None) -> list[dict]:
    """Estates not inspected in the last `days` days (never inspected first, then the longest ago):
    id, code, name, street office, status, last inspection time and verdict, days since (None if
    never) and the estate's geometry."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    cutoff = (today - dt.timedelta(days=days)).isoformat()
    latest = {f.properties["estate_id"]: f for f in inspections(store, latest_only=True)}
    estates = store.features("estates", FeatureQuery.where(street_office=street_office))
    rows = []
    for estate in estates:
        last = latest.get(estate.id)
        last_at = last.properties["inspected_at"] if last else None
        if last_at is not None and last_at >= cutoff:
            continue
        since = None if last_at is None else (today - dt.date.fromisoformat(last_at[:10])).days
        rows.append({"id": estate.id, "code": estate.properties["code"], "name": estate.properties["name"],
                     "street_office": estate.properties["street_office"], "status": estate.properties["status"],
                     "last_inspected_at": last_at, "last_verdict": last.properties["verdict"] if last else None,
                     "days_since": since, "geometry": estate.geometry})
    rows.sort(key=lambda r: (r["days_since"] is not None, -(r["days_since"] or 0), r["code"]))
    return rows


def require_estate(store: Store, estate_id: int) -> Feature:
    """The estate, or a 404 naming the id (before any photo of a doomed submission is stored)."""
    try:
        return store.get("estates", estate_id)
    except NotFound:
        raise NotFound(f"no estate with id {estate_id}") from None
