"""ReminderService end to end: real SQLite files, real catalogs, the fake Bot API over HTTP, a FakeClock."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.config import Settings
from bot.domain.clock import FakeClock
from bot.domain.workdays import default_calendar
from bot.services.cases import CaseService
from bot.services.i18n import build_i18n
from bot.services.reminders import ReminderService
from bot.services.sender import Sender
from tests.backends import backend_of, open_stores
from tests.fakeapi import running_fake

TZ = ZoneInfo("Asia/Almaty")
# Wed 18.03.2026, provider: reminders at 10:00 on 27.03 (soon), 30.03 (today), 31.03 (missed).
REGISTERED = date(2026, 3, 18)


def almaty(*args) -> datetime:
    return datetime(*args, tzinfo=TZ)


@pytest.fixture(scope="module")
def i18n():
    return build_i18n()


@pytest.fixture(scope="module")
def cal():
    return default_calendar()


class Env:
    """One 'process' (one instance): database, repositories, bot, sender, service."""

    def __init__(self, stores, bot, clock, i18n, cal):
        self.db = stores.db
        self.bot = bot
        self.clock = clock
        self.users = stores.users
        self.cases = stores.cases
        self.reminders = stores.reminders
        # Fast limits: the Sender's own limits are tested in test_sender.py.
        self.sender = Sender(bot, global_per_second=500, per_chat_per_second=100, backoff_base=0.01)
        self.settings = Settings(_env_file=None, default_language="ru")
        self.service = ReminderService(self.users, self.cases, self.reminders, self.sender, i18n, clock,
                                       self.settings, lambda: cal)
        # Planning is the cases' service (a case and its reminders change together); its calendar is the
        # database's, with no overrides here: the same days as ``cal``.
        self.calendars = stores.calendars
        self.planner = CaseService(self.cases, self.reminders, self.users, self.calendars, clock, self.settings)

    async def new_case(self, user_id: int, language: str = "ru", **kw):
        await self.users.seen(user_id, "Test", language)
        await self.users.set_language(user_id, language)
        case = await self.cases.create(user_id, kw.pop("recipient", "provider"), REGISTERED,
                                       filed_with="ЦОН", reg_number=f"N-{user_id}", **kw)
        await self.planner.replan(case.id)
        return case


@contextlib.asynccontextmanager
async def process(where, fake, clock, i18n, cal):
    stores = await open_stores(backend_of(where), where, clock)
    bot = fake.make_bot()
    try:
        yield Env(stores, bot, clock, i18n, cal)
    finally:
        await bot.session.close()
        await stores.close()


def ok_sends(fake, chat_id: int) -> list:
    return [c for c in fake.calls_of("sendMessage", chat_id=chat_id) if c.ok]


async def test_restart_sends_each_due_reminder_once(where, i18n, cal):
    path = where
    clock = FakeClock(almaty(2026, 3, 19, 12, 0))
    users = [1001, 1002, 1003]
    async with running_fake() as fake:
        for uid in users:
            fake.user(uid)
        async with process(path, fake, clock, i18n, cal) as env:
            cases = [await env.new_case(uid) for uid in users]
            assert [len(await env.reminders.list_for_case(c.id)) for c in cases] == [3, 3, 3]
        # The bot was down; it starts again on 30.03 at 11:00: "soon" (27.03) and "today" (30.03) are due.
        clock.set(almaty(2026, 3, 30, 11, 0))
        async with process(path, fake, clock, i18n, cal) as env:
            # Simulate a crash mid-send: one row claimed but never marked sent.
            stuck = await env.reminders.claim_due(clock.now(), limit=1)
            assert len(stuck) == 1 and stuck[0].status == "sending"
        async with process(path, fake, clock, i18n, cal) as env:
            # The restarted process is a new instance: the dead one's lease still runs, so its row waits
            # (another live instance may be sending it); the other five go out now.
            assert await env.service.recover() == 0
            assert await env.service.tick() == 5
            clock.advance(seconds=env.service.lease.total_seconds() + 1)  # the lease ran out: it goes out once
            assert await env.service.recover() == 1
            assert await env.service.tick() == 1
            for uid in users:
                texts = [c.params["text"] for c in ok_sends(fake, uid)]
                assert len(texts) == 2
                assert any("Напоминание" in t for t in texts) and any("Сегодня" in t for t in texts)
            assert await env.service.tick() == 0
        async with process(path, fake, clock, i18n, cal) as env:
            await env.service.recover()
            assert await env.service.tick() == 0
            assert (await env.reminders.count_by_status()) == {"sent": 6, "pending": 3}
            events = await env.cases.events(cases[0].id)
            assert [e.kind for e in events].count("reminder_sent") == 2
        assert len(fake.calls_of("sendMessage")) == 6


async def test_quiet_hours(where, i18n, cal):
    clock = FakeClock(almaty(2026, 3, 19, 12, 0))
    async with running_fake() as fake:
        fake.user(2001)
        async with process(where, fake, clock, i18n, cal) as env:
            await env.new_case(2001)
            clock.set(almaty(2026, 3, 27, 22, 0))  # "soon" was due at 10:00, but it is 22:00 now
            assert await env.service.tick() == 0
            clock.set(almaty(2026, 3, 28, 8, 59))
            assert await env.service.tick() == 0
            assert fake.calls_of("sendMessage") == []
            clock.set(almaty(2026, 3, 28, 9, 0))
            assert await env.service.tick() == 1
            assert len(ok_sends(fake, 2001)) == 1
            # Operators' notices are not held by the citizens' hours.
            fake.group(-100500, "Operators")
            clock.set(almaty(2026, 3, 28, 23, 0))
            rid = await env.reminders.add(chat_id=-100500, kind="sla_overdue", due_at=clock.now(),
                                          payload={"text": "Ticket #5 waits"}, dedupe_key="sla:5")
            assert rid is not None
            assert await env.reminders.add(chat_id=-100500, kind="sla_overdue", due_at=clock.now(),
                                           payload={"text": "again"}, dedupe_key="sla:5") is None
            assert await env.service.tick() == 1
            assert [c.params["text"] for c in ok_sends(fake, -100500)] == ["Ticket #5 waits"]


async def test_429_delivered_exactly_once(where, i18n, cal):
    clock = FakeClock(almaty(2026, 3, 19, 12, 0))
    async with running_fake() as fake:
        fake.user(3001)
        async with process(where, fake, clock, i18n, cal) as env:
            case = await env.new_case(3001)
            clock.set(almaty(2026, 3, 27, 10, 5))
            fake.fail_next("sendMessage", chat_id=3001, error_code=429, retry_after=1)
            assert await env.service.tick() == 1
            calls = fake.calls_of("sendMessage", chat_id=3001)
            assert [c.status for c in calls] == [429, 200]
            assert len(ok_sends(fake, 3001)) == 1
            assert await env.service.tick() == 0
            statuses = [r.status for r in await env.reminders.list_for_case(case.id)]
            assert statuses == ["sent", "pending", "pending"]


async def test_403_marks_unreachable_and_cancels(where, i18n, cal):
    clock = FakeClock(almaty(2026, 3, 19, 12, 0))
    async with running_fake() as fake:
        fake.user(4001)
        fake.user(4002)
        async with process(where, fake, clock, i18n, cal) as env:
            blocked = await env.new_case(4001)
            other = await env.new_case(4002)
            await env.new_case(4001)  # a second case of the same person: two reminders due at once
            fake.block(4001)
            clock.set(almaty(2026, 3, 27, 10, 5))
            assert await env.service.tick() == 1  # only the other user
            assert len(fake.calls_of("sendMessage", chat_id=4001)) == 1  # one 403, no second try
            row = await env.db.fetchone("SELECT unreachable_at FROM users WHERE id = 4001")
            assert row["unreachable_at"] is not None
            left = await env.db.fetchall(
                "SELECT status, COUNT(*) AS n FROM reminders WHERE user_id = 4001 GROUP BY status")
            assert {r["status"]: r["n"] for r in left} == {"cancelled": 6}
            clock.set(almaty(2026, 3, 31, 12, 0))
            assert await env.service.tick() == 2  # the other user's "today" and "missed"
            assert len(fake.calls_of("sendMessage", chat_id=4001)) == 1
            assert [r.status for r in await env.reminders.list_for_case(other.id)] == ["sent"] * 3
            assert [r.status for r in await env.reminders.list_for_case(blocked.id)] == ["cancelled"] * 3


async def test_text_in_current_language(where, i18n, cal):
    clock = FakeClock(almaty(2026, 3, 19, 12, 0))
    async with running_fake() as fake:
        fake.user(5001)
        async with process(where, fake, clock, i18n, cal) as env:
            await env.new_case(5001, language="ru")
            await env.users.set_language(5001, "kk")  # switched after the plan was made
            clock.set(almaty(2026, 3, 27, 10, 0))
            assert await env.service.tick() == 1
            text = ok_sends(fake, 5001)[0].params["text"]
            assert "Еске салу" in text and "30 наурыз" in text
            assert "Напоминание" not in text


async def test_stop_reminders_switch(where, i18n, cal):
    clock = FakeClock(almaty(2026, 3, 19, 12, 0))
    async with running_fake() as fake:
        fake.user(6001)
        async with process(where, fake, clock, i18n, cal) as env:
            case = await env.new_case(6001)
            await env.users.set_reminders(6001, False)
            clock.set(almaty(2026, 3, 30, 12, 0))
            assert await env.service.tick() == 0
            assert fake.calls_of("sendMessage") == []
            statuses = [r.status for r in await env.reminders.list_for_case(case.id)]
            assert statuses == ["cancelled", "cancelled", "pending"]


async def test_extension_replan_and_closing(where, i18n, cal):
    clock = FakeClock(almaty(2026, 3, 19, 12, 0))
    async with running_fake() as fake:
        fake.user(7001)
        async with process(where, fake, clock, i18n, cal) as env:
            case = await env.new_case(7001)
            clock.set(almaty(2026, 3, 27, 10, 1))
            assert await env.service.tick() == 1  # "soon" for 30.03 went out
            await env.cases.set_extension(case.id, 5, date(2026, 3, 27))
            await env.planner.replan(case.id)
            plan = await env.reminders.list_for_case(case.id, statuses=["pending", "sent"])
            days = {(r.kind, r.due_at.astimezone(TZ).date()) for r in plan}
            assert days == {
                ("review_due_soon", date(2026, 3, 27)),  # the one already sent stays sent
                ("extension_notice_due", date(2026, 4, 1)),
                ("review_due_soon", date(2026, 4, 3)),
                ("review_due_today", date(2026, 4, 6)),
                ("review_missed", date(2026, 4, 7)),
            }
            before = [r.id for r in await env.reminders.list_for_case(case.id, statuses=["pending"])]
            assert await env.planner.replan(case.id) == 0  # idempotent: same rows, nothing new
            after = [r.id for r in await env.reminders.list_for_case(case.id, statuses=["pending"])]
            assert len(after) == 4 and after == before
            await env.cases.set_status(case.id, "answered")
            assert await env.reminders.list_for_case(case.id, statuses=["pending"]) == []


async def test_install_one_interval_job(where, i18n, cal):
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    clock = FakeClock(almaty(2026, 3, 19, 12, 0))
    async with running_fake() as fake:
        fake.user(8001)
        async with process(where, fake, clock, i18n, cal) as env:
            await env.new_case(8001)
            clock.set(almaty(2026, 3, 27, 11, 0))
            scheduler = AsyncIOScheduler()
            env.service.install(scheduler)
            scheduler.start()
            try:
                jobs = scheduler.get_jobs()
                assert [j.id for j in jobs] == ["reminders"]
                job = jobs[0]
                assert job.max_instances == 1 and job.coalesce and job.misfire_grace_time is None
                assert job.trigger.interval.total_seconds() == env.settings.reminder_interval_seconds
                await fake.wait_call("sendMessage", timeout=5)  # first run right after start
            finally:
                scheduler.shutdown(wait=False)
                await asyncio.sleep(0)
            assert len(ok_sends(fake, 8001)) == 1


async def test_replan_after_a_delayed_send_does_not_repeat_it(where, i18n, cal):
    """A long 429 moves a reminder's due_at; a later re-plan (e.g. /calendar add re-plans every open case)
    must still recognise it as sent and not send it again, and must keep a delayed one's later time."""
    clock = FakeClock(almaty(2026, 3, 19, 12, 0))
    async with running_fake() as fake:
        fake.user(8001)
        async with process(where, fake, clock, i18n, cal) as env:
            case = await env.new_case(8001)
            clock.set(almaty(2026, 3, 27, 10, 5))
            fake.fail_next("sendMessage", chat_id=8001, error_code=429, retry_after=120)  # handed back
            assert await env.service.tick() == 0
            delayed = (await env.reminders.list_for_case(case.id, statuses=["pending"]))[0]
            assert delayed.kind == "review_due_soon" and delayed.due_at > clock.now()
            await env.planner.replan(case.id)  # re-plan while it waits: it keeps its later time
            waiting = await env.reminders.list_for_case(case.id, statuses=["pending"])
            assert [(r.id, r.due_at) for r in waiting if r.kind == "review_due_soon"] == [(delayed.id, delayed.due_at)]
            clock.set(almaty(2026, 3, 27, 10, 30))
            assert await env.service.tick() == 1
            clock.set(almaty(2026, 3, 27, 12, 0))
            await env.planner.replan(case.id)  # re-plan after it went out
            assert await env.service.tick() == 0
            assert len(ok_sends(fake, 8001)) == 1
            soon = await env.reminders.list_for_case(case.id, statuses=["pending", "sending", "sent"])
            assert [r.kind for r in soon].count("review_due_soon") == 1


async def test_repeated_429_delays_but_never_fails_the_reminder(where, i18n, cal):
    clock = FakeClock(almaty(2026, 3, 19, 12, 0))
    async with running_fake() as fake:
        fake.user(8101)
        async with process(where, fake, clock, i18n, cal) as env:
            case = await env.new_case(8101)
            clock.set(almaty(2026, 3, 27, 10, 5))
            for _ in range(env.service.max_attempts + 1):
                fake.fail_next("sendMessage", chat_id=8101, error_code=429, retry_after=120)
                assert await env.service.tick() == 0
                clock.advance(hours=1)
            assert await env.service.tick() == 1
            rows = await env.reminders.list_for_case(case.id)
            assert [r.status for r in rows if r.kind == "review_due_soon"] == ["sent"]


async def test_claimed_before_the_window_closes_waits_for_the_next_one(where, i18n, cal):
    """A batch claimed at 19:59 but delivered after 20:00 (rate limits, retries) must not go out at night."""
    clock = FakeClock(almaty(2026, 3, 19, 12, 0))
    async with running_fake() as fake:
        fake.user(8201)
        async with process(where, fake, clock, i18n, cal) as env:
            case = await env.new_case(8201)
            clock.set(almaty(2026, 3, 27, 19, 59, 50))
            batch = await env.reminders.claim_due(clock.now())
            assert [r.kind for r in batch] == ["review_due_soon"]
            clock.set(almaty(2026, 3, 27, 20, 0, 5))
            assert await env.service._deliver_chat(batch) == 0
            assert fake.calls_of("sendMessage") == []
            row = await env.reminders.get(batch[0].id)
            assert row.status == "pending" and row.attempts == 0
            assert row.due_at.astimezone(TZ) == almaty(2026, 3, 28, 9, 0)
            clock.set(almaty(2026, 3, 28, 9, 0, 1))
            assert await env.service.tick() == 1
            assert [r.status for r in await env.reminders.list_for_case(case.id)][0] == "sent"


async def test_stop_lets_the_batch_in_hand_finish_and_claims_nothing_more(where, i18n, cal):
    clock = FakeClock(almaty(2026, 3, 19, 12, 0))
    async with running_fake() as fake:
        for uid in (3101, 3102):
            fake.user(uid)
        async with process(where, fake, clock, i18n, cal) as env:
            for uid in (3101, 3102):
                await env.new_case(uid)
            clock.set(almaty(2026, 3, 30, 11, 0))
            tick = asyncio.create_task(env.service.tick())
            await asyncio.sleep(0)  # the tick has claimed its batch
            await env.service.stop()
            assert tick.done()
            counts = await env.reminders.count_by_status()
            assert "sending" not in counts
            assert await env.service.tick() == 0  # stopped: nothing more is claimed


async def test_two_instances_send_each_reminder_once(backend, where, i18n, cal):
    """Two instances tick at once on one database: 300 due reminders, each sent once (before the leases,
    recover_stale at an instance's start re-queued rows the other was sending: 5 of 300 went out twice)."""
    clock = FakeClock(almaty(2026, 3, 19, 12, 0))
    users = list(range(6001, 6101))
    async with running_fake() as fake:
        for uid in users:
            fake.user(uid)
        async with process(where, fake, clock, i18n, cal) as one, process(where, fake, clock, i18n, cal) as two:
            for uid in users:
                await one.new_case(uid)
            clock.set(almaty(2026, 3, 31, 12, 0))  # "soon", "today" and "missed" are all due
            sent = await asyncio.gather(one.service.tick(), two.service.tick(), one.service.tick(),
                                        two.service.tick())
            assert sum(sent) == 300
            assert [len(ok_sends(fake, uid)) for uid in users] == [3] * 100
            assert len(fake.calls_of("sendMessage")) == 300
            assert await one.reminders.count_by_status() == {"sent": 300}
            if backend == "pg":  # SKIP LOCKED: both instances take rows (SQLite serialises the claims)
                assert sent[0] + sent[2] > 0 and sent[1] + sent[3] > 0


async def test_an_instance_that_dies_mid_send_leaves_its_rows_until_the_lease_runs_out(where, i18n, cal):
    clock = FakeClock(almaty(2026, 3, 19, 12, 0))
    users = [7001, 7002, 7003]
    async with running_fake() as fake:
        for uid in users:
            fake.user(uid)
        async with process(where, fake, clock, i18n, cal) as alive:
            for uid in users:
                await alive.new_case(uid)
            clock.set(almaty(2026, 3, 27, 10, 5))  # each person's "soon" is due
            async with process(where, fake, clock, i18n, cal) as dying:
                assert len(await dying.reminders.claim_due(clock.now())) == 3
            # it may have sent them and died before marking them sent: they are not sent again yet
            assert await alive.service.tick() == 0
            clock.advance(seconds=alive.service.lease.total_seconds() - 1)
            assert await alive.service.tick() == 0
            clock.advance(seconds=2)  # the dead instance's lease ran out: they go out once
            assert await alive.service.tick() == 3
            assert await alive.service.tick() == 0
            assert [len(ok_sends(fake, uid)) for uid in users] == [1, 1, 1]
