"""The planners' edit form, JSON edit API, audit export and estate history over HTTP.

A role matrix over every write endpoint (anonymous 401, viewer/inspector 403, planner OK), CSRF
refused without a token, a stale version answered 409 with the current values and nothing lost.
"""

from __future__ import annotations

import json
import re
import threading
from html.parser import HTMLParser

import pytest
from werkzeug.datastructures import MultiDict
from werkzeug.serving import make_server

from geo_app.core.accounts import Accounts
from geo_app.storage import FeatureQuery
from geo_app.storage.audit import AUDIT

PASSWORD = "correct horse battery"
ROLES = ("viewer", "inspector", "planner")


@pytest.fixture
def store(app):
    return app.extensions["geo_app.store"]


@pytest.fixture
def users(app, store):
    accounts = Accounts(store.accounts)
    return {role: accounts.add_user(f"{role}_user", role, PASSWORD) for role in ROLES}


def sign_in(client, user):
    """Plant a signed-in session (as the sign-in form would start one) without the slow form round trip."""
    accounts = Accounts(client.application.extensions["geo_app.store"].accounts)
    with client.session_transaction() as session:
        session["sid"] = accounts.start_session(user, 1)


def csrf_token(client, estate_id: int) -> str:
    page = client.get(f"/estates/{estate_id}/edit")
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


@pytest.fixture
def estate(store):
    return store.features("estates", FeatureQuery.where(status="planned", limit=1))[0]


def form_for(estate, **changes):
    data = {"version": estate.version, "reason": "现场核实", "status": estate.properties["status"],
            "progress_pct": estate.properties.get("progress_pct") or ""}
    data.update(changes)
    return data


WRITES = [
    ("post", "/estates/{id}/edit", "form"),
    ("patch", "/api/estates/{id}", "json"),
]


@pytest.mark.parametrize("method,path,kind", WRITES)
def test_role_matrix_over_the_write_endpoints(app, users, estate, store, method, path, kind):
    url = path.format(id=estate.id)
    body = {"version": estate.version, "reason": "x", "properties": {"progress_pct": 42}}
    payload = ({"json": body} if kind == "json" else
               {"data": form_for(estate, progress_pct="42")})
    anonymous = app.test_client()
    assert getattr(anonymous, method)(url, **payload).status_code == 401
    for role in ("viewer", "inspector"):
        client = app.test_client()
        sign_in(client, users[role])
        assert getattr(client, method)(url, **payload).status_code == 403, role
    planner = app.test_client()
    sign_in(planner, users["planner"])
    refused = getattr(planner, method)(url, **payload)
    assert refused.status_code == 400 and "CSRF" in refused.get_data(as_text=True)
    bad = getattr(planner, method)(url, **payload, headers={"X-CSRFToken": "forged"})
    assert bad.status_code == 400
    assert store.get("estates", estate.id).version == estate.version  # nothing written so far
    token = csrf_token(planner, estate.id)
    done = getattr(planner, method)(url, **payload, headers={"X-CSRFToken": token})
    assert done.status_code in (200, 302)
    stored = store.get("estates", estate.id)
    assert stored.properties["progress_pct"] == 42 and stored.version == estate.version + 1


def test_a_bearer_token_of_a_planner_edits_without_csrf(app, users, store, estate):
    secret, _ = Accounts(store.accounts).create_token(users["planner"], "script")
    response = app.test_client().patch(f"/api/estates/{estate.id}", headers={"Authorization": f"Bearer {secret}"},
                                       json={"version": estate.version, "reason": "脚本", "properties": {"progress_pct": 5}})
    assert response.status_code == 200
    assert response.headers["ETag"] == f'"v{estate.version + 1}"'
    assert app.test_client().get(f"/api/estates/{estate.id}").json["version"] == estate.version + 1
    [entry] = store.audit.entries()
    assert (entry.actor, entry.via, entry.token_id is not None) == ("planner_user", "token", True)


def test_the_form_saves_and_the_estate_page_shows_the_history_newest_first(app, users, store, estate):
    client = app.test_client()
    sign_in(client, users["planner"])
    token = csrf_token(client, estate.id)
    first = client.post(f"/estates/{estate.id}/edit",
                        data={**form_for(estate, status="under_construction"), "csrf_token": token})
    assert first.status_code == 302 and first.headers["Location"].endswith(f"/estates/{estate.id}#history")
    second = client.post(f"/estates/{estate.id}/edit",
                         data={**form_for(estate, status="under_construction", progress_pct="35"),
                               "version": estate.version + 1, "reason": "<b>第二次</b>", "csrf_token": token})
    assert second.status_code == 302
    page = client.get(f"/estates/{estate.id}").get_data(as_text=True)
    history = page[page.index('id="history-list"'):]
    assert history.index("第二次") < history.index("现场核实")  # newest first
    assert "&lt;b&gt;第二次&lt;/b&gt;" in history and "<b>第二次" not in history
    assert "已列入计划 → 施工中" in history
    # Anonymous visitors see no names.
    assert "planner_user" not in app.test_client().get(f"/estates/{estate.id}").get_data(as_text=True)


def test_form_errors_are_shown_per_field_and_nothing_is_saved(app, users, store, estate):
    client = app.test_client()
    sign_in(client, users["planner"])
    token = csrf_token(client, estate.id)
    response = client.post(f"/estates/{estate.id}/edit", data={
        **form_for(estate, progress_pct="120", households="很多", start_date="2021-02-30"), "reason": "",
        "csrf_token": token})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    for field, message in [("progress_pct", "请输入 0 至 100 之间的数值"), ("households", "请输入整数"),
                           ("start_date", "YYYY-MM-DD")]:
        block = page[page.index(f'id="field-{field}"'):]
        block = block[:block.index("</div>")]
        assert message in block, field
        assert 'class="field-error"' in block
    assert 'value="很多"' in page  # what was typed stays in the form
    assert store.get("estates", estate.id).version == estate.version and store.audit.count() == 0


def test_a_stale_form_gets_409_with_the_current_values_and_loses_nothing(app, users, store, estate):
    alice, bob = app.test_client(), app.test_client()
    sign_in(alice, users["planner"])
    sign_in(bob, users["planner"])
    token_a, token_b = csrf_token(alice, estate.id), csrf_token(bob, estate.id)
    assert alice.post(f"/estates/{estate.id}/edit",
                      data={**form_for(estate, progress_pct="30"), "csrf_token": token_a}).status_code == 302
    stale = bob.post(f"/estates/{estate.id}/edit", data={**form_for(estate, progress_pct="60"), "csrf_token": token_b})
    assert stale.status_code == 409
    page = stale.get_data(as_text=True)
    assert 'name="version" value="%d"' % (estate.version + 1) in page
    assert 'id="input-progress_pct" name="progress_pct" value="30"' in page
    assert "60" in page[page.index('id="stale-changes"'):]  # what bob typed, to redo
    assert store.get("estates", estate.id).properties["progress_pct"] == 30


def test_two_concurrent_api_edits_against_a_live_server_one_409_nothing_lost(app, users, store, estate):
    secret, _ = Accounts(store.accounts).create_token(users["planner"], "load")
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    import urllib.error
    import urllib.request

    barrier, results = threading.Barrier(2), {}

    def edit(value):
        request = urllib.request.Request(
            f"http://127.0.0.1:{httpd.server_port}/api/estates/{estate.id}", method="PATCH",
            data=json.dumps({"version": estate.version, "reason": f"v{value}",
                             "properties": {"progress_pct": value}}).encode(),
            headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"})
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                results[value] = (response.status, json.load(response))
        except urllib.error.HTTPError as error:
            results[value] = (error.code, json.load(error))

    try:
        threads = [threading.Thread(target=edit, args=(v,)) for v in (11, 22)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        httpd.shutdown()
    statuses = sorted(status for status, _ in results.values())
    assert statuses == [200, 409]
    [winner] = [v for v, (status, _) in results.items() if status == 200]
    [(_, conflict)] = [r for r in results.values() if r[0] == 409]
    assert conflict["code"] == "stale_version" and conflict["current_version"] == estate.version + 1
    assert conflict["current"]["properties"]["progress_pct"] == winner
    assert store.get("estates", estate.id).properties["progress_pct"] == winner
    assert store.audit.count() == 1


def test_api_boundary_outside_refused_overlap_needs_confirmation(app, users, store, estate):
    client = app.test_client()
    sign_in(client, users["planner"])
    token = csrf_token(client, estate.id)
    headers = {"X-CSRFToken": token}
    far = {"type": "Polygon", "coordinates": [[[120.0, 30.0], [120.01, 30.0], [120.01, 30.01], [120.0, 30.0]]]}
    outside = client.patch(f"/api/estates/{estate.id}", headers=headers,
                           json={"version": estate.version, "reason": "x", "geometry": far})
    assert outside.status_code == 400
    assert outside.json["reason"] == "outside_district" and "薛城区" in outside.json["description"]
    other = store.features("estates", FeatureQuery.where(status="accepted", limit=1))[0]
    onto_other = other.geometry.buffer(-0.0001)
    from shapely.geometry import mapping

    first = client.patch(f"/api/estates/{estate.id}", headers=headers,
                         json={"version": estate.version, "reason": "x", "geometry": mapping(onto_other)})
    assert first.status_code == 409 and first.json["code"] == "overlap_unconfirmed"
    assert other.properties["code"] in [o["code"] for o in first.json["overlaps"]]
    assert store.get("estates", estate.id).version == estate.version
    confirmed = client.patch(f"/api/estates/{estate.id}", headers=headers,
                             json={"version": estate.version, "reason": "x", "geometry": mapping(onto_other),
                                   "confirm_overlap": True})
    assert confirmed.status_code == 200


def test_audit_export_is_for_planners_and_filters(app, users, store, estate):
    client = app.test_client()
    sign_in(client, users["planner"])
    token = csrf_token(client, estate.id)
    client.post(f"/estates/{estate.id}/edit", data={**form_for(estate, progress_pct="9"), "csrf_token": token})
    assert app.test_client().get("/api/audit").status_code == 401
    viewer = app.test_client()
    sign_in(viewer, users["viewer"])
    assert viewer.get("/api/audit").status_code == 403
    csv_text = client.get(f"/api/audit?estate={estate.properties['code']}").data.decode("utf-8-sig")
    assert csv_text.splitlines()[0].startswith("id,at,actor") and "progress_pct" in csv_text
    records = client.get("/api/audit?format=json&user=planner_user").json["records"]
    assert len(records) == 1 and records[0]["feature_code"] == estate.properties["code"]
    assert client.get("/api/audit?format=json&user=nobody").json["records"] == []
    assert client.get("/api/audit?format=json&from=2999-01-01").json["records"] == []
    assert client.get("/api/audit?from=yesterday").status_code == 400
    assert AUDIT == "geo_app_audit"


class _FormFields(HTMLParser):
    """The values a browser would send for the edit form as rendered."""

    def __init__(self):
        super().__init__()
        self.pairs, self._select = [], None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and (a.get("type") != "checkbox" or "checked" in a):
            self.pairs.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and "selected" in a:
            self.pairs.append((self._select, a["value"]))


def test_saving_the_form_unchanged_changes_nothing(app, users, store):
    # A float like 153000.5 must come back exactly, or every save would rewrite it.
    estate = store.features("estates", FeatureQuery(limit=1))[0]
    with store.transaction() as w:
        w.update("estates", estate.id, {"floor_area_m2": 153000.5, "inv_district": 12.34})
    client = app.test_client()
    sign_in(client, users["planner"])
    parser = _FormFields()
    parser.feed(client.get(f"/estates/{estate.id}/edit").get_data(as_text=True))
    data = MultiDict([*parser.pairs, ("reason", "只是看看")])
    response = client.post(f"/estates/{estate.id}/edit", data=data, follow_redirects=True)
    assert "没有任何修改" in response.get_data(as_text=True)
    assert store.audit.count() == 0 and store.get("estates", estate.id).version == 2


def test_odd_json_is_a_400_naming_the_field_never_a_500(app, users, store, estate):
    client = app.test_client()
    sign_in(client, users["planner"])
    token = csrf_token(client, estate.id)
    for body, parameter in [({"version": estate.version, "reason": "x", "properties": [1]}, "properties"),
                            ({"version": estate.version, "reason": ["x"], "properties": {}}, "reason")]:
        response = client.patch(f"/api/estates/{estate.id}", json=body, headers={"X-CSRFToken": token})
        assert response.status_code == 400 and response.get_json()["parameter"] == parameter
    listed = client.patch(f"/api/estates/{estate.id}", json={"version": estate.version, "reason": "x",
                                                              "properties": {"name": ["a"]}},
                          headers={"X-CSRFToken": token})
    assert listed.status_code == 400 and "name" in listed.get_json()["errors"]
    assert store.get("estates", estate.id).properties["name"] == estate.properties["name"]
    assert client.get("/api/audit?to=9999-12-31").status_code == 400
    assert client.get("/api/estates/" + "9" * 20).status_code == 404
