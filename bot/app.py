"""App factory: builds the Bot, the Dispatcher (routers, middlewares, long-lived dependencies), storage and
scheduler, and owns their start and stop. Polling, console mode and the tests all use this one factory."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol, cast

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.dispatcher.middlewares.error import ErrorsMiddleware
from aiogram.dispatcher.middlewares.user_context import UserContextMiddleware
from aiogram.fsm.storage.base import BaseEventIsolation
from aiogram.types import BotCommand
from aiogram.utils.i18n import I18n
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import BaseScheduler
from redis.asyncio import Redis

from bot.config import Settings
from bot.domain import ports
from bot.domain.clock import Clock
from bot.domain.ports import UpdateLedger
from bot.domain.text import LANGUAGES, N_
from bot.logs import protect_personal_data
from bot.services.cases import CaseService
from bot.services.desk import Desk
from bot.services.desk_sla import DeskSla
from bot.services.drafts import DraftPurge
from bot.services.i18n import build_i18n
from bot.services.privacy import Privacy
from bot.services.reminders import ReminderService
from bot.services.sender import OutgoingPolicy, RetryAfterMiddleware, Sender
from bot.services.updates import LocalUpdateLedger, SkipUnparsableUpdates
from bot.session import JsonBodySession
from handlers import get_router
from handlers.complaint.states import STATE_PREFIX
from handlers.errors import apologise_for_lost_reply
from handlers.guards import ReplyGuard
from handlers.middlewares import Inbound, UserLanguageMiddleware
from handlers.operators.keyboards import card_keyboard
from handlers.reask import ask_current_question
from handlers.routing import FeatureDispatcher
from handlers.start import ask_language
from storage import redis as shared_redis
from storage.backup import RunLock
from storage.calendar import CalendarRepo
from storage.cases import CasesRepo, RemindersRepo
from storage.complaints import ComplaintsRepo
from storage.db import Database
from storage.fsm import GroupCommitStorage, ReleasingEventIsolation, SQLiteStorage
from storage.fsm_redis import RedisFSM
from storage.leases import instance_id
from storage.outbox import OutboxRepo
from storage.privacy import PrivacyRepo
from storage.runs import JobRunsRepo
from storage.tickets import TicketsRepo
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
    ("mydata", "What the bot keeps about me"),
    ("forget", "Withdraw consent and erase my data"),
)


# Extraction markers for the command descriptions above.
N_("Start over and show the menu")
N_("Write a complaint")
N_("My complaints and deadlines")
N_("Questions and answers")
N_("Switch language")
N_("What the bot can do")
N_("Cancel the current step")
N_("What the bot keeps about me")
N_("Withdraw consent and erase my data")


class Feature(Protocol):
    """A service with its own start-up (scheduled jobs, background tasks) and stop."""

    async def startup(self, scheduler: BaseScheduler) -> None: ...
    async def shutdown(self) -> None: ...


class Closable(Protocol):
    async def close(self) -> None: ...


@dataclass(frozen=True)
class Repos:
    """The repositories, built once (SQLite, or PostgreSQL with DATABASE_URL: the same ports)."""

    users: ports.UsersRepo
    complaints: ports.ComplaintsRepo
    calendars: ports.CalendarRepo
    cases: ports.CasesRepo
    reminders: ports.RemindersRepo
    tickets: ports.TicketsRepo
    outbox: ports.OutboxRepo
    privacy: ports.PrivacyRepo
    runs: ports.JobRunsRepo


@dataclass
class App:
    settings: Settings
    bot: Bot
    dp: Dispatcher
    db: Database | Closable  # storage.db.Database, or storage.pg.db.PgDatabase
    fsm: GroupCommitStorage | RedisFSM
    i18n: I18n
    clock: Clock
    scheduler: AsyncIOScheduler
    repos: Repos
    sender: Sender
    reply_retry: RetryAfterMiddleware
    cases: CaseService
    reminders: ReminderService
    drafts: DraftPurge
    desk: Desk
    desk_sla: DeskSla
    privacy: Privacy
    run_lock: RunLock | None = None  # held while the app runs: a restore refuses meanwhile
    #: Started in this order at start-up, stopped in the reverse order at close.
    features: tuple[Feature, ...] = field(default=())
    #: REDIS_URL: the client shared by the FSM, the Sender's limits and the update ledger.
    redis: Redis | None = None
    #: The updates handled (webhook mode): in Redis across instances, else in this process.
    ledger: UpdateLedger = field(default_factory=LocalUpdateLedger)

    async def startup(self) -> None:
        """The dispatcher's start-up: the bot's commands, each feature's jobs, then the scheduler."""
        await register_commands(self.bot, self.i18n)
        for feature in self.features:
            await feature.startup(self.scheduler)
        if not self.scheduler.running:
            self.scheduler.start()
        log.info("started")

    async def close(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for feature in reversed(self.features):
            await feature.shutdown()
        await self.fsm.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.db.close()
        await self.bot.session.close()
        if self.run_lock is not None:
            self.run_lock.release()

    async def ping(self) -> None:
        """Raises unless the database (and Redis) answer: the readiness check of webhook mode."""
        await cast(Database, self.db).fetchone("SELECT 1")  # PgDatabase has the same fetchone
        if self.redis is not None:
            await shared_redis.ping(self.redis)


def make_session(settings: Settings) -> BaseSession:
    """aiohttp to the Bot API (TELEGRAM_API_BASE: a local Bot API server), parameters as a JSON body
    (bot/session.py)."""
    if settings.telegram_api_base:
        return JsonBodySession(api=TelegramAPIServer.from_base(settings.telegram_api_base))
    return JsonBodySession()


def make_bot(settings: Settings, session: BaseSession,
             fsm: GroupCommitStorage | None) -> tuple[Bot, RetryAfterMiddleware]:
    """The Bot and the one middleware every request passes (bot.services.sender.OutgoingPolicy): nothing is
    sent before the step it answers is on disk (``fsm``: the FSM storage whose group commit every request
    waits for, SQLite or PostgreSQL; None for Redis, whose writes are stored before the handler goes on);
    every text and caption within Telegram's limits, in one place; a direct reply waits out a 429, a 5xx, a
    dropped connection; one update aiogram cannot parse never wedges polling."""
    bot = Bot(
        token=settings.bot_token.get_secret_value() or CONSOLE_TOKEN,
        session=session,
        default=DefaultBotProperties(parse_mode="HTML", link_preview_is_disabled=True),
    )
    reply_retry = RetryAfterMiddleware()
    bot.session.middleware(OutgoingPolicy(retry=reply_retry, updates=SkipUnparsableUpdates(),
                                          barrier=None if fsm is None else fsm.barrier))
    return bot, reply_retry


async def open_fsm(stored: GroupCommitStorage, clock: Clock, redis: Redis | None,
                   lease: float) -> tuple[GroupCommitStorage | RedisFSM, BaseEventIsolation]:
    """Conversation state and the lock that keeps one person's updates in order: in Redis, shared by every
    instance (REDIS_URL; the database's FSM storage is then closed unused), else in the database (SQLite or
    PostgreSQL) with this process's lock."""
    if redis is not None:
        await stored.close()
        fsm = RedisFSM(redis, now=clock.now)
        return fsm, fsm.create_isolation(lease=lease)  # a killed instance frees its chats after one lease
    return stored, ReleasingEventIsolation()  # a chat's lock dropped when unused (bounded memory)


def make_sender(bot: Bot, redis: Redis | None) -> Sender:
    """The one path for every message sent outside a direct reply: Telegram's limits shared by every instance
    through Redis, else kept by this process."""
    if redis is None:
        return Sender(bot)
    return Sender(bot, shared=shared_redis.RedisRateLimits(redis, bot.id))


def make_ledger(bot: Bot, redis: Redis | None, settings: Settings) -> UpdateLedger:
    """Which webhook updates were handled: across instances in Redis, else in this process."""
    lease = settings.update_lease_seconds
    if redis is None:
        return LocalUpdateLedger(lease_seconds=lease)
    return shared_redis.RedisUpdateLedger(redis, bot.id, lease_seconds=lease)


async def open_repos(db: Database, settings: Settings, clock: Clock) -> Repos:
    calendars = CalendarRepo(db, clock)
    await calendars.load()
    holder = instance_id()  # this process's name on the rows it leases (storage/leases.py)
    return Repos(users=UsersRepo(db, clock), complaints=ComplaintsRepo(db, tz=settings.tz), calendars=calendars,
                 cases=CasesRepo(db, clock), reminders=RemindersRepo(db, clock, holder=holder),
                 tickets=TicketsRepo(db, clock), outbox=OutboxRepo(db, clock, holder=holder),
                 privacy=PrivacyRepo(db, clock, holder=holder), runs=JobRunsRepo(db, holder=holder))


async def open_storage(settings: Settings, clock: Clock) -> tuple[Database | Closable, GroupCommitStorage, Repos]:
    """The database, the FSM storage and the repositories: PostgreSQL when DATABASE_URL is set (several
    instances may share it), else the SQLite file at DATABASE_PATH."""
    if settings.database_url:
        return await open_pg_storage(settings, clock)
    db = await Database.open(settings.database_path)
    fsm = await SQLiteStorage.open(settings.database_path, now=clock.now, write_lock=db.write_lock)
    return db, fsm, await open_repos(db, settings, clock)


async def open_pg_storage(settings: Settings, clock: Clock) -> tuple[Closable, GroupCommitStorage, Repos]:
    """PostgreSQL (asyncpg): migrated under an advisory lock, so instances starting together migrate once."""
    from storage.pg.calendar import PgCalendarRepo
    from storage.pg.cases import PgCasesRepo, PgRemindersRepo
    from storage.pg.complaints import PgComplaintsRepo
    from storage.pg.db import PgDatabase
    from storage.pg.fsm import PgStorage
    from storage.pg.outbox import PgOutboxRepo
    from storage.pg.privacy import PgPrivacyRepo
    from storage.pg.runs import PgJobRunsRepo
    from storage.pg.tickets import PgTicketsRepo
    from storage.pg.users import PgUsersRepo

    db = await PgDatabase.open(settings.database_url)
    try:
        calendars = PgCalendarRepo(db, clock)
        await calendars.load()
        await calendars.listen()  # an override another instance records reaches this one at once
    except BaseException:
        await db.close()
        raise
    holder = instance_id()
    repos = Repos(users=PgUsersRepo(db, clock), complaints=PgComplaintsRepo(db, tz=settings.tz),
                  calendars=calendars, cases=PgCasesRepo(db, clock), reminders=PgRemindersRepo(db, clock, holder=holder),
                  tickets=PgTicketsRepo(db, clock), outbox=PgOutboxRepo(db, clock, holder=holder),
                  privacy=PgPrivacyRepo(db, clock, holder=holder), runs=PgJobRunsRepo(db, holder=holder))
    return db, PgStorage(db, now=clock.now), repos


def setup_dispatcher(dp: Dispatcher, repos: Repos, settings: Settings, i18n: I18n) -> None:
    """One outer middleware for every update (handlers/middlewares.py ``Inbound``: aiogram's own per-update
    jobs, who the user is, the desk, the language and its gate, a lost reply, unknown commands and buttons
    always answered), the language for the error handler, and the feature routers."""
    # A failed reply: an apology before anything else, and the next answer meets the question one is on.
    guard = ReplyGuard(ask_current_question, apologise_for_lost_reply)
    errors = take_over_aiogram_middlewares(dp)
    dp.update.outer_middleware(Inbound(repos.users, settings, i18n, lambda message: ask_language(message, i18n),
                                       guard, dp.fsm, errors))
    dp.errors.outer_middleware(UserLanguageMiddleware(i18n, settings))  # it runs after Inbound's frame ended
    dp.include_router(get_router())


def take_over_aiogram_middlewares(dp: Dispatcher) -> Dispatcher | None:
    """Unregister the outer middlewares aiogram's Dispatcher registers on every update (ErrorsMiddleware,
    UserContextMiddleware, FSMContextMiddleware ``dp.fsm``, which stays the dispatcher's FSM: its storage,
    isolation and shutdown): Inbound does their jobs in its own frame, each a coroutine frame less on the await
    chain of every update in flight (the burst's GC walks them; bench cost and docs/performance.md).

    Returns the router whose errors observer Inbound hands exceptions to: the dispatcher, or None when a
    middleware was registered after aiogram's (the metrics', which counts the exceptions that pass it): then
    aiogram's ErrorsMiddleware stays outermost, and that middleware between it and Inbound."""
    outer = dp.update.outer_middleware
    errors, user_context, fsm, *later = list(outer)
    if not (isinstance(errors, ErrorsMiddleware) and isinstance(user_context, UserContextMiddleware)
            and fsm is dp.fsm):
        raise RuntimeError(f"unexpected outer middlewares of the dispatcher: {list(outer)}")
    outer.unregister(user_context)
    outer.unregister(fsm)
    if later:
        return None
    outer.unregister(errors)
    return dp


def make_metrics(settings: Settings, dp: Dispatcher, fsm: GroupCommitStorage | RedisFSM, reminders: ReminderService,
                 sender: Sender, desk_sla: DeskSla) -> Feature | None:
    """METRICS_LISTEN set: the Prometheus endpoint (bot/metrics.py), its update middleware (outermost) and the
    FSM storage's commit timer (a Redis FSM has no group commit to time). prometheus_client is imported only
    then."""
    address = settings.metrics_address
    if address is None:
        return None
    from bot.domain.desk import summary_counts
    from bot.metrics import Metrics

    async def tickets() -> tuple[int, int]:
        open_, overdue, _new = summary_counts(await desk_sla.facts(), desk_sla.desk.today())
        return open_, overdue

    metrics = Metrics(address, reminder_counts=lambda: reminders.counts, queue_depth=lambda: sender.queue_depth,
                      tickets=tickets)
    dp.update.outer_middleware(metrics.middleware())
    if isinstance(fsm, GroupCommitStorage):
        fsm.on_commit = metrics.fsm_commit.observe
    return metrics


async def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    session: BaseSession | None = None,
    events_isolation: BaseEventIsolation | None = None,
) -> App:
    """The composition root: every long-lived object is built here once, and handlers receive them by name
    (``settings``, ``clock``, ``users``, ``complaints``, ``calendars``, ``cases``, ``desk``, ``desk_sla``,
    ``privacy``)."""
    clock = clock or Clock()
    protect_personal_data()  # before the first query or update: nothing a person typed reaches a log
    i18n = build_i18n(settings.default_language)
    run_lock = None
    if not settings.database_url and str(settings.database_path) != ":memory:":
        run_lock = RunLock(settings.database_path)
        run_lock.acquire_shared()  # a restore (python -m bot restore) refuses while the bot runs
    db, stored_fsm, repos = await open_storage(settings, clock)
    redis = shared_redis.connect(settings.redis_url) if settings.redis_url else None
    fsm, isolation = await open_fsm(stored_fsm, clock, redis, settings.update_lease_seconds)
    bot, reply_retry = make_bot(settings, session or make_session(settings),
                                fsm if isinstance(fsm, GroupCommitStorage) else None)
    sender = make_sender(bot, redis)
    cases = CaseService(repos.cases, repos.reminders, repos.users, repos.calendars, clock, settings)
    reminders = ReminderService(repos.users, repos.cases, repos.reminders, sender, i18n, clock, settings,
                                calendar=lambda: repos.calendars.calendar,
                                lease=timedelta(seconds=settings.send_lease_seconds))
    drafts = DraftPurge(fsm, clock, ttl_days=settings.draft_ttl_days, state_prefix=STATE_PREFIX, runs=repos.runs)
    desk = Desk(settings=settings, bot=bot, i18n=i18n, forms=fsm, clock=clock, sender=sender, users=repos.users,
                complaints=repos.complaints, tickets=repos.tickets, outbox=repos.outbox, cases=cases,
                card_keyboard=card_keyboard)
    desk_sla = DeskSla(desk, repos.reminders, reminders, runs=repos.runs)
    privacy = Privacy(repos.privacy, fsm, repos.users, sender, clock, settings, desk_changed=desk.outbox.wake,
                      runs=repos.runs, lease=timedelta(seconds=settings.send_lease_seconds))
    dp = FeatureDispatcher(storage=fsm, events_isolation=events_isolation or isolation, settings=settings,
                           clock=clock, users=repos.users, complaints=repos.complaints,
                           calendars=repos.calendars, cases=cases, desk=desk, desk_sla=desk_sla, privacy=privacy)
    metrics = make_metrics(settings, dp, fsm, reminders, sender, desk_sla)  # before the other middlewares
    setup_dispatcher(dp, repos, settings, i18n)
    app = App(settings, bot, dp, db, fsm, i18n, clock, AsyncIOScheduler(timezone="UTC"), repos, sender, reply_retry,
              cases, reminders, drafts, desk, desk_sla, privacy, run_lock,
              features=(drafts, reminders, desk, desk_sla, privacy) + ((metrics,) if metrics else ()), redis=redis,
              ledger=make_ledger(bot, redis, settings))
    dp.startup.register(app.startup)
    dp.shutdown.register(_on_shutdown)
    return app


async def register_commands(bot: Bot, i18n: I18n) -> None:
    """setMyCommands for kk and ru, and a bilingual default for everyone else."""
    for lang in LANGUAGES:
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


async def _on_shutdown() -> None:
    log.info("stopped")
