"""The Flask application factory. Nothing happens at import time; `create_app()` wires it all."""

from __future__ import annotations

import logging

from flask import Flask, current_app, request

from .config import PROJECT_ROOT, Config, effective_secret_key, load_config
from .core.clock import local_text
from .layers import load_layers
from .storage import open_store

log = logging.getLogger(__name__)

# The largest request body outside the uploads (a drawn polygon for /api/query, a boundary edit).
DEFAULT_MAX_BODY = 16 * 1024 * 1024


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
    app.config.update(SECRET_KEY=secret, JSON_AS_ASCII=False, GEO_APP=config,
                      # Bodies beyond this are refused (413) as they stream in; uploads get their own
                      # ceilings per request (_request_size_limit).
                      MAX_CONTENT_LENGTH=DEFAULT_MAX_BODY)
    app.json.ensure_ascii = False  # Chinese stays readable in every JSON answer
    app.json.sort_keys = False
    # Times are stored in UTC; pages show them as people read them, in Beijing time.
    app.jinja_env.filters["local_time"] = local_text
    store = open_store(config.store_url, load_layers(config.layers_dir))
    app.extensions["geo_app.store"] = store

    from .web import account_api, account_pages, api, assets, auth, compression, dashboard, editing, errors, export
    from .web import i18n, imports, inspect_pages, inspections_api, ogcapi, pages, reports, spatial_api

    # Before any other before_request function: auth's guard reads the form for its CSRF check.
    app.before_request(_request_size_limit)
    i18n.init_app(app)
    errors.init_app(app)
    assets.init_app(app)
    # Accounts, roles and CSRF: the app's one CSRFProtect is `auth.csrf`, checked by auth's guard
    # after authentication (so bearer-token calls are exempt; see geo_app/web/auth.py).
    auth.init_app(app)
    app.register_blueprint(account_pages.bp)
    app.register_blueprint(account_api.bp, url_prefix="/api")
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp, url_prefix="/api")
    app.register_blueprint(spatial_api.bp, url_prefix="/api")
    app.register_blueprint(export.bp, url_prefix="/api")
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(editing.bp)
    app.register_blueprint(editing.api, url_prefix="/api")
    app.register_blueprint(reports.bp)
    app.register_blueprint(inspections_api.bp, url_prefix="/api")
    app.register_blueprint(inspect_pages.bp)
    app.register_blueprint(ogcapi.bp, url_prefix="/ogcapi")
    app.register_blueprint(ogcapi.docs)
    app.register_blueprint(imports.bp, url_prefix="/admin/import")
    app.after_request(compression.compress_assets)
    app.after_request(_security_headers)
    return app


def _request_size_limit():
    """Each upload its own ceiling: an import archive (imports.max_upload_mb), an inspection (its
    photos); any other body stays under DEFAULT_MAX_BODY."""
    from .core.importing import MB
    from .web.inspections_api import upload_limit_bytes

    config = current_app.config["GEO_APP"]
    if request.blueprint == "imports":
        request.max_content_length = config.imports.max_upload_mb * MB
    elif request.blueprint == "inspections_api":
        request.max_content_length = upload_limit_bytes(config.inspections)


def _security_headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
