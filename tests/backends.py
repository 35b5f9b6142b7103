"""Both storage backends behind one helper, for the contract suite (tests/contract/) and the storage tests that
run on both: ``stores`` is parametrized ``sqlite`` / ``pg``; the PostgreSQL variant takes a fresh database from
tests/services.py (skipped without a server, a failure under CI).

``open_stores(kind, where, clock, holder=...)`` opens the repositories of one instance; open it twice on the
same ``where`` (with other holders) to play two instances sharing one database."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
