"""Scheduled upkeep of the complaint wizard: abandoned drafts are deleted after settings.draft_ttl_days."""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.base import BaseScheduler

from bot.domain.clock import Clock
from bot.domain.ports import DraftStore, JobRunsRepo

__all__ = ["DraftPurge"]

log = logging.getLogger(__name__)

JOB_ID = "purge_drafts"
INTERVAL = timedelta(hours=6)


class DraftPurge:
    """Deletes wizard conversations (consent pending or a draft: states starting with ``state_prefix``)
    untouched for ``ttl_days``. With ``runs``, the scheduled purge runs once per period across the instances
    sharing the database (the others skip their turn)."""

    def __init__(self, store: DraftStore, clock: Clock, *, ttl_days: int, state_prefix: str,
                 runs: JobRunsRepo | None = None) -> None:
        self.store = store
        self.clock = clock
        self.ttl_days = ttl_days
        self.state_prefix = state_prefix
        self.runs = runs

    async def purge(self) -> int:
        cutoff = self.clock.now() - timedelta(days=self.ttl_days)
        purged = await self.store.purge(cutoff, self.state_prefix)
        if purged:
            log.info("purged %d abandoned complaint drafts", purged)
        return purged

    async def scheduled(self) -> int | None:
        """The job: the purge, unless another instance ran it less than a period ago (None then)."""
        if self.runs is not None and not await self.runs.claim(JOB_ID, self.clock.now(), INTERVAL * 0.9):
            return None
        return await self.purge()

    async def startup(self, scheduler: BaseScheduler) -> None:
        """The purge every 6 hours (and once at start)."""
        scheduler.add_job(self.scheduled, "interval", seconds=INTERVAL.total_seconds(), id=JOB_ID, replace_existing=True,
                          next_run_time=self.clock.now(), misfire_grace_time=3600, coalesce=True)

    async def shutdown(self) -> None:
        return None
