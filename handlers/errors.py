"""The last line of defence: any exception is logged (type and update id only, never text or personal
data) and the person gets a short apology in their language; the bot keeps running. A reply Telegram did not
take (after the retries) is a delivery failure, logged as a warning. When it followed a saved step of a
conversation, handlers/guards.py has already apologised (:func:`apologise_for_lost_reply`: never "try again",
and sent before the person's next message is handled; it asks their question again on that message)."""

from __future__ import annotations

import logging
import traceback
from typing import Any, Callable

from aiogram import Bot, Router
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.exceptions import (
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import CallbackQuery, Chat, ErrorEvent, TelegramObject, Update
from aiogram.types import User as TgUser
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.domain.clock import Clock
from bot.domain.ports import UsersRepo
from bot.domain.text import N_
from bot.services.sender import callback_answered
from handlers.guards import apologised_for_lost_reply, chat_of
from handlers.routing import FeatureRouter

log = logging.getLogger("shagym.errors")

APOLOGY = N_("Sorry, something went wrong on our side. Nothing you saved before is lost: send /start to see the "
             "menu.")
#: After a step whose answer was saved but whose reply did not get through (handlers/guards.py): never "try
#: again", which would put their answer into the next field.
APOLOGY_STEP = N_("Sorry, my reply did not get through because of a failure on our side. Your answer is saved: "
                  "send any message and I will show you the question you are on.")

#: Telegram did not take a reply (after the retries): a delivery failure, not a bug in the bot.
DELIVERY = (TelegramNetworkError, TelegramServerError, TelegramRetryAfter)


def get_router() -> Router:
    router = FeatureRouter(name="errors")
    router.errors.register(on_error)
    return router


def _person_of(update: Update) -> TgUser | None:
    if update.message is not None and update.message.from_user is not None:
        return update.message.from_user
    return update.callback_query.from_user if update.callback_query is not None else None


def _chat_of(update: Update) -> Chat | None:
    message = update.message or update.edited_message or (
        update.callback_query.message if update.callback_query is not None else None)
    return message.chat if message is not None else None


def _log(update: Update, exc: Exception) -> None:
    if isinstance(exc, DELIVERY):
        log.warning("update %s (%s): the reply was not delivered: %s", update.update_id, update.event_type,
                    type(exc).__name__)
        return
    # The traceback's frames only: an exception's message may quote what the person typed.
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("unhandled %s in update %s (%s)\n%s", type(exc).__name__, update.update_id, update.event_type, frames)


async def apologise_for_lost_reply(event: TelegramObject, data: dict[str, Any]) -> None:
    """The apology after a saved step whose reply did not get through (handlers/guards.py calls it while the
    person's next update still waits): the pressed button is answered first, so that it stops spinning."""
    if isinstance(event, CallbackQuery) and not callback_answered(event.id):
        try:
            await event.answer()
        except Exception as exc:  # the apology below matters more
            log.warning("could not answer the callback query: %s", type(exc).__name__)
    chat = chat_of(event)
    if chat is not None:
        await data["bot"].send_message(chat.id, _(APOLOGY_STEP))


async def on_error(event: ErrorEvent, bot: Bot, i18n: I18n, users: UsersRepo, settings: Settings,
                   clock: Clock, transient_error: Callable[[BaseException], bool] | None = None) -> Any:
    update, exc = event.update, event.exception
    if transient_error is not None and transient_error(exc):
        # Webhook mode (bot/webhook.py): the database or Redis failed, not the bot. The update is answered
        # 500 and Telegram delivers it again; ReplyGuard has marked a conversation it may have moved.
        log.warning("update %s (%s): %s; Telegram will deliver it again", update.update_id, update.event_type,
                    type(exc).__name__)
        return UNHANDLED
    person = _person_of(update)
    if isinstance(exc, TelegramForbiddenError) and person is not None and \
            getattr(exc.method, "chat_id", None) == person.id:
        # The person blocked the bot while we answered them: expected, not a bug, and nobody to apologise to.
        # Remember it, as the sender does; their next message makes them reachable again. (A 403 from any
        # other chat, say the operators' group, is a real problem and is logged below.)
        log.info("update %s: the person has blocked the bot (%s)", update.update_id, update.event_type)
        try:
            await users.mark_unreachable(person.id, clock.now())
        except Exception as mark_exc:  # the log line below is all that is left to do
            log.warning("could not mark the user unreachable: %s", type(mark_exc).__name__)
        return True
    _log(update, exc)
    chat = _chat_of(update)
    if chat is None or person is None or chat.type != "private" or apologised_for_lost_reply():
        return True
    query = update.callback_query
    if query is not None and not callback_answered(query.id):  # the spinner stops even if the apology fails
        try:
            await bot.answer_callback_query(query.id)
        except Exception as exc2:  # the apology below matters more
            log.warning("could not answer the callback query: %s", type(exc2).__name__)
    try:
        user = await users.get(person.id)
        lang = user.language if user and user.language else settings.default_language
        await bot.send_message(chat.id, i18n.gettext(APOLOGY, locale=lang))
    except Exception as exc3:  # never let the apology itself take the bot down
        log.warning("could not send the apology: %s", type(exc3).__name__)
    return True
