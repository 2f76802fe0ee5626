"""Accounts: roles, passwords, API tokens and throttled sign-in, over the store's account tables.

Framework-neutral: the web layer and the CLI call the same `Accounts`. Passwords are hashed with
scrypt (werkzeug's default; salted, memory-hard); API tokens are random, shown once and stored as
their SHA-256 only (a token is 256 random bits, so a fast hash is enough: nobody can guess one,
unlike a password). Sign-in failures are counted per user name and per client address in the
store, so every worker process sees the same counts and a restart forgets nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
import re
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from ..errors import Conflict, Forbidden, InvalidParameter, NotFound, TooManyAttempts, Unauthorized
from ..storage.accounts import AccountRepository, TokenRecord, UserRecord

# Ordered: each role may do everything the roles before it may.
ROLES = ("viewer", "inspector", "planner", "admin")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # hashing a megabyte "password" is a cheap way to burn a CPU
TOKEN_PREFIX = "geo_"
_USERNAME = re.compile(r"^[a-z0-9_.@\-\u4e00-\u9fff]{2,64}$")
FIRST_ADMIN = "admin"


def _hash_password(password: str) -> str:
    # werkzeug here, not at the top: importing it loads its server and test client (~0.1 s on every
    # CLI start, imports and exports included), and only sign-ins and password changes hash.
    from werkzeug.security import generate_password_hash

    return generate_password_hash(password)


def _password_matches(password_hash: str, password: str) -> bool:
    from werkzeug.security import check_password_hash

    return check_password_hash(password_hash, password)


class AccountError(InvalidParameter):
    """Bad account input. `reason` names the case so a page can show it in the reader's language."""

    code = "account_error"

    def __init__(self, reason: str, message: str, **details):
        super().__init__(message, parameter=details.pop("parameter", None))
        self.reason = reason
        self.details = details


class User(UserRecord):
    """A stored user and what their role allows."""

    def can(self, role: str) -> bool:
        """Whether this user's role is `role` or above it."""
        return not self.disabled and role_rank(self.role) >= role_rank(role)


@dataclass(frozen=True)
class Actor:
    """Who did something, for audit records: the user, their role then, and how they signed in."""

    username: str
    user_id: int | None
    role: str
    via: str  # "session", "token" or "cli"
    token_id: int | None = None

    def __str__(self) -> str:
        return f"{self.username} (token #{self.token_id})" if self.via == "token" else self.username


@dataclass(frozen=True)
class LoginPolicy:
    """How many failed sign-ins are allowed, and how long a lockout lasts."""

    per_user: int = 5
    per_address: int = 20
    lockout_seconds: int = 60
    max_lockout_seconds: int = 900
    # Failures older than this (since the last one) are forgotten.
    forget_after_seconds: int = 3600

    @classmethod
    def from_config(cls, auth) -> "LoginPolicy":
        return cls(per_user=auth.login_failures_per_user, per_address=auth.login_failures_per_address,
                   lockout_seconds=auth.lockout_seconds)

    def lockout(self, failures: int, limit: int) -> float:
        """Seconds locked after the `failures`-th failure: doubling from the limit on, capped."""
        return min(self.lockout_seconds * 2 ** (failures - limit), self.max_lockout_seconds)


def role_rank(role: str) -> int:
    try:
        return ROLES.index(role)
    except ValueError:
        raise AccountError("unknown_role", f"unknown role {role!r}; roles: {', '.join(ROLES)}",
                           parameter="role") from None


def normalise_username(name: str) -> str:
    """User names are compared in lower case; letters, digits, Chinese characters and _ . @ -."""
    name = (name or "").strip().lower()
    if not _USERNAME.match(name):
        raise AccountError("bad_username", "a user name has 2 to 64 letters, digits, Chinese characters or _ . @ -",
                           parameter="username")
    return name


def check_password(password: str, username: str = "") -> str:
    """The password when it is acceptable; an AccountError saying why otherwise."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError("password_too_short", f"a password needs at least {MIN_PASSWORD_LENGTH} characters",
                           parameter="password", n=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError("password_too_long", f"a password has at most {MAX_PASSWORD_LENGTH} characters",
                           parameter="password", n=MAX_PASSWORD_LENGTH)
    if username and password.strip().lower() == username:
        raise AccountError("password_is_username", "the password must not be the user name", parameter="password")
    return password


def generate_password() -> str:
    """A random password of 16 URL-safe characters (96 bits), for first admins and new users."""
    return secrets.token_urlsafe(12)


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Checked when the user does not exist, so an unknown name costs the same time as a known one.
    return _hash_password(secrets.token_hex(16))


def format_time(epoch: float | None) -> str:
    """Epoch seconds as local 'YYYY-MM-DD HH:MM', or '' for never."""
    if epoch is None:
        return ""
    return dt.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M")


class Accounts:
    """User management, sign-in and API tokens over one store's account tables."""

    def __init__(self, repo: AccountRepository, policy: LoginPolicy | None = None,
                 clock: Callable[[], float] = time.time):
        self.repo = repo
        self.policy = policy or LoginPolicy()
        self.clock = clock

    # --- users -------------------------------------------------------------------------------
    def add_user(self, username: str, role: str, password: str) -> User:
        """Create a user; Conflict when the name is taken."""
        username = normalise_username(username)
        role_rank(role)
        check_password(password, username)
        return _as_user(self.repo.add_user(username, _hash_password(password), role, self.clock()))

    def user(self, username: str) -> User:
        found = self.repo.user(normalise_username(username))
        if found is None:
            raise NotFound(f"no user named '{username}'")
        return _as_user(found)

    def user_by_id(self, user_id: int) -> User | None:
        found = self.repo.user_by_id(user_id)
        return None if found is None else _as_user(found)

    def users(self) -> list[User]:
        return [_as_user(u) for u in self.repo.users()]

    def set_password(self, username: str, password: str) -> None:
        """A new password; every session of the user ends."""
        user = self.user(username)
        check_password(password, user.username)
        self.repo.update_user(user.username, password_hash=_hash_password(password),
                              password_changed_at=self.clock())
        self.repo.delete_sessions(user_id=user.id)

    def change_own_password(self, user: User, current: str, new: str) -> None:
        """A user's own change: the current password must be right."""
        found = self.repo.credentials(user.username)
        if found is None or not _password_matches(found[1], current or ""):
            raise AccountError("wrong_current_password", "the current password is wrong", parameter="current")
        self.set_password(user.username, new)

    def set_role(self, username: str, role: str) -> User:
        user = self.user(username)
        role_rank(role)
        if user.role == "admin" and role != "admin":
            self._keep_an_admin(user)
        self.repo.update_user(user.username, role=role)
        return self.user(user.username)

    def set_disabled(self, username: str, disabled: bool) -> User:
        """Disable (or enable) a user: a disabled user cannot sign in and their tokens stop working."""
        user = self.user(username)
        if disabled and user.role == "admin":
            self._keep_an_admin(user)
        self.repo.update_user(user.username, disabled=disabled)
        if disabled:
            self.repo.delete_sessions(user_id=user.id)
        return self.user(user.username)

    def _keep_an_admin(self, user: User) -> None:
        if not user.disabled and self.repo.count_active_admins() <= 1:
            raise AccountError("last_admin", f"'{user.username}' is the last active admin; make another admin first")

    def ensure_first_admin(self, password: str | None = None) -> tuple[bool, str | None]:
        """Create the `admin` account when the store has no user at all: (created, generated password).

        The password is the one given (from GEO_APP_ADMIN_PASSWORD) or a generated one, returned
        once for the caller to print; there is no default password.
        """
        if self.repo.count_users() > 0:
            return False, None
        chosen = password or generate_password()
        try:
            self.add_user(FIRST_ADMIN, "admin", chosen)
        except Conflict:  # another worker starting at the same moment created it
            return False, None
        return True, None if password else chosen

    # --- sign-in -----------------------------------------------------------------------------
    def authenticate(self, username: str, password: str, address: str) -> User:
        """The user for a name and password, or Unauthorized / TooManyAttempts / Forbidden (disabled).

        Counted per user name and per client address; a success clears both counts.
        """
        name = (username or "").strip().lower()
        keys = {f"user:{name}": self.policy.per_user, f"address:{address}": self.policy.per_address}
        self._refuse_while_locked(list(keys))
        found = self.repo.credentials(name) if _USERNAME.match(name) else None
        password_ok = _password_matches(found[1] if found else _dummy_hash(), (password or "")[:MAX_PASSWORD_LENGTH])
        if not (found and password_ok):
            self._count_failure(keys)
            raise Unauthorized("wrong user name or password")
        user = _as_user(found[0])
        if user.disabled:
            raise Forbidden(f"the account '{user.username}' is disabled")
        self.repo.clear_failures(list(keys))
        self.repo.update_user(user.username, last_login_at=self.clock())
        return user

    def _refuse_while_locked(self, keys: list[str]) -> None:
        now = self.clock()
        until = max(self.repo.lock_state(keys).values(), default=0.0)
        if until > now:
            raise TooManyAttempts("too many failed sign-ins; try again later", retry_after=math.ceil(until - now))

    def _count_failure(self, limits: dict[str, int]) -> None:
        now = self.clock()
        locked_for = 0.0
        for key, limit in limits.items():
            failures = self.repo.record_failure(key, now, now - self.policy.forget_after_seconds)
            if failures >= limit:
                seconds = self.policy.lockout(failures, limit)
                self.repo.lock(key, now + seconds)
                locked_for = max(locked_for, seconds)
        if locked_for:
            raise TooManyAttempts("too many failed sign-ins; try again later", retry_after=math.ceil(locked_for))

    # --- sessions ----------------------------------------------------------------------------
    def start_session(self, user: User, hours: float) -> str:
        """A new sign-in session: its random id for the cookie (the store keeps only its hash)."""
        secret = secrets.token_urlsafe(32)
        now = self.clock()
        self.repo.add_session(hash_token(secret), user.id, now, now + hours * 3600)
        return secret

    def user_for_session(self, secret: str) -> User | None:
        """The user of a live session; None when it ended (sign-out, password change, expiry)."""
        if not isinstance(secret, str) or not secret:
            return None
        user_id = self.repo.session_user_id(hash_token(secret), self.clock())
        user = None if user_id is None else self.user_by_id(user_id)
        return None if user is None or user.disabled else user

    def end_session(self, secret: str) -> None:
        if isinstance(secret, str) and secret:
            self.repo.delete_sessions(session_hash=hash_token(secret))

    # --- API tokens --------------------------------------------------------------------------
    def create_token(self, user: User, label: str = "") -> tuple[str, TokenRecord]:
        """A new token for the user: (the secret, shown once and never stored, its record)."""
        label = (label or "").strip() or "token"
        if len(label) > 100:
            raise AccountError("label_too_long", "a token label has at most 100 characters", parameter="label")
        if user.disabled:
            raise AccountError("user_disabled", f"the account '{user.username}' is disabled")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        record = self.repo.add_token(user.id, label, hash_token(secret), secret[:len(TOKEN_PREFIX) + 6], self.clock())
        return secret, record

    def tokens(self, user: User | None = None) -> list[TokenRecord]:
        return self.repo.tokens(None if user is None else user.id)

    def revoke_token(self, token_id: int, by: User) -> TokenRecord:
        """Revoke a token of one's own (an admin: anyone's). Someone else's token is 'not found'."""
        token = self.repo.token(token_id)
        if token is None or (token.user_id != by.id and not by.can("admin")):
            raise NotFound(f"no API token #{token_id}")
        self.repo.revoke_token(token.id, self.clock())
        return self.repo.token(token.id)

    def user_for_token(self, secret: str) -> tuple[User, TokenRecord] | None:
        """The user a bearer token stands for, with the user's current role; None when the token is
        unknown, revoked or its user disabled."""
        if not secret or len(secret) > 200:
            return None
        token = self.repo.token_by_hash(hash_token(secret))
        if token is None or token.revoked_at is not None:
            return None
        user = self.user_by_id(token.user_id)
        if user is None or user.disabled:
            return None
        now = self.clock()
        # One write a minute at most per token, not one per request a script makes.
        if token.last_used_at is None or now - token.last_used_at > 60:
            self.repo.touch_token(token.id, now)
        return user, token


def _as_user(record: UserRecord) -> User:
    return User(**dataclasses.asdict(record))
