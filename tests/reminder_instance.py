"""One bot instance's reminder loop as its own process, for tests/test_reminder_instances.py:

    python -m tests.reminder_instance DATABASE_URL BOT_API_BASE TOKEN LEASE_SECONDS

It ticks every 0.1 s against PostgreSQL and the fake Bot API (reachable over loopback HTTP), sending within
its Sender's limits, until it is killed. It prints ``READY <holder>`` (its name on the rows it leases)."""

from __future__ import annotations

import asyncio
import sys
from datetime import time, timedelta

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.config import Settings
from bot.domain.clock import Clock
from bot.services.i18n import build_i18n
from bot.services.reminders import ReminderService
from bot.services.sender import Sender
from tests.backends import open_stores


async def main(url: str, base: str, token: str, lease: float) -> None:
    clock = Clock()
    stores = await open_stores("pg", url, clock)
    bot = Bot(token=token, session=AiohttpSession(api=TelegramAPIServer.from_base(base)))
    sender = Sender(bot, global_per_second=150, global_burst=5)
    settings = Settings(_env_file=None, default_language="ru", quiet_hours_start=time(0, 0),
                        quiet_hours_end=time(0, 0))  # no quiet hours: the test runs at any time of day
    service = ReminderService(stores.users, stores.cases, stores.reminders, sender, build_i18n(), clock, settings,
                              calendar=lambda: stores.calendars.calendar, lease=timedelta(seconds=lease))
    print("READY", stores.reminders.holder, flush=True)
    while True:
        await service.tick()
        await asyncio.sleep(0.1)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))
