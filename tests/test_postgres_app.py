"""The whole bot on PostgreSQL (DATABASE_URL): create_app picks the backend by configuration alone, and a
person's complaint survives a restart in the middle of the wizard, through the fake Bot API like the SQLite
tests (tests/test_wizard.py)."""

from __future__ import annotations

from bot.domain.documents import document_text
from storage.db import Database
from storage.pg.db import PgDatabase
from storage.pg.fsm import PgStorage
from storage.pg.users import PgUsersRepo
from tests.harness import running_bot
from tests.test_wizard import AppWalker, individual_kk


async def test_the_backend_is_chosen_by_database_url(fake, db_path, pg_url):
    async with running_bot(fake, db_path, database_url=pg_url) as app:
        assert isinstance(app.db, PgDatabase) and isinstance(app.fsm, PgStorage)
        assert isinstance(app.repos.users, PgUsersRepo)
    assert not db_path.exists()  # nothing written to the SQLite file
    async with running_bot(fake, db_path) as app:
        assert isinstance(app.db, Database)


async def test_a_complaint_on_postgresql_survives_a_restart_mid_wizard(fake, db_path, pg_url, no_unhandled):
    user = fake.user(507, "Айгерім", language_code="kk")
    answers = individual_kk()
    async with running_bot(fake, db_path, database_url=pg_url) as app:
        w = AppWalker(fake, app, user)
        await w.begin()
        await w.walk(answers, until="postal_address")
        before = await w.draft()
    async with running_bot(fake, db_path, database_url=pg_url) as app:  # a new process (or another instance)
        w.app = app
        assert await w.draft() == before
        await w.send(answers["postal_address"])
        after = await w.draft()
        assert after["step"] == "actual_address" and after["draft"]["postal_address"] == answers["postal_address"]
        await w.walk(answers)
        doc = await w.confirm()
        [saved] = await app.repos.complaints.list_for_user(507)
        assert saved.complaint.surname == "Әлиханқызы" and saved.number in doc.text
        assert await w.draft() == {}  # the draft is gone once the complaint is saved
    assert "Әлиханқызы Айгерім Бекқызы" in document_text(doc.document)
