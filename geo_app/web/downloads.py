"""File-download headers that keep Chinese file names intact (RFC 6266 / RFC 5987)."""

from __future__ import annotations

import re
from urllib.parse import quote


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the UTF-8 name in `filename*`."""
    fallback = re.sub(r"[^A-Za-z0-9._-]+", "_", filename).strip("_") or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
