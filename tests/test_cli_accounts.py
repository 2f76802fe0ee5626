"""`users` and `tokens` on the command line, and the first admin made by `init`."""

from __future__ import annotations

import io
import uuid
import re

import pytest

from geo_app.cli import main
from geo_app.core.accounts import Accounts
from geo_app.storage import open_store


@pytest.fixture
def data_dir(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GEO_APP_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GEO_APP_DATABASE_URL", raising=False)
    monkeypatch.delenv("GEO_APP_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("GEO_APP_USER_PASSWORD", raising=False)
    return tmp_path


def accounts_at(data_dir, layers):
    return Accounts(open_store(f"gpkg://{data_dir / 'geo_app.gpkg'}", layers).accounts)


def test_init_creates_the_first_admin_once_with_a_generated_password(data_dir, capsys, layers):
    assert main(["init"]) == 0
    out = capsys.readouterr().out
    password = re.search(r"shown only this once: (\S+)", out).group(1)
    assert len(password) >= 16
    assert accounts_at(data_dir, layers).authenticate("admin", password, "cli").role == "admin"
    assert main(["init"]) == 0
    assert "admin" not in capsys.readouterr().out  # a store with users gets no second admin


def test_first_admin_password_from_the_environment_is_not_printed(data_dir, capsys, monkeypatch, layers):
    monkeypatch.setenv("GEO_APP_ADMIN_PASSWORD", "from-the-environment")
    assert main(["init"]) == 0
    out = capsys.readouterr().out
    assert "GEO_APP_ADMIN_PASSWORD" in out and "from-the-environment" not in out
    assert accounts_at(data_dir, layers).authenticate("admin", "from-the-environment", "cli").username == "admin"


def test_users_add_list_set_password_disable_enable(data_dir, capsys, monkeypatch, layers):
    main(["init"])
    monkeypatch.setattr("sys.stdin", io.StringIO("typed-in password\n"))
    assert main(["users", "add", "Li.Planner", "--role", "planner", "--password-stdin"]) == 0
    out = capsys.readouterr().out
    assert "li.planner" in out and "typed-in password" not in out
    monkeypatch.setenv("GEO_APP_USER_PASSWORD", "environment password")
    assert main(["users", "add", "张巡查", "--role", "inspector"]) == 0
    monkeypatch.delenv("GEO_APP_USER_PASSWORD")
    assert main(["users", "add", "viewer1"]) == 0
    generated = re.search(r"shown once[^:]*: (\S+)", capsys.readouterr().out).group(1)
    accounts = accounts_at(data_dir, layers)
    assert accounts.authenticate("li.planner", "typed-in password", "cli").role == "planner"
    assert accounts.authenticate("张巡查", "environment password", "cli").role == "inspector"
    assert accounts.authenticate("viewer1", generated, "cli").role == "viewer"

    assert main(["users", "list"]) == 0
    listing = capsys.readouterr().out
    assert re.search(r"li\.planner\s+planner\s+active", listing) and re.search(r"张巡查\s+inspector", listing)

    monkeypatch.setattr("sys.stdin", io.StringIO("a changed password\n"))
    assert main(["users", "set-password", "li.planner", "--password-stdin"]) == 0
    assert accounts.authenticate("li.planner", "a changed password", "cli")
    assert main(["users", "disable", "li.planner"]) == 0
    assert main(["users", "list"]) == 0
    assert re.search(r"li\.planner\s+planner\s+disabled", capsys.readouterr().out)
    assert main(["users", "enable", "li.planner"]) == 0
    assert main(["users", "set-role", "li.planner", "admin"]) == 0
    assert accounts.user("li.planner").role == "admin"


def test_users_errors_are_messages_not_tracebacks(data_dir, capsys, monkeypatch):
    main(["init"])
    assert main(["users", "disable", "admin"]) == 2
    assert "last active admin" in capsys.readouterr().err
    assert main(["users", "disable", "nobody"]) == 2
    assert "no user named 'nobody'" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "add", "x1", "--password-stdin"]) == 2
    assert "at least 8 characters" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["users", "add", "x2", "--role", "superuser"])


def test_users_before_init_says_what_to_do(data_dir, capsys):
    assert main(["users", "list"]) == 2
    assert "geo-app init" in capsys.readouterr().err


def test_tokens_create_list_revoke(data_dir, capsys, layers):
    main(["init"])
    capsys.readouterr()
    assert main(["tokens", "create", "admin", "--label", "QGIS 办公室"]) == 0
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    accounts = accounts_at(data_dir, layers)
    assert accounts.user_for_token(secret)[0].username == "admin"
    assert main(["tokens", "list"]) == 0
    listing = capsys.readouterr().out
    assert "QGIS 办公室" in listing and secret not in listing and secret[:10] in listing
    assert main(["tokens", "revoke", "1"]) == 0
    assert accounts.user_for_token(secret) is None
    assert main(["tokens", "revoke", "99"]) == 2


@pytest.mark.postgis
def test_users_in_postgis(postgis_url, capsys, monkeypatch, layers):
    url = f"{postgis_url}?schema=cli_users_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("GEO_APP_DATABASE_URL", url)
    monkeypatch.setenv("GEO_APP_ADMIN_PASSWORD", "postgis admin password")
    try:
        assert main(["init", "--force"]) == 0
        monkeypatch.setenv("GEO_APP_USER_PASSWORD", "postgis planner password")
        assert main(["users", "add", "planner", "--role", "planner"]) == 0
        assert main(["users", "list"]) == 0
        out = capsys.readouterr().out
        assert re.search(r"admin\s+admin\s+active", out) and re.search(r"planner\s+planner\s+active", out)
    finally:
        store = open_store(url, layers)
        store.drop()
        store.close()
