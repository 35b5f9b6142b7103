"""The PostgreSQL twin of storage/db.py: an asyncpg pool, versioned migrations, transactions.

Migrations are the ordered files of storage/pg/migrations/, numbered like SQLite's (tests/contract checks both
have the same numbers and the same tables and columns). Several instances may start at once: ``migrate`` runs
in ONE transaction that first takes a transaction-level advisory lock, so one instance applies what is missing
while the others wait, then find everything applied.

Moments are ``timestamptz`` cut to whole seconds (as SQLite's ISO text), days are ``date``, JSON is ``jsonb``.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from bot.domain.clock import Clock
from storage.db import migration_files

log = logging.getLogger(__name__)

__all__ = ["Conn", "MIGRATE_LOCK", "MIGRATIONS", "PgDatabase", "moment", "rowcount"]

MIGRATIONS = Path(__file__).with_name("migrations")
#: Migrations whose rows only Python can convert (the server cannot deflate): "module:function", awaited with
#: the migrating connection right after the file's SQL, in the same transaction.
DATA_STEPS: dict[int, str] = {12: "storage.pg.complaints:pack_stored"}
#: The advisory lock key every instance takes to migrate ("Shagym" in ASCII, as a bigint).
MIGRATE_LOCK = 0x536861677946

#: A connection from the pool, inside a transaction (what the repositories' ``_in`` helpers take).
if TYPE_CHECKING:
    Conn = PoolConnectionProxy[asyncpg.Record]
else:
    Conn = PoolConnectionProxy


def moment(value: datetime) -> datetime:
    """An aware moment as it is stored: UTC, whole seconds (the same precision as the SQLite backend)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: store aware UTC times only")
    return value.astimezone(timezone.utc).replace(microsecond=0)


def rowcount(status: str) -> int:
    """The row count of a command status ('UPDATE 3', 'INSERT 0 1', 'DELETE 0')."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class PgDatabase:
    def __init__(self, pool: asyncpg.Pool[asyncpg.Record], url: str) -> None:
        self.pool = pool
        self.url = url
        self._listeners: list[asyncpg.Connection[asyncpg.Record]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    async def open(cls, url: str, *, min_size: int = 2, max_size: int = 10) -> "PgDatabase":
        pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size)
        db = cls(pool, url)
        try:
            await db.migrate()
        except BaseException:
            await pool.close()
            raise
        return db

    async def close(self) -> None:
        for conn in self._listeners:
            await conn.close()
        self._listeners.clear()
        await self.pool.close()

    async def migrate(self) -> list[int]:
        """Apply the missing migrations, all in one transaction under the advisory lock."""
        applied = []
        async with self.transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATE_LOCK)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)"
            )
            done = {row[0] for row in await conn.fetch("SELECT version FROM schema_migrations")}
            for version, path in migration_files(MIGRATIONS):
                if version in done:
                    continue
                await conn.execute(path.read_text(encoding="utf-8"))  # a whole script: the simple protocol
                if version in DATA_STEPS:
                    module, name = DATA_STEPS[version].split(":")
                    await getattr(importlib.import_module(module), name)(conn)
                await conn.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                                   version, path.name, moment(Clock().now()))
                applied.append(version)
                log.info("applied migration %s", path.name)
        return applied

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        """Writes that belong together commit together (one pooled connection, READ COMMITTED)."""
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn

    async def execute(self, sql: str, *args: Any) -> str:
        return await self.pool.execute(sql, *args)

    async def fetchone(self, sql: str, *args: Any) -> asyncpg.Record | None:
        return await self.pool.fetchrow(sql, *args)

    async def fetchall(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await self.pool.fetch(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self.pool.fetchval(sql, *args)

    async def listen(self, channel: str, callback: Callable[[str], Coroutine[Any, Any, None]]) -> None:
        """``await callback(payload)`` on every NOTIFY on ``channel`` (any instance's, after its commit), on a
        connection of its own kept until ``close``."""
        conn = await asyncpg.connect(self.url)
        loop = asyncio.get_running_loop()

        def notified(_conn: object, _pid: int, _channel: str, payload: object) -> None:
            task = loop.create_task(callback(str(payload)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        await conn.add_listener(channel, notified)
        self._listeners.append(conn)
