"""The desk's outbox (migration 0005): posts for the operators' chat, queued by citizens' updates and posted
in order by the pump (bot/services/desk_outbox.py).

With several instances every one runs a pump: ``claim`` leases rows to this instance (storage/leases.py), a
ticket's rows to one instance at a time, so a ticket's posts keep their order and none is posted twice.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from bot.domain.clock import Clock
from bot.domain.entities import OUTBOX_KINDS, OutboxRow
from storage.db import Database, iso
from storage.leases import instance_id

__all__ = ["OutboxRepo", "QUEUE_SQL"]


def _row(r: Any) -> OutboxRow:
    return OutboxRow(r["id"], r["ticket_id"], r["kind"], json.loads(r["payload"]), r["attempts"])

#: One row; usable inside another repository's transaction (a ticket and its card commit together).
QUEUE_SQL = "INSERT INTO desk_outbox (ticket_id, kind, payload, created_at) VALUES (?, ?, ?, ?)"


class OutboxRepo:
    """``holder``: this instance's name on the rows it claims."""

    def __init__(self, db: Database, clock: Clock | None = None, *, holder: str | None = None) -> None:
        self.db = db
        self.clock = clock or Clock()
        self.holder = holder or instance_id()

    async def queue(self, ticket_id: int, kind: str, payload: dict[str, Any] | None = None, *,
                    at: datetime | None = None) -> int:
        if kind not in OUTBOX_KINDS:
            raise ValueError(f"unknown outbox kind {kind!r}")
        cursor = await self.db.execute(QUEUE_SQL, (ticket_id, kind, json.dumps(payload or {}, ensure_ascii=False),
                                                   iso(at or self.clock.now())))
        assert cursor.lastrowid is not None  # an INSERT always has one
        return cursor.lastrowid

    async def queue_refresh(self, ticket_id: int, *, at: datetime | None = None) -> None:
        """A card refresh, unless one is already waiting (it will show the latest state anyway)."""
        if await self.db.fetchone("SELECT 1 FROM desk_outbox WHERE ticket_id = ? AND kind = 'refresh'"
                                  " AND status = 'pending'", (ticket_id,)) is None:
            await self.queue(ticket_id, "refresh", at=at)

    async def pending(self, limit: int = 100, after_id: int = 0) -> list[OutboxRow]:
        """Pending rows in order, whoever holds them (reading only)."""
        rows = await self.db.fetchall(
            "SELECT id, ticket_id, kind, payload, attempts FROM desk_outbox WHERE status = 'pending' AND id > ?"
            " ORDER BY id LIMIT ?", (after_id, limit))
        return [_row(r) for r in rows]

    async def claim(self, now: datetime, lease: timedelta, limit: int = 20, after_id: int = 0) -> list[OutboxRow]:
        """Up to ``limit`` pending rows after ``after_id``, in order, leased to this instance: rows it holds
        already, free rows and rows whose lease ran out; never a row of a ticket another instance holds a live
        lease on (its earlier rows are still being posted there). One transaction, so claims never overlap."""
        stamp, expired = iso(now), iso(now - lease)
        async with self.db.transaction() as conn:
            rows = await conn.execute_fetchall(
                "UPDATE desk_outbox SET claimed_by = ?, claimed_at = ? WHERE id IN ("
                " SELECT id FROM desk_outbox WHERE status = 'pending' AND id > ? AND ticket_id NOT IN ("
                "  SELECT ticket_id FROM desk_outbox WHERE status = 'pending' AND claimed_by <> ? AND claimed_at >= ?)"
                " ORDER BY id LIMIT ?) RETURNING id, ticket_id, kind, payload, attempts",
                (self.holder, stamp, after_id, self.holder, expired, limit))
        return sorted((_row(r) for r in rows), key=lambda r: r.id)

    async def renew(self, now: datetime) -> int:
        """This instance still works on its rows: their lease starts again at ``now``."""
        cursor = await self.db.execute("UPDATE desk_outbox SET claimed_at = ? WHERE status = 'pending' AND claimed_by = ?",
                                       (iso(now), self.holder))
        return max(cursor.rowcount, 0)

    async def mark_sent(self, row_id: int, *, at: datetime | None = None) -> None:
        await self.db.execute("UPDATE desk_outbox SET status = 'sent', payload = '{}', done_at = ? WHERE id = ?",
                              (iso(at or self.clock.now()), row_id))

    async def mark_failed(self, row_id: int, error: str | None, *, at: datetime | None = None) -> None:
        await self.db.execute(
            "UPDATE desk_outbox SET status = 'failed', payload = '{}', last_error = ?, done_at = ?,"
            " attempts = attempts + 1 WHERE id = ?", ((error or "")[:300], iso(at or self.clock.now()), row_id))

    async def retry_later(self, row_id: int, error: str | None) -> None:
        await self.db.execute("UPDATE desk_outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                              ((error or "")[:300], row_id))
