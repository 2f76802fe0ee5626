"""`python -m geo_app import`: progress and summary on stderr, exit codes, the JSON report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from geo_app.cli import main

from import_support import chinese_frame, estate_rows, geojson_file, write_shapefile

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GEO_APP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GEO_APP_DATABASE_URL", raising=False)
    assert main(["init"]) == 0
    return tmp_path / "data"


def run(*args):
    return subprocess.run([sys.executable, "-m", "geo_app", "import", *args], capture_output=True, text=True,
                          cwd=ROOT, env=os.environ.copy(), timeout=120)


def test_import_a_gbk_shapefile_then_see_it_in_stats(data_dir, tmp_path, capsys):
    rows = estate_rows(3)
    archive = write_shapefile(chinese_frame(rows).to_crs(epsg=4527), tmp_path / "shp", "gk", encoding="GBK")
    dry = run(str(archive), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "read 3, written 0" in dry.stderr and "dry run" in dry.stderr
    result = run(str(archive), "--report", str(tmp_path / "report.json"))
    assert result.returncode == 0, result.stderr
    assert "writing" in result.stderr and "3/3" in result.stderr and "/s" in result.stderr
    assert "read 3, written 3, repaired 0, refused 0" in result.stderr
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["ok"] and report["inserted"] == 3 and report["columns"]["小区名称"] == "name"
    capsys.readouterr()
    assert main(["stats", "--json", "--group-by", "street_office"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert table["total"]["estates"] == 168 + 3


def test_refused_import_exits_1_and_prints_every_problem(data_dir, tmp_path):
    rows = estate_rows(3)
    rows[0]["households"] = -1
    rows[2]["progress_pct"] = 101
    path = geojson_file(tmp_path / "bad.geojson", rows)
    result = run(str(path), "--report", str(tmp_path / "report.json"))
    assert result.returncode == 1
    assert "error: feature 1, field 'households'" in result.stderr
    assert "error: feature 3, field 'progress_pct'" in result.stderr
    assert "refused: 2 feature(s) with errors, nothing written" in result.stderr
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["ok"] is False and report["errors"] == 2 and report["refused"] == 2


def test_a_file_refused_as_a_whole_names_the_file_and_exits_1(data_dir, tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("code,name,lon,lat\nF-1,x,117.3,34.8\n", encoding="utf-8")
    result = run(str(path), "--layer", "facilities")
    assert result.returncode == 1
    assert "points.csv: the file names no coordinate system" in result.stderr and "Traceback" not in result.stderr
    assert run(str(tmp_path / "absent.geojson")).returncode == 2


def test_help_lists_the_options():
    text = run("--help").stdout
    for option in ("--layer", "--crs", "--encoding", "--mapping", "--mode", "--dry-run", "--report"):
        assert option in text
