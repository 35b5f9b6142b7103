"""What several instances share through Redis (storage/redis.py, storage/fsm_redis.py): Telegram's limits on
Redis's clock, the ledger of handled updates, the conversation state with its draft purge."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import datetime, timedelta, timezone

import pytest
from aiogram.fsm.storage.base import StorageKey
from redis.asyncio import Redis

from bench.reminders_bench import _peak
from bot.services.sender import Sender
from storage.fsm_redis import RedisFSM
from storage.redis import RedisRateLimits, RedisUpdateLedger, durability_problem
from tests.fakeapi import running_fake

BOT = 42


def client(url: str) -> Redis:
    return Redis.from_url(url)


# ------------------------------------------------------------------------------------------- rate limits

async def test_two_instances_share_the_overall_budget_on_redis_time(redis_url):
    a, b = client(redis_url), client(redis_url)  # two processes' clients: nothing shared but Redis
    try:
        limits = [RedisRateLimits(a, BOT, per_second=25, burst=1, max_in_any_second=26),
                  RedisRateLimits(b, BOT, per_second=25, burst=1, max_in_any_second=26)]
        times: list[float] = []

        async def send(i: int) -> None:
            await limits[i % 2].acquire(10_000 + i)  # every message to a chat of its own: only the overall limit
            times.append(time.monotonic())
            await limits[i % 2].sent(10_000 + i)  # answered at once

        t0 = time.monotonic()
        await asyncio.gather(*(send(i) for i in range(80)))
        elapsed = time.monotonic() - t0
    finally:
        await a.aclose()
        await b.aclose()
    # a bucket of 1 at 25/s: at most 26 in any second, and 80 take about (80 - 1) / 25 = 3.2 s
    assert _peak(times) <= 26, _peak(times)
    assert 2.9 <= elapsed <= 6.0, elapsed


async def test_requests_held_up_after_the_last_check_never_bunch_into_one_second(redis_url):
    """A loaded machine holds some requests between the limiter's last check and Telegram (here 0 to 0.6 s at
    random), so on-time and late ones meet in one of Telegram's seconds. A message counts from the moment it
    leaves until a second after its answer: whatever the delays, no second sees more than the cap (28). On
    the moments of leaving alone (before) the late ones bunched: 30 and more."""
    a, b = client(redis_url), client(redis_url)
    rng = random.Random(15)
    try:
        limits = [RedisRateLimits(a, BOT), RedisRateLimits(b, BOT)]
        arrived: list[float] = []

        async def send(i: int) -> None:
            chat = 40_000 + i
            await limits[i % 2].acquire(chat)
            await asyncio.sleep(rng.choice((0.0, 0.0, 0.6 * rng.random())))  # held up on the way, or not
            arrived.append(time.monotonic())  # Telegram counts it now
            await asyncio.sleep(0.01)  # its answer comes back
            await limits[i % 2].sent(chat)

        t0 = time.monotonic()
        await asyncio.gather(*(send(i) for i in range(200)))
        elapsed = time.monotonic() - t0
    finally:
        await a.aclose()
        await b.aclose()
    assert _peak(arrived) <= 28, _peak(arrived)
    assert elapsed <= 200 / 25 * 1.6, elapsed  # still near the budget's pace (25/s; the machine is shared)


def note_slots(limits: RedisRateLimits, redis: Redis, slots: dict[str, list[float]]) -> None:
    """Records, by chat key, the moment (Redis time) of every slot ``limits`` reserves: the TIME read in the same
    MULTI as the reservation, plus the wait it returned. The moments the limiter grants, without the test
    process's own lateness in waking up to them (a loaded machine wakes a sender late, then the next one on
    time: measured on the test's clock, two slots 0.3 s apart could look 0.2 s apart)."""
    take = limits._take

    async def take_and_note(keys: list[str], args: list[int]) -> list[int]:
        async with redis.pipeline(transaction=True) as pipe:
            await take(keys=keys, args=args, client=pipe)
            pipe.time()
            (reserved, wait_us), (seconds, micros) = await pipe.execute()
        if int(reserved):
            slots.setdefault(keys[1], []).append(seconds + micros / 1e6 + int(wait_us) / 1e6)
        return [int(reserved), int(wait_us)]

    limits._take = take_and_note  # type: ignore[assignment]  # observed, not changed


async def test_a_chat_is_spaced_across_instances_and_a_group_keeps_its_minute(redis_url):
    a, b = client(redis_url), client(redis_url)
    slots: dict[str, list[float]] = {}
    try:
        # never answered (no sent()): each slot holds its chat for chat_hold
        limits = [RedisRateLimits(a, BOT, chat_hold=0.3, group_per_minute=600, max_in_any_second=100),
                  RedisRateLimits(b, BOT, chat_hold=0.3, group_per_minute=600, max_in_any_second=100)]
        note_slots(limits[0], a, slots)
        note_slots(limits[1], b, slots)

        returned: dict[int, list[float]] = {777: [], -100_777: []}

        async def one(i: int, chat: int) -> None:
            await limits[i % 2].acquire(chat)
            seconds, micros = await (a, b)[i % 2].time()
            returned[chat].append(seconds + micros / 1e6)

        await asyncio.gather(*(one(i, 777) for i in range(6)), *(one(i, -100_777) for i in range(25)))
    finally:
        await a.aclose()
        await b.aclose()
    chat_times = sorted(slots[f"{limits[0].prefix}:chat:777"])
    group_times = slots[f"{limits[0].prefix}:chat:-100777"]
    assert len(chat_times) == 6 and len(group_times) == 25
    for chat, granted in ((777, chat_times), (-100_777, group_times)):  # nobody went before their slot
        assert all(r >= s for r, s in zip(sorted(returned[chat]), sorted(granted), strict=True))
    gaps = [y - x for x, y in zip(chat_times, chat_times[1:], strict=False)]
    assert min(gaps) >= 0.25, gaps  # one message per 0.3 s whichever instance sends it (Redis time, µs)
    # a group: 600 a minute = 10/s after the first: at most 11 in any second (also its chat limit holds: 0.3 s)
    assert _peak(group_times) <= 11
    assert min(y - x for x, y in zip(sorted(group_times), sorted(group_times)[1:], strict=False)) >= 0.25


async def test_a_chat_held_by_one_instance_waits_for_the_answer_there(redis_url):
    """Two instances with a message each for one chat: the second goes a full gap after the first one's
    request was answered, however late that request went out."""
    a, b = client(redis_url), client(redis_url)
    try:
        first = RedisRateLimits(a, BOT, chat_gap_after_answer=0.5)
        second = RedisRateLimits(b, BOT, chat_gap_after_answer=0.5)
        await first.acquire(888)
        later = asyncio.create_task(second.acquire(888))
        await asyncio.sleep(1.2)  # the first instance's request is slow (a loaded machine, the network)
        assert not later.done()
        await first.sent(888)
        answered = time.monotonic()
        await asyncio.wait_for(later, 10)
        waited = time.monotonic() - answered
    finally:
        await a.aclose()
        await b.aclose()
    assert waited >= 0.45, waited


async def test_a_429_pauses_the_chat_for_every_instance(redis_url):
    a, b = client(redis_url), client(redis_url)
    try:
        first, second = RedisRateLimits(a, BOT), RedisRateLimits(b, BOT)
        await first.acquire(555)
        await first.pause(555, 1.5)  # Telegram said "retry after 1.5 s" to the first instance
        t0 = time.monotonic()
        await second.acquire(555)
        waited = time.monotonic() - t0
    finally:
        await a.aclose()
        await b.aclose()
    assert 1.3 <= waited <= 3.0, waited


async def test_senders_of_two_instances_stay_under_telegrams_limits(redis_url):
    """Two Senders (two bots, as two processes would have) against one fake enforcing 30/s and 1/s per chat:
    no 429, and the busiest second across both holds at most 30 sends."""
    a, b = client(redis_url), client(redis_url)
    async with running_fake(rate_limit_per_second=30, per_chat_limit=True, per_group_limit=True) as fake:
        chats = [fake.user(20_000 + i).id for i in range(60)]
        bots = [fake.make_bot(), fake.make_bot()]
        senders = [Sender(bots[0], shared=RedisRateLimits(a, fake.bot_id)),
                   Sender(bots[1], shared=RedisRateLimits(b, fake.bot_id))]
        try:
            # two messages per chat, the chat's two from different instances (the cross-instance 1/s case)
            results = await asyncio.gather(*(senders[(i + n) % 2].send_message(chat, f"m{n}")
                                             for n in range(2) for i, chat in enumerate(chats)))
        finally:
            for bot in bots:
                await bot.session.close()
            await a.aclose()
            await b.aclose()
        assert all(r.ok for r in results)
        assert fake.count_429 == 0
        sends = [c.at for c in fake.calls_of("sendMessage") if c.ok]
        assert len(sends) == 120 and _peak(sends) <= 30
        assert senders[0].stats["sent"] > 0 and senders[1].stats["sent"] > 0


class BrokenLimits:
    async def acquire(self, chat_id: int) -> None:
        raise ConnectionError("redis is down")

    async def pause(self, chat_id: int, seconds: float) -> None:
        raise ConnectionError("redis is down")

    async def sent(self, chat_id: int) -> None:
        raise ConnectionError("redis is down")


async def test_without_its_shared_limiter_the_sender_keeps_sending_within_its_own(fake):
    bot = fake.make_bot()
    try:
        sender = Sender(bot, shared=BrokenLimits())
        results = await asyncio.gather(*(sender.send_message(fake.user(30_000 + i).id, "x") for i in range(5)))
    finally:
        await bot.session.close()
    assert all(r.ok for r in results) and sender.stats["shared_down"] == 5


# ------------------------------------------------------------------------------------------- the ledger

async def test_the_ledger_hands_an_update_to_one_instance_once(redis_url):
    a, b = client(redis_url), client(redis_url)
    try:
        first = RedisUpdateLedger(a, BOT, owner="a", lease_seconds=0.5)
        second = RedisUpdateLedger(b, BOT, owner="b", lease_seconds=0.5)
        assert await first.claim(1) == "new"
        assert await second.claim(1) == "busy"  # the first one is on it
        await first.done(1)
        assert await second.claim(1) == "done"
        assert await first.claim(1) == "done"

        assert await first.claim(2) == "new"
        await first.release(2)  # it failed: the next delivery handles it afresh
        assert await second.claim(2) == "new"
        await first.release(2)  # not the first's lease any more: nothing happens
        assert await first.claim(2) == "busy"

        assert await first.claim(3) == "new"
        await asyncio.sleep(0.3)
        await first.renew(3)  # still working on it
        await asyncio.sleep(0.3)
        assert await second.claim(3) == "busy"
        await asyncio.sleep(0.6)  # the first instance died: its lease ran out
        assert await second.claim(3) == "replay"
        assert await first.claim(3) == "busy"
        await second.done(3)
        assert await first.claim(3) == "done"
        assert 86_000 < await a.ttl(f"shagym:upd:{BOT}:3") <= 86_400  # remembered a day
    finally:
        await a.aclose()
        await b.aclose()


async def test_concurrent_claims_give_the_update_to_exactly_one(redis_url):
    clients = [client(redis_url) for _ in range(4)]
    try:
        ledgers = [RedisUpdateLedger(c, BOT, owner=f"i{i}") for i, c in enumerate(clients)]
        outcomes = await asyncio.gather(*(ledger.claim(update) for update in range(200) for ledger in ledgers))
    finally:
        for c in clients:
            await c.aclose()
    for update in range(200):
        mine = outcomes[update * 4:(update + 1) * 4]
        assert sorted(mine) == ["busy", "busy", "busy", "new"], mine


async def test_durability_is_checked_not_assumed(redis_client):
    # the test server runs without an append-only file: the check says so and names the settings
    problem = await durability_problem(redis_client)
    assert problem is not None and "appendfsync always" in problem and "REDIS_DURABILITY" in problem


# ------------------------------------------------------------------------------------------- FSM

async def test_redis_fsm_round_trip_and_draft_purge(redis_url):
    now = datetime(2026, 5, 1, tzinfo=timezone.utc)
    clock = {"now": now - timedelta(days=40)}
    fsm = RedisFSM(client(redis_url), now=lambda: clock["now"])
    old_draft, old_other, fresh_draft = (StorageKey(bot_id=BOT, chat_id=u, user_id=u) for u in (1, 2, 3))
    form = StorageKey(bot_id=BOT, chat_id=-100, user_id=7, destiny="desk_form")
    try:
        await fsm.set_state(old_draft, "ComplaintWizard:draft")
        await fsm.set_data(old_draft, {"step": "iin", "text": "Әлиханқызы"})
        await fsm.set_state(old_other, "Tracking:answered")
        await fsm.set_state(form, "desk:note")
        clock["now"] = now
        await fsm.set_state(fresh_draft, "ComplaintWizard:draft")
        assert await fsm.get_data(old_draft) == {"step": "iin", "text": "Әлиханқызы"}
        assert await fsm.get_state(form) == "desk:note" and await fsm.get_state(StorageKey(
            bot_id=BOT, chat_id=-100, user_id=7)) is None  # the destiny keeps the desk's form apart

        assert await fsm.purge(now - timedelta(days=30), "ComplaintWizard:") == 1
        assert await fsm.get_state(old_draft) is None and await fsm.get_data(old_draft) == {}
        assert await fsm.get_state(old_other) == "Tracking:answered"  # not a draft: kept
        assert await fsm.get_state(fresh_draft) == "ComplaintWizard:draft"  # touched recently: kept
        assert await fsm.purge(now - timedelta(days=30), "ComplaintWizard:") == 0

        await fsm.set_state(fresh_draft, None)
        await fsm.set_data(fresh_draft, {})
        assert await fsm.get_state(fresh_draft) is None and await fsm.get_data(fresh_draft) == {}
    finally:
        await fsm.close()


async def test_redis_fsm_purge_goes_through_many_conversations_in_chunks(redis_url):
    now = datetime(2026, 5, 1, tzinfo=timezone.utc)
    fsm = RedisFSM(client(redis_url), now=lambda: now - timedelta(days=60))
    try:
        for u in range(1, 31):  # drafts and other states interleaved, all old
            await fsm.set_state(StorageKey(bot_id=BOT, chat_id=u, user_id=u),
                                "ComplaintWizard:draft" if u % 3 else "Tracking:answered")
        assert await fsm.purge(now, "ComplaintWizard:", batch=4) == 20
        states = [await fsm.get_state(StorageKey(bot_id=BOT, chat_id=u, user_id=u)) for u in range(1, 31)]
        assert states.count("Tracking:answered") == 10 and states.count(None) == 20
    finally:
        await fsm.close()


@pytest.mark.parametrize("bad", [["not", "a", "mapping"], "text"])
async def test_redis_fsm_refuses_data_that_is_not_a_mapping(redis_url, bad):
    fsm = RedisFSM(client(redis_url))
    try:
        with pytest.raises(TypeError):
            await fsm.set_data(StorageKey(bot_id=BOT, chat_id=1, user_id=1), bad)
    finally:
        await fsm.close()


async def test_redis_fsm_shows_and_forgets_one_persons_conversations(redis_url):
    now = datetime(2026, 5, 1, tzinfo=timezone.utc)
    fsm = RedisFSM(client(redis_url), now=lambda: now)
    mine = [StorageKey(bot_id=BOT, chat_id=77, user_id=77),
            StorageKey(bot_id=BOT, chat_id=-100, user_id=77, destiny="desk_form")]
    theirs = [StorageKey(bot_id=BOT, chat_id=77, user_id=78), StorageKey(bot_id=BOT, chat_id=177, user_id=177)]
    try:
        for key in mine + theirs:
            await fsm.set_state(key, "ComplaintWizard:draft")
            await fsm.set_data(key, {"who": key.user_id})
        got = await fsm.conversations(77)
        assert sorted((s, d["who"], at) for s, d, at in got) == [("ComplaintWizard:draft", 77, now)] * 2
        assert await fsm.forget(77) == 2
        assert await fsm.conversations(77) == [] and await fsm.forget(77) == 0
        for key in mine:
            assert await fsm.get_state(key) is None and await fsm.get_data(key) == {}
        for key in theirs:  # someone else's, even in the same chat: kept
            assert await fsm.get_data(key) == {"who": key.user_id}
    finally:
        await fsm.close()


async def test_a_conversation_lock_is_a_lease_freed_after_its_holder_dies_and_kept_while_it_works(redis_url):
    """The per-conversation lock across instances: a holder that dies (never renews, never releases) frees the
    person after one lease, not aiogram's fixed 60 s; a holder working longer than a lease keeps it."""
    redis = Redis.from_url(redis_url)
    try:
        fsm = RedisFSM(redis)
        key = StorageKey(bot_id=1, chat_id=5501, user_id=5501)
        dead = await redis.lock(fsm.key_builder.build(key, "lock"), timeout=0.6).acquire()  # a killed instance's
        assert dead
        isolation = fsm.create_isolation(lease=0.6)
        started = time.monotonic()
        async with isolation.lock(key):
            waited = time.monotonic() - started
        assert 0.3 < waited < 5, waited  # after the dead holder's lease, not 60 s

        order: list[str] = []

        async def slow() -> None:
            async with isolation.lock(key):
                order.append("slow in")
                await asyncio.sleep(2.0)  # over three leases: renewed meanwhile
                order.append("slow out")

        async def next_update() -> None:
            await asyncio.sleep(0.2)
            async with fsm.create_isolation(lease=0.6).lock(key):  # another instance
                order.append("next")

        await asyncio.gather(slow(), next_update())
        assert order == ["slow in", "slow out", "next"]
    finally:
        await redis.aclose()
