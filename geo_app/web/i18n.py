"""Locale choice: Chinese by default, English on request (`?lang=en`, remembered in a cookie)."""

from __future__ import annotations

from flask import g, request

from . import get_config

LOCALES = ("zh", "en")

# Page chrome; data labels come from the vocabularies and layer definitions.
MESSAGES = {
    "app_title": {"zh": "薛城区老旧小区改造地图", "en": "Xuecheng old-estate renovation map"},
    "app_subtitle": {"zh": "老旧小区改造 · 街道办事处 · 改造进度",
                     "en": "Old residential estate renovation by street office"},
    "illustrative": {"zh": "示例数据：区界为真实边界，街道及小区边界为生成的示意数据。",
                     "en": "示例数据 Illustrative data: the district outline is real; street-office and "
                           "estate boundaries are generated."},
    "stats_link": {"zh": "统计（JSON）", "en": "Statistics (JSON)"},
    "estates_shown": {"zh": "显示小区", "en": "Estates shown"},
    "switch_language": {"zh": "English", "en": "中文"},
    "error_title": {"zh": "出错了", "en": "Something went wrong"},
    "back_home": {"zh": "返回地图", "en": "Back to the map"},
    # Dashboard (/dashboard and its Excel download)
    "dashboard_link": {"zh": "统计看板", "en": "Dashboard"},
    "dashboard_title": {"zh": "老旧小区改造统计看板", "en": "Old-estate renovation dashboard"},
    "dashboard_xlsx_title": {"zh": "薛城区老旧小区改造统计", "en": "Xuecheng old-estate renovation statistics"},
    "dashboard_as_of": {"zh": "数据截至", "en": "As of"},
    "dashboard_revision": {"zh": "数据版本", "en": "store revision"},
    "dashboard_print": {"zh": "打印", "en": "Print"},
    "dashboard_download_excel": {"zh": "下载 Excel", "en": "Download Excel"},
    "dashboard_filters": {"zh": "筛选", "en": "Filters"},
    "dashboard_filter_apply": {"zh": "应用筛选", "en": "Apply filters"},
    "dashboard_filter_clear": {"zh": "清除筛选", "en": "Clear filters"},
    "dashboard_filtered_by": {"zh": "当前筛选：", "en": "Filtered by: "},
    "dashboard_filter_street_office": {"zh": "街道（镇）", "en": "Street office"},
    "dashboard_filter_status": {"zh": "改造状态", "en": "Status"},
    "dashboard_filter_batch": {"zh": "批次", "en": "Batch"},
    "dashboard_card_estates": {"zh": "小区", "en": "Estates"},
    "dashboard_card_households": {"zh": "户数", "en": "Households"},
    "dashboard_card_floor_area": {"zh": "建筑面积", "en": "Floor area"},
    "dashboard_card_investment": {"zh": "投资", "en": "Investment"},
    "dashboard_card_progress": {"zh": "工程进度", "en": "Progress"},
    "dashboard_card_estates_done": {"zh": "已完工或已验收 {n} 个", "en": "{n} completed or accepted"},
    "dashboard_card_buildings": {"zh": "楼栋 {n} 栋", "en": "in {n} buildings"},
    "dashboard_card_progress_note": {"zh": "按建筑面积加权", "en": "weighted by floor area"},
    "dashboard_unit_estates": {"zh": "个", "en": "estates"},
    "dashboard_unit_households": {"zh": "户", "en": "households"},
    "dashboard_unit_floor_area": {"zh": "万平方米", "en": "million m²"},
    "dashboard_unit_investment": {"zh": "亿元", "en": "million yuan"},
    "dashboard_unit_wan": {"zh": "万元", "en": "10k yuan"},
    "dashboard_table_batch": {"zh": "按批次", "en": "By batch"},
    "dashboard_table_street_office": {"zh": "按街道（镇）", "en": "By street office"},
    "dashboard_estates_by_status": {"zh": "各状态小区数", "en": "Estates by status"},
    "dashboard_chart_status_by_office": {"zh": "各街道（镇）改造状态", "en": "Renovation status by street office"},
    "dashboard_chart_progress_by_batch": {"zh": "各批次工程进度", "en": "Progress by batch"},
    "dashboard_chart_investment_by_source": {"zh": "投资来源（万元）", "en": "Investment by funding source (10k yuan)"},
    "dashboard_axis_estates": {"zh": "小区数", "en": "Estates"},
    "dashboard_axis_progress": {"zh": "进度（%）", "en": "Progress (%)"},
    "dashboard_no_estates": {"zh": "没有符合筛选条件的小区。", "en": "No estate matches the filters."},
    # planner map, street-office and estate pages
    "map_link": {"zh": "地图", "en": "Map"},
    "filters": {"zh": "筛选", "en": "Filters"},
    "all": {"zh": "全部", "en": "All"},
    "street_office": {"zh": "街道（镇）", "en": "Street office"},
    "office_details": {"zh": "街道详情", "en": "Street-office page"},
    "batch": {"zh": "改造年度", "en": "Batch year"},
    "status": {"zh": "改造状态", "en": "Status"},
    "item": {"zh": "改造内容", "en": "Renovation item"},
    "search": {"zh": "搜索小区名称", "en": "Search estate name"},
    "reset": {"zh": "清除筛选", "en": "Clear filters"},
    "apply": {"zh": "筛选", "en": "Apply"},
    "figures": {"zh": "统计", "en": "Figures"},
    "fig_estates": {"zh": "小区", "en": "Estates"},
    "fig_households": {"zh": "户数", "en": "Households"},
    "fig_floor": {"zh": "建筑面积（万m²）", "en": "Floor area (10k m²)"},
    "fig_investment": {"zh": "投资（万元）", "en": "Investment (10k yuan)"},
    "fig_progress": {"zh": "进度（按面积加权）", "en": "Progress (area-weighted)"},
    "time_view": {"zh": "时间视图", "en": "Time view"},
    "time_now": {"zh": "当前", "en": "now"},
    "play": {"zh": "播放", "en": "Play"},
    "estate_list": {"zh": "小区列表", "en": "Estates"},
    "list_first": {"zh": "显示前", "en": "showing first"},
    "no_results": {"zh": "未找到", "en": "Nothing found"},
    "layer_district": {"zh": "区界", "en": "District"},
    "layer_offices": {"zh": "街道（镇）边界", "en": "Street offices"},
    "layer_zones": {"zh": "片区", "en": "Zones"},
    "layer_facilities": {"zh": "配套设施", "en": "Facilities"},
    "layer_estates": {"zh": "老旧小区", "en": "Estates"},
    "total": {"zh": "合计", "en": "Total"},
    "investment_wan": {"zh": "投资（万元）", "en": "Investment (10k yuan)"},
    "items": {"zh": "改造内容", "en": "Renovation items"},
    "item_done": {"zh": "已完成", "en": "done"},
    "item_planned": {"zh": "计划中", "en": "planned"},
    "details": {"zh": "详情", "en": "Details"},
    "export_geojson": {"zh": "导出 GeoJSON", "en": "Export GeoJSON"},
    "attributes": {"zh": "属性", "en": "Attributes"},
    "history": {"zh": "巡查记录", "en": "Inspection history"},
    "history_empty": {"zh": "暂无巡查记录（现场巡查功能上线后在此显示）。",
                      "en": "No inspections yet (they will appear here once field inspection is available)."},
    "estates_of_office": {"zh": "辖区小区", "en": "Estates in this office"},
    "sort_hint": {"zh": "点击表头排序", "en": "Click a column heading to sort"},
    "show_on_map": {"zh": "在地图中查看", "en": "Show on the map"},
    "planned_col": {"zh": "计划", "en": "Planned"},
    "done_col": {"zh": "完成", "en": "Done"},
    "sidebar_toggle": {"zh": "筛选与列表", "en": "Filters & list"},
    "loading": {"zh": "加载中…", "en": "Loading…"},
}


def current_locale() -> str:
    """The request's locale: `lang` parameter, then the cookie, then the configured default."""
    if "locale" not in g:
        asked = request.args.get("lang") or request.cookies.get("lang")
        g.locale = asked if asked in LOCALES else get_config().default_locale
    return g.locale


def translate(key: str) -> str:
    """The page text `key` in the current locale."""
    return MESSAGES[key][current_locale()]


def _remember_locale(response):
    asked = request.args.get("lang")
    if asked in LOCALES:
        response.set_cookie("lang", asked, max_age=365 * 86400, samesite="Lax")
    return response


def init_app(app) -> None:
    app.jinja_env.globals.update(_=translate, current_locale=current_locale)
    app.after_request(_remember_locale)
