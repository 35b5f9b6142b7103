"""Delivering reminders: ONE APScheduler interval job drains the indexed ``reminders`` table.

No job per reminder and no pickled bot objects (docs/performance.md, 'APScheduler job stores freeze the
loop': they freeze the
loop and drop misfired jobs). The plan lives in the database (storage/cases.py), so reminders that fell due
while the bot was down go out once after start: the job's first run is immediate.

Several instances may run this loop on one database: a claimed row is leased to its instance
(storage/leases.py), renewed every third of ``lease`` while the tick works, so no two instances send it. Each
tick first returns rows whose lease ran out (an instance died mid-send) to 'pending': they go out once, after
the lease.

A tick claims due rows in batches (``UPDATE ... RETURNING``), groups them by chat, and hands them to the
:class:`~bot.services.sender.Sender` with bounded concurrency; the Sender's limiters are the real throttle. Texts are
rendered at send time in the person's CURRENT language from the case's CURRENT deadlines.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, OrderedDict
from datetime import datetime, timedelta, timezone
from typing import Callable

from aiogram.methods import SendMessage
from aiogram.types import ReplyParameters
from aiogram.utils.i18n import I18n
from apscheduler.job import Job
from apscheduler.schedulers.base import BaseScheduler

from bot.config import Settings
from bot.domain.cases import deadlines_of
from bot.domain.clock import Clock
from bot.domain.deadlines import DeadlineError, WorkCalendar
from bot.domain.entities import Reminder
from bot.domain.leases import renewing
from bot.domain.ports import CasesRepo, RemindersRepo, UsersRepo
from bot.domain.reminders import is_allowed, next_allowed, render_reminder
from bot.services.i18n import translator
from bot.services.sender import Sender, SendResult

log = logging.getLogger(__name__)

__all__ = ["ReminderService"]

JOB_ID = "reminders"
JOBSTORE = "reminders"


class ReminderService:
    """The delivery loop. Planning is bot.services.cases (a case and its plan change together)."""

    def __init__(
        self,
        users: UsersRepo,
        cases: CasesRepo,
        reminders: RemindersRepo,
        sender: Sender,
        i18n: I18n,
        clock: Clock,
        settings: Settings,
        calendar: Callable[[], WorkCalendar],
        *,
        batch_size: int = 200,
        concurrency: int = 64,
        max_attempts: int = 3,
        retry_delay: timedelta = timedelta(minutes=10),
        lease: timedelta = timedelta(seconds=90),
    ) -> None:
        self.users = users
        self.cases = cases
        self.reminders = reminders
        self.sender = sender
        self.i18n = i18n
        self.clock = clock
        self.settings = settings
        self.calendar = calendar
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.lease = lease
        self.tz = settings.tz
        self._blocked: set[int] = set()  # chats that answered 403 during the current tick
        self._tick_lock = asyncio.Lock()
        self._stopping = False
        #: What happened to reminders since start (the metrics read it): due (claimed for delivery), sent,
        #: failed, rate_limited (429s met), cancelled (not sent: erased, blocked, switched off, case closed).
        self.counts: Counter[str] = Counter()
        # The Sender reports 403s through this hook too when it was built without its own.
        if sender.on_forbidden is None:
            sender.on_forbidden = self.on_forbidden

    # ---- helpers ----------------------------------------------------------------------------
    def _allowed(self, moment: datetime) -> bool:
        return is_allowed(moment, self.tz, self.settings.quiet_hours_start, self.settings.quiet_hours_end)

    def _next_allowed(self, moment: datetime) -> datetime:
        return next_allowed(moment, self.tz, self.settings.quiet_hours_start, self.settings.quiet_hours_end)

    # ---- start-up and scheduling --------------------------------------------------------------
    async def stop(self, timeout: float = 30.0) -> None:
        """Claim nothing more and let the batch in hand finish (its rows are marked, nothing left 'sending')."""
        self._stopping = True
        try:
            await asyncio.wait_for(self._tick_lock.acquire(), timeout)
        except asyncio.TimeoutError:
            log.warning("reminders: a batch was still sending at shutdown; it is recovered at the next start")
        else:
            self._tick_lock.release()

    async def startup(self, scheduler: BaseScheduler) -> None:
        """The job; its first run is immediate (and takes back what a dead instance left in flight)."""
        self.install(scheduler)

    async def shutdown(self) -> None:
        await self.stop()

    async def recover(self) -> int:
        """Rows left 'sending' by an instance that stopped renewing their lease go back to 'pending' (each
        tick does this first)."""
        n = await self.reminders.recover_stale(self.clock.now(), self.lease)
        if n:
            log.warning("reminders: %d in flight when their instance stopped were re-queued (may repeat once)", n)
        return n

    def install(self, scheduler: BaseScheduler) -> Job:
        """ONE interval job on a MemoryJobStore. Its first run is now, so what fell due during downtime
        goes out right after start; overlapping runs are skipped (max_instances=1) and missed runs are
        coalesced into one, whatever the delay (misfire_grace_time=None)."""
        from apscheduler.jobstores.memory import MemoryJobStore

        try:
            scheduler.add_jobstore(MemoryJobStore(), alias=JOBSTORE)
        except ValueError:
            pass  # already there (install called twice)
        return scheduler.add_job(
            self._run_tick,
            "interval",
            seconds=self.settings.reminder_interval_seconds,
            id=JOB_ID,
            name="reminders",
            jobstore=JOBSTORE,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=datetime.now(timezone.utc),  # the scheduler's own (wall) time: run at once
            replace_existing=True,
        )

    async def _run_tick(self) -> None:
        try:
            await self.tick()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("reminders: tick failed")

    # ---- delivery ---------------------------------------------------------------------------
    async def tick(self) -> int:
        """Send everything due now; returns the number of messages sent. Outside the allowed hours only
        operators' reminders go out (citizens' wait in the table)."""
        async with self._tick_lock, renewing(lambda: self.reminders.renew(self.clock.now()), self.lease):
            await self.recover()
            self._blocked.clear()
            sem = asyncio.Semaphore(self.concurrency)
            tasks: set[asyncio.Task] = set()
            sent = 0

            def done(task: asyncio.Task) -> None:
                nonlocal sent
                tasks.discard(task)
                sem.release()
                if not task.cancelled() and task.exception() is None:
                    sent += task.result()
                elif not task.cancelled():
                    log.error("reminders: delivery task failed: %r", type(task.exception()).__name__)

            try:
                while not self._stopping:
                    now = self.clock.now()
                    audiences = None if self._allowed(now) else ("operators",)
                    batch = await self.reminders.claim_due(now, self.batch_size, audiences=audiences)
                    if not batch:
                        break
                    self.counts["due"] += len(batch)
                    by_chat: OrderedDict[int, list[Reminder]] = OrderedDict()
                    for r in batch:
                        by_chat.setdefault(r.chat_id, []).append(r)
                    for items in by_chat.values():
                        await sem.acquire()
                        task = asyncio.create_task(self._deliver_chat(items))
                        tasks.add(task)
                        task.add_done_callback(done)
                if tasks:
                    await asyncio.gather(*list(tasks), return_exceptions=True)
            except asyncio.CancelledError:
                for t in list(tasks):
                    t.cancel()
                raise
            return sent

    async def _deliver_chat(self, items: list[Reminder]) -> int:
        sent = 0
        for r in items:
            try:
                sent += await self._deliver(r)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("reminders: delivering %s failed: %s", r.id, type(exc).__name__)
                try:
                    await self.reminders.retry_later(r.id, self._next_allowed(self.clock.now() + self.retry_delay),
                                                     f"internal: {type(exc).__name__}")
                except Exception:
                    log.exception("reminders: could not re-queue %s", r.id)
        return sent

    async def _deliver(self, r: Reminder) -> int:
        if r.chat_id in self._blocked:
            await self._cancel(r, "forbidden")
            return 0
        if r.audience == "citizen":
            text = await self._citizen_text(r)
        else:
            text = self._operators_text(r)
        if text is None:
            return 0
        if r.audience == "citizen":
            # Claimed in a batch, possibly seconds or minutes ago (rate limits): re-check the allowed hours now.
            now = self.clock.now()
            if not self._allowed(now):
                await self.reminders.defer(r.id, self._next_allowed(now))
                return 0
        method = SendMessage(chat_id=r.chat_id, text=text, parse_mode="HTML")
        if r.audience == "operators":  # a notice about one ticket goes to its topic, or under its card
            method.message_thread_id = r.payload.get("thread_id")
            if r.payload.get("reply_to"):
                method.reply_parameters = ReplyParameters(message_id=r.payload["reply_to"],
                                                          allow_sending_without_reply=True)
        # Asked again right before the send (and marked as leaving: storage/cases.py): a reminder erased
        # (/forget) or cancelled since its claim stays unsent. Marked 'sent' the moment Telegram accepts it.
        marked = False

        async def sent(_: object) -> None:
            nonlocal marked
            await self.reminders.mark_sent(r.id, self.clock.now())
            marked = True

        result = await self.sender.send(method, chat_id=r.chat_id,
                                        still_wanted=lambda: self.reminders.begin_send(r.id, self.clock.now()),
                                        on_sent=sent)
        return await self._record(r, result, marked=marked)

    async def _citizen_text(self, r: Reminder) -> str | None:
        """The text for a citizen, or None when the reminder was cancelled instead."""
        user = await self.users.get(r.user_id) if r.user_id is not None else None
        if user is None or not user.reachable or not user.reminders_enabled:
            reason = "no_user" if user is None else ("unreachable" if not user.reachable else "disabled")
            await self._cancel(r, reason)
            return None
        lang = user.language or self.settings.default_language
        gettext = translator(self.i18n, lang)
        if r.case_id is None:
            text = r.payload.get("text")
            if not text:
                await self.reminders.mark_failed(r.id, "no text")
                return None
            return str(text)
        case = await self.cases.get(r.case_id)
        if case is None or case.status != "open":
            await self._cancel(r, "case_not_open")
            return None
        cal = self.calendar()
        try:
            deadlines = deadlines_of(case, cal)
            return render_reminder(r.kind, case=case, deadlines=deadlines, gettext=gettext, lang=lang, cal=cal,
                                   today=self.clock.now().astimezone(self.tz).date())
        except (DeadlineError, ValueError) as exc:
            await self.reminders.mark_failed(r.id, f"render: {type(exc).__name__}")
            return None

    async def _cancel(self, r: Reminder, reason: str | None) -> None:
        self.counts["cancelled"] += 1
        await self.reminders.cancel(r.id, reason)

    def _operators_text(self, r: Reminder) -> str | None:
        """Operators' one-offs carry their text (already HTML-safe) in ``payload['text']``."""
        text = r.payload.get("text")
        return str(text) if text else None

    async def _record(self, r: Reminder, result: SendResult, *, marked: bool = False) -> int:
        now = self.clock.now()
        self.counts["rate_limited"] += result.rate_limited
        if result.cancelled:
            self.counts["cancelled"] += 1
            return 0
        if result.ok:
            self.counts["sent"] += 1
            if not marked:  # recording it at once failed: once more
                await self.reminders.mark_sent(r.id, now)
            if r.case_id is not None:
                await self.cases.record_event(r.case_id, "reminder_sent", {"kind": r.kind, "reminder_id": r.id},
                                              at=now)
            return 1
        if result.forbidden:
            if r.chat_id not in self._blocked:  # the Sender reported it to another hook
                await self.on_forbidden(r.chat_id)
            await self._cancel(r, result.error)
            return 0
        # A 429 is Telegram asking us to wait, not a failure: it never uses up an attempt (delayed, not lost).
        if result.retryable and (r.attempts < self.max_attempts or result.retry_after is not None):
            delay = self.retry_delay * min(r.attempts, self.max_attempts)
            if result.retry_after:
                delay = max(delay, timedelta(seconds=result.retry_after))
            when = now + delay
            if r.audience == "citizen":
                when = self._next_allowed(when)
            await self.reminders.retry_later(r.id, when, result.error)
            return 0
        self.counts["failed"] += 1
        await self.reminders.mark_failed(r.id, result.error)
        return 0

    async def on_forbidden(self, chat_id: int) -> None:
        """A 403 from a private chat: the person blocked the bot. Mark them unreachable and cancel every
        pending reminder (they get reminders again after they write to the bot and re-enable them)."""
        self._blocked.add(chat_id)
        if chat_id <= 0:
            return  # the bot was removed from a group: the reminder is cancelled, nobody to mark
        await self.users.mark_unreachable(chat_id, self.clock.now())
        n = await self.reminders.cancel_for_user(chat_id)
        log.info("reminders: a user blocked the bot; %d pending reminders cancelled", n)
