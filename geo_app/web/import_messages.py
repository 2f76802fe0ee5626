"""The import's messages in the page's language.

The core says its problems, notes and refusals in English: the command line's language and the JSON
report's. The page speaks Chinese first, so the messages users meet there are said again here in
Chinese, keeping every value the core wrote (file, row, field, number, code) as it wrote it. A
message not in this table is shown whole, in English, rather than half translated.
"""

from __future__ import annotations

import re
from typing import Callable

_FEATURE = re.compile(r"\b(feature|row) (\d+)\b")


def _where(text: str) -> str:
    """ "feature 12" / "row 13" (the core's `where`) in Chinese."""
    return _FEATURE.sub(lambda m: f"第 {m.group(2)} {'个要素' if m.group(1) == 'feature' else '行'}", text)


def _prefix(label: str) -> str:
    return f"{label}：" if label else ""


# (pattern, Chinese) pairs: a pattern matches a whole message; the Chinese is built from its groups.
# `label` is the file's name where the core starts a refusal with it.
_TABLE: list[tuple[str, Callable[[dict], str]]] = [
    # --- per-row problems (validation, storage.columns, matching, overlaps) -------------------------
    (r"field '(?P<f>[^']+)' is required",
     lambda g: f"字段“{g['f']}”必填"),
    (r"field '(?P<f>[^']+)' must be (?P<t>integer|real|date|text|boolean), got (?P<v>.*)",
     lambda g: f"字段“{g['f']}”应为{_TYPES.get(g['t'], g['t'])}，实为 {g['v']}"),
    (r"field '(?P<f>[^']+)' = (?P<v>.*) is outside (?P<span>.*)",
     lambda g: f"字段“{g['f']}”= {g['v']}，超出范围 {g['span']}"),
    (r"field '(?P<f>[^']+)' holds a NUL character \(\\x00\), which no database text may hold; remove it in the source",
     lambda g: f"字段“{g['f']}”含有 NUL 字符（\\x00），数据库文本不能保存，请在源文件中删除"),
    (r"field '(?P<f>[^']+)' has unknown (?P<vocab>\S+) code\(s\) (?P<bad>.*); allowed: (?P<allowed>.*)",
     lambda g: f"字段“{g['f']}”有未知的代码 {g['bad']}；允许的代码：{g['allowed']}"),
    (r"field '(?P<f>[^']+)' \((?P<zh>[^)]*)\) is required for new features but the file has no column for it "
     r"\((?P<n>[\d,]+) new features\); map one with --mapping",
     lambda g: f"字段“{g['f']}”（{g['zh']}）是新要素的必填字段，但文件中没有对应的列（{g['n']} 个新要素）；"
               "请用 --mapping 指定"),
    (r"geometry is missing or empty",
     lambda g: "几何为空或缺失"),
    (r"geometry must be a (?P<want>\w+), got (?P<got>\w+)",
     lambda g: f"几何类型应为 {g['want']}，实为 {g['got']}"),
    (r"coordinates \((?P<x>[^,]+), (?P<y>[^)]+)\) are not WGS84 longitude/latitude in degrees \(projected coordinates\?\)",
     lambda g: f"坐标（{g['x']}, {g['y']}）不是以度为单位的 WGS84 经纬度（是否为投影坐标？）"),
    (r"invalid geometry: (?P<why>.*)",
     lambda g: f"几何无效：{_why(g['why'])}"),
    (r"invalid geometry \((?P<why>.*)\) cannot be repaired",
     lambda g: f"几何无效（{_why(g['why'])}），无法修复"),
    (r"invalid geometry \((?P<why>.*)\); repairing it would change the area by (?P<amount>.*) "
     r"\(at most (?P<max>.*) is repaired\) — refused, fix it in the source",
     lambda g: f"几何无效（{_why(g['why'])}）；修复会使面积变化 {_more(g['amount'])}（最多允许 {g['max']}）——已拒绝，请在源文件中修正"),
    (r"invalid geometry \((?P<why>.*)\) repaired; area changed by (?P<change>.*)",
     lambda g: f"几何无效（{_why(g['why'])}），已修复；面积变化 {g['change']}"),
    (r"degenerate polygon: area (?P<a>\S+) m² \(less than (?P<min>\S+) m²\)",
     lambda g: f"退化多边形：面积 {g['a']} m²（小于 {g['min']} m²）"),
    (r"duplicate: the same geometry as #(?P<n>\d+)",
     lambda g: f"重复：与第 {g['n']} 条的几何相同"),
    (r"duplicate: the same (?P<f>\S+) as #(?P<n>\d+)",
     lambda g: f"重复：与第 {g['n']} 条的“{g['f']}”相同"),
    (r"code (?P<code>.*) already belongs to stored feature id (?P<id>\d+); use --mode upsert-id or upsert-name to update it",
     lambda g: f"编号 {g['code']} 已属于库中要素 id {g['id']}；如要更新，请用 --mode upsert-id 或 upsert-name"),
    (r"overlaps feature #(?P<n>\d+) of this file by (?P<m2>\S+) m² \((?P<share>\S+) of the smaller\)",
     lambda g: f"与本文件第 {g['n']} 个要素重叠 {g['m2']} m²（占较小者的 {g['share']}）"),
    (r"overlaps stored estate id (?P<id>\d+) by (?P<m2>\S+) m² \((?P<share>\S+) of the smaller\)",
     lambda g: f"与库中小区 id {g['id']} 重叠 {g['m2']} m²（占较小者的 {g['share']}）"),
    (r"id (?P<v>.*) is not a whole number",
     lambda g: f"id {g['v']} 不是整数"),
    (r"(?P<n>\d+) stored estates are named (?P<name>.*) in (?P<office>.*) \(ids (?P<ids>[^)]*)\); use --mode upsert-id",
     lambda g: f"库中有 {g['n']} 个小区在 {g['office']} 名为 {g['name']}（id {g['ids']}）；请用 --mode upsert-id"),
    (r"--mode upsert-id needs an 'id' column",
     lambda g: "--mode upsert-id 需要“id”列"),
    (r"--mode upsert-name needs name and street office columns",
     lambda g: "--mode upsert-name 需要小区名称和街道两列"),
    # --- notes ------------------------------------------------------------------------------------
    (r"attribute encoding (?P<enc>\S+): declared",
     lambda g: f"属性文字编码 {g['enc']}：按所选"),
    (r"attribute encoding (?P<enc>\S+): \.cpg says (?P<cpg>.*)",
     lambda g: f"属性文字编码 {g['enc']}：.cpg 文件注明 {g['cpg']}"),
    (r"attribute encoding (?P<enc>\S+): the \.dbf language driver says code page 936",
     lambda g: f"属性文字编码 {g['enc']}：.dbf 的语言驱动标记为代码页 936"),
    (r"attribute encoding (?P<enc>\S+): the \.dbf holds only ASCII text",
     lambda g: f"属性文字编码 {g['enc']}：.dbf 中只有 ASCII 文字"),
    (r"attribute encoding (?P<enc>\S+): the \.dbf text is valid UTF-8",
     lambda g: f"属性文字编码 {g['enc']}：.dbf 文字是有效的 UTF-8"),
    (r"attribute encoding (?P<enc>\S+): the \.dbf text is not UTF-8 but valid GB18030 \(GBK\)",
     lambda g: f"属性文字编码 {g['enc']}：.dbf 文字不是 UTF-8，而是有效的 GB18030（GBK）"),
    (r"field name\(s\) cut in the middle of a character by the program that wrote the file "
     r"\(a \.dbf name holds 10 bytes\), read as: (?P<names>.*)",
     lambda g: f"写出该文件的程序把字段名截断在一个汉字中间（.dbf 字段名最多 10 个字节），按以下名称读取：{g['names']}"),
    (r"column '(?P<h>[^']+)' not imported: not recognised",
     lambda g: f"列“{g['h']}”未导入：无法识别"),
    (r"column '(?P<h>[^']+)' not imported: ignored by the mapping file",
     lambda g: f"列“{g['h']}”未导入：映射文件要求忽略"),
    (r"column '(?P<h>[^']+)' not imported: '(?P<f>[^']+)' is computed by the store",
     lambda g: f"列“{g['h']}”未导入：“{g['f']}”由系统计算"),
    (r"column '(?P<h>[^']+)' not imported: feature id \(used by --mode upsert-id\)",
     lambda g: f"列“{g['h']}”未导入：要素 id（供 --mode upsert-id 使用）"),
    (r"column '(?P<h>[^']+)' not imported: empty; field '(?P<f>[^']+)' comes from column '(?P<o>[^']+)'",
     lambda g: f"列“{g['h']}”未导入：该列为空，字段“{g['f']}”取自列“{g['o']}”"),
    (r"empty column\(s\) not imported: (?P<h>.*)",
     lambda g: f"空列未导入：{g['h']}"),
    (r"KML display column\(s\) not imported: (?P<h>.*)",
     lambda g: f"KML 显示用的列未导入：{g['h']}"),
    (r"eastings (?P<has>carry|lack) the zone number (?P<z>\d+): read as (?P<as>.*) instead of (?P<was>\S+)",
     lambda g: f"东坐标{'带有' if g['has'] == 'carry' else '不带'}带号 {g['z']}：按 {g['as']} 读取，而非 {g['was']}"),
    # --- refusals ---------------------------------------------------------------------------------
    (r"(?:(?P<label>.+?): )?holds no features",
     lambda g: f"{_prefix(g['label'])}文件中没有要素"),
    (r"(?P<label>.+?): the file names no coordinate system \(no \.prj / srs\); declare it with --crs \((?P<s>.*)\) "
     r"— it is never guessed",
     lambda g: f"{g['label']}：文件未注明坐标系（没有 .prj / srs）；请用 --crs 指定（{g['s']}）——系统从不猜测坐标系"),
    (r"(?P<label>.+?): the file says its coordinates are (?P<file>.*), but (?P<decl>.*) was declared; "
     r"fix the declaration or the file's \.prj",
     lambda g: f"{g['label']}：文件注明坐标系为 {g['file']}，但所选为 {g['decl']}；请修正所选坐标系或文件的 .prj"),
    (r"(?P<label>.+?): (?P<where>(?:feature|row) \d+) has longitude (?P<x>\S+) and latitude (?P<y>\S+): "
     r"latitude and longitude look swapped \(x must be the longitude\)",
     lambda g: f"{g['label']}：{_where(g['where'])}的经度为 {g['x']}、纬度为 {g['y']}：经纬度似乎颠倒了（x 应为经度）"),
    (r"(?P<label>.+?): (?P<where>(?:feature|row) \d+) has coordinates \((?P<x>[^,]+), (?P<y>[^)]+)\), "
     r"projected metres, but (?P<crs>.*) is in degrees; declare the projection(?P<hint>.*)",
     lambda g: f"{g['label']}：{_where(g['where'])}的坐标为（{g['x']}, {g['y']}），是以米为单位的投影坐标，"
               f"但 {g['crs']} 以度为单位；请指定投影坐标系{_zone_hint(g['hint'])}"),
    (r"(?P<label>.+?): (?P<where>(?:feature|row) \d+) lies at \((?P<x>[^,]+), (?P<y>[^)]+)\), outside China; "
     r"check the coordinate system",
     lambda g: f"{g['label']}：{_where(g['where'])}位于（{g['x']}, {g['y']}），在中国境外；请检查坐标系"),
    (r"(?P<label>.+?): (?P<where>(?:feature|row) \d+) has coordinates \((?P<x>[^,]+), (?P<y>[^)]+)\), which look "
     r"like degrees, but (?P<crs>.*) is in metres; declare --crs EPSG:4326 or gcj02",
     lambda g: f"{g['label']}：{_where(g['where'])}的坐标为（{g['x']}, {g['y']}），看起来是经纬度，"
               f"但 {g['crs']} 以米为单位；请指定 --crs EPSG:4326 或 gcj02"),
    (r"(?P<label>.+?): (?P<where>(?:feature|row) \d+) lies (?P<km>\S+) km from the district \(more than (?P<max>\S+) km\) "
     r"when read as (?P<crs>.*?); the coordinate system or zone is likely wrong(?P<hint>.*)",
     lambda g: f"{g['label']}：按 {g['crs']} 读取时，{_where(g['where'])}距本区 {g['km']} 公里（超过 {g['max']} 公里）；"
               f"坐标系或分带很可能有误{_district_hint(g['hint'])}"),
    (r"(?P<label>.+?): (?P<where>(?:feature|row) \d+) falls at longitude (?P<lon>\S+)°E, outside (?P<crs>.*)'s zone "
     r"\(central meridian (?P<cm>\S+)°E ± (?P<w>\S+)°\); the zone does not match the coordinates",
     lambda g: f"{g['label']}：{_where(g['where'])}位于东经 {g['lon']}°，在 {g['crs']} 的分带之外"
               f"（中央经线 {g['cm']}°E ± {g['w']}°）；分带与坐标不符"),
    (r"(?P<label>.+?): (?P<where>(?:feature|row) \d+) has easting (?P<e>\S+), prefixed with zone (?P<z>\d+), "
     r"but (?P<crs>.*) is zone (?P<zz>\d+) \(central meridian (?P<cm>\S+)°E\); the zone does not match",
     lambda g: f"{g['label']}：{_where(g['where'])}的东坐标为 {g['e']}，带号为 {g['z']}，但 {g['crs']} 是第 {g['zz']} 带"
               f"（中央经线 {g['cm']}°E）；分带不符"),
    (r"(?P<label>.+?): eastings mix values with and without a zone prefix; fix the file",
     lambda g: f"{g['label']}：东坐标有的带带号、有的不带；请修正文件"),
    (r"(?P<label>.+?): (?P<size>\S+) MB is more than the limit of (?P<max>\S+) MB",
     lambda g: f"{g['label']}：{g['size']} MB，超过上限 {g['max']} MB"),
    (r"(?P<label>.+?): unsupported file type '(?P<t>[^']*)'; supported: (?P<s>.*)",
     lambda g: f"{g['label']}：不支持的文件类型“{g['t']}”；支持：{g['s']}"),
    (r"(?P<label>.+?): the content is not (?P<t>\S+) \(check the file and its name\)",
     lambda g: f"{g['label']}：文件内容不是 {g['t']}（请检查文件及其扩展名）"),
    (r"(?P<label>.+?): cannot be read as (?P<t>\S+): (?P<why>.*)",
     lambda g: f"{g['label']}：无法按 {g['t']} 读取：{g['why']}"),
    (r"(?P<label>.+?): the Shapefile has no \.dbf attribute table \(zip \.shp, \.shx, \.dbf and \.prj together\)",
     lambda g: f"{g['label']}：Shapefile 缺少 .dbf 属性表（请把 .shp、.shx、.dbf 和 .prj 一起压缩）"),
    (r"(?P<label>.+?): the archive holds a \.dbf/\.shx but no \.shp geometry file",
     lambda g: f"{g['label']}：压缩包中有 .dbf/.shx，但没有 .shp 几何文件"),
    (r"(?P<label>.+?): the archive must hold exactly one dataset \((?P<s>.*)\); found (?P<found>.*)",
     lambda g: f"{g['label']}：压缩包中必须恰好有一个数据集（{g['s']}）；实际为：{g['found']}"),
    (r"(?P<label>.+?): refused: member '(?P<m>[^']*)' has (?P<why>.*) \(unsafe archive\)",
     lambda g: f"{g['label']}：已拒绝：成员“{g['m']}”{_UNSAFE.get(g['why'], g['why'])}（不安全的压缩包）"),
    (r"(?P<label>.+?): refused: member '(?P<m>[^']*)' would unpack (?P<x>\S+)x its packed size \(zip bomb\?\)",
     lambda g: f"{g['label']}：已拒绝：成员“{g['m']}”解压后将是压缩大小的 {g['x']} 倍（压缩炸弹？）"),
    (r"(?P<label>.+?): refused: the archive declares (?P<mb>\S+) MB unpacked, more than the limit of (?P<max>\S+) MB",
     lambda g: f"{g['label']}：已拒绝：压缩包声明解压后为 {g['mb']} MB，超过上限 {g['max']} MB"),
    (r"(?P<label>.+?): not UTF-8 text \(byte (?P<b>\d+): (?P<v>.*)\); GeoJSON must be UTF-8 — re-save it, "
     r"or declare its encoding with --encoding",
     lambda g: f"{g['label']}：不是 UTF-8 文本（第 {g['b']} 字节：{g['v']}）；GeoJSON 必须是 UTF-8——请另存，"
               "或用 --encoding 指定其编码"),
    (r"(?P<label>.+?): not valid JSON: (?P<why>.*) at line (?P<l>\d+), column (?P<c>\d+)",
     lambda g: f"{g['label']}：不是有效的 JSON：第 {g['l']} 行第 {g['c']} 列：{g['why']}"),
    (r"(?P<label>.+?): cannot tell the \.dbf text encoding \(neither UTF-8 nor GBK/GB18030\); say which with --encoding",
     lambda g: f"{g['label']}：无法判断 .dbf 的文字编码（既不是 UTF-8 也不是 GBK/GB18030）；请用 --encoding 指定"),
    (r"(?P<label>.+?): cannot tell the text encoding \(neither UTF-8 nor GBK\); use --encoding",
     lambda g: f"{g['label']}：无法判断文字编码（既不是 UTF-8 也不是 GBK）；请用 --encoding 指定"),
    (r"(?P<label>.+?): no geometry column: need a WKT column \((?P<wkt>.*)\) or longitude/latitude columns \((?P<ll>.*)\)",
     lambda g: f"{g['label']}：没有几何列：需要 WKT 列（{g['wkt']}）或经纬度列（{g['ll']}）"),
    (r"coordinate system (?P<crs>.*) not understood; supported: (?P<s>.*)",
     lambda g: f"无法识别坐标系 {g['crs']}；支持：{g['s']}"),
    (r"coordinate system (?P<crs>.*) is not supported; supported: (?P<s>.*)",
     lambda g: f"不支持坐标系 {g['crs']}；支持：{g['s']}"),
    (r"the file's coordinate system cannot be read \((?P<why>.*)\); declare one with --crs",
     lambda g: f"无法读取文件的坐标系（{g['why']}）；请用 --crs 指定"),
    (r"unknown text encoding (?P<e>.*) \(try gbk, gb18030 or utf-8\)",
     lambda g: f"未知的文字编码 {g['e']}（可用 gbk、gb18030 或 utf-8）"),
    (r"(?P<label>.+?): the \.cpg names an unknown encoding (?P<e>.*); give the right one with --encoding",
     lambda g: f"{g['label']}：.cpg 文件注明的编码 {g['e']} 无法识别；请用 --encoding 指定正确的编码"),
    (r"(?P<label>.+?): the \.dbf attribute table is truncated",
     lambda g: f"{g['label']}：.dbf 属性表不完整"),
    (r"(?P<label>.+?): the archive holds (?P<n>\S+) entries \(at most (?P<max>\S+)\)",
     lambda g: f"{g['label']}：压缩包中有 {g['n']} 个条目（最多 {g['max']} 个）"),
    (r"(?P<label>.+?): refused: member '(?P<m>[^']*)' unpacks to more than it declares or than the size limit "
     r"\(zip bomb\?\)",
     lambda g: f"{g['label']}：已拒绝：成员“{g['m']}”解压后超过其声明的大小或大小上限（压缩炸弹？）"),
    (r"(?P<label>.+?): not a readable zip archive \((?P<why>.*)\)",
     lambda g: f"{g['label']}：不是可读取的 zip 压缩包（{g['why']}）"),
    (r"(?P<label>.+?): member '(?P<m>[^']*)' cannot be read \((?P<why>.*)\)",
     lambda g: f"{g['label']}：无法读取成员“{g['m']}”（{g['why']}）"),
    (r"(?P<label>.+?): not (?P<e>\S+) text \(byte (?P<b>\d+)\)",
     lambda g: f"{g['label']}：不是 {g['e']} 文本（第 {g['b']} 字节）"),
    (r"(?P<label>.+?): not a readable CSV table: (?P<why>.*)",
     lambda g: f"{g['label']}：不是可读取的 CSV 表格：{g['why']}"),
    (r"(?P<label>.+?): not a readable Excel \.xlsx workbook \((?P<why>.*)\)",
     lambda g: f"{g['label']}：不是可读取的 Excel .xlsx 工作簿（{g['why']}）"),
    (r"(?P<label>.+?): the first sheet has no header row",
     lambda g: f"{g['label']}：第一个工作表没有表头行"),
    (r"(?P<label>.+?): not a readable GeoPackage: (?P<why>.*)",
     lambda g: f"{g['label']}：不是可读取的 GeoPackage：{g['why']}"),
    (r"(?P<label>.+?): the GeoPackage holds (?P<n>\d+) feature layers \((?P<layers>.*)\) and none is called "
     r"'(?P<hint>[^']*)'; export the one to import",
     lambda g: f"{g['label']}：该 GeoPackage 有 {g['n']} 个要素图层（{g['layers']}），没有名为“{g['hint']}”的；"
               "请导出要导入的那一个"),
    (r"mapping file (?P<path>.+?): cannot be read \((?P<why>.*)\)",
     lambda g: f"映射文件 {g['path']}：无法读取（{g['why']}）"),
    (r"mapping file (?P<path>.+?): unknown section\(s\) (?P<s>.*); expected \[columns\] and \[values\.<field>\]",
     lambda g: f"映射文件 {g['path']}：未知的节 {g['s']}；应为 [columns] 和 [values.<字段>]"),
    (r"mapping file: column '(?P<h>[^']*)' maps to '(?P<t>[^']*)', which layer '(?P<l>[^']*)' does not have; "
     r"fields: (?P<fields>.*)",
     lambda g: f"映射文件：列“{g['h']}”对应“{g['t']}”，但图层“{g['l']}”没有该字段；字段有：{g['fields']}"),
    (r"(?P<label>.+?): columns '(?P<a>[^']*)' and '(?P<b>[^']*)' both map to field '(?P<f>[^']*)'; "
     r"say which one in a mapping file \(\[columns\] 'header' = \"\" ignores one\)",
     lambda g: f"{g['label']}：列“{g['a']}”和“{g['b']}”都对应字段“{g['f']}”；请在映射文件中指定"
               "（[columns] 'header' = \"\" 可忽略其一）"),
]
_ZH = [(re.compile(pattern, re.DOTALL), say) for pattern, say in _TABLE]

_TYPES = {"integer": "整数", "real": "数值", "date": "日期", "text": "文本", "boolean": "布尔值"}
_UNSAFE = {"an absolute or Windows path": "使用了绝对路径或 Windows 路径", "a '..' component": "路径中含有“..”",
           "a symbolic link": "是符号链接"}


# GEOS's reasons for an invalid geometry (`shapely.is_valid_reason`: the reason, then where, as
# "Self-intersection[117.25 34.79]").
_GEOS_REASONS = {
    "Self-intersection": "自相交", "Ring Self-intersection": "环自相交", "Hole lies outside shell": "内环位于外环之外",
    "Holes are nested": "内环相互嵌套", "Interior is disconnected": "内部不连通", "Nested shells": "外环相互嵌套",
    "Duplicate Rings": "环重复", "Too few points in geometry component": "几何部件的点太少",
    "Too few distinct points in geometry component": "几何部件的不同点太少", "Invalid Coordinate": "坐标无效",
    "Ring is not closed": "环未闭合", "Repeated Point": "点重复", "Topology Validation Error": "拓扑错误",
}
_GEOS_REASON = re.compile(r"(?P<reason>[A-Za-z][A-Za-z -]*?)\s*(?:\[(?P<at>[^\]]*)\])?")


def _why(reason: str) -> str:
    """GEOS's reason in Chinese, its position kept ("自相交，位于 117.25 34.79"); unknown ones as they are."""
    found = _GEOS_REASON.fullmatch(reason)
    zh = _GEOS_REASONS.get(found.group("reason")) if found else None
    if zh is None:
        return reason
    return f"{zh}，位于 {found.group('at')}" if found.group("at") else zh


def _more(amount: str) -> str:
    return "超过 100%" if amount == "more than 100%" else amount


def _zone_hint(hint: str) -> str:
    # " (eastings start with 39: Gauss-Kruger zone 39, e.g. --crs EPSG:4527)"
    found = re.fullmatch(r" \(eastings start with (\d+): Gauss-Kruger zone \d+, e\.g\. (--crs \S+)\)", hint)
    return f"（东坐标以 {found.group(1)} 开头：高斯-克吕格第 {found.group(1)} 带，例如 {found.group(2)}）" if found else hint


def _district_hint(hint: str) -> str:
    # "; read as EPSG:4548 (CGCS2000 / 3-degree Gauss-Kruger CM 117E) it would lie in the district"
    found = re.fullmatch(r"; read as (.*) it would lie in the district", hint)
    return f"；按 {found.group(1)} 读取则位于本区内" if found else hint


# How the core labels a coordinate system's origin (`crs.SourceCrs.label`), in the messages and alone.
_CRS_ORIGIN = re.compile(r" \((from the file|declared)\)")
_ORIGINS_ZH = {"from the file": "（取自文件）", "declared": "（所选）"}
_CRS_LABEL = re.compile(r"(?:EPSG:\d+ .+|GCJ-02|BD-09) \((?:from the file|declared)\)")


def localised(message: str, locale: str) -> str:
    """`message` (one of the core's, or a coordinate system's label) in `locale`: Chinese where the
    table knows it, else as it is."""
    if locale != "zh":
        return message
    if _CRS_LABEL.fullmatch(message):
        return _origins(message)
    for pattern, say in _ZH:
        found = pattern.fullmatch(message)
        if found:
            return _origins(say(found.groupdict()))
    return message


def _origins(text: str) -> str:
    return _CRS_ORIGIN.sub(lambda m: _ORIGINS_ZH[m.group(1)], text)
