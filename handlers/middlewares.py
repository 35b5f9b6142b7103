"""Per-update middlewares: who the user is (from SQLite), which language they read, and the language gate.

:class:`Inbound` is the bot's one outer middleware of every update: each job below in one frame, so that an
update pays one middleware call instead of seven (aiogram builds a chain of partials and copies the keyword
dict for each; docs/performance.md). In this order:

1. who the user is (``data["user"]``, created on first contact);
2. whether this bot has an operators' desk (:func:`handlers.common.desk_on`) and the language of the update
   (``data["lang"]``, ``data["i18n"]`` and gettext's locale: :func:`language_of`);
3. a private message or button press from someone whose language is unknown gets the bilingual choice and
   nothing else (the language gate: :func:`gated`);
4. a message or press goes through the reply guard (handlers/guards.py: a failed reply is followed by the
   question the person is really on);
5. what no handler took: a command in a private chat gets a pointer to /help, a press "no longer valid"
   (Telegram shows a spinner until a query is answered). Outside the guard, as it wraps every router: it
   knows that nothing matched, whatever the order of the routers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.types import CallbackQuery, Chat, InaccessibleMessage, Message, TelegramObject, Update
from aiogram.types import User as TgUser
from aiogram.utils.i18n import I18n, I18nMiddleware
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.domain.entities import User
from bot.domain.ports import UsersRepo
from handlers.common import NOT_VALID, set_desk
from handlers.guards import ReplyGuard

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
#: Sends the bilingual language choice in reply to a message (handlers/start.py ask_language).
AskLanguage = Callable[[Message | InaccessibleMessage], Awaitable[Any]]

#: Callback prefixes the language gate lets through: the language choice itself, and the desk's card buttons
#: (pressed by operators, who work in the operators' language whatever their Telegram language).
GATE_PASSES = ("lang:", "dk:")


class Languages:
    """The operators' language in the operators' chat; elsewhere the stored language of the user, else the
    configured default."""

    def __init__(self, settings: Settings) -> None:
        self.default_language = settings.default_language
        self.operators_chat_id = settings.operators_chat_id
        self.operators_language = settings.operators_language

    def of(self, user: User | None, chat: Chat | None) -> str:
        if chat is not None and chat.id == self.operators_chat_id:  # the operators' chat
            return self.operators_language
        if user is not None and user.language:
            return user.language
        return self.default_language


class UserLanguageMiddleware(I18nMiddleware):
    """aiogram's i18n middleware with :class:`Languages`: for the events :class:`Inbound` does not wrap (the
    errors observer: the error handler runs after the update's own frame has ended)."""

    def __init__(self, i18n: I18n, settings: Settings) -> None:
        super().__init__(i18n=i18n)
        self.languages = Languages(settings)

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        language = data["lang"] = self.languages.of(data.get("user"), data.get("event_chat"))
        return language


class Inbound(BaseMiddleware):
    """The outer middleware of every update (the module docstring): user, desk, language, gate, reply guard,
    what no handler took."""

    def __init__(self, users: UsersRepo, settings: Settings, i18n: I18n, ask_language: AskLanguage,
                 guard: ReplyGuard) -> None:
        self.users = users
        self.desk = settings.operators_chat_id is not None
        self.languages = Languages(settings)
        self.i18n = i18n
        self.ask_language = ask_language
        self.guard = guard

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        tg_user: TgUser | None = data.get("event_from_user")
        user: User | None = None
        if tg_user is not None and not tg_user.is_bot:
            user = data["user"] = await self.users.seen(tg_user.id, tg_user.first_name, tg_user.language_code)
        chat: Chat | None = data.get("event_chat")
        i18n = self.i18n
        language = data["lang"] = self.languages.of(user, chat)
        data["i18n"] = i18n
        desk_token = set_desk(self.desk)
        i18n_token = I18n.set_current(i18n)
        locale_token = i18n.ctx_locale.set(language)
        try:
            update: Update = event  # type: ignore[assignment]  # an outer middleware of dp.update
            inner: Message | CallbackQuery | None = update.message
            if inner is None:
                inner = update.callback_query
            if inner is None:
                return await handler(event, data)
            if user is not None and not user.language and chat is not None and chat.type == "private" and \
                    await gated(inner, self.ask_language):
                return None
            result = await self.guard.around(handler, event, inner, data)
            if result is not UNHANDLED:
                return result
            if isinstance(inner, CallbackQuery):
                await inner.answer(_(NOT_VALID))
                return None
            if inner.chat.type == "private" and (inner.text or "").startswith("/"):
                await inner.answer(_("I do not know this command. Send /help to see what I can do."))
                return None
            return result
        finally:
            i18n.ctx_locale.reset(locale_token)
            I18n.reset_current(i18n_token)
            desk_token.var.reset(desk_token)


async def gated(event: Message | CallbackQuery, ask: AskLanguage) -> bool:
    """The language gate, for a private message or press of someone whose language is unknown (not kk/ru on
    Telegram, never chosen): True when they were asked to choose (the event goes no further). The choice
    itself and the desk's buttons pass."""
    if isinstance(event, CallbackQuery):
        if (event.data or "").startswith(GATE_PASSES):
            return False
        await event.answer()
        if event.message is not None:
            await ask(event.message)
        return True
    await ask(event)
    return True
