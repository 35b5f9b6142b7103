"""The desk's outbox (migration 0005): posts for the operators' chat, queued by citizens' updates and posted
in order by one pump (bot/services/desk_outbox.py)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.domain.clock import Clock
from bot.domain.entities import OUTBOX_KINDS, OutboxRow
from storage.db import Database, iso

__all__ = ["OutboxRepo", "QUEUE_SQL"]

#: One row; usable inside another repository's transaction (a ticket and its card commit together).
QUEUE_SQL = "INSERT INTO desk_outbox (ticket_id, kind, payload, created_at) VALUES (?, ?, ?, ?)"


class OutboxRepo:
    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self.db = db
        self.clock = clock or Clock()

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
        if await self.db.lookup_one("SELECT 1 FROM desk_outbox WHERE ticket_id = ? AND kind = 'refresh'"
                                  " AND status = 'pending'", (ticket_id,)) is None:
            await self.queue(ticket_id, "refresh", at=at)

    async def pending(self, limit: int = 100, after_id: int = 0) -> list[OutboxRow]:
        rows = await self.db.fetchall(
            "SELECT id, ticket_id, kind, payload, attempts FROM desk_outbox WHERE status = 'pending' AND id > ?"
            " ORDER BY id LIMIT ?", (after_id, limit))
        return [OutboxRow(r["id"], r["ticket_id"], r["kind"], json.loads(r["payload"]), r["attempts"]) for r in rows]

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
