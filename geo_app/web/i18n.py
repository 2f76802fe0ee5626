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
