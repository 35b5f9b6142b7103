"""App factory: builds the Bot, the Dispatcher (routers, middlewares, long-lived dependencies), storage and
scheduler, and owns their start and stop. Polling, console mode and the tests all use this one factory."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseEventIsolation
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.types import BotCommand, Message
from aiogram.utils.i18n import I18n
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.clock import Clock
from bot.config import Settings
from bot.i18n import build_i18n
from bot.reminder_loop import ReminderService
from bot.logs import protect_personal_data
from bot.sender import RetryAfterMiddleware, Sender, TelegramLimits
from bot.updates import SkipUnparsableUpdates
from handlers import build_router
from handlers.guards import AnswerEveryCallback, ReplyGuard
from handlers.middlewares import (
    DeskAvailability,
    LanguageGate,
    UnknownCommand,
    UserLanguageMiddleware,
    UserMiddleware,
)
from storage.calendar import CalendarRepo
from storage.cases import CasesRepo, RemindersRepo
from storage.complaints import ComplaintsRepo
from storage.db import Database
from storage.fsm import CommitBarrier, SQLiteStorage
from storage.users import UsersRepo

log = logging.getLogger(__name__)

CONSOLE_TOKEN = "42:console"

COMMANDS = (
    ("start", "Start over and show the menu"),
    ("complaint", "Write a complaint"),
    ("my", "My complaints and deadlines"),
    ("faq", "Questions and answers"),
    ("language", "Switch language"),
    ("help", "What the bot can do"),
    ("cancel", "Cancel the current step"),
)


def N_(message: str) -> str:
    return message


# Extraction markers for the command descriptions above.
N_("Start over and show the menu")
N_("Write a complaint")
N_("My complaints and deadlines")
N_("Questions and answers")
N_("Switch language")
N_("What the bot can do")
N_("Cancel the current step")


@dataclass
class App:
    settings: Settings
    bot: Bot
    dp: Dispatcher
    db: Database
    fsm: SQLiteStorage
    i18n: I18n
    clock: Clock
    scheduler: AsyncIOScheduler
    deps: dict[str, Any] = field(default_factory=dict)
    #: Background tasks' stops (the desk's outbox pump), run first at close.
    closers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    async def close(self) -> None:
        for stop in self.closers:
            await stop()
        self.closers.clear()
        for router in list(self.dp.sub_routers):  # let a restarted app in this process attach them again
            self.dp.sub_routers.remove(router)
            router._parent_router = None
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.deps["reminder_service"].stop()
        await self.fsm.close()
        await self.db.close()
        await self.bot.session.close()


def make_session(settings: Settings) -> BaseSession:
    if settings.telegram_api_base:
        return AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_base))
    return AiohttpSession()


async def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    session: BaseSession | None = None,
    events_isolation: BaseEventIsolation | None = None,
) -> App:
    clock = clock or Clock()
    protect_personal_data()  # before the first query or update: nothing a person typed reaches a log
    i18n = build_i18n(settings.default_language)
    db = await Database.open(settings.database_path)
    fsm = await SQLiteStorage.open(settings.database_path, now=clock.now)
    token = settings.bot_token.get_secret_value() or CONSOLE_TOKEN
    bot = Bot(
        token=token,
        session=session or make_session(settings),
        default=DefaultBotProperties(parse_mode="HTML", link_preview_is_disabled=True),
    )
    bot.session.middleware(CommitBarrier(fsm))  # nothing is sent before the step it answers is on disk
    bot.session.middleware(TelegramLimits())  # every text and caption within Telegram's limits, in one place
    reply_retry = RetryAfterMiddleware()  # a direct reply waits out a 429, a 5xx, a dropped connection
    bot.session.middleware(reply_retry)
    bot.session.middleware(SkipUnparsableUpdates())  # one update aiogram cannot parse never wedges polling
    users = UsersRepo(db)
    calendars = CalendarRepo(db)
    await calendars.load()
    scheduler = AsyncIOScheduler(timezone="UTC")
    cases, reminders = CasesRepo(db), RemindersRepo(db)
    sender = Sender(bot)  # the one path for every message sent outside a direct reply
    reminder_service = ReminderService(
        db, users, cases, reminders, sender, i18n, clock, settings, cal_provider=lambda: calendars.calendar
    )
    deps: dict[str, Any] = {
        "settings": settings,
        "db": db,
        "users": users,
        "calendars": calendars,
        "complaints": ComplaintsRepo(db, tz=settings.tz),
        "cases": cases,
        "reminders": reminders,
        "sender": sender,
        "reminder_service": reminder_service,
        "clock": clock,
        "scheduler": scheduler,
        "reply_retry": reply_retry,
    }
    dp = Dispatcher(storage=fsm, events_isolation=events_isolation or SimpleEventIsolation(), **deps)
    dp.update.outer_middleware(UserMiddleware())
    dp.update.outer_middleware(DeskAvailability())
    UserLanguageMiddleware(i18n, settings.default_language).setup(dp)

    async def ask_language(message: Message) -> None:
        from handlers.start import ask_language as ask

        await ask(message, i18n)

    gate = LanguageGate(ask_language)
    dp.message.outer_middleware(gate)
    dp.callback_query.outer_middleware(gate)
    dp.message.outer_middleware(UnknownCommand())  # after the gate: only people whose language is known
    dp.callback_query.outer_middleware(AnswerEveryCallback())  # no button left spinning
    guard = ReplyGuard()  # a failed reply: the next answer is met by the question the person is really on
    dp.message.outer_middleware(guard)
    dp.callback_query.outer_middleware(guard)
    dp.include_router(build_router())

    app = App(settings, bot, dp, db, fsm, i18n, clock, scheduler, deps)
    dp["app"] = app
    dp.startup.register(_on_startup)
    dp.shutdown.register(_on_shutdown)
    return app


async def register_commands(bot: Bot, i18n: I18n) -> None:
    """setMyCommands for kk and ru, and a bilingual default for everyone else."""
    for lang in ("kk", "ru"):
        await bot.set_my_commands(
            [BotCommand(command=c, description=i18n.gettext(d, locale=lang)) for c, d in COMMANDS],
            language_code=lang,
        )
    await bot.set_my_commands(
        [
            BotCommand(command=c, description=f"{i18n.gettext(d, locale='kk')} / {i18n.gettext(d, locale='ru')}"[:256])
            for c, d in COMMANDS
        ]
    )


async def _on_startup(bot: Bot, app: App) -> None:
    await register_commands(bot, app.i18n)
    from handlers.complaint.jobs import install_jobs  # the wizard's draft purge

    install_jobs(app)
    reminder_service: ReminderService = app.deps["reminder_service"]
    await reminder_service.recover()  # rows claimed by a process that died go out again
    reminder_service.install(app.scheduler)
    from handlers.operators import install_desk  # operators' desk: chat check, calendar warning, SLA job

    await install_desk(app)
    if not app.scheduler.running:
        app.scheduler.start()
    log.info("started")


async def _on_shutdown(app: App) -> None:
    log.info("stopped")
