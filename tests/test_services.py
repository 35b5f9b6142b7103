"""The PostgreSQL and Redis wiring the scale-out tests stand on (servers from scripts/services.py)."""

import asyncio

import asyncpg
from redis.asyncio import Redis

from tests import services


async def test_each_test_gets_its_own_empty_postgresql_database(pg_pool, pg_url):
    assert await pg_pool.fetchval("SELECT current_database()") == pg_url.rsplit("/", 1)[1]
    assert await pg_pool.fetchval("SHOW server_version_num") >= "150000"
    assert await pg_pool.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0
    await pg_pool.execute("CREATE TABLE probe (id int PRIMARY KEY)")
    await pg_pool.execute("INSERT INTO probe VALUES (1)")
    assert await pg_pool.fetchval("SELECT count(*) FROM probe") == 1


async def test_a_second_test_does_not_see_the_firsts_tables(pg_pool):
    assert await pg_pool.fetchval("SELECT to_regclass('public.probe')") is None


async def test_the_test_database_is_dropped_afterwards():
    async with services.fresh_pg_database() as url:
        name = url.rsplit("/", 1)[1]
        conn = await asyncpg.connect(url)  # left open: the drop must not wait for it
    admin = await asyncpg.connect(services.with_database(services.PG_SERVER_URL, "postgres"))
    try:
        assert await admin.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", name) == 0
    finally:
        await admin.close()
        conn.terminate()


async def test_advisory_locks_work_across_connections(pg_url):
    a, b = await asyncpg.connect(pg_url), await asyncpg.connect(pg_url)
    try:
        assert await a.fetchval("SELECT pg_try_advisory_lock(15)") is True
        assert await b.fetchval("SELECT pg_try_advisory_lock(15)") is False
        await a.execute("SELECT pg_advisory_unlock(15)")
        assert await b.fetchval("SELECT pg_try_advisory_lock(15)") is True
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_each_test_gets_an_empty_redis_db(redis_client):
    assert await redis_client.dbsize() == 0
    await redis_client.set("probe", "1", ex=60)
    assert await redis_client.get("probe") == "1"
    seconds, micros = await redis_client.time()
    assert seconds > 1_700_000_000 and 0 <= micros < 1_000_000


async def test_a_second_test_does_not_see_the_firsts_keys(redis_url):
    client = Redis.from_url(redis_url)
    try:
        assert await client.exists("probe") == 0
    finally:
        await client.aclose()


async def test_aiogram_redis_fsm_storage_round_trip(redis_url):
    from aiogram.fsm.storage.base import StorageKey
    from aiogram.fsm.storage.redis import DefaultKeyBuilder, RedisEventIsolation, RedisStorage

    storage = RedisStorage.from_url(redis_url, key_builder=DefaultKeyBuilder(with_destiny=True))
    isolation = storage.create_isolation()
    assert isinstance(isolation, RedisEventIsolation)
    key = StorageKey(bot_id=1, chat_id=1001, user_id=1001)
    try:
        await storage.set_state(key, "Wizard:iin")
        await storage.update_data(key, {"iin": "900101300123"})
        async with isolation.lock(key):
            assert await storage.get_state(key) == "Wizard:iin"
            assert await storage.get_data(key) == {"iin": "900101300123"}
    finally:
        await isolation.close()
        await storage.close()
