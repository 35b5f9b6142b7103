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
