"""Scheduled upkeep of the wizard: abandoned drafts are deleted after settings.draft_ttl_days."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from handlers.complaint.states import STATE_PREFIX

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

JOB_ID = "purge_drafts"


async def purge_drafts(app: "App") -> int:
    """Delete wizard conversations (consent pending or a draft) untouched for draft_ttl_days."""
    cutoff = app.clock.now() - timedelta(days=app.settings.draft_ttl_days)
    purged = await app.fsm.purge(cutoff, STATE_PREFIX)
    if purged:
        log.info("purged %d abandoned complaint drafts", purged)
    return purged


def install_jobs(app: "App") -> None:
    """Called from bot.app's startup: the purge every 6 hours (and once at start)."""
    app.scheduler.add_job(
        purge_drafts,
        "interval",
        hours=6,
        args=(app,),
        id=JOB_ID,
        replace_existing=True,
        next_run_time=app.clock.now(),
        misfire_grace_time=3600,
        coalesce=True,
    )
