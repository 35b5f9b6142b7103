"""Catalogs: aiogram's gettext I18n over Babel-compiled `locales/{kk,ru}/LC_MESSAGES/messages.mo`.

Handlers use `from aiogram.utils.i18n import gettext as _` (the per-update locale is set by middleware).
Code that speaks to someone outside their update (reminders, relays, documents) asks for `translator(lang)`.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from aiogram.utils.i18n import I18n

from bot.domain.text import LANGUAGES, Gettext, NGettext

LOCALES_DIR = Path(__file__).resolve().parents[2] / "locales"
DOMAIN = "messages"


def ensure_compiled(path: Path = LOCALES_DIR) -> None:
    """Compile any .po newer than its .mo (set-up does this too; this keeps a bare checkout working)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for lang in LANGUAGES:
        po = path / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        mo = po.with_suffix(".mo")
        if po.exists() and (not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime):
            with po.open("rb") as fh:
                catalog = read_po(fh, locale=lang)
            with mo.open("wb") as fh:
                write_mo(fh, catalog, use_fuzzy=False)


def build_i18n(default_locale: str = "ru", path: Path = LOCALES_DIR) -> I18n:
    ensure_compiled(path)
    i18n = I18n(path=path, default_locale=default_locale, domain=DOMAIN)
    missing = set(LANGUAGES) - set(i18n.available_locales)
    if missing:
        raise RuntimeError(f"catalogs not found for {sorted(missing)} under {path}")
    return i18n


def translator(i18n: I18n, lang: str) -> Gettext:
    """A gettext bound to one language, for text sent outside the person's own update."""
    return partial(i18n.gettext, locale=lang)


def plural_translator(i18n: I18n, lang: str) -> NGettext:
    """An ngettext bound to one language: ``ngettext(singular, plural, n)`` with the catalog's plural forms
    (Russian has three). Bind it to a name ``ngettext`` where it is called, so extraction finds the msgids."""
    return lambda singular, plural, n: i18n.gettext(singular, plural, n, locale=lang)
