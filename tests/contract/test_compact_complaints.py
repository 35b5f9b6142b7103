"""Contract: a saved complaint's row is compact (issue 14, point 6) on SQLite and PostgreSQL, and migration 0012
packs the rows stored before it without losing a field, a number or an id.

Before 0012 a row held the document as JSON with every empty key, plus columns that repeated it: 4,072 bytes on
disk for 2,296 bytes of JSON on SQLite (one row a 4 KB page), so a million complaints took 4 GB."""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta, timezone

import pytest

from bench.gen import make_complaint
from bot.domain.complaint import PACKED_V1, Attachment, Complaint

UTC = timezone.utc
T0 = datetime(2026, 3, 20, 6, 0, tzinfo=UTC)
#: Bytes a realistic complaint may take on disk, its indexes included (a million: 1.5 GB at most).
ROW_BUDGET = 1500


def realistic(n: int) -> list[tuple[int, Complaint, str]]:
    """``n`` complaints as the wizard builds them (bench/gen.py: real names, IINs, addresses, texts of a few
    sentences, ~2.3 KB of JSON each) of 1,000 people, half of them in each language."""
    rng = random.Random(6)
    out = []
    for i in range(n):
        lang = ("kk", "ru")[i % 2]
        out.append((1 + rng.randrange(1000), make_complaint(rng, lang, date(2026, 3, 1) + timedelta(days=i % 200)),
                    lang))
    return out


async def complaints_bytes(stores) -> int:
    """The complaints table with its indexes, on disk."""
    if stores.kind == "pg":
        await stores.db.execute("VACUUM ANALYZE complaints")
        return int(await stores.db.fetchval("SELECT pg_total_relation_size('complaints')"))
    await stores.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    row = await stores.db.fetchone("SELECT SUM(pgsize) FROM dbstat WHERE name = 'complaints'"
                                   " OR name IN (SELECT name FROM sqlite_master WHERE tbl_name = 'complaints')")
    return int(row[0])


async def test_a_realistic_complaint_takes_well_under_two_kilobytes_a_row(stores, backend):
    """3,000 complaints saved through the repository (a row costs the same from the first pages on: three or
    four a page) take under ROW_BUDGET bytes a row with the indexes. Before 0012: 4,148 on SQLite, 3,386 on
    PostgreSQL (jsonb, compressed by TOAST, and a dead copy of each row left by the number's UPDATE)."""
    n = 3_000
    sample = realistic(n)
    json_bytes = 0
    for uid, complaint, lang in sample:
        await stores.complaints.create(uid, complaint, lang, T0)
        json_bytes += len(json.dumps(complaint.to_dict(), ensure_ascii=False).encode())
    per_row = await complaints_bytes(stores) / n
    assert json_bytes / n > 2000  # as big as the wizard's (the 2.2-2.3 KB)
    assert per_row < ROW_BUDGET, f"{per_row:.0f} bytes a row for {json_bytes / n:.0f} bytes of JSON"
    uid, complaint, lang = sample[-1]
    stored = (await stores.complaints.list_for_user(uid))[0]
    assert stored.complaint == complaint and stored.language == lang


async def test_every_field_comes_back(stores):
    """Empty keys are not stored; every field, empty or not, reads back as it was (both applicant kinds)."""
    legal = Complaint(grounds="other", grounds_other_text="Молчание", recipient_kind="akim", recipient_name="Акиму",
                      applicant_kind="legal_entity", org_name="ТОО «Ақ жол»", bin="940140000385",
                      outgoing_number="1", outgoing_date=date(2026, 3, 2), representative_name="Сейітқали Нұрлан",
                      representative_position="Директор", postal_address="Астана, ул. Абая, 10",
                      description="Ответа нет.\nДва месяца.", demands="Ответить", language="kk", consent=True,
                      attachments=[Attachment("BQACAgIAAxkBAAI1", "talon.pdf"), Attachment("AgAC1", "фото", "photo")],
                      created=date(2026, 3, 3), filed=date(2026, 3, 3))
    person = Complaint(applicant_kind="individual", surname="O'Neil", no_iin=True, id_doc_type="foreign_passport",
                       id_doc_number="FA 1", id_doc_issued=date(2019, 5, 20), id_doc_issuer="МВД", language="ru")
    for complaint in (legal, person, Complaint()):
        stored = await stores.complaints.create(7, complaint, complaint.language, T0)
        assert (await stores.complaints.get(stored.id)).complaint == complaint
    data = await stores.privacy.personal_data(7)  # /mydata reads the same rows
    assert [s.complaint for s in data.complaints] == [legal, person, Complaint()]


# ------------------------------------------------------------------------------------------ migration 0012

OLD_SQLITE = ("INSERT INTO complaints (id, number, user_id, language, applicant_kind, grounds, recipient_kind, data,"
              " status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'created', ?, ?)")
OLD_PG = ("INSERT INTO complaints (id, number, user_id, language, applicant_kind, grounds, recipient_kind, data,"
          " status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, 'created', $9, $9)")


async def _before_0012(backend: str, where: str, rows: list[tuple]) -> None:
    """A database migrated up to 0011, with ``rows`` written as the code before 0012 wrote them."""
    if backend == "sqlite":
        import storage.db as module
        from storage.db import Database, iso

        opener, sql = Database.open, OLD_SQLITE
    else:
        import storage.pg.db as module
        from storage.pg.db import PgDatabase, moment

        opener, sql = PgDatabase.open, OLD_PG
    every = module.migration_files
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "migration_files", lambda *a: [(v, p) for v, p in every(*a) if v < 12])
        db = await opener(where)
    try:
        for cid, uid, complaint, lang in rows:
            doc = json.dumps(complaint.to_dict(), ensure_ascii=False)
            params = (cid, f"SH-2026-{cid:06d}", uid, lang, complaint.applicant_kind, complaint.grounds,
                      complaint.recipient_kind, doc)
            if backend == "sqlite":
                await db.execute(sql, (*params, iso(T0), iso(T0)))
            else:
                await db.execute(sql, *params, moment(T0))
        if backend == "sqlite":  # the last one was erased: its id is never given again
            await db.execute("DELETE FROM complaints WHERE id = ?", (rows[-1][0],))
        else:
            await db.execute("SELECT setval(pg_get_serial_sequence('complaints', 'id'), $1)", rows[-1][0])
            await db.execute("DELETE FROM complaints WHERE id = $1", rows[-1][0])
    finally:
        await db.close()


@pytest.fixture
def before_0012():
    return _before_0012


async def test_migration_0012_packs_the_rows_stored_before_it(backend, where, clock, before_0012):
    from tests.backends import open_stores

    old = [(i + 1, uid, complaint, lang) for i, (uid, complaint, lang) in enumerate(realistic(5))]
    old[1] = (2, old[0][1], old[1][2], old[1][3])  # two complaints of one person
    await before_0012(backend, where, old)
    stores = await open_stores(backend, where, clock)  # applies 0012
    try:
        for cid, uid, complaint, lang in old[:-1]:
            stored = await stores.complaints.get(cid)
            assert stored is not None and stored.complaint == complaint
            assert (stored.number, stored.user_id, stored.language, stored.status, stored.created_at) == (
                f"SH-2026-{cid:06d}", uid, lang, "created", T0)
        assert await stores.complaints.get(5) is None
        assert [s.id for s in await stores.complaints.list_for_user(old[0][1])] == [2, 1]
        raw = await stores.db.fetchone("SELECT data FROM complaints WHERE id = 1")
        assert isinstance(raw[0], bytes) and raw[0][0] == PACKED_V1
        new = await stores.complaints.create(old[0][1], Complaint(surname="Жаңа"), "kk", T0)
        assert new.id == 6  # after the erased 5, not in its place
        data = await stores.privacy.personal_data(old[0][1])
        assert [s.complaint for s in data.complaints] == [old[0][2], old[1][2], Complaint(surname="Жаңа")]
        erased = await stores.privacy.erase_person(old[0][1], at=T0)
        assert erased.complaints == 3 and await stores.complaints.list_for_user(old[0][1]) == []
    finally:
        await stores.close()
