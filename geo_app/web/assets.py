"""Front-end libraries served by the app at /vendor/<package>/<path>, never from a CDN.

The files are the npm packages locked in package-lock.json, installed into node_modules/ by
`geo-app assets` (see geo_app/frontend.py). Nothing is installed here: when they are missing the
route answers 404 and the log says what to run.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, send_from_directory, url_for

from .. import frontend
from ..config import PROJECT_ROOT

log = logging.getLogger(__name__)

# A year: every URL carries the package's locked version (?v=…), so an upgrade changes the URL.
MAX_AGE = 365 * 24 * 3600

bp = Blueprint("vendor", __name__)


def _packages() -> dict[str, str]:
    return current_app.extensions["geo_app.vendor_packages"]


@bp.route("/vendor/<path:filename>")
def vendor_file(filename: str):
    package, path = frontend.split_package(filename)
    if package not in _packages() or not path:
        abort(404)
    folder = frontend.modules_dir(PROJECT_ROOT) / package
    if not folder.is_dir():
        log.warning("front-end package %s is not installed: run `geo-app assets`", package)
        abort(404)
    # send_from_directory refuses any path that leaves `folder` (../, absolute paths).
    response = send_from_directory(folder, path, max_age=MAX_AGE)
    response.cache_control.public = True
    return response


def asset_url(path: str) -> str:
    """URL of a file given as a path under node_modules/ ("leaflet/dist/leaflet.js")."""
    package, _ = frontend.split_package(path)
    version = _packages().get(package)
    return url_for("vendor.vendor_file", filename=path, **({"v": version} if version else {}))


def vendor_url(package: str, path: str) -> str:
    """URL of one file of an npm package, for templates and map builders:
    `vendor_url("leaflet", "dist/leaflet.js")`."""
    return asset_url(f"{package}/{path}")


def localise(element):
    """Point a Folium element (a Map or plugin, with what was added to it) at the served files."""
    return frontend.localise(element, asset_url)


def init_app(app) -> None:
    """Register the route; read the lock's package list once (a file read, no npm)."""
    app.extensions["geo_app.vendor_packages"] = frontend.locked_packages(PROJECT_ROOT)
    if not frontend.modules_dir(PROJECT_ROOT).is_dir():
        log.warning("front-end libraries are not installed (%s missing): run `geo-app assets`",
                    frontend.modules_dir(PROJECT_ROOT))
    app.register_blueprint(bp)
    app.jinja_env.globals["vendor_url"] = vendor_url
