"""Personal data rights, the use cases (docs/privacy.md): what the bot keeps about a person (/mydata), their
erasure (/forget), the retention period's daily erasure, and the clean-up an erasure leaves in the operators'
chat.

* **Export**: the database's rows and the FSM's conversations of one person (bot.domain.privacy.export).
* **Erasure of a person**: the person's chat is held in the Sender around the commit (a send already on the
  wire finishes first; a reminder claimed before the erasure is asked again right before its send and finds
  its row gone, so none goes out afterwards, across a restart too: the rows are deleted); then their
  conversations are forgotten and the cached user row dropped. Their tickets stay for the desk, anonymous,
  their cards refreshed ("the person withdrew consent") by the desk's outbox.
* **Retention**: every day, closed cases, answered tickets and complaints whose period ended are erased the
  same way, in batches of ``batch_size`` per transaction (the database's thread does the work; the loop
  yields between batches, so updates keep flowing).
* **Clean-up**: what an erasure queued for the operators' chat (delete the copies of the person's messages and
  what the bot posted for the ticket, rename the ticket's forum topic), sent through the Sender at the
  group's pace. Each instance claims the tasks it carries out (a lease renewed while it works, like the desk
  outbox's rows), so several instances never attempt one deletion twice. Telegram refuses some of it for good (a message older than 48 hours, or another member's
  message when the bot is not an administrator with the right to delete messages): that is logged and
  dropped, never retried.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiogram.methods import DeleteMessage, EditForumTopic, TelegramMethod
from apscheduler.schedulers.base import BaseScheduler

from bot.config import Settings
from bot.domain.clock import Clock
from bot.domain.leases import renewing
from bot.domain.ports import DraftStore, JobRunsRepo, PrivacyRepo, UsersRepo
from bot.domain.privacy import CleanupTask, Conversation, Erasure, PersonalData, export, retention_cutoff
from bot.services.background import stop_task
from bot.services.sender import Sender

__all__ = ["Privacy"]

log = logging.getLogger("shagym.privacy")

JOB_ID = "retention"
RETENTION_EVERY = timedelta(days=1)
CLEANUP_MAX_ATTEMPTS = 5


class Privacy:
    def __init__(self, repo: PrivacyRepo, drafts: DraftStore, users: UsersRepo, sender: Sender, clock: Clock,
                 settings: Settings, *, desk_changed: Callable[[], None] | None = None,
                 batch_size: int = 200, runs: JobRunsRepo | None = None,
                 lease: timedelta = timedelta(seconds=90)) -> None:
        self.repo = repo
        self.drafts = drafts
        self.users = users
        self.sender = sender
        self.clock = clock
        self.settings = settings
        self.desk_changed = desk_changed  # wakes the desk's outbox (the erased tickets' cards)
        self.batch_size = batch_size
        self.runs = runs  # with several instances on one database: the daily pass runs once across them
        self.lease = lease  # the clean-up tasks an instance claimed, renewed while it works (storage/leases.py)
        self._cleanup_wake = asyncio.Event()
        self._cleanup_task: asyncio.Task[None] | None = None

    # ---- export -------------------------------------------------------------------------------
    async def personal_data(self, user_id: int) -> PersonalData:
        data = await self.repo.personal_data(user_id)
        conversations = [Conversation(state, d, at) for state, d, at in await self.drafts.conversations(user_id)]
        return PersonalData(user=data.user, complaints=data.complaints, cases=data.cases, reminders=data.reminders,
                            tickets=data.tickets, conversations=conversations)

    def export_file(self, data: PersonalData) -> bytes:
        """The /mydata file: JSON, UTF-8, every item the bot keeps."""
        document: dict[str, Any] = export(data, generated_at=self.clock.now(), retention_days=self.settings.retention_days,
                                          draft_ttl_days=self.settings.draft_ttl_days)
        return json.dumps(document, ensure_ascii=False, indent=2, default=str).encode("utf-8")

    # ---- erasure ------------------------------------------------------------------------------
    async def erase(self, user_id: int) -> Erasure:
        """Everything kept about ``user_id``: /forget, and a declined or withdrawn consent."""
        async with self.sender.hold(user_id):
            done = await self.repo.erase_person(user_id, at=self.clock.now())
            done += Erasure(conversations=await self.drafts.forget(user_id))
            self.users.evict(user_id)
        log.info("privacy: a person's data was erased (%d rows; %d tickets made anonymous)", done.total,
                 done.tickets)
        self._after(done)
        return done

    def _after(self, done: Erasure) -> None:
        if done.tickets and self.desk_changed is not None:
            self.desk_changed()
        if done.cleanup:
            self._cleanup_wake.set()

    async def retention_pass(self) -> Erasure:
        """Erase what the retention period ended for, ``batch_size`` ids of each kind per transaction."""
        cutoff = retention_cutoff(self.clock.now(), self.settings.retention_days)
        total = Erasure()
        while True:
            expired = await self.repo.expired(cutoff, self.batch_size)
            if expired.empty:
                break
            done = await self.repo.erase_expired(expired, at=self.clock.now())
            total += done
            self._after(done)
            await asyncio.sleep(0)  # let the updates waiting for the database go first
        if total.total:
            log.info("privacy: retention (%d days) erased %d complaints, %d cases, made %d tickets anonymous",
                     self.settings.retention_days, total.complaints, total.cases, total.tickets)
        return total

    async def _run_retention(self) -> Erasure | None:
        """The daily job: the pass, unless another instance sharing the database ran it today (None then)."""
        try:
            if self.runs is not None and not await self.runs.claim(JOB_ID, self.clock.now(), RETENTION_EVERY * 0.9):
                return None
            return await self.retention_pass()
        except asyncio.CancelledError:
            raise
        except Exception:  # the next day's pass tries again
            log.exception("privacy: the retention pass failed")
            return None

    # ---- the operators' chat ------------------------------------------------------------------
    def _method(self, task: CleanupTask) -> TelegramMethod[Any] | None:
        if task.kind == "delete" and task.message_id is not None:
            return DeleteMessage(chat_id=task.chat_id, message_id=task.message_id)
        if task.kind == "rename" and task.thread_id is not None:
            return EditForumTopic(chat_id=task.chat_id, message_thread_id=task.thread_id, name=f"№{task.ticket_id}")
        return None

    async def cleanup(self) -> int:
        """Carry out what erasures left for the operators' chat; returns the tasks done or given up."""
        finished = 0
        async with renewing(lambda: self.repo.renew_cleanup(self.clock.now()), self.lease):
            while tasks := await self.repo.claim_cleanup(self.clock.now(), self.lease, 50):
                progress = await self._carry_out(tasks)
                finished += sum(progress)
                if not any(progress):
                    break  # the rest waits for the next wake-up
        return finished

    async def _carry_out(self, tasks: list[CleanupTask]) -> list[bool]:
        """Each task done or given up (True), or to try again later (False)."""
        done: list[bool] = []
        for task in tasks:
            method = self._method(task)
            result = await self.sender.send(method, chat_id=task.chat_id) if method is not None else None
            if result is None or result.ok or not result.retryable or task.attempts + 1 >= CLEANUP_MAX_ATTEMPTS:
                if result is not None and not result.ok:
                    log.info("privacy: Telegram refused a clean-up %s: %s", task.kind, result.error)
                await self.repo.cleanup_done(task.id)
                done.append(True)
            else:
                await self.repo.cleanup_retry(task.id)
                done.append(False)
        return done

    async def _cleanup_loop(self) -> None:
        while True:
            self._cleanup_wake.clear()
            try:
                await self.cleanup()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("privacy: the clean-up pass failed")
            try:
                await asyncio.wait_for(self._cleanup_wake.wait(), 600)
            except asyncio.TimeoutError:
                pass

    # ---- start and stop -----------------------------------------------------------------------
    async def startup(self, scheduler: BaseScheduler) -> None:
        """The retention pass once a day (the first at start), and the clean-up (what a stop interrupted)."""
        scheduler.add_job(self._run_retention, "interval", seconds=RETENTION_EVERY.total_seconds(), id=JOB_ID, name="retention",
                          replace_existing=True, next_run_time=self.clock.now(), max_instances=1, coalesce=True,
                          misfire_grace_time=None)
        if self.settings.operators_chat_id is not None:
            self._cleanup_task = asyncio.create_task(self._cleanup_loop(), name="privacy-cleanup")

    async def shutdown(self) -> None:
        task, self._cleanup_task = self._cleanup_task, None
        await stop_task(task)
