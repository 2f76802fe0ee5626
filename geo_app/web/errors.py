"""Errors to responses: JSON under /api, a friendly page elsewhere; never a stack trace."""

from __future__ import annotations

import logging

from flask import jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from ..errors import GeoAppError

log = logging.getLogger(__name__)


def wants_json() -> bool:
    """Whether the request is to an API, which answers in JSON rather than with a page."""
    return request.path.startswith(("/api/", "/ogcapi"))


def _respond(status: int, body: dict):
    if wants_json():
        return jsonify(body), status
    return render_template("error.html", status=status, message=body["description"]), status


def handle_app_error(exc: GeoAppError):
    if exc.status >= 500:
        log.error("%s: %s", exc.code, exc.message)
    return _respond(exc.status, exc.to_dict())


def handle_http_error(exc: HTTPException):
    return _respond(exc.code or 500, {"code": exc.name.replace(" ", ""), "description": exc.description})


def handle_unexpected(exc: Exception):
    log.exception("unhandled error on %s", request.path)
    return _respond(500, {"code": "InternalServerError", "description": "internal server error"})


def init_app(app) -> None:
    app.register_error_handler(GeoAppError, handle_app_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
