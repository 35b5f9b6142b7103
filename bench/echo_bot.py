"""The e2e benchmark's baseline: a bare aiogram echo bot, polled the way ``python -m bot`` polls.

    BOT_TOKEN=... TELEGRAM_API_BASE=http://127.0.0.1:PORT python -m bench.echo_bot

The same session (AiohttpSession through TelegramAPIServer.from_base), the same bot defaults (HTML parse mode,
no link previews), the same ``start_polling`` call (allowed updates from the dispatcher, signal handling) and
the same process tuning (bot.runtime.tune_gc) as bot/run.py; no storage beyond aiogram's default
MemoryStorage, no middleware; the same Telegram I/O per update as the bot: one sendMessage (a text is echoed),
and for a button answerCallbackQuery first (Telegram shows a spinner until a query is answered), then its data
sent back.

By default the echo bot is bare: asyncio's own event loop, aiogram's session (a form per request, the
standard library's JSON). With ``ECHO_RUNTIME=bot`` (``python -m bench e2e --echo-runtime bot``) it runs on
the bot's event loop and session instead (bot/runtime.py: uvloop; bot/session.py: a JSON body by orjson), to
tell what the bot's own work costs apart from what its runtime saves.
"""

from __future__ import annotations

import asyncio
import logging
import os

from aiogram import Bot, Dispatcher, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, Message

from bot import runtime
from bot.runtime import tune_gc
from bot.session import JsonBodySession

SAME_RUNTIME = os.environ.get("ECHO_RUNTIME", "bare") == "bot"

router = Router()


@router.message()
async def echo(message: Message) -> None:
    await message.answer(message.text or "?")


@router.callback_query()
async def echo_button(query: CallbackQuery, bot: Bot) -> None:
    await query.answer()
    await bot.send_message(query.from_user.id, query.data or "?")


async def main() -> None:
    bot = Bot(
        token=os.environ["BOT_TOKEN"],
        session=(JsonBodySession if SAME_RUNTIME else AiohttpSession)(
            api=TelegramAPIServer.from_base(os.environ["TELEGRAM_API_BASE"])),
        default=DefaultBotProperties(parse_mode="HTML", link_preview_is_disabled=True),
    )
    dp = Dispatcher()
    dp.include_router(router)
    tune_gc()
    await dp.start_polling(bot, allowed_updates=dp.resolve_used_update_types())


if __name__ == "__main__":
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    try:
        runtime.run(main()) if SAME_RUNTIME else asyncio.run(main())
    except KeyboardInterrupt:
        pass
