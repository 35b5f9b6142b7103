"""Scale-out figures (issue 15): webhook mode with two instances against one, a wizard step on PostgreSQL +
Redis against SQLite, ratios from one run.

    python -m bench scaleout [--part webhook|step|wave] [--people 300] [--reminders 10000] [--repeats 1] [--json]

Servers: PostgreSQL and Redis from ``scripts/services.py`` (``python3 scripts/services.py start``); every
run gets a fresh PostgreSQL database and a flushed Redis db.

webhook   The bot as separate processes (``python -m bot run`` in webhook mode, REDIS_URL, DATABASE_URL), one
          and then two instances; this process runs the fake Bot API and delivers updates by webhook POST
          (tests/fake_webhook.py: at most 40 in flight as Telegram's default ``max_connections``, a chat's
          updates in order, retried on non-2xx), spread at random over the instances. Load: ``people``
          people, each "/start" then four questions typed as free text (held-out FAQ queries), all queued at
          once. updates/s = updates / (last 2xx - first POST); ratio two / one. CPU: this machine's cores
          are shared by the fake, the deliverer and the instances: the ratio is bounded by what is free.
step      One instance in this process (create_app + the webhook server), people walking the wizard's first
          nine steps through webhook POSTs, one step at a time; the time of a step = the update queued in the
          fake until the next question is there. SQLite (the embedded default) against PostgreSQL + Redis.
wave      (by name only: 10,000 take ~7 minutes) Two instances (two Apps in this process: their own
          PostgreSQL pools, Redis clients, Senders and reminder leases) drain one wave of due reminders
          against the fake (a process of its own: tests/fake_server.py) enforcing 30/s overall and 1/s per chat; rate = delivered / (last - first send),
          against the shared budget of 25/s (RedisRateLimits' default, under Telegram's 30).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret_1"
EVAL = ROOT / "bench" / "faq_eval.jsonl"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(q * len(values) + 0.999999) - 1))]


def servers() -> dict[str, str]:
    from scripts import services

    data = services.State(services.state_dir()).load()
    if not (data.get("pg_port") and data.get("redis_port")):
        raise SystemExit("bench scaleout: start PostgreSQL and Redis first: python3 scripts/services.py start")
    return services.urls(data)


@asynccontextmanager
async def fresh_backends() -> AsyncIterator[dict[str, str]]:
    """A new PostgreSQL database and a flushed Redis db for one run."""
    from redis.asyncio import Redis

    from tests.services import PG_SERVER_URL, REDIS_SERVER_URL, fresh_pg_database

    if not (PG_SERVER_URL and REDIS_SERVER_URL):
        raise SystemExit("bench scaleout: start PostgreSQL and Redis first: python3 scripts/services.py start")
    redis = Redis.from_url(REDIS_SERVER_URL)
    await redis.flushdb()
    try:
        async with fresh_pg_database() as pg_url:
            yield {"DATABASE_URL": pg_url, "REDIS_URL": REDIS_SERVER_URL} if has_postgres() else \
                {"REDIS_URL": REDIS_SERVER_URL}
    finally:
        await redis.flushdb()
        await redis.aclose()


def has_postgres() -> bool:
    """Whether this checkout has the PostgreSQL backend (DATABASE_URL)."""
    from bot.config import Settings

    return "database_url" in Settings.model_fields


def questions() -> dict[str, list[str]]:
    rows = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {lang: [r["q"] for r in rows if r["lang"] == lang and r["split"] == "test"] for lang in ("kk", "ru")}


# ------------------------------------------------------------------------------------------ webhook

async def wait_ready(port: int, proc: asyncio.subprocess.Process, log: Path) -> None:
    import aiohttp

    deadline = time.monotonic() + 120
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"an instance exited ({proc.returncode}); see {log}")
            try:
                async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"an instance did not become ready; see {log}")


async def webhook_run(instances: int, people: int, folder: Path, seed: int) -> dict:
    from scripts.services import free_port
    from tests.fake_webhook import WebhookDeliverer
    from tests.fakeapi import FakeBotAPI

    asked = questions()
    rng = random.Random(seed)
    fake = FakeBotAPI()
    await fake.start()
    procs: list[asyncio.subprocess.Process] = []
    logs: list[Path] = []
    try:
        async with fresh_backends() as urls:
            ports = [free_port() for _ in range(instances)]
            env = {**os.environ, **urls, "BOT_TOKEN": fake.token, "TELEGRAM_API_BASE": fake.base_url,
                   "WEBHOOK_URL": "http://127.0.0.1/telegram", "WEBHOOK_SECRET": SECRET,
                   "REDIS_DURABILITY": "relaxed", "LOG_LEVEL": "WARNING", "OPERATORS_CHAT_ID": "",
                   "PYTHONPATH": str(ROOT)}
            for i, port in enumerate(ports):
                logs.append(folder / f"instance-{instances}-{i}.log")
                out = open(logs[-1], "wb")  # noqa: SIM115  # the child keeps it
                procs.append(await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot", "run", cwd=ROOT, stdout=out, stderr=out,
                    env={**env, "WEBHOOK_LISTEN": f"127.0.0.1:{port}", "DATABASE_PATH": str(folder / f"{i}.db")}))
            for port, proc, log in zip(ports, procs, logs, strict=True):
                await wait_ready(port, proc, log)
            fake.webhook = {"url": f"http://127.0.0.1:{ports[0]}/telegram", "secret_token": SECRET,
                            "max_connections": 40}
            users = [fake.user(700_000 + i, language_code="kk" if i % 2 else "ru") for i in range(people)]
            hooks = WebhookDeliverer(fake, urls=[f"http://127.0.0.1:{p}/telegram" for p in ports],
                                     retry_delays=(0.05, 0.2), timeout=60, seed=seed)
            for user in users:  # queued before the deliverer starts: the burst
                await user.send("/start")
                for q in rng.sample(asked[user.language_code or "ru"], 4):
                    await user.send(q)
            n = len(fake._updates)
            t0 = time.monotonic()
            async with hooks:
                await hooks.wait_delivered(timeout=1800)
            seconds = max(d.finished or 0 for d in hooks.deliveries) - t0
            await fake.idle(timeout=60)
            answered = sum(1 for u in users if len(u.messages) >= 5)
            return {"instances": instances, "database": "postgresql" if has_postgres() else "sqlite, one per instance",
                    "updates": n, "seconds": round(seconds, 2),
                    "updates_per_s": round(n / seconds, 1),
                    "failed_posts": sum(1 for d in hooks.deliveries if not d.ok),
                    "people_answered_5_times": answered, "people": people}
    finally:
        from tests.fake_server import stop_process

        await asyncio.gather(*(stop_process(proc, signal.SIGTERM, grace=60) for proc in procs))
        await fake.stop()


# ------------------------------------------------------------------------------------------ step

async def step_run(backend: str, people: int, folder: Path) -> dict:
    from tests import harness
    from tests.fake_webhook import WebhookDeliverer
    from tests.fakeapi import running_fake
    from tests.test_scaleout import SCRIPT, Person

    async def walk(person: Any, times: list[float]) -> None:
        for what in SCRIPT:
            t = time.monotonic()
            await person.step(what)
            times.append(time.monotonic() - t)

    async with running_fake() as fake:
        async with (fresh_backends() if backend != "sqlite" else _nothing()) as urls:
            overrides = {k.lower(): v for k, v in (urls or {}).items()}
            if overrides:
                overrides["redis_durability"] = "relaxed"
            async with harness.webhook_instance(fake, folder / f"{backend}.sqlite3", **overrides) as server:
                harness.register_webhook(fake, server.url)
                async with WebhookDeliverer(fake, retry_delays=(0.05,), timeout=60):
                    times: list[float] = []
                    sem = asyncio.Semaphore(1)  # one step at a time: its latency, not a queue's

                    async def one(i: int) -> None:
                        async with sem:
                            person = Person(fake, fake.user(800_000 + i, language_code="ru"))
                            person.poll = 0.001  # one person at a time: a fine clock costs little
                            await walk(person, times)

                    t0 = time.monotonic()
                    await asyncio.gather(*(one(i) for i in range(people)))
                    seconds = time.monotonic() - t0
    ms = [t * 1000 for t in times]
    if backend != "sqlite" and not has_postgres():
        backend = "sqlite+redis"
    return {"backend": backend, "steps": len(ms), "p50_ms": round(pct(ms, 0.5), 2), "p99_ms": round(pct(ms, 0.99), 2),
            "mean_ms": round(statistics.mean(ms), 2), "steps_per_s": round(len(ms) / seconds, 1)}


@asynccontextmanager
async def _nothing() -> AsyncIterator[None]:
    yield None


# ------------------------------------------------------------------------------------------ wave

async def seed_wave(app: Any, people: int, first_uid: int) -> int:
    """People with one tracked complaint each (forwarded, extended: every reminder kind), planned at
    bench.reminders_bench.PLANNED_AT through the app's own repositories; returns the reminders due at RUN_AT.
    (The fake Bot API must know the people: ids first_uid, first_uid + 1, ...)"""
    from bench.reminders_bench import REGISTERED

    for i in range(people):
        uid = first_uid + i
        await app.repos.users.seen(uid, "U", "kk" if i % 2 else "ru")
        case = await app.repos.cases.create(uid, "provider", REGISTERED, filed_with="ЦОН", reg_number=f"N{i}",
                                            forwarded_via_provider=True)
        await app.repos.cases.set_extension(case.id, 5, REGISTERED.replace(day=27))
        await app.cases.replan(case.id)
    return int((await app.repos.reminders.count_by_status()).get("pending", 0))


async def wave_run(count: int, per_user: int = 5) -> dict:
    """Two instances (two Apps: their own database pools, Redis clients, Senders and leases) drain one wave of
    ``count`` due reminders against a fake enforcing Telegram's limits, in a process of its own (in this
    process's event loop its clock was bunched by the instances' work: it saw 30 in a second the limiter had
    spaced to 26, and answered 429)."""
    from bench.reminders_bench import PLANNED_AT, RUN_AT, TARGET_PER_SECOND, _peak
    from bot.app import create_app
    from bot.domain.clock import FakeClock
    from tests.fake_server import FakeServerProcess
    from tests.harness import settings_for

    people = max(1, count // per_user)
    first_uid = 2_000_000
    with tempfile.TemporaryDirectory(prefix="shagym-wave-") as tmp:
        async with fresh_backends() as urls, FakeServerProcess(Path(tmp), rate_limit=30) as fake:
            await fake.users(list(range(first_uid, first_uid + people)))
            clock = FakeClock(PLANNED_AT)
            overrides = {k.lower(): v for k, v in urls.items()}
            apps = [await create_app(settings_for(fake, Path(tmp) / f"{n}.sqlite3",  # type: ignore[arg-type]
                                                  redis_durability="relaxed", **overrides),
                                     clock=clock, session=fake.make_session())
                    for n in ("a", "b")]
            try:
                first = apps[0]
                due = await seed_wave(first, people, first_uid)
                clock.set(RUN_AT)
                t0 = time.monotonic()
                sent = await asyncio.gather(*(app.reminders.tick() for app in apps))
                elapsed = time.monotonic() - t0
                left = await first.repos.reminders.count_by_status()
            finally:
                for app in apps:
                    await app.close()
            calls = await fake.sends()  # [at, chat_id, text, status]
        times = sorted(at for at, _chat, _text, status in calls if status == 200)
        # a 429 is the chat's own limit when that chat had a message accepted in the second before it
        by_chat: dict[Any, list[float]] = {}
        for at, chat, _text, status in calls:
            if status == 200:
                by_chat.setdefault(chat, []).append(at)
        refused = [(at, chat) for at, chat, _text, status in calls if status == 429]
        per_chat_429 = sum(1 for at, chat in refused if any(0 <= at - t < 1.0 for t in by_chat.get(chat, [])))
        rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
        return {"reminders": due, "people": people, "sent_by_instance": sent, "delivered": len(times),
                "seconds": round(elapsed, 1), "per_s": round(rate, 2),
                "ratio_vs_25": round(rate / TARGET_PER_SECOND, 3), "peak_any_1s": _peak(times),
                "count_429": len(refused), "count_429_per_chat": per_chat_429, "left": left,
                "database": "postgresql" if has_postgres() else "sqlite, one per instance"}


# ------------------------------------------------------------------------------------------ main

async def run(parts: list[str], people: int, repeats: int, reminders: int) -> dict:
    result: dict[str, Any] = {}
    if "wave" in parts:
        result["wave"] = [await wave_run(reminders) for _ in range(repeats)]
    with tempfile.TemporaryDirectory(prefix="shagym-scaleout-") as tmp:
        folder = Path(tmp)
        if "webhook" in parts:
            runs = []
            for r in range(repeats):
                order = (1, 2) if r % 2 == 0 else (2, 1)
                got = {n: await webhook_run(n, people, folder, seed=r) for n in order}
                runs.append({"one": got[1], "two": got[2],
                             "ratio": round(got[2]["updates_per_s"] / got[1]["updates_per_s"], 2)})
            result["webhook"] = runs
        if "step" in parts:
            runs = []
            for r in range(repeats):
                order = ("sqlite", "pg+redis") if r % 2 == 0 else ("pg+redis", "sqlite")
                got = {b: await step_run(b, max(10, people // 10), folder) for b in order}
                runs.append({"sqlite": got["sqlite"], "pg_redis": got["pg+redis"],
                             "ratio_p50": round(got["pg+redis"]["p50_ms"] / got["sqlite"]["p50_ms"], 2)})
            result["step"] = runs
    return result


def report(result: dict) -> str:
    lines = []
    for r in result.get("webhook", []):
        lines.append(f"webhook updates/s: one {r['one']['updates_per_s']}, two {r['two']['updates_per_s']} "
                     f"-> two/one {r['ratio']} ({r['one']['updates']} updates; failed POSTs "
                     f"{r['one']['failed_posts']}/{r['two']['failed_posts']})")
    for r in result.get("step", []):
        lines.append(f"wizard step p50: SQLite {r['sqlite']['p50_ms']} ms, {r['pg_redis']['backend']} {r['pg_redis']['p50_ms']} "
                     f"ms -> {r['ratio_p50']} (p99 {r['sqlite']['p99_ms']} / {r['pg_redis']['p99_ms']} ms)")
    for r in result.get("wave", []):
        lines.append(f"reminder wave, two instances: {r['delivered']} of {r['reminders']} in {r['seconds']} s = "
                     f"{r['per_s']}/s -> {r['ratio_vs_25']} of 25/s; peak {r['peak_any_1s']} in any second; "
                     f"429s {r['count_429']} ({r['count_429_per_chat']} a chat's); by instance {r['sent_by_instance']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench scaleout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", action="append", dest="parts", default=[], choices=["webhook", "step", "wave"],
                        help="only this part (repeatable; default: webhook and step)")
    parser.add_argument("--reminders", type=int, default=10_000, help="the wave's size (part wave)")
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    servers()
    result = asyncio.run(run(args.parts or ["webhook", "step"], args.people, args.repeats, args.reminders))
    print(json.dumps(result, indent=1, ensure_ascii=False) if args.json else report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
