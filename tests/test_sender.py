"""Sender against the fake Bot API over loopback HTTP: limits, 429, 403, 400, network failures."""

from __future__ import annotations

import asyncio
import time

from aiogram.methods import SendMessage

from bot.services.sender import Sender
from tests.fakeapi import running_fake


def peak_per_second(times: list[float]) -> int:
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while t - times[j] >= 1.0:
            j += 1
        best = max(best, i - j + 1)
    return best


async def test_global_rate_respected_without_429():
    async with running_fake(rate_limit_per_second=30, per_chat_limit=True) as fake:
        users = [fake.user(10_000 + i) for i in range(120)]
        async with fake.make_bot() as bot:
            sender = Sender(bot, global_per_second=25)
            t0 = time.monotonic()
            results = await asyncio.gather(*(sender.send_message(u.id, f"m{u.id}") for u in users))
            elapsed = time.monotonic() - t0
        assert all(r.ok for r in results)
        assert fake.count_429 == 0
        ok = [c.at for c in fake.calls_of("sendMessage") if c.ok]
        assert len(ok) == 120
        assert peak_per_second(ok) <= 27
        assert elapsed >= 119 / 25 - 0.2  # the limiter really spaced them
        assert len(ok) / elapsed > 20  # ...and did not crawl


async def test_per_chat_spacing():
    async with running_fake(per_chat_limit=True) as fake:
        fake.user(501)
        async with fake.make_bot() as bot:
            sender = Sender(bot, global_per_second=100)
            results = await asyncio.gather(*(sender.send_message(501, f"n{i}") for i in range(3)))
        assert all(r.ok for r in results)
        assert fake.count_429 == 0
        at = [c.at for c in fake.calls_of("sendMessage", chat_id=501)]
        assert len(at) == 3
        assert all(b - a >= 1.0 for a, b in zip(at, at[1:], strict=False))


async def test_retry_after_keeps_the_message():
    async with running_fake() as fake:
        fake.user(601)
        fake.fail_next("sendMessage", chat_id=601, error_code=429, retry_after=1)
        async with fake.make_bot() as bot:
            sender = Sender(bot)
            t0 = time.monotonic()
            result = await sender.send(SendMessage(chat_id=601, text="hello"), chat_id=601)
        assert result.ok and result.attempts == 1
        assert time.monotonic() - t0 >= 1.0
        calls = fake.calls_of("sendMessage", chat_id=601)
        assert [c.status for c in calls] == [429, 200]
        assert [m.text for m in fake.messages_in(601)] == ["hello"]


async def test_long_retry_after_is_handed_back():
    async with running_fake() as fake:
        fake.user(602)
        fake.fail_next("sendMessage", chat_id=602, error_code=429, retry_after=120)
        async with fake.make_bot() as bot:
            result = await Sender(bot, max_retry_after_wait=60).send_message(602, "x")
        assert not result.ok and result.retryable and result.retry_after == 120


async def test_forbidden_calls_hook_and_stops():
    seen: list[int] = []

    async def on_forbidden(chat_id: int) -> None:
        seen.append(chat_id)

    async with running_fake() as fake:
        fake.user(701)
        fake.block(701)
        async with fake.make_bot() as bot:
            result = await Sender(bot, on_forbidden=on_forbidden).send_message(701, "x")
        assert result.forbidden and not result.ok and not result.retryable
        assert seen == [701]
        assert len(fake.calls_of("sendMessage", chat_id=701)) == 1


async def test_bad_request_fails_at_once():
    async with running_fake() as fake:
        fake.user(801)
        async with fake.make_bot() as bot:
            sender = Sender(bot, backoff_base=0.01)
            bad_html = await sender.send_message(801, "<b>unclosed", parse_mode="HTML")
            unknown_chat = await sender.send_message(999_999, "x")
        assert not bad_html.ok and not bad_html.retryable and "TelegramBadRequest" in bad_html.error
        assert "<b>" not in bad_html.error  # no message text in the recorded error
        assert not unknown_chat.ok and not unknown_chat.retryable
        assert len(fake.calls_of("sendMessage")) == 2


async def test_server_errors_retry_bounded_then_fail():
    async with running_fake() as fake:
        fake.user(901)
        fake.fail_next("sendMessage", chat_id=901, error_code=500, times=3)
        async with fake.make_bot() as bot:
            sender = Sender(bot, max_attempts=3, backoff_base=0.01)
            failed = await sender.send_message(901, "x")
            assert not failed.ok and failed.retryable and failed.attempts == 3
            assert len(fake.calls_of("sendMessage", chat_id=901)) == 3
            # Recovers by itself when the server does: fewer failures than attempts.
            fake.fail_next("sendMessage", chat_id=901, error_code=502, times=2)
            ok = await sender.send_message(901, "y")
            assert ok.ok and ok.attempts == 3


async def test_network_down_is_recorded_not_raised():
    async with running_fake() as fake:
        fake.user(902)
        bot = fake.make_bot()
        try:
            await fake.stop()  # connection refused from now on
            sender = Sender(bot, max_attempts=3, backoff_base=0.01, per_chat_per_second=50)
            result = await sender.send_message(902, "x")
        finally:
            await bot.session.close()
        assert not result.ok and result.retryable and result.attempts == 3
        assert "TelegramNetworkError" in result.error
