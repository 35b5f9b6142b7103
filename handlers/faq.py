"""Questions: browse the 1414-style FAQ by category, ask in your own words, or ask inline (@bot question).

Callback data (all well under Telegram's 64 bytes, entry ids are at most ~25 characters):
    faq:h:          the list of categories
    faq:c:<cat>     the questions of one category
    faq:t:<entry>   one answer (browsing and the "maybe you meant" buttons)
Unknown or forged ids get "This button is no longer valid.".

The free-text handler is the catch-all of the bot: it only runs in private chats, outside any wizard step
(no FSM state), for text that is not a command. Nothing here ever reacts in a group.
"""

from __future__ import annotations

import re
from contextlib import suppress
from enum import StrEnum
from functools import lru_cache

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQuery,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    Message,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.domain.entities import User
from bot.domain.faq import Entry, FaqIndex, default_index, small_talk
from bot.domain.text import LANGUAGES, escape, known_language
from handlers.buttons import button
from handlers.common import (
    BTN_HUMAN,
    BTN_QUESTIONS,
    NOT_VALID,
    DataMatch,
    EscalateCb,
    MenuButton,
    Private,
    TextRule,
    call_1414,
    desk_on,
    in_all_languages,
    is_menu_button,
    main_menu,
    reply,
)
from handlers.routing import FeatureRouter

MAX_QUERY = 500  # longer messages are searched on their beginning
INLINE_LIMIT = 5
INLINE_CACHE_SECONDS = 30
# Shown for an empty inline query (the most asked topics first); ids missing from the data are skipped.
POPULAR = ("where_to_complain", "review_term_provider", "deadline_violated", "rude_con_employee", "what_is_1414")
_KK_LETTERS = re.compile("[әғқңөұүһіӘҒҚҢӨҰҮҺІ]")



class FaqKind(StrEnum):
    HOME = "h"  # the list of categories
    CATEGORY = "c"  # id = a category
    TOPIC = "t"  # id = an entry


class FaqCb(CallbackData, prefix="faq"):
    kind: FaqKind
    id: str = ""


def index() -> FaqIndex:
    return default_index()


def _pick(texts: dict[str, str], lang: str) -> str:
    return texts.get(lang) or texts.get("ru") or texts.get("kk") or next(iter(texts.values()), "")


def answer_html(entry: Entry, lang: str) -> str:
    """Title in bold and the answer; the FAQ texts are plain text, so both are escaped."""
    return f"<b>{escape(_pick(entry.title, lang))}</b>\n\n{escape(_pick(entry.answer, lang))}"


_ESCALATE = EscalateCb(source="faq").pack()
_HOME = FaqCb(kind=FaqKind.HOME).pack()


def topic_data(entry_id: str) -> str:
    """FaqCb(kind=FaqKind.TOPIC, id=entry_id).pack(), written out: ~3 µs less a button on every answer
    (tests/test_faq_bot.py compares them for every entry)."""
    return f"{FaqCb.__prefix__}:{FaqKind.TOPIC.value}:{entry_id}"


def person_rows() -> list[list[InlineKeyboardButton]]:
    """"Talk to a person" under an answer, when the bot has an operators' desk."""
    if not desk_on():
        return []
    return [[button(_(BTN_HUMAN), _ESCALATE)]]


def all_questions_button() -> InlineKeyboardButton:
    return button(_("📚 All questions"), _HOME)


def answer_keyboard(others: list[Entry], lang: str) -> InlineKeyboardMarkup | None:
    """"Maybe you meant" under an answer, then "Talk to a person" (with a desk). Kept by what it shows (~30 µs
    to build, ~2 µs kept): the few answers people ask most come back with the same neighbours."""
    topics = tuple((e.id, _pick(e.title, lang)) for e in others)
    return _answer_keyboard(topics, _(BTN_HUMAN) if desk_on() else None)


@lru_cache(maxsize=512)  # ~2 KB each
def _answer_keyboard(topics: tuple[tuple[str, str], ...], person: str | None) -> InlineKeyboardMarkup | None:
    rows = [[button(f"🔎 {title}", topic_data(entry_id))] for entry_id, title in topics]
    if person is not None:
        rows.append([button(person, _ESCALATE)])
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def categories_view(lang: str) -> tuple[str, InlineKeyboardMarkup]:
    ix = index()
    rows = [
        [InlineKeyboardButton(text=_pick(c.title, lang), callback_data=FaqCb(kind=FaqKind.CATEGORY, id=c.id).pack())]
        for c in ix.categories()
        if ix.entries_in(c.id)
    ]
    rows += person_rows()
    text = _("Questions and answers. Choose a topic, or simply type your question in your own words.")
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


def category_view(category_id: str, lang: str) -> tuple[str, InlineKeyboardMarkup] | None:
    ix = index()
    category = next((c for c in ix.categories() if c.id == category_id), None)
    entries = ix.entries_in(category_id) if category is not None else []
    if category is None or not entries:
        return None
    rows = [
        [InlineKeyboardButton(text=_pick(e.title, lang), callback_data=FaqCb(kind=FaqKind.TOPIC, id=e.id).pack())]
        for e in entries
    ]
    rows.append([InlineKeyboardButton(text=_("⬅️ Back"), callback_data=FaqCb(kind=FaqKind.HOME).pack())])
    text = f"<b>{escape(_pick(category.title, lang))}</b>\n" + _("Choose a question:")
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


def not_found_text() -> str:
    if desk_on():
        help_ = _("A person from our team can help, or call the 1414 contact centre: 1414 or 8-800-080-7777 (free).")
    else:
        help_ = call_1414()
    return _("I could not find an answer to that question.") + "\n" + help_


def not_found_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[*person_rows(), [all_questions_button()]])


def small_talk_reply(kind: str) -> str:
    """The answer to a greeting, thanks, a goodbye or a bare acknowledgement ("ок", "түсіндім") (`small_talk`)."""
    if kind == "greeting":
        return _("Hello! I help with complaints about public services. Choose what you need in the menu below, or "
                 "type your question in your own words.")
    if kind == "goodbye":
        return _("Goodbye! If you need anything else, I am here: choose it in the menu below or type your question.")
    if kind == "ack":
        return _("Good. If you need anything else, choose it in the menu below or type your question.")
    return _("You are welcome! If you need anything else, choose it in the menu below or type your question.")


# --- browsing -------------------------------------------------------------------------------------------------------


async def faq_entry(message: Message, lang: str) -> None:
    text, markup = categories_view(known_language(lang))
    await message.answer(text, reply_markup=markup)


async def _show(query: CallbackQuery, bot: Bot, text: str, markup: InlineKeyboardMarkup) -> None:
    """Replace the browsing message in place; a message too old to edit gets a new one instead."""
    if isinstance(query.message, Message):
        try:
            await query.message.edit_text(text, reply_markup=markup)
            return
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:  # a double tap
                return
    await bot.send_message(query.from_user.id, text, reply_markup=markup)


async def on_home(query: CallbackQuery, bot: Bot, lang: str) -> None:
    text, markup = categories_view(known_language(lang))
    await query.answer()
    await _show(query, bot, text, markup)


async def on_category(query: CallbackQuery, callback_data: FaqCb, bot: Bot, lang: str) -> None:
    view = category_view(callback_data.id, known_language(lang))
    if view is None:
        await query.answer(_(NOT_VALID))
        return
    await query.answer()
    await _show(query, bot, *view)


async def on_topic(query: CallbackQuery, callback_data: FaqCb, bot: Bot, lang: str) -> None:
    try:
        entry = index().entry(callback_data.id)
    except KeyError:
        await query.answer(_(NOT_VALID))
        return
    await query.answer()
    # A new message: the list (or the first answer) it came from stays usable.
    await bot.send_message(query.from_user.id, answer_html(entry, known_language(lang)), reply_markup=answer_keyboard([], lang))


async def on_stale(query: CallbackQuery) -> None:
    """Malformed or unknown faq:* data (an old keyboard, a forged press)."""
    await query.answer(_(NOT_VALID))


# --- free text (the bot's catch-all: keep this router last) -----------------------------------------------------


async def free_text(message: Message, lang: str, i18n: I18n) -> None:
    lang = known_language(lang)
    text = message.text or ""
    if text in in_all_languages(i18n, BTN_HUMAN):
        # Normally the operators' desk answers its own menu button first; never search the button's label.
        await reply(message, not_found_text(), reply_markup=not_found_keyboard())
        return
    if is_menu_button(i18n, text):  # another feature's menu button nobody took: show the topics instead
        view_text, markup = categories_view(lang)
        await reply(message, view_text, reply_markup=markup)
        return
    ix = index()
    query = text[:MAX_QUERY]
    hits = ix.search(query, lang=lang, limit=3)
    if not hits:
        # Small talk is asked only here: search() answers [] for every text small_talk() names, so asking it
        # before the search (as this did) only folded and checked every question twice (~7 µs, bench faq texts).
        talk = small_talk(query)
        if talk is not None:  # "привет", "спасибо", "до свидания": a friendly word back and the menu
            await reply(message, small_talk_reply(talk), reply_markup=main_menu())
            return
        await reply(message, not_found_text(), reply_markup=not_found_keyboard())
        return
    best = ix.entry(hits[0].id)
    others = [ix.entry(h.id) for h in hits[1:3] if h.id != best.id]
    body = answer_html(best, lang)
    if others:
        body += "\n\n" + _("Not quite it? Maybe you meant:")
    await reply(message, body, reply_markup=answer_keyboard(others, lang))


async def not_text(message: Message) -> None:
    await message.answer(_("I understand text only here: use the menu below, or type your question in words."))


# --- inline mode ----------------------------------------------------------------------------------------------------


def guess_language(text: str) -> str:
    return "kk" if _KK_LETTERS.search(text) else "ru"


def _first_line(text: str, limit: int = 120) -> str:
    line = text.strip().split("\n", 1)[0].strip()
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    if " " in cut[limit // 2 :]:  # end on a whole word
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:—-") + "…"


def inline_article(entry: Entry, lang: str) -> InlineQueryResultArticle:
    return InlineQueryResultArticle(
        id=f"{entry.id}.{lang}"[:64],
        title=_pick(entry.title, lang),
        description=_first_line(_pick(entry.answer, lang)),
        input_message_content=InputTextMessageContent(message_text=answer_html(entry, lang), parse_mode="HTML"),
    )


async def inline_faq(inline_query: InlineQuery, i18n: I18n, user: User | None = None) -> None:
    query = (inline_query.query or "").strip()[:MAX_QUERY]
    lang = user.language if user is not None and user.language in LANGUAGES else guess_language(query)
    ix = index()
    if query:
        entries = [ix.entry(h.id) for h in ix.search(query, lang=lang, limit=INLINE_LIMIT)]
    else:
        known = set(ix.ids())
        entries = [ix.entry(i) for i in POPULAR if i in known][:INLINE_LIMIT]
    button = None
    if not entries:
        button = InlineQueryResultsButton(
            text=i18n.gettext("Ask in a chat with the bot", locale=lang), start_parameter="faq"
        )
    with suppress(TelegramBadRequest):  # the query expired while we searched: nothing to do
        await inline_query.answer(
            [inline_article(e, lang) for e in entries],
            cache_time=INLINE_CACHE_SECONDS,
            is_personal=True,
            button=button,
        )


class FreeText(TextRule):
    """``F.text & ~F.text.startswith("/")``: a text, not a command."""

    def accepts(self, text: str | None) -> bool:
        return text is not None and text[:1] not in ("", "/")


class NoText(TextRule):
    """``~F.text``: a message without text (a photo, a sticker)."""

    def accepts(self, text: str | None) -> bool:
        return not text


def get_router() -> Router:
    router = FeatureRouter(name="faq")
    router.message.filter(Private())  # the operators' group (and any other group) is not ours
    router.message.register(faq_entry, Command("faq"))
    router.message.register(faq_entry, MenuButton(BTN_QUESTIONS))
    router.callback_query.register(on_home, FaqCb.filter(F.kind == FaqKind.HOME))
    router.callback_query.register(on_category, FaqCb.filter(F.kind == FaqKind.CATEGORY))
    router.callback_query.register(on_topic, FaqCb.filter(F.kind == FaqKind.TOPIC))
    router.callback_query.register(on_stale, DataMatch(r"^faq(:|$)"))
    router.message.register(free_text, StateFilter(None), FreeText())
    router.message.register(not_text, StateFilter(None), NoText())
    router.inline_query.register(inline_faq)
    return router
