"""bot.services.sender.OutgoingPolicy, the bot session's one request middleware, on its own: a direct reply's
first try is made in the policy's frame (RetryAfterMiddleware's loop only runs after a failure); it still waits
for the commit, waits out a 429, stops for a blocked person, leaves the Sender's requests to the Sender."""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramForbiddenError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import AnswerCallbackQuery, GetUpdates, SendMessage

from bot.services import sender as sender_module
from bot.services.sender import OutgoingPolicy, RetryAfterMiddleware, callback_answered
from bot.services.updates import SkipUnparsableUpdates

BOT = Bot(token="42:policy")
SEND = SendMessage(chat_id=5, text="hi")


class Wire:
    """make_request: answers or raises what it is given, one try at a time, and records the tries."""

    def __init__(self, *outcomes) -> None:
        self.outcomes = list(outcomes)
        self.tries: list[str] = []

    async def __call__(self, bot, method):
        self.tries.append(type(method).__name__)
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def policy(barrier=None, **retry) -> OutgoingPolicy:
    return OutgoingPolicy(retry=RetryAfterMiddleware(backoff=0.0, **retry), updates=SkipUnparsableUpdates(),
                          barrier=barrier)


def too_many(seconds: float) -> TelegramRetryAfter:
    return TelegramRetryAfter(method=SEND, message="Too Many Requests", retry_after=seconds)


async def test_a_request_waits_for_the_pending_commit_first():
    order: list[str] = []
    commit = asyncio.get_running_loop().create_future()

    async def barrier() -> None:
        order.append("barrier")
        await commit

    wire = Wire()

    async def make_request(bot, method):
        order.append("request")
        return await wire(bot, method)

    request = asyncio.ensure_future(policy(barrier)(make_request, BOT, SEND))
    await asyncio.sleep(0.01)
    assert order == ["barrier"]  # nothing left before the commit
    commit.set_result(None)
    assert await request == "ok" and order == ["barrier", "request"]


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """The pauses asked for (none really made)."""
    asked: list[float] = []

    async def sleep(seconds: float) -> None:
        asked.append(seconds)

    monkeypatch.setattr(sender_module.asyncio, "sleep", sleep)
    return asked


async def test_a_429_is_waited_out_and_the_same_request_made_again(waits):
    wire = Wire(too_many(3), "sent")
    assert await policy()(wire, BOT, SEND) == "sent"
    assert wire.tries == ["SendMessage", "SendMessage"] and waits == [3]


async def test_a_429_too_long_to_wait_or_repeated_is_raised(waits):
    wire = Wire(too_many(120))
    with pytest.raises(TelegramRetryAfter):
        await policy()(wire, BOT, SEND)
    assert len(wire.tries) == 1
    wire = Wire(too_many(1), too_many(1), too_many(1), "never")
    with pytest.raises(TelegramRetryAfter):
        await policy(max_tries=3)(wire, BOT, SEND)
    assert len(wire.tries) == 3 and waits == [1, 1]


async def test_a_server_error_is_tried_again_then_raised():
    wire = Wire(TelegramServerError(method=SEND, message="Bad Gateway"), "sent")
    assert await policy()(wire, BOT, SEND) == "sent" and len(wire.tries) == 2
    failing = [TelegramServerError(method=SEND, message="Bad Gateway")] * 3
    wire = Wire(*failing, "never")
    with pytest.raises(TelegramServerError):
        await policy(max_tries=3)(wire, BOT, SEND)
    assert len(wire.tries) == 3


async def test_a_blocked_person_stops_the_reply_at_once():
    wire = Wire(TelegramForbiddenError(method=SEND, message="Forbidden: bot was blocked by the user"), "never")
    with pytest.raises(TelegramForbiddenError):
        await policy()(wire, BOT, SEND)
    assert wire.tries == ["SendMessage"]


async def test_the_senders_requests_and_get_updates_are_not_retried_here():
    token = sender_module._IN_SENDER.set(True)
    try:
        wire = Wire(too_many(1), "never")
        with pytest.raises(TelegramRetryAfter):
            await policy()(wire, BOT, SEND)
        assert len(wire.tries) == 1
    finally:
        sender_module._IN_SENDER.reset(token)
    wire = Wire([])
    assert await policy()(wire, BOT, GetUpdates()) == [] and wire.tries == ["GetUpdates"]


async def test_an_answered_callback_query_is_remembered_for_the_update():
    async def one_update(query_id: str, wire: Wire) -> bool:
        await policy()(wire, BOT, AnswerCallbackQuery(callback_query_id=query_id))
        return callback_answered(query_id)

    assert await asyncio.create_task(one_update("q1", Wire(True)))
    assert await asyncio.create_task(one_update("q2", Wire(too_many(0), True)))  # answered on the second try
    assert not callback_answered("q1")  # another task: another update


async def test_the_next_long_poll_leaves_after_the_replies_to_the_updates_just_received(db_path):
    """aiogram asks for the next updates right after creating the tasks of the ones received. The bot's policy
    lets those tasks run up to their first request, and waits for the commit of the steps they made, before
    the poll leaves: their replies are written first (~0.35 ms of each reply's latency at 100 updates/s)."""
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.fsm.storage.base import StorageKey

    from bot.session import JsonBodySession
    from storage.db import Database
    from storage.fsm import SQLiteStorage
    from tests.fakeapi import running_fake

    db = await Database.open(db_path)
    await db.close()
    storage = await SQLiteStorage.open(db_path)
    async with running_fake() as fake:
        fake.user(1001, "Aigerim", language_code="kk")
        bot = Bot(token=fake.token, session=JsonBodySession(api=TelegramAPIServer.from_base(fake.base_url)))
        bot.session.middleware(OutgoingPolicy(retry=RetryAfterMiddleware(), updates=SkipUnparsableUpdates(),
                                              barrier=storage.barrier))
        try:
            await asyncio.gather(bot.send_message(1001, "a"), bot.send_message(1001, "b"))  # two pooled connections

            async def step(n: int) -> None:  # a wizard step: the answer saved, then the next question
                await storage.set_data(StorageKey(bot_id=bot.id, chat_id=1001, user_id=1001), {"step": n})
                await bot.send_message(1001, f"question {n}")

            async def answer(n: int) -> None:  # a question answered from memory: no write
                await bot.send_message(1001, f"answer {n}")

            for n in range(6):
                handler = asyncio.create_task((step if n % 2 else answer)(n))  # a task aiogram just created
                await bot.get_updates(timeout=0)
                await handler
                calls = [c.method for c in fake.calls[-2:]]
                assert calls == ["sendMessage", "getUpdates"], (n, calls)
        finally:
            await bot.session.close()
            await storage.close()
