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
import itertools
import logging
import secrets
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

# Slots, reserved (GCRA, the generic cell rate algorithm): every limit is a key holding its "theoretical
# arrival time" (TAT, Redis time in µs): the earliest moment its next message may go, plus ``tolerance``
# (burst - 1 intervals) it may go early. KEYS[1] is the overall limit, the others the chat's (and group's).
# The next overall slot is reserved for a message only if its chat is ready by then: all its limits move
# past that slot at once, and the caller sleeps until it (``{1, wait}``). A chat not ready by the next
# overall slot reserves nothing (a reservation there would push the overall pointer past free slots) and
# comes back when, with the queue as it is, its slot would be the first it may use (``{0, wait}``): the
# chat's second and the wait in the overall queue overlap. No waiter polls, none loses a slot by waking
# late, and every instance's slots are spaced on one clock: in any second a limit passes at most
# rate + burst slots. ARGV: interval and tolerance (µs) for each key, in the order of KEYS.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tats = {}
for i, key in ipairs(KEYS) do
  tats[i] = tonumber(redis.call('GET', key)) or now
end
local slot = math.max(now, tats[1] - tonumber(ARGV[2]))
local ready = now
for i = 2, #KEYS do
  ready = math.max(ready, tats[i] - tonumber(ARGV[2 * i]))
end
if ready > slot then
  return {0, ready - slot}
end
for i, key in ipairs(KEYS) do
  local tat = math.max(tats[i], slot) + tonumber(ARGV[2 * i - 1])
  redis.call('SET', key, string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 60000)
end
return {1, slot - now}
"""

# A chat's next slot is ``seconds`` from now: its message was answered (the next one then reaches Telegram at
# least that long after this one did, whatever the network did to either request), or Telegram said 429
# (``retry_after``). This also ends the hold its reservation put on the chat (see RedisRateLimits).
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = now + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 60000)
return 0
"""


# The last check before a message goes out, on the moments messages are on their way (the slots above are
# when they may leave; a loaded machine wakes a sender late, or holds a request that passed this check for a
# while before it reaches Telegram, and a late one next to an on-time one would squeeze two slots into one of
# Telegram's seconds). KEYS[1]: a sorted set of messages on their way or answered lately. A message leaving is
# recorded with the score "in flight" (now + ARGV[4], the longest a request may take); when its answer comes
# (_LANDED) the score becomes that moment. Telegram counts a message when it arrives, which is between the
# two: so if at most ``cap`` messages are in flight or were answered within the last window when each one
# leaves, no window of Telegram's holds more than ``cap``, however late any request went out or arrived.
# ARGV: window (µs), cap, a unique member, in-flight hold (µs), the chat's hold (µs). Records the member and
# returns 0 while fewer than ``cap`` are counted, else returns how long to wait (µs). Waiting here, the message
# keeps its chat (KEYS[2]) held, so no instance reserves the chat meanwhile however long the wait.
_LEAVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window, cap = tonumber(ARGV[1]), tonumber(ARGV[2])
local held = now + tonumber(ARGV[5])
if (tonumber(redis.call('GET', KEYS[2])) or 0) < held then
  redis.call('SET', KEYS[2], string.format('%.0f', held), 'PX', math.ceil(tonumber(ARGV[5]) / 1000) + 60000)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - window))
if redis.call('ZCARD', KEYS[1]) >= cap then
  local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
  return math.max(1000, math.min(oldest + window - now, 50000))
end
redis.call('ZADD', KEYS[1], string.format('%.0f', now + tonumber(ARGV[4])), ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil((window + tonumber(ARGV[4])) / 1000) + 1000)
return 0
"""

# A chat's pause (_PAUSE) when the answer to its message on its way came: that message counts from now for
# one more window (see _LEAVE). KEYS: the chat's key, the set; ARGV: the pause (µs), the member (a member
# already gone, after its in-flight hold, is not added again).
_ANSWERED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = now + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 60000)
redis.call('ZADD', KEYS[2], 'XX', string.format('%.0f', now), ARGV[2])
return 0
"""


class RedisRateLimits:
    """Telegram's limits for every instance of one bot (bot.domain.ports.SharedRateLimiter).

    Defaults keep under Telegram's ceilings with room for network jitter and for direct replies, which do not
    pass here: 25 messages/s overall (one slot every 40 ms: at most 26 in any second), and at most
    ``max_in_any_second`` (28) reaching Telegram in any second however late senders wake or requests travel
    (a message counts from the moment it leaves until a second after its answer: _LEAVE); a group 19 a
    minute (at most 20 in any minute). A chat: its slot holds it for ``chat_hold`` seconds, until the message is
    answered (:meth:`sent`: the next slot a full ``chat_gap_after_answer`` second later): two instances with
    messages for one chat never send them closer than that, however late either request goes out.
    """

    def __init__(self, redis: Redis, bot_id: int, *, per_second: float = 25.0, burst: int = 1,
                 chat_hold: float = 3.0, chat_gap_after_answer: float = 1.0,
                 group_per_minute: float = 19.0, max_in_any_second: int = 28, in_flight_hold: float = 30.0) -> None:
        self.redis = redis
        self.max_in_any_second = max_in_any_second
        self.in_flight_hold = int(in_flight_hold * 1_000_000)
        self._flying: dict[int, str] = {}  # chat -> its message on its way (one at a time: the Sender's chat lock)
        self._left = itertools.count()
        self.prefix = f"{PREFIX}:rate:{bot_id}"
        self.overall = self._limit(1.0 / per_second, burst)
        self.chat = self._limit(chat_hold, 1)
        self.gap_after_answer = chat_gap_after_answer
        self.group = self._limit(60.0 / group_per_minute, 1)
        self._take = redis.register_script(_TAKE)
        self._pause = redis.register_script(_PAUSE)
        self._leave = redis.register_script(_LEAVE)
        self._answered = redis.register_script(_ANSWERED)
        self._tag = secrets.token_hex(4)

    @staticmethod
    def _limit(interval: float, burst: int) -> tuple[int, int]:
        """(interval, tolerance) in µs."""
        step = int(interval * 1_000_000)
        return step, step * (max(1, burst) - 1)

    def _buckets(self, chat_id: int) -> tuple[list[str], list[int]]:
        keys = [f"{self.prefix}:all", f"{self.prefix}:chat:{chat_id}"]
        args = [*self.overall, *self.chat]
        if chat_id < 0:
            keys.append(f"{self.prefix}:group:{chat_id}")
            args.extend(self.group)
        return keys, args

    async def acquire(self, chat_id: int) -> None:
        keys, args = self._buckets(chat_id)
        while True:
            reserved, wait_us = (int(x) for x in await self._take(keys=keys, args=args))
            if wait_us > 0:
                await asyncio.sleep(wait_us / 1_000_000)
            if reserved:
                break
        member = f"{self._tag}:{next(self._left)}"
        while True:  # the slot has come: the last check, on the messages really on their way
            wait_us = int(await self._leave(keys=[f"{self.prefix}:left", keys[1]], args=[
                1_000_000, self.max_in_any_second, member, self.in_flight_hold, self.chat[0]]))
            if wait_us <= 0:
                self._flying[chat_id] = member
                return
            await asyncio.sleep(wait_us / 1_000_000)

    async def pause(self, chat_id: int, seconds: float) -> None:
        """Also: the chat's message on its way was answered (it counts a window from now)."""
        member = self._flying.pop(chat_id, None)
        if member is None:
            await self._pause(keys=[f"{self.prefix}:chat:{chat_id}"], args=[int(seconds * 1_000_000)])
        else:
            await self._answered(keys=[f"{self.prefix}:chat:{chat_id}", f"{self.prefix}:left"],
                                 args=[int(seconds * 1_000_000), member])

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
