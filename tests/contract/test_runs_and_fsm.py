"""Contract: once-per-period jobs across instances, and the conversation (FSM) store, on both backends."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from aiogram.fsm.storage.base import StorageKey

from bot.services.drafts import DraftPurge
from tests.backends import open_stores

T0 = datetime(2026, 3, 20, 6, 0, tzinfo=timezone.utc)
EVERY = timedelta(minutes=5)


async def test_a_job_runs_once_per_period_across_instances(stores, other):
    assert await stores.runs.claim("desk_sla", T0, EVERY)
    assert not await other.runs.claim("desk_sla", T0 + timedelta(minutes=2), EVERY)
    assert not await stores.runs.claim("desk_sla", T0 + timedelta(minutes=4), EVERY)
    assert await other.runs.claim("purge_drafts", T0, EVERY)  # another job: its own period
    assert await other.runs.claim("desk_sla", T0 + EVERY, EVERY)
    results = await asyncio.gather(*(s.runs.claim("desk_sla", T0 + 2 * EVERY, EVERY)
                                     for s in (stores, other, stores, other)))
    assert sum(results) == 1


def key(uid: int) -> StorageKey:
    return StorageKey(bot_id=42, chat_id=uid, user_id=uid)


async def test_conversations_are_committed_and_survive_a_restart(backend, where, clock, stores):
    await stores.fsm.set_state(key(1), "Wizard:name")
    await stores.fsm.set_data(key(1), {"name": "Айгүл \"Ә\"", "n": 1, "items": [1, 2]})
    await stores.fsm.set_state(key(2), "Wizard:consent")
    await stores.fsm.set_state(key(2), None)  # emptied: the row goes
    await stores.fsm.barrier()
    again = await open_stores(backend, where, clock, holder="three")
    try:
        assert await again.fsm.get_state(key(1)) == "Wizard:name"
        assert await again.fsm.get_data(key(1)) == {"name": "Айгүл \"Ә\"", "n": 1, "items": [1, 2]}
        assert await again.fsm.data_may_have(key(1), "name") and not await again.fsm.data_may_have(key(1), "Wizard")
        assert await again.fsm.get_state(key(2)) is None and await again.fsm.get_data(key(2)) == {}
    finally:
        await again.close()


async def test_idle_drafts_are_purged(stores, clock):
    await stores.fsm.set_state(key(1), "Wizard:name")
    await stores.fsm.set_state(key(2), "Track:day")
    await stores.fsm.barrier()
    clock.advance(days=31)
    await stores.fsm.set_state(key(3), "Wizard:name")  # fresh
    assert await stores.fsm.purge(clock.now() - timedelta(days=30), "Wizard:") == 1
    assert await stores.fsm.get_state(key(1)) is None
    assert await stores.fsm.get_state(key(2)) == "Track:day" and await stores.fsm.get_state(key(3)) == "Wizard:name"


async def test_on_postgresql_every_instance_sees_the_last_step(backend, stores, other):
    """PostgreSQL is shared by instances: a step one instance committed is what the next update sees on the
    other (SQLite has one instance, and its cache)."""
    if backend != "pg":
        return
    await stores.fsm.set_state(key(1), "Wizard:name")
    await stores.fsm.barrier()
    assert await other.fsm.get_state(key(1)) == "Wizard:name"
    await other.fsm.set_state(key(1), "Wizard:iin")
    await other.fsm.set_data(key(1), {"name": "A"})
    assert await other.fsm.get_state(key(1)) == "Wizard:iin"  # its own write, before the commit
    await other.fsm.barrier()
    assert await stores.fsm.get_state(key(1)) == "Wizard:iin"
    assert await stores.fsm.get_data(key(1)) == {"name": "A"}


async def test_the_draft_purge_runs_once_per_period_across_instances(stores, other, clock):
    purges = [DraftPurge(s.fsm, clock, ttl_days=30, state_prefix="Wizard:", runs=s.runs) for s in (stores, other)]
    for uid in (1, 2):
        await stores.fsm.set_state(key(uid), "Wizard:name")
    await stores.fsm.barrier()
    clock.advance(days=31)
    assert sorted(await asyncio.gather(*(p.scheduled() for p in purges)), key=str) == [2, None]
    await other.fsm.set_state(key(3), "Wizard:name")
    await other.fsm.barrier()
    clock.advance(days=31)
    assert await purges[0].scheduled() == 1  # the period passed: the first asking runs it
    assert await purges[1].scheduled() is None
    clock.advance(hours=6)
    assert await purges[1].scheduled() == 0
