"""PostgreSQL and Redis for the tests: a fresh database and a flushed Redis db per test.

The servers come from ``scripts/services.py`` (``.ci/run`` starts them; a developer runs
``eval "$(python3 scripts/services.py start)"`` once, or just ``python3 scripts/services.py start``:
its URLs are found without the environment too).  Without a server the tests that ask for one are
skipped, except under CI (``CI`` set), where they FAIL: CI never passes by skipping a backend.

Fixtures (imported by tests/conftest.py):

* ``pg_url`` -- URL of a new, empty database created for this test from a template (fast: a file
  copy, no schema work per test), dropped after it.  ``pg_pool``: an asyncpg pool on it.
* ``pg_migrated_url`` -- URL of a database with the app's migrations applied and no rows: one per test
  process, emptied (TRUNCATE) before each test; the end-to-end tests' (tests/backends.py).
  Work every database needs (migrations, say) goes into the template once per session:
  ``register_pg_template_setup(async_fn)`` before the first test that uses ``pg_url``.
* ``redis_url`` -- URL of a Redis db flushed before and after the test.  ``redis_client``: a
  ``redis.asyncio.Redis`` on it.

DATABASE_URL and REDIS_URL are taken out of the environment when this module is imported: the bot
under test reads its configuration from the environment, and an inherited URL would quietly point
every bot a test builds at one shared database.  Tests choose a backend only through these fixtures.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from typing import Any, AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

import pytest

from scripts import services as service_script

START_HINT = 'start them with: eval "$(python3 scripts/services.py start)"'


def _from_state(key: str) -> str:
    """The URL of a server started by scripts/services.py for this checkout, if it is running."""
    data = service_script.State(service_script.state_dir()).load()
    if data.get("pg_port") and data.get("redis_port"):
        return service_script.urls(data)[key]
    return ""


def worker_number() -> int:
    """0 in a plain run; 1, 2, ... in the workers of a parallel run (pytest -n, pytest-xdist's gw0, gw1, ...)."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(name[2:]) + 1 if name.startswith("gw") and name[2:].isdigit() else 0


def _redis_db_of_this_worker(url: str) -> str:
    """Each worker of a parallel run flushes a Redis db of its own (the server's db 1, 2, ...), never another's."""
    n = worker_number()
    return urlunsplit(urlsplit(url)._replace(path=f"/{n}")) if url and n else url


PG_SERVER_URL = os.environ.pop("DATABASE_URL", "") or _from_state("DATABASE_URL")
REDIS_SERVER_URL = _redis_db_of_this_worker(os.environ.pop("REDIS_URL", "") or _from_state("REDIS_URL"))

_template_setup: list[Callable[[Any], Awaitable[None]]] = []
_template: dict[str, str] = {}  # "name" once created in this session
_names = itertools.count(1)
_checked: dict[str, str | None] = {}  # service -> None (reachable) or why not


def under_ci() -> bool:
    return bool(os.environ.get("CI"))


def unavailable(service: str, why: str) -> None:
    """Skips the test, or fails it under CI (a backend is never skipped there)."""
    if under_ci():
        pytest.fail(f"{service} is required under CI and {why} (.ci/run starts it)", pytrace=False)
    pytest.skip(f"{service}: {why}; {START_HINT}")


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def register_pg_template_setup(fn: Callable[[Any], Awaitable[None]]) -> None:
    """``await fn(connection)`` runs once in the template every test database is copied from."""
    if _template:
        raise RuntimeError("the template database was already created in this session")
    _template_setup.append(fn)


async def _pg_admin() -> Any:
    import asyncpg

    if not PG_SERVER_URL:
        unavailable("PostgreSQL", "DATABASE_URL is not set")
    if _checked.get("pg"):
        unavailable("PostgreSQL", _checked["pg"])  # type: ignore[arg-type]  # a str: the line above checked it is set
    try:
        conn = await asyncpg.connect(with_database(PG_SERVER_URL, "postgres"), timeout=10)
    except (OSError, asyncio.TimeoutError, asyncpg.PostgresError) as e:
        _checked["pg"] = f"cannot connect to {PG_SERVER_URL} ({type(e).__name__}: {e})"
        unavailable("PostgreSQL", _checked["pg"])
    return conn


async def _create_template(admin: Any) -> str:
    import asyncpg

    name = f"shagym_tpl_{os.getpid()}"
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    conn = await asyncpg.connect(with_database(PG_SERVER_URL, name))
    try:
        for fn in _template_setup:
            await fn(conn)
    finally:
        await conn.close()
    _template["name"] = name
    return name


@contextlib.asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """A new empty PostgreSQL database (copied from the session's template), dropped on exit."""
    admin = await _pg_admin()
    name = f"shagym_t{os.getpid()}_{next(_names)}"
    try:
        template = _template.get("name") or await _create_template(admin)
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        yield with_database(PG_SERVER_URL, name)
    finally:
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


_reused: dict[str, str] = {}  # "name" of this process's reused database, once created and migrated


async def _clean(url: str, name: str) -> None:
    """Empties the reused database as a new one would be: every connection a previous test may have left is
    ended (what DROP DATABASE ... WITH (FORCE) does), every table but the migrations' own is truncated and its
    identities restart at 1."""
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                           " WHERE datname = $1 AND pid <> pg_backend_pid()", name)
        tables = [r[0] for r in await conn.fetch("SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname ="
                                                 " 'public' AND tablename <> 'schema_migrations'")]
        if tables:
            await conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def migrated_pg_database() -> AsyncIterator[str]:
    """A PostgreSQL database with the app's migrations applied and no rows: one per test process, migrated
    once and emptied before every test (TRUNCATE: a fraction of CREATE DATABASE and the migrations per test).
    For the end-to-end tests, whose app would apply the same migrations at its start; a test of the
    migrations themselves takes ``pg_url``."""
    name = _reused.get("name")
    if name is None:
        from storage.pg.db import PgDatabase

        admin = await _pg_admin()
        try:
            template = _template.get("name") or await _create_template(admin)
            name = f"shagym_r{os.getpid()}"
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        finally:
            await admin.close()
        db = await PgDatabase.open(with_database(PG_SERVER_URL, name), min_size=1, max_size=1)
        await db.close()
        _reused["name"] = name
    url = with_database(PG_SERVER_URL, name)
    await _clean(url, name)
    yield url


@pytest.fixture
async def pg_migrated_url() -> AsyncIterator[str]:
    """A migrated, empty PostgreSQL database for this test (see ``migrated_pg_database``)."""
    async with migrated_pg_database() as url:
        yield url


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A new empty PostgreSQL database for this test."""
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture
async def pg_pool(pg_url: str) -> AsyncIterator[Any]:
    import asyncpg

    pool = await asyncpg.create_pool(pg_url, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture(scope="session", autouse=True)
def _drop_pg_template() -> Any:
    yield
    names = [n for n in (_reused.pop("name", None), _template.pop("name", None)) if n is not None]
    if not names:
        return

    async def drop() -> None:
        import asyncpg

        conn = await asyncpg.connect(with_database(PG_SERVER_URL, "postgres"), timeout=10)
        try:
            for name in names:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """A Redis db, empty at the start of the test and flushed after it."""
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    if not REDIS_SERVER_URL:
        unavailable("Redis", "REDIS_URL is not set")
    if _checked.get("redis"):
        unavailable("Redis", _checked["redis"])  # type: ignore[arg-type]  # a str: the line above checked it is set
    client = Redis.from_url(REDIS_SERVER_URL, socket_connect_timeout=5)
    try:
        try:
            await client.flushdb()
        except (OSError, RedisError) as e:
            _checked["redis"] = f"cannot connect to {REDIS_SERVER_URL} ({type(e).__name__}: {e})"
            unavailable("Redis", _checked["redis"])
        yield REDIS_SERVER_URL
        await client.flushdb()
    finally:
        await client.aclose()


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Any]:
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()
