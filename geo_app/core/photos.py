"""Inspection photos on disk: checked by content, stored under generated names, with thumbnails.

A photo is accepted only when Pillow recognises its bytes as JPEG, PNG or WebP (the name and the
browser's Content-Type are the sender's claims, not facts) and it is no larger than the limit.
Files are named by a random id, never by the sender's file name, so no upload can choose where it
lands. Beside each photo: a JPEG thumbnail (~320 px, turned upright by its EXIF orientation, as a
phone photo is usually stored sideways) and a small JSON with what was read from it (format,
size, EXIF GPS position). Every file is written to a temporary name and renamed, so a reader never
sees half a file.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import GeoAppError, InvalidParameter, NotFound

FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp")}
THUMBNAIL_PX = 320
PHOTO_ID = re.compile(r"^[0-9a-f]{32}$")
# A decompression bomb (a tiny file that unpacks to gigapixels) is refused before it is decoded.
MAX_PIXELS = 80_000_000
_GPS_IFD = 0x8825


class PhotoTooLarge(GeoAppError):
    """A photo above the size limit (413, like a request over Flask's limit)."""

    status = 413
    code = "PayloadTooLarge"


@dataclass(frozen=True)
class PhotoInfo:
    """What is known of a stored photo; `lon`/`lat` come from its EXIF GPS tags when present."""

    id: str
    format: str
    media_type: str
    width: int
    height: int
    bytes: int
    lon: float | None = None
    lat: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class PhotoStore:
    """Photos of inspections in one folder (`data_dir/photos`)."""

    def __init__(self, folder: Path, max_bytes: int):
        self.folder = Path(folder)
        self.max_bytes = max_bytes

    def save(self, data: bytes, filename: str = "") -> PhotoInfo:
        """Check and store one upload; InvalidParameter / PhotoTooLarge name the file and the reason."""
        label = _display_name(filename)
        if len(data) > self.max_bytes:
            raise PhotoTooLarge(f"photo {label} is {len(data) / 1e6:.1f} MB; the limit is "
                                f"{self.max_bytes / 1e6:g} MB per photo", parameter="photos")
        image = _open_checked(data, label)
        photo_id = secrets.token_hex(16)
        ext, media_type = FORMATS[image.format]
        info = PhotoInfo(photo_id, image.format, media_type, image.width, image.height, len(data),
                         *_gps_position(image))
        self.folder.mkdir(parents=True, exist_ok=True)
        _write_atomic(self.folder / f"{photo_id}.{ext}", data)
        _write_atomic(self.folder / f"{photo_id}.thumb.jpg", _thumbnail(image))
        _write_atomic(self.folder / f"{photo_id}.json", json.dumps(info.to_dict()).encode())
        return info

    def info(self, photo_id: str) -> PhotoInfo:
        """The stored photo's facts; NotFound for an unknown or malformed id."""
        path = self.folder / f"{_checked_id(photo_id)}.json"
        try:
            return PhotoInfo(**json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise NotFound(f"no photo {photo_id}") from None

    def find(self, photo_id: str) -> PhotoInfo | None:
        """The stored photo's facts, or None when it is not (or no longer) there."""
        try:
            return self.info(photo_id)
        except NotFound:
            return None

    def path(self, photo_id: str, thumbnail: bool = False) -> Path:
        """The file to serve: the photo itself or its JPEG thumbnail."""
        info = self.info(photo_id)
        if thumbnail:
            return self.folder / f"{info.id}.thumb.jpg"
        return self.folder / f"{info.id}.{FORMATS[info.format][0]}"

    def delete(self, photo_ids) -> None:
        """Remove photos (those of a submission that was not stored, so none is left orphaned)."""
        for photo_id in photo_ids:
            info = self.info(photo_id)
            for name in (f"{info.id}.{FORMATS[info.format][0]}", f"{info.id}.thumb.jpg", f"{info.id}.json"):
                (self.folder / name).unlink(missing_ok=True)


def _display_name(filename: str) -> str:
    # Only for messages: shortened, and never used as a path.
    name = os.path.basename(filename or "").strip()[:80]
    return f"'{name}'" if name else "(unnamed)"


def _checked_id(photo_id: str) -> str:
    if not PHOTO_ID.fullmatch(photo_id or ""):
        raise NotFound(f"no photo {str(photo_id)[:40]!r}")
    return photo_id


def _open_checked(data: bytes, label: str) -> Image.Image:
    """The image, once Pillow has verified it is a whole JPEG/PNG/WebP of sane dimensions."""
    allowed = ", ".join(FORMATS)
    try:
        probe = Image.open(io.BytesIO(data), formats=list(FORMATS))
        if probe.width * probe.height > MAX_PIXELS:
            raise InvalidParameter(f"photo {label} is {probe.width}x{probe.height} pixels; at most "
                                   f"{MAX_PIXELS // 1_000_000} megapixels are accepted", parameter="photos")
        probe.verify()  # checks the file's structure; the image cannot be used after it
        image = Image.open(io.BytesIO(data), formats=list(FORMATS))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise InvalidParameter(f"photo {label} is not a readable image; accepted formats: {allowed}",
                               parameter="photos") from None
    return image


def _thumbnail(image: Image.Image) -> bytes:
    upright = ImageOps.exif_transpose(image)  # a copy, turned as the camera meant it
    upright.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    if upright.mode not in ("RGB", "L"):
        upright = upright.convert("RGBA")
        background = Image.new("RGB", upright.size, "white")  # transparent PNG/WebP on white
        background.paste(upright, mask=upright.getchannel("A"))
        upright = background
    out = io.BytesIO()
    upright.save(out, "JPEG", quality=80)
    return out.getvalue()


def _gps_position(image: Image.Image) -> tuple[float | None, float | None]:
    """(lon, lat) in WGS84 degrees from the EXIF GPS tags, or (None, None) when absent or broken."""
    try:
        gps = image.getexif().get_ifd(_GPS_IFD)
        lat = _degrees(gps[2], gps.get(1, "N"), "S")
        lon = _degrees(gps[4], gps.get(3, "E"), "W")
    except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError):
        return None, None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90) or (lon == 0 and lat == 0):
        return None, None  # a camera without a fix writes zeros
    return round(lon, 7), round(lat, 7)


def _degrees(dms, ref, negative_ref: str) -> float:
    d, m, s = (float(v) for v in dms)
    value = d + m / 60 + s / 3600
    ref = ref.decode() if isinstance(ref, bytes) else str(ref)
    return -value if ref.strip().upper() == negative_ref else value


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
