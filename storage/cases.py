"""Tracked complaints (cases) and their reminders. Repositories return plain dataclasses.

Reminder life cycle (one row = one message)::

    pending --claim_due--> sending --mark_sent--> sent
                              |------retry_later--> pending (later due_at)
                              |------mark_failed--> failed
    pending/sending --cancel / cancel_for_user / replace_plan--> cancelled

Delivery is at-least-once: a row is claimed ('sending', leased to its instance: storage/leases.py) in one
commit; right before its request leaves, ``begin_send`` commits its ``sending_at``; right after Telegram's
answer (before anything else, even the shared limiter's bookkeeping) ``mark_sent`` commits 'sent', one row
at a time, never batched. If the instance dies between Telegram accepting the message and the 'sent'
commit, ``recover_stale`` puts the row back to 'pending' once its lease ran out and the person gets that one
reminder twice. So only rows whose ``sending_at`` was set can repeat, and at any moment they are the requests
in flight (at 25 messages/s and a few milliseconds a round trip, rarely more than one per instance); a
claimed row that never reached ``begin_send`` goes out once, after the lease. Losing a reminder would be
worse than a rare duplicate, and Telegram offers no idempotency key to close the one-request window. Rows
another instance holds (and renews) are never taken: several instances send each reminder once.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import aiosqlite

from bot.domain.clock import Clock
from bot.domain.entities import (
    AUDIENCES,
    CASE_STATUSES,
    Case,
    CaseEvent,
    CaseStatus,
    Reminder,
)
from bot.domain.reminders import PlannedReminder
from storage.db import Database, iso, parse_iso, parse_iso_required
from storage.leases import instance_id
from storage.plans import Existing, plan_change

__all__ = ["CasesRepo", "Planner", "RemindersRepo"]

#: A case's reminders from its state (pure: bot.services.cases builds it from the deadlines and the settings).
#: The repository calls it INSIDE the transaction that changes the case, so the case and its plan commit
#: together, and a planner that fails leaves the case unchanged.
Planner = Callable[[Case], Iterable[PlannedReminder]]

_ERROR_MAX = 300


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _dayiso(day: date | None) -> str | None:
    return day.isoformat() if day else None


#: The columns of a case, in the order :func:`_case` reads them: by position, as a name lookup in a
#: sqlite3.Row compares the names one by one (17 of them took ~6 µs of the ~9 µs a case cost in /my).
CASE_COLUMNS = ("id, user_id, complaint_id, ticket_id, recipient_kind, filed_with, reg_number, registered_on,"
                " forwarded_via_provider, extended_by, extended_on, extension_told_on, learned_on, status, created_at,"
                " updated_at, answered_on")
_CASE_BY_ID = f"SELECT {CASE_COLUMNS} FROM cases WHERE id = ?"


def _case(row: aiosqlite.Row | sqlite3.Row) -> Case:
    """A case from a row of CASE_COLUMNS."""
    (id_, user_id, complaint_id, ticket_id, recipient_kind, filed_with, reg_number, registered_on, forwarded,
     extended_by, extended_on, told_on, learned_on, status, created_at, updated_at, answered_on) = row
    return Case(
        id=id_,
        user_id=user_id,
        complaint_id=complaint_id,
        ticket_id=ticket_id,
        recipient_kind=recipient_kind,
        filed_with=filed_with,
        reg_number=reg_number,
        registered_on=date.fromisoformat(registered_on),
        forwarded_via_provider=bool(forwarded),
        extended_by=extended_by,
        extended_on=_day(extended_on),
        extension_told_on=_day(told_on),
        learned_on=_day(learned_on),
        status=status,
        created_at=parse_iso_required(created_at),
        updated_at=parse_iso_required(updated_at),
        answered_on=_day(answered_on),
    )


def _reminder(row: aiosqlite.Row) -> Reminder:
    return Reminder(
        id=row["id"],
        case_id=row["case_id"],
        chat_id=row["chat_id"],
        user_id=row["user_id"],
        audience=row["audience"],
        kind=row["kind"],
        due_at=parse_iso_required(row["due_at"]),
        status=row["status"],
        attempts=row["attempts"],
        claimed_at=parse_iso(row["claimed_at"]),
        sent_at=parse_iso(row["sent_at"]),
        last_error=row["last_error"],
        payload=json.loads(row["payload"] or "{}"),
        dedupe_key=row["dedupe_key"],
    )


def _error(text: str | None) -> str | None:
    return None if text is None else str(text)[:_ERROR_MAX]


async def _case_in(conn: aiosqlite.Connection, case_id: int) -> Case:
    rows = list(await conn.execute_fetchall(_CASE_BY_ID, (case_id,)))
    if not rows:
        raise KeyError(case_id)
    return _case(rows[0])


_INSERT_EVENT = "INSERT INTO case_events (case_id, kind, payload, at) VALUES (?, ?, ?, ?)"


def _event_row(case_id: int, kind: str, payload: dict[str, Any], now: str) -> tuple[Any, ...]:
    return case_id, kind, json.dumps(payload, ensure_ascii=False), now


async def _event_in(conn: aiosqlite.Connection, case_id: int, kind: str, payload: dict[str, Any], now: str) -> None:
    await conn.execute(_INSERT_EVENT, _event_row(case_id, kind, payload, now))


def _plan_diff(case: Case, existing: Iterable[Any], planned: Iterable[PlannedReminder], now: str,
               changes: "_Changes") -> None:
    """What makes the case's pending reminders exactly ``planned`` (added to ``changes``; decided by
    storage.plans.plan_change, shared with PostgreSQL). ``existing``: the case's rows not cancelled."""
    change = plan_change((Existing(r["id"], r["kind"], r["due_at"], r["status"], r["payload"]) for r in existing),
                         planned)
    changes.cancel += [(now, row_id) for row_id in change.cancel]
    changes.refresh += [(payload, now, row_id) for row_id, payload in change.refresh]
    changes.insert += [(case.id, case.user_id, case.user_id, kind, due_at, payload, now, now)
                       for kind, due_at, payload in change.insert]


class _Changes:
    """Re-plan writes collected for one transaction (one statement each, many rows)."""

    def __init__(self) -> None:
        self.cancel: list[tuple[str, int]] = []
        self.refresh: list[tuple[str, str, int]] = []
        self.insert: list[tuple[Any, ...]] = []

    async def apply(self, conn: aiosqlite.Connection) -> int:
        """Write them; returns the number of rows inserted."""
        if self.cancel:
            await conn.executemany(_CANCEL_PLANNED, self.cancel)
        if self.refresh:
            await conn.executemany(_REFRESH_PLANNED, self.refresh)
        if not self.insert:
            return 0
        cursor = await conn.executemany(_INSERT_PLANNED, self.insert)
        return max(cursor.rowcount, 0)

    def apply_now(self, conn: sqlite3.Connection) -> int:
        """The same on a plain connection (inside storage.db.Database.write)."""
        if self.cancel:
            conn.executemany(_CANCEL_PLANNED, self.cancel)
        if self.refresh:
            conn.executemany(_REFRESH_PLANNED, self.refresh)
        return max(conn.executemany(_INSERT_PLANNED, self.insert).rowcount, 0) if self.insert else 0


_CANCEL_PLANNED = "UPDATE reminders SET status = 'cancelled', updated_at = ? WHERE id = ?"
_REFRESH_PLANNED = "UPDATE reminders SET payload = ?, updated_at = ? WHERE id = ?"
_INSERT_PLANNED = ("INSERT INTO reminders (case_id, chat_id, user_id, audience, kind, due_at, status, payload,"
                   " created_at, updated_at) VALUES (?, ?, ?, 'citizen', ?, ?, 'pending', ?, ?, ?)"
                   " ON CONFLICT DO NOTHING")


_NOT_CANCELLED = "SELECT id, case_id, kind, due_at, status, payload FROM reminders WHERE case_id IN ({})" \
                 " AND status <> 'cancelled'"


async def _replace_plan_in(conn: aiosqlite.Connection, case: Case, planned: Iterable[PlannedReminder],
                           now: str) -> int:
    """Make the case's pending reminders exactly ``planned`` inside the caller's transaction (see
    :func:`_plan_diff`). Returns the number of rows inserted."""
    existing = await conn.execute_fetchall(_NOT_CANCELLED.format("?"), (case.id,))
    changes = _Changes()
    _plan_diff(case, existing, planned, now, changes)
    return await changes.apply(conn)


class CasesRepo:
    """Cases and their events. Every change that takes a ``plan`` re-plans the case's reminders with it in the
    same transaction (see :data:`Planner`)."""

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self.db = db
        self.clock = clock or Clock()

    def _stamp(self, at: datetime | None) -> str:
        return iso(at or self.clock.now())

    async def create(
        self,
        user_id: int,
        recipient_kind: str,
        registered_on: date,
        *,
        filed_with: str | None = None,
        reg_number: str | None = None,
        complaint_id: int | None = None,
        ticket_id: int | None = None,
        forwarded_via_provider: bool = False,
        learned_on: date | None = None,
        at: datetime | None = None,
        plan: Planner | None = None,
    ) -> Case:
        """A new open case; its 'created' event (and its reminders, with ``plan``) in the same transaction."""
        now = self._stamp(at)
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO cases (user_id, complaint_id, ticket_id, recipient_kind, filed_with, reg_number,"
                " registered_on, forwarded_via_provider, learned_on, status, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)",
                (user_id, complaint_id, ticket_id, str(recipient_kind), filed_with, reg_number,
                 registered_on.isoformat(), int(forwarded_via_provider), _dayiso(learned_on), now, now),
            )
            case_id = cursor.lastrowid
            assert case_id is not None
            await _event_in(conn, case_id, "created", {"recipient_kind": str(recipient_kind)}, now)
            return await self._planned(conn, case_id, plan, now)

    async def _planned(self, conn: aiosqlite.Connection, case_id: int, plan: Planner | None, now: str) -> Case:
        """The case as the transaction left it, its reminders re-planned with ``plan`` when given."""
        case = await _case_in(conn, case_id)
        if plan is not None:
            await _replace_plan_in(conn, case, plan(case), now)
        return case

    async def get(self, case_id: int) -> Case | None:
        row = await self.db.lookup_one(_CASE_BY_ID, (case_id,))
        return _case(row) if row else None

    async def list_for_user(self, user_id: int, *, statuses: Sequence[str] | None = None) -> list[Case]:
        sql = f"SELECT {CASE_COLUMNS} FROM cases WHERE user_id = ?"
        params: list[Any] = [user_id]
        if statuses:
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            params += list(statuses)
        rows = await self.db.lookup(sql + " ORDER BY registered_on DESC, id DESC", params)
        return [_case(r) for r in rows]

    async def open_registered(self, first: date, last: date, *, after: tuple[date, int] | None = None,
                              limit: int = 200) -> list[Case]:
        """Open cases registered from ``first`` to ``last`` (the ones a calendar change can move), in
        (registered_on, id) order, the page after ``after`` (keyset paging over ``cases_open_registered``)."""
        start = (after[0].isoformat(), after[1]) if after else (first.isoformat(), -1)
        rows = await self.db.fetchall(
            f"SELECT {CASE_COLUMNS} FROM cases WHERE status = 'open' AND (registered_on, id) > (?, ?) AND registered_on <= ?"
            " ORDER BY registered_on, id LIMIT ?", (*start, last.isoformat(), int(limit)))
        return [_case(r) for r in rows]

    async def replan_many(self, case_ids: Sequence[int], plan: Planner, *, at: datetime | None = None) -> int:
        """Re-plan these cases from their current state in ONE short transaction; returns the rows inserted.

        The costly part, computing the plans, runs before the transaction (on the cases as read then), so the
        write lock is held only for two reads and one statement per kind of change: other people's steps
        wait for it (storage/fsm.py commits in the same file). A case changed meanwhile (its ``updated_at``)
        is planned again inside."""
        if not case_ids:
            return 0
        now = self._stamp(at)
        marks = ",".join("?" * len(case_ids))
        read = f"SELECT {CASE_COLUMNS} FROM cases WHERE id IN ({marks})"
        planned: dict[int, tuple[str, Case, list[PlannedReminder]]] = {}
        for r in await self.db.lookup(read, case_ids):
            case = _case(r)
            planned[case.id] = (r["updated_at"], case, list(plan(case)))
        changes = _Changes()
        async with self.db.transaction() as conn:
            current = await conn.execute_fetchall(read, tuple(case_ids))
            existing: dict[int, list[Any]] = {}
            for r in await conn.execute_fetchall(_NOT_CANCELLED.format(marks), tuple(case_ids)):
                existing.setdefault(r["case_id"], []).append(r)
            for r in current:
                early = planned.get(r["id"])
                if early is not None and early[0] == r["updated_at"]:
                    case, wanted = early[1], early[2]
                else:  # changed since it was planned (or new to this batch): planned again, as it is now
                    case = _case(r)
                    wanted = list(plan(case))
                _plan_diff(case, existing.get(case.id, ()), wanted, now, changes)
            return await changes.apply(conn)

    async def record_event(self, case_id: int, kind: str, payload: dict[str, Any] | None = None,
                           *, at: datetime | None = None) -> None:
        await self.db.execute(
            "INSERT INTO case_events (case_id, kind, payload, at) VALUES (?, ?, ?, ?)",
            (case_id, kind, json.dumps(payload or {}, ensure_ascii=False), self._stamp(at)),
        )

    async def events(self, case_id: int) -> list[CaseEvent]:
        rows = await self.db.lookup("SELECT * FROM case_events WHERE case_id = ? ORDER BY id", (case_id,))
        return [CaseEvent(r["id"], r["case_id"], r["kind"], json.loads(r["payload"]), parse_iso_required(r["at"]))
                for r in rows]

    async def set_extension(self, case_id: int, by: int, on: date | None, told_on: date | None = None,
                            *, at: datetime | None = None, plan: Planner | None = None) -> Case:
        """Record an extension of the review term (by 1..10 working days; 0 removes it)."""
        if not 0 <= int(by) <= 10:
            raise ValueError("extension must be 0..10 working days")
        now = self._stamp(at)
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE cases SET extended_by = ?, extended_on = ?, extension_told_on = ?, updated_at = ?"
                " WHERE id = ?",
                (int(by), _dayiso(on) if by else None, _dayiso(told_on) if by else None, now, case_id),
            )
            await _event_in(conn, case_id, "extended",
                            {"by": int(by), "on": _dayiso(on), "told_on": _dayiso(told_on)}, now)
            return await self._planned(conn, case_id, plan, now)

    async def register(self, case_id: int, *, recipient_kind: str, registered_on: date, reg_number: str | None,
                       ticket_id: int | None, at: datetime | None = None, plan: Planner | None = None) -> Case:
        """The registration facts an operator recorded, on a case the citizen already tracks (one case per
        complaint, so one set of reminders)."""
        now = self._stamp(at)
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE cases SET recipient_kind = ?, registered_on = ?, reg_number = ?, ticket_id = ?,"
                " updated_at = ? WHERE id = ?",
                (str(recipient_kind), registered_on.isoformat(), reg_number, ticket_id, now, case_id),
            )
            await _event_in(conn, case_id, "registered", {
                "recipient_kind": str(recipient_kind), "registered_on": registered_on.isoformat(),
                "reg_number": reg_number, "ticket_id": ticket_id}, now)
            return await self._planned(conn, case_id, plan, now)

    async def set_status(self, case_id: int, status: str, *, at: datetime | None = None,
                         answered_on: date | None = None, plan: Planner | None = None) -> Case:
        """Change the status; an answered or closed case has its pending reminders cancelled in the same
        transaction (re-opening needs a ``plan``). ``answered_on``: the day the answer was received (kept only
        with status 'answered')."""
        if status not in CASE_STATUSES:
            raise ValueError(f"unknown case status {status!r}")
        now = self._stamp(at)
        day = answered_on if status == CaseStatus.ANSWERED else None
        answered = _dayiso(day)
        event = _event_row(case_id, "status", {"status": str(status), **({"answered_on": answered} if answered else {})},
                           now)
        # The plan of the case as the change leaves it, made before the write lock; planned again inside only
        # if the case changed meanwhile. The press is then ONE call in the database thread (Database.write):
        # others' conversation steps wait for a few statements, not for the loop to come back 7 times.
        early: tuple[Case, list[PlannedReminder]] | None = None
        if plan is not None and (row := await self.db.lookup_one(_CASE_BY_ID, (case_id,))):
            expected = replace(_case(row), status=str(status), answered_on=day, updated_at=parse_iso_required(now))
            early = (expected, list(plan(expected)))

        def change(conn: sqlite3.Connection) -> Case:
            conn.execute("UPDATE cases SET status = ?, answered_on = ?, updated_at = ? WHERE id = ?",
                         (str(status), answered, now, case_id))
            conn.execute(_INSERT_EVENT, event)
            if status != CaseStatus.OPEN and plan is None:  # reminders_case (case_id, status)
                conn.execute("UPDATE reminders SET status = 'cancelled', updated_at = ?"
                             " WHERE case_id = ? AND status = 'pending'", (now, case_id))
            rows = conn.execute(_CASE_BY_ID, (case_id,)).fetchall()
            if not rows:
                raise KeyError(case_id)
            case = _case(rows[0])
            if plan is not None:
                wanted = early[1] if early is not None and early[0] == case else list(plan(case))
                changes = _Changes()
                _plan_diff(case, conn.execute(_NOT_CANCELLED.format("?"), (case_id,)).fetchall(), wanted, now,
                           changes)
                changes.apply_now(conn)
            return case

        return await self.db.write(change)

    async def replan(self, case_id: int, plan: Planner, *, at: datetime | None = None) -> int:
        """Re-plan the case's reminders from its current state, in one transaction; returns rows inserted."""
        now = self._stamp(at)
        async with self.db.transaction() as conn:
            case = await _case_in(conn, case_id)
            return await _replace_plan_in(conn, case, plan(case), now)


class RemindersRepo:
    """``holder``: this instance's name on the rows it claims (storage/leases.py)."""

    def __init__(self, db: Database, clock: Clock | None = None, *, holder: str | None = None) -> None:
        self.db = db
        self.clock = clock or Clock()
        self.holder = holder or instance_id()

    def _stamp(self, at: datetime | None = None) -> str:
        return iso(at or self.clock.now())

    # ---- planning ---------------------------------------------------------------------------
    async def replace_plan(self, case_id: int, planned: Iterable[PlannedReminder], *,
                           at: datetime | None = None) -> int:
        """Make the case's pending reminders exactly ``planned``, in ONE transaction (see
        :func:`_replace_plan_in`). Returns the number of rows inserted."""
        now = self._stamp(at)
        async with self.db.transaction() as conn:
            return await _replace_plan_in(conn, await _case_in(conn, case_id), planned, now)

    async def add(
        self,
        *,
        chat_id: int,
        kind: str,
        due_at: datetime,
        audience: str = "operators",
        user_id: int | None = None,
        case_id: int | None = None,
        payload: dict[str, Any] | None = None,
        dedupe_key: str | None = None,
        at: datetime | None = None,
    ) -> int | None:
        """A one-off reminder (e.g. an operators' SLA notice). Returns its id, or None when a row with the
        same ``dedupe_key`` (or the same case/kind/due_at) already exists."""
        if audience not in AUDIENCES:
            raise ValueError(f"unknown audience {audience!r}")
        now = self._stamp(at)
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO reminders (case_id, chat_id, user_id, audience, kind, due_at, status, payload,"
                " dedupe_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (case_id, chat_id, user_id, audience, kind, iso(due_at),
                 json.dumps(payload or {}, ensure_ascii=False), dedupe_key, now, now),
            )
            return cursor.lastrowid if cursor.rowcount > 0 else None

    # ---- delivery ---------------------------------------------------------------------------
    async def claim_due(self, now: datetime, limit: int = 200, *,
                        audiences: Sequence[str] | None = None) -> list[Reminder]:
        """Atomically move up to ``limit`` due pending rows to 'sending', leased to this instance, and return
        them (oldest first).

        One ``UPDATE ... RETURNING`` statement (SQLite >= 3.35) in its own transaction, so two claimers can
        never take the same row. ``attempts`` counts claims.
        """
        stamp = iso(now)
        where = "status = 'pending' AND due_at <= ?"
        if audiences is not None:
            if not audiences:
                return []
            where += f" AND audience IN ({','.join('?' * len(audiences))})"
        params = (self.holder, stamp, stamp, stamp, *(audiences or ()), int(limit))
        sql = (
            "UPDATE reminders SET status = 'sending', claimed_by = ?, claimed_at = ?, updated_at = ?,"
            " sending_at = NULL, attempts = attempts + 1"
            f" WHERE id IN (SELECT id FROM reminders WHERE {where} ORDER BY due_at, id LIMIT ?)"
            " RETURNING *"
        )
        async with self.db.transaction() as conn:
            rows = await conn.execute_fetchall(sql, params)
        return sorted((_reminder(r) for r in rows), key=lambda r: (r.due_at, r.id))

    async def mark_sent(self, reminder_id: int, at: datetime) -> None:
        await self.db.execute(
            "UPDATE reminders SET status = 'sent', sent_at = ?, last_error = NULL, updated_at = ?"
            " WHERE id = ? AND status = 'sending' AND claimed_by = ?",
            (iso(at), iso(at), reminder_id, self.holder),
        )

    async def retry_later(self, reminder_id: int, at: datetime, error: str | None) -> None:
        """Back to 'pending' with a later ``due_at`` (the caller moves it into the allowed hours)."""
        await self.db.execute(
            "UPDATE reminders SET status = 'pending', due_at = ?, last_error = ?, claimed_by = NULL,"
            " claimed_at = NULL, sending_at = NULL, updated_at = ? WHERE id = ? AND status = 'sending' AND claimed_by = ?",
            (iso(at), _error(error), self._stamp(), reminder_id, self.holder),
        )

    async def defer(self, reminder_id: int, at: datetime) -> None:
        """A claimed row that must not go out now (the allowed hours closed meanwhile): back to 'pending' at
        ``at``, and the claim does not count as an attempt."""
        await self.db.execute(
            "UPDATE reminders SET status = 'pending', due_at = ?, claimed_by = NULL, claimed_at = NULL,"
            " sending_at = NULL, attempts = MAX(attempts - 1, 0), updated_at = ? WHERE id = ? AND status = 'sending' AND claimed_by = ?",
            (iso(at), self._stamp(), reminder_id, self.holder),
        )

    async def mark_failed(self, reminder_id: int, error: str | None) -> None:
        await self.db.execute(
            "UPDATE reminders SET status = 'failed', last_error = ?, updated_at = ? WHERE id = ?"
            " AND (status = 'pending' OR (status = 'sending' AND claimed_by = ?))",
            (_error(error), self._stamp(), reminder_id, self.holder),
        )

    async def cancel(self, reminder_id: int, reason: str | None = None) -> None:
        await self.db.execute(
            "UPDATE reminders SET status = 'cancelled', last_error = ?, updated_at = ? WHERE id = ?"
            " AND (status = 'pending' OR (status = 'sending' AND claimed_by = ?))",
            (_error(reason), self._stamp(), reminder_id, self.holder),
        )

    async def cancel_for_user(self, user_id: int) -> int:
        """Cancel everything not yet sent to this person (blocked the bot, or turned reminders off)."""
        cursor = await self.db.execute(
            "UPDATE reminders SET status = 'cancelled', updated_at = ? WHERE user_id = ? AND status = 'pending'",
            (self._stamp(), user_id),
        )
        return max(cursor.rowcount, 0)

    async def recover_stale(self, now: datetime, lease: timedelta) -> int:
        """Rows in flight whose lease ran out (their instance died, or stalled for the whole lease) go back to
        'pending', for any instance to claim (see the module docstring for the at-least-once window). A row
        whose holder still renews it is never taken."""
        cursor = await self.db.execute(
            "UPDATE reminders SET status = 'pending', claimed_by = NULL, claimed_at = NULL, sending_at = NULL,"
            " updated_at = ? WHERE status = 'sending' AND (claimed_at IS NULL OR claimed_at < ?)",
            (iso(now), iso(now - lease)),
        )
        return max(cursor.rowcount, 0)

    async def renew(self, now: datetime) -> int:
        """This instance still works on its rows in flight: their lease starts again at ``now``."""
        cursor = await self.db.execute(
            "UPDATE reminders SET claimed_at = ? WHERE status = 'sending' AND claimed_by = ?",
            (iso(now), self.holder),
        )
        return max(cursor.rowcount, 0)

    async def begin_send(self, reminder_id: int, at: datetime) -> bool:
        """Right before the request leaves: is this claimed row still to be sent? (An erasure (/forget) or a
        cancellation since the claim deleted or cancelled it, or another instance took it when the lease ran
        out.) If so its ``sending_at`` is committed now, so a recovery tells a row that may have reached Telegram
        from one that never left (module docstring: the one-request window)."""
        cursor = await self.db.execute(
            "UPDATE reminders SET sending_at = ? WHERE id = ? AND status = 'sending' AND claimed_by = ?",
            (iso(at), reminder_id, self.holder),
        )
        return cursor.rowcount == 1

    # ---- reading ----------------------------------------------------------------------------
    async def get(self, reminder_id: int) -> Reminder | None:
        row = await self.db.lookup_one("SELECT * FROM reminders WHERE id = ?", (reminder_id,))
        return _reminder(row) if row else None

    async def list_for_case(self, case_id: int, *, statuses: Sequence[str] | None = None) -> list[Reminder]:
        sql = "SELECT * FROM reminders WHERE case_id = ?"
        params: list[Any] = [case_id]
        if statuses:
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            params += list(statuses)
        rows = await self.db.lookup(sql + " ORDER BY due_at, id", params)
        return [_reminder(r) for r in rows]

    async def count_by_status(self) -> dict[str, int]:
        rows = await self.db.fetchall("SELECT status, COUNT(*) AS n FROM reminders GROUP BY status")
        return {r["status"]: r["n"] for r in rows}

