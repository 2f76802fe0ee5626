"""Gzip for the text files the pages load (/static, /vendor): Leaflet, Chart.js, CSS, our JS.

A page's scripts and styles are ~2/3 smaller gzipped. Each file is compressed once per version
(keyed by its ETag) and kept, so serving it costs a dictionary lookup.
"""

from __future__ import annotations

import gzip
import threading

from flask import request

COMPRESSIBLE = {"text/css", "text/javascript", "application/javascript", "application/json", "image/svg+xml",
                "text/plain"}
_MIN_BYTES = 1024
_MAX_BYTES = 8 * 1024 * 1024

_cache: dict[tuple, bytes] = {}
_lock = threading.Lock()


def compress_assets(response):
    """after_request hook: gzip a whole 200 answer under /static or /vendor when the client takes it."""
    if (response.status_code != 200 or not request.path.startswith(("/static/", "/vendor/"))
            or response.mimetype not in COMPRESSIBLE or "Content-Encoding" in response.headers
            or "gzip" not in request.accept_encodings):
        return response
    etag, _weak = response.get_etag()
    response.direct_passthrough = False  # files are streamed by default; we need the bytes
    body = response.get_data()
    if not _MIN_BYTES <= len(body) <= _MAX_BYTES:
        return response
    key = (request.path, etag or len(body))
    with _lock:
        packed = _cache.get(key)
    if packed is None:
        packed = gzip.compress(body, compresslevel=6)
        with _lock:
            _cache[key] = packed
    response.set_data(packed)
    response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    if etag:
        response.set_etag(f"{etag}-gz")  # a different body needs a different validator
    return response
