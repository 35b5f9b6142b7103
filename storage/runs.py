"""Scheduled jobs that must run once per period across instances (migration 0009's job_runs): the SLA pass,
the draft purge. Every instance schedules the job; at each run it asks ``claim``, and only the instance that
gets it does the work."""

from __future__ import annotations

from datetime import datetime, timedelta

from storage.db import Database, iso
from storage.leases import instance_id

__all__ = ["JobRunsRepo"]


class JobRunsRepo:
    def __init__(self, db: Database, *, holder: str | None = None) -> None:
        self.db = db
        self.holder = holder or instance_id()

    async def claim(self, job: str, now: datetime, every: timedelta) -> bool:
        """True when this instance runs ``job`` now: nobody ran it in the last ``every`` (one statement, so
        two instances asking at once never both get it)."""
        async with self.db.transaction() as conn:  # a write: never between another coroutine's statements
            rows = await conn.execute_fetchall(
                "INSERT INTO job_runs (job, holder, ran_at) VALUES (?, ?, ?) ON CONFLICT (job) DO UPDATE"
                " SET holder = excluded.holder, ran_at = excluded.ran_at WHERE job_runs.ran_at <= ? RETURNING job",
                (job, self.holder, iso(now), iso(now - every)))
        return bool(rows)
