"""Webhook delivery for the fake Telegram Bot API (tests/fakeapi.py), as Telegram does it.

The fake records ``setWebhook`` / ``deleteWebhook`` / ``getWebhookInfo`` (``fake.webhook``; getUpdates
answers 409 while a webhook is set).  A ``WebhookDeliverer`` then takes the updates queued in the fake
(``fake.push_update``, ``FakeUser.send``/``press``...) and POSTs each one as JSON to the registered URL
with the ``X-Telegram-Bot-Api-Secret-Token`` header, like Telegram:

* an update counts as delivered only on a 2xx answer; any other status, a connection error or a
  timeout is retried after a (short, configurable) backoff, and recorded in getWebhookInfo's
  ``last_error_date``/``last_error_message``; ``max_attempts`` gives up (Telegram's "reasonable amount");
* up to ``concurrency`` requests are in flight (default: setWebhook's ``max_connections``, 40), never two
  of the same chat at once, and a chat's updates go in order;
* a 2xx answer that carries a Bot API call (aiogram's webhook reply: multipart form with ``method``, or
  JSON with ``"method"``) is executed against the fake, so it is recorded like any other call;
* on purpose it can deliver an update twice (``deliver_twice``/``duplicates=``: again after the 2xx, or
  concurrently) to test de-duplication, and spread updates at random over several URLs
  (``urls=[...]``: two instances with no balancer; a retry may land on the other one).

Typical test::

    async with running_fake() as fake, WebhookDeliverer(fake, retry_delays=(0.01,)) as hooks:
        bot = fake.make_bot()
        await bot.set_webhook(url, secret_token="s3cret")
        await fake.user(1001).send("/start")
        await hooks.wait_delivered()        # every queued update answered 2xx
        hooks.deliveries                    # every attempt: update_id, url, status/error, duplicate

Nothing here reaches beyond the URLs a test registers (loopback).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import aiohttp

from tests.fakeapi import FakeBotAPI

__all__ = ["Delivery", "WebhookDeliverer", "update_chat", "updates_of"]

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass
class Delivery:
    """One POST of one update."""

    update_id: int
    url: str
    attempt: int  # 1, 2, ... for this update (a deliberate duplicate counts on)
    duplicate: bool = False  # a deliberate second delivery of an update
    status: int | None = None  # HTTP status; None for a connection error or a timeout
    error: str | None = None
    reply_method: str | None = None  # the Bot API call carried by the answer, if any
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def update_chat(update: dict) -> Any:
    """The chat (or, without one, the user) an update belongs to: its ordering key."""
    for key, body in update.items():
        if key == "update_id" or not isinstance(body, dict):
            continue
        chat = body.get("chat") or (body.get("message") or {}).get("chat")
        if chat:
            return chat.get("id")
        return (body.get("from") or body.get("user") or {}).get("id")
    return None


class WebhookDeliverer:
    def __init__(
        self,
        fake: FakeBotAPI,
        *,
        urls: Sequence[str] | None = None,
        retry_delays: Sequence[float] = (0.05, 0.1, 0.2, 0.4, 0.8),
        max_attempts: int | None = None,
        timeout: float = 10.0,
        concurrency: int | None = None,
        duplicates: float = 0.0,
        concurrent_duplicates: bool = False,
        seed: int | None = 0,
    ) -> None:
        """
        :param urls: POST here instead of the registered URL, one chosen at random per attempt
            (a webhook must still be set: Telegram delivers only then).
        :param retry_delays: the wait before the 2nd, 3rd... attempt; the last one repeats.
        :param max_attempts: give up on an update after so many failed attempts (None: never).
        :param timeout: seconds to wait for an answer before counting the attempt as failed.
        :param concurrency: requests in flight at once (default: setWebhook's max_connections).
        :param duplicates: probability that an update is delivered a second time on purpose.
        :param concurrent_duplicates: send that second copy while the first is in flight, not after it.
        :param seed: for the random choices (URL, duplicates); None for a new sequence each run.
        """
        if not retry_delays:
            raise ValueError("retry_delays needs at least one delay")
        self.fake = fake
        self.urls = list(urls) if urls else None
        self.retry_delays = tuple(retry_delays)
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.concurrency = concurrency
        self.duplicates = duplicates
        self.concurrent_duplicates = concurrent_duplicates
        self.rng = random.Random(seed)

        self.deliveries: list[Delivery] = []
        self.acknowledged: dict[int, Delivery] = {}  # update_id -> the first 2xx delivery
        self.given_up: list[dict] = []
        self._twice: set[int] = set()
        self._inflight: dict[int, asyncio.Task] = {}  # update_id -> its delivery task
        self._busy_chats: set[Any] = set()
        self._extra: set[asyncio.Task] = set()  # deliberate duplicates in flight
        self._session: aiohttp.ClientSession | None = None
        self._loop_task: asyncio.Task | None = None
        self._stopping = False

    # ------------------------------------------------------------------ life
    async def start(self) -> WebhookDeliverer:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        self._loop_task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        """Stops delivering; updates not yet answered 2xx stay queued in the fake."""
        self._stopping = True
        self.fake._notify()
        tasks = [t for t in (self._loop_task, *self._inflight.values(), *self._extra) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        if self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> WebhookDeliverer:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()
        if self._loop_task is not None and not self._loop_task.cancelled() and self._loop_task.done():
            self._loop_task.result()  # a bug in the deliverer fails the test

    # ------------------------------------------------------------------ control
    def deliver_twice(self, *update_ids: int) -> None:
        """These updates are POSTed a second time on purpose (see ``concurrent_duplicates``)."""
        self._twice.update(update_ids)

    async def wait_delivered(self, timeout: float = 10.0) -> None:
        """Until every queued update was answered 2xx (or given up) and no duplicate is in flight."""

        def done() -> bool:
            return not self.fake._updates and not self._inflight and not self._extra

        try:
            await self.fake._wait(done, timeout)
        except asyncio.TimeoutError:
            raise AssertionError(
                f"webhook deliveries not done within {timeout}s: {len(self.fake._updates)} queued, "
                f"{len(self._inflight)} in flight; last attempts: {self.deliveries[-3:]}"
            ) from None

    def attempts_of(self, update_id: int) -> list[Delivery]:
        return [d for d in self.deliveries if d.update_id == update_id]

    async def post(self, update: dict, url: str | None = None, *, duplicate: bool = False,
                   attempt: int = 1) -> Delivery:
        """One POST of ``update`` (no retry, no queue): the building block, also usable directly."""
        assert self._session is not None, "deliverer not started"
        url = url or self._pick_url()
        d = Delivery(update["update_id"], url, attempt, duplicate=duplicate)
        self.deliveries.append(d)
        headers = {}
        secret = self.fake.webhook.get("secret_token")
        if secret:
            headers[SECRET_HEADER] = secret
        try:
            async with self._session.post(url, json=update, headers=headers) as resp:
                d.status = resp.status
                if d.ok:
                    d.reply_method = await self._execute_reply(resp)
                else:
                    d.error = f"Wrong response from the webhook: {resp.status} {resp.reason}"
        except asyncio.TimeoutError:
            d.error = "Read timeout expired"
        except aiohttp.ClientError as e:
            d.error = f"Connection failed: {e}"
        d.finished = time.monotonic()
        if d.error is not None and self.fake.webhook:
            self.fake.webhook["last_error_date"] = int(time.time())
            self.fake.webhook["last_error_message"] = d.error
        self.fake._notify()
        return d

    # ------------------------------------------------------------------ internals
    def _pick_url(self) -> str:
        if self.urls:
            return self.rng.choice(self.urls)
        return self.fake.webhook["url"]

    def _limit(self) -> int:
        return self.concurrency or int(self.fake.webhook.get("max_connections") or 40)

    def _ready(self) -> list[dict]:
        """Queued updates that may start now: in order, one per chat, within the concurrency."""
        if self._stopping or not self.fake.webhook:
            return []
        allowed = self.fake.webhook.get("allowed_updates")
        if allowed:
            keep = []
            for u in self.fake._updates:
                if self.fake._update_type(u) in allowed:
                    keep.append(u)
                else:
                    self.fake.dropped_updates.append(u)
            self.fake._updates[:] = keep
        free = self._limit() - len(self._inflight)
        ready, seen_chats = [], set()
        for u in self.fake._updates:
            if free <= len(ready):
                break
            chat = update_chat(u)
            if u["update_id"] in self._inflight or chat in self._busy_chats or chat in seen_chats:
                if chat is not None:
                    seen_chats.add(chat)  # a chat's later updates wait for its earlier ones
                continue
            if chat is not None:
                seen_chats.add(chat)
            ready.append(u)
        return ready

    async def _run(self) -> None:
        while not self._stopping:
            try:
                batch = await self.fake._wait(lambda: self._stopping or self._ready(), 3600)
            except asyncio.TimeoutError:
                continue
            if batch is True:
                return
            for u in batch:
                chat = update_chat(u)
                if chat is not None:
                    self._busy_chats.add(chat)
                self._inflight[u["update_id"]] = asyncio.create_task(self._deliver(u, chat))

    async def _deliver(self, update: dict, chat: Any) -> None:
        uid = update["update_id"]
        try:
            twice = uid in self._twice or (self.duplicates and self.rng.random() < self.duplicates)
            attempt = 0
            while True:
                attempt += 1
                if twice and self.concurrent_duplicates and attempt == 1:
                    self._spawn_duplicate(update, attempt + 1)
                d = await self.post(update, attempt=attempt)
                if d.ok:
                    break
                if self.max_attempts is not None and attempt >= self.max_attempts:
                    self.given_up.append(update)
                    self._forget(update)
                    return
                await asyncio.sleep(self.retry_delays[min(attempt, len(self.retry_delays)) - 1])
                if not self.fake.webhook:  # deleted meanwhile: the update waits for getUpdates
                    return
            self.acknowledged.setdefault(uid, d)
            if twice and not self.concurrent_duplicates:
                self._spawn_duplicate(update, attempt + 1)
            self._forget(update)
        finally:
            self._inflight.pop(uid, None)
            self._busy_chats.discard(chat)
            self.fake._notify()

    def _spawn_duplicate(self, update: dict, attempt: int) -> None:
        async def again() -> None:
            d = await self.post(update, duplicate=True, attempt=attempt)
            if d.ok:
                self.acknowledged.setdefault(update["update_id"], d)

        task = asyncio.create_task(again())
        self._extra.add(task)

        def done(t: asyncio.Task) -> None:
            self._extra.discard(t)
            self.fake._notify()

        task.add_done_callback(done)

    def _forget(self, update: dict) -> None:
        """Takes an answered (or abandoned) update out of the fake's queue, as Telegram does."""
        fake = self.fake
        with contextlib.suppress(ValueError):
            fake._updates.remove(update)
        fake._last_delivered_id = (min(u["update_id"] for u in fake._updates) - 1 if fake._updates
                                   else fake._last_pushed_id)
        fake._last_activity = time.monotonic()

    async def _execute_reply(self, resp: aiohttp.ClientResponse) -> str | None:
        """A Bot API call in the answer to a webhook is performed (its result goes nowhere)."""
        form = aiohttp.FormData()
        method = None
        if resp.content_type == "multipart/form-data":
            reader = aiohttp.MultipartReader(resp.headers, resp.content)
            async for part in reader:
                if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                    continue
                if part.name == "method":
                    method = (await part.text()).strip()
                elif part.filename:
                    form.add_field(part.name, await part.read(), filename=part.filename,
                                   content_type=part.headers.get("Content-Type") or "application/octet-stream")
                else:
                    form.add_field(part.name, await part.text())
            body: Any = form
        elif resp.content_type == "application/json":
            data = json.loads(await resp.text() or "{}")
            if not isinstance(data, dict):
                return None
            method = data.pop("method", None)
            body = None if method is None else data
        else:
            return None
        if not method:
            return None
        url = f"{self.fake.base_url}/bot{self.fake.token}/{method}"
        assert self._session is not None
        kw = {"json": body} if isinstance(body, dict) else {"data": body}
        async with self._session.post(url, **kw) as api:
            await api.read()
        return str(method)


def updates_of(deliveries: Iterable[Delivery], url: str) -> list[int]:
    """update_ids answered 2xx at ``url`` (duplicates included), in the order they were sent."""
    return [d.update_id for d in deliveries if d.url == url and d.ok]
