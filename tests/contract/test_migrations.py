"""Contract: the two backends' migrations are kept in step, and on PostgreSQL one instance migrates."""

from __future__ import annotations

import asyncio
import sqlite3

import asyncpg

from storage.db import MIGRATIONS, Database, migration_files
from storage.pg.db import MIGRATIONS as PG_MIGRATIONS
from storage.pg.db import PgDatabase


def test_both_backends_have_the_same_migrations():
    assert [v for v, _ in migration_files(MIGRATIONS)] == [v for v, _ in migration_files(PG_MIGRATIONS)]
    assert [p.name for _, p in migration_files(MIGRATIONS)] == [p.name for _, p in migration_files(PG_MIGRATIONS)]


async def test_the_same_tables_and_columns(tmp_path, pg_url):
    db = await Database.open(tmp_path / "schema.sqlite3")
    await db.close()
    conn = sqlite3.connect(tmp_path / "schema.sqlite3")
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                         " AND name NOT LIKE 'sqlite_%'")]
    lite = {t: sorted(r[1] for r in conn.execute(f"PRAGMA table_info({t})")) for t in tables}
    conn.close()
    pg = await PgDatabase.open(pg_url)
    try:
        rows = await pg.fetchall("SELECT table_name, column_name FROM information_schema.columns"
                                 " WHERE table_schema = 'public'")
    finally:
        await pg.close()
    post: dict[str, list[str]] = {}
    for r in rows:
        post.setdefault(r["table_name"], []).append(r["column_name"])
    assert lite == {t: sorted(c) for t, c in post.items()}


async def test_instances_starting_together_migrate_once(pg_url):
    admin = await asyncpg.connect(pg_url)
    try:
        await admin.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")  # empty, whatever the template had
    finally:
        await admin.close()
    pools = [await asyncpg.create_pool(pg_url, min_size=1, max_size=2) for _ in range(4)]
    dbs = [PgDatabase(pool, pg_url) for pool in pools]
    try:
        applied = await asyncio.gather(*(db.migrate() for db in dbs))  # four instances starting at once
        everything = [v for v, _ in migration_files(PG_MIGRATIONS)]
        assert sorted(applied, key=len) == [[], [], [], everything]  # one migrated, the others waited
        versions = [r["version"] for r in await dbs[0].fetchall("SELECT version FROM schema_migrations ORDER BY 1")]
        assert versions == [v for v, _ in migration_files(PG_MIGRATIONS)]
    finally:
        for db in dbs:
            await db.close()
