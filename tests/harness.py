"""Start the real app (create_app: real SQLite file, real catalogs, real dispatcher) against the fake Bot API."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from aiogram import Router

from bot.app import App, create_app
from bot.config import load_settings
from bot.domain.clock import Clock
from tests.fakeapi import FakeBotAPI, polling


def settings_for(fake: FakeBotAPI, db_path: Path, **overrides):
    values = dict(
        _env_file=None,
        bot_token=fake.token,
        telegram_api_base=fake.base_url,
        database_path=db_path,
        default_language="ru",
    )
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
    try:
        async with polling(app.dp, app.bot, fake=fake, allowed_updates=app.dp.resolve_used_update_types()):
            yield app
    finally:
        await app.close()
