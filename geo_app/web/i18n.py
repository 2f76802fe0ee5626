"""Page language: Chinese by default, English on request (`?lang=en`, remembered in a cookie).

Page texts live in a gettext catalogue, `geo_app/translations/<lang>/LC_MESSAGES/messages.po`,
served by Flask-Babel: `_` / `gettext`, `ngettext`, `pgettext` in templates and Python, their
`lazy_` forms for module-level texts. Data labels (statuses, renovation items, funding sources,
layer fields) are not messages: they come with zh/en columns from `domain.py` and `layers/*.toml`.

Msgid convention: the msgids are the English texts and `zh` is a translation catalogue, although
Chinese is the product's first language, because
- it is gettext's own convention, which pybabel, Poedit, Weblate and translators all assume;
- `ngettext` needs a source language with a singular and a plural (English); Chinese has one form
  (nplurals=1), so Chinese msgids could not carry a plural pair;
- ASCII msgids are typed the same by everyone, whereas Chinese ones invite silent near-duplicates
  (full-width "（" versus "(", "：" versus ":") that are each a separate, untranslated message;
- English needs no catalogue of its own (a msgid is its own English text), so there is one file
  for translators to keep complete, not two to keep in step.
Its one risk, an untranslated message showing English on a Chinese page, is what
tests/test_i18n.py closes: every msgid has a non-fuzzy zh translation, and extraction from the
sources finds no message the catalogue lacks.

The catalogue's compiled `.mo` files are build products (git-ignored): `init_app` compiles each
`.po` that is newer than its `.mo`, so a fresh install or an edited catalogue needs no extra step.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import g, request
from flask_babel import Babel

from . import get_config

log = logging.getLogger(__name__)

LOCALES = ("zh", "en")
# The language switch names the other language in that language (an endonym), as readers of it
# look for it; so these two names are not translated.
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"


def current_locale() -> str:
    """The request's locale: `lang` parameter, then the cookie, then the configured default."""
    if "locale" not in g:
        asked = request.args.get("lang") or request.cookies.get("lang")
        g.locale = asked if asked in LOCALES else get_config().default_locale
    return g.locale


def compile_catalogues(source: Path, target: Path | None = None) -> list[Path]:
    """Compile every `<lang>/LC_MESSAGES/<domain>.po` under `source` into a `.mo` at the same place
    under `target` (default: beside the `.po`) when the `.mo` is missing or older; the `.mo` files
    written. Fuzzy entries are left out, as `pybabel compile` does.
    """
    written = []
    for po_path in sorted(source.glob("*/LC_MESSAGES/*.po")):
        mo_path = (target or source) / po_path.relative_to(source).with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalogue = read_po(po_file, locale=po_path.parent.parent.name)
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        # Write aside and rename: workers starting together never read a half-written file.
        handle, partial = tempfile.mkstemp(dir=mo_path.parent, suffix=".mo.part")
        try:
            with os.fdopen(handle, "wb") as mo_file:
                write_mo(mo_file, catalogue)
            os.chmod(partial, 0o644)  # mkstemp's 0600 would hide it from a service running as another user
            os.replace(partial, mo_path)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        written.append(mo_path)
    return written


def _compiled_translations(fallback: Path) -> Path:
    """The directory holding compiled catalogues: beside the `.po` files (a checkout or an editable
    install), else `fallback` when the package is installed read-only."""
    try:
        compile_catalogues(TRANSLATIONS_DIR)
        return TRANSLATIONS_DIR
    except OSError:  # e.g. a read-only site-packages
        log.info("cannot write into %s; compiling catalogues into %s", TRANSLATIONS_DIR, fallback)
        compile_catalogues(TRANSLATIONS_DIR, fallback)
        return fallback


def _remember_locale(response):
    asked = request.args.get("lang")
    if asked in LOCALES:
        response.set_cookie("lang", asked, max_age=365 * 86400, samesite="Lax")
    return response


def init_app(app) -> None:
    """Compile the catalogues if needed and install Flask-Babel with the request's locale.

    Flask-Babel installs `_`, `gettext`, `ngettext` and `pgettext` in Jinja in the "newstyle" way:
    autoescape stays on, the catalogue's text is trusted and every `%(name)s` value is escaped.
    """
    config = app.config["GEO_APP"]
    directory = _compiled_translations(config.data_dir / "translations")
    app.config.update(BABEL_TRANSLATION_DIRECTORIES=str(directory), BABEL_DEFAULT_LOCALE=config.default_locale)
    # One Babel per app: its translation cache belongs to the app, not to the process.
    Babel(app, locale_selector=current_locale)
    app.jinja_env.globals.update(current_locale=current_locale, language_names=LANGUAGE_NAMES)
    app.after_request(_remember_locale)
