"""Run modes: a webhook server with WEBHOOK_URL (bot/webhook.py), long polling with a token, else the console
mode (the same dispatcher, database and catalogs in each)."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TextIO

from bot.config import (
    ConfigError,
    Settings,
    check_database_path,
    claim_database_path,
    load_settings,
    scale_out_warning,
)
from bot.logs import log_formatter

log = logging.getLogger("shagym")


def setup_logging(level: str, fmt: str = "text", *, stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(log_formatter(fmt))
    logging.basicConfig(level=level, handlers=[handler])
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)


async def run_polling(settings: Settings) -> None:
    from bot.app import create_app
    from bot.runtime import tune_gc

    app = await create_app(settings)
    tune_gc()
    try:
        await app.dp.start_polling(app.bot, allowed_updates=app.dp.resolve_used_update_types())
    finally:
        await app.close()


async def check_redis(settings: Settings) -> None:
    """REDIS_URL answers, and (REDIS_DURABILITY=strict) keeps every write on disk before answering it."""
    if not settings.redis_url:
        return
    from storage.redis import connect, durability_problem, ping

    redis = connect(settings.redis_url)
    try:
        try:
            await ping(redis)
        except Exception as exc:
            raise ConfigError(f"configuration error: REDIS_URL: cannot reach Redis ({type(exc).__name__})") from None
        if settings.redis_durability == "strict":
            problem = await durability_problem(redis)
            if problem:
                raise ConfigError(f"configuration error: REDIS_URL: {problem}")
    finally:
        await redis.aclose()


async def run_server(settings: Settings) -> None:
    await check_redis(settings)
    if warning := scale_out_warning(settings):
        log.warning(warning)
    if settings.webhook_mode:
        from bot.webhook import serve

        await serve(settings)
    else:
        await run_polling(settings)


def main(argv: list[str], *, force_console: bool = False) -> int:
    try:
        settings = load_settings()
        check_database_path(settings)
        lock = claim_database_path(settings)  # noqa: F841 - held until the process ends
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if force_console or settings.console_mode:
        from bot.console import run_console

        try:
            return asyncio.run(run_console(settings))  # logs to a file: the terminal shows the conversation
        except KeyboardInterrupt:  # Ctrl-C ends the session like Ctrl-D
            return 0
    setup_logging(settings.log_level, settings.log_format)
    from bot.runtime import run
    from storage.backup import BackupError

    try:
        run(run_server(settings))  # on uvloop
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    except BackupError as exc:  # a restore holds the database
        print(f"error: {exc.key}: {exc}", file=sys.stderr)
        return 2
    return 0
