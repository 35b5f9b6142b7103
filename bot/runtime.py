"""Process tuning applied by every run mode (and by the benchmarks, so they measure what runs): the event loop,
the JSON codec of the Bot API session, the garbage collector."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import orjson

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop (libuv) where it is installed, else None (asyncio's own).

    Measured with ``python -m bench e2e`` (docs/performance.md): per update, the socket writes and reads of
    the Bot API calls and the loop's own turns cost the bot about as much as all its handlers did; uvloop
    does that part in C. uvloop does not exist on Windows: asyncio's loop is used there.
    """
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the loop of :func:`loop_factory`."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)


def json_dumps(value: Any) -> str:
    """The Bot API session's JSON encoder (reply markups, entities, commands): orjson, as text. Non-string
    keys become strings, as with ``json.dumps``; text stays UTF-8 instead of ``\\u`` escapes (the same JSON)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


#: The Bot API session's JSON decoder (aiogram's ``json_loads``, with :func:`json_dumps` its ``json_dumps``):
#: orjson parses a getUpdates answer or a sent message several times faster than the standard library.
json_loads: Callable[[str | bytes], Any] = orjson.loads


def tune_gc() -> None:
    """Keep the cyclic garbage collector off the hot path.

    After start-up, aiogram, pydantic's schemas and the app are hundreds of thousands of long-lived
    objects; every full collection walked them all. `gc.freeze()` moves them to the permanent generation,
    and a larger first-generation threshold stops collections from firing every 700 allocations while
    many updates are in flight. Measured with bench/dispatch_bench.py: the SQLite FSM run went from
    ~1,650 to ~4,400 updates/s, the echo baseline from ~5,000 to ~6,400 (see the README).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
