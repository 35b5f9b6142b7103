"""handlers/routing.py: the bot's routers skip what cannot take an event and route exactly as aiogram's do."""

from __future__ import annotations

from datetime import datetime, timezone

from aiogram import BaseMiddleware, Bot, Dispatcher, F, Router
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.filters import BaseFilter, Command
from aiogram.types import CallbackQuery, Chat, Message, Update, User

from bench.hops import answering_session
from handlers import get_router
from handlers.routing import FeatureRouter

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


async def test_a_router_included_after_the_first_event_is_found():
    root, middle, late = FeatureRouter(name="root"), FeatureRouter(name="middle"), FeatureRouter(name="late")
    root.include_router(middle)
    assert await feed(root, [message("hi")]) == [UNHANDLED]  # nothing below: remembered as such

    async def on_any(message: Message) -> str:
        return "late"

    late.message.register(on_any)
    middle.include_router(late)
    assert await feed(root, [message("hi")]) == ["late"]
