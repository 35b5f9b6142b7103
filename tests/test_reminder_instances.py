"""Acceptance (issue 15, the PostgreSQL half of 1): two instances, one PostgreSQL database, 2,000 due reminders
for 1,000 people; one instance is SIGKILLed mid-wave and started again. Every reminder goes out, both
instances sent some, the killed instance's leased rows go out once, after the lease.

Delivery is at-least-once (storage/cases.py): a message Telegram accepted in the milliseconds before the kill,
whose 'sent' mark never committed, goes out again after the lease. The test counts those and checks each one
is such a message (accepted before the kill, then claimed again); it allows no other repeat.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from bot.domain.clock import Clock
from tests.backends import open_stores
from tests.fakeapi import running_fake

ROOT = Path(__file__).resolve().parent.parent
PEOPLE = range(800_001, 801_001)
LEASE = 3.0


async def start(url: str, fake) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.reminder_instance", url, fake.base_url, fake.token, str(LEASE), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    word, holder = line.decode().split()
    assert word == "READY"
    return proc, holder


def accepted(fake) -> list:
    return [c for c in fake.calls_of("sendMessage") if c.ok]


async def test_two_instances_one_killed_mid_wave_every_reminder_goes_out(pg_url):
    clock = Clock()
    stores = await open_stores("pg", pg_url, clock)
    procs: list[asyncio.subprocess.Process] = []
    try:
        async with running_fake() as fake:
            due = clock.now() - timedelta(minutes=1)
            for uid in PEOPLE:
                fake.user(uid)
                await stores.users.seen(uid, "Test", "ru")
                for n in (1, 2):
                    await stores.reminders.add(chat_id=uid, user_id=uid, audience="citizen", kind="custom",
                                               due_at=due, payload={"text": f"R {uid} {n}"})
            a, holder_a = await start(pg_url, fake)
            b, holder_b = await start(pg_url, fake)
            procs += [a, b]
            while len(accepted(fake)) < 600:  # mid-wave
                await asyncio.sleep(0.01)
            a.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            await a.wait()
            before_kill = {c.params["text"] for c in accepted(fake)}
            held = [r for r in await stores.db.fetchall(
                "SELECT id, payload ->> 'text' AS text FROM reminders WHERE status = 'sending' AND claimed_by = $1",
                holder_a)]
            a2, holder_a2 = await start(pg_url, fake)  # the same instance started again: a new holder
            procs.append(a2)
            deadline = time.monotonic() + 180
            while (await stores.reminders.count_by_status()) != {"sent": 2000}:
                assert time.monotonic() < deadline, await stores.reminders.count_by_status()
                await asyncio.sleep(0.2)
            await asyncio.sleep(0.5)  # nothing more arrives
            calls = accepted(fake)
        texts = Counter(c.params["text"] for c in calls)
        assert set(texts) == {f"R {uid} {n}" for uid in PEOPLE for n in (1, 2)}  # every reminder went out
        by_holder = Counter(r["claimed_by"] for r in await stores.db.fetchall(
            "SELECT claimed_by FROM reminders WHERE status = 'sent'"))
        assert by_holder[holder_a] > 0 and by_holder[holder_b] > 0 and by_holder[holder_a] + by_holder[holder_b] \
            + by_holder[holder_a2] == 2000
        # The killed instance's leased rows: each sent once more at most, never before its lease ran out.
        assert held, "the killed instance held no rows (kill it earlier)"
        held_texts = {r["text"] for r in held}
        late = [c for c in calls if c.params["text"] in held_texts and c.at > killed_at - 1]
        after_kill = [c for c in late if c.params["text"] not in before_kill]
        assert after_kill and min(c.at for c in after_kill) >= killed_at + LEASE - 0.5
        repeats = {t: n for t, n in texts.items() if n > 1}
        # A repeat is only a message accepted before the kill whose 'sent' mark the kill prevented.
        assert all(n == 2 and t in held_texts and t in before_kill for t, n in repeats.items()), repeats
        print(f"\nreminders: 2000 for 1000 people; sent by A {by_holder[holder_a]}, B {by_holder[holder_b]}, "
              f"A restarted {by_holder[holder_a2]}; A held {len(held)} when killed; repeated {len(repeats)} "
              f"(accepted in the kill's window)")
    finally:
        for p in procs:
            if p.returncode is None:
                p.send_signal(signal.SIGKILL)
                await p.wait()
        await stores.close()
