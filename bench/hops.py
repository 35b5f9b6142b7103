"""Thread hops per update: how many times one update leaves the event loop for a worker thread.

    python -m bench hops [--samples 3] [--detail] [--json]

The bot's real dispatcher (``bot.app.create_app``: every middleware and router, the SQLite FSM, a real
database seeded by bench/workload.py) is fed one update at a time through ``Dispatcher.feed_update``, with
a session that answers like Telegram without a network. While an update is handled, three kinds of hop
are counted separately:

* ``to_thread``: ``asyncio.to_thread`` calls (aiogram runs every synchronous filter or handler callable
  this way: ``CallableObject.call``);
* ``executor``: other ``loop.run_in_executor`` calls;
* ``aiosqlite``: calls queued to an aiosqlite connection's worker thread (one per statement or fetch).

Each kind (start, faq, wizard, button, my; see bench/workload.py) is measured on ``samples`` different
people after one warm-up update of that kind; by default the people's user records are already cached (a
conversation in progress), ``warm_users=False`` counts their first update in this process instead.

For tests: ``await count_hops()`` returns ``{kind: Hops}`` (the most hops any sample needed), and
``HopCounter`` counts around any code running on the loop.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Sequence

from bench import workload


@dataclass
class Hops:
    to_thread: int = 0
    executor: int = 0
    aiosqlite: int = 0
    what: Counter = field(default_factory=Counter)  # "to_thread: <callable>" / "aiosqlite: <statement>"

    @property
    def total(self) -> int:
        return self.to_thread + self.executor + self.aiosqlite

    def as_dict(self) -> dict[str, int]:
        return {"to_thread": self.to_thread, "executor": self.executor, "aiosqlite": self.aiosqlite,
                "total": self.total}


def _describe(fn: Any) -> str:
    """A short name for what a worker thread ran (partials and contextvars' run unwrapped)."""
    while True:
        if isinstance(fn, partial):
            if getattr(fn.func, "__name__", "") == "run" and fn.args:  # contextvars.Context.run(func, ...)
                fn = fn.args[0]
            else:
                fn = fn.func
            continue
        break
    owner = getattr(fn, "__self__", None)
    if owner is not None and type(owner).__name__ == "MagicFilter":
        return "magic filter " + _magic(owner)
    module = getattr(fn, "__module__", "") or ""
    return f"{module}.{getattr(fn, '__qualname__', repr(fn))}".lstrip(".")


def _magic(f: Any) -> str:
    """A magic filter written back roughly as in the code: F.chat.type == 'private'."""
    text = "F"
    for op in getattr(f, "_operations", ()):
        kind = type(op).__name__
        if kind == "GetAttributeOperation":
            text += f".{op.name}"
        elif kind == "ComparatorOperation":
            name = getattr(op.comparator, "__name__", "cmp")
            text += f" {name} {op.right!r}"
        elif kind in ("FunctionOperation", "ImportantFunctionOperation"):
            args = ", ".join(repr(a) for a in op.args)
            text += f" |{getattr(op.function, '__name__', 'fn')}({args})"
        elif kind == "CallOperation":
            text += "(" + ", ".join(repr(a)[:30] for a in op.args) + ")"
        else:
            text += f" {kind.replace('Operation', '')}"
    return text


def _statement(fn: Any, args: tuple) -> str:
    name = getattr(fn, "__name__", repr(fn))
    sql = next((a for a in args if isinstance(a, str)), None)
    return f"{name}: {' '.join(sql.split())[:70]}" if sql else name


class HopCounter:
    """While entered (on the running loop): counts ``asyncio.to_thread``, other ``run_in_executor`` calls and
    aiosqlite hops; ``take()`` returns the counts since the last take and starts again."""

    def __init__(self) -> None:
        self._hops = Hops()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._saved: dict[str, Any] = {}

    def take(self) -> Hops:
        hops, self._hops = self._hops, Hops()
        return hops

    def __enter__(self) -> "HopCounter":
        import aiosqlite.core

        loop = self._loop = asyncio.get_running_loop()
        original_submit = loop.run_in_executor
        to_thread_code = asyncio.threads.to_thread.__code__
        counter = self

        def run_in_executor(executor, func, *args):
            caller = sys._getframe(1).f_code
            if caller is to_thread_code:
                counter._hops.to_thread += 1
                counter._hops.what["to_thread: " + _describe(func)] += 1
            else:
                counter._hops.executor += 1
                counter._hops.what["executor: " + _describe(func)] += 1
            return original_submit(executor, func, *args)

        original_execute = aiosqlite.core.Connection._execute

        async def _execute(conn, fn, *args, **kwargs):
            counter._hops.aiosqlite += 1
            counter._hops.what["aiosqlite: " + _statement(fn, args)] += 1
            return await original_execute(conn, fn, *args, **kwargs)

        self._saved = {"execute": original_execute}
        loop.run_in_executor = run_in_executor  # type: ignore[method-assign]
        aiosqlite.core.Connection._execute = _execute  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: Any) -> None:
        import aiosqlite.core

        if self._loop is not None:
            del self._loop.run_in_executor  # the instance attribute: back to the class's method
        aiosqlite.core.Connection._execute = self._saved["execute"]  # type: ignore[method-assign]


def answering_session() -> Any:
    """A session that answers every request as Telegram would, without a network, and keeps them in ``sent``."""
    from aiogram.client.session.base import BaseSession
    from aiogram.types import Chat, Message, User

    class AnsweringSession(BaseSession):
        bot_user = User(id=42, is_bot=True, first_name="Bench")

        def __init__(self) -> None:
            super().__init__()
            self.sent: list[Any] = []
            self._ids = itertools.count(1)

        async def make_request(self, bot, method, timeout=None):
            self.sent.append(method)
            chat_id = getattr(method, "chat_id", None)
            if chat_id is None:
                return True  # answerCallbackQuery, setMyCommands...
            return Message(message_id=next(self._ids), date=datetime.now(timezone.utc),
                           chat=Chat(id=chat_id, type="private"), from_user=self.bot_user,
                           text=getattr(method, "text", None) or getattr(method, "caption", None)).as_(bot)

        async def stream_content(self, *args, **kwargs):  # pragma: no cover
            yield b""

        async def close(self) -> None:
            return None

    return AnsweringSession()


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage().splitlines()[0])


async def count_hops(kinds: Sequence[str] = workload.KINDS, *, samples: int = 3, warm_users: bool = True,
                     folder: Path | str | None = None) -> dict[str, Hops]:
    """{kind: the hops of its most expensive sample} on the bot's own dispatcher. Every measured update must
    have answered its person and logged no error (else RuntimeError: a failed update is cheap and would
    count nothing)."""
    from aiogram.types import Update

    from bot.app import CONSOLE_TOKEN, create_app
    from bot.config import load_settings

    with tempfile.TemporaryDirectory() if folder is None else _keep(folder) as tmp:
        path = Path(tmp) / "hops.sqlite3"
        now = datetime.now(timezone.utc)
        bot_id = int(CONSOLE_TOKEN.split(":")[0])
        workload.seed(path, {k: samples + 1 for k in kinds}, bot_id=bot_id, now=now)
        session = answering_session()
        settings = load_settings(_env_file=None, bot_token="", database_path=path, default_language="ru")
        app = await create_app(settings, session=session)
        errors = _Errors()
        logging.getLogger("shagym.errors").addHandler(errors)
        wl = workload.Workload()
        ids = itertools.count(1)
        result: dict[str, Hops] = {}
        try:
            with HopCounter() as counter:
                for kind in kinds:
                    worst: Hops | None = None
                    for k in range(samples + 1):  # person 0 of each kind warms the code path up
                        action = wl.action(kind, workload.BASE[kind] + k)
                        if warm_users:
                            await app.repos.users.get(action.user_id)
                        update = Update.model_validate(workload.update_payload(
                            action, next(ids), bot_id=bot_id, date=int(time.time())))
                        before = len(session.sent)
                        await app.fsm.barrier()
                        counter.take()
                        await app.dp.feed_update(app.bot, update)
                        await app.fsm.barrier()
                        hops = counter.take()
                        answered = [m for m in session.sent[before:]
                                    if getattr(m, "chat_id", None) == action.user_id and hasattr(m, "text")]
                        if errors.records or not answered:
                            raise RuntimeError(f"{kind}: the update failed or was not answered: {errors.records}")
                        if k and (worst is None or hops.total > worst.total):
                            worst = hops
                    assert worst is not None
                    result[kind] = worst
        finally:
            logging.getLogger("shagym.errors").removeHandler(errors)
            await app.close()
    return result


class _keep:
    def __init__(self, folder: Path | str) -> None:
        self.folder = folder

    def __enter__(self) -> Path | str:
        Path(self.folder).mkdir(parents=True, exist_ok=True)
        return self.folder

    def __exit__(self, *exc: Any) -> None:
        return None


def table(result: dict[str, Hops], cold: dict[str, Hops] | None = None) -> str:
    lines = ["| update kind | to_thread | run_in_executor | aiosqlite | total |" + (" total, first update of the"
                                                                                   " person |" if cold else ""),
             "|---|---|---|---|---|" + ("---|" if cold else "")]
    for kind, h in result.items():
        extra = f" {cold[kind].total} |" if cold else ""
        lines.append(f"| {kind} | {h.to_thread} | {h.executor} | {h.aiosqlite} | {h.total} |{extra}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--detail", action="store_true", help="what ran in the threads, per kind")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    warm = asyncio.run(count_hops(samples=args.samples))
    cold = asyncio.run(count_hops(samples=args.samples, warm_users=False))
    if args.json:
        print(json.dumps({k: {**h.as_dict(), "first_update_total": cold[k].total,
                              "what": dict(h.what) if args.detail else None} for k, h in warm.items()}, indent=2,
                         ensure_ascii=False))
        return 0
    print(table(warm, cold))
    if args.detail:
        for kind, h in warm.items():
            print(f"\n{kind}:")
            for what, n in sorted(h.what.items(), key=lambda kv: (-kv[1], kv[0])):
                print(f"  {n:3d}  {what}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
