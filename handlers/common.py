"""Pieces every feature router shares: the main menu, language-agnostic button matching, bilingual text."""

from __future__ import annotations

import re
from abc import abstractmethod
from contextlib import contextmanager
from contextvars import ContextVar, Token
from functools import lru_cache
from typing import Annotated, Any, Callable, Iterator, TypeVar

from aiogram.filters import BaseFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.methods import SendMessage
from aiogram.types import (
    ForceReply,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    TelegramObject,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n.context import get_i18n
from aiogram.utils.magic_filter import AsFilterResultOperation
from magic_filter import MagicFilter
from pydantic import Field

from bot.domain.text import LANGUAGES, N_

_Built = TypeVar("_Built")

ReplyMarkup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | ForceReply

# Main-menu buttons (msgids). Each feature router reacts to its own button through MenuButton.
BTN_COMPLAINT = "📝 Write a complaint"
BTN_MY = "📋 My complaints"
BTN_QUESTIONS = "❓ Questions"
BTN_HUMAN = "👤 Talk to a person"
BTN_LANGUAGE = "🌐 Тіл / Язык"  # the same in both languages on purpose: findable whatever the language


N_("📝 Write a complaint")
N_("📋 My complaints")
N_("❓ Questions")
N_("👤 Talk to a person")

NOT_VALID = N_("This button is no longer valid.")
#: Said before the question a person is really on, after a reply that did not reach them (handlers/guards.py).
LOST_REPLY = N_("My last message did not reach you because of a failure on our side. Your answers are saved.")


#: Is there an operators' desk to pass people to (OPERATORS_CHAT_ID set)? Set for each update by the bot's
#: outer middleware (handlers/middlewares.py), like the locale gettext reads: every "talk to a person" / "send
#: it to the operators" offer asks desk_on(), and without a desk points to 1414 instead.
_desk: ContextVar[bool] = ContextVar("shagym_desk_on", default=False)


def desk_on() -> bool:
    return _desk.get()


def set_desk(on: bool) -> Token[bool]:
    """For the update being handled (reset with ``token.var.reset(token)``)."""
    return _desk.set(on)


@contextmanager
def desk_available(on: bool) -> Iterator[None]:
    token = _desk.set(on)
    try:
        yield
    finally:
        _desk.reset(token)


def call_1414() -> str:
    """The way to a person when the bot has no operators' desk."""
    return _("To talk to a person, call the 1414 contact centre: 1414 or 8-800-080-7777 (free).")


def per_language_and_desk(build: Callable[[bool], _Built]) -> Callable[[], _Built]:
    """``build(desk)`` made once per language and desk setting, in that language, and shared by every update
    in it: for texts and markups nothing changes once sent (the main menu, a keyboard of pydantic objects,
    took ~90 µs to build for every reply carrying it; /start's greeting, four texts through gettext, ~20 µs)."""

    @lru_cache(maxsize=16)
    def made(i18n: I18n, locale: str, desk: bool) -> _Built:
        with i18n.use_locale(locale):
            return build(desk)

    def current() -> _Built:
        i18n = get_i18n()
        return made(i18n, i18n.current_locale, desk_on())

    return current


def _build_main_menu(desk: bool) -> ReplyKeyboardMarkup:
    second = [KeyboardButton(text=_(BTN_QUESTIONS))]
    if desk:
        second.append(KeyboardButton(text=_(BTN_HUMAN)))
        rows = [second, [KeyboardButton(text=BTN_LANGUAGE)]]
    else:
        rows = [second + [KeyboardButton(text=BTN_LANGUAGE)]]
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=_(BTN_COMPLAINT)), KeyboardButton(text=_(BTN_MY))], *rows],
        resize_keyboard=True,
        is_persistent=True,
    )


#: The main menu in the update's language.
main_menu = per_language_and_desk(_build_main_menu)


def reply(message: Message, text: str, reply_markup: ReplyMarkup | None = None) -> SendMessage:
    """``message.answer(text, reply_markup=...)`` built with only the fields it sets in a plain chat: aiogram's
    shortcut hands pydantic all its ~20 parameters (13.5 µs a message; this ~5 µs), for an equal SendMessage
    (tests/test_text_rules.py). A message in a topic or from a business connection gets aiogram's own, which
    sets them."""
    if message.is_topic_message or message.business_connection_id is not None:
        return message.answer(text, reply_markup=reply_markup)
    return SendMessage(chat_id=message.chat.id, text=text, reply_markup=reply_markup).as_(message.bot)


MENU_BUTTONS = (BTN_COMPLAINT, BTN_MY, BTN_QUESTIONS, BTN_HUMAN)


@lru_cache(maxsize=128)
def in_all_languages(i18n: I18n, msgid: str) -> frozenset[str]:
    """A msgid in every language (catalogs are loaded once at start, so this is computed once)."""
    return frozenset({i18n.gettext(msgid, locale=lang) for lang in LANGUAGES} | {msgid})


def is_menu_button(i18n: I18n, text: str | None, msgids: tuple[str, ...] = MENU_BUTTONS) -> bool:
    """Is `text` the language button or one of these main-menu buttons, in any language?"""
    return text in _labels(i18n, msgids)


@lru_cache(maxsize=32)
def _labels(i18n: I18n, msgids: tuple[str, ...]) -> frozenset[str]:
    """The language button and these buttons in every language, in one set: is_menu_button runs about four
    times on every free text (the desk's relay filter, its gates, the FAQ), one lookup instead of five."""
    return frozenset({BTN_LANGUAGE}).union(*(in_all_languages(i18n, msgid) for msgid in msgids))


class MenuButton(BaseFilter):
    """Matches a reply-keyboard button in any language: an old keyboard still works after a language switch."""

    quick_is_exact = True  # handlers/routing.py: its quick check is all it checks

    def __init__(self, msgid: str) -> None:
        self.msgid = msgid

    async def __call__(self, message: Message, i18n: I18n) -> bool:
        return self.quick(message, {"i18n": i18n})

    def quick(self, event: TelegramObject, data: dict[str, Any]) -> bool:  # handlers/routing.py: all it checks
        text = getattr(event, "text", None)
        return text is not None and text in in_all_languages(data["i18n"], self.msgid)


class Magic(BaseFilter):
    """A magic filter (``F.text == ...``) checked on the event loop. aiogram runs a bare magic filter, like any
    synchronous callable, in a worker thread: a thread hop per check on every update that reaches it
    (docs/performance.md). Wrapped in a filter object it costs one call (tests/test_hot_path.py)."""

    def __init__(self, rule: MagicFilter) -> None:
        self.rule = rule
        # handlers/routing.py: its quick check is all it checks, unless the rule gives the handler data (.as_())
        self.quick_is_exact = not gives_data(rule)

    async def __call__(self, event: TelegramObject) -> Any:
        return self.rule.resolve(event)

    def quick(self, event: TelegramObject, data: dict[str, Any]) -> bool:  # handlers/routing.py
        return bool(self.rule.resolve(event))


def gives_data(rule: MagicFilter) -> bool:
    """Does the rule, or a rule it combines, hand the handler its result by name (``.as_("m")``)? Read from the
    rule's operations (magic_filter keeps them in ``_operations``; a combination holds its rules in its slots)."""
    for op in rule._operations:
        if isinstance(op, AsFilterResultOperation):
            return True
        for name in getattr(type(op), "__slots__", ()):
            value = getattr(op, name, None)
            inner = value if isinstance(value, (tuple, list)) else (value,)
            if any(isinstance(v, MagicFilter) and gives_data(v) for v in inner):
                return True
    return False


class QuickRule(BaseFilter):
    """A filter that is nothing but its quick check: handlers/routing.py calls ``quick`` in the gates and at the
    handlers, aiogram calls the filter where a quick check does not run."""

    quick_is_exact = True  # handlers/routing.py: its quick check is all it checks

    async def __call__(self, event: TelegramObject) -> bool:
        return self.quick(event, {})

    @abstractmethod
    def quick(self, event: TelegramObject, data: dict[str, Any]) -> bool:
        """Does the event pass (``data``: the handler's keyword arguments so far)?"""


class TextRule(QuickRule):
    """A rule on a message's text, written out in Python: what a magic filter on the text says (``Magic``), without
    resolving magic_filter's operations (~1 µs for ``F.text == x``, ~2.5 µs for a casefold or a startswith) on
    every text that reaches it, in a feature's gate and again at its handler."""

    def quick(self, event: TelegramObject, data: dict[str, Any]) -> bool:
        return self.accepts(getattr(event, "text", None))

    @abstractmethod
    def accepts(self, text: str | None) -> bool:
        """Does a message with this text (None: no text) pass?"""


class TextIs(TextRule):
    """``F.text == value``."""

    def __init__(self, value: str) -> None:
        self.value = value

    def accepts(self, text: str | None) -> bool:
        return text == self.value


class TextFoldedIn(TextRule):
    """``F.text.casefold().in_(words)`` (/start's and the desk's cancel words: two on every free text), without
    folding a text longer than every word: casefold never makes a text shorter (each character folds to one
    to three), so such a text cannot fold into one of them."""

    def __init__(self, words: frozenset[str]) -> None:
        self.words = words
        self.longest = max(map(len, words), default=0)

    def accepts(self, text: str | None) -> bool:
        return text is not None and len(text) <= self.longest and text.casefold() in self.words


class DataMatch(QuickRule):
    """``F.data.regexp(pattern)`` (a press's data matched from its start, ``re.match``) without magic_filter: the
    stale-button handlers' checks run in the gates every press crosses (~2 µs each through magic_filter)."""

    def __init__(self, pattern: str) -> None:
        self.match = re.compile(pattern).match

    def quick(self, event: TelegramObject, data: dict[str, Any]) -> bool:
        value = getattr(event, "data", None)
        return isinstance(value, str) and self.match(value) is not None


class Private(BaseFilter):
    """A message in a private chat (the operators' group has routers of its own). The router-level filter of
    most features: a plain comparison, on the event loop."""

    quick_is_exact = True  # handlers/routing.py: its quick check is all it checks

    async def __call__(self, message: Message) -> bool:
        return message.chat.type == "private"

    def quick(self, event: TelegramObject, data: dict[str, Any]) -> bool:  # handlers/routing.py
        return event.chat.type == "private"  # type: ignore[attr-defined]  # a message router's filter


def bilingual(i18n: I18n, msgid: str, **params: Any) -> str:
    """The same message in Kazakh, then Russian (for someone whose language is not known yet)."""
    return "\n\n".join(i18n.gettext(msgid, locale=lang).format(**params) for lang in LANGUAGES)


#: A row id as SQLite stores it, for ids carried in callback data: a forged 20-digit id does not unpack (in a
#: query it would raise OverflowError), so the press falls through to its router's "no longer valid" answer.
RowId = Annotated[int, Field(ge=0, lt=2 ** 63)]


class EscalateCb(CallbackData, prefix="esc"):
    """"Send this to the operators' desk": source is "complaint" (ref = complaint id), "faq" or "menu" (ref 0).
    Emitted by the wizard and the FAQ; handled by the operators' desk router."""

    source: str
    ref: RowId = 0
