"""Other people while someone presses "answered" (issue 14, acceptance 2): the press holds SQLite's one write
lock as briefly as it can, and the conversations' group commit waits for it to end instead of polling.

Before: the press was a transaction of ~7 aiosqlite calls (BEGIN, the update, the event, the case read, the
reminders read, the cancel, COMMIT), each a hop to aiosqlite's thread and back through a busy event loop, so
the file stayed locked across several loop iterations (and each time the thread took the GIL back, up to a 5 ms
switch interval while the loop ran Python); meanwhile the FSM commit (another connection, on the
loop) found the file busy and retried every 0.5-5 ms. Others' p99 during 50 presses was 11x idle
(`python -m bench scale`)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import date, datetime, timedelta

import aiosqlite
from aiogram.fsm.storage.base import StorageKey

from bench.hops import answering_session
from bot.app import create_app
from bot.config import load_settings
from bot.domain.clock import FakeClock
from bot.domain.entities import CaseStatus
from storage.fsm import SQLiteStorage
from tests.contract.conftest import TZ

NOW = datetime(2026, 3, 19, 12, 0, tzinfo=TZ)


async def _app(tmp_path):
    settings = load_settings(_env_file=None, bot_token="", database_path=tmp_path / "press.sqlite3")
    return await create_app(settings, clock=FakeClock(NOW), session=answering_session())


async def test_answered_is_one_short_write_on_the_loop(tmp_path, monkeypatch):
    """The whole press ("answered": the status, its event, the reminders cancelled) is one synchronous write on
    the loop (Database.write), BEGIN to COMMIT, with no hop to aiosqlite's thread: the write lock is never held
    while the loop runs other people's updates or while that thread waits for the GIL."""
    app = await _app(tmp_path)
    try:
        await app.repos.users.seen(7, "Айгүл", "kk")
        case = await app.cases.track(7, "provider", NOW.date() - timedelta(days=1), filed_with="ЦОН", reg_number="1",
                                     complaint_id=None, forwarded_via_provider=False, learned_on=None)
        pending = await app.db.fetchall("SELECT id FROM reminders WHERE case_id = ? AND status = 'pending'", (case.id,))
        assert pending  # something to cancel
        hops = []
        real = aiosqlite.Connection._execute

        async def counted(self, fn, *args, **kwargs):
            hops.append(getattr(fn, "__name__", repr(fn)))
            return await real(self, fn, *args, **kwargs)

        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        answered = await app.cases.answer(case.id, date(2026, 3, 19))
        monkeypatch.undo()
        assert hops == []
        assert (answered.status, answered.answered_on) == (CaseStatus.ANSWERED, date(2026, 3, 19))
        assert await app.db.fetchall("SELECT id FROM reminders WHERE case_id = ? AND status = 'pending'",
                                     (case.id,)) == []
        kinds = [r[0] for r in await app.db.fetchall("SELECT kind FROM case_events WHERE case_id = ? ORDER BY id",
                                                     (case.id,))]
        assert kinds[-1] == "status"
    finally:
        await app.close()


async def test_a_conversation_step_waits_for_a_write_transaction_instead_of_finding_the_file_busy(tmp_path,
                                                                                                  monkeypatch):
    """An FSM step made while the repositories' connection holds a write transaction is committed once, right
    after it, never tried against the busy file (before: a failed try every 0.5-5 ms for as long as it lasted,
    and the step waited up to 5 ms more than needed)."""
    app = await _app(tmp_path)
    tries: list[str] = []
    real = SQLiteStorage._commit

    def commit(self, *args):
        try:
            real(self, *args)
        except sqlite3.OperationalError as exc:
            tries.append(str(exc))
            raise
        tries.append("ok")

    monkeypatch.setattr(SQLiteStorage, "_commit", commit)
    key = StorageKey(bot_id=app.bot.id, chat_id=8, user_id=8)
    try:
        async with app.db.transaction() as conn:
            await conn.execute("UPDATE users SET first_name = first_name WHERE id = 0")
            await app.fsm.set_data(key, {"step": 1})
            await asyncio.sleep(0.05)  # a long transaction: the flusher runs meanwhile
        await asyncio.wait_for(app.fsm.barrier(), 5)
        assert tries == ["ok"]
        assert await app.fsm.get_data(key) == {"step": 1}
    finally:
        await app.close()
