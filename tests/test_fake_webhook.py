"""Webhook delivery by the fake Bot API (tests/fake_webhook.py), against tiny aiohttp apps (not the bot)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import Counter, defaultdict

import aiohttp
import pytest
from aiogram.exceptions import TelegramBadRequest, TelegramConflictError
from aiohttp import MultipartWriter, web

from tests.fake_webhook import SECRET_HEADER, WebhookDeliverer, update_chat, updates_of
from tests.fakeapi import running_fake

SECRET = "s3cret-Token_1"


class Instance:
    """A tiny webhook receiver: records what arrives and answers what the test tells it to."""

    def __init__(self, name: str = "a", *, answers: list[int] | None = None, delay: float = 0.0):
        self.name = name
        self.answers = list(answers or [])  # statuses for the first requests, then 200
        self.delay = delay
        self.received: list[tuple[int, str | None]] = []  # (update_id, secret header)
        self.times: list[float] = []
        self.reply = None  # callable(update) -> web.Response for 2xx answers
        self.active = 0
        self.max_active = 0
        self._sock = socket.socket()  # bound now, so the URL is known before the app starts
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        update = await request.json()
        self.received.append((update["update_id"], request.headers.get(SECRET_HEADER)))
        self.times.append(asyncio.get_running_loop().time())
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.active -= 1
        status = self.answers.pop(0) if self.answers else 200
        if status != 200:
            return web.Response(status=status, text="no")
        return self.reply(update) if self.reply else web.json_response({})

    async def start(self) -> Instance:
        app = web.Application()
        app.router.add_post("/webhook", self.handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def ids(self) -> list[int]:
        return [uid for uid, _ in self.received]


@contextlib.asynccontextmanager
async def instances(*apps: Instance):
    for app in apps:
        await app.start()
    try:
        yield apps
    finally:
        for app in apps:
            await app.stop()


@contextlib.asynccontextmanager
async def webhook_setup(*apps: Instance, **deliverer_kw):
    """A fake Bot API, the receiving apps, a deliverer and a Bot (for setWebhook) on the fake."""
    async with running_fake() as fake, instances(*apps), WebhookDeliverer(fake, **deliverer_kw) as hooks:
        bot = fake.make_bot()
        try:
            yield fake, bot, hooks
        finally:
            await bot.session.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_set_get_delete_webhook_are_recorded_and_block_get_updates():
    async with running_fake() as fake:
        bot = fake.make_bot()
        try:
            info = await bot.get_webhook_info()
            assert info.url == "" and info.pending_update_count == 0
            await fake.user(1001).send("queued before the webhook")
            assert await bot.set_webhook("http://127.0.0.1:9/hook", secret_token=SECRET, max_connections=5,
                                         allowed_updates=["message", "callback_query"])
            info = await bot.get_webhook_info()
            assert (info.url, info.max_connections, info.allowed_updates, info.pending_update_count) == (
                "http://127.0.0.1:9/hook", 5, ["message", "callback_query"], 1)
            assert fake.webhook["secret_token"] == SECRET
            assert fake.calls_of("setWebhook", secret_token=SECRET)
            with pytest.raises(TelegramConflictError, match="webhook is active"):
                await bot.get_updates(timeout=0)
            with pytest.raises(TelegramBadRequest, match="unallowed characters"):
                await bot.set_webhook("http://127.0.0.1:9/hook", secret_token="no spaces allowed")
            with pytest.raises(TelegramBadRequest, match="HTTPS URL"):
                await bot.set_webhook("ftp://example.invalid/hook")
            assert await bot.delete_webhook()
            info = await bot.get_webhook_info()
            assert info.url == "" and info.pending_update_count == 1
            assert [u.update_id for u in await bot.get_updates(timeout=0)] == [100_001]
        finally:
            await bot.session.close()


async def test_updates_are_posted_in_order_with_the_secret_header():
    app = Instance()
    async with webhook_setup(app, concurrency=1) as (fake, bot, hooks):
        user = fake.user(1001)
        await user.send("before setWebhook: queued, not delivered")
        await asyncio.sleep(0.05)
        assert app.received == []
        await bot.set_webhook(app.url, secret_token=SECRET)
        for i in range(5):
            await user.send(f"message {i}")
        await hooks.wait_delivered()
        await fake.idle()
        assert app.ids() == list(range(100_001, 100_007))
        assert {secret for _, secret in app.received} == {SECRET}
        assert (await bot.get_webhook_info()).pending_update_count == 0
        assert all(d.ok and d.attempt == 1 for d in hooks.deliveries)


async def test_no_secret_header_without_a_secret_token():
    app = Instance()
    async with webhook_setup(app) as (fake, bot, hooks):
        await bot.set_webhook(app.url)
        await fake.user(1001).send("hi")
        await hooks.wait_delivered()
        assert app.received == [(100_001, None)]


async def test_non_2xx_answers_are_retried_with_backoff_and_reported():
    delays = (0.05, 0.1)
    app = Instance(answers=[502, 500, 429])
    async with webhook_setup(app, retry_delays=delays, concurrency=1) as (fake, bot, hooks):
        await bot.set_webhook(app.url, secret_token=SECRET)
        first = await fake.push_update({"message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"},
                                                    "from": {"id": 1, "is_bot": False, "first_name": "A"},
                                                    "text": "one"}})
        second = await fake.push_update({"message": {"message_id": 1, "date": 0, "chat": {"id": 2, "type": "private"},
                                                     "from": {"id": 2, "is_bot": False, "first_name": "B"},
                                                     "text": "two"}})
        await hooks.wait_delivered()
        assert [d.status for d in hooks.attempts_of(first)] == [502, 500, 429, 200]
        assert app.ids() == [first, first, first, first, second]  # the queue waits for the retried update
        gaps = [b - a for a, b in zip(app.times, app.times[1:4], strict=False)]
        assert gaps[0] >= delays[0] and gaps[1] >= delays[1] and gaps[2] >= delays[1]  # the last delay repeats
        info = await bot.get_webhook_info()
        assert info.last_error_message == "Wrong response from the webhook: 429 Too Many Requests"
        assert info.last_error_date is not None and info.pending_update_count == 0


async def test_connection_errors_are_retried_until_the_instance_is_up():
    app = Instance()  # its port is reserved but nobody listens yet: connections are refused
    async with webhook_setup(retry_delays=(0.05,)) as (fake, bot, hooks):
        await bot.set_webhook(app.url)
        uid = await fake.push_update({"message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"},
                                                  "text": "x"}})
        await fake._wait(lambda: len(hooks.attempts_of(uid)) >= 3, 5)
        assert all(d.status is None and d.error.startswith("Connection failed") for d in hooks.attempts_of(uid))
        assert (await bot.get_webhook_info()).last_error_message.startswith("Connection failed")
        await app.start()
        try:
            await hooks.wait_delivered()
        finally:
            await app.stop()
        assert app.ids() == [uid] and hooks.acknowledged[uid].ok


async def test_a_slow_answer_times_out_and_is_retried():
    app = Instance(delay=0.5)
    async with webhook_setup(app, timeout=0.2, retry_delays=(0.01,), max_attempts=2) as (fake, bot, hooks):
        await bot.set_webhook(app.url)
        await fake.user(1001).send("slow")
        uid = fake._last_pushed_id
        await hooks.wait_delivered()
        assert [d.error for d in hooks.attempts_of(uid)] == ["Read timeout expired"] * 2
        assert [u["update_id"] for u in hooks.given_up] == [uid]


async def test_max_attempts_gives_up_and_moves_on():
    app = Instance(answers=[500] * 3)
    async with webhook_setup(app, retry_delays=(0.01,), max_attempts=3, concurrency=1) as (fake, bot, hooks):
        await bot.set_webhook(app.url)
        user = fake.user(1001)
        await user.send("lost")
        await user.send("next")
        await hooks.wait_delivered()
        assert [u["update_id"] for u in hooks.given_up] == [100_001]
        assert app.ids() == [100_001] * 3 + [100_002]
        await fake.idle()


async def test_an_update_can_be_delivered_twice_on_purpose():
    app = Instance()
    async with webhook_setup(app) as (fake, bot, hooks):
        await bot.set_webhook(app.url, secret_token=SECRET)
        user = fake.user(1001)
        await user.send("once")
        hooks.deliver_twice(100_002)
        await user.send("twice")
        await hooks.wait_delivered()
        assert app.ids() == [100_001, 100_002, 100_002]
        dup = [d for d in hooks.deliveries if d.duplicate]
        assert len(dup) == 1 and dup[0].update_id == 100_002 and dup[0].ok
        assert dup[0].started >= hooks.acknowledged[100_002].finished  # again after the first 2xx


async def test_duplicates_can_arrive_while_the_first_copy_is_in_flight():
    app = Instance(delay=0.2)
    async with webhook_setup(app, duplicates=1.0, concurrent_duplicates=True) as (fake, bot, hooks):
        await bot.set_webhook(app.url)
        await fake.user(1001).send("race")
        await hooks.wait_delivered()
        assert app.ids() == [100_001, 100_001]
        assert app.max_active == 2  # both copies were being handled at the same time


async def test_updates_are_spread_at_random_over_several_urls_each_chat_in_order():
    a, b = Instance("a", delay=0.002), Instance("b", delay=0.002)
    async with webhook_setup(a, b, urls=[a.url, b.url], seed=15) as (fake, bot, hooks):
        await bot.set_webhook("http://127.0.0.1:9/behind-no-balancer", secret_token=SECRET)
        users = [fake.user(2000 + i) for i in range(20)]
        for step in range(10):
            for user in users:
                await user.send(f"step {step}")
        await hooks.wait_delivered(timeout=30)
        got = a.ids() + b.ids()
        assert Counter(got) == Counter(range(100_001, 100_201))  # each exactly once
        assert 60 <= len(a.ids()) <= 140, (len(a.ids()), len(b.ids()))  # both got a fair share
        assert max(a.max_active, b.max_active) > 1  # several requests in flight at once
        by_chat = defaultdict(list)
        for d in sorted((d for d in hooks.deliveries if d.ok), key=lambda d: d.started):
            by_chat[d.update_id % 20].append(d.update_id)
        assert all(ids == sorted(ids) for ids in by_chat.values())  # a chat's updates in order
        assert sorted(updates_of(hooks.deliveries, a.url) + updates_of(hooks.deliveries, b.url)) == sorted(got)


async def test_a_retry_can_land_on_the_other_instance():
    dead = f"http://127.0.0.1:{free_port()}/webhook"
    alive = Instance()
    async with webhook_setup(alive, urls=[dead, alive.url], retry_delays=(0.01,), seed=1) as (fake, bot, hooks):
        await bot.set_webhook(alive.url)
        for i in range(20):
            await fake.user(3000 + i).send("hello")
        await hooks.wait_delivered()
        assert sorted(alive.ids()) == list(range(100_001, 100_021))
        assert any(d.url == dead and d.error for d in hooks.deliveries)  # some went to the dead one first


async def test_a_bot_api_call_in_the_webhook_answer_is_executed():
    def reply(update: dict) -> web.StreamResponse:
        chat = update_chat(update)
        if update["update_id"] % 2:
            writer = MultipartWriter("form-data")  # the way aiogram answers a webhook
            for name, value in (("method", "sendMessage"), ("chat_id", str(chat)), ("text", "form reply")):
                writer.append(value).set_content_disposition("form-data", name=name)
            return web.Response(body=writer)
        return web.json_response({"method": "sendMessage", "chat_id": chat, "text": "json reply"})

    app = Instance()
    app.reply = reply
    async with webhook_setup(app, concurrency=1) as (fake, bot, hooks):
        await bot.set_webhook(app.url)
        user = fake.user(1001)
        await user.send("one")
        await user.send("two")
        await hooks.wait_delivered()
        await fake.idle()
        assert [m.text for m in user.messages] == ["form reply", "json reply"]
        assert [d.reply_method for d in hooks.deliveries] == ["sendMessage", "sendMessage"]


async def test_allowed_updates_filter_and_delete_webhook_stops_delivery():
    app = Instance()
    async with webhook_setup(app) as (fake, bot, hooks):
        await bot.set_webhook(app.url, allowed_updates=["callback_query"])
        await fake.user(1001).send("filtered out")
        await fake._wait(lambda: fake.dropped_updates, 5)
        assert app.received == [] and not fake._updates
        await bot.delete_webhook()
        await fake.user(1001).send("for getUpdates now")
        await asyncio.sleep(0.05)
        assert app.received == [] and [u.update_id for u in await bot.get_updates(timeout=0)] == [100_002]


@pytest.mark.parametrize("in_background", [True, False])
async def test_aiogram_webhook_handler_answers_before_or_after_handling(in_background):
    """What the scale-out mode relies on: SimpleRequestHandler(handle_in_background=True), aiogram's
    default, answers 200 before the handler ran (a crash then loses the update); with False the answer
    comes after it, and a handler that raises gets a 500, so Telegram sends the update again."""
    from aiogram import Dispatcher, Router
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application

    router = Router()
    seen: list[tuple[str, float]] = []
    failures = [RuntimeError("crash mid-update")]

    @router.message()
    async def handle(message):
        seen.append(("start", asyncio.get_running_loop().time()))
        await asyncio.sleep(0.2)
        if failures and not in_background:
            raise failures.pop()
        await message.answer(f"got {message.text}")
        seen.append(("end", asyncio.get_running_loop().time()))

    async with webhook_setup(retry_delays=(0.05,)) as (fake, bot, hooks):
        dp = Dispatcher()
        dp.include_router(router)
        app = web.Application()
        SimpleRequestHandler(dp, bot, handle_in_background=in_background, secret_token=SECRET).register(
            app, path="/webhook")
        setup_application(app, dp, bot=bot)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            await bot.set_webhook(f"http://127.0.0.1:{port}/webhook", secret_token=SECRET)
            user = fake.user(1001)
            await user.send("hello")
            await hooks.wait_delivered()
            await user.expect_text("got hello", timeout=5)
            acked = hooks.acknowledged[100_001].finished
            ends = [t for what, t in seen if what == "end"]
            if in_background:
                assert acked < ends[0] and len(hooks.attempts_of(100_001)) == 1
            else:
                assert [d.status for d in hooks.attempts_of(100_001)] == [500, 200]
                assert acked >= ends[0] and len(ends) == 1
            async with aiohttp.ClientSession() as http:  # a wrong secret is refused, nothing handled
                async with http.post(f"http://127.0.0.1:{port}/webhook", json={"update_id": 1},
                                     headers={SECRET_HEADER: "wrong"}) as resp:
                    assert resp.status == 401
            assert len([w for w, _ in seen if w == "start"]) == (1 if in_background else 2)
        finally:
            await runner.cleanup()
