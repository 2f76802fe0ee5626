"""Accounts on the web: a role matrix over every write endpoint in app.url_map, CSRF, bearer
tokens, sign-in throttling, cookie flags, anonymous viewing off, and passwords that never leak.

The matrix enumerates the app's routes, so an endpoint added later is covered without editing
this file, except for a sample of a successful call (SAMPLES), which the test asks for by name.
"""

from __future__ import annotations

import io
import logging
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from geo_app import create_app
from geo_app.config import load_config
from geo_app.core.accounts import ROLES
from geo_app.core.demo import ensure_store

PASSWORD = "Secret-Passw0rd-上班"
NEW_PASSWORD = "Another-Passw0rd-下班"
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def make_app(tmp_path: Path, **overrides):
    config = load_config(overrides={"data_dir": str(tmp_path / "data"), "secret_key": "test", **overrides},
                         environ={})
    app = create_app(config)
    app.config["TESTING"] = True
    ensure_store(app.extensions["geo_app.store"])
    return app


def accounts_of(app):
    return app.extensions["geo_app.accounts"]


def csrf_in(html: str) -> str:
    found = re.search(r'name="csrf[_-]token" (?:value|content)="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def anonymous_csrf(client) -> str:
    return csrf_in(client.get("/login").get_data(as_text=True))


def sign_in(client, username: str, password: str = PASSWORD, address: str = "127.0.0.1"):
    token = anonymous_csrf(client)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def signed_in_csrf(client) -> str:
    return csrf_in(client.get("/account").get_data(as_text=True))


# --- the role matrix -----------------------------------------------------------------------------
def _write_endpoints() -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) of every state-changing route, from an app built just to read them."""
    config = load_config(overrides={"data_dir": tempfile.mkdtemp(prefix="geo_app_routes_"), "secret_key": "x"},
                         environ={})
    app = create_app(config)
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & WRITE_METHODS):
            found.append((rule.endpoint, method, rule.rule))
    return found


WRITE_ENDPOINTS = _write_endpoints()


@dataclass
class Call:
    url_args: dict = field(default_factory=dict)
    form: dict | None = None
    json: dict | None = None


def _own_token(app, username):
    accounts = accounts_of(app)
    return accounts.create_token(accounts.user(username), "matrix")[1].id


def _import_file() -> tuple[bytes, str]:
    """A one-estate GeoJSON upload (fresh bytes each call: a sent stream is spent)."""
    from import_support import estate_rows, geojson_file

    with tempfile.TemporaryDirectory() as folder:
        path = geojson_file(Path(folder) / "matrix.geojson", estate_rows(1, prefix="MATRIX"))
        return path.read_bytes(), path.name


_IMPORT_FORM = {"layer": "estates", "crs": "", "encoding": "", "mode": "insert"}


def _uploaded(app) -> dict:
    """The URL arguments of an upload an admin has previewed, ready to confirm."""
    client = app.test_client()
    sign_in(client, "admin")
    content, name = _import_file()
    html = client.post("/admin/import/", data={**_IMPORT_FORM, "file": (io.BytesIO(content), name),
                                               "csrf_token": signed_in_csrf(client)}).get_data(as_text=True)
    return {"token": re.search(r'action="/admin/import/([0-9a-f]{32})/confirm"', html).group(1)}


def _an_estate(app):
    from geo_app.storage import FeatureQuery

    return app.extensions["geo_app.store"].features("estates", FeatureQuery(limit=1, with_geometry=False))[0]


def _edit_form(app) -> Call:
    e = _an_estate(app)
    return Call({"estate_id": e.id}, form={"version": e.version, "reason": "matrix", "status": e.properties["status"],
                                         "progress_pct": "37"})


def _edit_json(app) -> Call:
    e = _an_estate(app)
    return Call({"estate_id": e.id}, json={"version": e.version, "reason": "matrix", "properties": {"progress_pct": 37}})


# A successful call per write endpoint, made by a user of exactly the endpoint's role.
SAMPLES = {
    "editing.save_estate": lambda app, user: _edit_form(app),
    "editing_api.patch_estate": lambda app, user: _edit_json(app),
    "imports.upload": lambda app, user: Call(form={**_IMPORT_FORM, "file": _import_file()}),
    "imports.confirm": lambda app, user: Call(_uploaded(app), form={}),
    "accounts.logout": lambda app, user: Call(form={}),
    "accounts.change_password": lambda app, user: Call(form={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}),
    "accounts.create_token": lambda app, user: Call(form={"label": "matrix"}),
    "accounts.revoke_token": lambda app, user: Call({"token_id": _own_token(app, user)}, form={}),
    "accounts.add_user": lambda app, user: Call(form={"username": "newcomer", "role": "viewer",
                                                      "password": PASSWORD}),
    "accounts.set_role": lambda app, user: Call({"username": "target"}, form={"role": "inspector"}),
    "accounts.set_disabled": lambda app, user: Call({"username": "target"}, form={"disabled": "1"}),
    "account_api.revoke_token": lambda app, user: Call({"token_id": _own_token(app, user)}),
    "inspections_api.submit": lambda app, user: Call({"estate_id": 1}, json={
        "lon": 117.26, "lat": 34.78, "verdict": "pass", "checklist": {}}),
}


@pytest.fixture(scope="module")
def matrix_store(tmp_path_factory):
    """A store with the demo data and a user named after each role, built once (scrypt is slow by
    design) and copied for each test."""
    folder = tmp_path_factory.mktemp("matrix")
    app = make_app(folder)
    accounts = accounts_of(app)
    for role in ROLES:
        accounts.add_user(role, role, PASSWORD)
    accounts.add_user("target", "viewer", PASSWORD)
    app.extensions["geo_app.store"].close()  # checkpoints: the .gpkg alone holds everything
    return folder / "data" / "geo_app.gpkg"


@pytest.fixture
def matrix_app(tmp_path, matrix_store):
    (tmp_path / "data").mkdir()
    shutil.copyfile(matrix_store, tmp_path / "data" / "geo_app.gpkg")
    return make_app(tmp_path)


def _send(client, method, rule_endpoint, call: Call, csrf: str | None = None, headers=None):
    from flask import url_for

    with client.application.test_request_context():
        url = url_for(rule_endpoint, **call.url_args)
    headers = dict(headers or {})
    if call.json is not None or call.form is None:
        if csrf:
            headers["X-CSRFToken"] = csrf
        return client.open(url, method=method, json=call.json, headers=headers)
    # A file is given as (bytes, name) and sent from a fresh stream each time.
    form = {k: (io.BytesIO(v[0]), v[1]) if isinstance(v, tuple) else v for k, v in call.form.items()}
    data = {**form, **({"csrf_token": csrf} if csrf else {})}
    return client.open(url, method=method, data=data, headers=headers)


def _view(app, endpoint):
    return app.view_functions[endpoint]


@pytest.mark.parametrize("endpoint,method,rule", WRITE_ENDPOINTS, ids=[f"{m} {r}" for _e, m, r in WRITE_ENDPOINTS])
def test_every_write_endpoint_declares_who_may_call_it(matrix_app, endpoint, method, rule):
    view = _view(matrix_app, endpoint)
    role = getattr(view, "required_role", None)
    assert role or getattr(view, "read_only", False) or getattr(view, "public", False), (
        f"{method} {rule} changes state but has no @require_role(...) (or @read_only / @public)")
    if role:
        assert endpoint in SAMPLES, f"add a successful call of {method} {rule} to SAMPLES in {__file__}"


ROLE_GUARDED = [(e, m, r) for e, m, r in WRITE_ENDPOINTS if e in SAMPLES]


@pytest.mark.parametrize("endpoint,method,rule", ROLE_GUARDED, ids=[f"{m} {r}" for _e, m, r in ROLE_GUARDED])
def test_role_matrix_anonymous_401_wrong_role_403_right_role_ok(matrix_app, endpoint, method, rule):
    role = _view(matrix_app, endpoint).required_role
    below = ROLES[ROLES.index(role) - 1] if role != "viewer" else None
    call = SAMPLES[endpoint](matrix_app, role)

    anonymous = matrix_app.test_client()
    response = _send(anonymous, method, endpoint, call, csrf=anonymous_csrf(anonymous))
    assert response.status_code == 401 or (response.status_code == 302 and "/login" in response.location)

    if below:
        wrong = matrix_app.test_client()
        assert sign_in(wrong, below).status_code == 302
        assert _send(wrong, method, endpoint, call, csrf=signed_in_csrf(wrong)).status_code == 403
        token = accounts_of(matrix_app).create_token(accounts_of(matrix_app).user(below), "wrong")[0]
        assert _send(matrix_app.test_client(), method, endpoint, call,
                     headers={"Authorization": f"Bearer {token}"}).status_code == 403

    right = matrix_app.test_client()
    assert sign_in(right, role).status_code == 302
    response = _send(right, method, endpoint, call, csrf=signed_in_csrf(right))
    assert response.status_code < 400, response.get_data(as_text=True)[:500]


@pytest.mark.parametrize("endpoint,method,rule", ROLE_GUARDED, ids=[f"{m} {r}" for _e, m, r in ROLE_GUARDED])
def test_write_without_or_with_a_wrong_csrf_token_is_refused(matrix_app, endpoint, method, rule):
    role = _view(matrix_app, endpoint).required_role
    client = matrix_app.test_client()
    sign_in(client, role)
    call = SAMPLES[endpoint](matrix_app, role)
    for csrf in (None, "forged-token"):
        response = _send(client, method, endpoint, call, csrf=csrf)
        assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True), csrf
        assert "刷新页面" in response.get_data(as_text=True)  # what to do, in the reader's language


def test_a_refused_csrf_changes_nothing(matrix_app):
    client = matrix_app.test_client()
    sign_in(client, "admin")
    response = client.post("/admin/users", data={"username": "sneaky", "role": "admin", "password": PASSWORD})
    assert response.status_code == 400
    assert "sneaky" not in [u.username for u in accounts_of(matrix_app).users()]


def test_sign_in_form_needs_its_csrf_token(matrix_app):
    client = matrix_app.test_client()
    response = client.post("/login", data={"username": "viewer", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/api/me").status_code == 401


def test_read_only_query_is_open_without_csrf_like_a_get(matrix_app):
    body = {"geometry": {"type": "Point", "coordinates": [117.30, 34.79]}, "buffer_m": 2000}
    assert _view(matrix_app, "spatial_api.query").read_only
    assert matrix_app.test_client().post("/api/query", json=body).status_code == 200


# --- bearer tokens -------------------------------------------------------------------------------
def test_bearer_token_acts_with_its_users_role_without_csrf_until_revoked(matrix_app):
    accounts = accounts_of(matrix_app)
    secret, token = accounts.create_token(accounts.user("planner"), "script")
    client = matrix_app.test_client()
    auth = {"Authorization": f"Bearer {secret}"}
    me = client.get("/api/me", headers=auth)
    assert me.status_code == 200 and me.json == {"username": "planner", "role": "planner", "via": "token",
                                                 "token_id": token.id, "roles": ["viewer", "inspector", "planner"]}
    # A state-changing call with the token alone: no cookie, no CSRF token, accepted.
    assert client.delete(f"/api/tokens/{token.id}", headers=auth).status_code == 200
    refused = client.get("/api/me", headers=auth)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert "吊销" in refused.json["description"]  # Chinese by default, JSON too
    # A revoked token is refused even where no sign-in is needed, so a script learns it at once.
    assert client.get("/api/estates", headers=auth).status_code == 401
    assert client.get("/api/no-such-thing", headers=auth).status_code == 404
    assert client.get("/no-such-page", headers=auth).status_code == 404


def test_a_session_cookie_without_csrf_cannot_delete_through_the_api(matrix_app):
    client = matrix_app.test_client()
    sign_in(client, "viewer")
    token_id = _own_token(matrix_app, "viewer")
    assert client.delete(f"/api/tokens/{token_id}").status_code == 400
    assert client.delete(f"/api/tokens/{token_id}", headers={"X-CSRFToken": signed_in_csrf(client)}).status_code == 200


def test_a_token_of_someone_else_cannot_be_revoked(matrix_app):
    client = matrix_app.test_client()
    sign_in(client, "planner")
    others = _own_token(matrix_app, "viewer")
    assert client.delete(f"/api/tokens/{others}", headers={"X-CSRFToken": signed_in_csrf(client)}).status_code == 404


# --- sign-in -------------------------------------------------------------------------------------
def test_sign_in_lockout_after_five_failures_with_a_clear_message(matrix_app):
    client = matrix_app.test_client()
    for _ in range(4):
        response = sign_in(client, "planner", "wrong password")
        assert response.status_code == 401 and "用户名或密码错误" in response.get_data(as_text=True)
    fifth = sign_in(client, "planner", "wrong password")
    assert fifth.status_code == 429 and fifth.headers["Retry-After"] == "60"
    assert "登录失败次数过多" in fifth.get_data(as_text=True) and "1 分钟" in fifth.get_data(as_text=True)
    assert sign_in(client, "planner").status_code == 429  # the right password waits too
    assert sign_in(client, "viewer").status_code == 302  # other users are not locked out
    english = client.post("/login?lang=en", data={"username": "planner", "password": PASSWORD,
                                                  "csrf_token": anonymous_csrf(client)})
    assert "Too many failed sign-ins" in english.get_data(as_text=True)


def test_sign_in_lockout_per_client_address(tmp_path):
    app = make_app(tmp_path, **{"auth.login_failures_per_address": 3})
    accounts_of(app).add_user("planner", "planner", PASSWORD)
    client = app.test_client()
    for name in ("a1", "a2"):
        assert sign_in(client, name, "x" * 10, address="10.1.1.1").status_code == 401
    assert sign_in(client, "a3", "x" * 10, address="10.1.1.1").status_code == 429
    assert sign_in(client, "planner", address="10.1.1.1").status_code == 429
    assert sign_in(client, "planner", address="10.2.2.2").status_code == 302


def test_proxy_headers_give_the_client_address_only_when_proxies_are_configured(tmp_path):
    app = make_app(tmp_path, **{"auth.login_failures_per_address": 2, "server.proxies": 1})
    client = app.test_client()
    forwarded = {"X-Forwarded-For": "203.0.113.9"}
    for expected in (401, 429):
        token = anonymous_csrf(client)
        response = client.post("/login", data={"username": "nobody", "password": "x" * 10, "csrf_token": token},
                               headers=forwarded)
        assert response.status_code == expected
    other = client.post("/login", data={"username": "nobody2", "password": "x" * 10,
                                        "csrf_token": anonymous_csrf(client)},
                        headers={"X-Forwarded-For": "198.51.100.1"})
    assert other.status_code == 401  # another client behind the same proxy is not locked out


def test_sign_in_goes_back_to_a_local_page_only(matrix_app):
    client = matrix_app.test_client()
    token = anonymous_csrf(client)
    ok = client.post("/login", data={"username": "viewer", "password": PASSWORD, "csrf_token": token,
                                     "next": "/dashboard?batch=2021"})
    assert ok.location == "/dashboard?batch=2021"
    client = matrix_app.test_client()
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "/\t/evil.example",
                 "/\n/evil.example", " //evil.example"):
        response = client.post("/login", data={"username": "viewer", "password": PASSWORD,
                                               "csrf_token": anonymous_csrf(client), "next": evil})
        assert response.location == "/", evil


def test_user_menu_shows_who_is_signed_in_and_signing_out_ends_the_session(matrix_app):
    client = matrix_app.test_client()
    assert 'class="sign-in"' in client.get("/").get_data(as_text=True)
    sign_in(client, "admin")
    html = client.get("/").get_data(as_text=True)
    assert 'id="user-menu"' in html and ">admin<" in html and "管理员" in html and 'href="/admin/users"' in html
    copy = client.get_cookie("session").value
    assert client.post("/logout", data={"csrf_token": signed_in_csrf(client)}).status_code == 302
    assert client.get("/api/me").status_code == 401
    replay = matrix_app.test_client()
    replay.set_cookie("session", copy)
    assert replay.get("/api/me").status_code == 401  # the old cookie is worthless after sign-out


# --- sessions ------------------------------------------------------------------------------------
def _session_cookie_header(response) -> str:
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))


def test_session_cookie_is_httponly_samesite_and_secure_over_https(matrix_app):
    plain = _session_cookie_header(sign_in(matrix_app.test_client(), "viewer"))
    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
    client = matrix_app.test_client()
    token = csrf_in(client.get("/login", base_url="https://geo.example").get_data(as_text=True))
    secure = client.post("/login", base_url="https://geo.example",
                         data={"username": "viewer", "password": PASSWORD, "csrf_token": token},
                         headers={"Referer": "https://geo.example/login"})
    assert "Secure" in _session_cookie_header(secure)


def test_secure_cookie_behind_a_tls_proxy(tmp_path):
    app = make_app(tmp_path, **{"server.proxies": 1})
    accounts_of(app).add_user("viewer", "viewer", PASSWORD)
    client = app.test_client()
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "geo.example"}
    token = csrf_in(client.get("/login", headers=https).get_data(as_text=True))
    response = client.post("/login", data={"username": "viewer", "password": PASSWORD, "csrf_token": token},
                           headers={**https, "Referer": "https://geo.example/login"})
    assert response.status_code == 302 and "Secure" in _session_cookie_header(response)


def test_signing_in_starts_a_new_session(matrix_app):
    client = matrix_app.test_client()
    anonymous_csrf(client)
    planted = client.get_cookie("session").value  # what a session-fixation attacker would plant
    sign_in(client, "viewer")
    assert client.get_cookie("session").value != planted
    attacker = matrix_app.test_client()
    attacker.set_cookie("session", planted)
    assert attacker.get("/api/me").status_code == 401


def test_changing_the_password_ends_the_users_other_sessions(matrix_app):
    phone, desk = matrix_app.test_client(), matrix_app.test_client()
    sign_in(phone, "planner")
    sign_in(desk, "planner")
    response = desk.post("/account/password", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                                     "confirm_password": NEW_PASSWORD,
                                                     "csrf_token": signed_in_csrf(desk)})
    assert response.status_code == 302
    assert desk.get("/api/me").status_code == 200
    assert phone.get("/api/me").status_code == 401
    assert sign_in(matrix_app.test_client(), "planner", NEW_PASSWORD).status_code == 302


def test_account_page_errors_are_shown_in_chinese(matrix_app):
    client = matrix_app.test_client()
    sign_in(client, "viewer")
    response = client.post("/account/password", data={"current_password": "wrong one", "new_password": NEW_PASSWORD,
                                                       "confirm_password": NEW_PASSWORD,
                                                       "csrf_token": signed_in_csrf(client)})
    assert response.status_code == 400 and "当前密码不正确" in response.get_data(as_text=True)


def test_new_token_is_shown_once_and_works(matrix_app):
    client = matrix_app.test_client()
    sign_in(client, "inspector")
    created = client.post("/account/tokens", data={"label": "<b>QGIS</b>", "csrf_token": signed_in_csrf(client)})
    html = created.get_data(as_text=True)
    secret = re.search(r'id="new-token">([^<]+)<', html).group(1)
    assert "<b>QGIS</b>" not in html and "&lt;b&gt;QGIS&lt;/b&gt;" in html  # escaped
    assert matrix_app.test_client().get("/api/me", headers={"Authorization": f"Bearer {secret}"}).json["role"] == \
        "inspector"
    assert secret not in client.get("/account").get_data(as_text=True)


# --- anonymous viewing off ---------------------------------------------------------------------
def test_anonymous_view_off_pages_redirect_apis_answer_401_tokens_still_work(tmp_path):
    app = make_app(tmp_path, **{"auth.anonymous_view": False})
    accounts = accounts_of(app)
    accounts.add_user("viewer", "viewer", PASSWORD)
    client = app.test_client()
    for page in ("/", "/dashboard", "/estates/1"):
        response = client.get(page)
        assert response.status_code == 302 and response.location.startswith("/login?next="), page
    for api in ("/api/estates", "/api/stats", "/ogcapi/collections", "/ogcapi/collections/estates/items",
                "/api/qa"):
        response = client.get(api)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer"), api
    assert client.post("/api/query", json={"geometry": {"type": "Point", "coordinates": [117.3, 34.79]}}
                       ).status_code == 401
    for open_path in ("/login", "/api/health", "/static/css/app.css"):
        assert client.get(open_path).status_code == 200, open_path
    secret = accounts.create_token(accounts.user("viewer"), "QGIS")[0]
    auth = {"Authorization": f"Bearer {secret}"}
    assert client.get("/ogcapi/collections/estates/items?limit=2", headers=auth).status_code == 200
    assert client.get("/api/estates", headers=auth).status_code == 200
    sign_in(client, "viewer")
    assert client.get("/").status_code == 200 and client.get("/api/estates").status_code == 200


# --- passwords never leak ------------------------------------------------------------------------
def test_a_password_never_appears_in_logs_responses_or_the_store(tmp_path, caplog, capsys, monkeypatch):
    import io

    from geo_app.cli import main

    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("GEO_APP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GEO_APP_DATABASE_URL", raising=False)
    monkeypatch.setenv("GEO_APP_ADMIN_PASSWORD", PASSWORD)
    monkeypatch.setattr("sys.stdin", io.StringIO(NEW_PASSWORD + "\n"))
    assert main(["init"]) == 0
    assert main(["users", "add", "planner", "--role", "planner", "--password-stdin"]) == 0
    app = make_app(tmp_path)
    client = app.test_client()
    bodies = [sign_in(client, "admin", "wrong " + PASSWORD), sign_in(client, "admin")]
    bodies.append(client.post("/admin/users", data={"username": "inspector", "role": "inspector",
                                                    "password": PASSWORD + "!", "csrf_token": signed_in_csrf(client)}))
    bodies.append(client.post("/account/password", data={
        "current_password": PASSWORD, "new_password": "short", "confirm_password": "short",
        "csrf_token": signed_in_csrf(client)}))
    bodies.append(client.get("/admin/users"))
    app.extensions["geo_app.store"].close()
    stored = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("geo_app.gpkg*"))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for password in (PASSWORD, NEW_PASSWORD, PASSWORD + "!"):
        assert password not in logged
        assert password.encode() not in stored
        for response in bodies:
            assert password not in response.get_data(as_text=True)
    assert PASSWORD not in capsys.readouterr().out  # from the environment: not echoed either


@pytest.mark.postgis
def test_passwords_and_tokens_are_not_in_clear_in_postgis(postgis_url, layers):
    from geo_app.core.accounts import Accounts
    from geo_app.storage import open_store

    import uuid

    store = open_store(f"{postgis_url}?schema=t_{uuid.uuid4().hex[:12]}", layers)
    store.initialise()
    try:
        accounts = Accounts(store.accounts)
        user = accounts.add_user("planner", "planner", PASSWORD)
        secret, _ = accounts.create_token(user, "x")
        dump = " ".join(str(row) for table in ("geo_app_users", "geo_app_api_tokens")
                        for row in store._fetch(f"SELECT * FROM {table}", []))
        assert PASSWORD not in dump and secret not in dump and "scrypt:" in dump
    finally:
        store.drop()
        store.close()


def test_the_header_offers_each_role_its_pages(matrix_app):
    anonymous = matrix_app.test_client().get("/").get_data(as_text=True)
    assert 'href="/reports/monthly"' not in anonymous and 'href="/inspections"' not in anonymous
    assert matrix_app.test_client().get("/reports/monthly?office=lincheng&month=2021-07&format=xlsx").status_code in (302, 401)
    for role, pages, hidden in [("viewer", ['href="/inspections"', 'href="/reports/monthly"'],
                                 ['href="/inspect"', 'href="/admin/import/"']),
                                ("inspector", ['href="/inspections"', 'href="/inspect"'], ['href="/admin/import/"']),
                                ("admin", ['href="/inspect"', 'href="/admin/import/"', 'href="/admin/users"'], [])]:
        client = matrix_app.test_client()
        sign_in(client, role)
        html = client.get("/").get_data(as_text=True)
        assert all(link in html for link in pages), role
        assert not any(link in html for link in hidden), role


def test_an_api_token_cannot_mint_tokens_or_change_the_password(matrix_app):
    accounts = accounts_of(matrix_app)
    token = accounts.create_token(accounts.user("viewer"), "leaked")[0]
    client = matrix_app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    minted = client.post("/account/tokens", data={"label": "more"}, headers=headers)
    assert minted.status_code == 403 and "API" in minted.get_json()["description"]
    changed = client.post("/account/password", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                                    "confirm_password": NEW_PASSWORD}, headers=headers)
    assert changed.status_code == 403
    assert len(accounts.tokens(accounts.user("viewer"))) == 1  # only the leaked one
