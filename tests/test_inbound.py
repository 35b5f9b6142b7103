"""Inbound (handlers/middlewares.py) does the jobs of aiogram's own outer middlewares of every update
(ErrorsMiddleware, UserContextMiddleware, FSMContextMiddleware) in its one frame: a handler gets the same data
as under aiogram's, an exception still reaches the errors observer (outside the chat's lock), and the chain of
coroutine frames an update keeps above the routers is one frame long."""

from __future__ import annotations

import sys
from functools import partial
from typing import Any

import pytest
from aiogram.dispatcher.middlewares.error import ErrorsMiddleware
from aiogram.dispatcher.middlewares.user_context import UserContextMiddleware
from aiogram.fsm.context import FSMContext
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.types import ErrorEvent, Update

from bot.app import create_app
from bot.config import load_settings
from handlers.middlewares import Inbound

BOT_ID = 42  # bot.app.CONSOLE_TOKEN
PERSON = {"id": 501, "is_bot": False, "first_name": "Айгүл", "language_code": "ru"}
PRIVATE = {"id": 501, "type": "private", "first_name": "Айгүл"}
GROUP = {"id": -100500, "type": "supergroup", "title": "Топ", "is_forum": True}

UPDATES = {
    "private message": {"message": {"message_id": 1, "date": 0, "chat": PRIVATE, "from": PERSON, "text": "сәлем"}},
    "topic message": {"message": {"message_id": 2, "date": 0, "chat": GROUP, "from": PERSON, "text": "x",
                                  "is_topic_message": True, "message_thread_id": 7}},
    "message of a bot": {"message": {"message_id": 3, "date": 0, "chat": GROUP, "text": "x",
                                     "from": {"id": 777, "is_bot": True, "first_name": "B"}}},
    "button": {"callback_query": {"id": "q1", "from": PERSON, "chat_instance": "c", "data": "x",
                                  "message": {"message_id": 5, "date": 0, "chat": PRIVATE, "text": "t"}}},
    "inline button": {"callback_query": {"id": "q2", "from": PERSON, "chat_instance": "c", "data": "x",
                                         "inline_message_id": "im"}},
    "channel post": {"channel_post": {"message_id": 1, "date": 0, "text": "x",
                                      "chat": {"id": -100900, "type": "channel", "title": "К"}}},
    "no chat, no user": {"message_reaction_count": {"chat": {"id": -100900, "type": "channel", "title": "К"},
                                                    "message_id": 1, "date": 0, "reactions": []}},
}


@pytest.fixture
async def app(tmp_path):
    app = await create_app(load_settings(_env_file=None, bot_token="", database_path=tmp_path / "t.sqlite3"))
    try:
        yield app
    finally:
        await app.close()


def _update(app, name: str, update_id: int = 1) -> Update:
    return Update.model_validate({"update_id": update_id, **UPDATES[name]}, context={"bot": app.bot})


def _fed(app) -> dict[str, Any]:
    """The data Dispatcher.feed_update gives the outer middlewares."""
    return {"dispatcher": app.dp, **app.dp.workflow_data, "bot": app.bot}


def _inbound(app) -> Inbound:
    return next(m for m in app.dp.update.outer_middleware if isinstance(m, Inbound))


def _comparable(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    state = out.get("state")
    if state is not None:  # a new FSMContext per update: the same class, key and storage
        out["state"] = (type(state), state.key, state.storage)
    return out


async def _handler_data(middleware, app, update: Update) -> dict[str, Any]:
    got: dict[str, Any] = {}

    async def handler(event, data):
        got.update(data)
        return "handled"

    assert await middleware(handler, update, _fed(app)) == "handled"
    return _comparable(got)


async def _aiogram_s(app, update: Update, fsm: FSMContextMiddleware | None = None) -> dict[str, Any]:
    """What aiogram's UserContextMiddleware and FSMContextMiddleware give the next middleware."""
    fsm = fsm or app.dp.fsm

    async def chain(handler, event, data):
        return await UserContextMiddleware()(partial(fsm, handler), event, data)

    return await _handler_data(chain, app, update)


@pytest.mark.parametrize("name", list(UPDATES))
@pytest.mark.parametrize("stored", [None, "ComplaintWizard:draft"], ids=["no state", "in a conversation"])
@pytest.mark.parametrize("cached", [True, False], ids=["cached", "read from the file"])
async def test_a_handler_gets_aiogram_s_data_and_the_bot_s_own(app, name, stored, cached):
    if stored:
        for chat in (PRIVATE["id"], GROUP["id"], -100900):
            await app.fsm.set_state(StorageKey(bot_id=BOT_ID, chat_id=chat, user_id=PERSON["id"]), stored)
            await app.fsm.set_data(StorageKey(bot_id=BOT_ID, chat_id=chat, user_id=PERSON["id"]), {"n": 1})
    await app.fsm.barrier()
    if not cached:
        app.fsm._cache.clear()
    update = _update(app, name)
    expected = await _aiogram_s(app, update)
    if not cached:
        app.fsm._cache.clear()
    got = await _handler_data(_inbound(app), app, update)
    own = {"lang", "i18n"} | ({"user"} if got.get("event_from_user") and not got["event_from_user"].is_bot else set())
    assert {k: v for k, v in got.items() if k not in own} == expected
    assert set(got) - set(expected) == own
    if stored and "state" in expected and expected["state"][1].user_id == PERSON["id"]:
        assert got["raw_state"] == stored  # the conversation was read (not only None on both sides)


async def test_a_storage_that_cannot_peek_is_read_as_aiogram_reads_it(app):
    """A storage without ``peek`` (aiogram's MemoryStorage): the state comes from FSMContext.get_state."""
    storage = MemoryStorage()
    key = StorageKey(bot_id=BOT_ID, chat_id=PRIVATE["id"], user_id=PERSON["id"])
    await storage.set_state(key, "ComplaintWizard:draft")
    fsm = FSMContextMiddleware(storage=storage, events_isolation=SimpleEventIsolation())
    inbound = _inbound(app)
    mine = Inbound(inbound.users, app.settings, app.i18n, inbound.ask_language, inbound.guard, fsm, app.dp)
    update = _update(app, "private message")
    got = await _handler_data(mine, app, update)
    assert got["raw_state"] == "ComplaintWizard:draft"
    assert {k: v for k, v in got.items() if k not in ("user", "lang", "i18n")} == await _aiogram_s(app, update, fsm)


async def test_aiogram_s_outer_middlewares_are_inbound_s_jobs(app):
    assert [type(m) for m in app.dp.update.outer_middleware] == [Inbound]
    assert _inbound(app).errors is app.dp and _inbound(app).fsm is app.dp.fsm
    assert isinstance(app.dp.fsm, FSMContextMiddleware) and app.dp.storage is app.fsm  # dp.fsm still serves


def _probe(app, raising: Exception | None = None) -> list[Any]:
    """A handler of the dispatcher's own messages for the text "probe"."""
    seen: list[Any] = []

    async def is_probe(message) -> bool:
        return message.text == "probe"

    async def probe(message, **data) -> str:
        frame, stack = sys._getframe(), []  # the frames it runs in, innermost first
        while frame is not None:
            stack.append(frame.f_code)
            frame = frame.f_back
        seen.append(stack)
        if raising is not None:
            raise raising
        return "probed"

    app.dp.message.register(probe, is_probe)
    return seen


def _probe_update(app, update_id: int = 1) -> Update:
    payload = {"update_id": update_id, **UPDATES["private message"]}
    payload["message"] = {**payload["message"], "text": "probe"}
    return Update.model_validate(payload, context={"bot": app.bot})


async def test_an_error_reaches_the_errors_observer_outside_the_chat_s_lock(app):
    boom = ValueError("boom")
    _probe(app, raising=boom)
    got: list[tuple[ErrorEvent, dict[str, Any]]] = []

    async def on_error(event: ErrorEvent, **data) -> str:
        got.append((event, data))
        assert app.dp.fsm.events_isolation._locks == {}  # the chat's lock is released (ReleasingEventIsolation)
        return "answered"

    app.dp.errors.register(on_error)
    update = _probe_update(app)
    assert await app.dp.feed_update(app.bot, update) == "answered"
    ((event, data),) = got
    assert event.update is update and event.exception is boom
    assert data["event_from_user"].id == PERSON["id"] and data["user"].id == PERSON["id"]
    assert data["lang"] == "ru" and isinstance(data["state"], FSMContext) and "raw_state" in data


async def test_an_error_nobody_handles_is_raised(app):
    _probe(app, raising=ValueError("boom"))
    for router in app.dp.chain_tail:
        router.errors.handlers.clear()
    with pytest.raises(ValueError, match="boom"):
        await app.dp.feed_update(app.bot, _probe_update(app))


async def test_with_metrics_aiogram_s_errors_middleware_stays_outermost_and_counts(tmp_path):
    """The metrics' middleware counts the updates that raise: it sits between aiogram's ErrorsMiddleware and
    Inbound, which then leaves errors to the former."""
    app = await create_app(load_settings(_env_file=None, bot_token="", database_path=tmp_path / "t.sqlite3",
                                         metrics_listen="127.0.0.1:0"))
    try:
        outer = list(app.dp.update.outer_middleware)
        assert [type(m) for m in outer][::2] == [ErrorsMiddleware, Inbound] and len(outer) == 3
        assert _inbound(app).errors is None
        _probe(app, raising=ValueError("boom"))
        seen: list[ErrorEvent] = []

        async def on_error(event: ErrorEvent, **data) -> str:
            seen.append(event)
            return "answered"

        app.dp.errors.register(on_error)
        assert await app.dp.feed_update(app.bot, _probe_update(app)) == "answered"
        assert len(seen) == 1
        metrics = app.features[-1]
        assert metrics.registry.get_sample_value("shagym_update_errors_total", {"kind": "message"}) == 1
    finally:
        await app.close()


MIDDLEWARE_FILES = ("handlers/middlewares.py", "handlers/guards.py", "aiogram/fsm/middleware.py",
                    "aiogram/dispatcher/middlewares/error.py", "aiogram/dispatcher/middlewares/user_context.py")


async def test_one_coroutine_frame_above_the_routers(app):
    """Between Dispatcher.feed_update and the routing, an update keeps one middleware frame on its await chain:
    Inbound's (on main before: aiogram's three, Inbound and the reply guard's ``around``, five)."""
    seen = _probe(app)
    await app.fsm.set_state(StorageKey(bot_id=BOT_ID, chat_id=PRIVATE["id"], user_id=PERSON["id"]), "X:y")
    assert await app.dp.feed_update(app.bot, _probe_update(app)) == "probed"
    feed = type(app.dp).feed_update.__code__
    stack = seen[0][::-1]  # outermost first
    above = []  # the frames from feed_update inward that are middlewares' (aiogram's, the bot's, the guard's)
    for code in stack[stack.index(feed) + 1:]:
        if not code.co_filename.endswith(MIDDLEWARE_FILES):
            break
        above.append(code)
    assert [code.co_qualname for code in above] == ["Inbound.__call__"]


async def test_the_wizard_s_and_tracking_s_middlewares_add_no_frame():
    """TurnMiddleware and FlowMiddleware hand back the handler's own awaitable (no coroutine of their own)."""
    from handlers.complaint.flow import TurnMiddleware
    from handlers.tracking.flow import FlowMiddleware

    sentinel = object()
    data: dict[str, Any] = {}

    def handler(event, got):
        assert got is data
        return sentinel

    class Cases:
        def today(self):
            return "today"

    flow_data = {"cases": Cases(), "bot": 1, "state": 2, "user": 3, "settings": 4, "lang": "kk"}
    data.update(flow_data)
    assert FlowMiddleware()(handler, object(), data) is sentinel
    assert data["flow"].today == "today" and data["flow"].lang == "kk"

    import handlers.complaint.flow as flow

    data.clear()
    original = flow.turn_for
    flow.turn_for = lambda event, got: "turn"
    try:
        assert TurnMiddleware()(handler, object(), data) is sentinel
    finally:
        flow.turn_for = original
    assert data["turn"] == "turn"


async def test_the_guard_is_asked_only_when_a_marker_may_be_there(app):
    """ReplyGuard.may_reask: False (no coroutine of the guard's) only when its ``reasked`` would say False at
    once: the stored data has no marker and the update is not replayed; a storage without ``peek``: ask."""
    from handlers.guards import REASK, ReplyGuard

    key = StorageKey(bot_id=BOT_ID, chat_id=PRIVATE["id"], user_id=PERSON["id"])
    state = FSMContext(app.fsm, key)
    await state.set_state("ComplaintWizard:draft")
    await state.set_data({"n": 1, "text": f'"{REASK}" typed by the person'})
    assert not ReplyGuard.may_reask(state, {})
    assert ReplyGuard.may_reask(state, {"replayed": True})
    await state.update_data({REASK: 1})
    assert ReplyGuard.may_reask(state, {})
    await app.fsm.barrier()
    app.fsm._cache.clear()
    assert ReplyGuard.may_reask(state, {})  # read from the file
    assert ReplyGuard.may_reask(FSMContext(MemoryStorage(), key), {})
