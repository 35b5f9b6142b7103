"""End to end: the real bot process and a bare aiogram echo bot, through the same loopback fake Bot API.

    python -m bench e2e [--kind mix|start|faq|wizard|button|my|all] [--repeats 3] [--rate 100] [--seconds 10]
                        [--burst 3000] [--echo-runtime bare|bot] [--keep] [--json]

This process runs the fake Bot API (tests/fakeapi.py's FakeBotAPI on 127.0.0.1, one per bot) and the load;
each bot under test is a separate process: ``python -m bot`` with BOT_TOKEN set and TELEGRAM_API_BASE pointing
at its fake (long polling, its SQLite file in a temporary folder), or ``python -m bench.echo_bot``. Both get
the same updates (bench/workload.py: every update from a person of its own, whom the bot's database already
knows), delivered by getUpdates, and both answer them with the same Telegram I/O per update kind (a message;
for a button, answerCallbackQuery and a message). Per repeat, both processes run at the same time and every
phase is measured for one bot right after the other (the order alternates between repeats):

1. warm-up: 200 updates at the offered rate;
2. latency: ``rate`` updates/s for ``seconds``; the latency of an update is from the moment it is queued in
   the fake to the moment the fake receives the bot's first sendMessage to that person; p50 and p99;
3. saturation: ``burst`` updates queued at once; updates/s = burst / (the bot's last request - the first
   queued), i.e. until the bot went quiet; CPU seconds of the bot process over the burst (utime + stime of
   /proc/<pid>/stat, all its threads) per update.

Figures are medians over the repeats, each ratio the median of the same-repeat ratios (bot / echo; all of
them in ``ratio_per_repeat``). ``cpu_share`` is the bot's share of one core during the burst (well under 1.0:
it waited, for the fake or for a core other processes held); ``fake_cpu`` the share of one core this process
used: near 1.0 the fake, not the bot, would be the bottleneck; ``load_average`` says how busy the machine
was. ``--echo-runtime bot`` runs the echo bot on the bot's event loop and
JSON codec (bot/runtime.py) instead of aiogram's defaults: the acceptance figure is against the bare echo bot
(the default), this one says how much of the difference is the bot's own work. ``--fake-capacity`` measures the fake alone: sendMessage calls per second from a client process, and the
fake's CPU per call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from bench import workload

ROOT = Path(__file__).resolve().parent.parent
BOTS = {"echo": ("-m", "bench.echo_bot"), "bot": ("-m", "bot")}
WARMUP = 200
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (every thread), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(q * len(values) + 0.999999) - 1))]


@dataclass
class Watch:
    """Follows the fake's record of calls: the first sendMessage to each person after their update."""

    fake: object
    pos: int = 0
    waiting: dict[int, float] = field(default_factory=dict)
    latency: dict[int, float] = field(default_factory=dict)
    last_request: float = 0.0
    requests: int = 0

    def expect(self, user_id: int, at: float) -> None:
        self.waiting[user_id] = at

    def scan(self) -> None:
        calls = self.fake.calls  # type: ignore[attr-defined]
        while self.pos < len(calls):
            call = calls[self.pos]
            self.pos += 1
            if call.method == "getUpdates":
                continue
            self.requests += 1
            self.last_request = max(self.last_request, call.at)
            if call.method == "sendMessage":
                chat = call.params.get("chat_id")
                queued = self.waiting.get(chat)
                if queued is not None and call.at >= queued:
                    self.latency[chat] = call.at - queued
                    del self.waiting[chat]

    async def settle(self, timeout: float, quiet: float = 0.3) -> None:
        """Until everyone expected got an answer and the bot sent nothing for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.scan()
            if not self.waiting and time.monotonic() - max(self.last_request, 0) >= quiet:
                return
            await asyncio.sleep(0.01)
        raise TimeoutError(f"{len(self.waiting)} updates not answered within {timeout:.0f} s")

    def failed(self) -> int:
        """The bot's requests the fake refused (4xx/5xx): a failing bot would look fast."""
        return sum(1 for c in self.fake.calls  # type: ignore[attr-defined]
                   if c.method != "getUpdates" and c.status not in (None, 200))


class Load:
    """Queues actions in the fake as the people themselves would (FakeUser.send / press_data)."""

    def __init__(self, fake, actions: list[workload.Action]) -> None:
        self.fake = fake
        for a in actions:
            fake.user(a.user_id, workload.gen.FIRST_NAMES[a.user_id % len(workload.gen.FIRST_NAMES)],
                      language_code=a.language)
        self.shown: dict[int, object] = {}

    async def show_prompts(self, actions: list[workload.Action]) -> None:
        """The bot message each button is pressed under, sent through the fake's own HTTP API beforehand."""
        import aiohttp

        url = f"{self.fake.base_url}/bot{self.fake.token}/sendMessage"
        sem = asyncio.Semaphore(32)
        async with aiohttp.ClientSession() as http:
            async def one(a: workload.Action) -> None:
                async with sem, http.post(url, json={"chat_id": a.user_id, "text": a.prompt,
                                                     "reply_markup": a.markup}) as resp:
                    assert resp.status == 200, await resp.text()
                self.shown[a.user_id] = self.fake.last_message(a.user_id)

            await asyncio.gather(*(one(a) for a in actions if a.data is not None))

    async def push(self, action: workload.Action, watch: Watch) -> None:
        user = self.fake.users[action.user_id]
        watch.expect(action.user_id, time.monotonic())
        if action.text is not None:
            await user.send(action.text)
        else:
            await user.press_data(action.data, self.shown[action.user_id])

    async def at_rate(self, actions: list[workload.Action], rate: float, watch: Watch) -> None:
        start = time.monotonic()
        for i, action in enumerate(actions):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.push(action, watch)


class Contender:
    """One bot under test: its own fake Bot API (this process), its people, its process (``python -m bot`` or
    the echo bot). Both contenders of a repeat run at the same time, so that the phases of one can be
    measured right after the same phase of the other: machines shared with other work change speed from
    minute to minute, and a ratio of two figures taken seconds apart is far steadier than of two taken a
    minute apart. The idle contender only waits in getUpdates (long polling) meanwhile."""

    def __init__(self, which: str, plan: dict[str, list[workload.Action]], template: Path, folder: Path,
                 echo_runtime: str = "bare") -> None:
        self.which, self.plan, self.template, self.folder = which, plan, template, folder
        self.echo_runtime = echo_runtime
        self.out: dict = {"bot": which}
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        from tests.fakeapi import FakeBotAPI

        self.fake = fake = FakeBotAPI()
        await fake.start()
        self.everyone = [a for phase in self.plan.values() for a in phase]
        self.load = Load(fake, self.everyone)
        await self.load.show_prompts(self.everyone)
        self.db = self.folder / "bot.sqlite3"
        if self.which == "bot":
            shutil.copyfile(self.template, self.db)
        env = {**os.environ, "BOT_TOKEN": fake.token, "TELEGRAM_API_BASE": fake.base_url,
               "DATABASE_PATH": str(self.db), "OPERATORS_CHAT_ID": "", "LOG_LEVEL": "INFO", "PYTHONPATH": str(ROOT),
               "ECHO_RUNTIME": self.echo_runtime}
        self.log = open(self.folder / f"{self.which}.log", "wb")
        self.spawned = time.monotonic()
        self.proc = await asyncio.create_subprocess_exec(sys.executable, *BOTS[self.which], cwd=self.folder,
                                                         env=env, stdout=self.log, stderr=self.log)
        self.watch = Watch(fake)

    async def polling(self) -> None:
        assert self.proc is not None
        while not self.fake.calls_of("getUpdates"):
            if self.proc.returncode is not None or time.monotonic() - self.spawned > 120:
                raise RuntimeError(f"{self.which} did not start polling; see {self.folder / (self.which + '.log')}")
            await asyncio.sleep(0.05)
        self.out["startup_s"] = round(time.monotonic() - self.spawned, 2)

    async def warmup(self, rate: float) -> None:
        await self.load.at_rate(self.plan["warmup"], rate, self.watch)
        await self.watch.settle(60)

    async def at_rate(self, rate: float) -> None:
        assert self.proc is not None
        watch = self.watch
        cpu0, t0 = cpu_seconds(self.proc.pid), time.monotonic()
        await self.load.at_rate(self.plan["latency"], rate, watch)
        await watch.settle(120)
        lat = [watch.latency[a.user_id] * 1000 for a in self.plan["latency"]]
        self.out.update(offered_per_s=rate, p50_ms=round(pct(lat, 0.5), 2), p99_ms=round(pct(lat, 0.99), 2),
                        cpu_ms_per_update_at_rate=round((cpu_seconds(self.proc.pid) - cpu0) * 1000 / len(lat), 3),
                        at_rate_s=round(time.monotonic() - t0, 1))

    async def burst(self) -> None:
        assert self.proc is not None
        watch = self.watch
        requests0, cpu0 = watch.requests, cpu_seconds(self.proc.pid)
        own0 = resource.getrusage(resource.RUSAGE_SELF)
        first = time.monotonic()
        for action in self.plan["burst"]:
            await self.load.push(action, watch)
        await watch.settle(600)
        own1 = resource.getrusage(resource.RUSAGE_SELF)
        seconds = watch.last_request - first
        n = len(self.plan["burst"])
        cpu = cpu_seconds(self.proc.pid) - cpu0
        self.out.update(saturation_per_s=round(n / seconds, 1), cpu_ms_per_update=round(cpu * 1000 / n, 3),
                        requests_per_update=round((watch.requests - requests0) / n, 2),
                        # the bot's share of one core while it was saturated: well under 1.0, it was waiting
                        # (for the fake, the disk, or a core other processes held)
                        cpu_share=round(cpu / seconds, 2),
                        fake_cpu=round((own1.ru_utime + own1.ru_stime - own0.ru_utime - own0.ru_stime) / seconds, 2),
                        failed_requests=watch.failed(), rss_mib=round(rss_mib(self.proc.pid), 1),
                        load_average=round(os.getloadavg()[0], 2))

    async def stop(self) -> dict:
        proc = self.proc
        try:
            if proc is not None:
                from tests.fake_server import stop_process

                await stop_process(proc, signal.SIGINT, grace=30)
        finally:
            if proc is not None:
                self.log.close()
            await self.fake.stop()
        out = self.out
        errors = [line for line in (self.folder / f"{self.which}.log").read_text(errors="replace").splitlines()
                  if " ERROR " in line or "Traceback" in line]
        out["errors_logged"] = len(errors)
        if errors:
            out["first_error"] = errors[0][:300]
        if self.which == "bot":  # the wizard steps really moved on (a wrong FSM key would send them to the FAQ)
            out["wizard_steps_not_done"] = len(workload.unfinished(self.db, self.everyone, bot_id=self.fake.bot_id))
        return out


async def run_repeat(order: tuple[str, ...], plan: dict[str, list[workload.Action]], template: Path, base: Path,
                     repeat: int, rate: float, echo_runtime: str = "bare") -> list[dict]:
    """Both bots started together; each phase (warm-up, the offered rate, the burst) measured for one bot
    right after the other, in ``order``."""
    contenders = []
    for which in order:
        folder = base / f"{which}-{repeat}"
        folder.mkdir()
        contenders.append(Contender(which, plan, template, folder, echo_runtime))
    try:
        for c in contenders:
            await c.start()
        for c in contenders:
            await c.polling()
        for c in contenders:
            await c.warmup(rate)
        for c in contenders:
            await c.at_rate(rate)
        for c in contenders:
            await c.burst()
    finally:
        results = []
        for c in contenders:
            if c.proc is not None or hasattr(c, "fake"):
                results.append(await c.stop())
    return results


def plan_for(kinds: dict[str, int], rate: float, seconds: float, burst: int) -> dict[str, list[workload.Action]]:
    wl = workload.Workload()
    used: dict[str, int] = {}
    return {"warmup": wl.schedule(kinds, WARMUP, used), "latency": wl.schedule(kinds, int(rate * seconds), used),
            "burst": wl.schedule(kinds, burst, used)}


def summarise(runs: list[dict]) -> dict:
    by = {b: [r for r in runs if r["bot"] == b] for b in BOTS}
    keys = ("saturation_per_s", "p50_ms", "p99_ms", "cpu_ms_per_update", "cpu_ms_per_update_at_rate",
            "requests_per_update", "cpu_share", "fake_cpu", "load_average", "startup_s", "rss_mib")
    med = {b: {k: round(statistics.median(r[k] for r in rs), 3) for k in keys} for b, rs in by.items()}
    pairs = list(zip(by["bot"], by["echo"], strict=False))
    figures = ("saturation_per_s", "p50_ms", "p99_ms", "cpu_ms_per_update", "cpu_ms_per_update_at_rate")
    per_repeat = {k: [round(b[k] / e[k], 3) for b, e in pairs] for k in figures}
    ratio = {k: round(statistics.median(v), 3) for k, v in per_repeat.items()}
    return {"median": med, "ratio_bot_to_echo": ratio, "ratio_per_repeat": per_repeat}


async def run(kind: str, repeats: int, rate: float, seconds: float, burst: int, keep: bool,
              say=lambda *a: None, echo_runtime: str = "bare") -> dict:
    kinds = dict(workload.MIX) if kind == "mix" else {kind: 1}
    plan = plan_for(kinds, rate, seconds, burst)
    base = Path(tempfile.mkdtemp(prefix="shagym-e2e-"))
    try:
        template = base / "template.sqlite3"
        from tests.fakeapi import DEFAULT_TOKEN

        seeded = workload.seed(template, workload.people_needed(a for p in plan.values() for a in p),
                               bot_id=int(DEFAULT_TOKEN.split(":")[0]), now=datetime.now(timezone.utc))
        say(f"{kind}: database with {seeded['people']} people; the bot's SQLite file: {base}/<run>/bot.sqlite3")
        runs = []
        for r in range(repeats):
            order = ("echo", "bot") if r % 2 == 0 else ("bot", "echo")
            for result in await run_repeat(order, plan, template, base, r + 1, rate, echo_runtime):
                result["repeat"] = r + 1
                say(json.dumps(result))
                runs.append(result)
                if not keep:
                    shutil.rmtree(base / f"{result['bot']}-{r + 1}")
        return {"kind": kind, "mix": kinds, "echo_runtime": echo_runtime, "repeats": repeats, "rate": rate, "latency_updates": int(rate * seconds),
                "burst": burst, "database": f"{base}/<bot>-<repeat>/bot.sqlite3" + ("" if keep else " (deleted)"),
                **summarise(runs), "runs": runs}
    finally:
        if not keep:
            shutil.rmtree(base, ignore_errors=True)


def report(result: dict) -> str:
    m, r = result["median"], result["ratio_bot_to_echo"]
    rows = [("saturation, updates/s", "saturation_per_s"), (f"p50 at {result['rate']:g}/s, ms", "p50_ms"),
            (f"p99 at {result['rate']:g}/s, ms", "p99_ms"), ("CPU per update (burst), ms", "cpu_ms_per_update"),
            (f"CPU per update at {result['rate']:g}/s, ms", "cpu_ms_per_update_at_rate"),
            ("requests per update", "requests_per_update"), ("bot's CPU share during the burst", "cpu_share"),
            ("fake's CPU share during the burst", "fake_cpu"), ("load average (1 min) after the burst", "load_average")]
    lines = [f"kind {result['kind']} (mix {result['mix']}), echo runtime {result['echo_runtime']}, "
             f"{result['repeats']} repeats, medians",
             "| figure | bot | echo | bot/echo |", "|---|---|---|---|"]
    for label, key in rows:
        lines.append(f"| {label} | {m['bot'][key]} | {m['echo'][key]} | {r.get(key, '')} |")
    lines.append("per repeat, bot/echo: " + "; ".join(
        f"{key} {' / '.join(str(x) for x in v)}" for key, v in result["ratio_per_repeat"].items()))
    return "\n".join(lines)


async def _hammer(url: str, n: int, concurrency: int) -> float:
    """The client of --fake-capacity (run in its own process): n sendMessage calls, ``concurrency`` at a time."""
    import aiohttp

    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as http:
        async def one(i: int) -> None:
            async with sem, http.post(url, json={"chat_id": 1000 + i % 100, "text": f"hello {i}"}) as resp:
                await resp.read()

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - started)


async def fake_capacity(n: int = 8000, concurrency: int = 32) -> dict:
    from tests.fakeapi import FakeBotAPI

    fake = FakeBotAPI()
    await fake.start()
    try:
        for i in range(100):
            fake.user(1000 + i)
        url = f"{fake.base_url}/bot{fake.token}/sendMessage"
        before = resource.getrusage(resource.RUSAGE_SELF)
        client = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.e2e", "--hammer", url, str(n), str(concurrency),
            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=asyncio.subprocess.PIPE)
        out, _ = await client.communicate()
        after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        await fake.stop()
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"client_calls_per_s": round(float(out), 0), "fake_cpu_ms_per_call": round(cpu * 1000 / n, 3),
            "fake_calls_per_cpu_second": round(n / cpu, 0)}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--hammer"]:
        print(asyncio.run(_hammer(argv[1], int(argv[2]), int(argv[3]))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", default="mix", choices=("mix", "all", *workload.KINDS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--burst", type=int, default=3000)
    parser.add_argument("--echo-runtime", choices=("bare", "bot"), default="bare",
                        help="the echo bot on aiogram's defaults (bare) or on the bot's loop and JSON codec")
    parser.add_argument("--keep", action="store_true", help="keep the databases and logs")
    parser.add_argument("--fake-capacity", action="store_true", help="measure the fake Bot API alone")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.fake_capacity:
        print(json.dumps(asyncio.run(fake_capacity())))
        return 0
    kinds = ("mix", *workload.KINDS) if args.kind == "all" else (args.kind,)
    say = (lambda *a: print(*a, file=sys.stderr, flush=True))
    results = []
    for kind in kinds:
        result = asyncio.run(run(kind, args.repeats, args.rate, args.seconds, args.burst, args.keep, say,
                                 args.echo_runtime))
        results.append(result)
        if not args.json:
            print(report(result), flush=True)
    if args.json:
        print(json.dumps(results if len(results) > 1 else results[0], indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
