"""What one tracking update needs (:class:`Flow`, injected by :class:`FlowMiddleware`) and the helpers every
tracking handler shares."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InaccessibleMessage, InlineKeyboardMarkup, Message, TelegramObject
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.domain.deadlines import Recipient
from bot.domain.entities import Case, User
from bot.domain.workdays import KzCalendar
from bot.services.cases import CaseService
from handlers.tracking.states import FORM_STEPS, question_of

__all__ = ["Flow", "FlowMiddleware", "Target", "send"]

#: Where an answer goes: the message the person sent (or one of the bot's), or the chat of the button pressed.
Target = Message | InaccessibleMessage | CallbackQuery


async def send(target: Target, bot: Bot, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    if isinstance(target, CallbackQuery):
        await bot.send_message(target.from_user.id, text, reply_markup=markup)
    else:
        await target.answer(text, reply_markup=markup)


@dataclass
class Flow:
    """What one update of tracking needs (the handler's injected dependencies, gathered once)."""

    bot: Bot
    state: FSMContext
    user: User
    cases: CaseService
    settings: Settings
    lang: str
    today: date

    @property
    def cal(self) -> KzCalendar:
        return self.cases.calendar

    async def send(self, target: Target, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        await send(target, self.bot, text, markup)


class FlowMiddleware:
    """Inner middleware of the tracking router: ``flow`` for the handler (built only once one matched). A plain
    function handing back the handler's awaitable, no coroutine frame of its own (as TurnMiddleware,
    handlers/complaint/flow.py)."""

    def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                 event: TelegramObject, data: dict[str, Any]) -> Awaitable[Any]:
        cases: CaseService = data["cases"]
        data["flow"] = Flow(data["bot"], data["state"], data["user"], cases, data["settings"], data["lang"],
                            cases.today())
        return handler(event, data)


def form_sequence(data: dict[str, Any]) -> list[str]:
    """The questions of a new case, in order ("forwarded?" only for the quality authority)."""
    return [s for s in FORM_STEPS if s != "forwarded" or data.get("recipient") == Recipient.QUALITY_AUTHORITY.value]


def next_form_step(data: dict[str, Any]) -> str | None:
    return next((s for s in form_sequence(data) if s not in data), None)


def day_of(data: dict[str, Any], key: str) -> date | None:
    value = data.get(key)
    return date.fromisoformat(value) if value else None


def small_number(text: str) -> int | None:
    """A plain number of at most 3 ASCII digits ("5"), else None: str.isdigit() also accepts "²" and "٣",
    which int() refuses or reads unexpectedly."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 3 else None


async def own_case(flow: Flow, case_id: int) -> Case | None:
    return await flow.cases.own(case_id, flow.user.id)


async def refused_in_wizard(query: CallbackQuery, flow: Flow) -> bool:
    """Tracking never overwrites a complaint draft in progress (another feature holds the conversation): say
    so, and True."""
    current = await flow.state.get_state()
    if current is None or question_of(current) is not None:
        return False
    await query.answer()
    await flow.send(query, _("You are in the middle of writing a complaint. Finish it or send /cancel, then come "
                             "back with /my."))
    return True
