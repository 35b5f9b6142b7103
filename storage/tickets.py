"""Operators' desk tickets, the relay's message map and the audit log.

A ticket is open while its status is not ``resolved``/``rejected``; a citizen has at most one open ticket
(a partial unique index). Every operator action goes through :meth:`TicketsRepo.transition`, which changes the
row only if it is still in an allowed status and writes the audit entry in the same transaction, so two
operators pressing at once cannot both win.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from bot.domain.clock import Clock
from bot.domain.entities import TICKET_SOURCES, AuditEntry, Ticket, TicketMessage
from storage.db import Database, iso, parse_iso, parse_iso_required
from storage.outbox import QUEUE_SQL

__all__ = ["TicketsRepo", "UPDATABLE"]

UPDATABLE = frozenset({
    "complaint_id", "case_id", "source", "status", "assignee_id", "chat_id", "thread_id", "card_message_id",
    "relay", "resolved_at", "result", "rating", "disagreed", "language",
})


def _ticket(row: aiosqlite.Row) -> Ticket:
    return Ticket(
        id=row["id"],
        user_id=row["user_id"],
        complaint_id=row["complaint_id"],
        case_id=row["case_id"],
        language=row["language"],
        source=row["source"],
        status=row["status"],
        assignee_id=row["assignee_id"],
        chat_id=row["chat_id"],
        thread_id=row["thread_id"],
        card_message_id=row["card_message_id"],
        relay=bool(row["relay"]),
        created_at=parse_iso_required(row["created_at"]),
        updated_at=parse_iso_required(row["updated_at"]),
        resolved_at=parse_iso(row["resolved_at"]),
        result=row["result"],
        rating=row["rating"],
        disagreed=bool(row["disagreed"]),
        erased_at=parse_iso(row["erased_at"]),
        erased_reason=row["erased_reason"],
    )


def _tmsg(row: aiosqlite.Row) -> TicketMessage:
    return TicketMessage(row["id"], row["ticket_id"], row["direction"], row["citizen_chat_id"],
                         row["citizen_message_id"], row["group_chat_id"], row["group_message_id"],
                         parse_iso_required(row["at"]))


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, bool):
        return int(value)
    return value


class TicketsRepo:
    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self.db = db
        self.clock = clock or Clock()

    def _stamp(self, at: datetime | None) -> str:
        return iso(at or self.clock.now())

    # ---- tickets ------------------------------------------------------------------------------
    async def open_for_user(self, user_id: int) -> Ticket | None:
        row = await self.db.fetchone(
            "SELECT * FROM tickets WHERE user_id = ? AND status NOT IN ('resolved', 'rejected')", (user_id,))
        return _ticket(row) if row else None

    async def open_or_create(self, user_id: int, *, language: str, source: str, complaint_id: int | None,
                             chat_id: int | None, actor_id: int | None = None,
                             at: datetime | None = None, queue_card: bool = False) -> tuple[Ticket, bool]:
        """The citizen's open ticket, or a new one; ``(ticket, created)``. A second escalation reuses the
        open ticket and switches the relay back on (the caller decides what else to attach). ``queue_card``:
        a new ticket's card is queued in the desk's outbox in the same transaction (storage/outbox.py)."""
        if source not in TICKET_SOURCES:
            raise ValueError(f"unknown source {source!r}")
        now = self._stamp(at)
        async with self.db.transaction() as conn:
            row = await (await conn.execute(
                "SELECT id FROM tickets WHERE user_id = ? AND status NOT IN ('resolved', 'rejected')",
                (user_id,))).fetchone()
            created = row is None
            if created:
                cursor = await conn.execute(
                    "INSERT INTO tickets (user_id, complaint_id, language, source, status, chat_id, relay,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, 'new', ?, 1, ?, ?)",
                    (user_id, complaint_id, language, source, chat_id, now, now),
                )
                ticket_id = cursor.lastrowid
                assert ticket_id is not None
                await conn.execute(
                    "INSERT INTO audit_log (ticket_id, actor_id, action, detail, at) VALUES (?, ?, 'opened', ?, ?)",
                    (ticket_id, actor_id if actor_id is not None else user_id,
                     json.dumps({"source": source, "complaint_id": complaint_id}), now),
                )
                if queue_card:
                    await conn.execute(QUEUE_SQL, (ticket_id, "card", "{}", now))
            else:
                assert row is not None
                ticket_id = row[0]
                await conn.execute("UPDATE tickets SET relay = 1, updated_at = ? WHERE id = ?", (now, ticket_id))
                await conn.execute(
                    "INSERT INTO audit_log (ticket_id, actor_id, action, detail, at) VALUES (?, ?, 'reused', ?, ?)",
                    (ticket_id, actor_id if actor_id is not None else user_id,
                     json.dumps({"source": source, "complaint_id": complaint_id}), now),
                )
        ticket = await self.get(ticket_id)
        assert ticket is not None
        return ticket, created

    async def get(self, ticket_id: int) -> Ticket | None:
        row = await self.db.fetchone("SELECT * FROM tickets WHERE id = ?", (ticket_id,))
        return _ticket(row) if row else None

    async def by_thread(self, chat_id: int, thread_id: int) -> Ticket | None:
        row = await self.db.fetchone(
            "SELECT * FROM tickets WHERE chat_id = ? AND thread_id = ? ORDER BY id DESC LIMIT 1", (chat_id, thread_id))
        return _ticket(row) if row else None

    async def by_group_message(self, chat_id: int, message_id: int) -> Ticket | None:
        row = await self.db.fetchone(
            "SELECT t.* FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id"
            " WHERE m.group_chat_id = ? AND m.group_message_id = ? ORDER BY m.id DESC LIMIT 1",
            (chat_id, message_id),
        )
        return _ticket(row) if row else None

    async def list_tickets(self, *, statuses: Sequence[str] | None = None) -> list[Ticket]:
        """Every ticket (or those in ``statuses``), oldest first."""
        sql, params = "SELECT * FROM tickets", []
        if statuses:
            sql += f" WHERE status IN ({','.join('?' * len(statuses))})"
            params = list(statuses)
        return [_ticket(r) for r in await self.db.fetchall(sql + " ORDER BY id", params)]

    async def delete(self, ticket_id: int) -> None:
        """Only for a ticket that could never be posted to the desk (nothing refers to it yet)."""
        await self.db.execute("DELETE FROM tickets WHERE id = ?", (ticket_id,))

    async def update(self, ticket_id: int, *, at: datetime | None = None, **changes: Any) -> Ticket | None:
        """Plain field update without an audit entry (placement of the card, relay switch)."""
        await self._apply(None, ticket_id, changes, at=at)
        return await self.get(ticket_id)

    async def transition(
        self,
        ticket_id: int,
        *,
        actor_id: int | None,
        action: str,
        allowed: Iterable[str],
        detail: dict[str, Any] | None = None,
        at: datetime | None = None,
        **changes: Any,
    ) -> Ticket | None:
        """Apply ``changes`` only if the ticket is in one of ``allowed`` statuses, and write the audit entry,
        in one transaction. Returns the updated ticket, or None when it does not exist / is not allowed."""
        allowed = tuple(allowed)
        now = self._stamp(at)
        async with self.db.transaction() as conn:
            row = await (await conn.execute("SELECT status FROM tickets WHERE id = ?", (ticket_id,))).fetchone()
            if row is None or row[0] not in allowed:
                return None
            await self._apply(conn, ticket_id, changes, stamp=now)
            await conn.execute(
                "INSERT INTO audit_log (ticket_id, actor_id, action, detail, at) VALUES (?, ?, ?, ?, ?)",
                (ticket_id, actor_id, action, json.dumps(detail or {}, ensure_ascii=False, default=str), now),
            )
        return await self.get(ticket_id)

    async def _apply(self, conn: aiosqlite.Connection | None, ticket_id: int, changes: dict[str, Any], *, at: datetime | None = None,
                     stamp: str | None = None) -> None:
        bad = set(changes) - UPDATABLE
        if bad:
            raise ValueError(f"not updatable: {sorted(bad)}")
        stamp = stamp or self._stamp(at)
        cols = [f"{k} = ?" for k in changes] + ["updated_at = ?"]
        params = [_value(v) for v in changes.values()] + [stamp, ticket_id]
        sql = f"UPDATE tickets SET {', '.join(cols)} WHERE id = ?"
        if conn is None:
            await self.db.execute(sql, params)
        else:
            await conn.execute(sql, params)

    # ---- audit --------------------------------------------------------------------------------
    async def audit(self, ticket_id: int | None, actor_id: int | None, action: str,
                    detail: dict[str, Any] | None = None, *, at: datetime | None = None) -> None:
        await self.db.execute(
            "INSERT INTO audit_log (ticket_id, actor_id, action, detail, at) VALUES (?, ?, ?, ?, ?)",
            (ticket_id, actor_id, action, json.dumps(detail or {}, ensure_ascii=False, default=str),
             self._stamp(at)),
        )

    async def audit_for(self, ticket_id: int | None) -> list[AuditEntry]:
        if ticket_id is None:
            rows = await self.db.fetchall("SELECT * FROM audit_log WHERE ticket_id IS NULL ORDER BY id")
        else:
            rows = await self.db.fetchall("SELECT * FROM audit_log WHERE ticket_id = ? ORDER BY id", (ticket_id,))
        return [AuditEntry(r["id"], r["ticket_id"], r["actor_id"], r["action"], json.loads(r["detail"]),
                           parse_iso_required(r["at"])) for r in rows]

    # ---- message map --------------------------------------------------------------------------
    async def add_message(self, ticket_id: int, direction: str, *, citizen_chat_id: int,
                          citizen_message_id: int | None, group_chat_id: int, group_message_id: int | None,
                          at: datetime | None = None) -> None:
        try:
            await self.db.execute(
                "INSERT INTO ticket_messages (ticket_id, direction, citizen_chat_id, citizen_message_id,"
                " group_chat_id, group_message_id, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (ticket_id, direction, citizen_chat_id, citizen_message_id, group_chat_id, group_message_id,
                 self._stamp(at)),
            )
        except sqlite3.IntegrityError:  # the ticket vanished meanwhile: nothing to map
            pass

    async def messages(self, ticket_id: int, *, direction: str | None = None) -> list[TicketMessage]:
        sql = "SELECT * FROM ticket_messages WHERE ticket_id = ?"
        params: list[Any] = [ticket_id]
        if direction:
            sql += " AND direction = ?"
            params.append(direction)
        return [_tmsg(r) for r in await self.db.fetchall(sql + " ORDER BY id", params)]

    async def find_in(self, citizen_chat_id: int, citizen_message_id: int) -> TicketMessage | None:
        """The group copy of a citizen's message (for an edit)."""
        row = await self.db.fetchone(
            "SELECT * FROM ticket_messages WHERE direction = 'in' AND citizen_chat_id = ? AND citizen_message_id = ?"
            " ORDER BY id LIMIT 1", (citizen_chat_id, citizen_message_id))
        return _tmsg(row) if row else None

    async def find_out(self, group_chat_id: int, group_message_id: int) -> TicketMessage | None:
        """The citizen's copy of an operator's reply (for an edit)."""
        row = await self.db.fetchone(
            "SELECT * FROM ticket_messages WHERE direction = 'out' AND group_chat_id = ? AND group_message_id = ?"
            " ORDER BY id LIMIT 1", (group_chat_id, group_message_id))
        return _tmsg(row) if row else None
