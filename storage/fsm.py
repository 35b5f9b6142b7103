"""aiogram FSM storage on the project's database: group commit, and nothing leaves the bot uncommitted.

:class:`GroupCommitStorage` is the machinery (cache, batches, the barrier); :class:`SQLiteStorage` commits to
the SQLite file, storage/pg/fsm.py's ``PgStorage`` to PostgreSQL (the same promise, see its docstring).

Why not one commit per write: every aiosqlite call is a hop to its worker thread (45-90 µs) and a commit
per write caps the bot at ~900 updates/s (docs/performance.md, 'aiosqlite thread hops'). Here:

* reads come from an in-memory cache (LRU over keys; a miss reads the row once);
* a write updates the cache and joins the *current batch*; one flusher task commits each batch as ONE
  statement on the event loop itself (plain sqlite3, ~0.2 ms for 50 rows). A worker thread was measured
  2x slower: each batch waited for the GIL hand-off and a full loop iteration. The loop never waits for a
  lock: the connection has no busy timeout, and a busy database is retried after an async back-off (a
  blocking wait could deadlock with an aiosqlite transaction that needs the loop to finish);
* `barrier()` waits for the batch holding every write made so far. The bot's session calls it before every
  Telegram request (bot.services.sender.OutgoingPolicy; `CommitBarrier` does it alone): the person never
  sees an answer to a step that is not on disk. A step that sends nothing is committed a few milliseconds later.

Durability: WAL + synchronous=NORMAL, so a committed step survives a crash of the process; an OS crash or a
power cut can lose the last commits. A batch that fails to commit fails every send waiting on it (the error
handler apologises) and drops those keys from the cache, so memory never claims what the disk lacks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from abc import abstractmethod
from collections import OrderedDict
from collections.abc import Hashable
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

import orjson
from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, StateType, StorageKey
from aiogram.methods import GetUpdates, Response, TelegramMethod
from aiogram.methods.base import TelegramType

from bot.domain.clock import Clock
from storage.db import PRAGMAS

log = logging.getLogger(__name__)

_T = TypeVar("_T")

# A whole batch is ONE statement over a JSON array: one implicit transaction, and the SQLite thread takes
# the GIL back once per batch instead of once per row (per-row hand-offs cost ~5 ms each under load).
_UPSERT = (
    "INSERT INTO fsm (key, user_id, state, data, updated_at)"
    " SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, ? FROM json_each(?) WHERE true"
    " ON CONFLICT(key) DO UPDATE SET state = excluded.state, data = excluded.data,"
    " updated_at = excluded.updated_at"
)
_DELETE = "DELETE FROM fsm WHERE key IN (SELECT value FROM json_each(?))"
_EMPTY = "{}"
#: How long a commit waits for another connection's write transaction before it fails.
BUSY_PATIENCE = 10.0
#: Rows one purge statement deletes (storage/fsm.py SQLiteStorage.purge).
PURGE_BATCH = 500

#: A conversation row as a batch writes it: key, user id, state, data (JSON text).
Row = tuple[str, int | None, str | None, str]


def _dumps(value: Any) -> str:
    """Compact JSON text, non-ASCII as is (what ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))``
    writes), by orjson: a wizard draft is written at every step and read at the next one."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def storage_key(key: StorageKey) -> str:
    """bot:chat:user:thread:business connection:destiny, an optional part that is None as empty (every FSM read
    and write makes one: formatted at once, not joined from a generator)."""
    thread, business = key.thread_id, key.business_connection_id
    return f"{key.bot_id}:{key.chat_id}:{key.user_id}:{'' if thread is None else thread}:" \
           f"{'' if business is None else business}:{key.destiny}"


class GroupCommitStorage(BaseStorage):
    """The cache, the batches and the barrier; a backend supplies ``_fetch``, ``_store``, ``_delete_idle``
    and ``_release``.

    ``shared``: other instances write the same rows (PostgreSQL), so nothing is cached beyond this instance's
    own writes until they are committed: every other read goes to the database."""

    shared = False

    def __init__(self, *, cache_size: int = 50_000, now: Callable[[], datetime] | None = None) -> None:
        self._now = now or Clock().now
        self._committing: dict[str, tuple[int | None, str | None, str]] = {}
        self._cache: OrderedDict[str, tuple[str | None, str]] = OrderedDict()
        self._cache_size = cache_size
        self._pending: dict[str, tuple[int | None, str | None, str]] = {}
        self._batch: asyncio.Future[None] | None = None  # collecting writes
        self._inflight: asyncio.Future[None] | None = None  # being committed
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False
        #: Called with the seconds each batch took to commit (the metrics' FSM commit latency), if set.
        self.on_commit: Callable[[float], None] | None = None

    # --- the backend ---------------------------------------------------------------------------

    @abstractmethod
    async def _fetch(self, skey: str) -> tuple[str | None, str] | None:
        """The stored (state, data JSON) of a key, or None."""

    @abstractmethod
    async def _store(self, upserts: list[Row], deletes: list[str], now: datetime) -> None:
        """Commit a batch at once: the rows with a state or data upserted, the emptied keys deleted."""

    @abstractmethod
    async def _delete_idle(self, older_than: datetime, pattern: str, limit: int) -> list[str]:
        """Delete up to ``limit`` rows whose state is LIKE ``pattern``, untouched since ``older_than``; their
        keys."""

    @abstractmethod
    async def _release(self) -> None:
        """Close the connection (after the last batch)."""

    @abstractmethod
    async def _user_rows(self, user_id: int) -> list[tuple[str | None, str, datetime | None]]:
        """The (state, data JSON, last change) of every stored conversation of ``user_id``."""

    @abstractmethod
    async def _forget_user(self, user_id: int) -> list[str]:
        """Delete every stored conversation of ``user_id``; their keys."""

    # --- aiogram BaseStorage -------------------------------------------------------------------

    # Every read below takes the conversation from :meth:`_at_once` when it is in memory (or, SQLite, read on
    # the loop), awaiting :meth:`_fetched` only otherwise: a cache hit was a coroutine call (``_load``) more
    # per FSM operation (~5 per wizard update), each a frame the burst's GC walks while the update waits.

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        skey = storage_key(key)
        _, data = self._at_once(skey) or await self._fetched(skey)
        self._write(key, skey, value, data)

    async def get_state(self, key: StorageKey) -> str | None:
        skey = storage_key(key)
        return (self._at_once(skey) or await self._fetched(skey))[0]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if not isinstance(data, Mapping):
            raise TypeError(f"data must be a Mapping, not {type(data).__name__}")
        skey = storage_key(key)
        state, _ = self._at_once(skey) or await self._fetched(skey)
        self._write(key, skey, state, _dumps(dict(data)))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        skey = storage_key(key)
        data: dict[str, Any] = orjson.loads((self._at_once(skey) or await self._fetched(skey))[1])
        return data

    async def data_may_have(self, key: StorageKey, name: str) -> bool:
        """False when the data certainly has no top-level ``name`` (a substring test on the stored JSON, no
        parsing: a value's quotes are escaped, so typed text cannot fake it); True means "read it to see"."""
        skey = storage_key(key)
        return f'"{name}":' in (self._at_once(skey) or await self._fetched(skey))[1]

    def peek(self, key: StorageKey) -> tuple[str | None, str] | None:
        """The (state, data JSON) of a conversation if it can be had without awaiting anything, else None
        (then ``get_state``): handlers/middlewares.py ``Inbound`` reads every update's state this way."""
        return self._at_once(storage_key(key))

    async def close(self) -> None:
        if self._closed:
            return
        await self.barrier()
        self._closed = True
        await self._release()

    # --- durability ----------------------------------------------------------------------------

    async def barrier(self) -> None:
        """Wait until every write made so far is committed (raises if its batch failed)."""
        future = self._batch or self._inflight
        if future is not None:
            await asyncio.shield(future)

    async def purge(self, older_than: datetime, state_prefix: str, *, batch: int = PURGE_BATCH) -> int:
        """Delete conversations in a state starting with `state_prefix` untouched since `older_than`.

        In batches of ``batch`` rows, each one short statement (about 5 ms for 500 rows), the loop serving
        everyone else between them: one DELETE of 10,000 expired drafts held the loop and the write lock for
        about 210 ms. Like the group commit, the statements run on the loop (a worker thread was measured
        slower here: docs/performance.md)."""
        await self.barrier()
        total = 0
        while True:
            keys = await self._delete_idle(older_than, state_prefix + "%", batch)
            for key in keys:
                if key not in self._pending:
                    self._cache.pop(key, None)
            total += len(keys)
            if len(keys) < batch:
                return total
            await asyncio.sleep(0)

    async def conversations(self, user_id: int) -> list[tuple[str | None, dict[str, Any], datetime | None]]:
        """Every conversation of ``user_id`` on disk (state, data, last change), after the writes so far."""
        await self.barrier()
        return [(state, json.loads(data), at) for state, data, at in await self._user_rows(user_id)]

    async def forget(self, user_id: int) -> int:
        """Delete every conversation of ``user_id`` (their erasure, /forget); returns how many there were.
        The rows are overwritten on disk (SQLite: secure_delete), not only unlinked."""
        await self.barrier()
        keys = await self._forget_user(user_id)
        for skey in [k for k, (uid, _s, _d) in self._pending.items() if uid == user_id]:
            del self._pending[skey]  # written after the barrier: the person is gone all the same
        for skey in [k for k in self._cache if _user_of(k) == user_id] + keys:
            self._cache.pop(skey, None)
        return len(keys)

    # --- internals: event loop side ------------------------------------------------------------

    def _at_once(self, skey: str) -> tuple[str | None, str] | None:
        """The conversation without awaiting: cached, or this instance's own write (``shared``); None when it
        must be fetched (:meth:`_fetched`). SQLite also reads the row here (:class:`SQLiteStorage`)."""
        if self.shared:
            mine = self._pending.get(skey) or self._committing.get(skey)
            return None if mine is None else (mine[1], mine[2])
        entry = self._cache.get(skey)
        if entry is not None:
            self._cache.move_to_end(skey)
        return entry

    async def _fetched(self, skey: str) -> tuple[str | None, str]:
        """The conversation from the backend (after :meth:`_at_once` found nothing in memory)."""
        if self.shared:
            return await self._load_shared(skey)
        fetched = await self._fetch(skey) or (None, _EMPTY)
        entry = self._cache.get(skey)  # written (or read) while the row was fetched: that one is newer
        if entry is None:
            entry = fetched
            self._remember(skey, entry)
        return entry

    async def _load_shared(self, skey: str) -> tuple[str | None, str]:
        """This instance's write not committed yet, or the committed row."""
        fetched = await self._fetch(skey)
        mine = self._pending.get(skey) or self._committing.get(skey)  # written while the row was fetched
        if mine is not None:
            return mine[1], mine[2]
        return fetched or (None, _EMPTY)

    def _remember(self, skey: str, entry: tuple[str | None, str]) -> None:
        if self.shared:
            return
        self._cache[skey] = entry
        self._cache.move_to_end(skey)
        while len(self._cache) > self._cache_size:
            oldest = next(iter(self._cache))
            if oldest in self._pending:  # never evict what is not on disk yet
                break
            del self._cache[oldest]

    def _write(self, key: StorageKey, skey: str, state: str | None, data: str) -> None:
        if self._closed:
            raise RuntimeError("FSM storage is closed")
        self._remember(skey, (state, data))
        self._pending[skey] = (key.user_id, state, data)
        if self._batch is None:
            self._batch = asyncio.get_running_loop().create_future()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop())

    async def _flush_loop(self) -> None:
        while self._pending:
            pending, self._pending = self._pending, {}
            self._committing = pending
            batch = self._inflight = self._batch
            self._batch = None
            assert batch is not None  # every write joins a batch
            upserts = [(k, uid, st, data) for k, (uid, st, data) in pending.items() if st or data != _EMPTY]
            deletes = [k for k, (_, st, data) in pending.items() if not st and data == _EMPTY]
            started = time.perf_counter()
            try:
                await self._store(upserts, deletes, self._now())
                if self.on_commit is not None:
                    self.on_commit(time.perf_counter() - started)
            except Exception as exc:
                log.error("FSM batch commit failed (%d keys): %s", len(pending), type(exc).__name__)
                for skey in pending:
                    if skey not in self._pending:
                        self._cache.pop(skey, None)
                if not batch.done():
                    batch.set_exception(exc)
                    batch.exception()  # retrieved here; waiters re-raise it
            else:
                if not batch.done():
                    batch.set_result(None)
            finally:
                self._inflight = None
                self._committing = {}


class SQLiteStorage(GroupCommitStorage):
    """On the SQLite file: short calls on the loop itself, never waiting for a lock (module docstring)."""

    def __init__(self, path: Path | str, *, cache_size: int = 50_000,
                 now: Callable[[], datetime] | None = None, write_lock: asyncio.Lock | None = None) -> None:
        super().__init__(cache_size=cache_size, now=now)
        self._path = str(path)
        self._conn: sqlite3.Connection | None = None
        #: storage.db.Database.write_lock of the repositories on the same file in this process: a batch is
        #: committed under it, so it waits for their transaction to end (exactly as long as needed) instead of
        #: trying the busy file every 0.5-5 ms. Other processes' writers are still met by _retry_busy.
        self._write_lock = write_lock

    @classmethod
    async def open(cls, path: Path | str, **kwargs: Any) -> "SQLiteStorage":
        """Its own connection to the same database file; the table comes from the migrations."""
        storage = cls(path, **kwargs)
        storage._connect()
        return storage

    def _at_once(self, skey: str) -> tuple[str | None, str] | None:
        """A miss is read at once as well: WAL, a read never waits for a writer (no coroutine, see above)."""
        entry = super()._at_once(skey)
        if entry is None and not self.shared:
            entry = self._read_now(skey) or (None, _EMPTY)
            self._remember(skey, entry)
        return entry

    async def _fetch(self, skey: str) -> tuple[str | None, str] | None:
        return self._read_now(skey)

    async def _store(self, upserts: list[Row], deletes: list[str], now: datetime) -> None:
        stamp = now.astimezone(timezone.utc).isoformat(timespec="seconds")
        async with self._write_lock or nullcontext():
            await self._retry_busy(self._commit, upserts, deletes, stamp)

    async def _delete_idle(self, older_than: datetime, pattern: str, limit: int) -> list[str]:
        cutoff = older_than.astimezone(timezone.utc).isoformat(timespec="seconds")
        return await self._retry_busy(self._purge, cutoff, pattern, limit)

    async def _release(self) -> None:
        self._disconnect()

    async def _retry_busy(self, fn: Callable[..., _T], *args: Any, patience: float = BUSY_PATIENCE) -> _T:
        """``fn`` until the file is not busy (another connection's write transaction), for up to ``patience``
        seconds. The pause between tries stays short (at most 5 ms): other writers (a bulk re-plan, the
        reminder tick) hold the lock in short transactions with gaps between them, and a commit must catch
        one of those gaps; a back-off growing to 50 ms missed them (others' steps p99 539 ms while a
        calendar re-plan ran)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience
        attempt = 0
        while True:
            try:
                return fn(*args)
            except sqlite3.OperationalError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or loop.time() >= deadline:
                    raise
            await asyncio.sleep(min(0.0005 * 2**attempt, 0.005))
            attempt += 1

    def _connect(self) -> None:
        Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self._path, isolation_level=None, timeout=0)
        for pragma in PRAGMAS:
            if "busy_timeout" not in pragma:
                self._conn.execute(pragma)

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("FSM storage is closed")
        return self._conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _read_now(self, skey: str) -> tuple[str | None, str] | None:
        row = self._db.execute("SELECT state, data FROM fsm WHERE key = ?", (skey,)).fetchone()
        return (row[0], row[1]) if row else None

    def _commit(self, upserts: list[Row], deletes: list[str], now: str) -> None:
        conn = self._db
        if not deletes:
            conn.execute(_UPSERT, (now, _dumps(upserts)))
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            if upserts:
                conn.execute(_UPSERT, (now, _dumps(upserts)))
            conn.execute(_DELETE, (_dumps(deletes),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def _user_rows(self, user_id: int) -> list[tuple[str | None, str, datetime | None]]:
        rows = await self._retry_busy(self._read_user, user_id)
        return [(state, data, datetime.fromisoformat(at) if at else None) for state, data, at in rows]

    async def _forget_user(self, user_id: int) -> list[str]:
        return await self._retry_busy(self._forget, user_id)

    def _read_user(self, user_id: int) -> list[tuple[str | None, str, str | None]]:
        rows = self._db.execute("SELECT state, data, updated_at FROM fsm WHERE user_id = ? ORDER BY key",
                                (user_id,)).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def _forget(self, user_id: int) -> list[str]:
        conn = self._db
        conn.execute("PRAGMA secure_delete=ON")
        try:
            rows = conn.execute("DELETE FROM fsm WHERE user_id = ? RETURNING key", (user_id,)).fetchall()
        finally:
            conn.execute("PRAGMA secure_delete=OFF")
        return [key for (key,) in rows]

    def _purge(self, cutoff: str, pattern: str, limit: int) -> list[str]:
        rows = self._db.execute(
            "DELETE FROM fsm WHERE key IN (SELECT key FROM fsm WHERE updated_at < ? AND state LIKE ? LIMIT ?)"
            " RETURNING key", (cutoff, pattern, limit)
        ).fetchall()
        return [key for (key,) in rows]


def _user_of(skey: str) -> int | None:
    """The user id in a storage key (see :func:`storage_key`: bot, chat, user, ...)."""
    parts = skey.split(":")
    return int(parts[2]) if len(parts) > 2 and parts[2].lstrip("-").isdigit() else None


class CommitBarrier(BaseRequestMiddleware):
    """Request middleware: no Telegram request leaves before the FSM writes made so far are committed. The bot's
    own session waits the same way among its other checks (bot.services.sender.OutgoingPolicy); this one is
    for a bot with nothing else around its requests (the dispatch benchmark, the SIGKILL test)."""

    def __init__(self, storage: GroupCommitStorage) -> None:
        self.storage = storage

    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                       method: TelegramMethod[TelegramType]) -> Response[TelegramType]:
        if not isinstance(method, GetUpdates):  # fetching updates shows the person nothing
            await self.storage.barrier()
        return await make_request(bot, method)


class ReleasingEventIsolation(BaseEventIsolation):
    """One update at a time per chat, like aiogram's ``SimpleEventIsolation``, but a chat's lock is dropped as
    soon as no update holds or waits for it: aiogram's keeps one lock for every chat it ever saw (memory that
    grows with every person, issue 14)."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, list[int]]] = {}

    def lock(self, key: StorageKey) -> "_ChatLock":  # type: ignore[override]  # an async context manager
        return _ChatLock(self._locks, key)

    async def close(self) -> None:
        self._locks.clear()


class _ChatLock:
    """:meth:`ReleasingEventIsolation.lock` for one update (a plain class: every update enters one, and a
    generator-based context manager costs a generator, its frames and ``contextlib``'s bookkeeping)."""

    __slots__ = ("_locks", "_key", "_entry")

    def __init__(self, locks: dict[Hashable, tuple[asyncio.Lock, list[int]]], key: StorageKey) -> None:
        self._locks = locks
        self._key = key
        self._entry: tuple[asyncio.Lock, list[int]] | None = None

    async def __aenter__(self) -> None:
        entry = self._locks.get(self._key)
        if entry is None:
            entry = self._locks[self._key] = (asyncio.Lock(), [0])
        self._entry = entry
        entry[1][0] += 1
        try:
            await entry[0].acquire()
        except BaseException:
            self._leave()
            raise

    async def __aexit__(self, *exc: object) -> None:
        assert self._entry is not None
        self._entry[0].release()
        self._leave()

    def _leave(self) -> None:
        entry = self._entry
        assert entry is not None
        entry[1][0] -= 1
        if not entry[1][0] and self._locks.get(self._key) is entry:  # close() may have cleared or replaced it
            del self._locks[self._key]
