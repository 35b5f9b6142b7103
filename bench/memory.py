"""Memory per person through the bot's real dispatcher (issue 14, acceptance 3): RSS after 100,000 distinct
people <= start-up RSS + 60 MB.

    python -m bench memory [--people 100000] [--json]

``create_app`` on a new SQLite file with a session that answers like Telegram without a network
(bench.hops.answering_session); every person is new to the bot and sends one update (half ``/start``, half a
FAQ question in their language: bench/workload.py) fed to ``Dispatcher.feed_update``: the user middleware, the
event isolation, the FSM, the i18n, the routers and the handlers all run, and every update must be answered
without an error. RSS (``/proc/self/status`` VmRSS, after ``gc.collect()``) is taken after start-up and
2,000 people of warm-up, then after the ``--people``; the growth is the figure. tests/test_memory.py runs the
same through the dispatcher for fewer people, with the caches made small so that their bound is reached.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import logging
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import workload
from bench.hops import _Errors, answering_session

BOUND_MB = 60
WARM_UP = 2_000
KINDS = {"start": 1, "faq": 1}


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@dataclass
class Memory:
    people: int
    start_mb: float  # after start-up and the warm-up
    after_mb: float
    grown_mb: float
    seconds: float
    users_cached: int
    isolation_locks: int
    fsm_cached: int
    objects_grown: int  # objects the garbage collector tracks, after minus start

    @property
    def ok(self) -> bool:
        return self.grown_mb <= BOUND_MB


async def measure(people: int, *, folder: Path | str | None = None, users_cache: int | None = None,
                  fsm_cache: int | None = None, warm_up: int = WARM_UP, say=lambda s: None) -> Memory:
    """``people`` new people through the dispatcher after the warm-up; ``users_cache`` / ``fsm_cache`` shrink
    those caches' bounds (the suite's short run reaches them)."""
    from aiogram.types import Update

    from bot.app import CONSOLE_TOKEN, create_app
    from bot.config import load_settings

    bot_id = int(CONSOLE_TOKEN.split(":")[0])
    with tempfile.TemporaryDirectory() if folder is None else _nothing(folder) as tmp:
        session = answering_session()
        settings = load_settings(_env_file=None, bot_token="", database_path=Path(tmp) / "memory.sqlite3")
        app = await create_app(settings, session=session)
        if users_cache is not None:
            app.repos.users._cache_size = users_cache
        if fsm_cache is not None:
            app.fsm._cache_size = fsm_cache
        errors = _Errors()
        logging.getLogger("shagym.errors").addHandler(errors)
        wl = workload.Workload()
        ids = itertools.count(1)
        started: dict[str, int] = {}

        async def feed(n: int) -> None:
            for i, action in enumerate(wl.schedule(KINDS, n, started)):
                update = Update.model_validate(workload.update_payload(action, next(ids), bot_id=bot_id,
                                                                       date=int(time.time())))
                await app.dp.feed_update(app.bot, update)
                if i % 500 == 499:
                    await app.fsm.barrier()
                    answered = {getattr(m, "chat_id", None) for m in session.sent}
                    session.sent.clear()  # the harness's own list must not grow
                    if errors.records or len(answered) < 400:  # of 500 people
                        raise RuntimeError(f"updates failed or were not answered: {errors.records[:3]}")
            await app.fsm.barrier()
            session.sent.clear()

        try:
            await feed(warm_up)
            gc.collect()
            start, objects = rss_mb(), len(gc.get_objects())
            say(f"start-up and {warm_up} people: RSS {start:.1f} MB")
            t0 = time.perf_counter()
            await feed(people)
            seconds = time.perf_counter() - t0
            gc.collect()
            after = rss_mb()
            isolation: Any = app.dp.fsm.events_isolation
            return Memory(people, round(start, 1), round(after, 1), round(after - start, 1), round(seconds, 1),
                          len(app.repos.users._cache), len(isolation._locks), len(app.fsm._cache),
                          len(gc.get_objects()) - objects)
        finally:
            logging.getLogger("shagym.errors").removeHandler(errors)
            await app.close()


class _nothing:
    def __init__(self, folder: Path | str) -> None:
        self.folder = folder

    def __enter__(self) -> str:
        return str(self.folder)

    def __exit__(self, *exc: Any) -> None:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = asyncio.run(measure(args.people, say=lambda s: print(s, file=sys.stderr, flush=True)))
    if args.json:
        print(json.dumps({**asdict(result), "bound_mb": BOUND_MB, "ok": result.ok}, indent=2))
    else:
        print(f"RSS {result.start_mb} MB after start-up and {WARM_UP} people; {result.after_mb} MB after "
              f"{result.people} more distinct people through the dispatcher ({result.seconds} s): "
              f"+{result.grown_mb} MB (bound {BOUND_MB} MB: {'ok' if result.ok else 'EXCEEDED'}); "
              f"users cached {result.users_cached}, isolation locks {result.isolation_locks}, "
              f"FSM cache {result.fsm_cached}, objects tracked by gc {result.objects_grown:+d}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
