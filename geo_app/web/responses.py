"""JSON responses for the data APIs: compact, gzip-compressed when the client accepts it, and
cached by ETag on the store revision (any write anywhere changes every ETag)."""

from __future__ import annotations

import gzip
import hashlib
import json

from flask import Response, request

# Below this size compression costs more than it saves.
_GZIP_MIN_BYTES = 1024


def json_response(payload, *, revision: int | None = None, mimetype: str = "application/json",
                  filename: str | None = None) -> Response:
    """Encode once, compress if worthwhile, and answer 304 when the client's copy is current."""
    etag = None
    if revision is not None:
        # The same request against the same revision always yields the same body.
        etag = hashlib.sha1(f"{revision}|{request.full_path}".encode()).hexdigest()
        if etag in request.if_none_match:
            response = Response(status=304)
            response.set_etag(etag)
            return response
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    response = Response(mimetype=mimetype)
    if len(body) >= _GZIP_MIN_BYTES and "gzip" in request.accept_encodings:
        body = gzip.compress(body, compresslevel=5)
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    response.set_data(body)
    if etag:
        response.set_etag(etag)
        response.cache_control.no_cache = True  # revalidate each time; 304s are cheap
    if filename:
        from .downloads import content_disposition

        response.headers["Content-Disposition"] = content_disposition(filename)
    return response
