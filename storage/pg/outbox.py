"""The desk's outbox on PostgreSQL (storage/outbox.py: rows leased to the instance whose pump claimed them, a
ticket's rows to one instance at a time, so a ticket's posts keep their order and none is posted twice)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from bot.domain.clock import Clock
from bot.domain.entities import OUTBOX_KINDS, OutboxRow
from storage.leases import instance_id
from storage.pg.db import PgDatabase, moment, rowcount
from storage.pg.rows import entity, jsonb, loads

__all__ = ["PgOutboxRepo", "QUEUE_SQL"]

#: One row; usable inside another repository's transaction (a ticket and its card commit together).
QUEUE_SQL = "INSERT INTO desk_outbox (ticket_id, kind, payload, created_at) VALUES ($1, $2, $3, $4) RETURNING id"


def _row(r: asyncpg.Record) -> OutboxRow:
    return entity(OutboxRow, r, payload=loads(r["payload"]))


class PgOutboxRepo:
    def __init__(self, db: PgDatabase, clock: Clock | None = None, *, holder: str | None = None) -> None:
        self.db = db
        self.clock = clock or Clock()
        self.holder = holder or instance_id()

    def _stamp(self, at: datetime | None) -> datetime:
        return moment(at or self.clock.now())

    async def queue(self, ticket_id: int, kind: str, payload: dict[str, Any] | None = None, *,
                    at: datetime | None = None) -> int:
        if kind not in OUTBOX_KINDS:
            raise ValueError(f"unknown outbox kind {kind!r}")
        row_id: int = await self.db.fetchval(QUEUE_SQL, ticket_id, kind, jsonb(payload), self._stamp(at))
        return row_id

    async def queue_refresh(self, ticket_id: int, *, at: datetime | None = None) -> None:
        """A card refresh, unless one is already waiting for this ticket."""
        await self.db.execute(
            "INSERT INTO desk_outbox (ticket_id, kind, payload, created_at) SELECT $1, 'refresh', '{}', $2"
            " WHERE NOT EXISTS (SELECT 1 FROM desk_outbox WHERE ticket_id = $1 AND kind = 'refresh'"
            " AND status = 'pending')", ticket_id, self._stamp(at))

    async def pending(self, limit: int = 100, after_id: int = 0) -> list[OutboxRow]:
        rows = await self.db.fetchall(
            "SELECT id, ticket_id, kind, payload, attempts FROM desk_outbox WHERE status = 'pending' AND id > $1"
            " ORDER BY id LIMIT $2", after_id, limit)
        return [_row(r) for r in rows]

    async def claim(self, now: datetime, lease: timedelta, limit: int = 20, after_id: int = 0) -> list[OutboxRow]:
        """See storage/outbox.py. The claim locks the tickets' rows it reads: two pumps claiming at once
        serialise on them, so a ticket is never split between two instances."""
        async with self.db.transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _CLAIM_LOCK)
            rows = await conn.fetch(
                "UPDATE desk_outbox SET claimed_by = $1, claimed_at = $2 WHERE id IN ("
                " SELECT id FROM desk_outbox WHERE status = 'pending' AND id > $3 AND ticket_id NOT IN ("
                "  SELECT ticket_id FROM desk_outbox WHERE status = 'pending' AND claimed_by <> $1"
                "  AND claimed_at >= $4) ORDER BY id LIMIT $5) RETURNING id, ticket_id, kind, payload, attempts",
                self.holder, moment(now), after_id, moment(now - lease), limit)
        return sorted((_row(r) for r in rows), key=lambda r: r.id)

    async def renew(self, now: datetime) -> int:
        return rowcount(await self.db.execute(
            "UPDATE desk_outbox SET claimed_at = $1 WHERE status = 'pending' AND claimed_by = $2",
            moment(now), self.holder))

    async def mark_sent(self, row_id: int, *, at: datetime | None = None) -> None:
        await self.db.execute("UPDATE desk_outbox SET status = 'sent', payload = '{}', done_at = $1 WHERE id = $2",
                              self._stamp(at), row_id)

    async def mark_failed(self, row_id: int, error: str | None, *, at: datetime | None = None) -> None:
        await self.db.execute(
            "UPDATE desk_outbox SET status = 'failed', payload = '{}', last_error = $1, done_at = $2,"
            " attempts = attempts + 1 WHERE id = $3", (error or "")[:300], self._stamp(at), row_id)

    async def retry_later(self, row_id: int, error: str | None) -> None:
        await self.db.execute("UPDATE desk_outbox SET attempts = attempts + 1, last_error = $1 WHERE id = $2",
                              (error or "")[:300], row_id)


#: The outbox claim's advisory lock (claims are short; pumps claim in turn).
_CLAIM_LOCK = 0x536861677947
