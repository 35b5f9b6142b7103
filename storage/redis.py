"""Redis for several instances of the bot: Telegram's limits shared by all of them, and the ledger of
updates handled (webhook mode). The conversation state on Redis is storage/fsm_redis.py.

Both keep their clock in Redis (``TIME`` inside a Lua script): instances on several machines never disagree
about "one second" or "the lease has expired", whatever their own clocks say. Each script is one atomic step.

Durability (docs/deploy.md): run Redis with ``appendonly yes`` and ``appendfsync always``: every write is in
the append-only file before Redis answers it, so a step a person saw survives a crash of Redis too.
:func:`durability_problem` checks it at start (REDIS_DURABILITY=strict).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from bot.domain.ports import LeaseOutcome
from storage.leases import instance_id

log = logging.getLogger(__name__)

__all__ = ["RedisRateLimits", "RedisUpdateLedger", "connect", "durability_problem", "ping"]

PREFIX = "shagym"


def connect(url: str) -> Redis:
    """One client (a connection pool) per process, shared by the FSM, the limiter and the ledger."""
    return Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30)


async def ping(redis: Redis) -> None:
    """Raises unless Redis answers."""
    await cast(Awaitable[bool], redis.ping())  # redis-py types ping() for its sync and async clients at once


async def durability_problem(redis: Redis) -> str | None:
    """None when Redis keeps every write on disk before answering it (appendonly yes, appendfsync always);
    otherwise what is wrong, in one line."""
    try:
        appendonly = await redis.config_get("appendonly")
        appendfsync = await redis.config_get("appendfsync")
    except ResponseError as exc:  # CONFIG renamed or disabled (a managed Redis)
        return (f"cannot read its persistence settings ({exc}); check appendonly yes and appendfsync always "
                "yourself and set REDIS_DURABILITY=relaxed")
    got = {**_text(appendonly), **_text(appendfsync)}
    if got.get("appendonly") == "yes" and got.get("appendfsync") == "always":
        return None
    return (f"Redis must run with appendonly yes and appendfsync always, so that a step a person saw survives a "
            f"crash (got appendonly {got.get('appendonly')}, appendfsync {got.get('appendfsync')}); or set "
            "REDIS_DURABILITY=relaxed to accept losing the last second of conversation steps")


def _text(config: dict[Any, Any]) -> dict[str, str]:
    return {(k.decode() if isinstance(k, bytes) else str(k)): (v.decode() if isinstance(v, bytes) else str(v))
            for k, v in config.items()}


# --------------------------------------------------------------------------------------- rate limits

# Token buckets, all or nothing: a message takes one token from every bucket of its chat, or none and learns
# how long to wait (microseconds). Bucket: hash {t: tokens, at: Redis time in µs}. ARGV: rate per second and
# capacity for each key, in the order of KEYS. A bucket's busiest second holds capacity + rate messages.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local wait = 0
local have = {}
for i, key in ipairs(KEYS) do
  local rate, cap = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local b = redis.call('HMGET', key, 't', 'at')
  local tokens, at = tonumber(b[1]), tonumber(b[2])
  if tokens == nil or at == nil then tokens, at = cap, now end
  tokens = math.min(cap, tokens + math.max(0, now - at) * rate / 1000000)
  have[i] = tokens
  if tokens < 1 then wait = math.max(wait, math.ceil((1 - tokens) * 1000000 / rate)) end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local rate, cap = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  redis.call('HSET', key, 't', tostring(have[i] - 1), 'at', tostring(now))
  redis.call('PEXPIRE', key, math.ceil(cap * 1000 / rate) + 60000)
end
return 0
"""

# A chat waits: its bucket goes below zero so that it refills only ``seconds`` from now (never sooner than it
# would anyway). After a send completed (the next message to the chat then reaches Telegram at least that long
# after this one did, whatever the network did to either request), and after a 429 (Telegram's retry_after).
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate, seconds = tonumber(ARGV[1]), tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens, at = tonumber(b[1]), tonumber(b[2])
local wanted = 1 - seconds * rate
if tokens ~= nil and at ~= nil then
  wanted = math.min(wanted, math.min(1, tokens + math.max(0, now - at) * rate / 1000000))
end
redis.call('HSET', KEYS[1], 't', tostring(wanted), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(seconds * 1000) + 60000)
return 0
"""


class RedisRateLimits:
    """Telegram's limits for every instance of one bot (bot.domain.ports.SharedRateLimiter).

    Defaults keep under Telegram's ceilings with room for network jitter and for direct replies, which do not
    pass here: 25 messages/s overall (bucket of 1: at most 26 in any second), a chat slightly under 1/s (one
    message per 1.1 s, and a full second after the previous one was answered: :meth:`sent`), a group 19 a
    minute after a first one (at most 20 in any minute).
    """

    def __init__(self, redis: Redis, bot_id: int, *, per_second: float = 25.0, burst: int = 1,
                 chat_interval: float = 1.1, chat_gap_after_answer: float = 1.0,
                 group_per_minute: float = 19.0) -> None:
        self.redis = redis
        self.prefix = f"{PREFIX}:rate:{bot_id}"
        self.overall = (per_second, float(burst))
        self.chat = (1.0 / chat_interval, 1.0)
        self.gap_after_answer = chat_gap_after_answer
        self.group = (group_per_minute / 60.0, 1.0)
        self._take = redis.register_script(_TAKE)
        self._pause = redis.register_script(_PAUSE)

    def _buckets(self, chat_id: int) -> tuple[list[str], list[float]]:
        keys = [f"{self.prefix}:all", f"{self.prefix}:chat:{chat_id}"]
        args = [*self.overall, *self.chat]
        if chat_id < 0:
            keys.append(f"{self.prefix}:group:{chat_id}")
            args.extend(self.group)
        return keys, args

    async def acquire(self, chat_id: int) -> None:
        keys, args = self._buckets(chat_id)
        while True:
            wait_us = int(await self._take(keys=keys, args=args))
            if wait_us <= 0:
                return
            await asyncio.sleep(wait_us / 1_000_000)

    async def pause(self, chat_id: int, seconds: float) -> None:
        await self._pause(keys=[f"{self.prefix}:chat:{chat_id}"], args=[self.chat[0], seconds])

    async def sent(self, chat_id: int) -> None:
        await self.pause(chat_id, self.gap_after_answer)


# --------------------------------------------------------------------------------------- the ledger

# KEYS[1]: the update's key. ARGV: owner, lease (ms), how long to remember the update (s).
# Value: "done", or "lease:<owner>:<expiry in Redis ms>". The key itself lives ARGV[3] seconds either way, so
# a lease that expired is still seen, and the next attempt knows it replays one that died mid-way.
_CLAIM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('GET', KEYS[1])
local outcome = 'new'
if v then
  if v == 'done' then return 'done' end
  local expiry = tonumber(string.match(v, ':(%d+)$'))
  if expiry and expiry > now then return 'busy' end
  outcome = 'replay'
end
redis.call('SET', KEYS[1], 'lease:' .. ARGV[1] .. ':' .. (now + tonumber(ARGV[2])), 'EX', ARGV[3])
return outcome
"""

_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local mine = 'lease:' .. ARGV[1] .. ':'
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, string.len(mine)) == mine then
  redis.call('SET', KEYS[1], mine .. (now + tonumber(ARGV[2])), 'KEEPTTL')
  return 1
end
return 0
"""

_RELEASE = """
local mine = 'lease:' .. ARGV[1] .. ':'
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, string.len(mine)) == mine then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisUpdateLedger:
    """The updates every instance handled (bot.domain.ports.UpdateLedger): an update is handled by one
    instance at a time (a lease, renewed while it runs) and once ("done", remembered for a day)."""

    def __init__(self, redis: Redis, bot_id: int, *, owner: str | None = None, lease_seconds: float = 30.0,
                 keep_seconds: int = 86_400) -> None:
        self.redis = redis
        self.prefix = f"{PREFIX}:upd:{bot_id}"
        self.owner = owner or instance_id()
        self.lease_ms = int(lease_seconds * 1000)
        self.keep_seconds = keep_seconds
        self._claim = redis.register_script(_CLAIM)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    @property
    def lease_seconds(self) -> float:
        return self.lease_ms / 1000

    def _key(self, update_id: int) -> str:
        return f"{self.prefix}:{update_id}"

    async def claim(self, update_id: int) -> LeaseOutcome:
        outcome = await self._claim(keys=[self._key(update_id)], args=[self.owner, self.lease_ms, self.keep_seconds])
        text = outcome.decode() if isinstance(outcome, bytes) else str(outcome)
        if text not in ("new", "replay", "busy", "done"):
            raise RuntimeError(f"unexpected ledger answer {text!r}")
        return cast(LeaseOutcome, text)

    async def renew(self, update_id: int) -> None:
        await self._renew(keys=[self._key(update_id)], args=[self.owner, self.lease_ms])

    async def done(self, update_id: int) -> None:
        await self.redis.set(self._key(update_id), "done", ex=self.keep_seconds)

    async def release(self, update_id: int) -> None:
        await self._release(keys=[self._key(update_id)], args=[self.owner])
