"""The measuring instruments of bench/ (issue 14): fast checks that they measure what they say.

The benchmarks themselves are not run here (minutes, gigabytes); only their parts, on tiny inputs.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import date, datetime, timezone

import aiosqlite
from aiogram.fsm.storage.base import StorageKey

from bench import gen, workload
from bench.hops import HopCounter, count_hops
from bot.domain.identifiers import validate_iin
from storage.cases import CasesRepo, RemindersRepo
from storage.complaints import ComplaintsRepo
from storage.db import Database
from storage.fsm import storage_key

NOW = datetime(2026, 11, 20, 5, 0, 30, tzinfo=timezone.utc)


def test_fsm_key_is_the_storage_key():
    assert gen.fsm_key(42, 1001) == storage_key(StorageKey(bot_id=42, chat_id=1001, user_id=1001))


async def test_hop_counter_counts_each_aiosqlite_statement(tmp_path):
    async with aiosqlite.connect(tmp_path / "x.sqlite3") as conn:
        with HopCounter() as counter:
            await conn.execute_fetchall("SELECT 1")
            await conn.execute_fetchall("SELECT 2")
            hops = counter.take()
    assert (hops.to_thread, hops.executor, hops.aiosqlite) == (0, 0, 2)
    assert hops.what["aiosqlite: _execute_fetchall: SELECT 1"] == 1


async def test_hop_counter_counts_to_thread_and_executor_separately():
    def sync_filter() -> bool:
        return True

    with HopCounter() as counter:
        await asyncio.to_thread(sync_filter)
        await asyncio.to_thread(sync_filter)
        await asyncio.get_running_loop().run_in_executor(None, sync_filter)
        hops = counter.take()
    assert (hops.to_thread, hops.executor, hops.total) == (2, 1, 3)
    assert hops.what[f"to_thread: {__name__}.{sync_filter.__qualname__}"] == 2
    loop = asyncio.get_running_loop()
    assert "run_in_executor" not in vars(loop)  # the loop is back as it was


async def test_count_hops_feeds_every_kind_to_the_bots_dispatcher(tmp_path, monkeypatch):
    # Raises unless every update was answered without an error; each kind gets its own counts. The bot's
    # small reads run on the loop (storage.db.Database.lookup); without that reader they go through
    # aiosqlite, and the counter must see them.
    import storage.db

    monkeypatch.setattr(storage.db, "_reader", lambda path: None)
    result = await count_hops(samples=1, folder=tmp_path)
    assert set(result) == set(workload.KINDS)
    assert result["my"].aiosqlite >= 1  # /my reads the person's cases: at least one database hop is seen
    assert all(h.total == h.to_thread + h.executor + h.aiosqlite for h in result.values())


def test_generated_rows_read_back_through_the_repositories(tmp_path):
    path = tmp_path / "gen.sqlite3"
    gen.create_schema(path)
    conn = gen.connect_bulk(path)
    spec = gen.Spec(users=30, complaints=120, cases=100, reminders=150, due_wave=20)
    counts = gen.populate(conn, spec, NOW)
    gen.finish_bulk(conn)
    assert counts["complaints"] == 120 and counts["cases"] == 100 and counts["reminders"] == 150
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    owner, = raw.execute("SELECT user_id FROM complaints GROUP BY user_id ORDER BY COUNT(*) DESC").fetchone()
    due = raw.execute("SELECT COUNT(*) FROM reminders WHERE status = 'pending' AND due_at <= ?",
                      (gen.iso(NOW),)).fetchone()[0]
    raw.close()
    assert due == 20

    async def read() -> None:
        db = await Database.open(path)
        try:
            stored = await ComplaintsRepo(db).list_for_user(owner)
            assert stored and all(s.user_id == owner for s in stored)
            for s in stored:
                c = s.complaint
                assert validate_iin(c.iin, today=date(2026, 11, 20)).ok
                assert c.language == gen.language_of(owner)
                assert c.learned_date <= c.created == s.created_at.astimezone(gen.TZ).date()
            cases = await CasesRepo(db).list_for_user(owner)
            assert {c.complaint_id for c in cases} <= {s.id for s in stored}
            claimed = await RemindersRepo(db).claim_due(NOW, 200)
            assert len(claimed) == 20
        finally:
            await db.close()

    asyncio.run(read())


def test_workload_mix_gives_each_update_a_person_of_its_own():
    wl = workload.Workload()
    used: dict[str, int] = {}
    first = wl.schedule(workload.MIX, 100, used)
    second = wl.schedule(workload.MIX, 100, used)
    people = [a.user_id for a in first + second]
    assert len(set(people)) == 200
    kinds = [a.kind for a in first]
    assert {k: kinds.count(k) for k in workload.MIX} == {k: 10 * w for k, w in workload.MIX.items()}
    assert workload.people_needed(first + second) == used


def _digest(path) -> str:
    conn = sqlite3.connect(path)
    try:
        return repr([conn.execute(sql).fetchall() for sql in (
            "SELECT id, status, payload, due_at, updated_at FROM reminders ORDER BY id",
            "SELECT id, status, answered_on, updated_at FROM cases ORDER BY id",
            "SELECT COUNT(*), MAX(id) FROM case_events", "SELECT COUNT(*) FROM calendar_overrides",
            "SELECT COUNT(*) FROM fsm")])
    finally:
        conn.close()


async def test_scale_measurements_leave_the_cached_database_as_it_was(tmp_path):
    from bench import scale

    path = tmp_path / "scale.sqlite3"
    gen.create_schema(path)
    conn = gen.connect_bulk(path)
    counts = gen.populate(conn, gen.Spec(users=40, complaints=200, cases=200, reminders=300, due_wave=30), scale.NOW)
    gen.finish_bulk(conn)
    before = _digest(path)
    result = await scale.measure(path, counts, 0, samples={"my": 5, "answered": 3, "tick_claim": 2})
    assert _digest(path) == before
    assert result["answered"]["n"] == 3 and result["tick_claim"]["n"] == 2
    assert result["calendar"]["open_cases"] == result["calendar"]["replanned"] > 0
    assert result["answered"]["others_meanwhile"]["n"] > 0


async def test_bench_cost_feeds_each_kind_through_the_bots_dispatcher():
    """bench/cost.py measures real updates: an update that failed would raise, and each kind gives a figure."""
    from bench.cost import measure

    result = await measure(["start", "wizard"], n=5, rounds=1)
    assert set(result) == {"start", "wizard"}
    assert all(isinstance(ms, float) and ms > 0 for ms in result.values())
