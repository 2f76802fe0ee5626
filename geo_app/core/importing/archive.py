"""Unpacking uploaded archives (zipped Shapefiles, KMZ) without trusting anything inside them.

Every member name and size is checked before a byte is extracted: absolute paths, `..`, drive
letters and links are refused (zip-slip), as are archives that declare more than the configured
total or compress suspiciously well (zip-bomb); extraction then counts the bytes really written,
since a declared size can lie. Files land in a private temporary directory under names we generate
(`f0.shp`, `f0.dbf`, …): no name from the archive is ever used as a path on disk.
"""

from __future__ import annotations

import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .report import ImportRefused

# Members we extract; anything else (readme, __MACOSX, .qmd, .sbn) is skipped.
KEPT_SUFFIXES = {".shp", ".shx", ".dbf", ".prj", ".cpg", ".geojson", ".json", ".gpkg", ".kml",
                 ".csv", ".xlsx"}
MAX_MEMBERS = 10_000
MAX_RATIO = 200  # uncompressed/compressed; text compresses ~10x, DBF padding up to ~100x
_CHUNK = 1 << 20


MB = 1024 * 1024  # the unit of imports.max_upload_mb / max_unpacked_mb, and of every message about them


@dataclass(frozen=True)
class Limits:
    """Size limits in bytes: the upload itself and what an archive may unpack to."""

    max_upload: int = 200 * MB
    max_unpacked: int = 2000 * MB


class Workspace:
    """A private temporary directory for one import, removed with everything in it on exit."""

    def __init__(self, parent: Path | None = None):
        self.parent = parent
        self.path: Path | None = None
        self._counter = 0

    def __enter__(self) -> "Workspace":
        if self.parent is not None:
            self.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix="geo_app_import_", dir=self.parent))  # mode 0700
        return self

    def __exit__(self, *exc) -> None:
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)

    def new_stem(self) -> str:
        """A fresh generated file stem inside the workspace."""
        self._counter += 1
        return f"f{self._counter}"


def _unsafe_reason(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "an absolute or Windows path"
    if any(part == ".." for part in PurePosixPath(name).parts):
        return "a '..' component"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return None


def check_members(archive: zipfile.ZipFile, label: str, limits: Limits) -> list[zipfile.ZipInfo]:
    """The members worth extracting, after refusing the archive if any member is unsafe."""
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise ImportRefused(f"{label}: the archive holds {len(members):,} entries (at most {MAX_MEMBERS:,})")
    for info in members:
        reason = _unsafe_reason(info)
        if reason:
            raise ImportRefused(f"{label}: refused: member '{info.filename}' has {reason} (unsafe archive)")
    total = sum(info.file_size for info in members)
    if total > limits.max_unpacked:
        raise ImportRefused(f"{label}: refused: the archive declares {total / MB:,.0f} MB unpacked, "
                            f"more than the limit of {limits.max_unpacked / MB:,.0f} MB")
    for info in members:
        if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise ImportRefused(f"{label}: refused: member '{info.filename}' would unpack "
                                f"{info.file_size / max(info.compress_size, 1):,.0f}x its packed size (zip bomb?)")
    return [m for m in members if not m.is_dir() and PurePosixPath(m.filename).suffix.lower() in KEPT_SUFFIXES
            and not PurePosixPath(m.filename).parts[0].startswith("__MACOSX")]


def unpack(path: Path, label: str, workspace: Workspace, limits: Limits) -> list[Path]:
    """Extract the useful members of a zip/KMZ into the workspace under generated names.

    Members that belong together (a Shapefile's .shp/.dbf/.prj/.cpg) keep a common generated stem.
    KMZ's `doc.kml` and other members keep only their (lower-cased) suffix.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportRefused(f"{label}: not a readable zip archive ({exc})") from None
    with archive:
        members = check_members(archive, label, limits)
        stems: dict[str, str] = {}
        written, budget = [], limits.max_unpacked
        for info in members:
            source = PurePosixPath(info.filename)
            key = str(source.with_suffix("")).lower()
            stem = stems.setdefault(key, workspace.new_stem())
            target = workspace.path / f"{stem}{source.suffix.lower()}"
            budget -= _extract(archive, info, target, label, budget)
            written.append(target)
    return written


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, label: str, budget: int) -> int:
    """Copy one member, refusing it once it writes more than it declared or than the budget."""
    limit = min(info.file_size, budget)
    size = 0
    try:
        with archive.open(info) as src, open(target, "xb") as dst:
            while chunk := src.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise ImportRefused(f"{label}: refused: member '{info.filename}' unpacks to more than "
                                        "it declares or than the size limit (zip bomb?)")
                dst.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise ImportRefused(f"{label}: member '{info.filename}' cannot be read ({exc})") from None
    return size
