"""One error family for the whole service: each error carries an HTTP status, a code and a message.

The core raises these; the web layer turns them into JSON under /api and a page elsewhere, the CLI
prints the message and exits non-zero. Nothing here knows about Flask.
"""

from __future__ import annotations


class GeoAppError(Exception):
    """Base error: `message` is safe to show a user; `status` is the HTTP status it maps to."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, parameter: str | None = None):
        super().__init__(message)
        self.message = message
        self.parameter = parameter

    def to_dict(self) -> dict:
        """The JSON body the API answers with."""
        body = {"code": self.code, "description": self.message}
        if self.parameter:
            body["parameter"] = self.parameter
        return body


class ConfigError(GeoAppError):
    """A setting is missing or wrong; the message names the key and where it came from."""

    code = "config_error"


class InvalidParameter(GeoAppError):
    """A request parameter is malformed or out of range."""

    status = 400
    code = "InvalidParameterValue"


class NotFound(GeoAppError):
    status = 404
    code = "NotFound"


class StoreError(GeoAppError):
    """The store cannot do what was asked (schema, connection, constraint)."""

    status = 500
    code = "store_error"


class ValidationError(StoreError):
    """A feature breaks its layer's schema; the message names layer, feature and field."""

    status = 400
    code = "validation_error"


class Conflict(StoreError):
    """A write clashes with what is stored (a duplicate unique value, a concurrent change)."""

    status = 409
    code = "conflict"


class Unauthorized(GeoAppError):
    """No valid sign-in or API token where one is needed (or a wrong password)."""

    status = 401
    code = "Unauthorized"


class Forbidden(GeoAppError):
    """Signed in, but the role does not allow this."""

    status = 403
    code = "Forbidden"


class TooManyAttempts(GeoAppError):
    """Sign-in refused for a while after repeated failures; `retry_after` is in seconds."""

    status = 429
    code = "TooManyRequests"

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after
