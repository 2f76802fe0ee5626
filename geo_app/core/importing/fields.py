"""Which source column feeds which layer field, and which spellings of a vocabulary mean which code.

Headers are recognised from the layer definition itself (field names, Chinese and English labels,
with units such as "（m²）" ignored, and field names as a Shapefile cuts them to 10 characters),
from the synonyms below (headers seen in bureau and surveying-firm files), and from an optional
TOML mapping file for the rest:

    [columns]            # source header = layer field ("" ignores the column)
    XQMC = "name"
    "备注" = ""          # non-ASCII keys are quoted in TOML
    [values.status]      # extra spellings of vocabulary codes
    "竣工" = "completed"

Vocabulary values may be given as codes or as their Chinese or English labels (已完工, 道路、绿化).
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from ...domain import VOCABULARIES
from ...layers import LayerDef
from .report import ImportRefused

SYNONYMS = {
    "code": ("编号", "小区编号", "小区代码", "代码"),
    "name": ("小区名称", "小区名", "名称", "项目名称", "小区"),
    "street_office": ("街道", "街道办", "街道办事处", "所属街道", "镇街", "街镇", "乡镇街道", "所属镇街", "街道(镇)"),
    "zone": ("片区", "所属片区"),
    "address": ("地址", "详细地址", "小区地址", "位置"),
    "year_built": ("建成年代", "建成年份", "建设年代", "建成时间", "竣工年份"),
    "buildings": ("楼栋数", "栋数", "楼栋", "楼数"),
    "households": ("户数", "总户数", "住户数", "居民户数"),
    "floor_area_m2": ("建筑面积", "总建筑面积"),
    "batch": ("改造年度", "改造年份", "改造批次", "批次", "年度"),
    "programme": ("改造项目", "项目类型"),
    "status": ("改造状态", "状态"),
    "progress_pct": ("工程进度", "进度", "完成进度", "形象进度"),
    "management": ("长效管理模式", "管理模式", "物业管理"),
}
_UNITS = re.compile(r"[(（][^)）]*[)）]")


def normalise(header: str) -> str:
    """A header reduced for matching: NFKC, no units in brackets, no spaces/underscores, lower case."""
    text = unicodedata.normalize("NFKC", str(header))
    text = _UNITS.sub("", text)
    return re.sub(r"[\s_\-]+", "", text).lower()


@dataclass
class FieldMapping:
    """Source column -> layer field, plus value spellings per vocabulary field."""

    columns: dict[str, str]  # only mapped columns
    ignored: dict[str, str] = field(default_factory=dict)  # column -> why
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # field -> spelling -> code
    id_column: str | None = None


def load_mapping_file(path: Path) -> dict:
    """The TOML mapping file's contents, checked for shape."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ImportRefused(f"mapping file {path}: cannot be read ({exc})") from None
    unknown = set(raw) - {"columns", "values"}
    if unknown:
        raise ImportRefused(f"mapping file {path}: unknown section(s) {', '.join(sorted(unknown))}; "
                            "expected [columns] and [values.<field>]")
    return raw


def _lookup(layer_def: LayerDef) -> dict[str, str]:
    table = {}
    for f in layer_def.fields:
        for spelling in (f.name, f.name[:10], f.label_zh, f.label_en, *SYNONYMS.get(f.name, ())):
            table.setdefault(normalise(spelling), f.name)
    return table


def map_columns(layer_def: LayerDef, headers: list[str], mapping_file: dict | None = None,
                is_empty=lambda header: False, label: str = "the file", cut: frozenset = frozenset()) -> FieldMapping:
    """Match headers to fields; an explicit mapping wins. Two columns for one field is refused,
    unless one of them is empty in every row (`is_empty(header)`): GDAL's KML reader adds a
    `Name` column beside the file's own 小区名称, blank where the file has no <name>. A header in
    `cut` (a Shapefile's, maybe cut to 10 bytes: 建筑面积 as 建筑面) not known as it is matches the
    one field whose known headers start with it."""
    explicit = {str(k): str(v) for k, v in (mapping_file or {}).get("columns", {}).items()}
    for header, target in explicit.items():
        if target and not layer_def.has_field(target):
            raise ImportRefused(f"mapping file: column '{header}' maps to '{target}', which layer "
                                f"'{layer_def.name}' does not have; fields: {', '.join(layer_def.field_names)}")
    lookup = _lookup(layer_def)
    result = FieldMapping(columns={})
    for header in headers:
        target = explicit[header] if header in explicit else lookup.get(normalise(header))
        if target is None and header in cut and header not in explicit:
            target = _by_prefix(lookup, normalise(header))
        if normalise(header) in ("id", "fid") and header not in explicit:
            result.id_column = header
            result.ignored[header] = "feature id (used by --mode upsert-id)"
        elif not target:
            result.ignored[header] = "ignored by the mapping file" if header in explicit else "not recognised"
        elif layer_def.field(target).computed:
            result.ignored[header] = f"'{target}' is computed by the store"
        elif target in result.columns.values():
            other = next(h for h, t in result.columns.items() if t == target)
            if is_empty(header):
                result.ignored[header] = f"empty; field '{target}' comes from column '{other}'"
            elif is_empty(other):
                del result.columns[other]
                result.ignored[other] = f"empty; field '{target}' comes from column '{header}'"
                result.columns[header] = target
            else:
                raise ImportRefused(f"{label}: columns '{other}' and '{header}' both map to field '{target}'; "
                                    "say which one in a mapping file ([columns] 'header' = \"\" ignores one)")
        else:
            result.columns[header] = target
    result.values = _value_spellings(layer_def, (mapping_file or {}).get("values", {}))
    return result


def _by_prefix(lookup: dict[str, str], key: str) -> str | None:
    """The one field some known header of which starts with `key`, else None (none, or several)."""
    fields = {name for spelling, name in lookup.items() if spelling.startswith(key)} if len(key) >= 2 else set()
    return fields.pop() if len(fields) == 1 else None


def _value_spellings(layer_def: LayerDef, extra: dict) -> dict[str, dict[str, str]]:
    spellings = {}
    for f in layer_def.fields:
        if not f.vocabulary:
            continue
        table = {}
        for term in VOCABULARIES[f.vocabulary]:
            table[term.zh] = term.code
            table[term.en] = term.code
            table[term.en.lower()] = term.code
        table.update({str(k): str(v) for k, v in extra.get(f.name, {}).items()})
        spellings[f.name] = table
    return spellings
