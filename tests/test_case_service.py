"""bot.services.cases: a case and its reminders change together, in one transaction (a real SQLite file, and PostgreSQL)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import Settings
from bot.domain.cases import CALENDAR_REACH, deadlines_of
from bot.domain.clock import FakeClock
from bot.domain.entities import Case
from bot.domain.reminders import PlannedReminder
from bot.services.cases import CaseService
from tests.backends import open_stores
from tests.loopticks import LoopTicks

TZ = ZoneInfo("Asia/Almaty")
REGISTERED = date(2026, 3, 18)  # Wed; provider: due 30.03 (Nauryz in between)


@pytest.fixture
async def service(backend, where):
    clock = FakeClock(datetime(2026, 3, 19, 12, 0, tzinfo=TZ))
    stores = await open_stores(backend, where, clock)
    await stores.users.seen(901, "Test", "ru")
    yield CaseService(stores.cases, stores.reminders, stores.users, stores.calendars, clock, Settings(_env_file=None))
    await stores.close()


async def pending(service: CaseService, case: Case) -> list[tuple[str, str]]:
    rows = await service.reminders.list_for_case(case.id, statuses=("pending",))
    return sorted((r.kind, r.due_at.astimezone(TZ).date().isoformat()) for r in rows)


async def test_tracking_a_complaint_plans_its_reminders_with_it(service):
    case = await service.track(901, "provider", REGISTERED, filed_with="ЦОН", reg_number="1", complaint_id=None,
                               forwarded_via_provider=False, learned_on=None)
    assert deadlines_of(case, service.calendar).review_due == date(2026, 3, 30)
    assert await pending(service, case) == [("review_due_soon", "2026-03-27"), ("review_due_today", "2026-03-30"),
                                            ("review_missed", "2026-03-31")]


async def test_an_extension_re_plans_in_the_same_call(service):
    case = await service.track(901, "provider", REGISTERED, filed_with=None, reg_number=None, complaint_id=None,
                               forwarded_via_provider=False, learned_on=None)
    case = await service.extend(case.id, 5, date(2026, 3, 27), told_on=date(2026, 3, 27))
    due = deadlines_of(case, service.calendar).review_due
    assert due == date(2026, 4, 6)  # 5 more working days
    assert ("review_due_today", due.isoformat()) in await pending(service, case)
    assert ("review_due_today", "2026-03-30") not in await pending(service, case)


async def test_answer_and_close_stop_the_reminders(service):
    one = await service.track(901, "provider", REGISTERED, filed_with=None, reg_number=None, complaint_id=None,
                              forwarded_via_provider=False, learned_on=None)
    two = await service.track(901, "akim", REGISTERED, filed_with=None, reg_number=None, complaint_id=None,
                              forwarded_via_provider=False, learned_on=None)
    assert (await service.answer(one.id, date(2026, 3, 20))).answered_on == date(2026, 3, 20)
    assert (await service.close(two.id)).status == "closed"
    assert await pending(service, one) == [] and await pending(service, two) == []


async def test_a_plan_that_cannot_be_written_leaves_the_case_unchanged(service):
    """The case's change and its reminders commit together: a plan whose write fails (a naive moment is
    refused by storage) rolls the change back, and the reminders of the case are the old ones."""
    case = await service.track(901, "provider", REGISTERED, filed_with=None, reg_number=None, complaint_id=None,
                               forwarded_via_provider=False, learned_on=None)
    before = await pending(service, case)
    events = await service.repo.events(case.id)

    def broken(_case: Case) -> list[PlannedReminder]:
        return [PlannedReminder("review_due_today", datetime(2026, 4, 1, 10, 0))]  # naive: not storable

    with pytest.raises(ValueError, match="naive"):
        await service.repo.set_extension(case.id, 5, date(2026, 3, 25), date(2026, 3, 25), plan=broken)
    with pytest.raises(ValueError, match="naive"):
        await service.repo.register(case.id, recipient_kind="akim", registered_on=date(2026, 3, 20),
                                    reg_number="X", ticket_id=None, plan=broken)
    after = await service.get(case.id)
    assert after == case  # not extended, not re-registered
    assert await service.repo.events(case.id) == events
    assert await pending(service, case) == before


async def test_a_failing_planner_leaves_a_new_case_unsaved(service):
    def failing(_case: Case) -> list[PlannedReminder]:
        raise RuntimeError("planner failed")

    with pytest.raises(RuntimeError):
        await service.repo.create(901, "provider", REGISTERED, plan=failing)
    assert await service.list_for_user(901) == []


async def test_a_calendar_change_re_plans_only_the_cases_it_can_move_in_batches_that_yield(service):
    """Issue 14, point 3: the open cases registered within CALENDAR_REACH before the changed day are re-planned,
    a batch per transaction, the loop served between batches; older, later and closed cases are not touched."""
    from bot.domain.workdays import Override

    async def track(day: date) -> Case:
        return await service.track(901, "provider", day, filed_with=None, reg_number=None, complaint_id=None,
                                   forwarded_via_provider=False, learned_on=None)

    moved = [await track(REGISTERED) for _ in range(5)]
    closed = await service.close((await track(REGISTERED)).id)
    old = await track(REGISTERED - CALENDAR_REACH - timedelta(days=1))
    later = await track(date(2026, 3, 30))
    before = {c.id: await pending(service, c) for c in (old, later)}
    day = date(2026, 3, 27)  # Friday, the day before review_due_soon's Monday... made a day off
    await service.calendars.add(Override(day, "transfer_off", False, "test"), added_by=None)

    batches: list[int] = []
    real = service.repo.replan_many

    async def counting(ids, plan, *, at=None):
        batches.append(len(ids))
        return await real(ids, plan, at=at)

    service.repo.replan_many = counting  # type: ignore[method-assign]
    async with LoopTicks() as ticks:
        n = await service.replan_for_day(day, batch=2)
    assert n == 5 and batches == [2, 2, 1]  # the five open cases of the window, none of the others
    assert ticks.n >= len(batches)  # the loop ran other work between batches
    for case in moved:
        assert deadlines_of(case, service.calendar).review_due == date(2026, 3, 31)
        assert ("review_due_today", "2026-03-31") in await pending(service, case)
        assert ("review_due_today", "2026-03-30") not in await pending(service, case)
    assert await pending(service, closed) == []
    assert {c.id: await pending(service, c) for c in (old, later)} == before


def test_calendar_reach_covers_the_longest_case():
    """Every date a case's plan depends on lies within CALENDAR_REACH of its registration (the longest case:
    forwarded, extended by 10 working days, to the quality authority, across the New Year and Nauryz)."""
    from bot.domain.deadlines import compute
    from bot.domain.reminders import filing_limit_after_miss
    from bot.domain.workdays import KzCalendar, load_facts

    cal = KzCalendar(load_facts())
    for start in (date(2025, 12, 15), date(2026, 3, 2), date(2026, 4, 25), date(2026, 12, 20)):
        for kind in ("provider", "quality_authority", "akim"):
            dl = compute(kind, start, cal, extended_by=10, extended_on=None, forwarded_via_provider=True,
                         learned_on=start)
            latest = max([i.day for i in dl.items] + [filing_limit_after_miss(dl, cal)])
            assert latest < start + CALENDAR_REACH, (kind, start, latest)
