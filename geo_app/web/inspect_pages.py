"""Inspection pages: the inspector's phone page (/inspect), the planner's overview (/inspections),
and the inspection history on an estate's page."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from ..core import basemaps as basemap_catalogue
from ..core import frontend_config
from ..core import inspections as core
from ..domain import CHECKLIST_STATES, INSPECTION_VERDICTS, RENOVATION_ITEMS, RENOVATION_STATUS
from ..storage import FeatureQuery
from . import get_config, get_store
from .auth import current_user, require_role
from .i18n import current_locale
from .inspections_api import get_photos
from .params import parse_int_list, parse_text

bp = Blueprint("inspect_pages", __name__)

# Texts the inspector script reads as `ui.<key>`, translated per request.
INSPECT_UI = {
    "locating": lazy_gettext("Finding your position…"),
    "located": lazy_gettext("Position found"),
    "accuracy": lazy_gettext("accuracy"),
    "no_position": lazy_gettext("No position from the phone: tap the map or type the coordinates."),
    "manual": lazy_gettext("Position set by hand"),
    "nothing_near": lazy_gettext("No estate within this radius."),
    "inside": lazy_gettext("inside"),
    "pending": lazy_gettext("Waiting to send"),
    "sent": lazy_gettext("Sent"),
    "sending": lazy_gettext("Sending…"),
    "saved_offline": lazy_gettext("No connection: the inspection is kept on this phone and will be sent "
                                  "automatically."),
    "refused": lazy_gettext("Not accepted"),
    "sign_in_again": lazy_gettext("Your sign-in has ended: sign in again and the waiting inspections will be sent."),
    "discard": lazy_gettext("Discard"),
    "no_items": lazy_gettext("No renovation items planned for this estate."),
    "bad_coordinates": lazy_gettext("Longitude and latitude must be numbers in degrees."),
    "choose_verdict": lazy_gettext("Choose a verdict."),
    "photo_position": lazy_gettext("photo position"),
}
# Compass points for "东北 120 m": bearings from the inspector to the estate, in 45° sectors.
COMPASS = [lazy_gettext("N"), lazy_gettext("NE"), lazy_gettext("E"), lazy_gettext("SE"),
           lazy_gettext("S"), lazy_gettext("SW"), lazy_gettext("W"), lazy_gettext("NW")]


@bp.app_context_processor
def _template_helpers():
    return {"inspection_texts": inspection_texts}


def inspection_texts() -> dict:
    """What the planner map's inspections overlay (static/js/planner-inspections.js) shows."""
    locale = current_locale()
    return {"title": _("Inspections"), "latest": _("Latest inspection"), "problems": _("Problems"),
            "none": _("No inspections yet."),
            "verdicts": [{"code": t.code, "label": t.label(locale), "color": t.color} for t in INSPECTION_VERDICTS]}


@bp.get("/inspect")
@require_role("inspector")
def inspect_page():
    """The inspector's phone page: nearby estates, the inspection form, the offline queue."""
    config, locale = get_config(), current_locale()
    # GCJ-02 basemaps (Amap) are left out here: the phone's position is WGS84, drawn as it is.
    basemap = _wgs84_basemap()
    page_config = {
        "locale": locale,
        "center": [config.map.center_lat, config.map.center_lon],
        "tiles": [{"url": t.url, "subdomains": t.subdomains} for t in basemap.tiles],
        "attribution": basemap.attribution,
        "maxPhotos": config.inspections.max_photos,
        "maxPhotoBytes": int(config.inspections.max_photo_mb * 1_000_000),
        "urls": {"nearby": url_for("spatial_api.nearby"),
                 "estate": url_for("api.estate", estate_id=0).rsplit("/", 1)[0] + "/",
                 "estatePage": url_for("pages.estate_page", estate_id=0).rsplit("/", 1)[0] + "/"},
        "labels": {**frontend_config.labels(locale),
                   "checklist": [{"code": t.code, "label": t.label(locale)} for t in CHECKLIST_STATES],
                   "verdicts": [{"code": t.code, "label": t.label(locale), "color": t.color}
                                for t in INSPECTION_VERDICTS]},
        "compass": [str(c) for c in COMPASS],
        "user": current_user().username,
    }
    ui = {key: str(text) for key, text in INSPECT_UI.items()}
    return render_template("inspect.html", page_config=page_config, ui=ui)


@bp.get("/inspections")
@require_role("viewer")
def overview_page():
    """The planner's overview: each estate's latest inspection, and estates overdue for a visit."""
    store, locale = get_store(), current_locale()
    days = (parse_int_list(request.args, "days", 1, 3650) or [get_config().inspections.overdue_days])[0]
    office = parse_text(request.args, "street_office")
    estates = {f.id: f for f in store.features("estates", FeatureQuery.where(street_office=office,
                                                                              with_geometry=False))}
    latest = [f for f in core.inspections(store, latest_only=True) if f.properties["estate_id"] in estates]
    overdue = core.overdue_estates(store, days, office)
    offices = [f.properties["name"] for f in store.features("street_offices", FeatureQuery(with_geometry=False))]
    rows = [_row(f, estates) for f in latest]
    return render_template("inspections.html", latest=rows, overdue=overdue, days=days, office=office,
                           offices=offices, statuses={t.code: t.label(locale) for t in RENOVATION_STATUS},
                           verdicts={t.code: t for t in INSPECTION_VERDICTS}, locale=locale,
                           map_data=_overview_map_data(rows, overdue, locale))


def _wgs84_basemap():
    config = get_config()
    offered = [b for b in basemap_catalogue.available_basemaps(config.map) if b.coords == "wgs84"]
    return basemap_catalogue.choose_default(offered, config.map.default_basemap)


def _overview_map_data(latest: list[dict], overdue: list[dict], locale: str) -> dict:
    """Points for the overview map: latest inspections by verdict, overdue estates at a point inside."""
    basemap, config = _wgs84_basemap(), get_config()
    points = []
    for row in overdue:
        inside = row["geometry"].representative_point()
        points.append({"lon": inside.x, "lat": inside.y, "name": row["name"],
                       "text": str(_("never inspected")) if row["days_since"] is None
                       else str(_("%(days)d days ago", days=row["days_since"]))})
    return {
        "tile": ({"url": basemap.tiles[0].url, "subdomains": basemap.tiles[0].subdomains} if basemap.tiles else None),
        "attribution": basemap.attribution, "center": [config.map.center_lat, config.map.center_lon],
        "latest": [{"lon": r["lon"], "lat": r["lat"], "name": r["estate_name"],
                    "color": INSPECTION_VERDICTS[r["verdict"]].color,
                    "text": f'{INSPECTION_VERDICTS[r["verdict"]].label(locale)} · {r["inspected_at"][:10]}'}
                   for r in latest],
        "overdue": points,
    }


def _row(feature, estates) -> dict:
    estate = estates[feature.properties["estate_id"]]
    return {**feature.properties, "id": feature.id, "estate_name": estate.properties["name"],
            "street_office": estate.properties["street_office"],
            "lon": feature.geometry.x, "lat": feature.geometry.y}


def estate_history(estate_id: int, locale: str) -> list[dict] | None:
    """An estate's inspections for its page, newest first; None when the visitor may not see them
    (inspections name people, so they need a signed-in viewer even when anonymous viewing is on)."""
    user = current_user()
    if user is None or not user.can("viewer"):
        return None
    photos = get_photos()
    items = {t.code: t.label(locale) for t in RENOVATION_ITEMS}
    order = {code: i for i, code in enumerate(items)}
    states = {t.code: t.label(locale) for t in CHECKLIST_STATES}
    rows = []
    for feature in core.inspections(get_store(), estate_id=estate_id):
        props = feature.properties
        checklist = core.checklist(feature)
        pictures = []
        for photo_id in core.photo_ids(feature):
            info = photos.find(photo_id)
            if info is not None:
                pictures.append(info)
        rows.append({**props, "verdict_term": INSPECTION_VERDICTS[props["verdict"]],
                     # In the vocabulary's order, as the estate page lists the items.
                     "checklist_rows": [(items.get(code, code), states.get(state, state), state)
                                        for code, state in sorted(checklist.items(), key=lambda kv: order.get(kv[0], 99))],
                     "photo_infos": pictures, "lon": feature.geometry.x, "lat": feature.geometry.y})
    return rows
