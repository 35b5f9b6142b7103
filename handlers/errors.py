"""The last line of defence: any exception is logged (type and update id only, never text or personal
data) and the person gets a short apology in their language; the bot keeps running."""

from __future__ import annotations

import logging
import traceback
from datetime import datetime, timezone

from aiogram import Bot, Router
from aiogram.exceptions import TelegramForbiddenError
from aiogram.types import ErrorEvent
from aiogram.utils.i18n import I18n

from storage.users import UsersRepo

log = logging.getLogger("shagym.errors")
router = Router(name="errors")

def N_(message: str) -> str:
    return message


APOLOGY = N_("Sorry, something went wrong on our side. Please try again, or send /cancel to start over.")


@router.errors()
async def on_error(event: ErrorEvent, bot: Bot, i18n: I18n, users: UsersRepo, settings) -> bool:
    update = event.update
    person = (update.message and update.message.from_user) or (
        update.callback_query and update.callback_query.from_user
    )
    exc = event.exception
    if (
        isinstance(exc, TelegramForbiddenError)
        and person is not None
        and getattr(exc.method, "chat_id", None) == person.id
    ):
        # The person blocked the bot while we answered them: expected, not a bug, and nobody to apologise to.
        # Remember it, as the sender does; their next message makes them reachable again. (A 403 from any
        # other chat, say the operators' group, is a real problem and is logged below.)
        log.info("update %s: the person has blocked the bot (%s)", update.update_id, update.event_type)
        try:
            await users.mark_unreachable(person.id, datetime.now(timezone.utc))
        except Exception as mark_exc:  # noqa: BLE001
            log.warning("could not mark the user unreachable: %s", type(mark_exc).__name__)
        return True
    # The traceback's frames only: an exception's message may quote what the person typed.
    frames = "".join(traceback.format_tb(event.exception.__traceback__))
    log.error("unhandled %s in update %s (%s)\n%s", type(event.exception).__name__, update.update_id,
              update.event_type, frames)
    message = update.message or update.edited_message or (update.callback_query and update.callback_query.message)
    if message is None or person is None or message.chat.type != "private":
        return True
    try:
        user = await users.get(person.id)
        lang = user.language if user and user.language else settings.default_language
        if update.callback_query is not None:
            await bot.answer_callback_query(update.callback_query.id)
        await bot.send_message(message.chat.id, i18n.gettext(APOLOGY, locale=lang))
    except Exception as exc:  # never let the apology itself take the bot down
        log.warning("could not send the apology: %s", type(exc).__name__)
    return True
