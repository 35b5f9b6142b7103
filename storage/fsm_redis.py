"""aiogram FSM storage on Redis, for several instances of the bot (REDIS_URL): aiogram's RedisStorage, plus
the upkeep the SQLite storage (storage/fsm.py) has.

* Keys: ``shagym:fsm:<bot>:<chat>:<user>:<destiny>:state|data`` (aiogram's DefaultKeyBuilder), JSON data.
* Every write also records when the conversation was last touched (one sorted set, the bot's clock), in the
  same MULTI/EXEC: :meth:`purge` deletes drafts untouched for DRAFT_TTL_DAYS, as it does on SQLite.
* Durability: each write is acknowledged by Redis before the handler goes on, so no answer can leave before
  the step it answers is stored (what CommitBarrier ensures on SQLite). With ``appendfsync always`` (checked
  at start, storage/redis.py) "stored" means in the append-only file on disk.
* Event isolation across instances: ``create_isolation(lease=)`` (:class:`LeasedEventIsolation`, a Redis lock
  per conversation) — two updates of one person never run at once, whichever instances they reach. The lock
  is a lease renewed while its update runs, so a killed instance frees the conversation after one lease
  (UPDATE_LEASE_SECONDS), not after aiogram's fixed 60 s (its retried update would wait that long).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any, Callable, Mapping

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import DefaultKeyBuilder, KeyBuilder, StateType, StorageKey
from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage
from redis.asyncio import Redis

from bot.domain.clock import Clock
from bot.domain.leases import renewing

__all__ = ["LeasedEventIsolation", "RedisFSM"]

PREFIX = "shagym:fsm"

# Drafts to purge, atomically per conversation: still untouched since the cutoff and still in a state under
# the prefix. KEYS[1]: the sorted set; ARGV: cutoff (epoch seconds), state prefix, then conversation keys.
_PURGE = """
local purged, removed = 0, 0
for i = 3, #ARGV do
  local conv = ARGV[i]
  local score = tonumber(redis.call('ZSCORE', KEYS[1], conv))
  if score and score < tonumber(ARGV[1]) then
    local state = redis.call('GET', conv .. ':state')
    if state and string.sub(state, 1, string.len(ARGV[2])) == ARGV[2] then
      redis.call('DEL', conv .. ':state', conv .. ':data')
      redis.call('ZREM', KEYS[1], conv)
      purged, removed = purged + 1, removed + 1
    elseif not state and redis.call('EXISTS', conv .. ':data') == 0 then
      redis.call('ZREM', KEYS[1], conv)
      removed = removed + 1
    end
  end
end
return {purged, removed}
"""


class LeasedEventIsolation(RedisEventIsolation):
    """One Redis lock per conversation, held as a lease: it expires ``lease`` seconds after its holder stops
    renewing it (renewed every third of that while the update runs), so a dead instance blocks nobody for
    long and a slow update is never overtaken."""

    def __init__(self, redis: Redis, key_builder: KeyBuilder, *, lease: float) -> None:
        super().__init__(redis, key_builder=key_builder, lock_kwargs={"timeout": lease})
        self.lease = lease

    @contextlib.asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncIterator[None]:
        async with self.redis.lock(name=self.key_builder.build(key, "lock"), timeout=self.lease) as held:
            # each renewal sets the lock's time to live back to a whole lease
            async with renewing(held.reacquire, timedelta(seconds=self.lease)):
                yield None


class RedisFSM(RedisStorage):
    def __init__(self, redis: Redis, *, now: Callable[[], datetime] | None = None, prefix: str = PREFIX) -> None:
        super().__init__(
            redis,
            key_builder=DefaultKeyBuilder(prefix=prefix, with_bot_id=True, with_destiny=True),
            json_dumps=partial(json.dumps, ensure_ascii=False, separators=(",", ":")),
        )
        self._now = now or Clock().now
        self._touched = f"{prefix}:touched"
        self._purge = redis.register_script(_PURGE)

    def create_isolation(self, lease: float = 60.0, **_: Any) -> LeasedEventIsolation:
        """The conversation lock as a lease of ``lease`` seconds (UPDATE_LEASE_SECONDS)."""
        return LeasedEventIsolation(self.redis, self.key_builder, lease=lease)

    def _stamp(self) -> float:
        return self._now().astimezone(timezone.utc).timestamp()

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        async with self.redis.pipeline(transaction=True) as pipe:
            if value is None:
                pipe.delete(self.key_builder.build(key, "state"))
            else:
                pipe.set(self.key_builder.build(key, "state"), value)
            pipe.zadd(self._touched, {self.key_builder.build(key): self._stamp()})
            await pipe.execute()

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if not isinstance(data, Mapping):
            raise TypeError(f"data must be a Mapping, not {type(data).__name__}")
        async with self.redis.pipeline(transaction=True) as pipe:
            if data:
                pipe.set(self.key_builder.build(key, "data"), self.json_dumps(dict(data)))
            else:
                pipe.delete(self.key_builder.build(key, "data"))
            pipe.zadd(self._touched, {self.key_builder.build(key): self._stamp()})
            await pipe.execute()

    async def _conversations_of(self, user_id: int) -> list[tuple[str, float]]:
        """The conversation keys of ``user_id`` (any chat, any destiny) and when each was last written."""
        found: list[tuple[str, float]] = []
        async for member, score in self.redis.zscan_iter(self._touched, match=f"*:{user_id}:*", count=1000):
            conv = member.decode() if isinstance(member, bytes) else str(member)
            if conv.split(":")[-2] == str(user_id):  # <prefix>:<bot>:<chat>:<user>:<destiny>
                found.append((conv, float(score)))
        return found

    async def conversations(self, user_id: int) -> list[tuple[str | None, dict[str, Any], datetime | None]]:
        """Every conversation of ``user_id`` (state, data, last change): what /mydata shows."""
        out: list[tuple[str | None, dict[str, Any], datetime | None]] = []
        for conv, stamp in await self._conversations_of(user_id):
            state, data = await self.redis.mget(f"{conv}:state", f"{conv}:data")
            if state is None and data is None:
                continue
            out.append((state.decode() if isinstance(state, bytes) else state,
                        json.loads(data) if data else {}, datetime.fromtimestamp(stamp, timezone.utc)))
        return out

    async def forget(self, user_id: int) -> int:
        """Delete every conversation of ``user_id`` (their erasure, /forget); returns how many there were.
        (Redis frees the memory; what the append-only file still holds goes at its next rewrite.)"""
        n = 0
        for conv, _ in await self._conversations_of(user_id):
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(f"{conv}:state", f"{conv}:data")
                pipe.zrem(self._touched, conv)
                deleted, _removed = await pipe.execute()
            n += 1 if deleted else 0
        return n

    async def purge(self, older_than: datetime, state_prefix: str, *, batch: int = 500) -> int:
        """Delete conversations in a state starting with ``state_prefix`` untouched since ``older_than``
        (conversations with nothing left in them are dropped from the sorted set on the way)."""
        cutoff = older_than.astimezone(timezone.utc).timestamp()
        purged, offset = 0, 0
        while True:
            stale = await self.redis.zrangebyscore(self._touched, "-inf", f"({cutoff}", start=offset, num=batch)
            if not stale:
                return purged
            n_purged, n_removed = await self._purge(keys=[self._touched], args=[cutoff, state_prefix, *stale])
            purged += int(n_purged)
            offset += len(stale) - int(n_removed)  # what stays (other states) is skipped next time
