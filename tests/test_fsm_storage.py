"""The FSM storage (SQLite, and PostgreSQL): what a person saw is on disk, even when the process is killed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiogram.fsm.storage.base import StorageKey

from storage.db import Database
from storage.fsm import SQLiteStorage
from tests.loopticks import LoopTicks

ROOT = Path(__file__).resolve().parent.parent


async def test_state_and_data_survive_reopen(db_path):
    db = await Database.open(db_path)
    await db.close()
    key = StorageKey(bot_id=1, chat_id=7, user_id=7)
    storage = await SQLiteStorage.open(db_path)
    await storage.set_state(key, "Wizard:iin")
    await storage.set_data(key, {"surname": "Әлиханқызы", "n": 3})
    await storage.close()

    again = await SQLiteStorage.open(db_path)
    assert await again.get_state(key) == "Wizard:iin"
    assert await again.get_data(key) == {"surname": "Әлиханқызы", "n": 3}
    # clearing a conversation removes its row
    await again.set_state(key, None)
    await again.set_data(key, {})
    await again.barrier()
    assert sqlite3.connect(db_path).execute("SELECT count(*) FROM fsm").fetchone()[0] == 0
    await again.close()


async def test_get_data_returns_a_copy(db_path):
    db = await Database.open(db_path)
    await db.close()
    key = StorageKey(bot_id=1, chat_id=8, user_id=8)
    storage = await SQLiteStorage.open(db_path)
    await storage.set_data(key, {"items": [1]})
    data = await storage.get_data(key)
    data["items"].append(2)
    assert await storage.get_data(key) == {"items": [1]}
    await storage.close()


CHILD = r'''
import asyncio, sys
from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.memory import SimpleEventIsolation
from bench.dispatch_bench import NullSession, _updates, _feed, wizard_router
from storage.db import Database
from storage.fsm import CommitBarrier, SQLiteStorage

class Acking(NullSession):
    async def make_request(self, bot, method, timeout=None):
        sys.stdout.write(f"ACK {method.chat_id} {method.text.split()[1]}\n")  # what the person saw
        sys.stdout.flush()
        return await super().make_request(bot, method, timeout)

async def main(path):
    db = await Database.open(path); await db.close()
    storage = await SQLiteStorage.open(path)
    bot = Bot(token="42:kill", session=Acking())
    bot.session.middleware(CommitBarrier(storage))
    dp = Dispatcher(storage=storage, events_isolation=SimpleEventIsolation())
    dp.include_router(wizard_router())
    while True:
        await _feed(dp, bot, _updates(2000, 50), 50)

asyncio.run(main(sys.argv[1]))
'''


def test_every_acknowledged_step_survives_sigkill(tmp_path):
    path = tmp_path / "kill.sqlite3"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    seen: dict[int, int] = {}
    deadline = time.monotonic() + 60
    try:
        while sum(1 for _ in seen) < 50 or sum(seen.values()) < 3000:
            line = child.stdout.readline()
            assert line, "child exited early"
            _, chat, step = line.split()
            seen[int(chat)] = max(seen.get(int(chat), 0), int(step))
            assert time.monotonic() < deadline
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    stored = {}
    con = sqlite3.connect(path)
    for key, data in con.execute("SELECT key, data FROM fsm"):
        chat = int(key.split(":")[1])
        stored[chat] = json.loads(data)["steps"]
    con.close()
    behind = {chat: (step, stored.get(chat)) for chat, step in seen.items() if stored.get(chat, 0) < step}
    assert not behind, f"steps the person saw but the disk lost: {behind}"


async def test_repositories_and_fsm_share_the_file_under_concurrency(db_path):
    """Many first contacts at once (user INSERTs on the repositories' connection) while the FSM commits on
    its own: no 'database is locked' (a read left open between two hops used to break the INSERTs)."""
    import asyncio

    from storage.users import UsersRepo

    db = await Database.open(db_path)
    storage = await SQLiteStorage.open(db_path)
    users = UsersRepo(db)

    async def first_contact(uid: int) -> None:
        user = await users.seen(uid, "U", "ru")
        key = StorageKey(bot_id=1, chat_id=uid, user_id=uid)
        await storage.set_data(key, {"language": user.language})
        await storage.set_state(key, "Wizard:consent")
        await storage.barrier()

    await asyncio.gather(*(first_contact(uid) for uid in range(10_000, 10_600)))
    assert (await db.fetchone("SELECT count(*) FROM users"))[0] == 600
    assert (await db.fetchone("SELECT count(*) FROM fsm"))[0] == 600
    await storage.close()
    await db.close()


CHILD_PG = CHILD.replace("from storage.db import Database\n", "from storage.pg.db import PgDatabase\n").replace(
    "from storage.fsm import CommitBarrier, SQLiteStorage\n",
    "from storage.fsm import CommitBarrier\nfrom storage.pg.fsm import PgStorage\n").replace(
    "    db = await Database.open(path); await db.close()\n    storage = await SQLiteStorage.open(path)\n",
    "    db = await PgDatabase.open(path)\n    storage = PgStorage(db)\n")


async def test_every_acknowledged_step_survives_sigkill_on_postgresql(pg_url):
    """The same promise on PostgreSQL: a step the person saw is committed (synchronous_commit stays on)."""
    import asyncpg

    assert "PgStorage(db)" in CHILD_PG
    child = subprocess.Popen([sys.executable, "-c", CHILD_PG, pg_url], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})

    def read() -> dict[int, int]:
        seen: dict[int, int] = {}
        deadline = time.monotonic() + 120
        while len(seen) < 50 or sum(seen.values()) < 3000:
            line = child.stdout.readline()
            assert line, "child exited early"
            _, chat, step = line.split()
            seen[int(chat)] = max(seen.get(int(chat), 0), int(step))
            assert time.monotonic() < deadline
        return seen

    try:
        seen = await asyncio.to_thread(read)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    conn = await asyncpg.connect(pg_url)
    try:
        stored = {int(r["key"].split(":")[1]): json.loads(r["data"])["steps"]
                  for r in await conn.fetch("SELECT key, data::text AS data FROM fsm")}
    finally:
        await conn.close()
    behind = {chat: (step, stored.get(chat)) for chat, step in seen.items() if stored.get(chat, 0) < step}
    assert not behind, f"steps the person saw but the database lost: {behind}"


async def test_the_draft_purge_deletes_in_bounded_batches_and_lets_the_loop_run(db_path):
    """Issue 14, point 4: expired drafts go in statements of at most ``batch`` rows, the loop serving others
    between them; fresh drafts and other conversations stay."""
    from datetime import datetime, timezone

    db = await Database.open(db_path)
    await db.close()
    with sqlite3.connect(db_path) as conn:
        conn.executemany("INSERT INTO fsm (key, user_id, state, data, updated_at) VALUES (?, ?, ?, '{}', ?)",
                         [(f"1:{i}:{i}", i, "Wizard:iin" if i % 20 else "Menu:main", "2026-01-01T00:00:00+00:00")
                          for i in range(2_200)]
                         + [(f"1:{i}:{i}", i, "Wizard:iin", "2026-06-01T00:00:00+00:00") for i in range(5_000, 5_050)])
    storage = await SQLiteStorage.open(db_path)
    sizes: list[int] = []
    real = storage._purge

    def counting(*args):
        keys = real(*args)
        sizes.append(len(keys))
        return keys

    storage._purge = counting  # type: ignore[method-assign]
    try:
        async with LoopTicks() as ticks:
            purged = await storage.purge(datetime(2026, 3, 1, tzinfo=timezone.utc), "Wizard", batch=500)
    finally:
        await storage.close()
    assert purged == 2_090 and sizes == [500, 500, 500, 500, 90]
    assert ticks.n >= 4  # the loop ran between the batches
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT state, COUNT(*) FROM fsm GROUP BY state ORDER BY state").fetchall() == [
            ("Menu:main", 110), ("Wizard:iin", 50)]


def test_the_row_key_of_a_conversation_keeps_its_format():
    """Rows already on disk are found by this key: bot:chat:user:thread:business connection:destiny, a part
    that is None as empty."""
    from storage.fsm import storage_key

    assert storage_key(StorageKey(bot_id=42, chat_id=7, user_id=7)) == "42:7:7:::default"
    assert storage_key(StorageKey(bot_id=42, chat_id=-100123, user_id=5, thread_id=9,
                                  business_connection_id="bc", destiny="desk")) == "42:-100123:5:9:bc:desk"


async def test_reads_in_memory_await_nothing_and_see_every_write(db_path):
    """A read of a conversation in memory (or, SQLite, read on the loop) awaits nothing: ``peek`` has it at once
    (handlers/middlewares.py Inbound), and get_state/get_data make no ``_fetch``; each sees the last write."""
    db = await Database.open(db_path)
    await db.close()
    key = StorageKey(bot_id=1, chat_id=9, user_id=9)
    storage = await SQLiteStorage.open(db_path)
    fetched: list[str] = []
    storage._fetch = lambda skey: fetched.append(skey)  # type: ignore[method-assign]  # would fail if awaited
    try:
        assert storage.peek(key) == (None, "{}")  # read from the file at once (no row)
        await storage.set_state(key, "Wizard:iin")
        await storage.set_data(key, {"n": 1})
        assert storage.peek(key) == ("Wizard:iin", '{"n":1}')
        assert await storage.get_state(key) == "Wizard:iin" and await storage.get_data(key) == {"n": 1}
        await storage.barrier()
        storage._cache.clear()
        assert storage.peek(key) == ("Wizard:iin", '{"n":1}')  # from the file
        assert await storage.data_may_have(key, "n")
        assert fetched == []
    finally:
        await storage.close()


async def test_a_shared_storage_peeks_only_at_its_own_uncommitted_writes(db_path):
    """PostgreSQL (``shared``): nothing is cached beyond this instance's own writes until committed, so ``peek``
    has those and nothing else (another instance may have written the row)."""
    db = await Database.open(db_path)
    await db.close()

    class Shared(SQLiteStorage):
        shared = True

    key = StorageKey(bot_id=1, chat_id=10, user_id=10)
    storage = await Shared.open(db_path)
    try:
        assert storage.peek(key) is None
        await storage.set_state(key, "Wizard:iin")
        assert storage.peek(key) == ("Wizard:iin", "{}")
        await storage.barrier()
        assert storage.peek(key) is None
        assert await storage.get_state(key) == "Wizard:iin"  # fetched
    finally:
        await storage.close()


# --- a lone update's step committed at once (barrier(alone=True)) ----------------------------------------------

def _on_disk(path, key: StorageKey) -> tuple | None:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT state, data FROM fsm WHERE key LIKE ?", (f"%:{key.chat_id}:{key.user_id}:%",)
                            ).fetchone()
    finally:
        conn.close()


@asynccontextmanager
async def _opened(db_path) -> AsyncIterator[tuple[SQLiteStorage, list[float], Database]]:
    """The bot's pair: the repositories' database and the FSM storage committing under its write lock; the
    durations of the FSM's commits."""
    db = await Database.open(db_path)
    storage = await SQLiteStorage.open(db_path, write_lock=db.write_lock)
    commits: list[float] = []
    storage.on_commit = commits.append
    try:
        yield storage, commits, db
    finally:
        await storage.close()
        await db.close()


async def test_alone_the_barrier_commits_at_once_without_a_loop_turn(db_path):
    async with _opened(db_path) as (storage, commits, db):
        key = StorageKey(bot_id=1, chat_id=31, user_id=31)
        ran: list[str] = []
        await storage.set_state(key, "Wizard:iin")
        await storage.set_data(key, {"step": 2})
        asyncio.get_running_loop().call_soon(ran.append, "queued before")  # like the next poll's write
        await storage.barrier(alone=True)
        assert ran == []  # nothing else ran before the step was on disk
        assert _on_disk(db_path, key) == ("Wizard:iin", '{"step":2}')
        assert len(commits) == 1
        await asyncio.sleep(0.01)  # the flusher the write started finds nothing left
        assert len(commits) == 1 and ran == ["queued before"]
        # not alone: the writes of a loop turn still share one commit, after that turn
        other = StorageKey(bot_id=1, chat_id=32, user_id=32)
        await storage.set_data(key, {"step": 3})
        asyncio.get_running_loop().call_soon(ran.append, "another update")
        await storage.set_data(other, {"step": 1})
        await storage.barrier()
        assert ran[-1] == "another update" and len(commits) == 2
        assert _on_disk(db_path, key)[1] == '{"step":3}' and _on_disk(db_path, other)[1] == '{"step":1}'


async def test_alone_the_barrier_still_waits_for_a_held_write_lock_and_a_busy_file(db_path):
    async with _opened(db_path) as (storage, commits, db):
        key = StorageKey(bot_id=1, chat_id=33, user_id=33)
        async with db.write_lock:  # a repository's transaction in this process
            await storage.set_data(key, {"step": 1})
            waiting = asyncio.create_task(storage.barrier(alone=True))
            await asyncio.sleep(0.02)
            assert not waiting.done() and _on_disk(db_path, key) is None
        await asyncio.wait_for(waiting, 5)
        assert _on_disk(db_path, key)[1] == '{"step":1}'

        other = sqlite3.connect(db_path, isolation_level=None)  # another process's write transaction
        other.execute("BEGIN IMMEDIATE")
        await storage.set_data(key, {"step": 2})
        waiting = asyncio.create_task(storage.barrier(alone=True))
        await asyncio.sleep(0.02)
        assert not waiting.done()
        other.execute("COMMIT")
        other.close()
        await asyncio.wait_for(waiting, 5)
        assert _on_disk(db_path, key)[1] == '{"step":2}' and len(commits) == 2


async def test_alone_the_barrier_never_commits_a_batch_ahead_of_the_one_in_flight(db_path):
    async with _opened(db_path) as (storage, commits, db):
        key = StorageKey(bot_id=1, chat_id=34, user_id=34)
        async with db.write_lock:
            await storage.set_data(key, {"step": 1})
            await asyncio.sleep(0.01)  # the flusher took this batch and waits for the lock
            await storage.set_data(key, {"step": 2})
            waiting = asyncio.create_task(storage.barrier(alone=True))
            await asyncio.sleep(0.01)
            assert not waiting.done() and _on_disk(db_path, key) is None  # step 2 did not jump the queue
        await asyncio.wait_for(waiting, 5)
        assert _on_disk(db_path, key)[1] == '{"step":2}' and len(commits) == 2


async def test_alone_a_failed_commit_fails_the_barrier_and_leaves_nothing_in_memory(db_path):
    async with _opened(db_path) as (storage, commits, db):
        key = StorageKey(bot_id=1, chat_id=35, user_id=35)
        await storage.set_data(key, {"step": 1})
        await storage.barrier(alone=True)
        other = sqlite3.connect(db_path)
        other.execute("ALTER TABLE fsm RENAME TO fsm_gone")  # the next commit fails (not busy: no such table)
        other.commit()
        await storage.set_data(key, {"step": 2})
        try:
            await storage.barrier(alone=True)
        except sqlite3.OperationalError as exc:
            assert "no such table" in str(exc)
        else:
            raise AssertionError("the barrier passed a step that is not on disk")
        other.execute("ALTER TABLE fsm_gone RENAME TO fsm")
        other.commit()
        other.close()
        assert await storage.get_data(key) == {"step": 1}  # what the disk has, not the failed step


async def test_the_bots_barrier_is_alone_while_one_chat_has_an_update_in_flight(db_path):
    """bot/app.py commit_barrier: the events isolation tells how many chats have an update in flight."""
    from bot.app import commit_barrier
    from storage.fsm import ReleasingEventIsolation

    async with _opened(db_path) as (storage, commits, db):
        isolation = ReleasingEventIsolation()
        barrier = commit_barrier(storage, isolation)
        keys = [StorageKey(bot_id=1, chat_id=c, user_id=c) for c in (36, 37)]
        for holding, at_once in ((keys[:1], True), (keys, False)):
            locks = [isolation.lock(k) for k in holding]
            for lock in locks:
                await lock.__aenter__()
            assert isolation.chats_in_flight() == len(holding)
            ran: list[str] = []
            await storage.set_data(keys[0], {"held": len(holding)})
            asyncio.get_running_loop().call_soon(ran.append, "queued before")
            await barrier()
            assert (ran == []) is at_once
            assert _on_disk(db_path, keys[0])[1] == json.dumps({"held": len(holding)}, separators=(",", ":"))
            for lock in locks:
                await lock.__aexit__(None, None, None)
        assert isolation.chats_in_flight() == 0
        assert commit_barrier(storage, None) == storage.barrier  # another isolation: the usual barrier
