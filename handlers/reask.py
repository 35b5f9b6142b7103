"""Ask the question a person is on again: the complaint wizard's step or the tracking question. After a
language switch (in the new language), and after a reply that did not reach them (handlers/guards.py, saying
their answers are saved)."""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InaccessibleMessage, Message, TelegramObject
from aiogram.utils.i18n import gettext as _

from handlers import tracking
from handlers.common import LOST_REPLY
from handlers.complaint.flow import Turn, ask_again, turn_for

__all__ = ["ask_again_in", "ask_current_question"]


async def ask_again_in(turn: Turn, message: Message | InaccessibleMessage, bot: Bot, state: FSMContext) -> bool:
    """The current question again in ``turn.lang`` (a language switch). False when there is none."""
    if await ask_again(turn, state):
        return True
    return await tracking.ask_again(message, bot, state, turn.today, turn.lang)


async def ask_current_question(event: TelegramObject, data: dict[str, Any]) -> bool:
    """ReplyGuard's "ask again" after a lost reply: the question this person is on, saying that their answers
    are saved. False if no conversation here can be asked again."""
    turn = turn_for(event, data)
    state: FSMContext = data["state"]
    if await ask_again(turn, state, after_failure=True):
        return True
    message = event if isinstance(event, Message) else event.message if isinstance(event, CallbackQuery) else None
    if not isinstance(message, Message) or not await tracking.in_question(state):
        return False
    await turn.send(_(LOST_REPLY))
    return await tracking.ask_again(message, turn.bot, state, turn.today, turn.lang)
