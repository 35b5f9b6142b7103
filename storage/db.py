"""The one owner of the SQLite connection used by the repositories: WAL, versioned migrations, transactions.

SQL lives in the repositories (storage/*.py); migrations are ordered files in storage/migrations/
(`0001_core.sql`, `0002_...sql`), each applied once, in order, inside its own transaction.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterable, TypeVar

import aiosqlite

from bot.domain.clock import Clock
from bot.domain.complaint import pack_fields

log = logging.getLogger(__name__)

_T = TypeVar("_T")

MIGRATIONS = Path(__file__).with_name("migrations")
_NAME = re.compile(r"^(\d{4})_[\w-]+\.sql$")
#: A migration that rebuilds a table starts with this line: it runs with foreign keys off (dropping the old
#: table must not cascade), and the foreign keys are checked before it commits (SQLite's documented way).
FOREIGN_KEYS_OFF = "-- migrate: foreign_keys=off"
#: How long Database.write tries a file another process keeps busy before it fails (as the busy timeout).
WRITE_PATIENCE = 5.0

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # NORMAL in WAL mode: a committed transaction survives a crash of the process; only an OS crash or a
    # power cut can lose the last commits (FULL would fsync on every commit, ~10x slower here).
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)


def iso(moment: datetime) -> str:
    """UTC ISO-8601 text for a stored moment (every time in the database is UTC)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: store aware UTC times only")
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def parse_iso_required(text: str) -> datetime:
    """A stored moment of a NOT NULL column."""
    return datetime.fromisoformat(text)


async def connect(path: Path | str) -> aiosqlite.Connection:
    path = Path(path)
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = await aiosqlite.connect(path, isolation_level=None)  # autocommit; transactions are explicit
    conn.row_factory = aiosqlite.Row
    for pragma in PRAGMAS:
        await conn.execute(pragma)
    # storage/migrations/0012 packs the stored complaints' JSON with it
    await conn.create_function("complaint_pack", 1, _complaint_pack, deterministic=True)
    return conn


def _complaint_pack(text: str | bytes) -> bytes:
    return pack_fields(json.loads(text))


def migration_files(folder: Path = MIGRATIONS) -> list[tuple[int, Path]]:
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise RuntimeError(f"migration file name must be NNNN_name.sql: {path.name}")
        found.append((int(match.group(1)), path))
    versions = [v for v, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a number in {folder}")
    return found


def _busy(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


class Database:
    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._lock = asyncio.Lock()
        self._reader: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None

    @classmethod
    async def open(cls, path: Path | str) -> "Database":
        conn = await connect(path)
        db = cls(conn, Path(path))
        await db.migrate()
        if str(path) != ":memory:":  # a second connection to ":memory:" would be another database
            db._reader = _reader(path)
            db._writer = _writer(path)
        return db

    async def close(self) -> None:
        for extra in (self._reader, self._writer):
            if extra is not None:
                extra.close()
        self._reader = self._writer = None
        await self.conn.close()

    async def migrate(self) -> list[int]:
        await self.conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        done = {row[0] for row in await self.conn.execute_fetchall("SELECT version FROM schema_migrations")}
        applied = []
        for version, path in migration_files():
            if version in done:
                continue
            script = path.read_text(encoding="utf-8")
            rebuild = script.startswith(FOREIGN_KEYS_OFF)
            if rebuild:
                await self.conn.execute("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction: before it
            try:
                async with self.transaction() as conn:
                    for statement in _statements(script):
                        await conn.execute(statement)
                    if rebuild and list(await conn.execute_fetchall("PRAGMA foreign_key_check")):
                        raise RuntimeError(f"{path.name} leaves rows whose foreign keys point nowhere")
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                        (version, path.name, iso(Clock().now())),
                    )
            finally:
                if rebuild:
                    await self.conn.execute("PRAGMA foreign_keys=ON")
            applied.append(version)
            log.info("applied migration %s", path.name)
        return applied

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Writes that belong together commit together (BEGIN IMMEDIATE ... COMMIT, serialised)."""
        async with self._lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            else:
                await self.conn.execute("COMMIT")

    @property
    def write_lock(self) -> asyncio.Lock:
        """Held by every write of this connection. The FSM storage on the same file commits under it too
        (storage/fsm.py), so a conversation step waits for a transaction to end instead of trying the busy file."""
        return self._lock

    async def write(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        """``fn(conn)`` inside BEGIN IMMEDIATE ... COMMIT, run on the event loop itself on a plain connection of
        its own, like the FSM's commits: SQLite's write lock is held for the statements alone, and nothing
        else of this process runs meanwhile. For a few statements bounded by an index (an "answered" press).

        Through :meth:`transaction` every statement is a hop to aiosqlite's thread and back through the loop,
        and each time the thread takes the GIL back it can wait a whole switch interval (5 ms) while the loop
        runs Python: under load the file stayed locked for several milliseconds per press, and every other
        writer (the conversations' group commit) waited. The connection never waits for a lock (no busy
        timeout): a file busy because of another process is tried again after a short async pause."""
        async with self._lock:
            if self._writer is None:  # ":memory:": the one connection
                run: Callable[..., Any] = self.conn._execute  # untyped in aiosqlite
                result: _T = await run(_in_transaction, self.conn._conn, fn)
                return result
            loop = asyncio.get_running_loop()
            deadline, attempt = loop.time() + WRITE_PATIENCE, 0
            while True:
                try:
                    return _in_transaction(self._writer, fn)
                except sqlite3.OperationalError as exc:
                    if not _busy(exc) or loop.time() >= deadline:
                        raise
                await asyncio.sleep(min(0.0005 * 2**attempt, 0.005))
                attempt += 1

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Cursor:
        async with self._lock:
            return await self.conn.execute(sql, tuple(params))

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        # One hop that runs the statement to its end: a cursor left open between two hops keeps a read
        # transaction on the shared connection, and another coroutine's INSERT then fails with
        # SQLITE_BUSY / BUSY_SNAPSHOT instead of waiting (tests/test_fsm_storage.py).
        return next(iter(await self.conn.execute_fetchall(sql, tuple(params))), None)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        return list(await self.conn.execute_fetchall(sql, tuple(params)))

    async def lookup(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        """A small read bounded by an index (one person's rows, one row by key), run on the event loop.

        On the path of every update an aiosqlite call costs more than the read: a hop to its worker thread
        and back (45-90 µs, more under load: docs/performance.md), where a read of a few rows by an index
        takes 10-30 µs in sqlite3 itself. So these reads use a second, plain connection: WAL readers never
        wait for a writer and see every committed write. It never waits for a lock either (no busy
        timeout); in the rare moment the file is busy (another process recovering the WAL) the read goes
        through aiosqlite instead. Only for statements whose plan is bounded by an index
        (tests/test_query_plans.py): a scan here would stall every conversation.
        """
        params = tuple(params)
        if self._reader is not None:
            try:
                return self._reader.execute(sql, params).fetchall()
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
        return await self.fetchall(sql, params)

    async def lookup_one(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        """The first row of :meth:`lookup`."""
        return next(iter(await self.lookup(sql, params)), None)


def _in_transaction(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], _T]) -> _T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def _plain(path: Path | str, pragmas: Iterable[str]) -> sqlite3.Connection:
    """A plain sqlite3 connection used on the loop: autocommit, rows by name, never waiting for a lock."""
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=0, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    for pragma in pragmas:
        conn.execute(pragma)
    return conn


def _writer(path: Path | str) -> sqlite3.Connection:
    """The connection of :meth:`Database.write` (no busy timeout: it retries itself, off the loop's time)."""
    return _plain(path, (p for p in PRAGMAS if "busy_timeout" not in p))


def _reader(path: Path | str) -> sqlite3.Connection:
    """The connection of :meth:`Database.lookup`: read-only, autocommit (each read sees the latest commit)."""
    return _plain(path, ("PRAGMA query_only=ON",))


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (migrations keep `--` and `;` out of string literals)."""
    text = re.sub(r"--[^\n]*", "", script)
    return [s.strip() for s in text.split(";") if s.strip()]
