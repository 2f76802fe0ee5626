"""Configuration: defaults, environment overrides, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from geo_app.config import load_config
from geo_app.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_use_the_embedded_geopackage(tmp_path):
    config = load_config(write(tmp_path, 'layers_dir = "%s"\n' % (Path(__file__).parent.parent / "layers")),
                         environ={})
    assert config.server.port == 5000
    assert config.store_url == f"gpkg://{tmp_path / 'data' / 'geo_app.gpkg'}"  # relative to the file


def test_environment_overrides_the_file(tmp_path):
    env = {"GEO_APP_DATABASE_URL": "postgresql://u@db:5432/estates", "GEO_APP_DATA_DIR": str(tmp_path / "d"),
           "GEO_APP_SECRET_KEY": "s3cret", "GEO_APP_SERVER_PORT": "8080"}
    config = load_config(environ=env)
    assert config.store_url == "postgresql://u@db:5432/estates"
    assert config.data_dir == tmp_path / "d"
    assert config.secret_key == "s3cret"
    assert config.server.port == 8080


@pytest.mark.parametrize("text, env, expected", [
    ("[server]\nport = 99999\n", {}, "'server.port'.*between 1 and 65535"),
    ("", {"GEO_APP_SERVER_PORT": "web"}, "'server.port'.*GEO_APP_SERVER_PORT.*int"),
    ("[database]\nurl = \"mysql://x\"\n", {}, "'database.url'.*postgresql://"),
    ("[map]\nzoom = 40\n", {}, "'map.zoom'"),
    ("colour = 'red'\n", {}, "unknown setting 'colour'"),
    ("[server\nport = 1\n", {}, "not valid TOML"),
    ("default_locale = 'fr'\n", {}, "'default_locale'.*'zh' or 'en'"),
    ("layers_dir = 'nowhere'\n", {}, "'layers_dir'.*folder not found"),
])
def test_config_errors_name_the_key_and_source(tmp_path, text, env, expected):
    with pytest.raises(ConfigError, match=expected):
        load_config(write(tmp_path, text), environ=env)


def test_missing_config_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.toml", environ={})


def test_repository_config_holds_no_secret():
    config = load_config(Path(__file__).parent.parent / "config.toml", environ={})
    assert config.secret_key == ""
