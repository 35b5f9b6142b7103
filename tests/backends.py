"""Both storage backends behind one helper, for the contract suite (tests/contract/) and the storage tests that
run on both: ``stores`` is parametrized ``sqlite`` / ``pg``; the PostgreSQL variant takes a fresh database from
tests/services.py (skipped without a server, a failure under CI).

``open_stores(kind, where, clock, holder=...)`` opens the repositories of one instance; open it twice on the
same ``where`` (with other holders) to play two instances sharing one database."""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from bot.domain.clock import Clock

BACKENDS = ("sqlite", "pg")


@dataclass
class Stores:
    kind: str
    where: str
    db: Any
    users: Any
    complaints: Any
    calendars: Any
    cases: Any
    reminders: Any
    tickets: Any
    outbox: Any
    runs: Any
    fsm: Any
    privacy: Any

    async def close(self) -> None:
        await self.fsm.close()
        await self.db.close()


async def open_stores(kind: str, where: str, clock: Clock, *, holder: str | None = None) -> Stores:
    """One instance's repositories (``holder``: its name on leased rows; a new random one by default)."""
    if kind == "sqlite":
        from storage.calendar import CalendarRepo
        from storage.cases import CasesRepo, RemindersRepo
        from storage.complaints import ComplaintsRepo
        from storage.db import Database
        from storage.fsm import SQLiteStorage
        from storage.outbox import OutboxRepo
        from storage.privacy import PrivacyRepo
        from storage.runs import JobRunsRepo
        from storage.tickets import TicketsRepo
        from storage.users import UsersRepo

        db: Any = await Database.open(where)
        fsm: Any = await SQLiteStorage.open(where, now=clock.now)
        kinds: tuple[Any, ...] = (UsersRepo, ComplaintsRepo, CalendarRepo, CasesRepo, RemindersRepo, TicketsRepo,
                                  OutboxRepo, JobRunsRepo, PrivacyRepo)
    else:
        from storage.pg.calendar import PgCalendarRepo
        from storage.pg.cases import PgCasesRepo, PgRemindersRepo
        from storage.pg.complaints import PgComplaintsRepo
        from storage.pg.db import PgDatabase
        from storage.pg.fsm import PgStorage
        from storage.pg.outbox import PgOutboxRepo
        from storage.pg.privacy import PgPrivacyRepo
        from storage.pg.runs import PgJobRunsRepo
        from storage.pg.tickets import PgTicketsRepo
        from storage.pg.users import PgUsersRepo

        db = await PgDatabase.open(where, min_size=1, max_size=6)
        fsm = PgStorage(db, now=clock.now)
        kinds = (PgUsersRepo, PgComplaintsRepo, PgCalendarRepo, PgCasesRepo, PgRemindersRepo, PgTicketsRepo,
                 PgOutboxRepo, PgJobRunsRepo, PgPrivacyRepo)
    users, complaints, calendars, cases, reminders, tickets, outbox, runs, privacy = kinds
    stores = Stores(kind, where, db, users(db, clock), complaints(db), calendars(db, clock), cases(db, clock),
                    reminders(db, clock, holder=holder), tickets(db, clock), outbox(db, clock, holder=holder),
                    runs(db, holder=holder), fsm, privacy(db, clock))
    await stores.calendars.load()
    return stores


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def where(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The test's database on each backend (the fixtures a test module imports to run on both)."""
    return location(backend, request, tmp_path)


def backend_of(where: str) -> str:
    return "pg" if where.startswith(("postgresql://", "postgres://")) else "sqlite"


def location(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's database lives: a file in tmp_path, or a fresh PostgreSQL database."""
    if kind == "sqlite":
        return str(tmp_path / "contract.sqlite3")
    return str(request.getfixturevalue("pg_url"))


# ---- end-to-end tests on both backends ---------------------------------------------------------
# A module whose conversations should run on SQLite and on PostgreSQL marks itself with
# ``pytestmark = pytest.mark.usefixtures("both_backends")`` and starts the bot with ``running_bot`` from here.
# It reads back what the bot stored with ``repositories`` (the app's own ports), ``conversation`` (the FSM
# entry) or ``query`` (SQL both engines understand), never with sqlite3 on the file.

_database_url = {"value": ""}
_reader: dict[str, Any] = {}  # PostgreSQL during one test: "conn" for ``query``, "stores" for ``repositories``


@pytest.fixture
async def pg_reader() -> AsyncIterator[None]:
    """Closes what ``query`` and ``repositories`` keep open for the test: one connection and one pool, not new
    ones for every read (a connection is a new server process, 20-30 ms on the loaded machine, and a wizard
    reads its draft at every step)."""
    yield
    conn, stores = _reader.pop("conn", None), _reader.pop("stores", None)
    if conn is not None:
        await conn.close()
    if stores is not None:
        await stores.close()


def use_database(request: pytest.FixtureRequest) -> None:
    """This test's bots and reads go to an empty, migrated PostgreSQL database (tests/services.py)."""
    _database_url["value"] = str(request.getfixturevalue("pg_migrated_url"))
    request.getfixturevalue("pg_reader")


@pytest.fixture
def both_backends(backend: str, request: pytest.FixtureRequest) -> Any:
    if backend == "pg":
        use_database(request)
    yield _database_url["value"]
    _database_url["value"] = ""


@pytest.fixture(params=["sqlite", "redis", "pg"])
def fsm_backend(request: pytest.FixtureRequest) -> Any:
    """Runs a test three times: everything in the SQLite file (the embedded default); conversation state in
    Redis (as several instances keep it); everything on PostgreSQL, conversation state too (DATABASE_URL
    without REDIS_URL). Modules opt in with ``pytestmark = pytest.mark.usefixtures("fsm_backend")`` and start
    the bot with ``running_bot`` from here."""
    from tests import harness

    if request.param == "redis":
        harness.BACKEND["redis_url"] = request.getfixturevalue("redis_url")
    if request.param == "pg":
        use_database(request)
    try:
        yield request.param
    finally:
        harness.BACKEND.clear()
        _database_url["value"] = ""


def running_bot(fake: Any, db_path: Path, **kw: Any) -> Any:
    """tests.harness.running_bot on this test's backend (DATABASE_URL for PostgreSQL)."""
    from tests import harness

    if _database_url["value"]:
        kw.setdefault("database_url", _database_url["value"])
    return harness.running_bot(fake, db_path, **kw)


async def query(db_path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` (``?`` placeholders) on this test's database, whichever backend, outside the bot."""
    url = _database_url["value"]
    if not url:
        import sqlite3

        def run() -> list[tuple[Any, ...]]:
            with sqlite3.connect(db_path) as conn:
                return [tuple(r) for r in conn.execute(sql, params)]

        # In a worker thread: the bots of the test run on this loop, and one of them may be inside a transaction
        # that needs the loop to reach its COMMIT; waiting for the file's lock on the loop would wait for ever
        # (until sqlite3's 5 s timeout: "database is locked").
        return await asyncio.to_thread(run)
    import itertools
    import re

    import asyncpg

    n = itertools.count(1)
    conn = _reader.get("conn")
    if conn is None:
        conn = _reader["conn"] = await asyncpg.connect(url)
    return [tuple(r) for r in await conn.fetch(re.sub(r"\?", lambda _m: f"${next(n)}", sql), *params)]


async def every_row(db_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (but the migrations' own), by table."""
    if _database_url["value"]:
        tables = [r[0] for r in await query(db_path, "SELECT table_name FROM information_schema.tables"
                                                     " WHERE table_schema = 'public'")]
    else:
        tables = [r[0] for r in await query(db_path, "SELECT name FROM sqlite_master WHERE type = 'table'"
                                                     " AND name NOT LIKE 'sqlite_%'")]
    return {t: await query(db_path, f"SELECT * FROM {t}") for t in tables if t != "schema_migrations"}


@asynccontextmanager
async def repositories(db_path: Path) -> AsyncIterator[Stores]:
    """The repositories of this test's database, whichever backend, opened beside the running bot or after it:
    a test reads what the bot stored through the ports the app itself uses."""
    url = _database_url["value"]
    if url:  # kept for the test (pg_reader closes them)
        if "stores" not in _reader:
            _reader["stores"] = await open_stores("pg", url, Clock())
        yield _reader["stores"]
        return
    stores = await open_stores("sqlite", str(db_path), Clock())
    try:
        yield stores
    finally:
        await stores.close()


def _fsm_in_pg() -> bool:
    """Whether conversations are in PostgreSQL's fsm table (the database is there and Redis is not); else they
    are where tests.harness reads them (Redis or the SQLite file)."""
    from tests import harness

    return bool(_database_url["value"]) and not harness.BACKEND.get("redis_url")


async def conversation(db_path: Path, user_id: int) -> tuple[str | None, dict[str, Any]] | None:
    """(state, data) of a person's conversation as stored (None: nothing stored): in Redis or the SQLite file
    (tests.harness.fsm_entry), or in PostgreSQL's fsm table when the database is there and Redis is not."""
    from tests import harness

    if not _fsm_in_pg():
        return harness.fsm_entry(db_path, user_id)
    rows = await query(db_path, "SELECT state, data::text FROM fsm WHERE user_id = ?", user_id)
    return (rows[0][0], json.loads(rows[0][1])) if rows else None


async def age_conversation(db_path: Path, user_id: int) -> None:
    """The conversation was last touched on 1 January 2000 (for the draft purge), on whichever backend."""
    from tests import harness

    if not _fsm_in_pg():
        harness.age_conversation(db_path, user_id)
        return
    await query(db_path, "UPDATE fsm SET updated_at = '2000-01-01T00:00:00+00:00' WHERE user_id = ?", user_id)
