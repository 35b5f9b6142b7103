"""The retention period (RETENTION_DAYS): the daily pass erases exactly the closed cases, answered tickets and
complaints that ended before the period, in bounded batches, and nothing else (a fake clock)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, timezone

import pytest

from bot.domain.clock import FakeClock
from bot.domain.complaint import Complaint
from tests.backends import every_row, query, running_bot

pytestmark = pytest.mark.usefixtures("both_backends")  # on SQLite and on PostgreSQL

GROUP = -1001234567890
T0 = datetime(2025, 1, 6, 5, 0, tzinfo=timezone.utc)


async def snapshot(db_path) -> dict[str, dict[object, tuple]]:
    """Every row by its key (the first column: every table's id, the FSM's key)."""
    return {t: {r[0]: tuple(r) for r in rows} for t, rows in (await every_row(db_path)).items()}


def changes(before, after) -> dict[str, tuple[set[int], set[int], set[int]]]:
    """Per table: (rowids deleted, rowids changed, rowids added)."""
    out = {}
    for table in before:
        b, a = before[table], after.get(table, {})
        deleted = set(b) - set(a)
        changed = {k for k in set(b) & set(a) if b[k] != a[k]}
        added = set(a) - set(b)
        if deleted or changed or added:
            out[table] = (deleted, changed, added)
    return out


def complaint(name: str) -> Complaint:
    return Complaint(grounds="deadline_violated", recipient_kind="provider", applicant_kind="individual",
                     surname=name, first_name="Тест", iin="061211600012", language="ru", consent=True)


async def test_retention_erases_exactly_what_ended_before_the_period(fake, db_path, no_unhandled):
    clock = FakeClock(T0)
    async with running_bot(fake, db_path, clock=clock, operators_chat_id=GROUP, retention_days=365) as app:
        fake.group(GROUP, "Desk")
        r = app.repos
        for uid in (11, 12, 13, 14):
            await r.users.seen(uid, f"U{uid}", "ru")
        at = clock.now
        # t0: an old complaint alone, an old closed case with its complaint, an old open case with its
        # complaint, an old resolved ticket with its complaint, an old open ticket.
        c_alone = await r.complaints.create(11, complaint("Старая"), "ru", at())
        c_closed = await r.complaints.create(11, complaint("Закрытая"), "ru", at())
        c_open = await r.complaints.create(12, complaint("Открытая"), "ru", at())
        c_ticket = await r.complaints.create(13, complaint("Обращение"), "ru", at())
        k_closed = await app.cases.track(11, "provider", date(2025, 1, 6), filed_with="ЦОН", reg_number="A-1",
                                         complaint_id=c_closed.id, forwarded_via_provider=False, learned_on=None)
        await app.cases.close(k_closed.id)
        k_open = await app.cases.track(12, "provider", date(2025, 1, 6), filed_with="ЦОН", reg_number="B-1",
                                       complaint_id=c_open.id, forwarded_via_provider=False, learned_on=None)
        t_old, _ = await r.tickets.open_or_create(13, language="ru", source="complaint", complaint_id=c_ticket.id,
                                                  chat_id=GROUP, at=at())
        await r.tickets.transition(t_old.id, actor_id=501, action="resolve", allowed=("new",),
                                   detail={"result": "Выдали справку Обращение"}, at=at(), status="resolved",
                                   resolved_at=at(), result="Выдали справку Обращение", relay=False)
        t_open, _ = await r.tickets.open_or_create(14, language="ru", source="menu", complaint_id=None,
                                                   chat_id=GROUP, at=at())
        # t0 + 300 days: a newer complaint, a newer answered case, a newer resolved ticket.
        clock.set(T0 + timedelta(days=300))
        c_new = await r.complaints.create(11, complaint("Новая"), "ru", at())
        k_new = await app.cases.track(11, "provider", date(2025, 11, 3), filed_with="ЦОН", reg_number="C-1",
                                      complaint_id=None, forwarded_via_provider=False, learned_on=None)
        await app.cases.answer(k_new.id)
        t_new, _ = await r.tickets.open_or_create(12, language="ru", source="menu", complaint_id=None,
                                                  chat_id=GROUP, at=at())
        await r.tickets.transition(t_new.id, actor_id=501, action="reject", allowed=("new",), at=at(),
                                   status="rejected", resolved_at=at(), result="Не по адресу", relay=False)

        # A year and 100 days after t0: the cut-off is t0 + 100 days.
        clock.set(T0 + timedelta(days=465))
        app.privacy.batch_size = 1  # bounded batches: one id of each kind per transaction
        before = await snapshot(db_path)
        done = await app.privacy.retention_pass()
        after = await snapshot(db_path)

    assert (done.complaints, done.cases, done.tickets) == (3, 1, 1)
    diff = changes(before, after)
    assert diff.pop("complaints") == ({c_alone.id, c_closed.id, c_ticket.id}, set(), set())
    assert diff.pop("cases") == ({k_closed.id}, set(), set())
    events = {rid for rid, row in before["case_events"].items() if row[1] == k_closed.id}
    assert diff.pop("case_events") == (events, set(), set())
    case_reminders = {rid for rid, row in before["reminders"].items() if row[1] == k_closed.id}
    assert case_reminders and diff.pop("reminders") == (case_reminders, set(), set())  # cancelled at closing
    assert diff.pop("tickets") == (set(), {t_old.id}, set())
    deleted, changed, added = diff.pop("audit_log")
    assert not deleted and changed == {rid for rid, row in before["audit_log"].items() if row[1] == t_old.id}
    assert len(added) == 1
    assert diff == {}, diff  # nothing else changed: the open case, the open ticket, the newer rows, users
    assert c_open.id in after["complaints"] and c_new.id in after["complaints"]
    assert k_open.id in after["cases"] and k_new.id in after["cases"]
    assert t_open.id in after["tickets"] and t_new.id in after["tickets"]
    [row] = await query(db_path, "SELECT user_id, complaint_id, result, status, erased_reason FROM tickets"
                                 " WHERE id = ?", t_old.id)
    assert row == (None, None, None, "resolved", "retention")
    details = [str(r[0]) for r in await query(db_path, "SELECT detail FROM audit_log WHERE ticket_id = ?", t_old.id)]
    assert not any("Обращение" in d or "справку" in d for d in details)


async def test_a_second_pass_finds_nothing_and_the_job_is_daily(fake, db_path, no_unhandled):
    clock = FakeClock(T0)
    async with running_bot(fake, db_path, clock=clock) as app:
        await fake.idle()  # the pass at start is done: late, it would count from the moved clock below
        await app.repos.users.seen(11, "U", "ru")
        await app.repos.complaints.create(11, complaint("Старая"), "ru", clock.now())
        clock.set(T0 + timedelta(days=366))
        assert (await app.privacy.retention_pass()).complaints == 1
        assert (await app.privacy.retention_pass()).total == 0
        job = app.scheduler.get_job("retention")
        assert job is not None and job.trigger.interval == timedelta(days=1)


async def test_two_instances_run_the_daily_pass_once(fake, db_path, no_unhandled):
    """Several instances on one database each schedule the daily pass: one of them runs it each day."""
    clock = FakeClock(T0)
    async with running_bot(fake, db_path, clock=clock) as one, running_bot(fake, db_path, clock=clock) as two:
        await one.repos.users.seen(11, "U", "ru")
        await one.repos.complaints.create(11, complaint("Старая"), "ru", clock.now())
        clock.set(T0 + timedelta(days=366))
        passes = await asyncio.gather(one.privacy._run_retention(), two.privacy._run_retention())
        assert sorted(p.complaints if p else -1 for p in passes) == [-1, 1]
        clock.advance(hours=12)
        assert await two.privacy._run_retention() is None and await one.privacy._run_retention() is None
        clock.advance(hours=12)
        assert (await two.privacy._run_retention()) is not None  # the next day: whoever comes first
