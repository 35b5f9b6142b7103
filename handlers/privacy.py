"""Personal data rights (private chats): /mydata (what the bot keeps, as a summary and a JSON file) and /forget
(withdraw consent and erase it, after an explicit confirmation). The consent text, /help, a declined consent
and /mydata lead here. The use cases are bot/services/privacy.py."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardRemove,
)
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from babel.dates import format_date

from bot.config import Settings
from bot.domain.desk import LANGUAGE_LABELS
from bot.domain.privacy import Erasure, summary
from bot.services.privacy import Privacy
from handlers.common import NOT_VALID, Magic, Private
from handlers.routing import FeatureRouter

__all__ = ["ForgetCb", "erase_keyboard", "get_router"]

EXPORT_NAME = "shagym-my-data.json"


class ForgetAction(StrEnum):
    ASK = "ask"  # show the confirmation
    YES = "yes"  # erase now
    NO = "no"  # keep everything


class ForgetCb(CallbackData, prefix="pd"):
    a: ForgetAction


def erase_keyboard() -> InlineKeyboardMarkup:
    """One button that asks for the confirmation of /forget (under /mydata and a declined consent)."""
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=_("🗑 Withdraw consent and erase my data"), callback_data=ForgetCb(a=ForgetAction.ASK).pack())]])


def confirm_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=_("🗑 Yes, erase everything"), callback_data=ForgetCb(a=ForgetAction.YES).pack())],
        [InlineKeyboardButton(text=_("↩️ No, keep it"), callback_data=ForgetCb(a=ForgetAction.NO).pack())],
    ])


async def my_data(message: Message, privacy: Privacy, settings: Settings, lang: str) -> None:
    assert message.from_user is not None  # a private message from a person
    data = await privacy.personal_data(message.from_user.id)

    def date_of(moment: datetime) -> str:
        return format_date(moment.astimezone(settings.tz).date(), format="long", locale=lang)

    text = summary(data, _, ngettext, language_name=_(LANGUAGE_LABELS.get(lang, lang)), date_of=date_of,
                   retention_days=settings.retention_days, draft_ttl_days=settings.draft_ttl_days)
    await message.answer(text, reply_markup=erase_keyboard())
    await message.answer_document(BufferedInputFile(privacy.export_file(data), filename=EXPORT_NAME),
                                  caption=_("📎 Everything the bot keeps about you (JSON)."))


def confirmation_text() -> str:
    return _(
        "Withdraw your consent and erase everything the bot keeps about you? Your drafts, complaints, tracked "
        "complaints with their reminders and your conversation with the operators' desk are deleted for good; "
        "the operators see that you withdrew consent. This cannot be undone.\n\n"
        "To see first what is kept: /mydata."
    )


async def forget(message: Message) -> None:
    await message.answer(confirmation_text(), reply_markup=confirm_keyboard())


async def forget_asked(query: CallbackQuery) -> None:
    await query.answer()
    if query.message is not None:
        await query.message.answer(confirmation_text(), reply_markup=confirm_keyboard())


def erased_text(done: Erasure) -> str:
    parts = [_("Done: everything the bot kept about you is erased, and your consent is withdrawn.")]
    if done.tickets:
        parts.append(_("The operators' desk sees that you withdrew consent; your messages there are removed "
                       "where Telegram allows it."))
    parts.append(_("This chat stays in your Telegram: you can delete it in the app. If you write to the bot "
                   "again, it starts from scratch."))
    return "\n\n".join(parts)


async def forget_confirmed(query: CallbackQuery, privacy: Privacy) -> None:
    done = await privacy.erase(query.from_user.id)
    await query.answer()
    if query.message is not None:
        await _drop_buttons(query)
        await query.message.answer(erased_text(done), reply_markup=ReplyKeyboardRemove())


async def forget_declined(query: CallbackQuery) -> None:
    await query.answer()
    if query.message is not None:
        await _drop_buttons(query)
        await query.message.answer(_("Fine, nothing is erased."))


async def _drop_buttons(query: CallbackQuery) -> None:
    """The confirmation's buttons go away once answered (a message too old to edit keeps them)."""
    if isinstance(query.message, Message):
        try:
            await query.message.edit_reply_markup(reply_markup=None)
        except Exception:  # cosmetic
            pass


async def stale(query: CallbackQuery) -> None:
    await query.answer(_(NOT_VALID))


def get_router() -> Router:
    router = FeatureRouter(name="privacy")
    router.message.filter(Private())
    router.message.register(my_data, Command("mydata"))
    router.message.register(forget, Command("forget"))
    router.callback_query.register(forget_asked, ForgetCb.filter(F.a == ForgetAction.ASK))
    router.callback_query.register(forget_confirmed, ForgetCb.filter(F.a == ForgetAction.YES))
    router.callback_query.register(forget_declined, ForgetCb.filter(F.a == ForgetAction.NO))
    router.callback_query.register(stale, Magic(F.data.regexp(r"^pd(:|$)")))
    return router
