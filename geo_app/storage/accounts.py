"""Accounts in the store: users, API tokens, sign-in sessions and login failures, on both engines.

These are plain (non-spatial) tables. In a GeoPackage they are deliberately NOT registered in
`gpkg_contents`, so GDAL and QGIS list only the map layers and never show password hashes as a
layer. The SQL is shared; an engine supplies its DDL and how it runs a write transaction. Account
writes do not bump the store revision: the revision keys map and data caches, which users and
tokens never change.
"""

from __future__ import annotations

import abc
import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from ..errors import Conflict

USERS, TOKENS, FAILURES = "geo_app_users", "geo_app_api_tokens", "geo_app_login_failures"
SESSIONS = "geo_app_sessions"
TABLES = (TOKENS, SESSIONS, USERS, FAILURES)  # drop order: tokens and sessions reference users

_USER_COLUMNS = "id, username, role, disabled, created_at, password_changed_at, last_login_at"
_TOKEN_COLUMNS = ("t.id, t.user_id, u.username, t.label, t.prefix, t.created_at, t.last_used_at, t.revoked_at")


@dataclass(frozen=True)
class UserRecord:
    """A user as stored, without the password hash (which only `credentials()` returns)."""

    id: int
    username: str
    role: str
    disabled: bool
    created_at: float
    password_changed_at: float
    last_login_at: float | None


@dataclass(frozen=True)
class TokenRecord:
    """An API token as stored: never the token itself, only its hash (kept out of this record)."""

    id: int
    user_id: int
    username: str
    label: str
    prefix: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None


Execute = Callable[[str, Sequence], list]


class AccountRepository(abc.ABC):
    """Users, tokens and login failures of one store. Reached as `store.accounts`."""

    placeholder = "?"

    def __init__(self, fetch: Callable[[str, Sequence], list[tuple]]):
        self._fetch = fetch

    # --- engine-specific ---------------------------------------------------------------------
    @abc.abstractmethod
    def ddl(self) -> list[str]:
        """CREATE statements for the account tables (idempotent), run by the store's initialise()."""

    @abc.abstractmethod
    def _write(self) -> contextlib.AbstractContextManager[Execute]:
        """A write transaction yielding `execute(sql, params) -> rows`; a unique clash is a Conflict."""

    # --- users -------------------------------------------------------------------------------
    def add_user(self, username: str, password_hash: str, role: str, now: float) -> UserRecord:
        """Insert a user; Conflict when the name is taken."""
        p = self.placeholder
        with self._write() as execute:
            if execute(f"SELECT 1 FROM {USERS} WHERE username = {p}", [username]):
                raise Conflict(f"user '{username}' already exists")
            execute(f"INSERT INTO {USERS} (username, password_hash, role, disabled, created_at, password_changed_at) "
                    f"VALUES ({p}, {p}, {p}, 0, {p}, {p}) RETURNING id", [username, password_hash, role, now, now])
        return self.user(username)

    def user(self, username: str) -> UserRecord | None:
        rows = self._fetch(f"SELECT {_USER_COLUMNS} FROM {USERS} WHERE username = {self.placeholder}", [username])
        return _user(rows[0]) if rows else None

    def user_by_id(self, user_id: int) -> UserRecord | None:
        rows = self._fetch(f"SELECT {_USER_COLUMNS} FROM {USERS} WHERE id = {self.placeholder}", [int(user_id)])
        return _user(rows[0]) if rows else None

    def credentials(self, username: str) -> tuple[UserRecord, str] | None:
        """The user and their password hash, for checking a password."""
        rows = self._fetch(f"SELECT {_USER_COLUMNS}, password_hash FROM {USERS} WHERE username = {self.placeholder}",
                           [username])
        return (_user(rows[0][:-1]), rows[0][-1]) if rows else None

    def users(self) -> list[UserRecord]:
        return [_user(r) for r in self._fetch(f"SELECT {_USER_COLUMNS} FROM {USERS} ORDER BY username", [])]

    def count_users(self) -> int:
        return int(self._fetch(f"SELECT COUNT(*) FROM {USERS}", [])[0][0])

    def count_active_admins(self) -> int:
        return int(self._fetch(f"SELECT COUNT(*) FROM {USERS} WHERE role = 'admin' AND disabled = 0", [])[0][0])

    def update_user(self, username: str, *, role: str | None = None, disabled: bool | None = None,
                    password_hash: str | None = None, password_changed_at: float | None = None,
                    last_login_at: float | None = None) -> bool:
        """Change some columns of a user; False when there is no such user."""
        changes = {"role": role, "disabled": None if disabled is None else int(disabled),
                   "password_hash": password_hash, "password_changed_at": password_changed_at,
                   "last_login_at": last_login_at}
        changes = {k: v for k, v in changes.items() if v is not None}
        p = self.placeholder
        assignments = ", ".join(f"{column} = {p}" for column in changes)  # column names are ours
        with self._write() as execute:
            found = execute(f"UPDATE {USERS} SET {assignments} WHERE username = {p} RETURNING id",
                            [*changes.values(), username])
        return bool(found)

    # --- API tokens --------------------------------------------------------------------------
    def add_token(self, user_id: int, label: str, token_hash: str, prefix: str, now: float) -> TokenRecord:
        p = self.placeholder
        with self._write() as execute:
            [(token_id,)] = execute(f"INSERT INTO {TOKENS} (user_id, label, token_hash, prefix, created_at) "
                                    f"VALUES ({p}, {p}, {p}, {p}, {p}) RETURNING id",
                                    [int(user_id), label, token_hash, prefix, now])
        return self.token(token_id)

    def token(self, token_id: int) -> TokenRecord | None:
        rows = self._fetch(f"SELECT {_TOKEN_COLUMNS} FROM {TOKENS} t JOIN {USERS} u ON u.id = t.user_id "
                           f"WHERE t.id = {self.placeholder}", [int(token_id)])
        return _token(rows[0]) if rows else None

    def token_by_hash(self, token_hash: str) -> TokenRecord | None:
        rows = self._fetch(f"SELECT {_TOKEN_COLUMNS} FROM {TOKENS} t JOIN {USERS} u ON u.id = t.user_id "
                           f"WHERE t.token_hash = {self.placeholder}", [token_hash])
        return _token(rows[0]) if rows else None

    def tokens(self, user_id: int | None = None) -> list[TokenRecord]:
        """Tokens (revoked ones too, for the record), newest first; of one user when given."""
        where, params = "", []
        if user_id is not None:
            where, params = f" WHERE t.user_id = {self.placeholder}", [int(user_id)]
        return [_token(r) for r in self._fetch(f"SELECT {_TOKEN_COLUMNS} FROM {TOKENS} t JOIN {USERS} u "
                                               f"ON u.id = t.user_id{where} ORDER BY t.id DESC", params)]

    def revoke_token(self, token_id: int, now: float) -> bool:
        """Mark a token revoked; False when it does not exist or already was."""
        p = self.placeholder
        with self._write() as execute:
            return bool(execute(f"UPDATE {TOKENS} SET revoked_at = {p} WHERE id = {p} AND revoked_at IS NULL "
                                "RETURNING id", [now, int(token_id)]))

    def touch_token(self, token_id: int, now: float) -> None:
        p = self.placeholder
        with self._write() as execute:
            execute(f"UPDATE {TOKENS} SET last_used_at = {p} WHERE id = {p}", [now, int(token_id)])

    # --- sign-in sessions ---------------------------------------------------------------------
    def add_session(self, session_hash: str, user_id: int, now: float, expires_at: float) -> None:
        """Record a sign-in session (by the hash of its id); expired ones are swept out here."""
        p = self.placeholder
        with self._write() as execute:
            execute(f"DELETE FROM {SESSIONS} WHERE expires_at < {p}", [now])
            execute(f"INSERT INTO {SESSIONS} (id_hash, user_id, created_at, expires_at) VALUES ({p}, {p}, {p}, {p})",
                    [session_hash, int(user_id), now, expires_at])

    def session_user_id(self, session_hash: str, now: float) -> int | None:
        p = self.placeholder
        rows = self._fetch(f"SELECT user_id FROM {SESSIONS} WHERE id_hash = {p} AND expires_at > {p}",
                           [session_hash, now])
        return int(rows[0][0]) if rows else None

    def delete_sessions(self, *, session_hash: str | None = None, user_id: int | None = None) -> None:
        """End one session, or every session of a user."""
        column, value = ("id_hash", session_hash) if session_hash is not None else ("user_id", int(user_id))
        with self._write() as execute:
            execute(f"DELETE FROM {SESSIONS} WHERE {column} = {self.placeholder}", [value])

    # --- login failures ----------------------------------------------------------------------
    def lock_state(self, keys: Sequence[str]) -> dict[str, float]:
        """key -> locked-until time (epoch seconds) for the keys that have a record."""
        marks = ", ".join([self.placeholder] * len(keys))
        rows = self._fetch(f"SELECT key, locked_until FROM {FAILURES} WHERE key IN ({marks})", list(keys))
        return {key: float(until) for key, until in rows}

    def record_failure(self, key: str, now: float, forget_before: float) -> int:
        """Count one failure for a key (starting again when the last was before `forget_before`);
        the new count. One statement, so concurrent failures are all counted."""
        p = self.placeholder
        with self._write() as execute:
            [(failures,)] = execute(
                f"INSERT INTO {FAILURES} (key, failures, last_failure_at, locked_until) VALUES ({p}, 1, {p}, 0) "
                f"ON CONFLICT (key) DO UPDATE SET failures = CASE WHEN {FAILURES}.last_failure_at < {p} THEN 1 "
                f"ELSE {FAILURES}.failures + 1 END, last_failure_at = excluded.last_failure_at RETURNING failures",
                [key, now, forget_before])
        return int(failures)

    def lock(self, key: str, until: float) -> None:
        p = self.placeholder
        with self._write() as execute:
            execute(f"UPDATE {FAILURES} SET locked_until = {p} WHERE key = {p}", [until, key])

    def clear_failures(self, keys: Sequence[str]) -> None:
        marks = ", ".join([self.placeholder] * len(keys))
        with self._write() as execute:
            execute(f"DELETE FROM {FAILURES} WHERE key IN ({marks})", list(keys))


def _rows(cursor) -> list:
    return cursor.fetchall() if cursor.description else []


def _user(row) -> UserRecord:
    id_, username, role, disabled, created, changed, last_login = row
    return UserRecord(int(id_), username, role, bool(disabled), float(created), float(changed),
                      None if last_login is None else float(last_login))


def _token(row) -> TokenRecord:
    id_, user_id, username, label, prefix, created, used, revoked = row
    return TokenRecord(int(id_), int(user_id), username, label, prefix, float(created),
                       None if used is None else float(used), None if revoked is None else float(revoked))


# --- the two engines ---------------------------------------------------------------------------
_GPKG_DDL = [
    f"""CREATE TABLE IF NOT EXISTS {USERS} (
      id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, username TEXT NOT NULL UNIQUE,
      password_hash TEXT NOT NULL, role TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0,
      created_at REAL NOT NULL, password_changed_at REAL NOT NULL, last_login_at REAL)""",
    f"""CREATE TABLE IF NOT EXISTS {TOKENS} (
      id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, user_id INTEGER NOT NULL REFERENCES {USERS} (id),
      label TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL,
      created_at REAL NOT NULL, last_used_at REAL, revoked_at REAL)""",
    f"""CREATE TABLE IF NOT EXISTS {SESSIONS} (
      id_hash TEXT PRIMARY KEY NOT NULL, user_id INTEGER NOT NULL REFERENCES {USERS} (id),
      created_at REAL NOT NULL, expires_at REAL NOT NULL)""",
    f"""CREATE TABLE IF NOT EXISTS {FAILURES} (
      key TEXT PRIMARY KEY NOT NULL, failures INTEGER NOT NULL, last_failure_at REAL NOT NULL,
      locked_until REAL NOT NULL DEFAULT 0)""",
]

_POSTGIS_DDL = [
    f"""CREATE TABLE IF NOT EXISTS {USERS} (
      id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, username text NOT NULL UNIQUE,
      password_hash text NOT NULL, role text NOT NULL, disabled integer NOT NULL DEFAULT 0,
      created_at double precision NOT NULL, password_changed_at double precision NOT NULL,
      last_login_at double precision)""",
    f"""CREATE TABLE IF NOT EXISTS {TOKENS} (
      id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, user_id integer NOT NULL REFERENCES {USERS} (id),
      label text NOT NULL, token_hash text NOT NULL UNIQUE, prefix text NOT NULL,
      created_at double precision NOT NULL, last_used_at double precision, revoked_at double precision)""",
    f"""CREATE TABLE IF NOT EXISTS {SESSIONS} (
      id_hash text PRIMARY KEY, user_id integer NOT NULL REFERENCES {USERS} (id),
      created_at double precision NOT NULL, expires_at double precision NOT NULL)""",
    f"""CREATE TABLE IF NOT EXISTS {FAILURES} (
      key text PRIMARY KEY, failures integer NOT NULL, last_failure_at double precision NOT NULL,
      locked_until double precision NOT NULL DEFAULT 0)""",
]


class GeoPackageAccounts(AccountRepository):
    """Accounts in the GeoPackage file; writes take the store's write lock and SQLite's (BEGIN IMMEDIATE)."""

    placeholder = "?"

    def __init__(self, store):
        super().__init__(store._fetch)
        self._store = store

    def ddl(self) -> list[str]:
        return list(_GPKG_DDL)

    @contextlib.contextmanager
    def _write(self) -> Iterator[Execute]:
        import sqlite3

        with self._store._write_lock, self._store._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield lambda sql, params: _rows(con.execute(sql, list(params)))
                con.execute("COMMIT")
            except sqlite3.IntegrityError as exc:
                con.execute("ROLLBACK")
                raise Conflict(f"accounts: {exc}") from None
            except BaseException:
                con.execute("ROLLBACK")
                raise


class PostgisAccounts(AccountRepository):
    """Accounts in the PostgreSQL schema of the store."""

    placeholder = "%s"

    def __init__(self, store):
        super().__init__(store._fetch)
        self._store = store

    def ddl(self) -> list[str]:
        return list(_POSTGIS_DDL)

    @contextlib.contextmanager
    def _write(self) -> Iterator[Execute]:
        psycopg = self._store._psycopg
        try:
            with self._store._connection() as conn, conn.transaction():
                yield lambda sql, params: _rows(conn.execute(sql, list(params)))
        except psycopg.errors.IntegrityError as exc:
            raise Conflict(f"accounts: {exc.diag.message_primary}") from None
