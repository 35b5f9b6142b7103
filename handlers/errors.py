"""The last line of defence: any exception is logged (type and update id only, never text or personal
data) and the person gets a short apology in their language; the bot keeps running."""

from __future__ import annotations

import logging
import traceback

from aiogram import Bot, Router
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
    # The traceback's frames only: an exception's message may quote what the person typed.
    frames = "".join(traceback.format_tb(event.exception.__traceback__))
    log.error("unhandled %s in update %s (%s)\n%s", type(event.exception).__name__, update.update_id,
              update.event_type, frames)
    message = update.message or update.edited_message or (update.callback_query and update.callback_query.message)
    person = (update.message and update.message.from_user) or (
        update.callback_query and update.callback_query.from_user
    )
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
