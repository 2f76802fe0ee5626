"""Which text encoding a Shapefile's attribute table (.dbf) uses.

Chinese Shapefiles come from ArcGIS and older tools in GBK (code page 936) or GB18030, from QGIS
and GDAL in UTF-8. The `.cpg` file says which when present; otherwise the DBF's language-driver
byte may; otherwise the text bytes themselves decide: valid UTF-8 with non-ASCII is UTF-8, bytes
that decode as GB18030 (a superset of GBK) are GB18030, anything else is refused with a request
to say `--encoding`, never decoded into mojibake.
"""

from __future__ import annotations

import codecs
import glob
import shutil
import struct
from pathlib import Path

from .report import ImportRefused

# DBF language driver ids that name a Chinese code page (GDAL writes 0x4D for cp936).
_CHINESE_LDIDS = {0x4D: "GBK", 0x7A: "GBK"}
_CPG_ALIASES = {"936": "GBK", "cp936": "GBK", "65001": "UTF-8", "utf8": "UTF-8", "54936": "GB18030"}


def check_encoding(name: str) -> str:
    """A user-given encoding name, checked against Python's codecs (e.g. gbk, gb18030, utf-8)."""
    try:
        return codecs.lookup(name.strip()).name
    except (LookupError, AttributeError):
        raise ImportRefused(f"unknown text encoding {name!r} (try gbk, gb18030 or utf-8)") from None


def sidecar(path: Path, suffix: str) -> Path | None:
    """The file beside `path` with another suffix, in any letter case (Windows zips vary)."""
    for candidate in path.parent.glob(glob.escape(path.stem) + ".*"):  # a name may hold [ ] * ?
        if candidate.suffix.lower() == suffix:
            return candidate
    return None


def dbf_encoding(shp: Path, label: str) -> tuple[str, str]:
    """(encoding, how it was decided) for the .dbf beside a .shp."""
    cpg = sidecar(shp, ".cpg")
    if cpg is not None:
        declared = cpg.read_text(encoding="ascii", errors="replace").strip()
        name = _CPG_ALIASES.get(declared.lower(), declared)
        try:
            codecs.lookup(name)
        except LookupError:
            raise ImportRefused(f"{label}: the .cpg names an unknown encoding {declared!r}; "
                                "give the right one with --encoding") from None
        return name, f".cpg says {declared}"
    dbf = sidecar(shp, ".dbf")
    if dbf is None:
        raise ImportRefused(f"{label}: the Shapefile has no .dbf attribute table (zip .shp, .shx, .dbf "
                            "and .prj together)")
    header = _dbf_header(dbf)
    if len(header) >= 32 and header[29] in _CHINESE_LDIDS:
        return _CHINESE_LDIDS[header[29]], "the .dbf language driver says code page 936"
    return _sniff(dbf, label)


def _sniff(dbf: Path, label: str) -> tuple[str, str]:
    data = dbf.read_bytes()
    if len(data) < 32:
        raise ImportRefused(f"{label}: the .dbf attribute table is truncated")
    header_length = struct.unpack_from("<H", data, 8)[0]
    # Field names and values are text in the same code page; the descriptors' other bytes
    # (lengths, flags) are binary and must stay out of the sample. A UTF-8 name cut mid-character
    # at the 10-byte limit is still UTF-8 (see mend_cut_field_names).
    names = [_whole_characters(name, "utf-8") or name for _at, name in _field_names(data[:header_length])]
    text = b" ".join(names) + data[header_length:]
    if text.isascii():
        return "UTF-8", "the .dbf holds only ASCII text"
    try:
        text.decode("utf-8")
        return "UTF-8", "the .dbf text is valid UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        text.decode("gb18030")
        return "GB18030", "the .dbf text is not UTF-8 but valid GB18030 (GBK)"
    except UnicodeDecodeError:
        raise ImportRefused(f"{label}: cannot tell the .dbf text encoding (neither UTF-8 nor GBK/GB18030); "
                            "say which with --encoding") from None


NAME_BYTES = 10  # a .dbf field name: at most 10 bytes of text, NUL-padded to 11


def _dbf_header(dbf: Path) -> bytes:
    """A .dbf's header: the 32-byte file header and the field descriptors (its length is in bytes
    8–9), without the records that follow."""
    with open(dbf, "rb") as f:
        header = f.read(32)
        length = struct.unpack_from("<H", header, 8)[0] if len(header) >= 10 else 0
        return header + f.read(max(0, length - 32))


def _field_names(header: bytes) -> list[tuple[int, bytes]]:
    """(offset, raw name) of each field descriptor in a .dbf header (up to its 0x0D terminator)."""
    length = struct.unpack_from("<H", header, 8)[0] if len(header) >= 10 else 0
    return [(at, header[at:at + 11].split(b"\0")[0]) for at in range(32, min(length, len(header)) - 1, 32)
            if header[at] != 0x0D]


def _whole_characters(name: bytes, encoding: str) -> bytes | None:
    """`name` without a last character cut in two (None when it decodes as it is, or when it is
    broken elsewhere: that is a wrong encoding, not a cut)."""
    try:
        name.decode(encoding)
        return None
    except UnicodeDecodeError as exc:
        if exc.end < len(name):
            return None
        try:
            name[:exc.start].decode(encoding)
        except UnicodeDecodeError:
            return None
        return name[:exc.start]


def mend_cut_field_names(shp: Path, encoding: str, copy_stem: Path) -> tuple[Path, list[str]]:
    """A Shapefile whose .dbf field names were cut to 10 bytes in the middle of a character (GDAL
    and QGIS cut 小区名称, 12 bytes in UTF-8, to 小区名 and one byte of 称), read as is, fails
    (pyogrio decodes every name strictly). Returns the .shp to read (when any name needed it, a
    copy named `copy_stem`.shp/.dbf/… whose names end at their last whole character) and those
    names, mended."""
    dbf = sidecar(shp, ".dbf")
    header = _dbf_header(dbf)
    mended = {at: whole for at, name in _field_names(header)
              if (whole := _whole_characters(name, encoding)) is not None}
    if not mended:
        return shp, []
    patched = bytearray(header)
    for at, whole in mended.items():
        patched[at:at + 11] = whole.ljust(11, b"\0")
    for part in shp.parent.glob(glob.escape(shp.stem) + ".*"):
        if part.suffix.lower() != ".dbf":
            shutil.copyfile(part, copy_stem.with_suffix(part.suffix.lower()))
    with open(dbf, "rb") as source, open(copy_stem.with_suffix(".dbf"), "wb") as target:
        source.seek(len(header))
        target.write(patched)
        shutil.copyfileobj(source, target, 1024 * 1024)
    return copy_stem.with_suffix(".shp"), [whole.decode(encoding) for whole in mended.values()]


def maybe_cut(header: str, encoding: str) -> bool:
    """Whether a .dbf field name may be a longer name cut to the format's 10 bytes."""
    try:
        return len(header.encode(encoding)) >= NAME_BYTES - 2
    except (UnicodeEncodeError, LookupError):
        return False
