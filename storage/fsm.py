"""aiogram FSM storage on the project's SQLite file, with group commit.

Why not one commit per write: every aiosqlite call is a hop to its worker thread (45-90 µs) and a commit
per write caps the bot at ~900 updates/s (../shared/PERFORMANCE.md). Here:

* reads come from an in-memory cache (LRU over keys; a miss reads the row once);
* a write updates the cache, joins the *current batch* and waits until that batch is committed; one
  flusher commits each batch as a single transaction (executemany + COMMIT), so concurrent updates share a
  commit (group commit);
* therefore when `set_state`/`set_data` returns, the step is on disk: a handler answers the user only
  after the commit that holds their step. With WAL + synchronous=NORMAL a committed step survives a crash
  of the process; an OS crash or power cut can lose the last few commits.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

import aiosqlite
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey

from storage.db import connect

log = logging.getLogger(__name__)

_UPSERT = (
    "INSERT INTO fsm (key, user_id, state, data, updated_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT(key) DO UPDATE SET state = excluded.state, data = excluded.data,"
    " updated_at = excluded.updated_at"
)
_DELETE = "DELETE FROM fsm WHERE key = ?"
_EMPTY = "{}"


def storage_key(key: StorageKey) -> str:
    return ":".join(
        str(part) if part is not None else ""
        for part in (key.bot_id, key.chat_id, key.user_id, key.thread_id, key.business_connection_id, key.destiny)
    )


class SQLiteStorage(BaseStorage):
    def __init__(self, conn: aiosqlite.Connection, *, cache_size: int = 50_000) -> None:
        self._conn = conn
        self._cache: OrderedDict[str, tuple[str | None, str]] = OrderedDict()
        self._cache_size = cache_size
        self._pending: dict[str, tuple[int | None, str | None, str]] = {}
        self._batch: asyncio.Future[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    async def open(cls, path, **kwargs) -> "SQLiteStorage":
        """Its own connection to the same database file (the table comes from the migrations)."""
        return cls(await connect(path), **kwargs)

    # --- aiogram BaseStorage -------------------------------------------------------------------

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        _, data = await self._load(key)
        await self._write(key, value, data)

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self._load(key))[0]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if not isinstance(data, Mapping):
            raise TypeError(f"data must be a Mapping, not {type(data).__name__}")
        state, _ = await self._load(key)
        await self._write(key, state, json.dumps(dict(data), ensure_ascii=False, separators=(",", ":")))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return json.loads((await self._load(key))[1])

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._flusher is not None:
            await asyncio.shield(self._flusher)
        await self._conn.close()

    # --- maintenance ---------------------------------------------------------------------------

    async def purge(self, older_than: datetime, state_prefix: str) -> int:
        """Delete conversations in a state starting with `state_prefix` untouched since `older_than`."""
        cutoff = older_than.astimezone(timezone.utc).isoformat(timespec="seconds")
        await self.flush()
        rows = await self._conn.execute_fetchall(
            "DELETE FROM fsm WHERE updated_at < ? AND state LIKE ? RETURNING key", (cutoff, state_prefix + "%")
        )
        for (key,) in rows:
            self._cache.pop(key, None)
        return len(rows)

    async def flush(self) -> None:
        """Wait until every write made so far is committed."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)

    # --- internals -----------------------------------------------------------------------------

    async def _load(self, key: StorageKey) -> tuple[str | None, str]:
        skey = storage_key(key)
        entry = self._cache.get(skey)
        if entry is not None:
            self._cache.move_to_end(skey)
            return entry
        async with self._conn.execute("SELECT state, data FROM fsm WHERE key = ?", (skey,)) as cursor:
            row = await cursor.fetchone()
        entry = self._cache.get(skey)  # a write may have landed while we read
        if entry is None:
            entry = (row[0], row[1]) if row else (None, _EMPTY)
            self._remember(skey, entry)
        return entry

    def _remember(self, skey: str, entry: tuple[str | None, str]) -> None:
        self._cache[skey] = entry
        self._cache.move_to_end(skey)
        while len(self._cache) > self._cache_size:
            oldest = next(iter(self._cache))
            if oldest in self._pending:  # never evict what is not on disk yet
                break
            del self._cache[oldest]

    async def _write(self, key: StorageKey, state: str | None, data: str) -> None:
        if self._closed:
            raise RuntimeError("FSM storage is closed")
        skey = storage_key(key)
        self._remember(skey, (state, data))
        self._pending[skey] = (key.user_id, state, data)
        if self._batch is None:
            self._batch = asyncio.get_running_loop().create_future()
        batch = self._batch
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop())
        await asyncio.shield(batch)

    async def _flush_loop(self) -> None:
        while self._pending:
            pending, self._pending = self._pending, {}
            batch, self._batch = self._batch, None
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            upserts = [(k, uid, st, data, now) for k, (uid, st, data) in pending.items() if st or data != _EMPTY]
            deletes = [(k,) for k, (_, st, data) in pending.items() if not st and data == _EMPTY]
            try:
                await self._conn.execute("BEGIN IMMEDIATE")
                if upserts:
                    await self._conn.executemany(_UPSERT, upserts)
                if deletes:
                    await self._conn.executemany(_DELETE, deletes)
                await self._conn.execute("COMMIT")
            except Exception as exc:  # the writers of this batch see the failure; nothing is acknowledged
                log.exception("FSM batch commit failed (%d keys)", len(pending))
                try:
                    await self._conn.execute("ROLLBACK")
                except Exception:
                    pass
                for k in pending:  # the cache must not claim what the disk does not have
                    self._cache.pop(k, None)
                if batch is not None and not batch.done():
                    batch.set_exception(exc)
                    batch.exception()  # retrieved: writers re-raise it
            else:
                if batch is not None and not batch.done():
                    batch.set_result(None)


def age_cutoff(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)
