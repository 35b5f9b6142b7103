"""Memory per person does not stay (issue 14, point 5): 100,000 distinct people passing through leave the
bot's RSS within start-up + 60 MB.

What a person leaves in memory is held by three objects of the bot (``create_app``): the users repository's
cache (every update looks its user up), the dispatcher's per-chat event isolation lock, and the FSM
storage's cache. Each of the 100,000 people here (their rows written beforehand in one statement) goes through
all three as an update does: the user looked up (``UsersRepo.get``, as the user middleware does), the chat's
isolation lock held while the FSM state is read and written (committed: the barrier every answer waits for). On main the users cache
and aiogram's ``SimpleEventIsolation`` kept an entry for every person ever seen.

The whole dispatcher costs ~2.5-6 ms an update here, too slow for 100,000 in the suite: ``python -m bench memory``
feeds 100,000 real updates through it (the figure for acceptance 3); here
``test_people_through_the_real_dispatcher_leave_nothing_behind`` feeds 2,000 with the caches made small.
"""

from __future__ import annotations

import gc
import sqlite3

from aiogram.fsm.storage.base import StorageKey

from bench.hops import answering_session
from bench.memory import measure, rss_mb
from bot.app import create_app
from bot.config import load_settings
from storage.users import CACHE_SIZE

PEOPLE = 100_000
BOUND_MB = 60
NOW = "2026-11-20T05:00:00+00:00"


async def test_100k_people_leave_rss_within_the_bound(tmp_path):
    app = await create_app(load_settings(_env_file=None, bot_token="", database_path=tmp_path / "m.sqlite3"),
                           session=answering_session())
    isolation = app.dp.fsm.events_isolation
    bot_id = app.bot.id

    async def person(uid: int) -> None:
        assert await app.repos.users.get(uid) is not None
        key = StorageKey(bot_id=bot_id, chat_id=uid, user_id=uid)
        async with isolation.lock(key):
            await app.fsm.get_state(key)
            await app.fsm.set_state(key, "Menu:main")
            await app.fsm.set_data(key, {"lang": "kk"})
        if uid % 500 == 0:
            await app.fsm.barrier()

    people = [*range(1, 2_001), *range(1_000_000, 1_000_000 + PEOPLE)]
    with sqlite3.connect(tmp_path / "m.sqlite3") as conn:
        conn.executemany("INSERT INTO users (id, language, first_name, created_at, updated_at)"
                         " VALUES (?, 'kk', 'Айгерим', ?, ?)", [(uid, NOW, NOW) for uid in people])
    try:
        for uid in range(1, 2_001):  # warm up: every code path and the caches' first allocations
            await person(uid)
        gc.collect()
        start = rss_mb()
        for uid in range(1_000_000, 1_000_000 + PEOPLE):
            await person(uid)
        await app.fsm.barrier()
        gc.collect()
        grown = rss_mb() - start
        print(f"\nmemory: RSS {start:.1f} MB after start-up and warm-up, +{grown:.1f} MB after {PEOPLE} people; "
              f"users cached {len(app.repos.users._cache)}, isolation locks {len(isolation._locks)}")
        assert grown <= BOUND_MB, f"RSS grew {grown:.1f} MB for {PEOPLE} people"
        assert len(app.repos.users._cache) <= CACHE_SIZE
        assert len(isolation._locks) == 0  # type: ignore[attr-defined]
    finally:
        await app.close()


async def test_the_isolation_lock_serialises_a_chat_and_is_dropped_when_unused():
    import asyncio

    from storage.fsm import ReleasingEventIsolation

    isolation = ReleasingEventIsolation()
    key, other = StorageKey(bot_id=1, chat_id=7, user_id=7), StorageKey(bot_id=1, chat_id=8, user_id=8)
    order: list[str] = []

    async def update(name: str, k: StorageKey, hold: float) -> None:
        async with isolation.lock(k):
            order.append(name + "+")
            await asyncio.sleep(hold)
            order.append(name + "-")

    await asyncio.gather(update("a", key, 0.02), update("b", key, 0.0), update("c", other, 0.0))
    assert order.index("a-") < order.index("b+")  # one update of a chat at a time, in arrival order
    assert order.index("c+") < order.index("a-")  # another chat does not wait
    assert isolation._locks == {}


async def test_closing_the_isolation_while_an_update_runs_does_not_raise_when_it_ends():
    """close() at shutdown clears the table while an update may still hold its chat's lock: the update's exit
    must not fail on the missing entry (seen as an unhandled KeyError in a desk test under load), nor remove a
    newer entry another update made for the same chat after the close."""
    import asyncio

    from storage.fsm import ReleasingEventIsolation

    isolation = ReleasingEventIsolation()
    key = StorageKey(bot_id=1, chat_id=7, user_id=7)
    inside, leave = asyncio.Event(), asyncio.Event()

    async def update() -> None:
        async with isolation.lock(key):
            inside.set()
            await leave.wait()

    running = asyncio.create_task(update())
    await inside.wait()
    await isolation.close()
    async with isolation.lock(key):  # a new entry for the same chat, made after the close
        leave.set()
        await running  # the old update ends while the new one holds the chat
        assert key in isolation._locks  # the old update's exit did not remove the new entry
    assert isolation._locks == {}


async def test_people_through_the_real_dispatcher_leave_nothing_behind(tmp_path):
    """bench.memory on the bot's real Dispatcher (middlewares, isolation, FSM, routers, handlers; /start and FAQ
    questions from new people, every one answered without an error), with the users and FSM caches bounded at
    300 so that 2,000 people pass their bound: nothing per person stays (no isolation lock, the caches at their
    bound, no more objects tracked by the garbage collector than a few hundred more than after the warm-up)."""
    result = await measure(2_000, folder=tmp_path, users_cache=300, fsm_cache=300, warm_up=500)
    print(f"\nmemory through the dispatcher: {result}")
    assert result.isolation_locks == 0
    assert result.users_cached <= 300 and result.fsm_cached <= 300
    assert result.objects_grown < 300, result  # 2,000 people: a leak of one object each would show
    assert result.grown_mb <= BOUND_MB
