"""Sign-in and sign-out, one's own account (password, API tokens), and the admin's users page.

Every form posts a CSRF token (the guard in auth.py checks it). A new API token or a generated
password is shown once, in the answer to the POST that made it, never through a redirect: a
flashed message would travel in the session cookie, which is signed but readable.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext

from ..core.accounts import ROLES, AccountError, format_time, generate_password
from ..errors import Conflict, Forbidden, TooManyAttempts, Unauthorized
from .auth import current_user, get_accounts, public, require_role, session_only, sign_in, sign_out

bp = Blueprint("accounts", __name__)

ROLE_LABELS = {
    "viewer": lazy_gettext("Viewer"),
    "inspector": lazy_gettext("Inspector"),
    "planner": lazy_gettext("Planner"),
    "admin": lazy_gettext("Administrator"),
}
# Account errors by reason, in the reader's language (the core's messages are English).
ACCOUNT_MESSAGES = {
    "unknown_role": lazy_gettext("Unknown role."),
    "bad_username": lazy_gettext("A user name has 2 to 64 letters, digits, Chinese characters or _ . @ -."),
    "password_too_short": lazy_gettext("A password needs at least %(n)s characters."),
    "password_too_long": lazy_gettext("A password has at most %(n)s characters."),
    "password_is_username": lazy_gettext("The password must not be the user name."),
    "wrong_current_password": lazy_gettext("The current password is wrong."),
    "passwords_differ": lazy_gettext("The two new passwords differ."),
    "last_admin": lazy_gettext("This is the last active administrator: make another user administrator first."),
    "label_too_long": lazy_gettext("A token label has at most 100 characters."),
    "user_disabled": lazy_gettext("This account is disabled."),
}


@bp.record_once
def _template_helpers(state) -> None:
    state.app.jinja_env.globals.update(role_label=lambda role: str(ROLE_LABELS.get(role, role)),
                                       format_time=format_time, roles=ROLES)


def account_message(exc: AccountError) -> str:
    text = ACCOUNT_MESSAGES.get(exc.reason)
    return str(text) % exc.details if text is not None else exc.message


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (never `//host` or a full URL).

    Control characters and spaces are refused outright: browsers and Werkzeug drop a tab or a
    newline, which turns `/\t/evil.example` into `//evil.example`."""
    home = url_for("pages.planner_map")
    if not target or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return home
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith(("//", "/\\")):
        return home
    return target


# --- sign-in -----------------------------------------------------------------------------------
@bp.get("/login")
@public
def login():
    # The header's sign-in link carries no `next` (pages stay the same for everyone, cacheable):
    # the page the visitor came from is the Referer, when it is on this site.
    return render_template("login.html", next=safe_next(request.args.get("next") or _referring_path()))


def _referring_path() -> str | None:
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host or referrer.path == url_for("accounts.login"):
        return None
    return referrer.path + (f"?{referrer.query}" if referrer.query else "")


@bp.post("/login")
@public
def login_submit():
    username, target = request.form.get("username", ""), safe_next(request.form.get("next"))
    try:
        user = get_accounts().authenticate(username, request.form.get("password", ""), request.remote_addr or "")
    except TooManyAttempts as exc:
        minutes = max(1, round(exc.retry_after / 60))
        message = gettext("Too many failed sign-ins for this user or from this address. "
                          "Try again in %(minutes)s minute(s).", minutes=minutes)
        response = render_template("login.html", next=target, username=username, error=message), 429
        return (*response, {"Retry-After": str(exc.retry_after)})
    except Unauthorized:
        return render_template("login.html", next=target, username=username,
                               error=gettext("Wrong user name or password.")), 401
    except Forbidden:
        return render_template("login.html", next=target, username=username,
                               error=gettext("This account is disabled.")), 403
    sign_in(user)
    return redirect(target)


@bp.post("/logout")
@require_role("viewer")
def logout():
    sign_out()
    flash(gettext("You have signed out."))
    return redirect(url_for("pages.planner_map"))


# --- one's own account -------------------------------------------------------------------------
def _account_page(status: int = 200, **extra):
    user = current_user()
    return render_template("account.html", user=user, tokens=get_accounts().tokens(user), **extra), status


@bp.get("/account")
@require_role("viewer")
def account():
    return _account_page()


@bp.post("/account/password")
@session_only
@require_role("viewer")
def change_password():
    form = request.form
    try:
        if form.get("new_password", "") != form.get("confirm_password", ""):
            raise AccountError("passwords_differ", "the two new passwords differ")
        get_accounts().change_own_password(current_user(), form.get("current_password", ""),
                                           form.get("new_password", ""))
    except AccountError as exc:
        return _account_page(400, password_error=account_message(exc))
    # The change ended every session of the user; this browser goes on in a new one.
    sign_in(get_accounts().user_by_id(current_user().id))
    flash(gettext("Password changed. Other sessions of yours have ended."))
    return redirect(url_for("accounts.account"))


@bp.post("/account/tokens")
@session_only
@require_role("viewer")
def create_token():
    try:
        secret, token = get_accounts().create_token(current_user(), request.form.get("label", ""))
    except AccountError as exc:
        return _account_page(400, token_error=account_message(exc))
    return _account_page(201, new_token=secret, new_token_record=token)


@bp.post("/account/tokens/<int:token_id>/revoke")
@require_role("viewer")
def revoke_token(token_id: int):
    token = get_accounts().revoke_token(token_id, current_user())
    flash(gettext("Token “%(label)s” revoked.", label=token.label))
    return redirect(url_for("accounts.admin_users" if request.form.get("back") == "admin" else "accounts.account"))


# --- administration ----------------------------------------------------------------------------
def _users_page(status: int = 200, **extra):
    accounts = get_accounts()
    return render_template("admin_users.html", users=accounts.users(), tokens=accounts.tokens(), **extra), status


@bp.get("/admin/users")
@require_role("admin")
def admin_users():
    return _users_page()


@bp.post("/admin/users")
@require_role("admin")
def add_user():
    form = request.form
    password = form.get("password", "")
    generated = generate_password() if not password else None
    try:
        user = get_accounts().add_user(form.get("username", ""), form.get("role", "viewer"), password or generated)
    except AccountError as exc:
        return _users_page(400, add_error=account_message(exc), form=form)
    except Conflict:
        return _users_page(409, add_error=gettext("That user name is taken."), form=form)
    return _users_page(201, added=user, generated_password=generated)


@bp.post("/admin/users/<username>/role")
@require_role("admin")
def set_role(username: str):
    try:
        user = get_accounts().set_role(username, request.form.get("role", ""))
    except AccountError as exc:
        return _users_page(400, row_error=account_message(exc))
    flash(gettext("%(user)s is now %(role)s.", user=user.username, role=ROLE_LABELS[user.role]))
    return redirect(url_for("accounts.admin_users"))


@bp.post("/admin/users/<username>/disabled")
@require_role("admin")
def set_disabled(username: str):
    disabled = request.form.get("disabled") == "1"
    try:
        user = get_accounts().set_disabled(username, disabled)
    except AccountError as exc:
        return _users_page(400, row_error=account_message(exc))
    flash(gettext("%(user)s is disabled.", user=user.username) if user.disabled
          else gettext("%(user)s is enabled.", user=user.username))
    return redirect(url_for("accounts.admin_users"))
