"""Per-update middlewares: who the user is (from SQLite), which language they read, and the language gate."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.types import CallbackQuery, InaccessibleMessage, Message, TelegramObject
from aiogram.types import User as TgUser
from aiogram.utils.i18n import I18n, I18nMiddleware
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.domain.ports import UsersRepo
from handlers.common import desk_available

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class UserMiddleware(BaseMiddleware):
    """Outer update middleware: data["user"] is the stored user of the update (created on first contact)."""

    def __init__(self, users: UsersRepo) -> None:
        self.users = users

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        tg_user: TgUser | None = data.get("event_from_user")
        if tg_user is not None and not tg_user.is_bot:
            data["user"] = await self.users.seen(tg_user.id, tg_user.first_name, tg_user.language_code)
        return await handler(event, data)


class DeskAvailability(BaseMiddleware):
    """Outer update middleware: whether this bot has an operators' desk (handlers.common.desk_on)."""

    def __init__(self, settings: Settings) -> None:
        self.on = settings.operators_chat_id is not None

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        with desk_available(self.on):
            return await handler(event, data)


#: Callback prefixes the language gate lets through: the language choice itself, and the desk's card buttons
#: (pressed by operators, who work in the operators' language whatever their Telegram language).
GATE_PASSES = ("lang:", "dk:")


class UserLanguageMiddleware(I18nMiddleware):
    """The operators' language in the operators' chat; elsewhere the stored language of the user, else the
    configured default."""

    def __init__(self, i18n: I18n, settings: Settings) -> None:
        super().__init__(i18n=i18n)
        self.default_language = settings.default_language
        self.operators_chat_id = settings.operators_chat_id
        self.operators_language = settings.operators_language

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        user = data.get("user")
        chat = data.get("event_chat")
        if chat is not None and chat.id == self.operators_chat_id:  # the operators' chat
            language = self.operators_language
        elif user is not None and user.language:
            language = user.language
        else:
            language = self.default_language
        data["lang"] = language
        return language


class LanguageGate(BaseMiddleware):
    """Private chats only: someone whose language is unknown (not kk/ru on Telegram, never chosen) gets the
    bilingual choice before anything else. The choice itself, the desk's buttons and everything in groups
    (the operators' chat) pass through."""

    def __init__(self, ask: Callable[[Message | InaccessibleMessage], Awaitable[Any]]) -> None:
        self.ask = ask

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user = data.get("user")
        chat = data.get("event_chat")
        if user is None or user.language or chat is None or chat.type != "private":
            return await handler(event, data)
        if isinstance(event, CallbackQuery):
            if (event.data or "").startswith(GATE_PASSES):
                return await handler(event, data)
            await event.answer()
            if event.message is not None:
                await self.ask(event.message)
            return None
        if isinstance(event, Message):
            await self.ask(event)
            return None
        return await handler(event, data)


class UnknownCommand(BaseMiddleware):
    """Outer message middleware of the dispatcher: a command in a private chat that no handler took (a typo,
    an old or foreign command) gets a pointer to /help instead of silence. It wraps every router, so it
    knows that nothing matched, whatever the order of the routers."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        result = await handler(event, data)
        if (
            result is UNHANDLED
            and isinstance(event, Message)
            and event.chat.type == "private"
            and (event.text or "").startswith("/")
        ):
            await event.answer(_("I do not know this command. Send /help to see what I can do."))
            return None
        return result
