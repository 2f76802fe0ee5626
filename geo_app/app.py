"""The Flask application factory. Nothing happens at import time; `create_app()` wires it all."""

from __future__ import annotations

import logging

from flask import Flask

from .config import PROJECT_ROOT, Config, effective_secret_key, load_config
from .layers import load_layers
from .storage import open_store

log = logging.getLogger(__name__)


def create_app(config: Config | dict | None = None) -> Flask:
    """Build the app for a Config (or overrides of the loaded one, as a dict of dotted keys).

    The store is opened, not touched: creating and filling it is `geo-app init` / `serve`.
    """
    if not isinstance(config, Config):
        config = load_config(overrides=config or {})
    app = Flask(__name__, static_folder=str(PROJECT_ROOT / "static"), static_url_path="/static")
    secret, generated = effective_secret_key(config)
    if generated:
        log.warning("no secret_key configured (GEO_APP_SECRET_KEY): using a random key for this process; "
                    "sessions will not survive a restart or be shared between workers")
    app.config.update(SECRET_KEY=secret, JSON_AS_ASCII=False, GEO_APP=config)
    app.json.ensure_ascii = False  # Chinese stays readable in every JSON answer
    app.json.sort_keys = False
    store = open_store(config.store_url, load_layers(config.layers_dir))
    app.extensions["geo_app.store"] = store

    from .web import api, assets, compression, dashboard, errors, export, i18n, ogcapi, pages, spatial_api

    i18n.init_app(app)
    errors.init_app(app)
    assets.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp, url_prefix="/api")
    app.register_blueprint(spatial_api.bp, url_prefix="/api")
    app.register_blueprint(export.bp, url_prefix="/api")
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(ogcapi.bp, url_prefix="/ogcapi")
    app.register_blueprint(ogcapi.docs)
    app.after_request(compression.compress_assets)
    app.after_request(_security_headers)
    return app


def _security_headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
