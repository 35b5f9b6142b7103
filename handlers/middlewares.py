"""Per-update middlewares: who the user is (from SQLite), which language they read, and the language gate.

:class:`Inbound` is the bot's one outer middleware of every update: each job below in one frame, so that an
update pays one middleware call instead of seven (aiogram builds a chain of partials and copies the keyword
dict for each; docs/performance.md). In this order:

0. aiogram's own outer middlewares (errors to the errors observer, the user and chat of the update, the
   conversation's lock and state: :class:`Inbound`'s docstring);
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
from contextvars import Token
from typing import Any

from aiogram import BaseMiddleware, Router
from aiogram.dispatcher.event.bases import UNHANDLED, CancelHandler, SkipHandler
from aiogram.dispatcher.middlewares.user_context import (
    EVENT_CHAT_KEY,
    EVENT_CONTEXT_KEY,
    EVENT_FROM_USER_KEY,
    EVENT_THREAD_ID_KEY,
    UserContextMiddleware,
)
from aiogram.fsm.context import FSMContext
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.types import CallbackQuery, Chat, ErrorEvent, InaccessibleMessage, Message, TelegramObject, Update
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


class _Unlocked:
    """The events isolation of an update without a conversation (no chat and no user: aiogram takes no lock)."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


_UNLOCKED = _Unlocked()


class Inbound(BaseMiddleware):
    """The outer middleware of every update (the module docstring): aiogram's own jobs, then user, desk,
    language, gate, reply guard, what no handler took.

    aiogram's Dispatcher registers three outer middlewares of its own, each a coroutine frame that every update
    in flight keeps on its await chain: ErrorsMiddleware (an exception goes to the errors observer),
    UserContextMiddleware (``event_context``, ``event_from_user``, ``event_chat``, ``event_thread_id``) and
    FSMContextMiddleware (``fsm_storage``; with a conversation, the chat's lock of the events isolation, then
    ``state`` and ``raw_state``). Inbound does their jobs in its own frame, by aiogram's own functions
    (``resolve_event_context``, ``dp.fsm.resolve_event_context``) and in aiogram's order, so a handler gets the
    same data; bot/app.py unregisters them. ``errors``: the router whose errors observer gets an exception
    (the dispatcher), or None when aiogram's ErrorsMiddleware stays outermost (the metrics' middleware counts
    the exceptions between the two). The reply guard's steps are in this frame too. Measured: 5 coroutine frames
    -> 1 per update (bench cost, docs/performance.md).
    """

    def __init__(self, users: UsersRepo, settings: Settings, i18n: I18n, ask_language: AskLanguage,
                 guard: ReplyGuard, fsm: FSMContextMiddleware, errors: Router | None = None) -> None:
        self.users = users
        self.desk = settings.operators_chat_id is not None
        self.languages = Languages(settings)
        self.i18n = i18n
        self.ask_language = ask_language
        self.guard = guard
        self.fsm = fsm
        self.errors = errors

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        update: Update = event  # type: ignore[assignment]  # an outer middleware of dp.update (_context checks)
        try:
            tg_user, chat, state = self._context(event, data)
            async with _UNLOCKED if state is None else self.fsm.events_isolation.lock(key=state.key):
                raw_state: str | None = None
                if state is not None:  # read once the lock is held (aiogram issue 1317), at once when in memory
                    entry = self._peek(state)
                    raw_state = entry[0] if entry is not None else await state.get_state()
                    data["state"] = state
                    data["raw_state"] = raw_state
                # the bot's own jobs
                user: User | None = None
                if tg_user is not None and not tg_user.is_bot:
                    user = data["user"] = await self.users.seen(tg_user.id, tg_user.first_name,
                                                                tg_user.language_code)
                tokens = self._enter(user, chat, data)
                try:
                    inner: Message | CallbackQuery | None = update.message or update.callback_query
                    if inner is None:
                        return await handler(event, data)
                    if unknown_language(user, chat) and await gated(inner, self.ask_language):
                        return None
                    if state is None:
                        result = await handler(event, data)
                    else:  # the reply guard (handlers/guards.py), in this frame
                        try:
                            if raw_state is not None and self.guard.may_reask(state, data) and \
                                    await self.guard.reasked(inner, data, state):
                                return None
                            result = await handler(event, data)
                        except Exception as exc:
                            await self.guard.failed(exc, inner, state, data)
                            raise
                    return result if result is not UNHANDLED else await not_taken(inner)
                finally:
                    self._leave(tokens)
        except (SkipHandler, CancelHandler):
            raise
        except Exception as exc:  # aiogram's ErrorsMiddleware (after the lock and this update's contexts)
            if self.errors is None:
                raise
            response = await self.errors.propagate_event(update_type="error",
                                                         event=ErrorEvent(update=update, exception=exc), **data)
            if response is not UNHANDLED:
                return response
            raise

    def _context(self, event: TelegramObject, data: dict[str, Any]) -> tuple[TgUser | None, Chat | None,
                                                                              FSMContext | None]:
        """aiogram's UserContextMiddleware, and FSMContextMiddleware up to its lock: the update's user, chat and
        conversation (None: no chat and no user)."""
        if not isinstance(event, Update):
            raise RuntimeError("UserContextMiddleware got an unexpected event type!")
        context = data[EVENT_CONTEXT_KEY] = UserContextMiddleware.resolve_event_context(event)
        if context.user is not None:
            data[EVENT_FROM_USER_KEY] = context.user
        if context.chat is not None:
            data[EVENT_CHAT_KEY] = context.chat
        if context.thread_id is not None:
            data[EVENT_THREAD_ID_KEY] = context.thread_id
        fsm = self.fsm
        data["fsm_storage"] = fsm.storage
        return context.user, context.chat, fsm.resolve_event_context(data["bot"], data)

    @staticmethod
    def _peek(state: FSMContext) -> tuple[str | None, str] | None:
        """The conversation if the bot's storage has it at once (storage/fsm.py ``peek``), without
        ``FSMContext.get_state``'s coroutine calls; else None."""
        peek = getattr(state.storage, "peek", None)
        return peek(state.key) if peek is not None else None

    def _enter(self, user: User | None, chat: Chat | None, data: dict[str, Any]) -> tuple[Token[Any], ...]:
        """The update's language (``lang``, ``i18n``, gettext's locale) and desk; :meth:`_leave` resets them."""
        i18n = self.i18n
        language = data["lang"] = self.languages.of(user, chat)
        data["i18n"] = i18n
        return set_desk(self.desk), I18n.set_current(i18n), i18n.ctx_locale.set(language)

    def _leave(self, tokens: tuple[Token[Any], ...]) -> None:
        desk_token, i18n_token, locale_token = tokens
        self.i18n.ctx_locale.reset(locale_token)
        I18n.reset_current(i18n_token)
        desk_token.var.reset(desk_token)


async def not_taken(event: Message | CallbackQuery) -> Any:
    """What no handler took: a press is answered "no longer valid" (Telegram shows a spinner until a query is
    answered), a command in a private chat gets a pointer to /help; else UNHANDLED."""
    if isinstance(event, CallbackQuery):
        await event.answer(_(NOT_VALID))
        return None
    if event.chat.type == "private" and (event.text or "").startswith("/"):
        await event.answer(_("I do not know this command. Send /help to see what I can do."))
        return None
    return UNHANDLED


def unknown_language(user: User | None, chat: Chat | None) -> bool:
    """Someone whose language is unknown (not kk/ru on Telegram, never chosen), in a private chat: the gate's."""
    return user is not None and not user.language and chat is not None and chat.type == "private"


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
