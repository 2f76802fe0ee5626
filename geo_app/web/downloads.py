"""File-download headers that keep Chinese file names intact (RFC 6266 / RFC 5987)."""

from __future__ import annotations

import re
from urllib.parse import quote


def content_disposition(filename: str, ascii_fallback: str | None = None) -> str:
    """`attachment` with the UTF-8 name in `filename*` and a plain name for old clients
    (given, or the name with everything non-ASCII replaced)."""
    fallback = ascii_fallback or re.sub(r"[^A-Za-z0-9._-]+", "_", filename).strip("_") or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
