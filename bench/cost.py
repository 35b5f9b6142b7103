"""CPU per update, in process, for each update kind on the bot's own dispatcher (no HTTP).

    python -m bench cost [--kinds faq,my] [--n 400] [--rounds 3] [--profile KIND]

``bot.app.create_app`` with every middleware and router, the SQLite FSM and a database seeded by
bench/workload.py; a session that answers like Telegram without a network (bench/hops.py). Each round feeds
``n`` updates of a kind, each from a person of its own (as in ``bench e2e``), one after the other through
``Dispatcher.feed_update``, and waits for the FSM commit; the figure is the process's CPU time per update,
the best of ``rounds`` rounds after one warm-up round. The updates are parsed beforehand with the bot in
their context, as polling and the webhook parse them (an update parsed without it is dumped and parsed
again by aiogram, ~0.15 ms that the bot never pays).

No baseline here: this is for comparing two checkouts (run it in both, back to back, twice) and for finding
where an update's time goes (``--profile KIND``: cProfile of the last round, written to
/tmp/bench-cost-KIND.prof, its top functions printed). The acceptance figures are ``bench e2e``'s.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import json
import logging
import pstats
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench import workload
from bench.hops import _Errors, answering_session


async def measure(kinds: list[str], n: int = 400, rounds: int = 3, profile: str = "") -> dict[str, float | None]:
    from aiogram.types import Update

    from bot.app import CONSOLE_TOKEN, create_app
    from bot.config import load_settings
    from bot.runtime import tune_gc

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cost.sqlite3"
        bot_id = int(CONSOLE_TOKEN.split(":")[0])
        per = n * (rounds + 1)
        workload.seed(path, {k: per for k in kinds}, bot_id=bot_id, now=datetime.now(timezone.utc))
        settings = load_settings(_env_file=None, bot_token="", database_path=path, default_language="ru")
        app = await create_app(settings, session=answering_session())
        errors = _Errors()
        logging.getLogger("shagym.errors").addHandler(errors)
        tune_gc()
        wl = workload.Workload()
        ids = itertools.count(1)
        out: dict[str, float | None] = {}
        try:
            for kind in kinds:
                people = iter(range(workload.BASE[kind], workload.BASE[kind] + per))
                best: float | None = None
                for r in range(rounds + 1):  # round 0 warms the code path up
                    updates = [Update.model_validate(
                        workload.update_payload(wl.action(kind, next(people)), next(ids), bot_id=bot_id,
                                                date=int(time.time())), context={"bot": app.bot})
                        for _ in range(n)]
                    prof = cProfile.Profile() if profile == kind and r == rounds else None
                    await app.fsm.barrier()
                    started = time.process_time()
                    if prof is not None:
                        prof.enable()
                    for update in updates:
                        await app.dp.feed_update(app.bot, update)
                    await app.fsm.barrier()
                    if prof is not None:
                        prof.disable()
                    per_update = (time.process_time() - started) * 1000 / n
                    if errors.records:
                        raise RuntimeError(f"{kind}: the updates failed: {errors.records[:2]}")
                    if prof is not None:
                        prof.dump_stats(f"/tmp/bench-cost-{kind}.prof")
                        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(25)
                    elif r:
                        best = per_update if best is None else min(best, per_update)
                out[kind] = None if best is None else round(best, 3)
        finally:
            logging.getLogger("shagym.errors").removeHandler(errors)
            await app.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", default=",".join(workload.KINDS))
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", default="", choices=("", *workload.KINDS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    from bot.runtime import run

    result = run(measure(args.kinds.split(","), args.n, args.rounds, args.profile))
    if args.json:
        print(json.dumps(result))
    else:
        for kind, ms in result.items():
            print(f"{kind:8s} {'(profiled)' if ms is None else f'{ms:.3f} ms CPU per update'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
