"""handlers/routing.py: the bot's routers skip what cannot take an event and route exactly as aiogram's do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

import pytest
from aiogram import BaseMiddleware, Bot, Dispatcher, F, Router
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.filters import BaseFilter, Command
from aiogram.types import CallbackQuery, Chat, Message, Update, User

from bench.hops import answering_session
from handlers import get_router
from handlers.routing import FeatureDispatcher, FeatureRouter, quick_check

PERSON = User(id=7, is_bot=False, first_name="A")
CHAT = Chat(id=7, type="private")


def message(text: str, update_id: int = 1) -> Update:
    return Update(update_id=update_id, message=Message(message_id=update_id, date=datetime.now(timezone.utc),
                                                       chat=CHAT, from_user=PERSON, text=text))


def press(data: str, update_id: int = 1) -> Update:
    return Update(update_id=update_id, callback_query=CallbackQuery(id=str(update_id), from_user=PERSON,
                                                                    chat_instance="1", data=data))


class Counting(BaseFilter):
    """A router filter that lets everything through and counts how often aiogram asked it."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, event: object) -> bool:
        self.calls += 1
        return True


class Outer(BaseMiddleware):
    """An outer middleware that answers /nope itself: it must run even with no handler below it."""

    async def __call__(self, handler, event, data):
        result = await handler(event, data)
        return "outer" if result is UNHANDLED and event.text == "/nope" else result


def tree(kind: type[Router], seen: list[str]) -> tuple[Router, dict[str, Counting]]:
    """root: buttons (callback queries only) / commands (with an outer message middleware, no message
    handler) / texts (a command, then any text) / late (filled after the first event)."""
    counters = {name: Counting() for name in ("buttons", "commands", "texts")}
    root, buttons, commands, texts = (kind(name=n) for n in ("root", "buttons", "commands", "texts"))
    buttons.message.filter(counters["buttons"])
    buttons.callback_query.filter(counters["buttons"])

    async def on_button(query: CallbackQuery) -> str:
        seen.append(f"button {query.data}")
        return "button"

    buttons.callback_query.register(on_button, F.data.startswith("b:"))
    commands.message.filter(counters["commands"])
    commands.message.outer_middleware(Outer())
    texts.message.filter(counters["texts"])

    async def on_help(message: Message) -> str:
        seen.append("help")
        return "help"

    async def on_text(message: Message) -> str:
        seen.append(f"text {message.text}")
        return "text"

    texts.message.register(on_help, Command("help"))
    texts.message.register(on_text, F.text & ~F.text.startswith("/"))
    root.include_routers(buttons, commands, texts)
    return root, counters


async def feed(root: Router, updates: list[Update]) -> list:
    dp = root.parent_router
    if dp is None:
        dp = Dispatcher()
        dp.include_router(root)
    bot = Bot("42:test", session=answering_session())
    return [await dp.feed_update(bot, u) for u in updates]


async def test_the_bot_uses_feature_routers_everywhere():
    root = get_router()
    plain = [r.name for r in root.chain_tail if not isinstance(r, FeatureRouter)]
    assert plain == []


async def test_routes_as_aiogram_does_and_skips_routers_that_cannot_take_the_event():
    updates = [message("hello", 1), message("/help", 2), message("/nope", 3), press("b:1", 4), press("x", 5)]
    seen_plain: list[str] = []
    seen_feature: list[str] = []
    plain, plain_counters = tree(Router, seen_plain)
    feature, feature_counters = tree(FeatureRouter, seen_feature)
    plain_results = await feed(plain, updates)
    feature_results = await feed(feature, updates)
    assert [str(r) for r in feature_results] == [str(r) for r in plain_results]
    assert seen_feature == seen_plain == ["text hello", "help", "button b:1"]
    assert feature_results[2] == "outer"  # the outer middleware of a router without message handlers ran
    # aiogram asked the buttons router's filter about the three messages (it has no message handler); the
    # feature router never walked into it for a message, only for the two presses
    assert plain_counters["buttons"].calls == 5
    assert feature_counters["buttons"].calls == 2
    assert feature_counters["texts"].calls == plain_counters["texts"].calls == 2  # /nope: answered above


class Gives(BaseFilter):
    """A router filter that passes a value to what is below it (only to what is below it)."""

    def __init__(self, value: str) -> None:
        self.value = value

    async def __call__(self, message: Message) -> dict[str, str]:
        return {"given": self.value}


def scoped(kind: type[Router], dp_kind: type[Dispatcher], seen: list[str]) -> Dispatcher:
    """dp / root / (first: filter gives "first" / inner: takes "/first" only) / (second: takes any text)."""
    dp = dp_kind()
    root, first, inner, second = (kind(name=n) for n in ("root", "first", "inner", "second"))
    first.message.filter(Gives("first"))

    async def on_first(message: Message, given: str) -> str:
        seen.append(f"first {given}")
        return "first"

    async def on_any(message: Message, **data: object) -> str:
        seen.append(f"second {data.get('given')} {data['event_router'].name}")  # type: ignore[attr-defined]
        return "second"

    inner.message.register(on_first, Command("first"))
    second.message.register(on_any)
    first.include_router(inner)
    root.include_routers(first, second)
    dp.include_router(root)
    return dp


async def test_what_a_router_filter_gives_reaches_only_the_routers_below_it():
    updates = [message("/first", 1), message("hello", 2)]
    seen_plain: list[str] = []
    seen_feature: list[str] = []
    bot = Bot("42:test", session=answering_session())
    plain = scoped(Router, Dispatcher, seen_plain)
    feature = scoped(FeatureRouter, FeatureDispatcher, seen_feature)
    plain_results = [await plain.feed_update(bot, u) for u in updates]
    feature_results = [await feature.feed_update(bot, u) for u in updates]
    assert feature_results == plain_results == ["first", "second"]
    assert seen_feature == seen_plain == ["first first", "second None second"]


async def test_a_magic_rule_that_names_its_result_hands_it_to_the_handler():
    """A filter decided by its quick check is not called again, unless it gives the handler data: a magic rule
    with ``.as_()`` (aiogram passes the match on; the walk must too)."""
    from handlers.common import Magic

    seen: dict = {}
    for router_class, dispatcher_class in ((Router, Dispatcher), (FeatureRouter, FeatureDispatcher)):
        router = router_class(name="digits")

        async def on_digits(message: Message, m: Any = None, kind: str = router_class.__name__) -> str:
            seen[kind] = m.group(0) if m is not None else None
            return "digits"

        router.message.register(on_digits, Magic(F.text.regexp(r"\d+").as_("m")))
        dp = dispatcher_class()
        dp.include_router(router)
        assert await dp.feed_update(Bot("42:test", session=answering_session()), message("123")) == "digits"
    assert seen == {"Router": "123", "FeatureRouter": "123"}


async def test_a_root_filter_added_after_the_first_event_counts():
    root = FeatureRouter(name="root")

    async def on_any(message: Message) -> str:
        return "taken"

    root.message.register(on_any)
    root.message.filter(F.text)  # a root filter already checked on the first event
    dp = FeatureDispatcher()
    dp.include_router(root)
    bot = Bot("42:test", session=answering_session())
    assert await dp.feed_update(bot, message("hi", 1)) == "taken"
    root.message.filter(F.text == "never")
    assert await dp.feed_update(bot, message("hi", 2)) is UNHANDLED


async def test_a_router_included_after_the_first_event_is_found():
    root, middle, late = FeatureRouter(name="root"), FeatureRouter(name="middle"), FeatureRouter(name="late")
    root.include_router(middle)
    assert await feed(root, [message("hi")]) == [UNHANDLED]  # nothing below: remembered as such

    async def on_any(message: Message) -> str:
        return "late"

    late.message.register(on_any)
    middle.include_router(late)
    assert await feed(root, [message("hi")]) == ["late"]


async def test_a_router_included_after_the_walk_knew_its_parent_is_found():
    """The walk's plan of the routers below one (handlers/routing.py ``_plan``) is made again when a router is
    included below: an empty router passed over at first takes the event once it holds a handler, at the top
    (below the dispatcher) and further down."""
    root, first, middle, deep = (FeatureRouter(name=n) for n in ("root", "first", "middle", "deep"))

    async def on_help(message: Message) -> str:
        return "help"

    first.message.register(on_help, Command("help"))
    deep_parent = FeatureRouter(name="deep_parent")
    root.include_routers(first, middle, deep_parent)
    dp = FeatureDispatcher()
    dp.include_router(root)
    assert await feed(root, [message("hi"), message("/help"), press("x")]) == [UNHANDLED, "help", UNHANDLED]

    async def on_any(message: Message) -> str:
        return "late"

    late = FeatureRouter(name="late")
    late.message.register(on_any)
    middle.include_router(late)
    assert await feed(root, [message("hi")]) == ["late"]

    other = FeatureRouter(name="other")
    other.callback_query.register(on_any)
    deep.include_router(other)
    deep_parent.include_router(deep)
    assert await feed(root, [press("x")]) == ["late"]


# ------------------------------------------------------------------------------------------ the gate


def _bot_filters() -> list:
    """Every filter of the bot's routers (root filters and handlers', every update type) with a quick check."""
    from handlers.routing import quick_check

    found, seen = [], set()
    for router in get_router().chain_tail:
        for observer in router.observers.values():
            if not hasattr(observer, "handlers"):
                continue
            for handler in [observer._handler, *observer.handlers]:
                for f in handler.filters or ():
                    quick = quick_check(f)
                    if quick is not None and id(f.callback) not in seen:
                        seen.add(id(f.callback))
                        found.append((f, quick))
    return found


def _states_of(f) -> set:
    from aiogram.fsm.state import State, StatesGroup

    out = set()
    for s in f.states:
        if isinstance(s, State):
            out.add(s.state)
        elif isinstance(s, type) and issubclass(s, StatesGroup):
            out |= set(s.__all_states_names__)
        elif isinstance(s, str) and s != "*":
            out.add(s)
    return out


def _corpus(i18n) -> tuple[list, list]:
    """Updates of every shape the bot's filters look at, and the conversation states to try them in."""
    from aiogram.filters import Command, StateFilter
    from aiogram.filters.callback_data import CallbackQueryFilter
    from aiogram.types import Chat

    from handlers.common import BTN_LANGUAGE, MENU_BUTTONS, in_all_languages
    from handlers.start import CANCEL_WORDS

    names, prefixes, states = set(), set(), {None, "Unknown:state"}
    for f, _quick in _bot_filters():
        cb = f.callback
        if isinstance(cb, Command):
            names |= {c for c in cb.commands if isinstance(c, str)}
        elif isinstance(cb, CallbackQueryFilter):
            prefixes.add(cb.callback_data.__prefix__)
        elif isinstance(cb, StateFilter):
            states |= _states_of(cb)
    texts = ["hello", "Как подать жалобу?", "/", "/ start", " /help", "/nope", "/start faq", "/HELP", "/Help@x",
             *CANCEL_WORDS, *(w.upper() for w in CANCEL_WORDS), BTN_LANGUAGE, "🌐"]
    texts += [f"/{n}" for n in names] + [f"/{n} with words" for n in names] + [f"!{n}" for n in names]
    for msgid in MENU_BUTTONS:
        texts += sorted(in_all_languages(i18n, msgid))
    datas = ["x", "", "lang", "lang:kk", "lang:en", "lang:kk:1", "cw:bench1:7:ch:individual", "cw", "cw:"]
    for p in sorted(prefixes):
        datas += [p, f"{p}:", f"{p}:1", f"{p}:1:2", f"{p}:1:2:3:4", f"{p}x:1"]
    chats = [CHAT, Chat(id=-100, type="supergroup")]
    events = []
    for i, chat in enumerate(chats):
        for text in texts:
            events.append(Message(message_id=1, date=datetime.now(timezone.utc), chat=chat, from_user=PERSON,
                                  text=text))
        events.append(Message(message_id=1, date=datetime.now(timezone.utc), chat=chat, from_user=PERSON,
                              caption="/help"))
        events.append(Message(message_id=1, date=datetime.now(timezone.utc), chat=chat, from_user=PERSON))
        shown = Message(message_id=2, date=datetime.now(timezone.utc), chat=chat, text="?")
        events += [CallbackQuery(id=str(i), from_user=PERSON, chat_instance="1", data=d, message=shown) for d in datas]
    return events, sorted(states, key=str)


async def test_a_quick_check_never_rejects_what_its_filter_accepts():
    """The gate skips a router only on failed quick checks: each must be a necessary condition of its filter.
    Every filter of the bot's routers that has one, on messages and presses of every shape, in every state
    the routers know (OpenRelay, FreshButton and LiveDraft call their quick check first themselves)."""
    from aiogram.types import TelegramObject

    from bot.config import load_settings
    from bot.services.i18n import build_i18n
    from handlers.complaint.buttons import FreshButton
    from handlers.complaint.flow import LiveDraft
    from handlers.operators.citizen import OpenRelay

    i18n = build_i18n("ru")
    bot = Bot("42:test", session=answering_session())
    events, states = _corpus(i18n)
    checked = 0
    for settings in (load_settings(_env_file=None, bot_token="", database_path="unused.sqlite3"),
                     load_settings(_env_file=None, bot_token="", database_path="unused.sqlite3",
                                   operators_chat_id=-100)):
        for f, quick in _bot_filters():
            if isinstance(f.callback, (FreshButton, LiveDraft, OpenRelay)):
                continue
            async for event, data, accepted in _verdicts(f, events, states, bot=bot, i18n=i18n, settings=settings):
                assert isinstance(event, TelegramObject)
                if accepted:
                    assert quick(event, data), (f.callback, event, data["raw_state"])
                    checked += 1
    assert checked > 500


async def test_a_filter_decided_by_its_quick_check_accepts_exactly_when_it_passes():
    """The walk does not call again a filter whose quick check is its whole answer (handlers/routing.py
    ``decided_by_quick_check``): on every shape and state, the filter accepts exactly when the quick check
    passes, and gives the handler nothing."""
    from bot.config import load_settings
    from bot.services.i18n import build_i18n
    from handlers.routing import decided_by_quick_check

    i18n = build_i18n("ru")
    bot = Bot("42:test", session=answering_session())
    events, states = _corpus(i18n)
    settings = load_settings(_env_file=None, bot_token="", database_path="unused.sqlite3")
    decided = [(f, quick) for f, quick in _bot_filters() if decided_by_quick_check(f)]
    assert {type(f.callback).__name__ for f, _ in decided} >= {"StateFilter", "Private", "Magic", "MenuButton"}
    both = 0
    for f, quick in decided:
        async for event, data, accepted in _verdicts(f, events, states, bot=bot, i18n=i18n, settings=settings):
            assert not isinstance(accepted, dict), f.callback
            assert bool(accepted) == quick(event, data), (f.callback, event, data["raw_state"])
            both += bool(accepted)
    assert both > 200


async def _verdicts(f: Any, events: list, states: list, **context: Any) -> AsyncIterator[tuple[Any, dict, Any]]:
    """The filter's answer on every event in every state: (event, the data it was called with, its answer)."""
    for event in events:
        for raw_state in states:
            data: dict = {**context, "raw_state": raw_state}
            try:
                accepted = await f.call(event, **data)
            except (AttributeError, TypeError):  # a message filter asked about a press: aiogram never does
                continue
            yield event, data, accepted


async def test_the_gate_sends_each_kind_of_update_past_the_features_that_cannot_take_it():
    from bot.config import load_settings
    from bot.services.i18n import build_i18n
    from handlers.complaint.states import ComplaintWizard

    i18n = build_i18n("ru")
    settings = load_settings(_env_file=None, bot_token="", database_path="unused.sqlite3")
    root = get_router()
    features = {r.name: r for r in root.sub_routers}

    def takers(event, raw_state=None) -> list[str]:
        kind = "message" if isinstance(event, Message) else "callback_query"
        data = {"i18n": i18n, "raw_state": raw_state, "settings": settings}
        return [name for name, r in features.items() if r.handles(kind) and r._may_take(kind, event, data)]

    text = message("Как подать жалобу?").message
    assert takers(text) == ["operators", "faq"]  # the desk's relay (a ticket lookup), then the questions
    assert takers(text, ComplaintWizard.draft.state) == ["complaint"]
    assert takers(message("/my").message) == ["tracking"]
    assert takers(message("/start").message) == ["start"]
    assert takers(message("/mydata").message) == ["privacy"]
    assert "complaint" in takers(press("cw:bench1:7:ch:individual").callback_query, ComplaintWizard.draft.state)
    assert "start" not in takers(press("cw:bench1:7:ch:individual").callback_query, ComplaintWizard.draft.state)


async def test_a_state_filter_s_quick_check_is_aiogram_s_answer_for_every_kind_of_state():
    """The quick check of a StateFilter reads a set of state names made once: the same answer as aiogram's
    loop, for strings, None, State (the default one and "any"), StatesGroup classes, instances and children."""
    from aiogram.dispatcher.event.handler import FilterObject
    from aiogram.filters import StateFilter
    from aiogram.fsm.state import State, StatesGroup, any_state, default_state

    class Form(StatesGroup):
        name = State()
        age = State()

        class Extra(StatesGroup):
            note = State()

    class Other(StatesGroup):
        one = State()

    filters = [StateFilter(Form.name), StateFilter(Form), StateFilter(Form.Extra), StateFilter(Form()),
               StateFilter(Other.one, "custom"), StateFilter(None), StateFilter(default_state),
               StateFilter(any_state), StateFilter(Form.age, None)]
    raw_states = [None, "custom", "", Form.name.state, Form.age.state, Form.Extra.note.state, Other.one.state,
                  "Form:nothing", "*"]
    event = message("hi").message
    answers = 0
    for f in filters:
        quick = quick_check(FilterObject(f))
        assert quick is not None
        for raw_state in raw_states:
            accepted = await f(event, raw_state=raw_state)
            assert accepted == quick(event, {"raw_state": raw_state}), (f, raw_state)
            answers += bool(accepted)
    assert answers > 15


async def test_a_callback_data_filter_s_quick_check_matches_the_prefix_part_only():
    from aiogram.dispatcher.event.handler import FilterObject
    from aiogram.filters.callback_data import CallbackData

    class Cb(CallbackData, prefix="ab"):
        x: str

    quick = quick_check(FilterObject(Cb.filter()))
    assert quick is not None
    for data, expected in [("ab:1", True), ("ab", True), ("ab:", True), ("abc:1", False), ("a:1", False),
                           ("", False), ("xab:1", False)]:
        assert quick(press(data).callback_query, {}) is expected, data
    assert quick(message("ab:1").message, {}) is False


async def test_a_command_s_quick_check_never_rejects_what_the_command_accepts():
    """The quick check rejects a text that does not start with a prefix without splitting it; text with
    leading blanks is split as aiogram does."""
    from aiogram.dispatcher.event.handler import FilterObject

    bot = Bot("42:test", session=answering_session())
    f = Command("help")
    quick = quick_check(FilterObject(f))
    assert quick is not None
    accepted = 0
    for text in ["/help", "  /help", "\n/help me", "help", "Помогите /help", "/helpme", "/", " "]:
        event = message(text).message
        if await f(event, bot=bot):
            assert quick(event, {}), text
            accepted += 1
        elif not text.strip().startswith("/"):
            assert not quick(event, {}), text
    assert accepted >= 3


async def test_inner_middlewares_run_top_down_and_one_added_after_the_first_event_counts():
    """GatedObserver finds the managers of the inner middlewares once: a middleware registered later, or the
    chain's top included into a dispatcher later, still counts, in aiogram's order (from the top down)."""
    seen: list[str] = []

    class Mark(BaseMiddleware):
        def __init__(self, name: str) -> None:
            self.name = name

        async def __call__(self, handler, event, data):
            seen.append(self.name)
            return await handler(event, data)

    top, feature, leaf = FeatureRouter(name="top"), FeatureRouter(name="feature"), FeatureRouter(name="leaf")

    async def on_text(message: Message) -> str:
        seen.append("handler")
        return "ok"

    leaf.message.register(on_text)
    leaf.message.middleware(Mark("leaf"))
    feature.include_router(leaf)
    top.include_router(feature)
    assert await leaf.propagate_event("message", message("a").message) == "ok"  # the chain: top/feature/leaf
    assert seen == ["leaf", "handler"]
    seen.clear()
    top.message.middleware(Mark("top"))
    feature.message.middleware(Mark("feature"))
    dp = Dispatcher()
    dp.message.middleware(Mark("dp"))
    dp.include_router(top)  # the top of the chain now has a parent
    assert await feed(top, [message("b")]) == ["ok"]
    assert seen == ["dp", "top", "feature", "leaf", "handler"]


# ------------------------------------------------------------------ one keyword dict down the walk


def _leaky(kind: type[Router], dp_kind: type[Dispatcher], seen: list[str]) -> Dispatcher:
    """dp / root / (a: a handler whose filter gives "x" and whose inner middleware adds "mw", then skips; one
    that returns UNHANDLED) / (b: a root filter and a handler that say what they got; a sync handler, a class
    handler, one that raises) and an error handler: the walk shares one dict down the routers, so nothing a
    trigger or a middleware adds may reach a router beside it."""
    from aiogram.dispatcher.event.bases import SkipHandler
    from aiogram.handlers import MessageHandler

    dp = dp_kind()
    root, a, b = (kind(name=n) for n in ("root", "a", "b"))

    async def looks(message: Message, **data: Any) -> bool:  # b's root filter
        seen.append(f"b's filter {data['handler'].callback.__name__} {sorted(k for k in ('x', 'mw') if k in data)}")
        return True

    b.message.filter(looks)

    async def gives_x(message: Message) -> dict[str, int]:
        return {"x": 1}

    class Adds(BaseMiddleware):
        async def __call__(self, handler, event, data):
            data["mw"] = "added"
            return await handler(event, data)

    async def skips(message: Message, x: int, mw: str) -> None:
        seen.append(f"skips {x} {mw}")
        raise SkipHandler

    async def passes_on(message: Message, **data: Any) -> Any:
        seen.append(f"passes_on {data['handler'].callback.__name__} {data.get('x')} {data.get('mw')}")
        return UNHANDLED

    a.message.register(skips, gives_x, F.text.startswith("skip"))
    a.message.register(passes_on, F.text.in_({"skip", "unhandled"}))
    a.message.middleware(Adds())

    def sync(message: Message, event_router: Router) -> str:  # aiogram runs it in a thread
        seen.append(f"sync {event_router.name}")
        return "sync"

    class ByClass(MessageHandler):
        async def handle(self) -> str:
            seen.append(f"class {self.data['event_router'].name}")
            return "class"

    async def on_any(message: Message, **data: Any) -> str:
        if message.text == "boom":
            raise ValueError("boom")
        got = sorted(k for k in ("x", "mw") if k in data)
        seen.append(f"b {data['event_router'].name} {data['handler'].callback.__name__} {got}")
        return "b"

    b.message.register(sync, F.text == "sync")
    b.message.register(ByClass, F.text == "class")
    b.message.register(on_any)

    async def on_error(event: Any, **data: Any) -> str:
        router = "dp" if isinstance(data["event_router"], Dispatcher) else data["event_router"].name
        seen.append(f"error {type(event.exception).__name__} {router} "
                    f"{data['handler'].callback.__name__} {sorted(k for k in ('x', 'mw') if k in data)}")
        return "error"

    dp.errors.register(on_error)
    root.include_routers(a, b)
    dp.include_router(root)
    return dp


async def test_nothing_a_router_or_a_trigger_adds_reaches_the_router_beside_it():
    texts = ["skip", "skipped", "unhandled", "hello", "sync", "class", "boom"]
    seen_plain: list[str] = []
    seen_feature: list[str] = []
    bot = Bot("42:test", session=answering_session())
    plain = _leaky(Router, Dispatcher, seen_plain)
    feature = _leaky(FeatureRouter, FeatureDispatcher, seen_feature)
    plain_results = [await plain.feed_update(bot, message(t, i)) for i, t in enumerate(texts, 1)]
    feature_results = [await feature.feed_update(bot, message(t, i)) for i, t in enumerate(texts, 1)]
    assert feature_results == plain_results == ["b", "b", "b", "b", "sync", "class", "error"]
    assert seen_feature == seen_plain
    b = "b's filter _listen_update []"  # b's root filter: the update's handler, nothing router a's trigger added
    assert seen_plain == ["skips 1 added", "passes_on passes_on 1 added", b, "b b on_any []",  # skip
                          "skips 1 added", b, "b b on_any []",  # skipped
                          "passes_on passes_on None added", b, "b b on_any []",  # unhandled
                          b, "b b on_any []", b, "sync b", b, "class b", b, "error ValueError dp on_error []"]


async def test_the_update_observer_falls_back_to_aiogram_s_trigger():
    """The dispatcher's update observer hands the event to the walk itself (no ``_listen_update`` call) only
    while that is its one handler, without filters or inner middlewares: otherwise aiogram's trigger."""
    seen: list[str] = []

    class Mark(BaseMiddleware):
        async def __call__(self, handler, event, data):
            seen.append(f"update middleware {data['handler'].callback.__name__}")
            return await handler(event, data)

    dp = FeatureDispatcher()
    router = FeatureRouter(name="r")

    async def on_text(message: Message, event_update: Update, event_router: Router) -> str:
        seen.append(f"text {event_update.update_id} {event_router.name}")
        return "text"

    router.message.register(on_text)
    dp.include_router(router)
    bot = Bot("42:test", session=answering_session())
    assert await dp.feed_update(bot, message("a", 1)) == "text"
    dp.update.middleware(Mark())
    assert await dp.feed_update(bot, message("b", 2)) == "text"
    assert seen == ["text 1 r", "update middleware _listen_update", "text 2 r"]
    dp.update.middleware._middlewares.clear()
    with pytest.warns(RuntimeWarning, match="unknown update type"):  # aiogram's: a warning, then SkipHandler
        assert await dp.feed_update(bot, Update(update_id=3)) is UNHANDLED


async def test_a_skip_from_a_filter_ends_the_update_as_aiogram_s_update_trigger_does():
    """A SkipHandler raised by a filter (not by a handler: the trigger of the event skips those) leaves the
    walk; aiogram's update trigger catches it around ``_listen_update``: the update is not handled."""
    from aiogram.dispatcher.event.bases import SkipHandler

    async def skips(message: Message) -> bool:
        raise SkipHandler

    async def on_text(message: Message) -> str:
        return "text"

    results = []
    for router_class, dispatcher_class in ((Router, Dispatcher), (FeatureRouter, FeatureDispatcher)):
        dp, router = dispatcher_class(), router_class(name="r")
        router.message.register(on_text, skips)
        dp.include_router(router)
        results.append(await dp.feed_update(Bot("42:test", session=answering_session()), message("a")))
    assert results == [UNHANDLED, UNHANDLED]
