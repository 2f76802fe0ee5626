"""JSON responses for the data APIs: compact, gzip-compressed when the client accepts it, and
cached by ETag on the store revision (any write anywhere changes every ETag).

The same request against the same revision always yields the same body, so the ETag names the
body: a client holding it gets a 304 before any query runs, and the encoded body itself is kept
(per app, for the current revision only, bounded in bytes) so that the next client asking for it
does not pay for the query, the GeoJSON encoding and the compression again.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from collections import OrderedDict

from flask import Response, current_app, request

from .downloads import content_disposition

# Below this size compression costs more than it saves.
_GZIP_MIN_BYTES = 1024
# Encoded bodies kept per app: 20,000 estates' map view is about 1.5 MB gzipped.
CACHE_MAX_BYTES = 64 * 1024 * 1024


class BodyCache:
    """Encoded response bodies by ETag, for one store revision at a time, least recently used out."""

    def __init__(self, max_bytes: int = CACHE_MAX_BYTES):
        self.max_bytes = max_bytes
        self._bodies: OrderedDict[str, tuple[bytes, bool]] = OrderedDict()
        self._revision: int | None = None
        self._size = 0
        self._lock = threading.Lock()

    def get(self, revision: int, etag: str) -> tuple[bytes, bool] | None:
        """(body, gzipped) when this revision's body for the ETag is kept."""
        with self._lock:
            if revision != self._revision or etag not in self._bodies:
                return None
            self._bodies.move_to_end(etag)
            return self._bodies[etag]

    def put(self, revision: int, etag: str, body: bytes, gzipped: bool) -> None:
        if len(body) > self.max_bytes:
            return
        with self._lock:
            if revision != self._revision:
                self._bodies.clear()  # another revision: every kept body is stale (as pages.MapCache)
                self._revision, self._size = revision, 0
            if etag in self._bodies:
                return
            self._bodies[etag] = (body, gzipped)
            self._size += len(body)
            while self._size > self.max_bytes:
                _, (old, _) = self._bodies.popitem(last=False)
                self._size -= len(old)


def _cache() -> BodyCache:
    cache = current_app.extensions.get("geo_app.body_cache")
    if cache is None:
        cache = current_app.extensions.setdefault("geo_app.body_cache", BodyCache())
    return cache


def json_response(payload, *, revision: int | None = None, mimetype: str = "application/json",
                  filename: str | None = None) -> Response:
    """Answer 304 when the client's copy is current, else the kept body, else encode and compress.

    `payload` may be a callable returning it, so that a 304 or a kept body skips building it; read
    `revision` *before* the data the payload is built from.
    """
    etag = None
    kept = None
    if revision is not None:
        etag = hashlib.sha1(f"{revision}|{request.full_path}".encode()).hexdigest()
        if etag in request.if_none_match:
            response = Response(status=304)
            response.set_etag(etag)
            return response
        kept = _cache().get(revision, etag)
    if kept is None:
        if callable(payload):
            payload = payload()
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        # Kept bodies are kept gzipped (and inflated for the rare client without gzip).
        gzipped = len(body) >= _GZIP_MIN_BYTES and (etag is not None or "gzip" in request.accept_encodings)
        if gzipped:
            body = gzip.compress(body, compresslevel=5)
        if etag is not None:
            _cache().put(revision, etag, body, gzipped)
    else:
        body, gzipped = kept
    response = Response(mimetype=mimetype)
    if gzipped:
        if "gzip" in request.accept_encodings:
            response.headers["Content-Encoding"] = "gzip"
        else:
            body = gzip.decompress(body)
    response.headers["Vary"] = "Accept-Encoding"
    response.set_data(body)
    if etag:
        response.set_etag(etag)
        response.cache_control.no_cache = True  # revalidate each time; 304s are cheap
    if filename:
        response.headers["Content-Disposition"] = content_disposition(filename)
    return response
