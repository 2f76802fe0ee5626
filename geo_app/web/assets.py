"""Front-end libraries served by the app from installed packages, never from a CDN.

Government intranets and mainland networks often cannot reach the CDNs Folium uses by default,
so Leaflet comes from the `xstatic-leaflet` package installed with the app.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from flask import Blueprint, abort, send_from_directory, url_for

# name -> the XStatic module that ships it
PACKAGES = {"leaflet": "xstatic.pkg.leaflet"}

bp = Blueprint("vendor", __name__)


def package_dir(name: str) -> Path:
    """The folder an installed XStatic package keeps its files in."""
    return Path(importlib.import_module(PACKAGES[name]).BASE_DIR)


@bp.route("/vendor/<name>/<path:filename>")
def vendor_file(name: str, filename: str):
    if name not in PACKAGES:
        abort(404)
    return send_from_directory(package_dir(name), filename, max_age=86400)


def vendor_url(name: str, filename: str) -> str:
    """URL of a vendored file, for templates and map builders."""
    return url_for("vendor.vendor_file", name=name, filename=filename)


def init_app(app) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals["vendor_url"] = vendor_url
