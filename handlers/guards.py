"""The guard around every conversation step: a reply that failed is never followed by a silent
misunderstanding.

A step saves its answer before it replies (nothing is sent before the step is on disk), so when the reply
finally fails (Telegram down past the retries of bot.services.sender.RetryAfterMiddleware, a bug after the save) the
person is already one question further than what they saw. They will type their answer again, and it must
not land in a field they have never seen. :class:`ReplyGuard`:

* when a private update in a conversation (an FSM state) fails, it leaves a marker in the FSM data;
* the person's next answer (a message or a button press, not a command or a menu button, which are answered
  as usual) is not applied: the bot first asks again the question they are really on, with what it saved
  (the wizard's and the tracking form's own "ask the current step again", as after a language switch);
* it apologises at once, without "try again" (the answer was saved), before the lock on this person's updates
  is released: the apology can never arrive after what the bot says to their next message (the error handler,
  which runs outside that lock, only logs such an update).

Webhook mode: an update delivered again after the instance handling it died mid-way (``replayed`` in the
dispatcher's data, bot/webhook.py) is treated as if the marker were set: it may have been applied before the
crash, so it is never applied a second time; the person is asked the question they are on.

The guard runs in the bot's one outer middleware (handlers/middlewares.py ``Inbound``), around the routers: for
an update in a conversation (``state`` in the dispatcher's data), :meth:`ReplyGuard.reasked` before the
routers when a state is stored, :meth:`ReplyGuard.failed` when they raise. Two calls from Inbound's own frame,
not a method around the routers: a coroutine frame less on every update's await chain.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from aiogram.exceptions import TelegramForbiddenError
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Chat, Message, TelegramObject
from aiogram.utils.i18n import I18n

from handlers.common import is_menu_button

log = logging.getLogger("shagym.guards")

#: Key in the FSM data: the last reply of this conversation may not have reached the person.
REASK = "_reask"

#: Asks the question the person is on again (handlers/reask.py); False when there is none to ask.
Reask = Callable[[TelegramObject, dict[str, Any]], Awaitable[bool]]
#: Tells the person their reply was lost and their answer saved (handlers/errors.py).
Apologise = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

# Set in the task of an update whose lost reply the guard apologised for (one update is one task): the error
# handler must not apologise a second time, and late.
_APOLOGISED: ContextVar[bool] = ContextVar("shagym_lost_reply_apologised", default=False)


def chat_of(event: TelegramObject) -> Chat | None:
    if isinstance(event, Message):
        return event.chat
    if isinstance(event, CallbackQuery) and event.message is not None:
        return event.message.chat
    return None


def _blocked_by(exc: Exception, chat_id: int) -> bool:
    """Telegram refused a request to this chat because the person blocked the bot."""
    return isinstance(exc, TelegramForbiddenError) and getattr(exc.method, "chat_id", None) == chat_id


def _passes(event: TelegramObject, i18n: I18n) -> bool:
    """Commands, menu buttons and the language buttons are answered as usual (the marker stays)."""
    if isinstance(event, CallbackQuery):
        return (event.data or "").startswith("lang:")
    text = (event.text if isinstance(event, Message) else None) or ""
    return text.startswith("/") or is_menu_button(i18n, text)


class ReplyGuard:
    """Before and after the handling of messages and callback queries (see the module docstring)."""

    def __init__(self, reask: Reask, apologise: Apologise) -> None:
        self.reask = reask
        self.apologise = apologise

    async def failed(self, exc: Exception, event: TelegramObject, state: FSMContext, data: dict[str, Any]) -> None:
        """The handling of ``event`` (the update's message or callback query) in a conversation raised ``exc``
        (the caller raises it again): the conversation is marked, and the person gets the apology at once."""
        chat = chat_of(event)
        if chat is not None and chat.type == "private" and await self._mark(state) and \
                not _blocked_by(exc, chat.id):  # nobody to apologise to (the error handler notes it)
            _APOLOGISED.set(True)  # even if it fails: a second try after the lock is gone could come late
            try:
                await self.apologise(event, data)
            except Exception as exc:  # the original error is what matters
                log.warning("could not send the apology: %s", type(exc).__name__)

    @staticmethod
    async def _mark(state: FSMContext) -> bool:
        """Mark a conversation for asking again; False outside one (or when the mark cannot be made)."""
        try:
            if await state.get_state() is None:
                return False
            await state.update_data({REASK: 1})
            return True
        except Exception as exc:  # the original error is what matters
            log.warning("could not mark the conversation for asking again: %s", type(exc).__name__)
            return False

    @staticmethod
    def may_reask(state: FSMContext, data: dict[str, Any]) -> bool:
        """False when :meth:`reasked` would certainly say False at its first test, known without awaiting: not
        replayed, and the stored data (in memory: storage/fsm.py ``peek``) has no marker. Every update in a
        conversation passes here: two coroutine calls (reasked, data_may_have) fewer for each."""
        if data.get("replayed"):
            return True
        peek = getattr(state.storage, "peek", None)
        entry = peek(state.key) if peek is not None else None
        return entry is None or f'"{REASK}":' in entry[1]

    async def reasked(self, event: TelegramObject, data: dict[str, Any], state: FSMContext) -> bool:
        """Before the handling of ``event`` in a conversation (a state is stored): True when the person was asked
        their current question again instead (the event goes no further)."""
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


def apologised_for_lost_reply() -> bool:
    """Did the guard already apologise for the update being handled (its reply was lost in a conversation)?"""
    return _APOLOGISED.get()
