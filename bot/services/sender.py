"""THE one outgoing path for every bulk or scheduled message (reminders, operator notices, broadcasts).

Telegram's ceilings (docs/performance.md, 'Telegram's ceilings and the Sender'): ~30 messages/s overall, 1/s per
chat (short bursts
tolerated), 20/min per group; beyond that 429 with ``retry_after``, and aiogram does not retry a 429 on
sendMessage by itself. This module keeps under those ceilings and never loses a message to a 429:

* global: ``aiolimiter.AsyncLimiter`` at ``global_per_second`` (25 by default) with a bucket of
  ``global_burst`` (1): the busiest 1-second window holds at most ``global_per_second + global_burst``
  sends, which leaves headroom under Telegram's 30/s for the interactive replies that do not pass here;
* per chat: one send at a time, the next one ``1/per_chat_per_second`` after the previous delivery *completed*
  (measured after the answer, so network jitter can never squeeze two sends into one second on
  Telegram's side); ``per_chat_burst`` sends may go back to back first;
* per group (chat_id < 0): at most ``per_group_per_minute`` in any ``per_group_window`` (60) seconds.

Several instances (REDIS_URL): ``shared`` (bot.domain.ports.SharedRateLimiter, storage/redis.py) takes the
place of the limiters above: one reservation covers the overall, the chat's and the group's limit across
every instance, on the shared store's clock, and a 429 pauses the chat for every instance. If the shared
store fails, the send falls back to the in-process limiters (logged).

Errors: ``TelegramRetryAfter`` -> the chat waits ``retry_after`` and the same message is retried (does not
count as an attempt; bounded by ``max_retry_after_total`` seconds of waiting, and a single wait longer than
``max_retry_after_wait`` is handed back to the caller as retryable with ``retry_after``).
``TelegramForbiddenError`` -> ``on_forbidden(chat_id)`` and stop. ``TelegramBadRequest`` and other
client errors -> fail at once. Network and server errors -> exponential backoff, ``max_attempts`` tries.
Nothing is raised to the caller except ``asyncio.CancelledError``. Logs never hold message text or chat ids.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable

from aiogram import Bot
from aiogram.client.default import Default
from aiogram.client.session.middlewares.base import BaseRequestMiddleware
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageText,
    GetUpdates,
    SendMessage,
    TelegramMethod,
)
from aiolimiter import AsyncLimiter

from bot.domain.ports import SharedRateLimiter
from bot.services.limits import (
    CALLBACK_ANSWER_LIMIT,
    CAPTION_LIMIT,
    TEXT_LIMIT,
    fit_entities,
    fit_html,
    fit_plain,
    utf16_len,
)

log = logging.getLogger(__name__)

__all__ = ["OutgoingPolicy", "RetryAfterMiddleware", "SendResult", "Sender", "answering", "callback_answered",
           "fit_to_limits"]

# Set while the Sender makes a request: it handles 429s itself (per chat, with its own bounds).
_IN_SENDER: ContextVar[bool] = ContextVar("shagym_in_sender", default=False)
# The callback query last answered in this task (one update is one task): the error handler must not answer
# it a second time (Telegram refuses that with a 400, and the apology after it would be lost).
_ANSWERED: ContextVar[str | None] = ContextVar("shagym_answered_callback", default=None)


def callback_answered(query_id: str) -> bool:
    """Was this callback query answered while handling the current update?"""
    return _ANSWERED.get() == query_id


def answering(query_id: str) -> None:
    """This update's callback query is being answered elsewhere (handlers/buttons.py ack): as if answered."""
    _ANSWERED.set(query_id)


#: Client errors: the same request would fail again.
_PERMANENT = (
    TelegramBadRequest,
    TelegramNotFound,
    TelegramUnauthorizedError,
    TelegramConflictError,
    TelegramEntityTooLarge,
    TelegramMigrateToChat,
)


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    result: Any = None
    error: str | None = None  # error class and Telegram's description; never the message text
    forbidden: bool = False
    retryable: bool = False  # failed for a reason that may pass later (network, server, long 429)
    retry_after: float | None = None  # Telegram asked for a wait longer than the sender is willing to hold
    attempts: int = 0
    rate_limited: int = 0  # 429s met on the way (waited out, or the last one handed back)
    cancelled: bool = False  # the caller's ``still_wanted`` said no at send time: nothing was sent


class _ChatState:
    __slots__ = ("lock", "next_at", "burst", "window", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.next_at = 0.0
        self.burst = 0  # sends in the current back-to-back run
        self.window: deque[float] = deque()  # group sends in the last 60 s
        self.users = 0  # tasks holding or waiting for the lock (for cleanup)


def _describe(exc: BaseException) -> str:
    message = getattr(exc, "message", None)
    text = type(exc).__name__ + (f": {message}" if message else "")
    return text[:300]


class Sender:
    def __init__(
        self,
        bot: Bot,
        *,
        on_forbidden: Callable[[int], Awaitable[Any]] | None = None,
        global_per_second: float = 25,
        global_burst: int = 1,
        per_chat_per_second: float = 1,
        per_chat_burst: int = 1,
        per_group_per_minute: int = 20,
        per_group_window: float = 60.0,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_after_wait: float = 60.0,
        max_retry_after_total: float = 300.0,
        request_timeout: int | None = 30,
        shared: SharedRateLimiter | None = None,
    ) -> None:
        self.bot = bot
        self.shared = shared
        self.on_forbidden = on_forbidden
        self.global_per_second = global_per_second
        self._global = AsyncLimiter(max(1, global_burst), max(1, global_burst) / global_per_second)
        self.chat_interval = 1.0 / per_chat_per_second
        self.per_chat_burst = max(1, per_chat_burst)
        self.per_group_per_minute = per_group_per_minute
        self.per_group_window = per_group_window  # Telegram's is a minute; tests may shrink it
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_after_wait = max_retry_after_wait
        self.max_retry_after_total = max_retry_after_total
        self.request_timeout = request_timeout
        self._chats: dict[int, _ChatState] = {}
        self._sends = 0
        self._in_hand = 0
        # Counters for monitoring (no personal data).
        self.stats = {"sent": 0, "failed": 0, "forbidden": 0, "retry_after": 0, "retries": 0, "shared_down": 0}

    # ------------------------------------------------------------------------------------------
    async def send_message(self, chat_id: int, text: str, **kw: Any) -> SendResult:
        return await self.send(SendMessage(chat_id=chat_id, text=text, **kw), chat_id=chat_id)

    async def _call(self, method: TelegramMethod) -> Any:
        token = _IN_SENDER.set(True)
        try:
            return await self.bot(method, request_timeout=self.request_timeout)
        finally:
            _IN_SENDER.reset(token)

    @property
    def queue_depth(self) -> int:
        """Sends in hand: waiting for their chat's turn or a limit, or on the wire (the metrics' gauge)."""
        return self._in_hand

    @asynccontextmanager
    async def hold(self, chat_id: int) -> AsyncIterator[None]:
        """Nothing is sent to ``chat_id`` while held; a send already on the wire finishes first. An erasure
        holds the person's chat around its commit: a reminder claimed before it then finds its row gone
        (``still_wanted``) instead of going out after it."""
        state = self._chats.get(chat_id)
        if state is None:
            state = self._chats[chat_id] = _ChatState()
        state.users += 1
        try:
            async with state.lock:
                yield
        finally:
            state.users -= 1

    async def send(self, method: TelegramMethod, *, chat_id: int,
                   still_wanted: Callable[[], Awaitable[bool]] | None = None,
                   on_sent: Callable[[Any], Awaitable[None]] | None = None) -> SendResult:
        """Send ``method`` to ``chat_id`` within every limit; see the module docstring for errors.
        ``still_wanted`` is asked right before each try, after the waits: False cancels the send.
        ``on_sent(result)`` is awaited the moment Telegram accepted it, before anything else (the caller
        records the send: the shorter that gap, the fewer repeats a crash can cause); its failure is logged
        and does not turn the send into a failure."""
        state = self._chats.get(chat_id)
        if state is None:
            state = self._chats[chat_id] = _ChatState()
        state.users += 1
        self._in_hand += 1
        try:
            async with state.lock:
                return await self._send_locked(method, chat_id, state, still_wanted, on_sent)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug here must not take the caller down
            log.exception("sender: unexpected %s", type(exc).__name__)
            self.stats["failed"] += 1
            return SendResult(ok=False, error=_describe(exc))
        finally:
            state.users -= 1
            self._in_hand -= 1
            self._sends += 1
            if self._sends % 1000 == 0:
                self._sweep()

    def _sweep(self) -> None:
        """Forget idle chats (no waiter, spacing over, no group sends in the last minute)."""
        now = asyncio.get_running_loop().time()
        idle = [cid for cid, st in self._chats.items()
                if st.users == 0 and st.next_at + self.chat_interval * self.per_chat_burst <= now
                and (not st.window or now - st.window[-1] >= self.per_group_window)]
        for cid in idle:
            del self._chats[cid]

    # ------------------------------------------------------------------------------------------
    async def _wait_chat(self, chat_id: int, state: _ChatState) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now < state.next_at:
            await asyncio.sleep(state.next_at - now)
        if chat_id < 0 and self.per_group_per_minute:
            while True:
                now = loop.time()
                while state.window and now - state.window[0] >= self.per_group_window:
                    state.window.popleft()
                if len(state.window) < self.per_group_per_minute:
                    break
                await asyncio.sleep(state.window[0] + self.per_group_window - now + 0.01)

    async def _take(self, chat_id: int, state: _ChatState) -> None:
        """Wait for the chat's, the group's and the overall limit: shared by every instance (one reservation
        covering all three, so the chat's second overlaps the wait for the overall slot), or, without a shared
        limiter or while it fails, this process's own."""
        if self.shared is not None:
            try:
                await self.shared.acquire(chat_id)
                return
            except Exception as exc:  # the shared store is down: keep sending within this process's limits
                self.stats["shared_down"] += 1
                log.warning("sender: shared rate limiter failed (%s), using the in-process one", type(exc).__name__)
        await self._wait_chat(chat_id, state)
        await self._global.acquire()

    async def _pause_shared(self, chat_id: int, seconds: float | None = None) -> None:
        """Tell the other instances: the chat waits ``seconds`` (a 429), or its interval (None: a send ended)."""
        if self.shared is not None:
            try:
                await (self.shared.sent(chat_id) if seconds is None else self.shared.pause(chat_id, seconds))
            except Exception as exc:
                log.warning("sender: could not share a chat's pause (%s)", type(exc).__name__)

    def _after_send(self, chat_id: int, state: _ChatState) -> None:
        now = asyncio.get_running_loop().time()
        if now - state.next_at >= self.chat_interval * self.per_chat_burst:
            state.burst = 0  # quiet long enough: the burst allowance is back
        state.burst += 1
        state.next_at = now + self.chat_interval if state.burst >= self.per_chat_burst else now
        if chat_id < 0:
            state.window.append(now)

    async def _forbidden(self, chat_id: int) -> None:
        self.stats["forbidden"] += 1
        log.info("sender: forbidden (%s chat)", "group" if chat_id < 0 else "private")
        if self.on_forbidden is not None:
            try:
                await self.on_forbidden(chat_id)
            except asyncio.CancelledError:
                raise
            except Exception as cb_exc:
                log.exception("sender: on_forbidden failed: %s", type(cb_exc).__name__)

    @staticmethod
    async def _record(on_sent: Callable[[Any], Awaitable[None]] | None, result: Any) -> None:
        """The caller's record of an accepted send, before anything else (see :meth:`send`)."""
        if on_sent is None:
            return
        try:
            await on_sent(result)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("sender: recording a send failed: %s", type(exc).__name__)

    async def _send_locked(self, method: TelegramMethod, chat_id: int, state: _ChatState,
                           still_wanted: Callable[[], Awaitable[bool]] | None = None,
                           on_sent: Callable[[Any], Awaitable[None]] | None = None) -> SendResult:
        attempts = 0
        waited = 0.0
        limited = 0
        while True:
            await self._take(chat_id, state)
            if still_wanted is not None and not await still_wanted():
                await self._pause_shared(chat_id, 0.0)  # nothing went out: the chat's hold ends
                return SendResult(ok=False, error="cancelled", cancelled=True, attempts=attempts,
                                  rate_limited=limited)
            attempts += 1
            try:
                result = await self._call(method)
            except TelegramRetryAfter as exc:
                self.stats["retry_after"] += 1
                limited += 1
                attempts -= 1  # a 429 is not an attempt
                wait = float(exc.retry_after)
                if wait > self.max_retry_after_wait or waited + wait > self.max_retry_after_total:
                    log.warning("sender: 429 retry_after=%ss, handing back", exc.retry_after)
                    self.stats["failed"] += 1
                    return SendResult(ok=False, error=_describe(exc), retryable=True, retry_after=wait,
                                      attempts=attempts, rate_limited=limited)
                log.info("sender: 429, waiting %ss", exc.retry_after)
                waited += wait
                # Pause this chat only: our global limiter keeps under the overall ceiling; a 429 is
                # most likely the chat's own limit.
                state.next_at = asyncio.get_running_loop().time() + wait
                await self._pause_shared(chat_id, wait)
                continue
            except TelegramForbiddenError as exc:
                await self._pause_shared(chat_id)  # answered: the chat's hold ends
                await self._forbidden(chat_id)
                return SendResult(ok=False, error=_describe(exc), forbidden=True, attempts=attempts)
            except _PERMANENT as exc:
                await self._pause_shared(chat_id)
                self.stats["failed"] += 1
                log.warning("sender: %s failed: %s", type(method).__name__, type(exc).__name__)
                return SendResult(ok=False, error=_describe(exc), attempts=attempts)
            except (TelegramNetworkError, TelegramServerError, TelegramAPIError, asyncio.TimeoutError,
                    OSError) as exc:
                if isinstance(exc, (TelegramNetworkError, asyncio.TimeoutError, OSError)):
                    # The request may have reached Telegram before the connection failed: keep the spacing.
                    self._after_send(chat_id, state)
                await self._pause_shared(chat_id)
                if attempts >= self.max_attempts:
                    self.stats["failed"] += 1
                    log.warning("sender: giving up after %d attempts: %s", attempts, type(exc).__name__)
                    return SendResult(ok=False, error=_describe(exc), retryable=True, attempts=attempts)
                self.stats["retries"] += 1
                delay = min(self.backoff_max, self.backoff_base * 2 ** (attempts - 1))
                delay *= 0.5 + random.random() / 2  # jitter
                log.info("sender: %s, retry %d in %.2fs", type(exc).__name__, attempts, delay)
                await asyncio.sleep(delay)
                continue
            self._after_send(chat_id, state)
            await self._record(on_sent, result)
            await self._pause_shared(chat_id)
            self.stats["sent"] += 1
            return SendResult(ok=True, result=result, attempts=attempts, rate_limited=limited)


#: What a direct reply tries again (RetryAfterMiddleware).
_PASSING = (TelegramRetryAfter, TelegramServerError, TelegramNetworkError)


class RetryAfterMiddleware(BaseRequestMiddleware):
    """Session middleware for direct replies (an answer to the person's own update, which does not pass the
    Sender): a reply is part of the step it answers, so a passing failure must not lose it.

    * 429: wait ``retry_after`` and try again, up to ``max_tries`` times and ``max_wait`` seconds a time;
    * 5xx and network errors (the request may not have reached Telegram): try again after ``backoff``,
      doubled each time, up to ``max_tries`` times (a network error may rarely show a reply twice, which is
      better than never);
    * anything else, or the last failure, is raised as before (the dispatcher's guards then make sure the
      person is asked the question they are really on: handlers/guards.py).

    Requests made by the Sender pass through untouched (it has its own, per-chat policy), and so does
    getUpdates (polling has its own back-off)."""

    def __init__(self, max_tries: int = 3, max_wait: float = 30.0, backoff: float = 0.25) -> None:
        self.max_tries = max_tries
        self.max_wait = max_wait
        self.backoff = backoff

    async def __call__(self, make_request, bot, method):
        if _IN_SENDER.get() or isinstance(method, GetUpdates):
            return await make_request(bot, method)
        try:
            result = await make_request(bot, method)
        except _PASSING as exc:
            result = await self.again(exc, make_request, bot, method)
        if isinstance(method, AnswerCallbackQuery):
            _ANSWERED.set(method.callback_query_id)
        return result

    async def again(self, exc: Exception, make_request, bot, method):
        """The tries after a first one that failed with ``exc`` (a 429, a 5xx, a network error): its result,
        or the last failure raised."""
        attempt = 1
        while True:
            if isinstance(exc, TelegramRetryAfter):
                if attempt == self.max_tries or exc.retry_after > self.max_wait:
                    raise exc
                log.info("reply: 429, waiting %ss", exc.retry_after)
                await asyncio.sleep(exc.retry_after)
            else:
                if attempt == self.max_tries:
                    raise exc
                delay = self.backoff * 2 ** (attempt - 1)
                log.info("reply: %s, retry %d in %.2fs", type(exc).__name__, attempt, delay)
                await asyncio.sleep(delay)
            attempt += 1
            try:
                return await make_request(bot, method)
            except _PASSING as failed:
                exc = failed


def fit_to_limits(method: TelegramMethod[Any], bot: Bot) -> TelegramMethod[Any]:
    """THE one place that checks Telegram's size limits, for every outgoing request (direct replies and the
    Sender alike; :class:`OutgoingPolicy` applies it): ``method``, or a copy of it whose text or caption is cut.
    A text over 4,096 or a caption over 1,024 (counted as Telegram counts: the visible text after parsing, in
    UTF-16 units) is cut with "…" where it is visible, never inside a tag, instead of being refused with a 400
    and lost; a callback answer is kept within 200. A cut is logged (method and lengths, never the text): a
    message that is too long is a bug to fix where it is built."""
    if isinstance(method, (SendMessage, EditMessageText)):
        fixed = _fit(method, bot, "text", "entities", TEXT_LIMIT)
    elif isinstance(method, AnswerCallbackQuery):
        fixed = _fit(method, bot, "text", None, CALLBACK_ANSWER_LIMIT)
    elif isinstance(getattr(method, "caption", None), str):
        fixed = _fit(method, bot, "caption", "caption_entities", CAPTION_LIMIT)
    else:
        fixed = None
    return fixed or method


class OutgoingPolicy(BaseRequestMiddleware):
    """The bot session's one request middleware: what CommitBarrier (storage/fsm.py), the limits check,
    RetryAfterMiddleware and SkipUnparsableUpdates (bot/services/updates.py) do as four middlewares, in one
    frame. aiogram wraps the registered middlewares around every request anew, one call in another: four of
    them were ~2.5% of an update's CPU in process, for checks that are each one ``isinstance`` or less.

    A getUpdates is only parsed update by update when the batch fails (it shows the person nothing, has no
    text, and polling has its own back-off), and it leaves after the replies to the updates just received
    (:meth:`_after_replies`). Any other request first waits
    for the FSM commit holding every step made so far (``barrier``: nothing is sent before the step it answers
    is on disk; None when the storage writes before the handler goes on, as Redis does), is fitted to
    Telegram's limits, then is made with a direct reply's retries (``retry``; the Sender's own requests pass it
    untouched)."""

    def __init__(self, *, retry: RetryAfterMiddleware, updates: BaseRequestMiddleware,
                 barrier: Callable[[], Awaitable[None]] | None = None) -> None:
        self.retry = retry
        self.updates = updates
        self.barrier = barrier

    async def __call__(self, make_request, bot, method):
        if isinstance(method, GetUpdates):
            await self._after_replies()
            return await self.updates(make_request, bot, method)
        if self.barrier is not None:
            await self.barrier()
        return await self.retry(make_request, bot, fit_to_limits(method, bot))

    async def _after_replies(self) -> None:
        """The next long poll waits until the handlers of the updates just received (aiogram created their tasks
        before asking again) ran up to their first request, and for the commit of the steps they made meanwhile,
        so their replies are asked for first. aiohttp writes each request's body from a task of its own, in the
        order the requests were made, and a loopback write took ~0.35 ms on the machine measured: a poll asked
        first delayed every reply by that much (docs/performance.md, 'The order of writes at 100 updates/s').
        A failed commit is the waiting replies' error, not the poll's."""
        await asyncio.sleep(0)
        if self.barrier is not None:
            with suppress(Exception):
                await self.barrier()


def _fit(method: TelegramMethod, bot: Bot, field: str, entities_field: str | None, limit: int):
    """A copy of ``method`` with ``field`` within ``limit``, or None when it already fits."""
    text = getattr(method, field, None)
    if not isinstance(text, str) or len(text) * 2 <= limit or utf16_len(text) <= limit:
        return None  # the source fits, so what Telegram shows fits too (cheap: most texts stop here)
    entities = getattr(method, entities_field, None) if entities_field else None
    parse_mode = getattr(method, "parse_mode", None)
    if isinstance(parse_mode, Default):
        parse_mode = bot.default[parse_mode.name]
    if entities_field is None:
        update: dict[str, Any] = {field: fit_plain(text, limit)}
    elif entities:
        cut, kept = fit_entities(text, list(entities), limit)
        update = {field: cut, entities_field: kept}
    elif parse_mode and str(parse_mode).lower() == "html":
        update = {field: fit_html(text, limit)}
    elif parse_mode:  # Markdown: its visible length is not ours to count; the source is cut at a safe length
        return None
    else:
        update = {field: fit_plain(text, limit)}
    if update[field] == text:
        return None
    log.warning("%s: %s cut to Telegram's limit of %d (source %d characters)", type(method).__name__, field,
                limit, len(text))
    return method.model_copy(update=update)
