"""Acceptance (issue 15, 1) as one run: two real instances (``python -m bot run``, webhook mode), one
PostgreSQL, one Redis (the shared limiter), 2,000 due reminders for 1,000 people, and the fake Bot API in a
process of its own (tests/fake_server.py) enforcing 30 messages/s overall and 1/s per chat (429 with
``retry_after`` beyond). One instance is SIGKILLed when a random number of reminders has gone out, and
started again (a new instance). Counted on the fake's side, from its own clock: every reminder delivered;
both instances sent some; the killed instance's leased rows went out only after their lease; no 429; at most
30 in any one-second window.

Exactly once, except the one-request window (storage/cases.py): a message Telegram accepted in the
milliseconds before the kill, whose 'sent' mark never committed, goes out again after the lease. The test
allows a repeat only for a row the killed instance had marked as leaving (``sending_at``: its request may have
reached the fake) and whose first copy arrived before the kill; every other reminder arrives exactly once.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import aiohttp

from bench.reminders_bench import _peak
from bot.domain.clock import Clock
from scripts.services import free_port
from tests.backends import open_stores
from tests.fake_server import FakeServerProcess, stop_process
from tests.harness import WEBHOOK_SECRET

ROOT = Path(__file__).resolve().parent.parent
PEOPLE = range(800_001, 801_001)
LEASE = 4.0  # seconds (SEND_LEASE_SECONDS): short, so the killed instance's rows wait little
TIMEOUT = 240.0  # the wave: 2,000 at 25/s is 80 s; generous, the machine is shared


async def start_instance(fake: FakeServerProcess, pg_url: str, redis_url: str, tmp: Path) -> asyncio.subprocess.Process:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BOT_TOKEN": fake.token, "TELEGRAM_API_BASE": fake.base_url,
           "DATABASE_URL": pg_url, "REDIS_URL": redis_url, "REDIS_DURABILITY": "relaxed",
           "WEBHOOK_URL": "http://127.0.0.1/telegram/webhook", "WEBHOOK_SECRET": WEBHOOK_SECRET,
           "WEBHOOK_LISTEN": f"127.0.0.1:{port}", "DATABASE_PATH": str(tmp / "unused.sqlite3"),
           "OPERATORS_CHAT_ID": "", "LOG_LEVEL": "WARNING", "REMINDER_INTERVAL_SECONDS": "0.5",
           "SEND_LEASE_SECONDS": str(LEASE), "QUIET_HOURS_START": "00:00", "QUIET_HOURS_END": "00:00"}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", cwd=ROOT, env=env,
                                                stdout=asyncio.subprocess.DEVNULL)
    async with aiohttp.ClientSession() as http:
        for _ in range(1200):
            assert proc.returncode is None, f"the instance exited with {proc.returncode}"
            try:
                async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
                    if resp.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the instance never became ready")


def holder_pid(holder: str) -> int:
    return int(holder.split(":")[-2])  # storage/leases.py: host:pid:tag


async def test_two_instances_one_killed_mid_wave_send_every_reminder_once_within_the_limits(pg_url, redis_url,
                                                                                           tmp_path):
    clock = Clock()
    stores = await open_stores("pg", pg_url, clock)
    fake = FakeServerProcess(tmp_path, rate_limit=30)
    procs: list[asyncio.subprocess.Process] = []
    kill_after = random.randint(200, 1600)  # sends the fake accepted: anywhere in the wave
    try:
        await fake.__aenter__()
        await fake.users(list(PEOPLE))
        due = clock.now() - timedelta(minutes=1)
        for uid in PEOPLE:
            await stores.users.seen(uid, "Test", "ru")
            for n in (1, 2):
                await stores.reminders.add(chat_id=uid, user_id=uid, audience="citizen", kind="custom", due_at=due,
                                           payload={"text": f"R {uid} {n}"})
        a = await start_instance(fake, pg_url, redis_url, tmp_path)
        b = await start_instance(fake, pg_url, redis_url, tmp_path)
        procs += [a, b]
        while (await fake.stats())["send_message_ok"] < kill_after:
            await asyncio.sleep(0.02)
        a.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()  # the system's monotonic clock, the fake's too
        await a.wait()
        wall = time.time() - time.monotonic()  # monotonic -> wall (the instances' clock, the lease's)
        held = await stores.db.fetchall(
            "SELECT payload ->> 'text' AS text, claimed_at, sending_at FROM reminders WHERE status = 'sending'"
            " AND split_part(claimed_by, ':', 2) = $1", str(a.pid))
        leaving = {r["text"] for r in held if r["sending_at"] is not None}  # its request may have gone out
        procs.append(await start_instance(fake, pg_url, redis_url, tmp_path))  # A again: a new instance
        deadline = time.monotonic() + TIMEOUT
        while (await stores.reminders.count_by_status()) != {"sent": 2000}:
            assert time.monotonic() < deadline, await stores.reminders.count_by_status()
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.0)  # nothing more arrives
        sends = await fake.sends()
        stats = await fake.stats()
        by_pid = Counter(holder_pid(r["claimed_by"]) for r in await stores.db.fetchall(
            "SELECT claimed_by FROM reminders WHERE status = 'sent'"))
    finally:
        for p in procs:
            await stop_process(p, signal.SIGTERM, grace=30)
        await fake.__aexit__(None, None, None)
        await stores.close()

    accepted = [(at, text) for at, _chat, text, status in sends if status == 200]
    arrivals: defaultdict[str, list[float]] = defaultdict(list)
    for at, text in sorted(accepted):
        arrivals[text].append(at)
    assert set(arrivals) == {f"R {uid} {n}" for uid in PEOPLE for n in (1, 2)}  # every reminder delivered
    refused = [(at, chat, sum(1 for t, _ in accepted if at - 1 < t <= at),
                [round(t - at, 3) for t, c, _, st in sends if c == chat and st == 200])
               for at, chat, _text, status in sends if status == 429]  # (at, chat, in the second before, chat's)
    assert stats["count_429"] == 0 and not refused, (killed_at, refused)  # never over Telegram's limits
    peak = _peak([at for at, _ in accepted])
    assert peak <= 30, peak
    assert by_pid[a.pid] > 0 and by_pid[b.pid] > 0 and sum(by_pid.values()) == 2000, by_pid  # both sent some
    assert held, f"the killed instance held no rows (killed after {kill_after})"
    for row in held:  # the killed instance's rows: delivered by another instance only after the lease ran out
        again = [at for at in arrivals[row["text"]] if at > killed_at + 0.5]
        assert again or row["text"] in leaving, row
        lease_end = row["claimed_at"].timestamp() + LEASE
        assert all(at + wall >= lease_end - 0.05 for at in again), (row, [at + wall - lease_end for at in again])
    repeats = {t: len(ats) for t, ats in arrivals.items() if len(ats) > 1}
    # A repeat only in the one-request window: a row marked as leaving when A died, its first copy before.
    assert all(n == 2 and t in leaving and arrivals[t][0] <= killed_at + 0.5 for t, n in repeats.items()), (
        repeats, leaving)
    rate = len(accepted) / (accepted[-1][0] - accepted[0][0])
    print(f"\nreminders: 2000 for 1000 people; killed A after {kill_after} accepted; sent by A {by_pid[a.pid]},"
          f" B {by_pid[b.pid]}, A restarted {2000 - by_pid[a.pid] - by_pid[b.pid]}; A held {len(held)} rows,"
          f" {len(leaving)} of them leaving; repeated {len(repeats)}; 429s 0; peak {peak}/s; {rate:.1f}/s overall")
