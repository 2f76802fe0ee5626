"""`geo-app export` as users run it: files named for what they hold, stdout, progress and summary."""

from __future__ import annotations

import functools
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pyogrio
import pytest

from geo_app import cli_export
from geo_app.cli import main
from geo_app.progress import ProgressBar, human_bytes

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A GeoPackage store with the demo data, built once by `geo-app init`."""
    path = tmp_path_factory.mktemp("cli_export")
    env = {**os.environ, "GEO_APP_DATA_DIR": str(path), "GEO_APP_DATABASE_URL": ""}
    subprocess.run([sys.executable, "-m", "geo_app", "init"], cwd=ROOT, env=env, check=True, capture_output=True,
                   timeout=300)
    return path


@pytest.fixture
def cli_env(data_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("GEO_APP_DATA_DIR", str(data_dir))
    monkeypatch.setenv("GEO_APP_DATABASE_URL", "")
    monkeypatch.setenv("GEO_APP_CONFIG", str(ROOT / "config.toml"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args, env=None, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "geo_app", *args], capture_output=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_the_issues_command_writes_a_geopackage(cli_env, capsys):
    assert main(["export", "--layer", "estates", "--format", "gpkg", "--street-office", "临城街道",
                 "-o", "out.gpkg"]) == 0
    frame = pyogrio.read_dataframe(cli_env / "out.gpkg")
    assert len(frame) == 52 and set(frame["street_office"]) == {"临城街道"}
    summary = capsys.readouterr().err
    assert "estates: 52 features written to out.gpkg" in summary and " s (" in summary and "/s)" in summary


def test_default_output_is_the_descriptive_name(cli_env, capsys):
    assert main(["export", "--street-office", "临城街道", "--batch", "2021"]) == 0
    written = cli_env / "estates_临城街道_2021.geojson"
    body = json.loads(written.read_text(encoding="utf-8"))
    assert {f["properties"]["batch"] for f in body["features"]} == {2021}
    assert main(["export", "--format", "shp", "--status", "completed", "--status", "accepted",
                 "--coords", "gcj02"]) == 0
    assert (cli_env / "estates_已完工+已验收_gcj02.shp.zip").exists()
    assert sorted(p.name for p in cli_env.iterdir()) == ["estates_临城街道_2021.geojson",
                                                         "estates_已完工+已验收_gcj02.shp.zip"]  # no temp files


def test_stdout_gets_the_same_bytes_as_a_file(cli_env, data_dir):
    env = {"GEO_APP_DATA_DIR": str(data_dir), "GEO_APP_DATABASE_URL": ""}
    for fmt in ("csv", "gpkg"):
        piped = run("export", "--format", fmt, "--batch", "2020", "-o", "-", env=env)
        assert piped.returncode == 0, piped.stderr.decode()
        assert b"58 features written to stdout" in piped.stderr
        to_file = run("export", "--format", fmt, "--batch", "2020", "-o", str(cli_env / f"x.{fmt}"), env=env)
        assert to_file.returncode == 0
        if fmt == "csv":
            assert piped.stdout == (cli_env / "x.csv").read_bytes()
        else:
            assert piped.stdout[:16] == b"SQLite format 3\x00" and len(piped.stdout) > 50_000


def test_bad_input_is_a_message_not_a_traceback(cli_env, data_dir):
    env = {"GEO_APP_DATA_DIR": str(data_dir), "GEO_APP_DATABASE_URL": ""}
    for args, words in [(["--layer", "inspection"], "unknown layer 'inspection'"),
                        (["--batch", "twenty"], "batch must be comma-separated integers"),
                        (["--layer", "zones", "--status", "planned"], "layer 'zones' has no field 'status'"),
                        (["--precision", "30"], "precision must be between 1 and 15"),
                        (["--within-office", "atlantis"], "no street office with code 'atlantis'")]:
        result = run("export", *args, "-o", "-", env=env)
        assert result.returncode == 2 and words in result.stderr.decode() and b"Traceback" not in result.stderr


def test_help_documents_the_export_options():
    result = run("export", "--help")
    for option in ("--layer", "--format", "--street-office", "--within-office", "--batch", "--status", "--bbox",
                   "--bbox-coords", "--ids", "--coords", "--precision", "-o"):
        assert option in result.stdout.decode()


def test_progress_bar_shows_counts_share_and_rate():
    stream = io.StringIO()
    bar = ProgressBar("estates", stream=stream, force=True)
    bar(5_000, 20_000)
    bar(20_000, 20_000)
    bar.finish()
    lines = stream.getvalue().split("\r")
    assert "5,000/20,000" in lines[1] and "25%" in lines[1] and "/s" in lines[1]
    assert "20,000/20,000" in lines[2] and "100%" in lines[2] and stream.getvalue().endswith("\n")
    quiet = io.StringIO()
    ProgressBar("estates", stream=quiet)(1, 2)  # not a terminal: nothing drawn
    assert quiet.getvalue() == ""
    assert human_bytes(1_234_567) == "1.2 MB" and human_bytes(999) == "999 B"


def test_a_shapefile_export_is_never_written_under_a_shp_name(cli_env, data_dir, capsys):
    # A zip called out.shp is a file no GIS opens: refused before any work, naming the zip name.
    assert main(["export", "--format", "shp", "-o", "out.shp"]) == 2
    assert "name it out.shp.zip" in capsys.readouterr().err and not any(cli_env.iterdir())
    assert main(["export", "--format", "shp", "-o", "out.shp.zip"]) == 0
    assert pyogrio.read_info(cli_env / "out.shp.zip")["features"] == 168  # GDAL opens the zip as it is


def test_pyogrio_log_lines_do_not_cross_the_progress_line(cli_env, caplog, monkeypatch):
    # pyogrio logs "Created 50 records" at INFO for each page it appends; the CLI logs at INFO.
    monkeypatch.setattr(cli_export, "Export", functools.partial(cli_export.Export, page_size=50))
    caplog.set_level(logging.INFO)
    assert main(["export", "--format", "shp", "-o", "pages.shp.zip"]) == 0
    assert pyogrio.read_info(cli_env / "pages.shp.zip")["features"] == 168
    assert [r.getMessage() for r in caplog.records if r.name.startswith("pyogrio")] == []


def test_filters_by_office_code_and_labels_as_the_web_takes_them(cli_env, capsys):
    assert main(["export", "--street-office", "lincheng", "--status", "已完工", "--format", "csv"]) == 0
    assert (cli_env / "estates_临城街道_已完工.csv").exists()
    assert main(["export", "--street-office", "不存在街道", "-o", "x.geojson"]) == 2
    message = capsys.readouterr().err
    assert "no street office '不存在街道'" in message and "临城街道" in message and not (cli_env / "x.geojson").exists()
