"""Contract: cases, their events and their reminder plans behave alike on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from bot.domain.entities import Case
from bot.domain.reminders import PlannedReminder

UTC = timezone.utc
REG = date(2026, 3, 18)


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, 0, tzinfo=UTC)


def plan_of(*kinds_days: tuple[str, int]):
    def plan(case: Case) -> list[PlannedReminder]:
        return [PlannedReminder(k, at(d), {"case": case.id}) for k, d in kinds_days]
    return plan


async def pending(stores, case_id: int) -> list[tuple[str, datetime]]:
    rows = await stores.reminders.list_for_case(case_id, statuses=("pending",))
    return [(r.kind, r.due_at) for r in rows]


async def test_a_case_is_created_with_its_event_and_its_plan(stores):
    await stores.users.seen(1, "A", "ru")
    case = await stores.cases.create(1, "provider", REG, filed_with="ЦОН", reg_number="N-1", learned_on=date(2026, 3, 17),
                                     forwarded_via_provider=True, plan=plan_of(("soon", 27), ("today", 30)))
    assert (case.user_id, case.recipient_kind, case.registered_on, case.filed_with, case.reg_number, case.status,
            case.forwarded_via_provider, case.extended_by, case.learned_on, case.answered_on) == (
        1, "provider", REG, "ЦОН", "N-1", "open", True, 0, date(2026, 3, 17), None)
    assert await stores.cases.get(case.id) == case
    assert await pending(stores, case.id) == [("soon", at(27)), ("today", at(30))]
    [created] = await stores.cases.events(case.id)
    assert (created.kind, created.payload) == ("created", {"recipient_kind": "provider"})
    row = (await stores.reminders.list_for_case(case.id))[0]
    assert (row.chat_id, row.user_id, row.audience, row.attempts, row.claimed_at) == (1, 1, "citizen", 0, None)
    assert row.payload == {"case": case.id, "planned_at": at(27).isoformat()}


async def test_a_failing_planner_leaves_nothing(stores):
    await stores.users.seen(1, "A", "ru")

    def broken(case: Case) -> list[PlannedReminder]:
        raise RuntimeError("no plan")

    with pytest.raises(RuntimeError):
        await stores.cases.create(1, "provider", REG, plan=broken)
    assert await stores.cases.list_for_user(1) == []
    case = await stores.cases.create(1, "provider", REG, plan=plan_of(("soon", 27)))
    naive = lambda c: [PlannedReminder("later", datetime(2026, 4, 1, 10, 0))]  # noqa: E731  (not storable)
    with pytest.raises(ValueError):
        await stores.cases.set_extension(case.id, 5, date(2026, 3, 27), plan=naive)
    assert (await stores.cases.get(case.id)).extended_by == 0
    assert [e.kind for e in await stores.cases.events(case.id)] == ["created"]
    assert await pending(stores, case.id) == [("soon", at(27))]


async def test_listing_and_open_cases(stores):
    for uid in (1, 2):
        await stores.users.seen(uid, "A", "ru")
    old = await stores.cases.create(1, "provider", date(2026, 1, 5))
    new = await stores.cases.create(1, "akim", date(2026, 2, 5))
    theirs = await stores.cases.create(2, "quality_authority", date(2026, 3, 5))
    assert [c.id for c in await stores.cases.list_for_user(1)] == [new.id, old.id]
    await stores.cases.set_status(old.id, "closed")
    assert [c.id for c in await stores.cases.list_for_user(1, statuses=["open"])] == [new.id]
    assert [c.id for c in await stores.cases.list_for_user(1, statuses=["open", "closed"])] == [new.id, old.id]
    assert await stores.cases.open_ids() == [new.id, theirs.id]
    assert await stores.cases.get(10_000) is None


async def test_extension_registration_and_status_re_plan_in_one_go(stores, clock):
    await stores.users.seen(1, "A", "ru")
    case = await stores.cases.create(1, "provider", REG, plan=plan_of(("soon", 27), ("today", 30)))
    ext = await stores.cases.set_extension(case.id, 5, date(2026, 3, 27), told_on=date(2026, 3, 28),
                                           plan=plan_of(("soon", 27), ("today", 31)))
    assert (ext.extended_by, ext.extended_on, ext.extension_told_on) == (5, date(2026, 3, 27), date(2026, 3, 28))
    assert await pending(stores, case.id) == [("soon", at(27)), ("today", at(31))]
    with pytest.raises(ValueError):
        await stores.cases.set_extension(case.id, 11, None)
    removed = await stores.cases.set_extension(case.id, 0, date(2026, 3, 27))
    assert (removed.extended_by, removed.extended_on, removed.extension_told_on) == (0, None, None)
    reg = await stores.cases.register(case.id, recipient_kind="akim", registered_on=date(2026, 3, 19),
                                      reg_number="R-9", ticket_id=None, plan=plan_of(("today", 31)))
    assert (reg.recipient_kind, reg.registered_on, reg.reg_number) == ("akim", date(2026, 3, 19), "R-9")
    assert await pending(stores, case.id) == [("today", at(31))]
    answered = await stores.cases.set_status(case.id, "answered", answered_on=date(2026, 3, 25))
    assert (answered.status, answered.answered_on) == ("answered", date(2026, 3, 25))
    assert await pending(stores, case.id) == []
    reopened = await stores.cases.set_status(case.id, "open", answered_on=date(2026, 3, 25),
                                             plan=plan_of(("today", 31)))
    assert (reopened.status, reopened.answered_on) == ("open", None)
    assert await pending(stores, case.id) == [("today", at(31))]
    with pytest.raises(ValueError):
        await stores.cases.set_status(case.id, "lost")
    kinds = [(e.kind, e.payload) for e in await stores.cases.events(case.id)]
    assert kinds[1] == ("extended", {"by": 5, "on": "2026-03-27", "told_on": "2026-03-28"})
    assert kinds[3] == ("registered", {"recipient_kind": "akim", "registered_on": "2026-03-19",
                                       "reg_number": "R-9", "ticket_id": None})
    assert kinds[4] == ("status", {"status": "answered", "answered_on": "2026-03-25"})
    await stores.cases.record_event(case.id, "reminder_sent", {"kind": "today", "n": 1}, at=clock.now())
    last = (await stores.cases.events(case.id))[-1]
    assert (last.kind, last.payload, last.at) == ("reminder_sent", {"kind": "today", "n": 1}, clock.now())


async def test_a_re_plan_keeps_ids_and_never_plans_again_what_went_out(stores):
    await stores.users.seen(1, "A", "ru")
    case = await stores.cases.create(1, "provider", REG, plan=plan_of(("soon", 27), ("today", 30)))
    before = {r.kind: r.id for r in await stores.reminders.list_for_case(case.id)}
    assert await stores.cases.replan(case.id, plan_of(("soon", 27), ("today", 30))) == 0
    assert {r.kind: r.id for r in await stores.reminders.list_for_case(case.id)} == before
    [soon] = await stores.reminders.claim_due(at(27, 11), limit=1)
    await stores.reminders.mark_sent(soon.id, at(27, 11))
    [today] = await stores.reminders.claim_due(at(30, 11), limit=1)
    await stores.reminders.retry_later(today.id, at(30, 12), "429")  # due_at moved, identity kept
    assert await stores.cases.replan(case.id, plan_of(("soon", 27), ("today", 30), ("missed", 31))) == 1
    rows = {(r.kind, r.status, r.due_at) for r in await stores.reminders.list_for_case(case.id)}
    assert rows == {("soon", "sent", at(27)), ("today", "pending", at(30, 12)), ("missed", "pending", at(31))}
    assert await stores.reminders.replace_plan(case.id, [], at=at(26)) == 0
    assert await pending(stores, case.id) == []
    assert await stores.reminders.count_by_status() == {"sent": 1, "cancelled": 2}
