"""Scheduled jobs run once per period across instances, on PostgreSQL (storage/runs.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from storage.leases import instance_id
from storage.pg.db import PgDatabase, moment

__all__ = ["PgJobRunsRepo"]


class PgJobRunsRepo:
    def __init__(self, db: PgDatabase, *, holder: str | None = None) -> None:
        self.db = db
        self.holder = holder or instance_id()

    async def claim(self, job: str, now: datetime, every: timedelta) -> bool:
        """True when this instance runs ``job`` now. Two instances asking at once: the upsert locks the row,
        the second sees the first's ``ran_at`` and gets False."""
        got = await self.db.fetchval(
            "INSERT INTO job_runs AS r (job, holder, ran_at) VALUES ($1, $2, $3) ON CONFLICT (job) DO UPDATE"
            " SET holder = excluded.holder, ran_at = excluded.ran_at WHERE r.ran_at <= $4 RETURNING job",
            job, self.holder, moment(now), moment(now - every))
        return got is not None
