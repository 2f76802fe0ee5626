"""Who is asking and what they may do: sessions, bearer tokens, role guards, CSRF, cookie flags.

One `before_request` guard runs for every request, in this order:
1. authenticate: an `Authorization: Bearer <token>` header (scripts, QGIS) or else the signed
   session cookie (people in a browser);
2. authorise: a view marked `require_role(role)` needs that role or above (401 without a user —
   a redirect to the sign-in page for pages —, 403 with too small a role); with
   `[auth] anonymous_view = false` every view not marked `public` needs a signed-in user;
3. CSRF: every state-changing method (POST, PUT, PATCH, DELETE) must carry the session's CSRF token
   (form field `csrf_token` or header `X-CSRFToken`), except bearer-token calls and views marked
   `read_only`. Bearer calls are exempt because CSRF is an attack through the cookies a browser
   adds on its own to a forged cross-site request; a bearer token is never added by the browser,
   so a request that carries one was made deliberately by its holder. The session is not even
   read for such a request, so a cookie cannot lend it any rights.
Checking roles before CSRF means an anonymous or under-privileged caller learns 401/403, not a
CSRF complaint. The role check is repeated by the `require_role` decorator itself, so a view stays
guarded whichever way it is reached.
"""

from __future__ import annotations

import functools
from datetime import timedelta

from flask import current_app, g, jsonify, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from ..core.accounts import Accounts, Actor, LoginPolicy, User, role_rank
from . import get_config, get_store
from .errors import wants_json

# The app's one CSRFProtect: other blueprints import it (e.g. for `csrf_token()` in templates).
csrf = CSRFProtect()

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Flask's and the vendor files' endpoints (not ours to decorate); the sign-in page needs them.
PUBLIC_ENDPOINTS = frozenset({"static", "vendor.vendor_file"})


class _Sessions(SecureCookieSessionInterface):
    """The session cookie is Secure when the request came over HTTPS (`secure_cookies = "auto"`,
    behind a proxy as ProxyFix reports it), or always, or never."""

    def get_cookie_secure(self, app) -> bool:
        mode = app.config["GEO_APP"].auth.secure_cookies
        if mode == "auto":
            return request.is_secure
        return mode == "always"


def init_app(app) -> None:
    """Install the guard, the session cookie settings, CSRF and the template helpers."""
    config = app.config["GEO_APP"]
    if config.server.proxies:
        n = config.server.proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)
    app.session_interface = _Sessions()
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=config.auth.session_hours),
        # CSRFProtect's own check would run before authentication and cannot exempt bearer calls:
        # `_guard` calls `csrf.protect()` itself, at step 3.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session (forms left open for hours)
    )
    csrf.init_app(app)
    app.extensions["geo_app.accounts"] = Accounts(app.extensions["geo_app.store"].accounts,
                                                  LoginPolicy.from_config(config.auth))
    app.before_request(_guard)
    app.register_error_handler(CSRFError, _csrf_refused)
    app.jinja_env.globals.update(current_user=current_user)


def get_accounts() -> Accounts:
    return current_app.extensions["geo_app.accounts"]


# --- marking views ---------------------------------------------------------------------------
def require_role(role: str):
    """Only users with `role` or above may call the view (401 / sign-in redirect, else 403)."""
    role_rank(role)  # a misspelt role fails at import, not at the first request

    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            denied = _deny_unless(role)
            return denied if denied is not None else view(*args, **kwargs)

        guarded.required_role = role
        return guarded

    return decorate


def deny_unless_layer_readable(layer) -> object | None:
    """None when the caller may read the layer's features; else the 401/403 answer. A layer with a
    `read_role` (inspections: they name people) is read only by that role or above."""
    return _deny_unless(layer.read_role) if layer is not None and layer.read_role else None


def public(view):
    """Reachable without signing in even when anonymous viewing is off (the sign-in page)."""
    view.public = True
    return view


def session_only(view):
    """Only for a person signed in through the form, never an API token: a leaked token must not
    mint fresh tokens (which would outlive its revocation) or change the password."""
    @functools.wraps(view)
    def guarded(*args, **kwargs):
        current_user()
        if g.get("geo_app_token") is not None:
            message = gettext("Sign in with your password for this; an API token cannot do it.")
            return jsonify({"code": "Forbidden", "description": message}), 403
        return view(*args, **kwargs)

    return guarded  # functools.wraps carries the wrapped view's markers (required_role …) over


def read_only(view):
    """A POST that changes nothing (a query with a body too big for a URL): the same access as a
    GET, and no CSRF token needed — a forged cross-site request could not read the answer."""
    view.read_only = True
    return view


# --- who is asking -----------------------------------------------------------------------------
def current_user() -> User | None:
    """The signed-in user of this request (by bearer token or session), or None. A bearer token
    that is unknown or revoked gives None here and a 401 from the guard (see `_bad_token`)."""
    if "geo_app_user" not in g:
        g.geo_app_user, g.geo_app_token = _authenticate()
    return g.geo_app_user


def _bad_token() -> bool:
    return g.get("geo_app_bad_token", False)


def current_actor() -> Actor | None:
    """Who is acting, for audit records: user name, role and whether by session or API token."""
    user = current_user()
    if user is None:
        return None
    token = g.geo_app_token
    return Actor(user.username, user.id, user.role, "token" if token else "session", token.id if token else None)


def bearer_token() -> str | None:
    """The token of an `Authorization: Bearer …` header, if the request has one."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _authenticate():
    token = bearer_token()
    if token is not None:
        found = get_accounts().user_for_token(token)
        if found is None:
            g.geo_app_bad_token = True
            return None, None
        return found
    session_id = session.get("sid")
    if session_id is None:
        return None, None
    # The cookie names a session row in the store, so signing out, a password change or disabling
    # the user ends it for real: a copy of the cookie taken earlier is worth nothing afterwards.
    user = get_accounts().user_for_session(session_id)
    if user is None:
        session.clear()
    return user, None


def sign_in(user: User) -> None:
    """Start a fresh session for the user: nothing from before signing in is carried over, so a
    session planted by someone else (session fixation) never becomes a signed-in one."""
    session.clear()
    session.permanent = True
    session["sid"] = get_accounts().start_session(user, get_config().auth.session_hours)
    g.geo_app_user, g.geo_app_token = user, None


def sign_out() -> None:
    get_accounts().end_session(session.get("sid"))
    session.clear()
    g.geo_app_user, g.geo_app_token = None, None


# --- the guard ---------------------------------------------------------------------------------
def _guard():
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if view is None:
        return None  # 404 / 405 follow
    user = current_user() if _needs_user(view) else None
    if _bad_token():
        return _unauthorized(gettext("The API token is unknown or has been revoked."))
    role = getattr(view, "required_role", None)
    if role is not None:
        denied = _deny_unless(role)
        if denied is not None:
            return denied
    elif user is None and not _public(view) and not get_config().auth.anonymous_view:
        return _unauthorized(gettext("Please sign in."))
    if request.method in UNSAFE_METHODS and bearer_token() is None and not getattr(view, "read_only", False):
        csrf.protect()  # raises CSRFError (400) when the token is missing or wrong
    return None


def _needs_user(view) -> bool:
    return (bearer_token() is not None or getattr(view, "required_role", None) is not None
            or not get_config().auth.anonymous_view or "sid" in session)


def _public(view) -> bool:
    return request.endpoint in PUBLIC_ENDPOINTS or getattr(view, "public", False)


def _deny_unless(role: str):
    """None when the current user has the role; else the 401/redirect or 403 response."""
    user = current_user()
    if _bad_token():
        return _unauthorized(gettext("The API token is unknown or has been revoked."))
    if user is None:
        return _unauthorized(gettext("Please sign in."))
    if not user.can(role):
        message = gettext("This needs the role %(role)s or above.", role=role)
        if wants_json():
            return jsonify({"code": "Forbidden", "description": message}), 403
        return render_template("error.html", status=403, message=message), 403
    return None


def _unauthorized(message: str):
    if wants_json() or bearer_token() is not None:
        response = jsonify({"code": "Unauthorized", "description": message})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="geo_app"'
        return response
    if request.method in UNSAFE_METHODS:
        # A form sent after the session ended: a redirect would lose it silently; say why instead.
        return render_template("error.html", status=401, message=message), 401
    return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))


def _csrf_refused(exc: CSRFError):
    """Flask-WTF's reason ("The CSRF token is missing.") in words a user can act on, in their language."""
    message = gettext("The security token (CSRF) is missing or wrong: reload the page and try again.")
    if wants_json():
        return jsonify({"code": "CSRFError", "description": message, "reason": exc.description}), 400
    return render_template("error.html", status=400, message=message), 400
