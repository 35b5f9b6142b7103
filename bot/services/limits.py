"""Telegram's size limits, counted the way Telegram counts them, and cutting a text to fit without breaking it.

Telegram measures a message (4,096) or a caption (1,024) after parsing the markup, in UTF-16 code units: tags
do not count, ``&lt;`` is one character, an emoji outside the BMP is two. Cutting the HTML source at a number
of characters can leave ``<b`` or an unclosed ``<b>``, which Telegram refuses with 400 ("can't parse
entities"): :func:`fit_html` cuts the visible text instead, marks the cut with "…" and closes the open tags.

Pure functions on strings; no aiogram (the session middleware that applies them lives in bot/services/sender.py).
"""

from __future__ import annotations

import html
import re
from typing import Any, Iterator

from bot.domain.text import escape

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_ANSWER_LIMIT = 200
MARK = "…"

_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)(?:\s[^<>]*)?>")


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def _tokens(source: str) -> Iterator[tuple[str, str, str]]:
    """("tag", raw, name) with name "/b" for a closing tag, or ("text", raw, visible)."""
    pos = 0
    for m in _TAG.finditer(source):
        if m.start() > pos:
            raw = source[pos:m.start()]
            yield "text", raw, html.unescape(raw)
        yield "tag", m.group(0), m.group(1) + m.group(2).lower()
        pos = m.end()
    if pos < len(source):
        raw = source[pos:]
        yield "text", raw, html.unescape(raw)


def visible_html(source: str) -> str:
    """The text Telegram shows for this HTML (tags removed, entities decoded)."""
    return "".join(visible for kind, _raw, visible in _tokens(source) if kind == "text")


def _cut_units(text: str, units: int) -> str:
    """The longest prefix of ``text`` within ``units`` UTF-16 code units (a surrogate pair is never split)."""
    if units <= 0:
        return ""
    if utf16_len(text) <= units:
        return text
    out, used = [], 0
    for ch in text:
        n = 2 if ord(ch) > 0xFFFF else 1
        if used + n > units:
            break
        out.append(ch)
        used += n
    return "".join(out)


def fit_plain(text: str, limit: int) -> str:
    """Plain text within ``limit`` units, cut with a mark when longer."""
    if utf16_len(text) <= limit:
        return text
    return _cut_units(text, limit - utf16_len(MARK)).rstrip() + MARK


def fit_html(source: str, limit: int) -> str:
    """Telegram HTML whose visible text is within ``limit`` units: unchanged when it fits, else the visible text
    is cut (never a tag or an entity), marked with "…", and every tag still open is closed."""
    if utf16_len(source) <= limit or utf16_len(visible_html(source)) <= limit:
        return source
    budget = limit - utf16_len(MARK)
    out: list[str] = []
    open_tags: list[str] = []
    used = 0
    for kind, raw, value in _tokens(source):
        if kind == "tag":
            if value.startswith("/"):
                if open_tags and open_tags[-1] == value[1:]:
                    open_tags.pop()
            else:
                open_tags.append(value)
            out.append(raw)
            continue
        n = utf16_len(value)
        if used + n <= budget:
            out.append(raw)
            used += n
            continue
        out.append(escape(_cut_units(value, budget - used).rstrip()))
        break
    out.append(MARK)
    out.extend(f"</{name}>" for name in reversed(open_tags))
    return "".join(out)


def fit_entities(text: str, entities: list[Any] | None, limit: int) -> tuple[str, list[Any] | None]:
    """Plain text with entities (offsets in UTF-16 units): cut the text, clip or drop the entities past it."""
    if utf16_len(text) <= limit:
        return text, entities
    cut = fit_plain(text, limit)
    end = utf16_len(cut) - utf16_len(MARK)
    kept = []
    for e in entities or ():
        if e.offset >= end:
            continue
        if e.offset + e.length > end:
            e = e.model_copy(update={"length": end - e.offset})
        kept.append(e)
    return cut, kept
