"""Typed configuration: `config.toml`, then `GEO_APP_*` environment overrides, validated at start.

Every setting has one home in the `Config` dataclasses below. A top-level key `data_dir` is
overridden by `GEO_APP_DATA_DIR`; a key `port` in section `[server]` by `GEO_APP_SERVER_PORT`.
Errors name the key and where its value came from, so an operator can fix the right line.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError

ENV_PREFIX = "GEO_APP_"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 5000
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host headers are trusted
    # (0: none). Client addresses (login throttling) and HTTPS detection depend on it.
    proxies: int = 0


@dataclass(frozen=True)
class DatabaseConfig:
    # Empty means the embedded GeoPackage `<data_dir>/geo_app.gpkg`; `postgresql://…` selects PostGIS.
    url: str = ""


@dataclass(frozen=True)
class MapConfig:
    center_lon: float = 117.30
    center_lat: float = 34.79
    zoom: int = 11
    # OpenStreetMap tiles (or an intranet mirror); empty hides the OSM basemap.
    tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    tile_attribution: str = "&copy; OpenStreetMap contributors"
    # 天地图: offered only with a key (free from the Tianditu console). {layer} is vec/cva/img/cia.
    tianditu_key: str = ""
    tianditu_url: str = ("https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                         "&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                         "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}")
    # 高德 (Amap) road map and imagery; drawn in GCJ-02, so overlays are shifted when they are shown.
    amap_url: str = "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"
    amap_satellite_url: str = "https://webst0{s}.is.autonavi.com/appmaptile?style=6&x={x}&y={y}&z={z}"
    # Which basemap a page opens with: osm, tianditu_vec, tianditu_img, amap, amap_img or none.
    default_basemap: str = "osm"


@dataclass(frozen=True)
class AuthConfig:
    # Whether visitors who have not signed in may see maps and data (the demo: yes). When off, pages
    # send them to the sign-in page and the APIs answer 401; API tokens still work.
    anonymous_view: bool = True
    # Session cookie `Secure` flag: "auto" (when the request came over HTTPS, as ProxyFix reports
    # it behind a proxy), "always" or "never".
    secure_cookies: str = "auto"
    # How long a sign-in lasts.
    session_hours: int = 12
    # Failed sign-ins allowed before a lockout, per user name and per client address (an office
    # behind one NAT address shares the second, so it is larger).
    login_failures_per_user: int = 5
    login_failures_per_address: int = 20
    # The first lockout; each further failure after it doubles the wait (at most an hour).
    lockout_seconds: int = 60


@dataclass(frozen=True)
class ImportsConfig:
    # The import page (/admin/import), for admins only; false keeps imports to the CLI.
    web_enabled: bool = True
    # Largest upload the web page accepts, and the most an archive may unpack to (zip-bomb guard).
    max_upload_mb: int = 200
    max_unpacked_mb: int = 2000
    # An imported estate overlapping a stored (or another imported) one by more than this share of
    # the smaller of the two is refused; smaller overlaps (digitising slivers) are reported only.
    max_overlap_share: float = 0.05
    # make_valid repairs a geometry only when its area changes by at most this share; else refused.
    max_repair_area_change: float = 0.01
    # Features further than this from the district's outline (its box) are refused: the mark of a
    # wrong Gauss-Kruger zone (one zone off is ~270 km) or CRS. 0 turns the check off.
    max_km_outside_district: float = 50.0


@dataclass(frozen=True)
class InspectionsConfig:
    # Largest photo accepted, per file; a phone's camera JPEG is 2-6 MB.
    max_photo_mb: float = 10.0
    # Photos per inspection (the request size limit is this many photos plus the form).
    max_photos: int = 8
    # An estate not inspected for this many days counts as overdue (the planner's overview).
    overdue_days: int = 30


@dataclass(frozen=True)
class Config:
    data_dir: Path = Path("data")  # relative to the config file (or the project root)
    layers_dir: Path = PROJECT_ROOT / "layers"
    secret_key: str = ""
    default_locale: str = "zh"
    # The date the demo figures describe; progress and status are "as of" this day.
    as_of: str = "2021-07-20"
    server: ServerConfig = field(default_factory=ServerConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    map: MapConfig = field(default_factory=MapConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    imports: ImportsConfig = field(default_factory=ImportsConfig)
    inspections: InspectionsConfig = field(default_factory=InspectionsConfig)

    @property
    def geopackage_path(self) -> Path:
        """Where the embedded store lives when no database URL is set."""
        return self.data_dir / "geo_app.gpkg"

    @property
    def photos_dir(self) -> Path:
        """Where inspection photos and their thumbnails are kept."""
        return self.data_dir / "photos"

    @property
    def store_url(self) -> str:
        """The database URL the store is opened with (GeoPackage path when none is configured)."""
        return self.database.url or f"gpkg://{self.geopackage_path}"


SECTIONS = {"server": ServerConfig, "database": DatabaseConfig, "map": MapConfig, "auth": AuthConfig,
            "imports": ImportsConfig, "inspections": InspectionsConfig}


def load_config(path: str | os.PathLike | None = None, overrides: dict | None = None,
                environ: typing.Mapping[str, str] | None = None) -> Config:
    """Build the Config from a TOML file, environment and explicit overrides (highest last).

    `path` defaults to `$GEO_APP_CONFIG`, else `config.toml` in the project root when it exists.
    Relative paths in the file are resolved against the file's directory.
    """
    environ = os.environ if environ is None else environ
    path = path or environ.get(ENV_PREFIX + "CONFIG") or _default_config_path()
    raw: dict = {}
    base_dir = PROJECT_ROOT
    if path:
        path = Path(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        base_dir = path.resolve().parent
    sources = {key: f"{path}" for key in _flat_keys(raw)}
    _apply_env(raw, sources, environ)
    for key, value in (overrides or {}).items():
        _set_dotted(raw, key, value)
        sources[key] = "override"
    return _build(raw, sources, base_dir)


def _default_config_path() -> Path | None:
    candidate = PROJECT_ROOT / "config.toml"
    return candidate if candidate.exists() else None


def _flat_keys(raw: dict, prefix: str = "") -> list[str]:
    keys = []
    for key, value in raw.items():
        if isinstance(value, dict):
            keys += _flat_keys(value, f"{prefix}{key}.")
        else:
            keys.append(prefix + key)
    return keys


def _known_keys() -> dict[str, str]:
    """Env variable name -> dotted key, for every setting."""
    names = {}
    for f in dataclasses.fields(Config):
        if f.name in SECTIONS:
            for sub in dataclasses.fields(SECTIONS[f.name]):
                names[f"{ENV_PREFIX}{f.name}_{sub.name}".upper()] = f"{f.name}.{sub.name}"
        else:
            names[f"{ENV_PREFIX}{f.name}".upper()] = f.name
    return names


def _apply_env(raw: dict, sources: dict, environ: typing.Mapping[str, str]) -> None:
    for env_name, dotted in _known_keys().items():
        if env_name in environ:
            _set_dotted(raw, dotted, environ[env_name])
            sources[dotted] = f"environment variable {env_name}"


def _set_dotted(raw: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def _build(raw: dict, sources: dict, base_dir: Path) -> Config:
    values = {}
    for f in dataclasses.fields(Config):
        if f.name in SECTIONS:
            section = raw.get(f.name, {})
            if not isinstance(section, dict):
                raise ConfigError(f"[{f.name}] must be a table ({sources.get(f.name, 'config')})")
            values[f.name] = _build_section(f.name, SECTIONS[f.name], section, sources)
        elif f.name in raw:
            values[f.name] = _coerce(f.name, f.type, raw[f.name], sources)
    _reject_unknown(raw, sources)
    config = Config(**values)
    config = dataclasses.replace(
        config,
        data_dir=_resolve(config.data_dir, base_dir),
        layers_dir=_resolve(config.layers_dir, base_dir),
    )
    _validate(config, sources)
    return config


def _build_section(name: str, cls, section: dict, sources: dict):
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in section:
            values[f.name] = _coerce(f"{name}.{f.name}", f.type, section[f.name], sources)
    return cls(**values)


def _reject_unknown(raw: dict, sources: dict) -> None:
    known = set(_known_keys().values())
    for key in _flat_keys(raw):
        if key not in known:
            raise ConfigError(f"unknown setting '{key}' ({sources.get(key, 'config')}); "
                              f"known settings: {', '.join(sorted(known))}")


def _coerce(key: str, type_name, value, sources: dict):
    """Turn a TOML or env value into the declared type, or say which key is wrong."""
    where = sources.get(key, "config")
    type_name = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", str(type_name))
    try:
        if type_name == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if type_name == "float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if type_name == "bool":
            return _boolean(value)
        if type_name == "Path":
            return Path(str(value))
        if not isinstance(value, str):
            raise ValueError
        return value
    except (TypeError, ValueError):
        raise ConfigError(f"setting '{key}' ({where}) must be of type {type_name}, got {value!r}") from None


def _boolean(value) -> bool:
    """TOML booleans, or the words an environment variable carries."""
    if isinstance(value, bool):
        return value
    words = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}
    if isinstance(value, str) and value.strip().lower() in words:
        return words[value.strip().lower()]
    raise ValueError


def _resolve(path: Path, base_dir: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else (base_dir / path).resolve()


def _validate(config: Config, sources: dict) -> None:
    def fail(key: str, message: str):
        raise ConfigError(f"setting '{key}' ({sources.get(key, 'default')}): {message}")

    if not 1 <= config.server.port <= 65535:
        fail("server.port", f"must be a TCP port between 1 and 65535, got {config.server.port}")
    url = config.database.url
    if url and not url.startswith(("postgresql://", "postgres://", "gpkg://")):
        fail("database.url", "must start with postgresql:// (PostGIS) or gpkg:// (GeoPackage file), "
                             f"or be empty for the embedded GeoPackage; got {url!r}")
    if config.default_locale not in ("zh", "en"):
        fail("default_locale", f"must be 'zh' or 'en', got {config.default_locale!r}")
    if not (-180 <= config.map.center_lon <= 180 and -90 <= config.map.center_lat <= 90):
        fail("map.center_lon", "map centre must be WGS84 longitude/latitude in degrees")
    if config.map.default_basemap not in ("osm", "tianditu_vec", "tianditu_img", "amap", "amap_img", "none"):
        fail("map.default_basemap", "must be one of osm, tianditu_vec, tianditu_img, amap, amap_img, none; "
                                    f"got {config.map.default_basemap!r}")
    if not 0 <= config.map.zoom <= 22:
        fail("map.zoom", f"must be between 0 and 22, got {config.map.zoom}")
    if config.server.proxies < 0:
        fail("server.proxies", f"must be 0 or more, got {config.server.proxies}")
    if config.auth.secure_cookies not in ("auto", "always", "never"):
        fail("auth.secure_cookies", f"must be auto, always or never; got {config.auth.secure_cookies!r}")
    for key in ("session_hours", "login_failures_per_user", "login_failures_per_address", "lockout_seconds"):
        if getattr(config.auth, key) < 1:
            fail(f"auth.{key}", f"must be 1 or more, got {getattr(config.auth, key)}")
    if config.imports.max_upload_mb < 1 or config.imports.max_unpacked_mb < config.imports.max_upload_mb:
        fail("imports.max_unpacked_mb", "max_upload_mb must be at least 1 and max_unpacked_mb at least "
                                        "max_upload_mb")
    if not 0 <= config.imports.max_overlap_share <= 1:
        fail("imports.max_overlap_share", f"must be between 0 and 1, got {config.imports.max_overlap_share}")
    if config.imports.max_km_outside_district < 0:
        fail("imports.max_km_outside_district",
             f"must be 0 (off) or more, got {config.imports.max_km_outside_district}")
    if not 0 <= config.imports.max_repair_area_change <= 1:
        fail("imports.max_repair_area_change",
             f"must be between 0 and 1, got {config.imports.max_repair_area_change}")
    if not 0 < config.inspections.max_photo_mb <= 100:
        fail("inspections.max_photo_mb", f"must be more than 0 and at most 100, got {config.inspections.max_photo_mb}")
    for key in ("max_photos", "overdue_days"):
        if getattr(config.inspections, key) < 1:
            fail(f"inspections.{key}", f"must be 1 or more, got {getattr(config.inspections, key)}")
    if not config.layers_dir.is_dir():
        fail("layers_dir", f"folder not found: {config.layers_dir}")


def effective_secret_key(config: Config) -> tuple[str, bool]:
    """The Flask secret key, and whether it was generated because none was configured.

    A generated key lasts one process: fine for a demo, wrong for several workers, hence the flag
    the caller logs as a warning.
    """
    if config.secret_key:
        return config.secret_key, False
    return secrets.token_hex(32), True
