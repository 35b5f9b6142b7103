"""The routing walk's depth per update (issue 14): coroutine frames and keyword dicts.

In the e2e burst ~200 updates are in flight, and the cyclic GC walks their live await chains and keyword
dicts at every young collection: every coroutine frame and every copy of the ~40 keywords the routing makes
per update costs once to make and again in the GC. handlers/routing.py walks a router level in one coroutine
and shares one keyword dict down the walk (aiogram: about five frames and two copies a level). One update of
each kind, fed to the bot's own dispatcher as ``bench cost`` feeds them, must stay within its budget of

* coroutine frames made by the routing (handlers/routing.py and aiogram's ``feed_update``,
  ``propagate_event``, triggers, filter checks, ``CallableObject.call``; not middlewares, filters or
  handlers), and
* keyword dicts (over 15 entries) held by the await chain when the handler sends its reply.
"""

from __future__ import annotations

import inspect
import itertools
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import Any

from bench import workload
from bench.hops import answering_session

#: Routing coroutine frames per update. On main before this walk (three frames a router level, aiogram's
#: CallableObject.call for the handlers and filters): start 19, faq 29, wizard 22, button 30, my 19; now exactly
#: the budget.
ROUTING_FRAMES = {"start": 6, "faq": 8, "wizard": 7, "button": 9, "my": 6}
#: Keyword dicts in the await chain at the reply, from the request down to feed_update. On main: start 10,
#: faq 9, wizard 11, button 13, my 10; now one less than the budget (a middleware may hold one more).
CHAIN_DICTS = {"start": 4, "faq": 3, "wizard": 4, "button": 6, "my": 4}

_ROUTING = ("/handlers/routing.py", "/aiogram/dispatcher/dispatcher.py", "/aiogram/dispatcher/router.py",
            "/aiogram/dispatcher/event/")


def _routing(frame: FrameType) -> bool:
    return any(part in frame.f_code.co_filename for part in _ROUTING)


async def _depth(folder: Path) -> dict[str, tuple[Counter[str], int]]:
    """{kind: (routing coroutine frames made by one update, by name; keyword dicts in its await chain at its
    first Bot API request)}, after one warm-up update of the kind."""
    from aiogram.types import Update

    from bot.app import CONSOLE_TOKEN, create_app
    from bot.config import load_settings

    path = folder / "depth.sqlite3"
    bot_id = int(CONSOLE_TOKEN.split(":")[0])
    workload.seed(path, {k: 2 for k in workload.KINDS}, bot_id=bot_id, now=datetime.now(timezone.utc))
    session = answering_session()
    settings = load_settings(_env_file=None, bot_token="", database_path=path, default_language="ru")
    app = await create_app(settings, session=session)
    wl, ids = workload.Workload(), itertools.count(1)
    made: dict[int, FrameType] = {}  # the frames seen, kept alive so that an id is not used twice
    chain_dicts: list[int] = []

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_flags & inspect.CO_COROUTINE and id(frame) not in made:
            made[id(frame)] = frame

    answer = type(session).make_request
    feed_update = type(app.dp).feed_update.__code__

    async def make_request(self: Any, bot: Any, method: Any, timeout: int | None = None) -> Any:
        if not chain_dicts:
            frame: FrameType | None = sys._getframe(1)
            dicts: set[int] = set()
            while frame is not None:  # from the request down to feed_update (not the test's own frames)
                dicts.update(id(v) for v in frame.f_locals.values() if isinstance(v, dict) and len(v) > 15)
                frame = None if frame.f_code is feed_update else frame.f_back
            chain_dicts.append(len(dicts))
        return await answer(self, bot, method, timeout)

    result: dict[str, tuple[Counter[str], int]] = {}
    try:
        type(session).make_request = make_request  # type: ignore[method-assign]
        for kind in workload.KINDS:
            for k in range(2):  # person 0 warms the code path up
                update = Update.model_validate(workload.update_payload(
                    wl.action(kind, workload.BASE[kind] + k), next(ids), bot_id=bot_id, date=int(time.time())),
                    context={"bot": app.bot})
                await app.fsm.barrier()
                made.clear()
                chain_dicts.clear()
                sys.setprofile(profile)
                try:
                    await app.dp.feed_update(app.bot, update)
                finally:
                    sys.setprofile(None)
            names = Counter(f.f_code.co_qualname for f in made.values() if _routing(f))
            result[kind] = names, chain_dicts[0]
            made.clear()
    finally:
        type(session).make_request = answer  # type: ignore[method-assign]
        await app.close()
    return result


async def test_each_kind_of_update_stays_within_its_routing_depth(tmp_path):
    depth = await _depth(tmp_path)
    assert set(depth) == set(ROUTING_FRAMES)
    for kind, (names, dicts) in depth.items():
        assert sum(names.values()) <= ROUTING_FRAMES[kind], (kind, dict(names))
        assert dicts <= CHAIN_DICTS[kind], (kind, dicts)
