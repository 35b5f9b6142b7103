"""Reminder throughput against the fake Bot API, with a person chatting with the bot at the same time.

    python -m bench.reminders_bench [--count 10000] [--per-user 5] [--json]

A fresh SQLite file gets ``count`` due reminders (``count / per_user`` people, one tracked complaint each,
every reminder kind, all due). ``ReminderService.tick`` drains them through the real Sender against the
fake Bot API over loopback HTTP, with the fake enforcing Telegram's limits (30/s overall, 1/s per chat,
20/min per group). Meanwhile a real aiogram Dispatcher polls the same fake with an echo handler and
simulated people send it a message every ~0.5 s (three people taking turns, so no chat exceeds 1/s);
we measure push -> sendMessage reply latency.

Reported: reminder messages/s, the peak count of sends in any 1 s window (from the fake's call
timestamps), the number of 429s (must be 0), p50/p99 chat reply latency and the ratio of the achieved
rate to the 25/s target. The fake runs in the same process and event loop, so it competes for the CPU.
Times on these machines drift ±30-50%: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

TARGET_PER_SECOND = 25.0
TZ = ZoneInfo("Asia/Almaty")
REGISTERED = date(2026, 3, 18)
# Forwarded + extended cases: forwarding 26.03, notice 01.04, soon 08.04, today 09.04, missed 10.04 (10:00).
PLANNED_AT = datetime(2026, 3, 18, 12, 0, tzinfo=TZ)
RUN_AT = datetime(2026, 4, 10, 11, 0, tzinfo=TZ)
CHAT_USERS = (900_000_001, 900_000_002, 900_000_003)


def _peak(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while t - times[j] >= window:
            j += 1
        best = max(best, i - j + 1)
    return best


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))
    return values[k]


async def _fill(db, users_repo, cases, planner, n_users: int) -> None:
    from storage.db import iso

    now = iso(datetime.now(timezone.utc))
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO users (id, language, language_source, first_name, created_at, updated_at)"
            " VALUES (?, ?, 'choice', 'U', ?, ?)",
            [(1_000_000 + i, "kk" if i % 2 else "ru", now, now) for i in range(n_users)],
        )
    for i in range(n_users):
        case = await cases.create(1_000_000 + i, "provider", REGISTERED, filed_with="ЦОН", reg_number=f"N{i}",
                                  forwarded_via_provider=True)
        await cases.set_extension(case.id, 5, date(2026, 3, 27))
        await planner.replan(case.id)


async def _run(count: int, per_user: int = 5, chat_interval: float = 0.5, quiet: bool = False) -> dict:
    from aiogram import Dispatcher, Router
    from aiogram.types import Message

    from bot.config import Settings
    from bot.domain.clock import FakeClock
    from bot.domain.workdays import default_calendar
    from bot.services.cases import CaseService
    from bot.services.i18n import build_i18n
    from bot.services.reminders import ReminderService
    from bot.services.sender import Sender
    from storage.calendar import CalendarRepo
    from storage.cases import CasesRepo, RemindersRepo
    from storage.db import Database
    from storage.users import UsersRepo
    from tests.fakeapi import polling, running_fake

    def say(*a) -> None:
        if not quiet:
            print(*a, file=sys.stderr, flush=True)

    n_users = max(1, count // per_user)
    cal = default_calendar()
    i18n = build_i18n()
    clock = FakeClock(PLANNED_AT)
    settings = Settings(_env_file=None)
    with tempfile.TemporaryDirectory() as tmp:
        db = await Database.open(Path(tmp) / "bench.sqlite3")
        try:
            async with running_fake(rate_limit_per_second=30, per_chat_limit=True, per_group_limit=True) as fake:
                bot = fake.make_bot()
                sender = Sender(bot)
                users, cases, reminders = UsersRepo(db), CasesRepo(db), RemindersRepo(db)
                service = ReminderService(users, cases, reminders, sender, i18n, clock, settings, lambda: cal)
                calendars = CalendarRepo(db)
                await calendars.load()  # the bundled calendar: the same days as ``cal``
                planner = CaseService(cases, reminders, users, calendars, clock, settings)
                t_fill = time.monotonic()
                await _fill(db, users, cases, planner, n_users)
                for i in range(n_users):
                    fake.user(1_000_000 + i)
                due_total = (await reminders.count_by_status()).get("pending", 0)
                say(f"filled {due_total} reminders for {n_users} people in {time.monotonic() - t_fill:.1f}s")
                clock.set(RUN_AT)

                router = Router()

                @router.message()
                async def echo(message: Message) -> None:
                    await message.answer(f"echo: {message.text}")

                dp = Dispatcher()
                dp.include_router(router)
                chatters = [fake.user(uid, "Chat", language_code="ru") for uid in CHAT_USERS]
                pings: list[tuple[str, float]] = []
                stop = asyncio.Event()

                async def chat() -> None:
                    i = 0
                    while not stop.is_set():
                        text = f"ping {i}"
                        pings.append((text, time.monotonic()))
                        await chatters[i % len(chatters)].send(text)
                        i += 1
                        try:
                            await asyncio.wait_for(stop.wait(), chat_interval)
                        except asyncio.TimeoutError:
                            pass

                async with polling(dp, bot, fake=fake):
                    chat_task = asyncio.create_task(chat())
                    await asyncio.sleep(1.0)  # the chat runs alone for a second first
                    await service.recover()
                    t0 = time.monotonic()
                    progress = asyncio.create_task(_progress(fake, due_total, t0, say))
                    sent = 0
                    while True:
                        n = await service.tick()
                        sent += n
                        if n == 0:
                            break
                    elapsed = time.monotonic() - t0
                    progress.cancel()
                    stop.set()
                    await chat_task
                    await fake.idle(timeout=10)

                calls = [c for c in fake.calls_of("sendMessage") if c.ok]
                chat_ids = set(CHAT_USERS)
                rem_times = [c.at for c in calls if c.params.get("chat_id") not in chat_ids]
                replies = {c.params.get("text"): c.at for c in calls if c.params.get("chat_id") in chat_ids}
                latencies = [(replies[f"echo: {t}"] - t0p) * 1000 for t, t0p in pings if f"echo: {t}" in replies]
                span = (max(rem_times) - min(rem_times)) if len(rem_times) > 1 else float("nan")
                rate = (len(rem_times) - 1) / span if len(rem_times) > 1 and span > 0 else float("nan")
                statuses = await reminders.count_by_status()
                result = {
                    "count": count,
                    "people": n_users,
                    "sent": sent,
                    "delivered_ok": len(rem_times),
                    "statuses": statuses,
                    "seconds": round(elapsed, 2),
                    "messages_per_second": round(rate, 2),
                    "ratio_vs_target_25": round(rate / TARGET_PER_SECOND, 3),
                    "peak_any_1s_all_sends": _peak([c.at for c in calls]),
                    "peak_any_1s_reminders": _peak(rem_times),
                    "count_429": fake.count_429,
                    "chat_pings": len(pings),
                    "chat_replies": len(latencies),
                    "chat_p50_ms": round(statistics.median(latencies), 1) if latencies else None,
                    "chat_p99_ms": round(_pct(latencies, 0.99), 1) if latencies else None,
                    "chat_max_ms": round(max(latencies), 1) if latencies else None,
                    "sender_stats": dict(sender.stats),
                }
        finally:
            await db.close()
    return result


async def _progress(fake, total: int, t0: float, say) -> None:
    while True:
        await asyncio.sleep(10)
        n = sum(1 for c in fake.calls_of("sendMessage") if c.ok and c.params.get("chat_id") not in CHAT_USERS)
        say(f"  {n}/{total} sent after {time.monotonic() - t0:.0f}s, 429s: {fake.count_429}")


def run(count: int = 10_000, *, per_user: int = 5, chat_interval: float = 0.5, quiet: bool = True) -> dict:
    """Run the benchmark in a fresh event loop; returns the figures as a dict."""
    return asyncio.run(_run(count, per_user=per_user, chat_interval=chat_interval, quiet=quiet))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--per-user", type=int, default=5)
    parser.add_argument("--chat-interval", type=float, default=0.5)
    parser.add_argument("--json", action="store_true", help="print the result as JSON only")
    args = parser.parse_args(argv)
    result = run(args.count, per_user=args.per_user, chat_interval=args.chat_interval, quiet=args.json)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")
        print("OK: no 429" if result["count_429"] == 0 else "FAIL: 429s seen")
    return 0 if result["count_429"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
