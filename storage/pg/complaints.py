"""Saved complaints on PostgreSQL: the row and its human number in one transaction, the document's fields
packed (see storage/complaints.py)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg

from bot.domain.complaint import Complaint, complaint_number, pack_fields
from bot.domain.entities import ComplaintHead, StoredComplaint
from storage.complaints import DEFAULT_TZ
from storage.pg.db import Conn, PgDatabase, moment
from storage.pg.rows import entity, loads

__all__ = ["PgComplaintsRepo", "pack_stored"]

PACK_BATCH = 1000  # rows per statement of the migration's conversion


def _row(row: asyncpg.Record) -> StoredComplaint:
    return entity(StoredComplaint, row, complaint=Complaint.unpack(row["data"]))


async def pack_stored(conn: Conn) -> None:
    """Migration 0012's conversion (storage.pg.db.DATA_STEPS): every row's jsonb document, packed as the
    SQLite migration packs it (the same pack_fields of the same dictionary), then the jsonb column goes."""
    last = 0
    while batch := await conn.fetch("SELECT id, data_json::text AS doc FROM complaints WHERE id > $1 ORDER BY id"
                                    " LIMIT $2", last, PACK_BATCH):
        await conn.executemany("UPDATE complaints SET data = $2 WHERE id = $1",
                               [(r["id"], pack_fields(loads(r["doc"]))) for r in batch])
        last = batch[-1]["id"]
    await conn.execute("ALTER TABLE complaints DROP COLUMN data_json, ALTER COLUMN data SET NOT NULL")


class PgComplaintsRepo:
    def __init__(self, db: PgDatabase, tz: ZoneInfo = DEFAULT_TZ) -> None:
        self.db = db
        self.tz = tz  # the number's year is the local (Almaty) date of creation

    async def create(self, user_id: int, complaint: Complaint, language: str, at: datetime) -> StoredComplaint:
        """Save a finished complaint; `at` is an aware moment. Returns it with its id and number."""
        created_day = complaint.created or at.astimezone(self.tz).date()
        stamp = moment(at)
        data = complaint.pack()
        async with self.db.transaction() as conn:
            # the id first, so the row is written once with its number (an UPDATE after the INSERT left a dead
            # copy of every row: 1.8 KB a row on disk instead of 0.9)
            complaint_id: int = await conn.fetchval("SELECT nextval(pg_get_serial_sequence('complaints', 'id'))")
            number = complaint_number(complaint_id, created_day)
            await conn.execute(
                "INSERT INTO complaints (id, number, user_id, language, data, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                complaint_id, number, user_id, language, data, stamp,
            )
        return StoredComplaint(complaint_id, number, user_id, language, complaint, stamp)

    async def get(self, complaint_id: int) -> StoredComplaint | None:
        row = await self.db.fetchone("SELECT * FROM complaints WHERE id = $1", complaint_id)
        return _row(row) if row else None

    async def list_for_user(self, user_id: int) -> list[StoredComplaint]:
        """The user's complaints, newest first."""
        rows = await self.db.fetchall("SELECT * FROM complaints WHERE user_id = $1 ORDER BY id DESC", user_id)
        return [_row(r) for r in rows]

    async def heads_for_user(self, user_id: int) -> list[ComplaintHead]:
        """The user's complaints, newest first, without their documents (see storage/complaints.py)."""
        rows = await self.db.fetchall("SELECT id, number, created_at FROM complaints WHERE user_id = $1 ORDER BY id DESC",
                                      user_id)
        return [ComplaintHead(r[0], r[1], r[2]) for r in rows]
