"""The command line, run as users run it: `python -m geo_app …` in a subprocess or through main()."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyogrio
import pytest

from geo_app.cli import main

ROOT = Path(__file__).resolve().parent.parent


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "geo_app", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **(env or {})}, timeout=120)


def test_help_lists_the_commands():
    result = run("--help")
    assert result.returncode == 0
    for command in ("init", "serve", "stats"):
        assert command in result.stdout
    serve_help = run("serve", "--help").stdout
    assert "--host" in serve_help and "--port" in serve_help


def test_init_builds_the_geopackage_then_stats_prints_the_letters_table(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GEO_APP_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GEO_APP_DATABASE_URL", raising=False)
    assert main(["init"]) == 0
    gpkg = tmp_path / "geo_app.gpkg"
    counts = dict(pyogrio.list_layers(gpkg))
    assert set(counts) >= {"district", "street_offices", "zones", "estates", "facilities"}
    capsys.readouterr()
    assert main(["stats"]) == 0
    out = capsys.readouterr().out
    assert "[batch]" in out and "[street_office]" in out
    assert "7,447" in out and "11,645" in out and "合计" in out
    assert main(["stats", "--json", "--group-by", "street_office"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert table["group_by"] == "street_office"
    assert sum(r["estates"] for r in table["rows"]) == table["total"]["estates"]


def test_stats_before_init_says_what_to_do(tmp_path):
    result = run("stats", env={"GEO_APP_DATA_DIR": str(tmp_path), "GEO_APP_DATABASE_URL": ""})
    assert result.returncode == 2
    assert "geo-app init" in result.stderr


def test_bad_config_is_reported_not_a_traceback(tmp_path):
    result = run("stats", env={"GEO_APP_SERVER_PORT": "http"})
    assert result.returncode == 2
    assert "server.port" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.postgis
def test_init_into_postgis(postgis_url, capsys, monkeypatch, layers):
    from geo_app.storage import open_store

    url = f"{postgis_url}?schema=cli_init"
    monkeypatch.setenv("GEO_APP_DATABASE_URL", url)
    try:
        assert main(["init", "--force"]) == 0
        out = capsys.readouterr().out
        assert "PostGIS" in out and "estates 168" in out
        assert main(["stats", "--json", "--group-by", "batch"]) == 0
        assert json.loads(capsys.readouterr().out)["total"]["estates"] == 168
    finally:
        store = open_store(url, layers)
        store.drop()
        store.close()
