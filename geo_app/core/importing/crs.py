"""The coordinate system of an imported file: from the file, else declared, never guessed.

Declared systems: WGS84 (EPSG:4326), CGCS2000 geographic (EPSG:4490, treated as WGS84), the
CGCS2000 Gauss-Kruger zones EPSG:4491–4554 (3° and 6°, with or without the zone number in front of
the easting), GCJ-02 (Amap/Tencent) and BD-09 (Baidu). A Gauss-Kruger file whose eastings carry
the zone prefix while the declared code has none (or the reverse) is read with the matching code
and the report says so; a prefix naming another zone is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyproj import CRS
from pyproj.exceptions import CRSError

from ..geodesy import bd09_to_wgs84, gcj02_to_wgs84, names_gcj02, transform_geometry, transformer
from .report import ImportRefused

GEOGRAPHIC_EPSG = {4326, 4490}
GK_EPSG = range(4491, 4555)
_ALIASES = {"wgs84": "EPSG:4326", "wgs-84": "EPSG:4326", "cgcs2000": "EPSG:4490", "crs84": "EPSG:4326"}
_GCJ = {"gcj02", "gcj-02", "gcj", "amap", "gaode"}
_BD = {"bd09", "bd-09", "baidu"}
SUPPORTED = "EPSG:4326 (WGS84), EPSG:4490 (CGCS2000), EPSG:4491–4554 (CGCS2000 Gauss-Kruger), gcj02, bd09"


@dataclass(frozen=True)
class SourceCrs:
    """How the file's coordinates are to be read: `kind` is "crs", "gcj02" or "bd09"."""

    kind: str
    crs: CRS | None
    label: str
    from_file: bool = False

    @property
    def geographic(self) -> bool:
        """Whether coordinates are degrees (lon, lat), as opposed to projected metres."""
        return self.kind != "crs" or self.crs.is_geographic

    @property
    def epsg(self) -> int | None:
        return self.crs.to_epsg() if self.crs is not None else None


@dataclass(frozen=True)
class GaussKruger:
    """A CGCS2000 Gauss-Kruger EPSG code: zone width, zone number, central meridian, prefix."""

    epsg: int
    width: int
    zone: int
    central_meridian: int
    prefixed: bool

    @property
    def counterpart(self) -> int:
        """The same zone's code with the zone prefix if this has none, and vice versa."""
        if self.width == 6:
            return self.epsg + 11 if self.prefixed else self.epsg - 11
        return self.epsg + 21 if self.prefixed else self.epsg - 21


def gauss_kruger(epsg: int | None) -> GaussKruger | None:
    """The zone described by a CGCS2000 Gauss-Kruger code (EPSG:4491–4554), else None."""
    if epsg is None or epsg not in GK_EPSG:
        return None
    if epsg <= 4501:  # 6° zones 13–23, zone number prefixed to the easting
        zone = epsg - 4491 + 13
        return GaussKruger(epsg, 6, zone, zone * 6 - 3, True)
    if epsg <= 4512:  # 6°, CM 75°E–135°E, no prefix
        cm = 75 + (epsg - 4502) * 6
        return GaussKruger(epsg, 6, (cm + 3) // 6, cm, False)
    if epsg <= 4533:  # 3° zones 25–45, prefixed
        zone = epsg - 4513 + 25
        return GaussKruger(epsg, 3, zone, zone * 3, True)
    cm = 75 + (epsg - 4534) * 3  # 3°, CM 75°E–135°E, no prefix
    return GaussKruger(epsg, 3, cm // 3, cm, False)


def zone_code_for_prefix(prefix: int) -> int | None:
    """The prefixed Gauss-Kruger code a zone number in front of eastings points to (a hint only)."""
    if 25 <= prefix <= 45:
        return 4513 + prefix - 25
    if 13 <= prefix <= 23:
        return 4491 + prefix - 13
    return None


def parse_declared(text: str) -> SourceCrs:
    """A user's `--crs` value: EPSG:NNNN (or NNNN), wgs84, cgcs2000, gcj02 or bd09."""
    raw = text.strip()
    key = raw.lower()
    if key in _GCJ:
        return SourceCrs("gcj02", None, "GCJ-02 (declared)")
    if key in _BD:
        return SourceCrs("bd09", None, "BD-09 (declared)")
    code = _ALIASES.get(key, raw.upper() if raw.upper().startswith("EPSG:") else f"EPSG:{raw}")
    try:
        epsg = int(code.split(":", 1)[1])
    except ValueError:
        raise ImportRefused(f"coordinate system {text!r} not understood; supported: {SUPPORTED}") from None
    if epsg not in GEOGRAPHIC_EPSG and epsg not in GK_EPSG:
        raise ImportRefused(f"coordinate system {code} is not supported; supported: {SUPPORTED}")
    crs = CRS.from_epsg(epsg)
    return SourceCrs("crs", crs, f"EPSG:{epsg} {crs.name} (declared)")


def from_file(wkt_or_code: str | None) -> SourceCrs | None:
    """The CRS a file states (.prj, GeoPackage srs, GeoJSON/KML's WGS84), or None if it states none."""
    if not wkt_or_code:
        return None
    if names_gcj02(wkt_or_code):  # GCJ-02 has no EPSG code; our exports and some tools name it
        return SourceCrs("gcj02", None, "GCJ-02 (from the file)", from_file=True)
    try:
        crs = CRS.from_user_input(wkt_or_code)
    except CRSError as exc:
        raise ImportRefused(f"the file's coordinate system cannot be read ({exc}); declare one with --crs") from None
    epsg = crs.to_epsg(min_confidence=70)
    if epsg is not None:
        crs = CRS.from_epsg(epsg)
    name = f"EPSG:{epsg} {crs.name}" if epsg else crs.name
    return SourceCrs("crs", crs, f"{name} (from the file)", from_file=True)


def choose(file_crs: SourceCrs | None, declared: SourceCrs | None, label: str) -> SourceCrs:
    """The file's CRS unless one is declared; a declaration contradicting the file is refused.

    GCJ-02 / BD-09 may be declared over a file that says WGS84: GeoJSON and KML always "say" WGS84,
    and an Amap-digitised file is numerically lon/lat in that sense. A file that says GCJ-02 (our
    GCJ-02 exports do) is read as GCJ-02; declaring anything else over it is refused.
    """
    if declared is None:
        if file_crs is None:
            raise ImportRefused(f"{label}: the file names no coordinate system (no .prj / srs); declare it "
                                f"with --crs ({SUPPORTED}) — it is never guessed")
        return file_crs
    if file_crs is None:
        return declared
    if file_crs.kind != "crs":
        if declared.kind == file_crs.kind:
            return declared
    elif declared.kind != "crs":
        if file_crs.crs.is_geographic:
            return declared
    elif declared.crs.is_geographic and file_crs.crs.is_geographic:
        return declared  # WGS84 and CGCS2000 are the same to a metre here
    elif declared.epsg == file_crs.epsg or _same_zone(declared.epsg, file_crs.epsg):
        return declared
    raise ImportRefused(f"{label}: the file says its coordinates are {file_crs.label}, but {declared.label} "
                        "was declared; fix the declaration or the file's .prj")


def _same_zone(a: int | None, b: int | None) -> bool:
    za, zb = gauss_kruger(a), gauss_kruger(b)
    return za is not None and zb is not None and za.counterpart == zb.epsg


def to_wgs84(geoms: np.ndarray, source: SourceCrs) -> np.ndarray:
    """Geometries in the source CRS -> WGS84 lon/lat (CGCS2000 geographic taken as equal)."""
    if source.kind == "gcj02":
        return transform_geometry(geoms, gcj02_to_wgs84)
    if source.kind == "bd09":
        return transform_geometry(geoms, bd09_to_wgs84)
    if source.crs.is_geographic and source.epsg in GEOGRAPHIC_EPSG:
        return geoms
    return transform_geometry(geoms, transformer(source.crs.to_wkt(), "EPSG:4326").transform)
