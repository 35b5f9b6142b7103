"""Saved complaints: what the wizard produced on "Confirm".

`create` inserts the row and sets its human number (`complaint_number(id, created date)`) in the same
transaction, so a complaint never exists without its number. The document's fields are stored packed
(`Complaint.pack`: ~0.9 KB a row for ~2.3 KB of JSON, storage/migrations/0012); the columns are what is
queried (the person, the age) or shown in lists (number, language, status).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import aiosqlite

from bot.domain.complaint import Complaint, complaint_number
from bot.domain.entities import ComplaintHead, StoredComplaint
from storage.db import Database, iso, parse_iso_required

__all__ = ["ComplaintsRepo"]

DEFAULT_TZ = ZoneInfo("Asia/Almaty")


def _row(row: aiosqlite.Row) -> StoredComplaint:
    return StoredComplaint(
        id=row["id"],
        number=row["number"],
        user_id=row["user_id"],
        language=row["language"],
        complaint=Complaint.unpack(row["data"]),
        created_at=parse_iso_required(row["created_at"]),
        status=row["status"],
    )


class ComplaintsRepo:
    def __init__(self, db: Database, tz: ZoneInfo = DEFAULT_TZ) -> None:
        self.db = db
        self.tz = tz  # the number's year is the local (Almaty) date of creation

    async def create(self, user_id: int, complaint: Complaint, language: str, at: datetime) -> StoredComplaint:
        """Save a finished complaint; `at` is an aware moment. Returns it with its id and number."""
        created_day = complaint.created or at.astimezone(self.tz).date()
        stamp = iso(at)
        data = complaint.pack()  # before the write lock: the transaction only writes
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO complaints (user_id, language, data, created_at) VALUES (?, ?, ?, ?)",
                (user_id, language, data, stamp),
            )
            complaint_id = cursor.lastrowid
            assert complaint_id is not None
            number = complaint_number(complaint_id, created_day)
            await conn.execute("UPDATE complaints SET number = ? WHERE id = ?", (number, complaint_id))
        return StoredComplaint(complaint_id, number, user_id, language, complaint, parse_iso_required(stamp))

    async def get(self, complaint_id: int) -> StoredComplaint | None:
        row = await self.db.lookup_one("SELECT * FROM complaints WHERE id = ?", (complaint_id,))
        return _row(row) if row else None

    async def list_for_user(self, user_id: int) -> list[StoredComplaint]:
        """The user's complaints, newest first."""
        rows = await self.db.lookup("SELECT * FROM complaints WHERE user_id = ? ORDER BY id DESC", (user_id,))
        return [_row(r) for r in rows]

    async def heads_for_user(self, user_id: int) -> list[ComplaintHead]:
        """The user's complaints, newest first, without their documents: /my lists only the number and the day
        (unpacking every document cost ~55 µs of each /my)."""
        rows = await self.db.lookup("SELECT id, number, created_at FROM complaints WHERE user_id = ? ORDER BY id DESC",
                                    (user_id,))
        return [ComplaintHead(r[0], r[1], parse_iso_required(r[2])) for r in rows]
