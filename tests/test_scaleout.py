"""Several instances behind one webhook (issue 15, acceptance 2): 300 people in the middle of the complaint
wizard, their updates POSTed at random to two instances sharing Redis (and one database), some of them twice
and at once: no step lost, none applied twice, every conversation ends where a one-instance run leaves it.
Two instances on PostgreSQL and Redis also send a reminder wave within Telegram's limits (acceptance 1's
limits; its exactly-once half is tests of the leases)."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from tests import harness
from tests.fake_webhook import WebhookDeliverer
from tests.fakeapi import BotMessage, FakeBotAPI, FakeUser, running_fake
from tests.harness import register_webhook, webhook_instance
from tests.services import fresh_pg_database
from tests.test_wizard import WizCb, prompt_n, wiz_buttons

PEOPLE = 300
FIRST_ID = 60_000
TIMEOUT = 120.0  # seconds for one bot answer: generous, the machine is shared

# The wizard's first steps, in order: a text, or a button (action, value) of the current prompt.
SCRIPT: list[Any] = [
    "/complaint",
    ("ok", None),
    ("ch", "unjustified_refusal"),
    ("ch", "provider"),
    "Өскемен қаласы ХҚКО басшысы",
    ("ch", "individual"),
    "Әлиханқызы",
    "Айгерім",
    "Бекқызы",
]


def steps_of(user_id: int) -> int:
    """How far each person goes: 2 to all 9 steps, so the 300 stop at every point of the wizard's start."""
    return 2 + (user_id * 7919) % (len(SCRIPT) - 1)


class Person:
    poll = 0.05  # seconds between looks at the chat

    def __init__(self, fake: FakeBotAPI, user: FakeUser) -> None:
        self.fake, self.user = fake, user
        self.prompt: BotMessage | None = None
        self.seen = 0

    async def next_prompt(self) -> None:
        """The next question of the wizard. Polls this chat (FakeUser.expect would wake all 300 people on
        every event in the fake: the test would measure itself)."""
        after = prompt_n(self.prompt) if self.prompt else 0
        deadline = asyncio.get_running_loop().time() + TIMEOUT
        while True:
            messages = self.fake.messages_in(self.user.id)
            for m in messages[self.seen:]:
                self.seen += 1
                if prompt_n(m) > after:
                    self.prompt = m
                    return
            assert asyncio.get_running_loop().time() < deadline, f"{self.user.id}: no question after {after}"
            await asyncio.sleep(self.poll)

    async def step(self, what: Any) -> None:
        if isinstance(what, str):
            await self.user.send(what)
        else:
            assert self.prompt is not None
            action, value = what
            data = next(btn["callback_data"] for cb, btn in wiz_buttons(self.prompt)
                        if cb.a == action and (value is None or cb.v == value))
            assert WizCb.unpack(data).a == action
            await self.user.press_data(data, self.prompt)
        await self.next_prompt()

    async def walk(self, n: int) -> None:
        for what in SCRIPT[:n]:
            await self.step(what)
            await asyncio.sleep(random.random() * 0.02)  # people do not type in lockstep


async def run(db_path: Path, redis_url: str, *, instances: int, seed: int) -> dict[int, Any]:
    """Everyone walks their steps; returns each person's stored (state, data) and bot message count. The
    instances share a fresh PostgreSQL database and Redis."""
    random.seed(seed)
    async with running_fake() as fake, fresh_pg_database() as pg_url:
        users = [fake.user(FIRST_ID + i, language_code="kk" if i % 2 else "ru") for i in range(PEOPLE)]
        async with _instances(fake, db_path, redis_url, pg_url, instances) as servers:
            register_webhook(fake, servers[0].url)
            urls = [s.url for s in servers]
            duplicate_kw = {"duplicates": 0.25, "concurrent_duplicates": True} if instances > 1 else {}
            async with WebhookDeliverer(fake, urls=urls, retry_delays=(0.05, 0.2), seed=seed, timeout=60,
                                        **duplicate_kw) as hooks:
                await asyncio.gather(*(Person(fake, u).walk(steps_of(u.id)) for u in users))
                await hooks.wait_delivered(timeout=TIMEOUT)
                await fake.idle(timeout=30)
            counts = [s.handler.counts for s in servers]
            states = {u.id: (_comparable(harness.fsm_entry(db_path, u.id)), len(u.messages)) for u in users}
    states[0] = counts  # type: ignore[assignment]  # the instances' counters, for the assertions
    return states


def _comparable(entry: tuple[str | None, dict] | None) -> tuple[str | None, dict] | None:
    """A stored conversation without its ``token``: a random tag per draft (it makes buttons of an older draft
    stale), different in every run by design."""
    if entry is None:
        return None
    state, data = entry
    return state, {k: v for k, v in data.items() if k != "token"}


class _instances:
    def __init__(self, fake: Any, db_path: Path, redis_url: str, pg_url: str, n: int) -> None:
        self.cms = [webhook_instance(fake, db_path, redis_url=redis_url, database_url=pg_url) for _ in range(n)]

    async def __aenter__(self) -> list[Any]:
        return [await cm.__aenter__() for cm in self.cms]

    async def __aexit__(self, *exc: Any) -> None:
        for cm in reversed(self.cms):
            await cm.__aexit__(*exc)


async def test_300_people_mid_wizard_over_two_instances_end_as_on_one(tmp_path, redis_url):
    harness.BACKEND["redis_url"] = redis_url  # fsm_entry reads Redis
    try:
        one = await run(tmp_path / "one.sqlite3", redis_url, instances=1, seed=15)
        client = Redis.from_url(redis_url)
        try:
            await client.flushdb()
        finally:
            await client.aclose()
        two = await run(tmp_path / "two.sqlite3", redis_url, instances=2, seed=15)
    finally:
        harness.BACKEND.clear()
    one_counts, two_counts = one.pop(0), two.pop(0)
    for uid in one:
        assert two[uid] == one[uid], (uid, steps_of(uid), one[uid], two[uid])
    assert all(entry is not None and entry[0] for entry, _ in one.values())  # everyone is mid-wizard
    # both instances worked; duplicates arrived and were answered without being handled
    assert all(c["handled"] > 0 for c in two_counts), two_counts
    assert sum(c["duplicate"] + c["busy"] for c in two_counts) > 0, two_counts
    handled_one = sum(c["handled"] for c in one_counts)
    assert sum(c["handled"] for c in two_counts) == handled_one == sum(steps_of(FIRST_ID + i) for i in range(PEOPLE))


# ------------------------------------------------------------------------------------------ reminders

async def test_a_reminder_wave_from_two_instances_keeps_telegrams_limits(pg_url, redis_url, tmp_path):
    """Issue 15, acceptance 1 (the limits): two instances on one PostgreSQL and one Redis drain a wave of due
    reminders against a fake enforcing 30/s overall and 1/s per chat: no 429, at most 30 sends in any second
    across both, both instances sent some, each reminder once."""
    from bench.reminders_bench import PLANNED_AT, RUN_AT, _peak
    from bench.scaleout import seed_wave
    from bot.app import create_app
    from bot.domain.clock import FakeClock
    from tests.harness import settings_for

    people = 60
    async with running_fake(rate_limit_per_second=30, per_chat_limit=True, per_group_limit=True) as fake:
        clock = FakeClock(PLANNED_AT)
        apps = []
        for name in ("a", "b"):
            settings = settings_for(fake, tmp_path / f"{name}.sqlite3", database_url=pg_url, redis_url=redis_url)
            apps.append(await create_app(settings, clock=clock, session=fake.make_session()))
            apps[-1].reminders.batch_size = 20  # a wave of 300: claimed in small batches, so both take part
        try:
            first = apps[0]
            for uid in range(1_500_000, 1_500_000 + people):
                fake.user(uid)
            due = await seed_wave(first, people, 1_500_000)
            assert due >= 3 * people
            clock.set(RUN_AT)
            sent = await asyncio.gather(*(app.reminders.tick() for app in apps))
            await fake.idle(timeout=30)
            left = await first.repos.reminders.count_by_status()
        finally:
            for app in apps:
                await app.close()
        calls = [c for c in fake.calls_of("sendMessage") if c.ok]
        ok_at = [c.at for c in fake.calls_of("sendMessage") if c.ok]
        refused = [(c.params.get("chat_id"), sum(1 for t in ok_at if c.at - 1 < t <= c.at),
                    [round(c2.at - c.at, 3) for c2 in fake.calls_of("sendMessage", chat_id=c.params.get("chat_id"))])
                   for c in fake.calls_of("sendMessage") if c.status == 429]  # chat, sends in the second, chat's
        assert fake.count_429 == 0, refused
        assert _peak([c.at for c in calls]) <= 30, _peak([c.at for c in calls])
        assert all(n > 0 for n in sent), sent  # both instances took part
        assert sum(sent) == len(calls) == due, (sent, len(calls), due, left)
        assert left.get("pending", 0) == 0 and left.get("sending", 0) == 0, left
