"""Accounts in the store: the same behaviour from the GeoPackage and the PostGIS backend."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from geo_app.core.accounts import Accounts, AccountError, LoginPolicy, hash_token
from geo_app.errors import Conflict, Forbidden, NotFound, TooManyAttempts, Unauthorized
from geo_app.storage import open_store

PASSWORD = "correct horse battery"


class Clock:
    """A clock the test moves by hand, so lockouts are tested without sleeping."""

    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def accounts(store, clock):
    return Accounts(store.accounts, LoginPolicy(per_user=5, per_address=8, lockout_seconds=60), clock=clock)


def test_users_are_added_listed_and_names_are_unique_case_insensitively(accounts):
    accounts.add_user("Planner.Li", "planner", PASSWORD)
    accounts.add_user("张三", "inspector", PASSWORD)
    assert [(u.username, u.role, u.disabled) for u in accounts.users()] == [
        ("planner.li", "planner", False), ("张三", "inspector", False)]
    with pytest.raises(Conflict, match="planner.li"):
        accounts.add_user("PLANNER.LI", "viewer", PASSWORD)
    with pytest.raises(AccountError, match="unknown role"):
        accounts.add_user("x1", "superuser", PASSWORD)
    with pytest.raises(AccountError, match="at least 8"):
        accounts.add_user("x2", "viewer", "short")
    with pytest.raises(AccountError, match="user name"):
        accounts.add_user("a b<script>", "viewer", PASSWORD)


def test_roles_are_ordered(accounts):
    planner = accounts.add_user("p1", "planner", PASSWORD)
    assert planner.can("viewer") and planner.can("inspector") and planner.can("planner")
    assert not planner.can("admin")
    assert not accounts.set_disabled("p1", True).can("viewer")


def test_passwords_are_stored_hashed_with_scrypt_never_in_clear(store, accounts):
    accounts.add_user("p1", "planner", PASSWORD)
    _user, stored = store.accounts.credentials("p1")
    assert stored.startswith("scrypt:") and PASSWORD not in stored
    accounts.set_password("p1", "another long password")
    assert store.accounts.credentials("p1")[1] != stored


def test_sign_in_checks_the_password_and_a_disabled_user_cannot(accounts, clock):
    accounts.add_user("p1", "planner", PASSWORD)
    assert accounts.authenticate(" P1 ", PASSWORD, "10.0.0.1").username == "p1"
    assert accounts.user("p1").last_login_at == clock.now
    with pytest.raises(Unauthorized):
        accounts.authenticate("p1", PASSWORD + "x", "10.0.0.1")
    with pytest.raises(Unauthorized):
        accounts.authenticate("nobody", PASSWORD, "10.0.0.1")
    accounts.set_disabled("p1", True)
    with pytest.raises(Forbidden, match="disabled"):
        accounts.authenticate("p1", PASSWORD, "10.0.0.1")
    accounts.set_disabled("p1", False)
    assert accounts.authenticate("p1", PASSWORD, "10.0.0.1").username == "p1"


def test_five_failures_lock_the_user_name_with_a_doubling_backoff(accounts, clock):
    accounts.add_user("p1", "planner", PASSWORD)
    for _ in range(4):
        with pytest.raises(Unauthorized):
            accounts.authenticate("p1", "wrong password", "10.0.0.1")
    with pytest.raises(TooManyAttempts) as fifth:
        accounts.authenticate("p1", "wrong password", "10.0.0.2")
    assert fifth.value.retry_after == 60
    # Locked: even the right password is refused, from any address, without counting further.
    with pytest.raises(TooManyAttempts):
        accounts.authenticate("p1", PASSWORD, "10.0.0.3")
    clock.now += 61
    with pytest.raises(TooManyAttempts) as sixth:
        accounts.authenticate("p1", "wrong password", "10.0.0.1")
    assert sixth.value.retry_after == 120
    clock.now += 121
    assert accounts.authenticate("p1", PASSWORD, "10.0.0.1").username == "p1"
    # A success clears the count: four more mistakes are allowed again.
    for _ in range(4):
        with pytest.raises(Unauthorized):
            accounts.authenticate("p1", "wrong password", "10.0.0.1")


def test_failures_from_one_address_lock_that_address_for_every_name(accounts):
    accounts.add_user("p1", "planner", PASSWORD)
    for i in range(7):
        with pytest.raises(Unauthorized):
            accounts.authenticate(f"guess{i}", "wrong password", "10.9.9.9")
    with pytest.raises(TooManyAttempts):
        accounts.authenticate("guess7", "wrong password", "10.9.9.9")
    with pytest.raises(TooManyAttempts):
        accounts.authenticate("p1", PASSWORD, "10.9.9.9")
    assert accounts.authenticate("p1", PASSWORD, "10.0.0.1").username == "p1"


def test_old_failures_are_forgotten(accounts, clock):
    accounts.add_user("p1", "planner", PASSWORD)
    for _ in range(4):
        with pytest.raises(Unauthorized):
            accounts.authenticate("p1", "wrong password", "10.0.0.1")
    clock.now += 3601
    with pytest.raises(Unauthorized):  # counted as the first again, not the fifth
        accounts.authenticate("p1", "wrong password", "10.0.0.1")


def test_concurrent_failures_are_all_counted(store, accounts):
    threads = [threading.Thread(target=lambda: store.accounts.record_failure("user:x", 1.0, 0.0)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.accounts.record_failure("user:x", 1.0, 0.0) == 7


def test_tokens_are_random_stored_hashed_carry_the_role_and_can_be_revoked(store, accounts, clock):
    planner = accounts.add_user("p1", "planner", PASSWORD)
    secret, record = accounts.create_token(planner, "QGIS 笔记本")
    other, _ = accounts.create_token(planner, "")
    assert secret != other and secret.startswith("geo_") and len(secret) > 40
    assert record.label == "QGIS 笔记本" and secret.startswith(record.prefix)
    assert store.accounts.token_by_hash(hash_token(secret)).id == record.id
    user, token = accounts.user_for_token(secret)
    assert (user.username, user.role, token.id) == ("p1", "planner", record.id)
    assert accounts.tokens(planner)[1].last_used_at == clock.now
    accounts.set_role("p1", "viewer")  # the token carries the user's role now, not when made
    assert accounts.user_for_token(secret)[0].role == "viewer"
    assert accounts.user_for_token(secret + "x") is None
    assert accounts.revoke_token(record.id, planner).revoked_at == clock.now
    assert accounts.user_for_token(secret) is None
    assert accounts.user_for_token(other) is not None
    accounts.set_disabled("p1", True)
    assert accounts.user_for_token(other) is None


def test_sessions_end_on_sign_out_password_change_disabling_and_expiry(accounts, clock):
    user = accounts.add_user("p1", "planner", PASSWORD)
    phone, desk = accounts.start_session(user, 12), accounts.start_session(user, 12)
    assert accounts.user_for_session(phone).username == "p1"
    accounts.end_session(phone)
    assert accounts.user_for_session(phone) is None and accounts.user_for_session(desk) is not None
    accounts.set_password("p1", "a new long password")
    assert accounts.user_for_session(desk) is None
    again = accounts.start_session(user, 12)
    accounts.add_user("root", "admin", PASSWORD)
    accounts.set_disabled("p1", True)
    accounts.set_disabled("p1", False)
    assert accounts.user_for_session(again) is None
    late = accounts.start_session(user, 1)
    clock.now += 3601
    assert accounts.user_for_session(late) is None
    assert accounts.user_for_session("forged") is None and accounts.user_for_session(None) is None


def test_only_the_owner_or_an_admin_revokes_a_token(accounts):
    owner = accounts.add_user("p1", "planner", PASSWORD)
    stranger = accounts.add_user("p2", "planner", PASSWORD)
    admin = accounts.add_user("root", "admin", PASSWORD)
    _secret, record = accounts.create_token(owner, "script")
    with pytest.raises(NotFound):
        accounts.revoke_token(record.id, stranger)
    assert accounts.revoke_token(record.id, admin).revoked_at is not None
    with pytest.raises(NotFound):
        accounts.revoke_token(9999, admin)


def test_the_last_admin_cannot_be_demoted_or_disabled(accounts):
    accounts.add_user("root", "admin", PASSWORD)
    with pytest.raises(AccountError, match="last active admin"):
        accounts.set_role("root", "planner")
    with pytest.raises(AccountError, match="last active admin"):
        accounts.set_disabled("root", True)
    accounts.add_user("root2", "admin", PASSWORD)
    assert accounts.set_role("root", "planner").role == "planner"


def test_first_admin_is_created_once_with_a_given_or_generated_password(store, accounts):
    created, generated = accounts.ensure_first_admin()
    assert created and len(generated) >= 16
    assert accounts.authenticate("admin", generated, "127.0.0.1").role == "admin"
    assert accounts.ensure_first_admin("ignored password") == (False, None)
    assert store.accounts.count_users() == 1


def test_accounts_survive_reopening_and_initialise_keeps_them(store_url, layers):
    first = open_store(store_url, layers)
    first.initialise()
    Accounts(first.accounts).add_user("p1", "planner", PASSWORD)
    first.close()
    again = open_store(store_url, layers)
    try:
        again.initialise()
        assert [u.username for u in Accounts(again.accounts).users()] == ["p1"]
        assert again.revision() == 0  # account writes do not invalidate map caches
    finally:
        again.drop()
        again.close()


def test_account_tables_are_not_layers_in_the_geopackage(tmp_path, layers):
    import pyogrio

    s = open_store(f"gpkg://{tmp_path / 'a.gpkg'}", layers)
    s.initialise()
    Accounts(s.accounts).add_user("p1", "planner", PASSWORD)
    s.close()
    names = {name for name, _type in pyogrio.list_layers(tmp_path / "a.gpkg")}
    assert not {n for n in names if "user" in n or "token" in n}
    with sqlite3.connect(tmp_path / "a.gpkg") as con:
        assert con.execute("SELECT COUNT(*) FROM geo_app_users").fetchone()[0] == 1
