"""bot.services.cases: a case and its reminders change together, in one transaction (a real SQLite file, and PostgreSQL)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.config import Settings
from bot.domain.cases import deadlines_of
from bot.domain.clock import FakeClock
from bot.domain.entities import Case
from bot.domain.reminders import PlannedReminder
from bot.services.cases import CaseService
from tests.backends import open_stores

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
