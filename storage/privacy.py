"""Personal data (migration 0010; docs/privacy.md): one person's data read back, the erasure of a person
(/forget) and of what the retention period ended, and the clean-up left for the operators' chat.

One erasure is ONE transaction: a case goes with its events and reminders, a ticket keeps its row (the desk's
history and statistics) but loses everything personal: its person, complaint, case, result, the map of the
messages relayed, the personal part of its audit entries and its pending posts; its card is queued for a
refresh (it then says the data was erased) and what the bot can delete in the operators' chat is queued in
``desk_cleanup``. Deletes overwrite the rows on disk (``PRAGMA secure_delete`` for the transaction).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import aiosqlite

from bot.domain.clock import Clock
from bot.domain.entities import OPEN_TICKET_STATUSES, AuditEntry, CaseEvent, TicketStatus
from bot.domain.privacy import CaseRecord, CleanupTask, Erasure, Expired, PersonalData, TicketRecord, safe_audit_detail
from storage.cases import CASE_COLUMNS, _case, _reminder
from storage.complaints import _row as _complaint
from storage.db import Database, iso, parse_iso_required
from storage.leases import instance_id
from storage.outbox import QUEUE_SQL
from storage.tickets import _ticket, _tmsg
from storage.users import _row as _user

__all__ = ["PrivacyRepo"]

#: Only relayed content and what the bot posted for a ticket is deleted in the group; the card is edited.
_POSTED = ("in", "out", "note")


def _marks(ids: Sequence[Any]) -> str:
    return ",".join("?" * len(ids))


async def _rows(conn: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
    return list(await conn.execute_fetchall(sql, tuple(params)))


async def _ids(conn: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()) -> list[int]:
    return [r[0] for r in await _rows(conn, sql, params) if r[0] is not None]


async def _changed(conn: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()) -> int:
    cursor = await conn.execute(sql, tuple(params))
    return max(cursor.rowcount, 0)


async def _erase_cases(conn: aiosqlite.Connection, case_ids: Sequence[int]) -> Erasure:
    """The cases with their events and reminders; a ticket that pointed to one forgets it."""
    if not case_ids:
        return Erasure()
    q = _marks(case_ids)
    await conn.execute(f"UPDATE tickets SET case_id = NULL WHERE case_id IN ({q})", case_ids)
    reminders = await _changed(conn, f"DELETE FROM reminders WHERE case_id IN ({q})", case_ids)
    await conn.execute(f"DELETE FROM case_events WHERE case_id IN ({q})", case_ids)
    cases = await _changed(conn, f"DELETE FROM cases WHERE id IN ({q})", case_ids)
    return Erasure(cases=cases, reminders=reminders)


async def _scrub_audit(conn: aiosqlite.Connection, ticket_id: int, person: int | None) -> None:
    for row in await _rows(conn, "SELECT id, actor_id, detail FROM audit_log WHERE ticket_id = ?", (ticket_id,)):
        by_person = person is not None and row["actor_id"] == person
        detail = safe_audit_detail(json.loads(row["detail"] or "{}"), by_person=by_person)
        await conn.execute("UPDATE audit_log SET actor_id = ?, detail = ? WHERE id = ?",
                           (None if by_person else row["actor_id"], json.dumps(detail, ensure_ascii=False), row["id"]))


async def _queue_cleanup(conn: aiosqlite.Connection, ticket: aiosqlite.Row, now: str, *, delete: bool) -> int:
    """What the bot will try in the operators' chat: delete what it relayed and posted (``delete``), rename the
    topic. The retention pass deletes nothing there: Telegram lets a bot delete a message only within 48 hours
    of it being sent, and those messages are a retention period old."""
    queued = 0
    for m in [] if not delete else await _rows(conn, f"SELECT group_chat_id, group_message_id FROM ticket_messages WHERE ticket_id = ?"
                               f" AND direction IN ({_marks(_POSTED)}) AND group_message_id IS NOT NULL ORDER BY id",
                         (ticket["id"], *_POSTED)):
        await conn.execute("INSERT INTO desk_cleanup (kind, chat_id, message_id, created_at) VALUES ('delete', ?, ?, ?)",
                           (m["group_chat_id"], m["group_message_id"], now))
        queued += 1
    if ticket["thread_id"] is not None and ticket["chat_id"] is not None:
        await conn.execute("INSERT INTO desk_cleanup (kind, chat_id, thread_id, ticket_id, created_at)"
                           " VALUES ('rename', ?, ?, ?, ?)", (ticket["chat_id"], ticket["thread_id"], ticket["id"], now))
        queued += 1
    return queued


async def _scrub_tickets(conn: aiosqlite.Connection, ticket_ids: Sequence[int], reason: str, now: str) -> Erasure:
    """Erase the personal content of these tickets; an open one is closed as 'withdrawn'."""
    total = Erasure()
    if not ticket_ids:
        return total
    rows = await _rows(conn, f"SELECT * FROM tickets WHERE id IN ({_marks(ticket_ids)}) AND erased_at IS NULL",
                       ticket_ids)
    for t in rows:
        tid = t["id"]
        cleanup = await _queue_cleanup(conn, t, now, delete=reason == "withdrawn")
        messages = await _changed(conn, "DELETE FROM ticket_messages WHERE ticket_id = ? AND direction <> 'card'",
                                  (tid,))
        # The card's row stays (a reply to the card still finds its ticket), without the person's chat.
        await conn.execute("UPDATE ticket_messages SET citizen_chat_id = 0, citizen_message_id = NULL"
                           " WHERE ticket_id = ?", (tid,))
        await _scrub_audit(conn, tid, t["user_id"])
        await conn.execute("INSERT INTO audit_log (ticket_id, actor_id, action, detail, at) VALUES (?, NULL, 'erased',"
                           " ?, ?)", (tid, json.dumps({"reason_kind": reason}), now))
        await conn.execute("DELETE FROM desk_outbox WHERE ticket_id = ? AND status = 'pending'"
                           " AND kind IN ('note', 'file', 'relay')", (tid,))
        await conn.execute("UPDATE desk_outbox SET payload = '{}' WHERE ticket_id = ?", (tid,))
        if t["card_message_id"] is not None and not await _rows(
                conn, "SELECT 1 FROM desk_outbox WHERE ticket_id = ? AND kind = 'refresh' AND status = 'pending'",
                (tid,)):
            await conn.execute(QUEUE_SQL, (tid, "refresh", "{}", now))
        # The operators' notices about this ticket quote its complaint's registration number.
        await conn.execute("DELETE FROM reminders WHERE audience = 'operators' AND case_id IS NULL"
                           " AND json_extract(payload, '$.ticket_id') = ?", (tid,))
        status = TicketStatus.WITHDRAWN if t["status"] in OPEN_TICKET_STATUSES else t["status"]
        await conn.execute(
            "UPDATE tickets SET user_id = NULL, complaint_id = NULL, case_id = NULL, result = NULL, relay = 0,"
            " status = ?, resolved_at = COALESCE(resolved_at, ?), erased_at = ?, erased_reason = ?, updated_at = ?"
            " WHERE id = ?", (str(status), now, now, reason, now, tid))
        total += Erasure(tickets=1, messages=messages, cleanup=cleanup)
    return total


async def _erase_unreferenced_complaints(conn: aiosqlite.Connection, complaint_ids: Iterable[int]) -> int:
    """The complaints no remaining case or ticket refers to."""
    ids = sorted(set(complaint_ids))
    if not ids:
        return 0
    return await _changed(
        conn, f"DELETE FROM complaints WHERE id IN ({_marks(ids)})"
              " AND NOT EXISTS (SELECT 1 FROM cases k WHERE k.complaint_id = complaints.id)"
              " AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.complaint_id = complaints.id)", ids)


def _task(r: aiosqlite.Row) -> CleanupTask:
    return CleanupTask(r["id"], r["kind"], r["chat_id"], r["message_id"], r["thread_id"], r["ticket_id"], r["attempts"])


class PrivacyRepo:
    """``holder``: this instance's name on the clean-up tasks it claims (storage/leases.py)."""

    def __init__(self, db: Database, clock: Clock | None = None, *, holder: str | None = None) -> None:
        self.db = db
        self.clock = clock or Clock()
        self.holder = holder or instance_id()

    async def _secure(self, conn: aiosqlite.Connection, on: bool) -> None:
        await conn.execute(f"PRAGMA secure_delete={'ON' if on else 'OFF'}")

    # ---- reading ------------------------------------------------------------------------------
    async def personal_data(self, user_id: int) -> PersonalData:
        """Everything the database keeps about ``user_id`` (the FSM's conversations come from the FSM store)."""
        db = self.db
        user_row = await db.fetchone("SELECT * FROM users WHERE id = ?", (user_id,))
        complaints = [_complaint(r) for r in await db.fetchall(
            "SELECT * FROM complaints WHERE user_id = ? ORDER BY id", (user_id,))]
        cases = []
        for row in await db.fetchall(f"SELECT {CASE_COLUMNS} FROM cases WHERE user_id = ? ORDER BY id", (user_id,)):
            events = [CaseEvent(e["id"], e["case_id"], e["kind"], json.loads(e["payload"]),
                                parse_iso_required(e["at"]))
                      for e in await db.fetchall("SELECT * FROM case_events WHERE case_id = ? ORDER BY id",
                                                 (row["id"],))]
            reminders = [_reminder(r) for r in await db.fetchall(
                "SELECT * FROM reminders WHERE case_id = ? ORDER BY due_at, id", (row["id"],))]
            cases.append(CaseRecord(_case(row), events, reminders))
        one_offs = [_reminder(r) for r in await db.fetchall(
            "SELECT * FROM reminders WHERE case_id IS NULL AND (user_id = ? OR (audience = 'citizen' AND chat_id = ?))"
            " ORDER BY id", (user_id, user_id))]
        tickets = []
        for row in await db.fetchall("SELECT * FROM tickets WHERE user_id = ? ORDER BY id", (user_id,)):
            messages = [_tmsg(m) for m in await db.fetchall(
                "SELECT * FROM ticket_messages WHERE ticket_id = ? ORDER BY id", (row["id"],))]
            audit = [AuditEntry(a["id"], a["ticket_id"], a["actor_id"], a["action"], json.loads(a["detail"]),
                                parse_iso_required(a["at"]))
                     for a in await db.fetchall("SELECT * FROM audit_log WHERE ticket_id = ? ORDER BY id", (row["id"],))]
            tickets.append(TicketRecord(_ticket(row), messages, audit))
        return PersonalData(user=_user(user_row) if user_row else None, complaints=complaints, cases=cases,
                            reminders=one_offs, tickets=tickets)

    # ---- erasure ------------------------------------------------------------------------------
    async def erase_person(self, user_id: int, *, at: datetime | None = None) -> Erasure:
        """Everything of ``user_id`` in one transaction (their conversations are the FSM store's)."""
        now = iso(at or self.clock.now())
        async with self.db.transaction() as conn:
            await self._secure(conn, True)
            try:
                done = await _erase_cases(conn, await _ids(conn, "SELECT id FROM cases WHERE user_id = ?", (user_id,)))
                done += await _scrub_tickets(
                    conn, await _ids(conn, "SELECT id FROM tickets WHERE user_id = ?", (user_id,)), "withdrawn", now)
                complaints = await _changed(conn, "DELETE FROM complaints WHERE user_id = ?", (user_id,))
                reminders = await _changed(conn, "DELETE FROM reminders WHERE user_id = ? OR (audience = 'citizen'"
                                                 " AND chat_id = ?)", (user_id, user_id))
                await conn.execute("UPDATE audit_log SET actor_id = NULL WHERE actor_id = ?", (user_id,))
                users = await _changed(conn, "DELETE FROM users WHERE id = ?", (user_id,))
                done += Erasure(users=users, complaints=complaints, reminders=reminders)
                if done.total:
                    counts = {"complaints": done.complaints, "cases": done.cases, "tickets": done.tickets}
                    await conn.execute("INSERT INTO audit_log (ticket_id, actor_id, action, detail, at)"
                                       " VALUES (NULL, NULL, 'person_erased', ?, ?)", (json.dumps(counts), now))
            finally:
                await self._secure(conn, False)
        return done

    async def expired(self, cutoff: datetime, limit: int = 200) -> Expired:
        """The next batch the retention period ended for: finished cases (answered or closed) and closed
        tickets that ended before ``cutoff``, and complaints made before it that nothing refers to."""
        stamp = iso(cutoff)
        db = self.db
        cases = await db.fetchall("SELECT id FROM cases WHERE status <> 'open' AND updated_at < ? ORDER BY id LIMIT ?",
                                  (stamp, limit))
        tickets = await db.fetchall(
            "SELECT id FROM tickets WHERE erased_at IS NULL AND resolved_at IS NOT NULL AND resolved_at < ?"
            f" AND status NOT IN ({_marks(OPEN_TICKET_STATUSES)}) ORDER BY id LIMIT ?",
            (stamp, *OPEN_TICKET_STATUSES, limit))
        complaints = await db.fetchall(
            "SELECT id FROM complaints WHERE created_at < ?"
            " AND NOT EXISTS (SELECT 1 FROM cases k WHERE k.complaint_id = complaints.id)"
            " AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.complaint_id = complaints.id) ORDER BY id LIMIT ?",
            (stamp, limit))
        return Expired([r[0] for r in cases], [r[0] for r in tickets], [r[0] for r in complaints])

    async def erase_expired(self, expired: Expired, *, at: datetime | None = None) -> Erasure:
        """The same erasure as a person's, scoped to these cases, tickets and complaints (one transaction): a
        case's complaint goes with it, and so does a ticket's, unless something else still refers to it."""
        now = iso(at or self.clock.now())
        async with self.db.transaction() as conn:
            await self._secure(conn, True)
            try:
                candidates = list(expired.complaint_ids)
                if expired.case_ids:
                    candidates += await _ids(conn, f"SELECT complaint_id FROM cases WHERE id IN"
                                                   f" ({_marks(expired.case_ids)})", expired.case_ids)
                if expired.ticket_ids:
                    candidates += await _ids(conn, f"SELECT complaint_id FROM tickets WHERE id IN"
                                                   f" ({_marks(expired.ticket_ids)})", expired.ticket_ids)
                done = await _erase_cases(conn, expired.case_ids)
                done += await _scrub_tickets(conn, expired.ticket_ids, "retention", now)
                done += Erasure(complaints=await _erase_unreferenced_complaints(conn, candidates))
            finally:
                await self._secure(conn, False)
        return done

    # ---- the operators' chat ------------------------------------------------------------------
    async def cleanup_tasks(self, limit: int = 50) -> list[CleanupTask]:
        """What is left to do, claimed or not (oldest first)."""
        rows = await self.db.fetchall("SELECT * FROM desk_cleanup ORDER BY id LIMIT ?", (limit,))
        return [_task(r) for r in rows]

    async def claim_cleanup(self, now: datetime, lease: timedelta, limit: int = 50) -> list[CleanupTask]:
        """Up to ``limit`` tasks nobody holds (or whose holder's lease ran out), leased to this instance: several
        instances never carry out one deletion twice (Telegram refuses the second)."""
        async with self.db.transaction() as conn:
            rows = await conn.execute_fetchall(
                "UPDATE desk_cleanup SET claimed_by = ?, claimed_at = ? WHERE id IN (SELECT id FROM desk_cleanup"
                " WHERE claimed_by IS NULL OR claimed_at < ? ORDER BY id LIMIT ?) RETURNING *",
                (self.holder, iso(now), iso(now - lease), int(limit)))
        return sorted((_task(r) for r in rows), key=lambda t: t.id)

    async def renew_cleanup(self, now: datetime) -> int:
        cursor = await self.db.execute("UPDATE desk_cleanup SET claimed_at = ? WHERE claimed_by = ?",
                                       (iso(now), self.holder))
        return max(cursor.rowcount, 0)

    async def cleanup_done(self, task_id: int) -> None:
        """Done (or given up): gone, unless another instance took it after this one's lease ran out."""
        await self.db.execute("DELETE FROM desk_cleanup WHERE id = ? AND (claimed_by IS NULL OR claimed_by = ?)",
                              (task_id, self.holder))

    async def cleanup_retry(self, task_id: int) -> None:
        """Failed for now: one attempt more, and free for any instance's next pass."""
        await self.db.execute(
            "UPDATE desk_cleanup SET attempts = attempts + 1, claimed_by = NULL, claimed_at = NULL WHERE id = ?"
            " AND (claimed_by IS NULL OR claimed_by = ?)", (task_id, self.holder))