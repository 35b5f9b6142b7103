"""Start the real app (create_app: real SQLite file, real catalogs, real dispatcher) against the fake Bot API,
polling it (``running_bot``) or as a webhook instance it POSTs updates to (``webhook_instance``).

``BACKEND`` holds the settings of the backend under test, added to every bot a test starts: empty for the
embedded default (SQLite for everything), ``{"redis_url": ...}`` for the Redis pass of the end-to-end tests
(the ``fsm_backend`` fixture of tests/backends.py). ``fsm_entry``/``age_conversation`` read and age a
conversation on whichever backend is in use.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from aiogram import Router

from bot.app import App, create_app
from bot.config import load_settings
from bot.domain.clock import Clock
from tests.fakeapi import DEFAULT_TOKEN, FakeBotAPI, polling

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
        await app.close()


def watch_work(app: App) -> Callable[[], bool]:
    """A probe for ``FakeBotAPI.idle``: True while the app is at work on something the test may wait for: an
    update being handled (the dispatcher's handler tasks) or the desk outbox woken or draining. Without it,
    ``idle`` could only hope that a quiet spell means done: on a loaded machine (PostgreSQL, a busy core) a
    handler can wait for its database longer than that between two requests."""
    outbox = app.desk.outbox
    draining = [0]
    drain = outbox.drain

    async def watched_drain() -> float:
        draining[0] += 1
        try:
            return await drain()
        finally:
            draining[0] -= 1

    outbox.drain = watched_drain  # type: ignore[method-assign]  # observed, not changed

    def busy() -> bool:
        pumping = outbox._task is not None and not outbox._task.done()
        return bool(app.dp._handle_update_tasks) or draining[0] > 0 or (pumping and outbox._wake.is_set())

    return busy


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
