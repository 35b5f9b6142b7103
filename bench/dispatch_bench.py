"""Dispatch throughput: the real aiogram Dispatcher with the SQLite FSM storage vs a bare echo bot.

    python -m bench.dispatch_bench [--updates 20000] [--in-flight 100] [--users 1000]

Both runs feed the same updates through `Dispatcher.feed_update` with the same number of updates in
flight, and both handlers await their answer through a session that answers without network (so the
cost of sending is the same on both sides, and the measured side pays for its durability wait).
The baseline is a bare echo handler on MemoryStorage; the measured run is a wizard step on
storage/fsm.py (read state and data, write data and state) with SimpleEventIsolation and the
CommitBarrier: the answer leaves only after the commit holding the step. A third run puts the same step
on the bot's own dispatcher (create_app: every middleware) for reference. Figures drift ±30-50% between
runs on these machines: read the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sqlite3
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.base import BaseSession
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.types import Chat, Message, Update, User

from bot.runtime import tune_gc
from storage.db import Database
from storage.fsm import CommitBarrier, SQLiteStorage


class NullSession(BaseSession):
    """Answers sendMessage like Telegram would, without a network (the same cost on both sides)."""

    bot_user = User(id=42, is_bot=True, first_name="Bench")

    async def make_request(self, bot, method, timeout=None):
        return Message(message_id=1, date=datetime.now(timezone.utc), chat=Chat(id=method.chat_id, type="private"),
                       from_user=self.bot_user, text=method.text).as_(bot)

    async def stream_content(self, *args, **kwargs):  # pragma: no cover
        yield b""

    async def close(self) -> None:
        return None


def _updates(n: int, users: int) -> list[Update]:
    now = datetime.now(timezone.utc)
    out = []
    for i in range(n):
        uid = 10_000 + i % users
        out.append(Update(update_id=i + 1, message=Message(
            message_id=i + 1, date=now, chat=Chat(id=uid, type="private"),
            from_user=User(id=uid, is_bot=False, first_name="U", language_code="ru"), text=f"answer {i}")))
    return out


def echo_router() -> Router:
    router = Router()

    @router.message()
    async def echo(message: Message):
        await message.answer(message.text)

    return router


async def wizard_step(message: Message, state: FSMContext) -> None:
    data = await state.get_data()
    steps = data.get("steps", 0) + 1
    await state.set_data({**data, "steps": steps, "last": message.text})
    await state.set_state(f"Wizard:step{steps % 11}")
    await message.answer(f"step {steps}")


def wizard_router() -> Router:
    router = Router()
    router.message.register(wizard_step)
    return router


async def _app_stack(batch: list[Update], in_flight: int, folder: str) -> float:
    """The same wizard step on the bot's own dispatcher: every middleware (user from SQLite, language,
    language gate, FSM on SQLite with the commit barrier), registered ahead of the feature routers."""
    from bot.app import create_app
    from bot.config import load_settings

    settings = load_settings(_env_file=None, bot_token="", database_path=Path(folder) / "app.sqlite3")
    app = await create_app(settings, session=NullSession())
    app.dp.message.register(wizard_step)  # the dispatcher's own handlers run before its routers
    errors = _ErrorCount()
    logging.getLogger("shagym.errors").addHandler(errors)
    try:
        await _feed(app.dp, app.bot, batch[:1000], in_flight)  # first contact: creates the users
        seconds = await _feed(app.dp, app.bot, batch, in_flight)
    finally:
        logging.getLogger("shagym.errors").removeHandler(errors)
        await app.close()
    if errors.count:  # a failed update is fast: its rate would mean nothing
        raise SystemExit(f"app stack: {errors.count} updates ended in the error handler")
    return seconds


class _ErrorCount(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


async def _feed(dp: Dispatcher, bot: Bot, updates: list[Update], in_flight: int) -> float:
    sem = asyncio.Semaphore(in_flight)

    async def one(update: Update) -> None:
        async with sem:
            await dp.feed_update(bot, update)

    start = time.perf_counter()
    await asyncio.gather(*(one(u) for u in updates))
    return time.perf_counter() - start


async def run(updates: int = 20_000, in_flight: int = 100, users: int = 1000) -> dict:
    tune_gc()  # as `python -m bot` does after start-up: both runs below get it
    bot = Bot(token="42:bench", session=NullSession())
    batch = _updates(updates, users)

    base_dp = Dispatcher(storage=MemoryStorage())
    base_dp.include_router(echo_router())
    await _feed(base_dp, bot, batch[:1000], in_flight)  # warm-up
    base_s = await _feed(base_dp, bot, batch, in_flight)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite3"
        db = await Database.open(path)
        await db.close()
        storage = await SQLiteStorage.open(path)
        durable_bot = Bot(token="42:bench", session=NullSession())
        durable_bot.session.middleware(CommitBarrier(storage))
        dp = Dispatcher(storage=storage, events_isolation=SimpleEventIsolation())
        dp.include_router(wizard_router())
        sqlite_s = await _feed(dp, durable_bot, batch, in_flight)
        await storage.close()
        # everything acknowledged is on disk: every user's step counter equals the updates they sent
        con = sqlite3.connect(path)
        rows = con.execute("SELECT data FROM fsm").fetchall()
        con.close()
        steps = sum(json.loads(d)["steps"] for (d,) in rows)
        app_s = await _app_stack(batch, in_flight, tmp)

    await bot.session.close()
    base_rate, sqlite_rate = updates / base_s, updates / sqlite_s
    return {
        "updates": updates,
        "in_flight": in_flight,
        "users": users,
        "baseline_echo_memory_per_s": round(base_rate),
        "sqlite_fsm_wizard_step_per_s": round(sqlite_rate),
        "ratio": round(sqlite_rate / base_rate, 3),
        "app_stack_wizard_step_per_s": round(updates / app_s),
        "app_stack_ratio": round(updates / app_s / base_rate, 3),
        "steps_on_disk": steps,
        "lost": updates - steps,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--in-flight", type=int, default=100)
    parser.add_argument("--users", type=int, default=1000)
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.updates, args.in_flight, args.users))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
