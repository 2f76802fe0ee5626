"""The gettext catalogue: complete, in step with the sources, compiled when stale; pages speak one language."""

from __future__ import annotations

import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from babel.support import Translations

from geo_app.config import load_config
from geo_app.web import i18n
from geo_app.web.i18n import TRANSLATIONS_DIR, compile_catalogues

ROOT = Path(__file__).resolve().parent.parent
ZH_PO = TRANSLATIONS_DIR / "zh" / "LC_MESSAGES" / "messages.po"
# Names of formats and products, the same in every language.
LATIN_ALLOWED = {"JSON", "GeoJSON", "GeoPackage", "Excel"}
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")  # ideographs and full-width punctuation
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def read_catalogue(path: Path):
    with path.open("rb") as f:
        return read_po(f)


def message_keys(catalogue) -> set:
    return {(m.context, m.id) for m in catalogue if m.id}


def test_every_message_has_a_chinese_translation():
    catalogue = read_catalogue(ZH_PO)
    assert len(message_keys(catalogue)) > 50
    for message in catalogue:
        if not message.id:
            continue
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        assert not message.fuzzy, f"fuzzy (left out of the compiled catalogue): {message.id!r}"
        assert forms and all(form.strip() for form in forms), f"untranslated: {message.id!r}"
    # Placeholders agree between msgid and msgstr (python-format checks, as `pybabel compile` does).
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalogue.check()]
    assert problems == []


def test_extraction_finds_exactly_the_catalogued_messages(tmp_path, monkeypatch):
    # The README's command, run by Babel's own command line in-process.
    monkeypatch.chdir(ROOT)
    template = tmp_path / "messages.pot"
    CommandLineInterface().run(["pybabel", "-q", "extract", "-F", "babel.cfg", "-o", str(template), "."])
    extracted, catalogued = message_keys(read_catalogue(template)), message_keys(read_catalogue(ZH_PO))
    assert len(extracted) > 50
    assert extracted - catalogued == set(), "not in the catalogue: run pybabel update and translate"
    assert catalogued - extracted == set(), "no longer in the sources: run pybabel update"


class UiText(HTMLParser):
    """What a reader sees in the chosen parts of a page: text, placeholders, titles, aria-labels.

    `chosen(tag, attrs)` picks the parts; `data(tag, attrs)` leaves out what comes from the data
    (street-office names, batches, the active filters) and the language switch, which names the
    other language in itself.
    """

    def __init__(self, chosen, data):
        super().__init__()
        self.chosen, self.data = chosen, data
        self.stack: list[tuple[str, bool, bool]] = []
        self.words: list[str] = []

    def _state(self) -> tuple[bool, bool]:
        return self.stack[-1][1:] if self.stack else (False, False)

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        inside, skipped = self._state()
        inside, skipped = inside or self.chosen(tag, attrs), skipped or self.data(tag, attrs)
        if inside and not skipped:
            self.words += [attrs[a] for a in ("placeholder", "title", "aria-label") if attrs.get(a)]
        if tag not in VOID:
            self.stack.append((tag, inside, skipped))

    def handle_endtag(self, tag):
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data):
        inside, skipped = self._state()
        if inside and not skipped and data.strip():
            self.words.append(data.strip())


def classes(attrs) -> set[str]:
    return set(attrs.get("class", "").split())


def planner_ui(tag, attrs) -> bool:
    return tag == "nav" or attrs.get("id") == "sidebar" or "illustrative-note" in classes(attrs)


def dashboard_ui(tag, attrs) -> bool:
    return bool(tag in ("nav", "summary", "legend", "figcaption", "h3")
                or classes(attrs) & {"illustrative-note", "dash-head", "filter-actions", "cards", "status-group"})


def data_or_switch(tag, attrs) -> bool:
    # Options with a value and the dashboard's checkbox labels (no `for`) name offices and years.
    return bool((tag == "option" and attrs.get("value"))
                or (tag == "label" and not attrs.get("for") and "check" not in classes(attrs))
                or classes(attrs) & {"lang", "filter-summary"})


def ui_words(html: str, chosen) -> list[str]:
    parser = UiText(chosen, data_or_switch)
    parser.feed(html)
    return parser.words


def script_json(html: str, element_id: str) -> dict:
    return json.loads(html.split(f'id="{element_id}">', 1)[1].split("</script>", 1)[0])


def chinese_only(words: list[str]) -> None:
    latin = {w for text in words for w in re.findall(r"[A-Za-z]{2,}", text)} - LATIN_ALLOWED
    assert latin == set(), f"English in a Chinese page: {sorted(latin)}"


def english_only(words: list[str]) -> None:
    # 示例数据 marks the illustrative data in every language.
    cjk = [text for text in words if CJK.search(text.replace("示例数据", ""))]
    assert cjk == [], f"Chinese in an English page: {cjk}"


# A few words each check must have seen, so that it looked at the right parts of the page.
SEEN = {"zh": {"地图", "街道（镇）", "改造内容", "时间视图", "按批次", "应用筛选"},
        "en": {"Map", "Street office", "Renovation item", "Time view", "By batch", "Apply filters"}}


@pytest.mark.parametrize("lang, check", [("zh", chinese_only), ("en", english_only)])
def test_pages_speak_one_language(client, lang, check):
    planner = client.get(f"/?lang={lang}").get_data(as_text=True)
    dashboard = client.get(f"/dashboard?lang={lang}&status=under_construction").get_data(as_text=True)
    words = ui_words(planner, planner_ui) + ui_words(dashboard, dashboard_ui)
    assert SEEN[lang] <= set(words)
    check(words)
    check(list(script_json(planner, "ui-strings").values()))
    charts = script_json(dashboard, "dashboard-data")
    check([charts["statusByOffice"]["yTitle"], charts["progressByBatch"]["yTitle"],
           charts["investmentBySource"]["unit"]])


def test_contexts_keep_one_english_word_apart_in_chinese(client):
    html = client.get("/?lang=zh").get_data(as_text=True)
    assert script_json(html, "ui-strings")["layer_estates"] == "老旧小区"  # map layer
    assert "小区列表" in html  # the list's heading
    assert 'id="fig-estates"' in html and "<dt>小区</dt>" in html  # the figure


@pytest.fixture
def bare_app(tmp_path):
    """An app over an empty store: enough for pages that do not read it (the 404 page)."""
    from geo_app import create_app

    def make(**overrides):
        config = load_config(overrides={"data_dir": str(tmp_path / "data"), **overrides}, environ={})
        return create_app(config)
    return make


def page_lang(client, url: str) -> str:
    return re.search(r'<html lang="([^"]+)"', client.get(url).get_data(as_text=True)).group(1)


def test_locale_is_the_parameter_then_the_cookie_then_the_default(bare_app):
    client = bare_app().test_client()
    assert page_lang(client, "/nowhere") == "zh-CN"
    response = client.get("/nowhere?lang=en")
    assert "Back to the map" in response.get_data(as_text=True)
    assert "lang=en" in response.headers["Set-Cookie"]
    assert page_lang(client, "/nowhere") == "en"  # the cookie
    assert page_lang(client, "/nowhere?lang=zh") == "zh-CN"  # the parameter beats the cookie
    response = client.get("/nowhere?lang=fr")  # unknown: the cookie (now zh), and no new cookie
    assert "返回地图" in response.get_data(as_text=True) and "Set-Cookie" not in response.headers
    assert page_lang(bare_app(default_locale="en").test_client(), "/nowhere") == "en"


def zh_text(directory: Path, msgid: str) -> str:
    return Translations.load(str(directory), ["zh"]).gettext(msgid)


def test_mo_is_compiled_when_missing_and_rebuilt_when_the_po_is_newer(tmp_path):
    source = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS_DIR, source, ignore=shutil.ignore_patterns("*.mo"))
    po = source / "zh" / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    assert compile_catalogues(source) == [mo]  # missing
    assert zh_text(source, "Map") == "地图"
    assert compile_catalogues(source) == []  # up to date: left alone

    text = po.read_text(encoding="utf-8")
    assert text.count('msgstr "地图"') == 1
    po.write_text(text.replace('msgstr "地图"', 'msgstr "底图"'), encoding="utf-8")
    later = mo.stat().st_mtime + 10
    os.utime(po, (later, later))
    assert compile_catalogues(source) == [mo]
    assert zh_text(source, "Map") == "底图"
    assert sorted(p.name for p in mo.parent.iterdir()) == ["messages.mo", "messages.po"]  # no partial file left


def test_app_start_compiles_the_catalogue(bare_app):
    bare_app()
    mo = ZH_PO.with_suffix(".mo")
    assert mo.exists() and mo.stat().st_mtime >= ZH_PO.stat().st_mtime


def test_a_read_only_install_compiles_into_the_data_dir(bare_app, tmp_path, monkeypatch):
    real = i18n.compile_catalogues

    def read_only_package(source, target=None):
        if target is None:
            raise PermissionError(13, "Permission denied", str(source))
        return real(source, target)

    monkeypatch.setattr(i18n, "compile_catalogues", read_only_package)
    app = bare_app()
    fallback = tmp_path / "data" / "translations"
    assert app.config["BABEL_TRANSLATION_DIRECTORIES"] == str(fallback)
    assert (fallback / "zh" / "LC_MESSAGES" / "messages.mo").exists()
    assert "返回地图" in app.test_client().get("/nowhere").get_data(as_text=True)
