"""The bot's per-person and per-tick operations on a big generated database, against a small one, same run.

    python -m bench scale [--small] [--repeats 3] [--cache-dir data/bench] [--ops my,answered,...] [--json]

Databases (bench/gen.py: the schema from storage/migrations, realistic rows, bulk-loaded with plain sqlite3):

    big    200,000 users, 1,000,000 complaints, 1,000,000 cases, 600,000 reminders   (--small: 2k/10k/10k/6k)
    small    2,000 users,    10,000 complaints,    10,000 cases,   6,000 reminders   (--small: 200/1k/1k/600)

Each file is generated once and cached in ``--cache-dir`` under a name made of its sizes, the generator's
version and the migrations' digest, so a rerun reuses it (a 1M database takes a few minutes to generate and ~2.5 GB).
Everything is measured on the bot's own objects: ``create_app`` on the file, with a clock fixed at ``NOW``
(the time the data was generated for). The measured operations are the table ``OPS`` below: each names the
call(s) the bot makes, the targets it is measured on and how the database is put back afterwards (not timed),
so a cached file stays what it was.

    my           the repository calls /my makes for one person (their cases, their complaints, their user row)
    answered     "answered" in /my: CaseService.answer (the status and the re-plan, one transaction)
    tick_claim   one reminder tick's claim: RemindersRepo.claim_due(now, 200) on the due wave
    calendar     what /calendar add does: CalendarRepo.add (a day off three working days ahead), then the
                 re-plan it runs in the background (CaseService.replan_for_day: the open cases the day can
                 move, in batches that yield), in full, timed, with other people's steps measured meanwhile.

While "answered" presses (one every 20 ms at most) and the calendar re-plan run, a probe plays other people:
every 5 ms someone new makes an FSM step (set_data, set_state, then the commit barrier every answer waits
for); its p50/p99 idle and meanwhile, and how many of those steps failed to commit. Also: the file size and the
bytes each complaint row takes (SQLite's dbstat).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Awaitable, Callable

from bench import gen
from bot.domain.cases import calendar_change_window

ROOT = Path(__file__).resolve().parent.parent
GENERATOR_VERSION = 2  # bump when bench/gen.py writes different rows: cached files are then made again
NOW = datetime(2026, 11, 20, 10, 0, 30, tzinfo=gen.TZ)  # a Friday; the reminders due at 10:00 are the wave
BIG = gen.Spec(users=200_000, complaints=1_000_000, cases=1_000_000, reminders=600_000)
SMALL = gen.Spec(users=2_000, complaints=10_000, cases=10_000, reminders=6_000)
TINY = gen.Spec(users=200, complaints=1_000, cases=1_000, reminders=600)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(q * len(values) + 0.999999) - 1))]


# ------------------------------------------------------------------------------------------- databases


def schema_version() -> str:
    """A short digest of storage/migrations (names and contents): a new or changed migration makes new files."""
    import hashlib

    from storage.db import migration_files

    digest = hashlib.sha256()
    for _, path in migration_files():
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:8]


def cached_database(spec: gen.Spec, cache_dir: Path, say: Callable[[str], None]) -> tuple[Path, dict]:
    """The generated file for ``spec`` (made now if it is not in the cache) and its facts."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    name = f"scale-{spec.key()}-g{GENERATOR_VERSION}-s{schema_version()}"
    path, meta_path = cache_dir / f"{name}.sqlite3", cache_dir / f"{name}.json"
    if path.exists() and meta_path.exists():
        return path, json.loads(meta_path.read_text())
    for stale in cache_dir.glob(f"{name}.*"):
        stale.unlink()
    partial = cache_dir / f"{name}.partial"
    for stale in cache_dir.glob(f"{name}.partial*"):
        stale.unlink()
    started = time.monotonic()
    say(f"generating {path} ...")
    gen.create_schema(partial)
    conn = gen.connect_bulk(partial)
    counts = gen.populate(conn, spec, NOW, progress=lambda step: say(
        f"  {step} ({time.monotonic() - started:.0f} s)"))
    facts = {**counts, "generated_in_s": round(time.monotonic() - started, 1), **storage_facts(conn, spec)}
    gen.finish_bulk(conn)
    partial.rename(path)
    meta_path.write_text(json.dumps(facts, indent=2))
    say(f"generated in {facts['generated_in_s']} s")
    return path, facts


def storage_facts(conn: sqlite3.Connection, spec: gen.Spec) -> dict:
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    facts = {"file_bytes": page_size * pages, "page_size": page_size}
    try:
        rows = conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
    except sqlite3.OperationalError:  # SQLite built without dbstat
        return facts
    sizes = dict(rows)
    facts["complaints_table_bytes"] = sizes.get("complaints", 0)
    facts["bytes_per_complaint_row"] = round(sizes.get("complaints", 0) / max(1, spec.complaints))
    facts["largest"] = sorted(((n, s) for n, s in sizes.items()), key=lambda kv: -kv[1])[:6]
    return facts


# ------------------------------------------------------------------------------------------- the bot


@dataclass
class Ctx:
    """The bot's objects on one database (create_app with a clock fixed at NOW)."""

    app: Any
    path: Path
    rng: random.Random
    facts: dict = field(default_factory=dict)

    @property
    def now(self) -> datetime:
        return self.app.clock.now()

    async def rows(self, sql: str, params: tuple = ()) -> list:
        return await self.app.db.fetchall(sql, params)


async def open_ctx(path: Path, seed: int) -> Ctx:
    from bench.hops import answering_session
    from bot.app import create_app
    from bot.config import load_settings
    from bot.domain.clock import FakeClock
    from bot.runtime import tune_gc

    settings = load_settings(_env_file=None, bot_token="", database_path=path)
    app = await create_app(settings, clock=FakeClock(NOW), session=answering_session())
    tune_gc()  # as every run mode does after start-up
    return Ctx(app, path, random.Random(seed))


# ------------------------------------------------------------------------------------------- operations


@dataclass
class Op:
    """One measured operation: ``call(ctx, target)`` is timed; ``save`` (before) and ``undo`` (after) are not,
    and put the database back as it was."""

    name: str
    what: str
    targets: Callable[[Ctx, int], Awaitable[list]]
    call: Callable[[Ctx, Any], Awaitable[Any]]
    samples: int
    save: Callable[[Ctx, Any], Awaitable[Any]] | None = None
    undo: Callable[[Ctx, Any, Any], Awaitable[None]] | None = None
    probe: bool = False  # measure other people's FSM steps meanwhile


async def my_targets(ctx: Ctx, n: int) -> list[int]:
    users = ctx.facts["users"]
    return [ctx.rng.randrange(1, users + 1) for _ in range(n)]


async def my_call(ctx: Ctx, user_id: int) -> None:
    """handlers.tracking.cases.render_list's reads (the user row is read through the users repository's cache)."""
    await ctx.app.repos.cases.list_for_user(user_id)
    await ctx.app.repos.complaints.list_for_user(user_id)
    await ctx.app.repos.users.get(user_id)


async def answered_targets(ctx: Ctx, n: int) -> list[int]:
    rows = await ctx.rows("SELECT DISTINCT case_id FROM reminders WHERE status = 'pending' AND due_at > ?",
                          (gen.iso(ctx.now),))
    return ctx.rng.sample([r[0] for r in rows], min(n, len(rows)))


async def answered_save(ctx: Ctx, case_id: int) -> dict:
    case = (await ctx.rows("SELECT status, answered_on, updated_at FROM cases WHERE id = ?", (case_id,)))[0]
    pending = [(r[2], r[0]) for r in await ctx.rows(
        "SELECT id, status, updated_at FROM reminders WHERE case_id = ? AND status <> 'cancelled'", (case_id,))
        if r[1] == "pending"]
    last_event = (await ctx.rows("SELECT COALESCE(MAX(id), 0) FROM case_events"))[0][0]
    return {"case": tuple(case), "pending": pending, "last_event": last_event}


async def answered_call(ctx: Ctx, case_id: int) -> None:
    """handlers.tracking.events.accept_answer_date: CaseService.answer (the status and the re-plan in one
    transaction)."""
    await ctx.app.cases.answer(case_id, ctx.now.date())


async def answered_undo(ctx: Ctx, case_id: int, saved: dict) -> None:
    async with ctx.app.db.transaction() as conn:
        await conn.execute("UPDATE cases SET status = ?, answered_on = ?, updated_at = ? WHERE id = ?",
                           (*saved["case"], case_id))
        await conn.executemany("UPDATE reminders SET status = 'pending', updated_at = ? WHERE id = ?", saved["pending"])
        await conn.execute("DELETE FROM case_events WHERE case_id = ? AND id > ?", (case_id, saved["last_event"]))


async def claim_targets(ctx: Ctx, n: int) -> list[int]:
    return [200] * n


async def claim_call(ctx: Ctx, limit: int) -> list:
    """One batch of ReminderService.tick."""
    return await ctx.app.repos.reminders.claim_due(ctx.now, limit)


async def claim_save(ctx: Ctx, limit: int) -> list:
    """The rows the claim will take (claim_due's order), as they are."""
    rows = await ctx.rows("SELECT claimed_at, attempts, updated_at, id FROM reminders WHERE status = 'pending'"
                          " AND due_at <= ? ORDER BY due_at, id LIMIT ?", (gen.iso(ctx.now), limit))
    return [tuple(r) for r in rows]


async def claim_undo(ctx: Ctx, limit: int, saved: list) -> None:
    async with ctx.app.db.transaction() as conn:
        await conn.executemany("UPDATE reminders SET status = 'pending', claimed_at = ?, attempts = ?, updated_at = ?"
                               " WHERE id = ?", saved)


OPS: dict[str, Op] = {op.name: op for op in (
    Op("my", "cases.list_for_user + complaints.list_for_user + users.get of one person", my_targets, my_call, 300),
    Op("answered", "CaseService.answer: the status and the re-plan, one transaction", answered_targets,
       answered_call, 50, answered_save, answered_undo, probe=True),
    Op("tick_claim", "RemindersRepo.claim_due(now, 200): one tick's claim batch", claim_targets, claim_call, 20,
       claim_save, claim_undo),
)}


ALL_OPS = (*OPS, "calendar")


async def calendar_add(ctx: Ctx, day: date) -> None:
    """What /calendar add records (handlers.operators.staff._calendar_add); the re-plan is measured apart."""
    from bot.domain.workdays import Override

    await ctx.app.repos.calendars.add(Override(day, "transfer_off", False, "bench: a day off"), added_by=None,
                                    at=ctx.now)


async def calendar_remove(ctx: Ctx, day: date) -> None:
    await ctx.app.db.execute("DELETE FROM calendar_overrides WHERE day = ? AND source LIKE 'bench:%'",
                             (day.isoformat(),))
    await ctx.app.repos.calendars.load()


async def pending_snapshot(ctx: Ctx) -> dict:
    """What a re-plan can change: pending reminders (it cancels or rewrites them) and the rows it inserts (ids
    above today's last)."""
    last = (await ctx.rows("SELECT COALESCE(MAX(id), 0) FROM reminders"))[0][0]
    rows = await ctx.rows("SELECT payload, updated_at, id FROM reminders WHERE status = 'pending'")
    return {"last": last, "pending": [tuple(r) for r in rows]}


async def pending_restore(ctx: Ctx, saved: dict) -> None:
    async with ctx.app.db.transaction() as conn:
        await conn.execute("DELETE FROM reminders WHERE id > ?", (saved["last"],))
        await conn.executemany("UPDATE reminders SET status = 'pending', payload = ?, updated_at = ? WHERE id = ?",
                               saved["pending"])


# ------------------------------------------------------------------------------------------- measuring


class Probe:
    """Other people meanwhile: every ``interval`` someone new starts an FSM step (set_data + set_state, then
    the commit barrier every answer waits for), whether or not the earlier ones are done (open loop, as
    people arrive); the latencies of all of them."""

    def __init__(self, ctx: Ctx, interval: float = 0.005, people: int = 500) -> None:
        self.ctx, self.interval, self.people = ctx, interval, people
        self.latencies: list[float] = []
        self.failed: list[str] = []  # steps whose commit failed (the person would get the apology)
        self._steps: set[asyncio.Task] = set()
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def _step(self, i: int) -> None:
        from aiogram.fsm.storage.base import StorageKey

        uid = 990_000_000 + i % self.people
        key = StorageKey(bot_id=self.ctx.app.bot.id, chat_id=uid, user_id=uid)
        fsm = self.ctx.app.fsm
        started = time.perf_counter()
        try:
            await fsm.set_data(key, {"step": i, "text": "probe"})
            await fsm.set_state(key, "BenchProbe:step")
            await fsm.barrier()
        except Exception as exc:  # noqa: BLE001 - counted: this is what the probe is for
            self.failed.append(f"{type(exc).__name__}: {exc}")
        else:
            self.latencies.append((time.perf_counter() - started) * 1000)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        start, i = loop.time(), 0
        while not self._stop.is_set():
            task = loop.create_task(self._step(i))
            self._steps.add(task)
            task.add_done_callback(self._steps.discard)
            i += 1
            try:
                await asyncio.wait_for(self._stop.wait(), max(0.0, start + i * self.interval - loop.time()))
            except asyncio.TimeoutError:
                pass

    def __enter__(self) -> "Probe":
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def stop(self) -> dict:
        self._stop.set()
        assert self._task is not None
        await self._task
        if self._steps:
            await asyncio.gather(*list(self._steps))
        await self.ctx.app.fsm.barrier()
        await self.ctx.app.db.execute("DELETE FROM fsm WHERE state = 'BenchProbe:step'")
        lat = self.latencies or [0.0]
        out = {"n": len(self.latencies), "p50_ms": round(pct(lat, 0.5), 2), "p99_ms": round(pct(lat, 0.99), 2),
               "failed": len(self.failed)}
        if self.failed:
            out["first_failure"] = self.failed[0]
        return out

    def __exit__(self, *exc: Any) -> None:
        return None


async def idle_probe(ctx: Ctx, seconds: float = 1.0) -> dict:
    with Probe(ctx) as probe:
        await asyncio.sleep(seconds)
    return await probe.stop()


async def timed(ctx: Ctx, op: Op, targets: list, pace: float = 0.0, *, restore: bool = True) -> list[float]:
    """The op on each target in turn (the next starting ``pace`` seconds after the previous one started, or
    when it ended if it took longer); the milliseconds each took. ``restore=False``: no save / undo around
    each call (the caller puts the targets back afterwards)."""
    times: list[float] = []
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i, target in enumerate(targets):
        if pace:
            await asyncio.sleep(max(0.0, start + i * pace - loop.time()))
        saved = await op.save(ctx, target) if op.save and restore else None
        started = time.perf_counter()
        await op.call(ctx, target)
        times.append((time.perf_counter() - started) * 1000)
        if op.undo and restore:
            await op.undo(ctx, target, saved)
    return times


async def measure_op(ctx: Ctx, op: Op, samples: int | None = None) -> dict:
    """The op alone on its targets; with ``op.probe``, the same targets once more with the probe running."""
    targets = await op.targets(ctx, samples or op.samples)
    times = await timed(ctx, op, targets)
    out: dict[str, Any] = {"n": len(times), "p50_ms": round(pct(times, 0.5), 3), "p99_ms": round(pct(times, 0.99), 3)}
    if op.probe:  # as people press: one press every 20 ms at most
        # the targets are saved before and put back after the probe: the bench's own undo transactions
        # must not be what the others wait for (the targets are distinct, so no press needs another's undo)
        saved = [await op.save(ctx, t) if op.save else None for t in targets]
        with Probe(ctx) as probe:
            times = await timed(ctx, op, targets, pace=0.02, restore=False)
        out["with_others_p50_ms"] = round(pct(times, 0.5), 3)
        out["others_meanwhile"] = await probe.stop()
        if op.undo:
            for target, state in zip(targets, saved, strict=True):
                await op.undo(ctx, target, state)
    return out


async def measure_calendar(ctx: Ctx) -> dict:
    """/calendar add of a day off three working days ahead, then the re-plan the bot runs in the background
    (CaseService.replan_for_day: the open cases the day can move, in batches), in full, with other people's
    FSM steps measured meanwhile. The database is put back afterwards (not timed)."""
    day = ctx.app.repos.calendars.calendar.add_working_days(ctx.now.astimezone(gen.TZ).date(), 3)
    saved = await pending_snapshot(ctx)
    first, last = calendar_change_window(day)
    open_cases = (await ctx.rows("SELECT COUNT(*) FROM cases WHERE status = 'open'"))[0][0]
    await calendar_add(ctx, day)
    try:
        with Probe(ctx) as probe:
            started = time.perf_counter()
            n = await ctx.app.cases.replan_for_day(day)
            total = time.perf_counter() - started
        others = await probe.stop()
    finally:
        await calendar_remove(ctx, day)
        await pending_restore(ctx, saved)
    return {"day_off": day.isoformat(), "open_cases": open_cases, "window": [first.isoformat(), last.isoformat()],
            "replanned": n, "total_s": round(total, 1), "per_case_mean_ms": round(total * 1000 / max(n, 1), 3),
            "others_meanwhile": others}


async def measure(path: Path, facts: dict, repeat: int, samples: dict[str, int] | None = None,
                  ops: tuple[str, ...] = ALL_OPS) -> dict:
    """Every operation of ``ops`` once on this database (``samples`` overrides the ops' sample counts)."""
    ctx = await open_ctx(path, seed=repeat)
    ctx.facts = facts
    try:
        out: dict[str, Any] = {"others_idle": await idle_probe(ctx)}
        for op in OPS.values():
            if op.name in ops:
                out[op.name] = await measure_op(ctx, op, (samples or {}).get(op.name))
        if "calendar" in ops:
            out["calendar"] = await measure_calendar(ctx)
    finally:
        await ctx.app.close()
    return out


def file_facts(path: Path, facts: dict) -> dict:
    return {"file_mib": round(facts["file_bytes"] / 2**20, 1),
            "bytes_per_complaint_row": facts.get("bytes_per_complaint_row"),
            "complaint_json_bytes_per_row": round(facts["complaint_json_bytes"] / max(1, facts["complaints"]))}


# ------------------------------------------------------------------------------------------- report

FIGURES = (("my", "p50_ms"), ("my", "p99_ms"), ("answered", "p50_ms"), ("answered", "p99_ms"),
           ("answered", "with_others_p50_ms"), ("others_idle", "p50_ms"), ("others_idle", "p99_ms"),
           ("answered", "others_meanwhile", "p50_ms"), ("answered", "others_meanwhile", "p99_ms"),
           ("tick_claim", "p50_ms"), ("tick_claim", "p99_ms"), ("calendar", "total_s"),
           ("calendar", "per_case_mean_ms"),
           ("calendar", "others_meanwhile", "p50_ms"), ("calendar", "others_meanwhile", "p99_ms"),
           ("answered", "others_meanwhile", "failed"), ("calendar", "others_meanwhile", "failed"))


def dig(d: dict, path: tuple) -> Any:
    for key in path:
        d = d[key]
    return d


def summarise(runs: dict[str, list[dict]]) -> dict:
    """Medians over the repeats (failed commits: the sum), and the median of the same-repeat ratios (of the
    figures the measured ops gave)."""
    figures = [f for f in FIGURES if f[0] in runs["big"][0]]
    med = {name: {".".join(f): (sum(dig(r, f) for r in rs) if f[-1] == "failed"
                                else round(statistics.median(dig(r, f) for r in rs), 3)) for f in figures}
           for name, rs in runs.items()}
    for name, rs in runs.items():
        if "calendar" in rs[0]:
            med[name]["calendar.open_cases"] = rs[0]["calendar"]["open_cases"]
            med[name]["calendar.replanned"] = rs[0]["calendar"]["replanned"]
    ratios = {}
    for f in figures:
        key = ".".join(f)
        pairs = [dig(b, f) / dig(s, f) for b, s in zip(runs["big"], runs["small"], strict=False) if dig(s, f)]
        if pairs:
            ratios[key] = round(statistics.median(pairs), 2)
    return {"median": med, "ratio_big_to_small": ratios}


async def run(small: bool, repeats: int, cache_dir: Path, say: Callable[[str], None],
              ops: tuple[str, ...] = ALL_OPS) -> dict:
    specs = {"big": SMALL, "small": TINY} if small else {"big": BIG, "small": SMALL}
    dbs = {name: cached_database(spec, cache_dir, say) for name, spec in specs.items()}
    runs: dict[str, list[dict]] = {"big": [], "small": []}
    for r in range(repeats):
        for name in ("big", "small") if r % 2 == 0 else ("small", "big"):
            path, facts = dbs[name]
            result = await measure(path, facts, r, ops=ops)
            say(f"{name} #{r + 1}: " + json.dumps(result))
            runs[name].append(result)
    return {"specs": {n: s.key() for n, s in specs.items()}, "now": NOW.isoformat(),
            "files": {n: {"path": str(p), **file_facts(p, f), "generated_in_s": f["generated_in_s"]}
                      for n, (p, f) in dbs.items()},
            **summarise(runs), "runs": runs}


def report(result: dict) -> str:
    m, r = result["median"], result["ratio_big_to_small"]
    lines = [f"big {result['specs']['big']} vs small {result['specs']['small']}; medians of the repeats",
             "| figure | big | small | big/small |", "|---|---|---|---|"]
    for key in m["big"]:
        lines.append(f"| {key} | {m['big'][key]} | {m['small'].get(key, '')} | {r.get(key, '')} |")
    for name, f in result["files"].items():
        lines.append(f"{name}: {f['file_mib']} MiB on disk, {f['bytes_per_complaint_row']} bytes per complaint row "
                     f"({f['complaint_json_bytes_per_row']} bytes of JSON), generated in {f['generated_in_s']} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="CI sizes: 2k/10k/10k/6k against 200/1k/1k/600")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "data" / "bench")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--ops", default=",".join(ALL_OPS),
                        help=f"the operations to measure, comma-separated (default: all of {','.join(ALL_OPS)}; the "
                             "calendar re-plan takes ~7 minutes on the big database)")
    args = parser.parse_args(argv)
    ops = tuple(o for o in args.ops.split(",") if o)
    if unknown := set(ops) - set(ALL_OPS):
        parser.error(f"unknown --ops: {', '.join(sorted(unknown))}")
    say = (lambda s: print(s, file=sys.stderr, flush=True))
    result = asyncio.run(run(args.small, args.repeats, args.cache_dir, say, ops))
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
