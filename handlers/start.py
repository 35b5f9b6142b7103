"""/start, /help, /language, /cancel and the main menu."""

from __future__ import annotations

from dataclasses import replace

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InaccessibleMessage, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.domain.entities import User
from bot.domain.ports import UsersRepo
from bot.domain.text import LANGUAGES, N_, known_language
from handlers.common import (
    BTN_LANGUAGE,
    NOT_VALID,
    DataMatch,
    Private,
    TextFoldedIn,
    TextIs,
    bilingual,
    call_1414,
    main_menu,
    per_language_and_desk,
    reply,
)
from handlers.complaint.flow import Turn, TurnMiddleware, cancel_requested
from handlers.complaint.states import ComplaintWizard
from handlers.faq import categories_view
from handlers.reask import ask_again_in
from handlers.routing import FeatureRouter

__all__ = ["ask_language", "get_router"]

CANCEL_WORDS = frozenset({"cancel", "отмена", "болдырмау"})
CHOOSE_LANGUAGE = N_("Please choose your language.")


class LangCb(CallbackData, prefix="lang"):
    code: str


def language_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[
            InlineKeyboardButton(text="🇰🇿 Қазақша", callback_data=LangCb(code="kk").pack()),
            InlineKeyboardButton(text="🇷🇺 Русский", callback_data=LangCb(code="ru").pack()),
        ]]
    )


async def ask_language(message: Message | InaccessibleMessage, i18n: I18n) -> None:
    await message.answer(bilingual(i18n, CHOOSE_LANGUAGE), reply_markup=language_keyboard())


def _build_welcome_text(desk: bool) -> str:
    if desk:
        can = _("I can explain your rights and the deadlines, prepare a complaint with every field the law "
                "requires, remind you of the deadlines and pass your case to a person.")
    else:
        can = _("I can explain your rights and the deadlines, prepare a complaint with every field the law "
                "requires and remind you of the deadlines.") + " " + call_1414()
    return "\n\n".join((
        _("Hello! I am Shagym, a helper for complaints about public services in Kazakhstan."),
        can,
        _("This is guidance, not legal advice. Choose below what you need."),
    ))


#: The greeting in the update's language.
welcome_text = per_language_and_desk(_build_welcome_text)


async def start(message: Message, state: FSMContext, command: CommandObject, lang: str) -> None:
    if await state.get_state() == ComplaintWizard.draft.state:  # never throw away what the person typed
        await message.answer(
            welcome_text() + "\n\n" + _(
                "Your unfinished complaint is kept: press “📝 Write a complaint” to continue it, "
                "or send /cancel to delete it."
            ),
            reply_markup=main_menu(),
        )
        return
    await state.clear()
    await reply(message, welcome_text(), reply_markup=main_menu())
    if (command.args or "").strip() == "faq":  # the inline mode's "Ask in a chat with the bot" deep link
        text, markup = categories_view(known_language(lang))
        await message.answer(text, reply_markup=markup)


async def help_(message: Message) -> None:
    await message.answer(
        _(
            "What I can do:\n"
            "/complaint: prepare a complaint step by step and get it as a document\n"
            "/my: your complaints, their deadlines and reminders\n"
            "/faq: answers to common questions (or just type your question)\n"
            "/language: switch between Kazakh and Russian\n"
            "/cancel: stop what we are doing and go back to the menu\n"
            "/mydata: what the bot keeps about you\n"
            "/forget: withdraw your consent and erase your data\n\n"
            "Questions by phone: the 1414 contact centre (1414 or 8-800-080-7777, free)."
        ),
        reply_markup=main_menu(),
    )


async def language(message: Message, i18n: I18n) -> None:
    await ask_language(message, i18n)


async def language_chosen(query: CallbackQuery, callback_data: LangCb, users: UsersRepo, i18n: I18n,
                          state: FSMContext, user: User, turn: Turn) -> None:
    code = callback_data.code
    first_choice = user.language is None
    await users.set_language(query.from_user.id, code)
    with i18n.use_locale(code):
        await query.answer(_("Language changed."))
        if query.message is not None and first_choice:
            await query.message.answer(welcome_text(), reply_markup=main_menu())
        elif query.message is not None:
            in_wizard = await state.get_state() is not None
            text = _("Done, I will speak Kazakh.") if code == "kk" else _("Done, I will speak Russian.")
            if in_wizard:
                text += "\n" + _("We can go on from where we stopped.")
            await query.message.answer(text, reply_markup=main_menu())
            # the step the person is on, asked again in the language they just chose
            await ask_again_in(replace(turn, lang=code), query.message, turn.bot, state)


async def language_unknown(query: CallbackQuery) -> None:
    await query.answer(_(NOT_VALID), show_alert=False)


async def cancel(message: Message, state: FSMContext, turn: Turn) -> None:
    if await cancel_requested(turn, state):
        return  # a complaint draft: asked before it is deleted
    had_state = await state.get_state() is not None
    await state.clear()
    await message.answer(
        _("Cancelled. What would you like to do?") if had_state else _("Main menu."),
        reply_markup=main_menu(),
    )


async def menu(message: Message) -> None:
    await reply(message, _("Main menu."), reply_markup=main_menu())


def get_router() -> Router:
    router = FeatureRouter(name="start")
    router.message.filter(Private())  # the operators' group has its own router
    router.message.middleware(TurnMiddleware())
    router.callback_query.middleware(TurnMiddleware())
    router.message.register(start, CommandStart())
    router.message.register(help_, Command("help"))
    router.message.register(language, Command("language"))
    router.message.register(language, TextIs(BTN_LANGUAGE))
    router.callback_query.register(language_chosen, LangCb.filter(F.code.in_(LANGUAGES)))
    router.callback_query.register(language_unknown, LangCb.filter())
    router.callback_query.register(language_unknown, DataMatch(r"^lang(:|$)"))  # malformed: "lang", "lang:kk:1"
    router.message.register(cancel, Command("cancel"))
    router.message.register(cancel, StateFilter("*"), TextFoldedIn(CANCEL_WORDS))
    router.message.register(menu, Command("menu"))
    return router
