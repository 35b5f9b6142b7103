"""The one definition of what every layer says text with: the languages, the extraction marker, the types of a
bound gettext/ngettext, and the HTML escaping of user data (Telegram HTML, ``parse_mode="HTML"``)."""

from __future__ import annotations

import html
from typing import Callable, Literal

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "Gettext", "Lang", "NGettext", "N_", "escape", "known_language"]

#: The bot's languages: Kazakh and Russian, in the order they are shown and asked about.
Lang = Literal["kk", "ru"]
LANGUAGES: tuple[str, ...] = ("kk", "ru")
DEFAULT_LANGUAGE: Lang = "ru"

#: A gettext bound to one language, and an ngettext (``ngettext(singular, plural, n)``).
Gettext = Callable[[str], str]
NGettext = Callable[[str, str, int], str]


def N_(message: str) -> str:
    """Marks a msgid for extraction (``make locales``) without translating it where it is written."""
    return message


def escape(value: object) -> str:
    """User data inside Telegram HTML: ``&``, ``<`` and ``>`` escaped (quotes need no escaping there)."""
    return html.escape(str(value), quote=False)


def known_language(lang: str | None, default: Lang = DEFAULT_LANGUAGE) -> Lang:
    """``lang`` when the bot speaks it, else ``default``."""
    return "kk" if lang == "kk" else "ru" if lang == "ru" else default
