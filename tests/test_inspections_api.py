"""Inspections over HTTP: roles, CSRF, idempotent retries, photos (type, size, EXIF, thumbnails),
and where planners see them (estate page, latest, overdue, OGC API)."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from geo_app import create_app
from geo_app.config import load_config
from geo_app.core.demo import ensure_store
from geo_app.storage import FeatureQuery

from inspections_support import add_user, jpeg, png, sign_in

PHOTO_LIMIT_MB = 0.2


@pytest.fixture
def app(tmp_path):
    config = load_config(overrides={"data_dir": str(tmp_path / "data"), "inspections.max_photo_mb": PHOTO_LIMIT_MB,
                                    "inspections.max_photos": 3}, environ={})
    application = create_app(config)
    application.config["TESTING"] = True
    ensure_store(application.extensions["geo_app.store"])
    for name, role in (("viewer1", "viewer"), ("wang", "inspector"), ("li", "planner")):
        add_user(application, name, role)
    return application


@pytest.fixture
def store(app):
    return app.extensions["geo_app.store"]


@pytest.fixture
def estate(store):
    """A demo estate with at least two planned renovation items."""
    return next(f for f in store.features("estates", FeatureQuery(with_geometry=False))
                if len((f.properties["items_planned"] or "").split(",")) >= 2)


@pytest.fixture
def inspector(app):
    client = app.test_client()
    return client, sign_in(client, "wang")


def body(estate, **changes):
    items = estate.properties["items_planned"].split(",")
    data = {"lon": 117.26, "lat": 34.78, "accuracy_m": 12.5, "verdict": "issues",
            "checklist": {items[0]: "done", items[1]: "problem"}, "progress_estimate_pct": 60,
            "notes": "东侧道路积水 <b>未处理</b>", "device_time": "2021-07-20T09:30:00+08:00",
            "client_id": "phone-0001-abcdef"}
    data.update(changes)
    return data


def submit(client, token, estate_id, data, photos=(), headers=None):
    form = {"inspection": json.dumps(data), "photos": [(io.BytesIO(content), name) for name, content in photos]}
    return client.post(f"/api/estates/{estate_id}/inspections", data=form, content_type="multipart/form-data",
                       headers={"X-CSRFToken": token, **(headers or {})})


def photo_files(app):
    folder = app.config["GEO_APP"].photos_dir
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- roles and CSRF -------------------------------------------------------------------------------
def test_anonymous_is_401_viewer_403_inspector_201(app, estate):
    anonymous = app.test_client()
    response = anonymous.post(f"/api/estates/{estate.id}/inspections", json=body(estate))
    assert response.status_code == 401 and response.get_json()["code"] == "Unauthorized"
    viewer = app.test_client()
    token = sign_in(viewer, "viewer1")
    response = viewer.post(f"/api/estates/{estate.id}/inspections", json=body(estate), headers={"X-CSRFToken": token})
    assert response.status_code == 403 and "inspector" in response.get_json()["description"]
    inspector = app.test_client()
    token = sign_in(inspector, "wang")
    response = inspector.post(f"/api/estates/{estate.id}/inspections", json=body(estate), headers={"X-CSRFToken": token})
    assert response.status_code == 201
    record = response.get_json()["properties"]
    assert record["inspector"] == "wang" and record["estate_code"] == estate.properties["code"]
    assert record["problems"] == 1 and record["verdict"] == "issues"
    assert record["device_time"] == "2021-07-20T09:30:00+08:00"
    assert record["inspected_at"].endswith("Z") and record["inspected_at"] > "2024"  # server time, not the phone's


def test_a_planner_may_inspect_too(app, estate):
    client = app.test_client()
    token = sign_in(client, "li")
    assert client.post(f"/api/estates/{estate.id}/inspections", json=body(estate),
                       headers={"X-CSRFToken": token}).status_code == 201


def test_missing_or_wrong_csrf_token_is_refused_and_nothing_is_stored(app, store, inspector, estate):
    client, _token = inspector
    assert client.post(f"/api/estates/{estate.id}/inspections", json=body(estate)).status_code == 400
    assert client.post(f"/api/estates/{estate.id}/inspections", json=body(estate),
                       headers={"X-CSRFToken": "forged"}).status_code == 400
    assert store.count("inspections") == 0


def test_an_api_token_needs_no_csrf_token(app, estate):
    accounts = app.extensions["geo_app.accounts"]
    secret, _record = accounts.create_token(accounts.user("wang"), "script")
    response = app.test_client().post(f"/api/estates/{estate.id}/inspections", json=body(estate),
                                      headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 201


# --- the record -----------------------------------------------------------------------------------
def test_a_retry_with_the_same_client_id_is_stored_once(app, store, inspector, estate):
    client, token = inspector
    first = submit(client, token, estate.id, body(estate), [("a.jpg", jpeg())])
    again = submit(client, token, estate.id, body(estate), [("a.jpg", jpeg())])
    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    assert store.count("inspections") == 1
    # The retry's own copy of the photo was not kept: one photo, its thumbnail and its facts.
    assert len(photo_files(app)) == 3


@pytest.mark.parametrize("change, parameter, words", [
    ({"verdict": "great"}, "verdict", "pass, issues, fail"),
    ({"lon": None}, "lon", "required"),
    ({"lat": 134.7}, "lat", "between"),
    ({"progress_estimate_pct": 140}, "progress_estimate_pct", "between 0 and 100"),
    ({"checklist": {"roads": "finished"}}, "checklist", "done, in_progress, problem"),
    ({"checklist": {"moon_base": "done"}}, "checklist", "not planned"),
    ({"device_time": "yesterday"}, "device_time", "ISO 8601"),
    ({"client_id": "../../x"}, "client_id", "letters"),
    ({"client_id": "abcdefgh\n"}, "client_id", "letters"),
    ({"verdict": ["pass"]}, "verdict", "pass, issues, fail"),
    ({"checklist": {"roads": ["done"]}}, "checklist", "done, in_progress, problem"),
    ({"notes": "路面\x01破损"}, "notes", "characters of text"),
])
def test_bad_fields_are_400_naming_the_field_and_leave_no_photo(app, store, inspector, estate, change, parameter, words):
    client, token = inspector
    response = submit(client, token, estate.id, body(estate, **change), [("a.jpg", jpeg())])
    assert response.status_code == 400
    answer = response.get_json()
    assert answer["parameter"] == parameter and words in answer["description"]
    assert store.count("inspections") == 0
    assert photo_files(app) == []


def test_an_unknown_estate_is_404(inspector, estate):
    client, token = inspector
    response = submit(client, token, 999999, body(estate))
    assert response.status_code == 404 and "999999" in response.get_json()["description"]


# --- photos ---------------------------------------------------------------------------------------
def test_a_jpeg_with_exif_gps_is_stored_with_its_position_and_an_upright_thumbnail(app, inspector, estate):
    client, token = inspector
    # Orientation 6: the camera stored the picture turned; upright it is 200 wide and 400 high.
    response = submit(client, token, estate.id, body(estate), [("IMG_0001.JPG", jpeg(400, 200, gps=(117.2612345, 34.7712345),
                                                                                      orientation=6)),
                                                               ("plan.png", png())])
    assert response.status_code == 201, response.get_json()
    photos = response.get_json()["properties"]["photos"]
    assert [p["lon"] for p in photos] == [117.2612345, None] and photos[0]["lat"] == 34.7712345
    original = client.get(photos[0]["url"])
    assert original.status_code == 200 and original.mimetype == "image/jpeg"
    assert original.data == jpeg(400, 200, gps=(117.2612345, 34.7712345), orientation=6)
    thumb = Image.open(io.BytesIO(client.get(photos[0]["thumb_url"]).data))
    assert thumb.format == "JPEG" and max(thumb.size) <= 320
    assert thumb.size == (160, 320)  # upright: portrait
    assert client.get(photos[1]["url"]).mimetype == "image/png"
    # Named by the server, never by the phone.
    assert not any("IMG_0001" in name or "plan" in name for name in photo_files(app))


def test_a_text_file_named_jpg_is_refused_with_a_clear_message(app, store, inspector, estate):
    client, token = inspector
    response = submit(client, token, estate.id, body(estate), [("photo.jpg", "这不是照片 not a photo".encode())])
    assert response.status_code == 400
    message = response.get_json()["description"]
    assert "photo.jpg" in message and "not a readable image" in message and "JPEG" in message
    assert store.count("inspections") == 0 and photo_files(app) == []


def test_an_oversized_photo_is_refused_413_with_a_clear_message(app, store, inspector, estate):
    client, token = inspector
    big = jpeg() + b"\0" * int(PHOTO_LIMIT_MB * 1_000_000)  # a valid JPEG padded past the limit
    response = submit(client, token, estate.id, body(estate), [("big.jpg", big)])
    assert response.status_code == 413
    message = response.get_json()["description"]
    assert "big.jpg" in message and f"{PHOTO_LIMIT_MB:g} MB" in message
    assert store.count("inspections") == 0 and photo_files(app) == []


def test_a_request_over_the_upload_limit_is_refused_413_before_it_is_read(app, store, inspector, estate):
    client, token = inspector
    huge = b"\xff" * int(3 * PHOTO_LIMIT_MB * 1_000_000 + 2_000_000)
    response = submit(client, token, estate.id, body(estate), [("huge.jpg", huge)])
    assert response.status_code == 413
    assert "最多 3 张照片，每张不超过 0.2 MB" in response.get_json()["description"]  # Chinese by default
    assert store.count("inspections") == 0


def test_more_photos_than_allowed_are_refused(app, inspector, estate):
    client, token = inspector
    response = submit(client, token, estate.id, body(estate), [(f"{i}.jpg", jpeg()) for i in range(4)])
    assert response.status_code == 400 and "at most 3 photos" in response.get_json()["description"]


def test_a_photo_file_name_cannot_choose_where_it_lands(app, tmp_path, inspector, estate):
    client, token = inspector
    response = submit(client, token, estate.id, body(estate), [("../../../evil.jpg", jpeg())])
    assert response.status_code == 201
    assert not list(tmp_path.rglob("evil*"))
    photos_dir = app.config["GEO_APP"].photos_dir
    assert all(path.parent == photos_dir for path in photos_dir.rglob("*"))
    for bad in ("..%2F..%2Fconfig.toml", "../gpkg", "0" * 31 + "g", "%2e%2e"):
        assert client.get(f"/api/photos/{bad}").status_code == 404


def test_photos_need_a_signed_in_viewer(app, inspector, estate):
    client, token = inspector
    url = submit(client, token, estate.id, body(estate), [("a.jpg", jpeg())]).get_json()["properties"]["photos"][0]["url"]
    assert app.test_client().get(url).status_code == 401
    viewer = app.test_client()
    sign_in(viewer, "viewer1")
    assert viewer.get(url).status_code == 200


# --- reading ----------------------------------------------------------------------------------------
def test_reads_filter_by_estate_inspector_and_since_newest_first(app, store, inspector, estate):
    client, token = inspector
    other = store.features("estates", FeatureQuery(limit=1, offset=5, with_geometry=False))[0]
    submit(client, token, estate.id, body(estate, client_id="phone-a-000001"))
    submit(client, token, estate.id, body(estate, client_id="phone-a-000002", verdict="pass"))
    submit(client, token, other.id, body(other, client_id="phone-a-000003", checklist={}))
    mine = client.get(f"/api/estates/{estate.id}/inspections").get_json()
    assert [f["properties"]["client_id"] for f in mine["features"]] == ["phone-a-000002", "phone-a-000001"]
    assert mine["features"][0]["geometry"] == {"type": "Point", "coordinates": [117.26, 34.78]}
    assert len(client.get("/api/inspections?inspector=wang").get_json()["features"]) == 3
    assert client.get("/api/inspections?inspector=nobody").get_json()["features"] == []
    assert len(client.get(f"/api/inspections?estate={other.id}").get_json()["features"]) == 1
    assert len(client.get("/api/inspections?since=2000-01-01").get_json()["features"]) == 3
    assert client.get("/api/inspections?since=2999-01-01").get_json()["features"] == []
    assert client.get("/api/inspections?since=soon").status_code == 400
    latest = client.get("/api/inspections/latest").get_json()["features"]
    assert sorted(f["properties"]["client_id"] for f in latest) == ["phone-a-000002", "phone-a-000003"]


def test_overdue_lists_estates_never_or_long_ago_inspected(app, store, inspector, estate):
    client, token = inspector
    total = store.count("estates")
    before = client.get("/api/inspections/overdue?days=30").get_json()
    assert before["numberMatched"] == total
    submit(client, token, estate.id, body(estate))
    after = client.get("/api/inspections/overdue?days=30").get_json()
    assert after["numberMatched"] == total - 1
    assert estate.id not in {f["id"] for f in after["features"]}
    assert client.get("/api/inspections/overdue?days=0").status_code == 400


def test_inspection_reads_need_a_signed_in_viewer_even_with_anonymous_viewing(app, inspector, estate):
    client, token = inspector
    assert submit(client, token, estate.id, body(estate)).status_code == 201
    anonymous = app.test_client()
    # The collection is listed, but its extent (where inspectors stood) is not given away.
    assert "extent" not in anonymous.get("/ogcapi/collections/inspections?f=json").get_json()
    assert "extent" in anonymous.get("/ogcapi/collections/estates?f=json").get_json()
    for url in (f"/api/estates/{estate.id}/inspections", "/api/inspections", "/api/inspections/latest",
                "/api/inspections/overdue", "/ogcapi/collections/inspections/items"):
        assert anonymous.get(url).status_code == 401, url
    assert anonymous.get("/ogcapi/collections/estates/items").status_code == 200


def test_the_estate_page_shows_its_history_escaped_with_photos(app, inspector, estate):
    client, token = inspector
    submit(client, token, estate.id, body(estate), [("a.jpg", jpeg(gps=(117.2612345, 34.7712345)))])
    planner = app.test_client()
    sign_in(planner, "li")
    page = planner.get(f"/estates/{estate.id}").get_data(as_text=True)
    assert "wang" in page and "东侧道路积水 &lt;b&gt;未处理&lt;/b&gt;" in page and "<b>未处理" not in page
    assert "存在问题" in page and "有问题" in page  # verdict and the problem item, in Chinese
    assert "照片定位 117.26123" in page  # the photo's EXIF position
    assert "?thumb=1" in page
    anonymous = app.test_client().get(f"/estates/{estate.id}").get_data(as_text=True)
    assert "wang" not in anonymous and "登录后" in anonymous


def test_overview_page_lists_latest_and_overdue(app, inspector, estate):
    client, token = inspector
    submit(client, token, estate.id, body(estate))
    page = client.get("/inspections").get_data(as_text=True)
    assert estate.properties["name"] in page and "wang" in page
    assert app.test_client().get("/inspections").status_code == 302  # to the sign-in page


def test_another_inspectors_client_id_is_refused_not_answered_with_their_record(app, store, inspector, estate):
    client, token = inspector
    assert submit(client, token, estate.id, body(estate)).status_code == 201
    other = app.test_client()
    response = submit(other, sign_in(other, "li"), estate.id, body(estate, notes="另一位巡查员"))
    assert response.status_code == 409 and "another inspector" in response.get_json()["description"]
    assert "东侧道路积水" not in response.get_data(as_text=True)  # wang's notes are not handed to li
    assert store.count("inspections") == 1
