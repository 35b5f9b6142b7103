"""Cases, their events and reminders on PostgreSQL: the same behaviour as storage/cases.py (its docstring has
the reminder life cycle and the at-least-once window).

Claims take rows with ``FOR UPDATE SKIP LOCKED``: two instances claiming at once each get other rows, neither
waits for the other. A row is leased to its instance (storage/leases.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg

from bot.domain.clock import Clock
from bot.domain.entities import AUDIENCES, CASE_STATUSES, Case, CaseEvent, CaseStatus, Reminder
from bot.domain.ports import Planner
from bot.domain.reminders import PlannedReminder
from storage.db import iso
from storage.leases import instance_id
from storage.pg.db import Conn, PgDatabase, moment, rowcount
from storage.pg.rows import entity, jsonb, loads
from storage.plans import Existing, plan_change

__all__ = ["PgCasesRepo", "PgRemindersRepo"]

_ERROR_MAX = 300


def _error(text: str | None) -> str | None:
    return None if text is None else str(text)[:_ERROR_MAX]


def _case(row: asyncpg.Record) -> Case:
    return entity(Case, row)


def _reminder(row: asyncpg.Record) -> Reminder:
    return entity(Reminder, row, payload=loads(row["payload"]))


async def _case_in(conn: Conn, case_id: int) -> Case:
    row = await conn.fetchrow("SELECT * FROM cases WHERE id = $1", case_id)
    if row is None:
        raise KeyError(case_id)
    return _case(row)


async def _event_in(conn: Conn, case_id: int, kind: str, payload: dict[str, Any], now: datetime) -> None:
    await conn.execute("INSERT INTO case_events (case_id, kind, payload, at) VALUES ($1, $2, $3, $4)",
                       case_id, kind, jsonb(payload), now)


_NOT_CANCELLED = ("SELECT id, case_id, kind, due_at, status, payload FROM reminders"
                  " WHERE case_id = ANY($1::bigint[]) AND status <> 'cancelled' ORDER BY id FOR UPDATE")


async def _replan_in(conn: Conn, plans: Iterable[tuple[Case, Iterable[PlannedReminder]]], now: datetime) -> int:
    """Make each case's pending reminders exactly its plan (storage.plans.plan_change), inside the caller's
    transaction, one statement per kind of change for all the cases; returns the rows inserted."""
    plans = list(plans)
    existing: dict[int, list[Existing]] = {}
    for r in await conn.fetch(_NOT_CANCELLED, [case.id for case, _ in plans]):
        existing.setdefault(r["case_id"], []).append(
            Existing(r["id"], r["kind"], iso(r["due_at"]), r["status"], r["payload"]))
    cancel: list[int] = []
    refresh: list[tuple[int, str]] = []
    insert: list[tuple[int, int, str, datetime, str]] = []
    for case, planned in plans:
        change = plan_change(existing.get(case.id, ()), planned)
        cancel += change.cancel
        refresh += change.refresh
        insert += [(case.id, case.user_id, kind, datetime.fromisoformat(due_at), payload)
                   for kind, due_at, payload in change.insert]
    if cancel:
        await conn.execute("UPDATE reminders SET status = 'cancelled', updated_at = $1 WHERE id = ANY($2::bigint[])",
                           now, cancel)
    if refresh:
        await conn.execute(
            "UPDATE reminders r SET payload = v.payload::jsonb, updated_at = $1"
            " FROM unnest($2::bigint[], $3::text[]) AS v (id, payload) WHERE r.id = v.id",
            now, [i for i, _ in refresh], [p for _, p in refresh])
    if not insert:
        return 0
    cases, users, kinds, dues, payloads = (list(c) for c in zip(*insert, strict=True))
    return rowcount(await conn.execute(
        "INSERT INTO reminders (case_id, chat_id, user_id, audience, kind, due_at, status, payload, created_at,"
        " updated_at) SELECT c, u, u, 'citizen', k, d, 'pending', p::jsonb, $6, $6"
        " FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::timestamptz[], $5::text[]) AS v (c, u, k, d, p)"
        " ON CONFLICT DO NOTHING", cases, users, kinds, dues, payloads, now))


async def _replace_plan_in(conn: Conn, case: Case, planned: Iterable[PlannedReminder], now: datetime) -> int:
    return await _replan_in(conn, [(case, planned)], now)


class PgCasesRepo:
    """Cases and their events (storage/cases.py's CasesRepo, on PostgreSQL)."""

    def __init__(self, db: PgDatabase, clock: Clock | None = None) -> None:
        self.db = db
        self.clock = clock or Clock()

    def _stamp(self, at: datetime | None) -> datetime:
        return moment(at or self.clock.now())

    async def create(
        self, user_id: int, recipient_kind: str, registered_on: date, *, filed_with: str | None = None,
        reg_number: str | None = None, complaint_id: int | None = None, ticket_id: int | None = None,
        forwarded_via_provider: bool = False, learned_on: date | None = None, at: datetime | None = None,
        plan: Planner | None = None,
    ) -> Case:
        now = self._stamp(at)
        async with self.db.transaction() as conn:
            case_id: int = await conn.fetchval(
                "INSERT INTO cases (user_id, complaint_id, ticket_id, recipient_kind, filed_with, reg_number,"
                " registered_on, forwarded_via_provider, learned_on, status, created_at, updated_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $10, $10) RETURNING id",
                user_id, complaint_id, ticket_id, str(recipient_kind), filed_with, reg_number, registered_on,
                bool(forwarded_via_provider), learned_on, now)
            await _event_in(conn, case_id, "created", {"recipient_kind": str(recipient_kind)}, now)
            return await self._planned(conn, case_id, plan, now)

    async def _planned(self, conn: Conn, case_id: int, plan: Planner | None, now: datetime) -> Case:
        case = await _case_in(conn, case_id)
        if plan is not None:
            await _replace_plan_in(conn, case, plan(case), now)
        return case

    async def get(self, case_id: int) -> Case | None:
        row = await self.db.fetchone("SELECT * FROM cases WHERE id = $1", case_id)
        return _case(row) if row else None

    async def list_for_user(self, user_id: int, *, statuses: Sequence[str] | None = None) -> list[Case]:
        if statuses:
            rows = await self.db.fetchall(
                "SELECT * FROM cases WHERE user_id = $1 AND status = ANY($2::text[])"
                " ORDER BY registered_on DESC, id DESC", user_id, [str(s) for s in statuses])
        else:
            rows = await self.db.fetchall(
                "SELECT * FROM cases WHERE user_id = $1 ORDER BY registered_on DESC, id DESC", user_id)
        return [_case(r) for r in rows]

    async def open_registered(self, first: date, last: date, *, after: tuple[date, int] | None = None,
                              limit: int = 200) -> list[Case]:
        """Open cases registered from ``first`` to ``last``, in (registered_on, id) order, the page after
        ``after`` (keyset paging)."""
        day, last_id = after if after else (first, -1)
        rows = await self.db.fetchall(
            "SELECT * FROM cases WHERE status = 'open' AND (registered_on, id) > ($1::date, $2::bigint)"
            " AND registered_on <= $3 ORDER BY registered_on, id LIMIT $4", day, last_id, last, int(limit))
        return [_case(r) for r in rows]

    async def replan_many(self, case_ids: Sequence[int], plan: Planner, *, at: datetime | None = None) -> int:
        """Re-plan these cases in ONE transaction; the plans are computed before it, and a case changed
        meanwhile (its ``updated_at``) is planned again inside. Returns the rows inserted."""
        if not case_ids:
            return 0
        ids = [int(i) for i in case_ids]
        now = self._stamp(at)
        early: dict[int, tuple[datetime, list[PlannedReminder]]] = {}
        for r in await self.db.fetchall("SELECT * FROM cases WHERE id = ANY($1::bigint[])", ids):
            early[r["id"]] = (r["updated_at"], list(plan(_case(r))))
        async with self.db.transaction() as conn:
            plans: list[tuple[Case, Iterable[PlannedReminder]]] = []
            for r in await conn.fetch("SELECT * FROM cases WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE", ids):
                case = _case(r)
                known = early.get(case.id)
                plans.append((case, known[1] if known and known[0] == r["updated_at"] else list(plan(case))))
            return await _replan_in(conn, plans, now)

    async def record_event(self, case_id: int, kind: str, payload: dict[str, Any] | None = None,
                           *, at: datetime | None = None) -> None:
        await self.db.execute("INSERT INTO case_events (case_id, kind, payload, at) VALUES ($1, $2, $3, $4)",
                              case_id, kind, jsonb(payload), self._stamp(at))

    async def events(self, case_id: int) -> list[CaseEvent]:
        rows = await self.db.fetchall("SELECT * FROM case_events WHERE case_id = $1 ORDER BY id", case_id)
        return [entity(CaseEvent, r, payload=loads(r["payload"])) for r in rows]

    async def set_extension(self, case_id: int, by: int, on: date | None, told_on: date | None = None,
                            *, at: datetime | None = None, plan: Planner | None = None) -> Case:
        if not 0 <= int(by) <= 10:
            raise ValueError("extension must be 0..10 working days")
        now = self._stamp(at)
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE cases SET extended_by = $1, extended_on = $2, extension_told_on = $3, updated_at = $4"
                " WHERE id = $5", int(by), on if by else None, told_on if by else None, now, case_id)
            await _event_in(conn, case_id, "extended", {
                "by": int(by), "on": on.isoformat() if on else None,
                "told_on": told_on.isoformat() if told_on else None}, now)
            return await self._planned(conn, case_id, plan, now)

    async def register(self, case_id: int, *, recipient_kind: str, registered_on: date, reg_number: str | None,
                       ticket_id: int | None, at: datetime | None = None, plan: Planner | None = None) -> Case:
        now = self._stamp(at)
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE cases SET recipient_kind = $1, registered_on = $2, reg_number = $3, ticket_id = $4,"
                " updated_at = $5 WHERE id = $6",
                str(recipient_kind), registered_on, reg_number, ticket_id, now, case_id)
            await _event_in(conn, case_id, "registered", {
                "recipient_kind": str(recipient_kind), "registered_on": registered_on.isoformat(),
                "reg_number": reg_number, "ticket_id": ticket_id}, now)
            return await self._planned(conn, case_id, plan, now)

    async def set_status(self, case_id: int, status: str, *, at: datetime | None = None,
                         answered_on: date | None = None, plan: Planner | None = None) -> Case:
        if status not in CASE_STATUSES:
            raise ValueError(f"unknown case status {status!r}")
        now = self._stamp(at)
        answered = answered_on if status == CaseStatus.ANSWERED else None
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE cases SET status = $1, answered_on = $2, updated_at = $3 WHERE id = $4",
                               str(status), answered, now, case_id)
            await _event_in(conn, case_id, "status",
                            {"status": str(status), **({"answered_on": answered.isoformat()} if answered else {})},
                            now)
            if status != CaseStatus.OPEN and plan is None:
                await conn.execute("UPDATE reminders SET status = 'cancelled', updated_at = $1"
                                   " WHERE case_id = $2 AND status = 'pending'", now, case_id)
            return await self._planned(conn, case_id, plan, now)

    async def replan(self, case_id: int, plan: Planner, *, at: datetime | None = None) -> int:
        now = self._stamp(at)
        async with self.db.transaction() as conn:
            case = await _case_in(conn, case_id)
            return await _replace_plan_in(conn, case, plan(case), now)


class PgRemindersRepo:
    """storage/cases.py's RemindersRepo on PostgreSQL; ``holder``: this instance's name on its claims."""

    def __init__(self, db: PgDatabase, clock: Clock | None = None, *, holder: str | None = None) -> None:
        self.db = db
        self.clock = clock or Clock()
        self.holder = holder or instance_id()

    def _stamp(self, at: datetime | None = None) -> datetime:
        return moment(at or self.clock.now())

    async def replace_plan(self, case_id: int, planned: Iterable[PlannedReminder], *,
                           at: datetime | None = None) -> int:
        now = self._stamp(at)
        async with self.db.transaction() as conn:
            return await _replace_plan_in(conn, await _case_in(conn, case_id), planned, now)

    async def add(self, *, chat_id: int, kind: str, due_at: datetime, audience: str = "operators",
                  user_id: int | None = None, case_id: int | None = None, payload: dict[str, Any] | None = None,
                  dedupe_key: str | None = None, at: datetime | None = None) -> int | None:
        if audience not in AUDIENCES:
            raise ValueError(f"unknown audience {audience!r}")
        now = self._stamp(at)
        row_id: int | None = await self.db.fetchval(
            "INSERT INTO reminders (case_id, chat_id, user_id, audience, kind, due_at, status, payload,"
            " dedupe_key, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9, $9)"
            " ON CONFLICT DO NOTHING RETURNING id",
            case_id, chat_id, user_id, audience, kind, moment(due_at), jsonb(payload), dedupe_key, now)
        return row_id

    async def claim_due(self, now: datetime, limit: int = 200, *,
                        audiences: Sequence[str] | None = None) -> list[Reminder]:
        """Up to ``limit`` due pending rows to 'sending', leased to this instance (oldest first); rows another
        claimer is taking at this moment are skipped, not waited for."""
        if audiences is not None and not audiences:
            return []
        stamp = moment(now)
        rows = await self.db.fetchall(
            "UPDATE reminders SET status = 'sending', claimed_by = $1, claimed_at = $2, updated_at = $2,"
            " sending_at = NULL, attempts = attempts + 1 WHERE id IN (SELECT id FROM reminders WHERE status = 'pending'"
            " AND due_at <= $2 AND ($3::text[] IS NULL OR audience = ANY($3::text[]))"
            " ORDER BY due_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING *",
            self.holder, stamp, [str(a) for a in audiences] if audiences is not None else None, int(limit))
        return sorted((_reminder(r) for r in rows), key=lambda r: (r.due_at, r.id))

    async def mark_sent(self, reminder_id: int, at: datetime) -> None:
        await self.db.execute(
            "UPDATE reminders SET status = 'sent', sent_at = $1, last_error = NULL, updated_at = $1"
            " WHERE id = $2 AND status = 'sending' AND claimed_by = $3", moment(at), reminder_id, self.holder)

    async def retry_later(self, reminder_id: int, at: datetime, error: str | None) -> None:
        await self.db.execute(
            "UPDATE reminders SET status = 'pending', due_at = $1, last_error = $2, claimed_by = NULL,"
            " claimed_at = NULL, sending_at = NULL, updated_at = $3 WHERE id = $4 AND status = 'sending' AND claimed_by = $5",
            moment(at), _error(error), self._stamp(), reminder_id, self.holder)

    async def defer(self, reminder_id: int, at: datetime) -> None:
        await self.db.execute(
            "UPDATE reminders SET status = 'pending', due_at = $1, claimed_by = NULL, claimed_at = NULL,"
            " sending_at = NULL, attempts = GREATEST(attempts - 1, 0), updated_at = $2"
            " WHERE id = $3 AND status = 'sending' AND claimed_by = $4",
            moment(at), self._stamp(), reminder_id, self.holder)

    async def mark_failed(self, reminder_id: int, error: str | None) -> None:
        await self._end(reminder_id, "failed", error)

    async def cancel(self, reminder_id: int, reason: str | None = None) -> None:
        await self._end(reminder_id, "cancelled", reason)

    async def _end(self, reminder_id: int, status: str, error: str | None) -> None:
        await self.db.execute(
            "UPDATE reminders SET status = $1, last_error = $2, updated_at = $3 WHERE id = $4"
            " AND (status = 'pending' OR (status = 'sending' AND claimed_by = $5))",
            status, _error(error), self._stamp(), reminder_id, self.holder)

    async def cancel_for_user(self, user_id: int) -> int:
        return rowcount(await self.db.execute(
            "UPDATE reminders SET status = 'cancelled', updated_at = $1 WHERE user_id = $2 AND status = 'pending'",
            self._stamp(), user_id))

    async def recover_stale(self, now: datetime, lease: timedelta) -> int:
        """Rows in flight whose lease ran out go back to 'pending'; a row whose holder renews it stays."""
        return rowcount(await self.db.execute(
            "UPDATE reminders SET status = 'pending', claimed_by = NULL, claimed_at = NULL, sending_at = NULL,"
            " updated_at = $1 WHERE status = 'sending' AND (claimed_at IS NULL OR claimed_at < $2)",
            moment(now), moment(now - lease)))

    async def renew(self, now: datetime) -> int:
        return rowcount(await self.db.execute(
            "UPDATE reminders SET claimed_at = $1 WHERE status = 'sending' AND claimed_by = $2",
            moment(now), self.holder))

    async def begin_send(self, reminder_id: int, at: datetime) -> bool:
        """storage/cases.py: right before the request, ``sending_at`` committed if the row is still ours."""
        return rowcount(await self.db.execute(
            "UPDATE reminders SET sending_at = $1 WHERE id = $2 AND status = 'sending' AND claimed_by = $3",
            moment(at), reminder_id, self.holder)) == 1

    async def get(self, reminder_id: int) -> Reminder | None:
        row = await self.db.fetchone("SELECT * FROM reminders WHERE id = $1", reminder_id)
        return _reminder(row) if row else None

    async def list_for_case(self, case_id: int, *, statuses: Sequence[str] | None = None) -> list[Reminder]:
        rows = await self.db.fetchall(
            "SELECT * FROM reminders WHERE case_id = $1 AND ($2::text[] IS NULL OR status = ANY($2::text[]))"
            " ORDER BY due_at, id", case_id, [str(s) for s in statuses] if statuses else None)
        return [_reminder(r) for r in rows]

    async def count_by_status(self) -> dict[str, int]:
        rows = await self.db.fetchall("SELECT status, COUNT(*) AS n FROM reminders GROUP BY status")
        return {r["status"]: r["n"] for r in rows}
