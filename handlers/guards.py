"""Guards around every conversation step: a reply that failed is never followed by a silent misunderstanding,
and no button is left spinning.

A step saves its answer before it replies (nothing is sent before the step is on disk), so when the reply
finally fails (Telegram down past the retries of bot.services.sender.RetryAfterMiddleware, a bug after the save) the
person is already one question further than what they saw. They will type their answer again, and it must
not land in a field they have never seen. :class:`ReplyGuard`:

* when a private update in a conversation (an FSM state) fails, it leaves a marker in the FSM data;
* the person's next answer (a message or a button press, not a command or a menu button, which are answered
  as usual) is not applied: the bot first asks again the question they are really on, with what it saved
  (the wizard's and the tracking form's own "ask the current step again", as after a language switch);
* the error handler sees the marker and apologises without "try again" (the answer was saved).

Webhook mode: an update delivered again after the instance handling it died mid-way (``replayed`` in the
dispatcher's data, bot/webhook.py) is treated as if the marker were set: it may have been applied before the
crash, so it is never applied a second time; the person is asked the question they are on.

:class:`AnswerEveryCallback` answers every callback query that no handler took (an old keyboard, empty
data, a game button): Telegram shows a spinner until a query is answered.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Chat, Message, TelegramObject
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from handlers.common import NOT_VALID, is_menu_button

log = logging.getLogger("shagym.guards")

#: Key in the FSM data: the last reply of this conversation may not have reached the person.
REASK = "_reask"

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
#: Asks the question the person is on again (handlers/reask.py); False when there is none to ask.
Reask = Callable[[TelegramObject, dict[str, Any]], Awaitable[bool]]


def chat_of(event: TelegramObject) -> Chat | None:
    if isinstance(event, Message):
        return event.chat
    if isinstance(event, CallbackQuery) and event.message is not None:
        return event.message.chat
    return None


def _passes(event: TelegramObject, i18n: I18n) -> bool:
    """Commands, menu buttons and the language buttons are answered as usual (the marker stays)."""
    if isinstance(event, CallbackQuery):
        return (event.data or "").startswith("lang:")
    text = (event.text if isinstance(event, Message) else None) or ""
    return text.startswith("/") or is_menu_button(i18n, text)


class ReplyGuard(BaseMiddleware):
    """Outer middleware of private messages and callback queries (see the module docstring)."""

    def __init__(self, reask: Reask) -> None:
        self.reask = reask

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        state: FSMContext | None = data.get("state")
        if state is None:
            return await handler(event, data)
        try:
            if data.get("raw_state") is not None and await self._reasked(event, data, state):
                return None
            return await handler(event, data)
        except Exception:
            chat = chat_of(event)
            if chat is not None and chat.type == "private":
                try:
                    if await state.get_state() is not None:
                        await state.update_data({REASK: 1})
                except Exception as exc:  # the original error is what matters
                    log.warning("could not mark the conversation for asking again: %s", type(exc).__name__)
            raise

    async def _reasked(self, event: TelegramObject, data: dict[str, Any], state: FSMContext) -> bool:
        replayed = bool(data.get("replayed"))
        may_have = getattr(state.storage, "data_may_have", None)  # the SQLite storage: no parsing per update
        if not replayed and may_have is not None and not await may_have(state.key, REASK):
            return False
        chat = chat_of(event)
        if chat is None or chat.type != "private" or _passes(event, data["i18n"]):
            return False
        fsm = await state.get_data()
        if not fsm.get(REASK) and not replayed:
            return False
        if REASK in fsm:
            del fsm[REASK]
            await state.set_data(fsm)
        if not await self.reask(event, data):
            return False
        if isinstance(event, CallbackQuery):
            await event.answer()
        log.info("asked the current question again after a lost reply")
        return True


async def reply_was_lost(state: FSMContext | None) -> bool:
    """Did the update that just failed leave its conversation marked for asking again?"""
    if state is None or await state.get_state() is None:
        return False
    return bool((await state.get_data()).get(REASK))


class AnswerEveryCallback(BaseMiddleware):
    """Outer callback-query middleware: a query no handler took is answered ("no longer valid")."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        result = await handler(event, data)
        if result is UNHANDLED and isinstance(event, CallbackQuery):
            await event.answer(_(NOT_VALID))
            return None
        return result
