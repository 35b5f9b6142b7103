"""Operators' desk tickets, the relay's message map and the audit log on PostgreSQL (storage/tickets.py has the
rules: one open ticket per citizen, every operator action through ``transition``, checked and audited in one
transaction; here the ticket's row is locked for it, so two operators pressing at once cannot both win)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from bot.domain.clock import Clock
from bot.domain.entities import TICKET_SOURCES, AuditEntry, Ticket, TicketMessage
from storage.pg.db import Conn, PgDatabase, moment
from storage.pg.outbox import QUEUE_SQL
from storage.pg.rows import entity, jsonb, loads
from storage.tickets import UPDATABLE

__all__ = ["PgTicketsRepo"]


def _ticket(row: asyncpg.Record) -> Ticket:
    return entity(Ticket, row)


def _tmsg(row: asyncpg.Record) -> TicketMessage:
    return entity(TicketMessage, row)


def _value(value: Any) -> Any:
    return moment(value) if isinstance(value, datetime) else value


_AUDIT = "INSERT INTO audit_log (ticket_id, actor_id, action, detail, at) VALUES ($1, $2, $3, $4, $5)"


class PgTicketsRepo:
    def __init__(self, db: PgDatabase, clock: Clock | None = None) -> None:
        self.db = db
        self.clock = clock or Clock()

    def _stamp(self, at: datetime | None) -> datetime:
        return moment(at or self.clock.now())

    async def open_for_user(self, user_id: int) -> Ticket | None:
        row = await self.db.fetchone(
            "SELECT * FROM tickets WHERE user_id = $1 AND status NOT IN ('resolved', 'rejected')", user_id)
        return _ticket(row) if row else None

    async def open_or_create(self, user_id: int, *, language: str, source: str, complaint_id: int | None,
                             chat_id: int | None, actor_id: int | None = None,
                             at: datetime | None = None, queue_card: bool = False) -> tuple[Ticket, bool]:
        """The citizen's open ticket, or a new one; ``(ticket, created)`` (see storage/tickets.py). Two
        instances opening one citizen's ticket at once: the unique index lets one insert, the other reuses it."""
        if source not in TICKET_SOURCES:
            raise ValueError(f"unknown source {source!r}")
        now = self._stamp(at)
        detail = jsonb({"source": source, "complaint_id": complaint_id})
        actor = actor_id if actor_id is not None else user_id
        async with self.db.transaction() as conn:
            ticket_id: int | None = await conn.fetchval(
                "INSERT INTO tickets (user_id, complaint_id, language, source, status, chat_id, relay,"
                " created_at, updated_at) VALUES ($1, $2, $3, $4, 'new', $5, true, $6, $6)"
                " ON CONFLICT (user_id) WHERE status NOT IN ('resolved', 'rejected', 'withdrawn') DO NOTHING RETURNING id",
                user_id, complaint_id, language, source, chat_id, now)
            created = ticket_id is not None
            if ticket_id is not None:
                await conn.execute(_AUDIT, ticket_id, actor, "opened", detail, now)
                if queue_card:
                    await conn.execute(QUEUE_SQL, ticket_id, "card", "{}", now)
            else:
                ticket_id = await conn.fetchval(
                    "UPDATE tickets SET relay = true, updated_at = $1"
                    " WHERE user_id = $2 AND status NOT IN ('resolved', 'rejected') RETURNING id", now, user_id)
                assert ticket_id is not None
                await conn.execute(_AUDIT, ticket_id, actor, "reused", detail, now)
            row = await conn.fetchrow("SELECT * FROM tickets WHERE id = $1", ticket_id)
        assert row is not None  # written just above, in this transaction
        return _ticket(row), created

    async def get(self, ticket_id: int) -> Ticket | None:
        row = await self.db.fetchone("SELECT * FROM tickets WHERE id = $1", ticket_id)
        return _ticket(row) if row else None

    async def by_thread(self, chat_id: int, thread_id: int) -> Ticket | None:
        row = await self.db.fetchone(
            "SELECT * FROM tickets WHERE chat_id = $1 AND thread_id = $2 ORDER BY id DESC LIMIT 1", chat_id, thread_id)
        return _ticket(row) if row else None

    async def by_group_message(self, chat_id: int, message_id: int) -> Ticket | None:
        row = await self.db.fetchone(
            "SELECT t.* FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id"
            " WHERE m.group_chat_id = $1 AND m.group_message_id = $2 ORDER BY m.id DESC LIMIT 1", chat_id, message_id)
        return _ticket(row) if row else None

    async def list_tickets(self, *, statuses: Sequence[str] | None = None) -> list[Ticket]:
        rows = await self.db.fetchall(
            "SELECT * FROM tickets WHERE $1::text[] IS NULL OR status = ANY($1::text[]) ORDER BY id",
            [str(s) for s in statuses] if statuses else None)
        return [_ticket(r) for r in rows]

    async def delete(self, ticket_id: int) -> None:
        await self.db.execute("DELETE FROM tickets WHERE id = $1", ticket_id)

    async def update(self, ticket_id: int, *, at: datetime | None = None, **changes: Any) -> Ticket | None:
        async with self.db.transaction() as conn:
            return await self._apply(conn, ticket_id, changes, self._stamp(at))

    async def transition(self, ticket_id: int, *, actor_id: int | None, action: str, allowed: Iterable[str],
                         detail: dict[str, Any] | None = None, at: datetime | None = None,
                         **changes: Any) -> Ticket | None:
        allowed = tuple(allowed)
        now = self._stamp(at)
        async with self.db.transaction() as conn:
            status = await conn.fetchval("SELECT status FROM tickets WHERE id = $1 FOR UPDATE", ticket_id)
            if status is None or status not in allowed:
                return None
            ticket = await self._apply(conn, ticket_id, changes, now)
            await conn.execute(_AUDIT, ticket_id, actor_id, action, jsonb(detail, default=str), now)
        return ticket

    async def _apply(self, conn: Conn, ticket_id: int, changes: dict[str, Any], stamp: datetime) -> Ticket | None:
        bad = set(changes) - UPDATABLE
        if bad:
            raise ValueError(f"not updatable: {sorted(bad)}")
        cols = [f"{k} = ${i}" for i, k in enumerate(changes, start=1)]
        n = len(cols)
        cols.append(f"updated_at = ${n + 1}")
        row = await conn.fetchrow(f"UPDATE tickets SET {', '.join(cols)} WHERE id = ${n + 2} RETURNING *",
                                  *[_value(v) for v in changes.values()], stamp, ticket_id)
        return _ticket(row) if row else None

    async def audit(self, ticket_id: int | None, actor_id: int | None, action: str,
                    detail: dict[str, Any] | None = None, *, at: datetime | None = None) -> None:
        await self.db.execute(_AUDIT, ticket_id, actor_id, action, jsonb(detail, default=str), self._stamp(at))

    async def audit_for(self, ticket_id: int | None) -> list[AuditEntry]:
        rows = await self.db.fetchall("SELECT * FROM audit_log WHERE ticket_id IS NOT DISTINCT FROM $1 ORDER BY id",
                                      ticket_id)
        return [entity(AuditEntry, r, detail=loads(r["detail"])) for r in rows]

    async def add_message(self, ticket_id: int, direction: str, *, citizen_chat_id: int,
                          citizen_message_id: int | None, group_chat_id: int, group_message_id: int | None,
                          at: datetime | None = None) -> None:
        try:
            await self.db.execute(
                "INSERT INTO ticket_messages (ticket_id, direction, citizen_chat_id, citizen_message_id,"
                " group_chat_id, group_message_id, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                ticket_id, direction, citizen_chat_id, citizen_message_id, group_chat_id, group_message_id,
                self._stamp(at))
        except asyncpg.ForeignKeyViolationError:  # the ticket vanished meanwhile: nothing to map
            pass

    async def messages(self, ticket_id: int, *, direction: str | None = None) -> list[TicketMessage]:
        rows = await self.db.fetchall(
            "SELECT * FROM ticket_messages WHERE ticket_id = $1 AND ($2::text IS NULL OR direction = $2)"
            " ORDER BY id", ticket_id, direction)
        return [_tmsg(r) for r in rows]

    async def find_in(self, citizen_chat_id: int, citizen_message_id: int) -> TicketMessage | None:
        row = await self.db.fetchone(
            "SELECT * FROM ticket_messages WHERE direction = 'in' AND citizen_chat_id = $1"
            " AND citizen_message_id = $2 ORDER BY id LIMIT 1", citizen_chat_id, citizen_message_id)
        return _tmsg(row) if row else None

    async def find_out(self, group_chat_id: int, group_message_id: int) -> TicketMessage | None:
        row = await self.db.fetchone(
            "SELECT * FROM ticket_messages WHERE direction = 'out' AND group_chat_id = $1"
            " AND group_message_id = $2 ORDER BY id LIMIT 1", group_chat_id, group_message_id)
        return _tmsg(row) if row else None
