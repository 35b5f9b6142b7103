"""Start the real app (create_app: real SQLite file, real catalogs, real dispatcher) against the fake Bot API,
polling it (``running_bot``) or as a webhook instance it POSTs updates to (``webhook_instance``).

``BACKEND`` holds the settings of the backend under test, added to every bot a test starts: empty for the
embedded default (SQLite for everything), ``{"redis_url": ...}`` for the Redis pass of the end-to-end tests
(the ``fsm_backend`` fixture of tests/backends.py). ``fsm_entry``/``age_conversation`` read and age a
conversation on whichever backend is in use.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from aiogram import Router

from bot.app import App, create_app
from bot.config import load_settings
from bot.domain.clock import Clock
from tests.fakeapi import DEFAULT_TOKEN, FakeBotAPI, await_chains, polling

#: Settings of the backend under test (see the module docstring).
BACKEND: dict[str, Any] = {}
WEBHOOK_SECRET = "shagym-test_Secret-1"


def settings_for(fake: FakeBotAPI, db_path: Path, **overrides):
    values = dict(
        _env_file=None,
        bot_token=fake.token,
        telegram_api_base=fake.base_url,
        database_path=db_path,
        default_language="ru",
    )
    values.update(BACKEND)
    values.update(overrides)
    return load_settings(**values)


@asynccontextmanager
async def running_bot(
    fake: FakeBotAPI,
    db_path: Path,
    *,
    clock: Clock | None = None,
    extra_routers: tuple[Router, ...] = (),
    **settings_overrides,
) -> AsyncIterator[App]:
    """The whole bot, polling the fake; stops cleanly (a restart is simply a second `running_bot`)."""
    settings = settings_for(fake, db_path, **settings_overrides)
    app = await create_app(settings, clock=clock, session=fake.make_session())
    for router in extra_routers:
        app.dp.include_router(router)
    probe = watch_work(app)
    fake.busy_probes.append(probe)
    try:
        async with polling(app.dp, app.bot, fake=fake, allowed_updates=app.dp.resolve_used_update_types()):
            yield app
    finally:
        fake.busy_probes.remove(probe)
        await closed_in_time(app)


async def closed_in_time(app: Any, seconds: float = 60.0) -> None:
    """``app.close()``, or a failure that shows what every task was waiting on. A clean-clone CI run once hung
    here for more than 10 minutes (test_burst_30_people_ask_for_a_person_at_once, on a loaded machine), with
    nothing to show why: a shutdown that hangs must fail its test, with the stacks, instead of holding CI for
    its whole time limit."""
    closing = asyncio.ensure_future(app.close())
    done, _ = await asyncio.wait({closing}, timeout=seconds)
    if closing in done:
        closing.result()  # its exception, if any
        return
    chains = await_chains(asyncio.all_tasks())  # while they still wait: what on
    closing.cancel()
    raise AssertionError(f"the app did not close within {seconds:.0f} s; its tasks:\n{chains}")


def watch_work(app: App) -> Callable[[], bool]:
    """A probe for ``FakeBotAPI.idle``: True while the app is at work on something the test may wait for
    outside an update's handler: the desk outbox or the privacy clean-up (deleting an erased person's copies
    in the operators' chat) woken or at work, and the retention pass the bot runs at start (due or running: a
    test that moves the clock on must not meet it late, computing its cut-off from the moved clock). Without it, ``idle`` could only hope
    that a quiet spell means done: on a loaded machine (PostgreSQL, a busy core) a handler can wait for its
    database longer than that between two requests. (The dispatcher's handler tasks: tests.fakeapi.polling.)"""
    pumps = [_watch_pump(app.desk.outbox, "drain", "_wake", "_task"),
             _watch_pump(app.privacy, "cleanup", "_cleanup_wake", "_cleanup_task"),
             _watch_start_pass(app)]

    def busy() -> bool:
        return any(pump() for pump in pumps)

    return busy


def _watch_start_pass(app: App) -> Callable[[], bool]:
    """Busy while the daily retention job runs, or while its first run (at the app clock's start time) is due
    by the scheduler's real clock and has not run yet (a fake clock in the future: not due, not waited for).
    Observed, not changed: the job's method is wrapped before the job is added."""
    runs = _count_runs(app.privacy, "_run_retention")

    def busy() -> bool:
        if runs.running > 0:
            return True
        job = app.scheduler.get_job("retention") if app.scheduler.running and runs.done == 0 else None
        return job is not None and job.next_run_time is not None and job.next_run_time <= datetime.now(timezone.utc)

    return busy


def _watch_pump(pump: Any, method: str, wake: str, task: str) -> Callable[[], bool]:
    """Busy while ``pump.<method>()`` runs, or while its loop (``pump.<task>``) runs and was woken
    (``pump.<wake>`` set: work is queued). Observed, not changed: the method is wrapped to count its runs."""
    runs = _count_runs(pump, method)

    def busy() -> bool:
        loop_task = getattr(pump, task)
        woken = loop_task is not None and not loop_task.done() and getattr(pump, wake).is_set()
        return runs.running > 0 or woken

    return busy


class _Runs:
    running = 0  # calls in progress
    done = 0  # calls finished


def _count_runs(owner: Any, method: str) -> _Runs:
    """Wrap ``owner.<method>`` (an async method without arguments) to count its calls; nothing else changes."""
    runs = _Runs()
    original = getattr(owner, method)

    async def counted() -> Any:
        runs.running += 1
        try:
            return await original()
        finally:
            runs.running -= 1
            runs.done += 1

    setattr(owner, method, counted)
    return runs


@asynccontextmanager
async def webhook_instance(fake: FakeBotAPI, db_path: Path, *, clock: Clock | None = None,
                           **settings_overrides: Any) -> AsyncIterator[Any]:
    """One instance of the whole bot in webhook mode on a free loopback port (bot/webhook.py), its App closed
    at exit. Telegram's side is the test's: register ``server.url`` with the fake and deliver with
    tests/fake_webhook.py."""
    from bot.webhook import running_webhook

    settings_overrides.setdefault("webhook_url", "http://127.0.0.1/telegram/webhook")
    settings_overrides.setdefault("webhook_secret", WEBHOOK_SECRET)
    settings = settings_for(fake, db_path, **settings_overrides)
    app = await create_app(settings, clock=clock, session=fake.make_session())
    async with running_webhook(app, settings) as server:
        yield server


def register_webhook(fake: FakeBotAPI, url: str, **extra: Any) -> None:
    """What ``python -m bot set-webhook`` leaves in the fake (tests that do not run the command)."""
    fake.webhook = {"url": url, "secret_token": WEBHOOK_SECRET, "max_connections": 40, **extra}


def _redis_key(user_id: int, chat_id: int | None, destiny: str) -> str:
    bot_id = DEFAULT_TOKEN.split(":")[0]
    return f"shagym:fsm:{bot_id}:{user_id if chat_id is None else chat_id}:{user_id}:{destiny}"


def fsm_entry(db_path: Path, user_id: int, *, chat_id: int | None = None,
              destiny: str = "default") -> tuple[str | None, dict] | None:
    """(state, data) of a conversation as stored (None: nothing stored), on the backend in use."""
    if BACKEND.get("redis_url"):
        from redis import Redis

        client = Redis.from_url(BACKEND["redis_url"])
        try:
            key = _redis_key(user_id, chat_id, destiny)
            state, data = client.get(key + ":state"), client.get(key + ":data")
        finally:
            client.close()
        if state is None and data is None:
            return None
        return (state.decode() if state else None, json.loads(data) if data else {})
    where, params = "user_id = ?", [user_id]
    if chat_id is not None or destiny != "default":
        where, params = "key LIKE ?", [f"%:{user_id if chat_id is None else chat_id}:{user_id}:%:%:{destiny}"]
    with sqlite3.connect(db_path) as conn:
        row = conn.execute(f"SELECT state, data FROM fsm WHERE {where}", params).fetchone()
    conn.close()
    return (row[0], json.loads(row[1])) if row else None


def age_conversation(db_path: Path, user_id: int) -> None:
    """The conversation was last touched on 1 January 2000 (for the draft purge)."""
    if BACKEND.get("redis_url"):
        from redis import Redis

        client = Redis.from_url(BACKEND["redis_url"])
        try:
            client.zadd("shagym:fsm:touched", {_redis_key(user_id, None, "default"): 946_684_800})
        finally:
            client.close()
        return
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE fsm SET updated_at = '2000-01-01T00:00:00+00:00' WHERE user_id = ?", (user_id,))
    conn.close()
