"""Personal data on PostgreSQL (storage/privacy.py has the rules: one erasure is ONE transaction; a ticket
keeps its row without anything personal). PostgreSQL overwrites nothing in place on delete: the erased rows'
space is reclaimed by VACUUM (docs/privacy.md says what that means for backups and the WAL)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import asyncpg

from bot.domain.clock import Clock
from bot.domain.entities import OPEN_TICKET_STATUSES, AuditEntry, CaseEvent, TicketStatus
from bot.domain.privacy import CaseRecord, CleanupTask, Erasure, Expired, PersonalData, TicketRecord, safe_audit_detail
from storage.leases import instance_id
from storage.pg.cases import _case, _reminder
from storage.pg.complaints import _row as _complaint
from storage.pg.db import Conn, PgDatabase, moment, rowcount
from storage.pg.outbox import QUEUE_SQL
from storage.pg.rows import entity, jsonb, loads
from storage.pg.tickets import _ticket, _tmsg
from storage.pg.users import _user

__all__ = ["PgPrivacyRepo"]

_POSTED = ["in", "out", "note"]


async def _ids(conn: Conn, sql: str, *args: object) -> list[int]:
    return [r[0] for r in await conn.fetch(sql, *args) if r[0] is not None]


async def _erase_cases(conn: Conn, case_ids: Sequence[int]) -> Erasure:
    if not case_ids:
        return Erasure()
    ids = list(case_ids)
    await conn.execute("UPDATE tickets SET case_id = NULL WHERE case_id = ANY($1::bigint[])", ids)
    reminders = rowcount(await conn.execute("DELETE FROM reminders WHERE case_id = ANY($1::bigint[])", ids))
    await conn.execute("DELETE FROM case_events WHERE case_id = ANY($1::bigint[])", ids)
    cases = rowcount(await conn.execute("DELETE FROM cases WHERE id = ANY($1::bigint[])", ids))
    return Erasure(cases=cases, reminders=reminders)


async def _scrub_audit(conn: Conn, ticket_id: int, person: int | None) -> None:
    for row in await conn.fetch("SELECT id, actor_id, detail FROM audit_log WHERE ticket_id = $1", ticket_id):
        by_person = person is not None and row["actor_id"] == person
        detail = safe_audit_detail(loads(row["detail"]), by_person=by_person)
        await conn.execute("UPDATE audit_log SET actor_id = $1, detail = $2 WHERE id = $3",
                           None if by_person else row["actor_id"], jsonb(detail), row["id"])


async def _queue_cleanup(conn: Conn, ticket: asyncpg.Record, now: datetime, *, delete: bool) -> int:
    queued = 0
    if delete:
        for m in await conn.fetch(
                "SELECT group_chat_id, group_message_id FROM ticket_messages WHERE ticket_id = $1"
                " AND direction = ANY($2::text[]) AND group_message_id IS NOT NULL ORDER BY id", ticket["id"], _POSTED):
            await conn.execute("INSERT INTO desk_cleanup (kind, chat_id, message_id, created_at)"
                               " VALUES ('delete', $1, $2, $3)", m["group_chat_id"], m["group_message_id"], now)
            queued += 1
    if ticket["thread_id"] is not None and ticket["chat_id"] is not None:
        await conn.execute("INSERT INTO desk_cleanup (kind, chat_id, thread_id, ticket_id, created_at)"
                           " VALUES ('rename', $1, $2, $3, $4)", ticket["chat_id"], ticket["thread_id"], ticket["id"], now)
        queued += 1
    return queued


async def _scrub_tickets(conn: Conn, ticket_ids: Sequence[int], reason: str, now: datetime) -> Erasure:
    total = Erasure()
    if not ticket_ids:
        return total
    rows = await conn.fetch("SELECT * FROM tickets WHERE id = ANY($1::bigint[]) AND erased_at IS NULL ORDER BY id"
                            " FOR UPDATE", list(ticket_ids))
    for t in rows:
        tid = t["id"]
        cleanup = await _queue_cleanup(conn, t, now, delete=reason == "withdrawn")
        messages = rowcount(await conn.execute(
            "DELETE FROM ticket_messages WHERE ticket_id = $1 AND direction <> 'card'", tid))
        await conn.execute("UPDATE ticket_messages SET citizen_chat_id = 0, citizen_message_id = NULL"
                           " WHERE ticket_id = $1", tid)
        await _scrub_audit(conn, tid, t["user_id"])
        await conn.execute("INSERT INTO audit_log (ticket_id, actor_id, action, detail, at)"
                           " VALUES ($1, NULL, 'erased', $2, $3)", tid, jsonb({"reason_kind": reason}), now)
        await conn.execute("DELETE FROM desk_outbox WHERE ticket_id = $1 AND status = 'pending'"
                           " AND kind IN ('note', 'file', 'relay')", tid)
        await conn.execute("UPDATE desk_outbox SET payload = '{}' WHERE ticket_id = $1", tid)
        if t["card_message_id"] is not None and await conn.fetchval(
                "SELECT 1 FROM desk_outbox WHERE ticket_id = $1 AND kind = 'refresh' AND status = 'pending'",
                tid) is None:
            await conn.execute(QUEUE_SQL, tid, "refresh", "{}", now)
        await conn.execute("DELETE FROM reminders WHERE audience = 'operators' AND case_id IS NULL"
                           " AND payload ->> 'ticket_id' = $1::text", str(tid))
        status = TicketStatus.WITHDRAWN if t["status"] in OPEN_TICKET_STATUSES else t["status"]
        await conn.execute(
            "UPDATE tickets SET user_id = NULL, complaint_id = NULL, case_id = NULL, result = NULL, relay = false,"
            " status = $1, resolved_at = COALESCE(resolved_at, $2), erased_at = $2, erased_reason = $3,"
            " updated_at = $2 WHERE id = $4", str(status), now, reason, tid)
        total += Erasure(tickets=1, messages=messages, cleanup=cleanup)
    return total


async def _erase_unreferenced_complaints(conn: Conn, complaint_ids: Iterable[int]) -> int:
    ids = sorted(set(complaint_ids))
    if not ids:
        return 0
    return rowcount(await conn.execute(
        "DELETE FROM complaints c WHERE c.id = ANY($1::bigint[])"
        " AND NOT EXISTS (SELECT 1 FROM cases k WHERE k.complaint_id = c.id)"
        " AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.complaint_id = c.id)", ids))


def _task(r: asyncpg.Record) -> CleanupTask:
    return CleanupTask(r["id"], r["kind"], r["chat_id"], r["message_id"], r["thread_id"], r["ticket_id"], r["attempts"])


class PgPrivacyRepo:
    """storage/privacy.py's PrivacyRepo on PostgreSQL; ``holder``: this instance's name on its clean-up claims."""

    def __init__(self, db: PgDatabase, clock: Clock | None = None, *, holder: str | None = None) -> None:
        self.db = db
        self.clock = clock or Clock()
        self.holder = holder or instance_id()

    async def personal_data(self, user_id: int) -> PersonalData:
        db = self.db
        user_row = await db.fetchone("SELECT * FROM users WHERE id = $1", user_id)
        complaints = [_complaint(r) for r in await db.fetchall(
            "SELECT * FROM complaints WHERE user_id = $1 ORDER BY id", user_id)]
        cases = []
        for row in await db.fetchall("SELECT * FROM cases WHERE user_id = $1 ORDER BY id", user_id):
            events = [entity(CaseEvent, e, payload=loads(e["payload"])) for e in await db.fetchall(
                "SELECT * FROM case_events WHERE case_id = $1 ORDER BY id", row["id"])]
            reminders = [_reminder(r) for r in await db.fetchall(
                "SELECT * FROM reminders WHERE case_id = $1 ORDER BY due_at, id", row["id"])]
            cases.append(CaseRecord(_case(row), events, reminders))
        one_offs = [_reminder(r) for r in await db.fetchall(
            "SELECT * FROM reminders WHERE case_id IS NULL AND (user_id = $1 OR (audience = 'citizen'"
            " AND chat_id = $1)) ORDER BY id", user_id)]
        tickets = []
        for row in await db.fetchall("SELECT * FROM tickets WHERE user_id = $1 ORDER BY id", user_id):
            messages = [_tmsg(m) for m in await db.fetchall(
                "SELECT * FROM ticket_messages WHERE ticket_id = $1 ORDER BY id", row["id"])]
            audit = [entity(AuditEntry, a, detail=loads(a["detail"])) for a in await db.fetchall(
                "SELECT * FROM audit_log WHERE ticket_id = $1 ORDER BY id", row["id"])]
            tickets.append(TicketRecord(_ticket(row), messages, audit))
        return PersonalData(user=_user(user_row) if user_row else None, complaints=complaints, cases=cases,
                            reminders=one_offs, tickets=tickets)

    async def erase_person(self, user_id: int, *, at: datetime | None = None) -> Erasure:
        now = moment(at or self.clock.now())
        async with self.db.transaction() as conn:
            done = await _erase_cases(conn, await _ids(conn, "SELECT id FROM cases WHERE user_id = $1", user_id))
            done += await _scrub_tickets(
                conn, await _ids(conn, "SELECT id FROM tickets WHERE user_id = $1", user_id), "withdrawn", now)
            complaints = rowcount(await conn.execute("DELETE FROM complaints WHERE user_id = $1", user_id))
            reminders = rowcount(await conn.execute(
                "DELETE FROM reminders WHERE user_id = $1 OR (audience = 'citizen' AND chat_id = $1)", user_id))
            await conn.execute("UPDATE audit_log SET actor_id = NULL WHERE actor_id = $1", user_id)
            users = rowcount(await conn.execute("DELETE FROM users WHERE id = $1", user_id))
            done += Erasure(users=users, complaints=complaints, reminders=reminders)
            if done.total:
                counts = {"complaints": done.complaints, "cases": done.cases, "tickets": done.tickets}
                await conn.execute("INSERT INTO audit_log (ticket_id, actor_id, action, detail, at)"
                                   " VALUES (NULL, NULL, 'person_erased', $1, $2)", jsonb(counts), now)
        return done

    async def expired(self, cutoff: datetime, limit: int = 200) -> Expired:
        stamp = moment(cutoff)
        db = self.db
        cases = await db.fetchall(
            "SELECT id FROM cases WHERE status <> 'open' AND updated_at < $1 ORDER BY id LIMIT $2", stamp, limit)
        tickets = await db.fetchall(
            "SELECT id FROM tickets WHERE erased_at IS NULL AND resolved_at IS NOT NULL AND resolved_at < $1"
            " AND NOT (status = ANY($2::text[])) ORDER BY id LIMIT $3",
            stamp, [str(s) for s in OPEN_TICKET_STATUSES], limit)
        complaints = await db.fetchall(
            "SELECT c.id FROM complaints c WHERE c.created_at < $1"
            " AND NOT EXISTS (SELECT 1 FROM cases k WHERE k.complaint_id = c.id)"
            " AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.complaint_id = c.id) ORDER BY c.id LIMIT $2",
            stamp, limit)
        return Expired([r[0] for r in cases], [r[0] for r in tickets], [r[0] for r in complaints])

    async def erase_expired(self, expired: Expired, *, at: datetime | None = None) -> Erasure:
        now = moment(at or self.clock.now())
        async with self.db.transaction() as conn:
            candidates = list(expired.complaint_ids)
            if expired.case_ids:
                candidates += await _ids(conn, "SELECT complaint_id FROM cases WHERE id = ANY($1::bigint[])",
                                         list(expired.case_ids))
            if expired.ticket_ids:
                candidates += await _ids(conn, "SELECT complaint_id FROM tickets WHERE id = ANY($1::bigint[])",
                                         list(expired.ticket_ids))
            done = await _erase_cases(conn, expired.case_ids)
            done += await _scrub_tickets(conn, expired.ticket_ids, "retention", now)
            done += Erasure(complaints=await _erase_unreferenced_complaints(conn, candidates))
        return done

    async def cleanup_tasks(self, limit: int = 50) -> list[CleanupTask]:
        rows = await self.db.fetchall("SELECT * FROM desk_cleanup ORDER BY id LIMIT $1", limit)
        return [_task(r) for r in rows]

    async def claim_cleanup(self, now: datetime, lease: timedelta, limit: int = 50) -> list[CleanupTask]:
        """storage/privacy.py; rows another claimer is taking at this moment are skipped, not waited for."""
        rows = await self.db.fetchall(
            "UPDATE desk_cleanup SET claimed_by = $1, claimed_at = $2 WHERE id IN (SELECT id FROM desk_cleanup"
            " WHERE claimed_by IS NULL OR claimed_at < $3 ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING *",
            self.holder, moment(now), moment(now - lease), limit)
        return sorted((_task(r) for r in rows), key=lambda t: t.id)

    async def renew_cleanup(self, now: datetime) -> int:
        return rowcount(await self.db.execute("UPDATE desk_cleanup SET claimed_at = $1 WHERE claimed_by = $2",
                                              moment(now), self.holder))

    async def cleanup_done(self, task_id: int) -> None:
        await self.db.execute("DELETE FROM desk_cleanup WHERE id = $1 AND (claimed_by IS NULL OR claimed_by = $2)",
                              task_id, self.holder)

    async def cleanup_retry(self, task_id: int) -> None:
        await self.db.execute(
            "UPDATE desk_cleanup SET attempts = attempts + 1, claimed_by = NULL, claimed_at = NULL WHERE id = $1"
            " AND (claimed_by IS NULL OR claimed_by = $2)", task_id, self.holder)
