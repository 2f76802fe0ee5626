"""Helpers for the inspection tests: signing in through the real login form, test photos."""

from __future__ import annotations

import io
import re

from PIL import Image

PASSWORD = "field-check-2021"


def add_user(app, username: str, role: str) -> None:
    app.extensions["geo_app.accounts"].add_user(username, role, PASSWORD)


def sign_in(client, username: str) -> str:
    """Sign in through /login (with its CSRF token); returns the CSRF token pages then carry."""
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get("/account").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def dms(value: float) -> tuple:
    degrees = int(value)
    minutes_float = (value - degrees) * 60
    minutes = int(minutes_float)
    return (degrees, minutes, round((minutes_float - minutes) * 60, 4))


def jpeg(width: int = 400, height: int = 200, gps: tuple[float, float] | None = None,
         orientation: int | None = None, color: str = "red") -> bytes:
    """A real JPEG, optionally with EXIF GPS (lon, lat) and an EXIF orientation."""
    image = Image.new("RGB", (width, height), color)
    image.paste(Image.new("RGB", (width // 4, height // 4), "blue"), (0, 0))  # a corner to tell rotation
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    if gps:
        lon, lat = gps
        exif[0x8825] = {1: "N" if lat >= 0 else "S", 2: dms(abs(lat)), 3: "E" if lon >= 0 else "W", 4: dms(abs(lon))}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


def png(width: int = 64, height: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (0, 128, 0, 128)).save(out, "PNG")
    return out.getvalue()
