"""Saved complaints on PostgreSQL: the row and its human number in one transaction (see storage/complaints.py)."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg

from bot.domain.complaint import Complaint, complaint_number
from bot.domain.entities import StoredComplaint
from storage.complaints import DEFAULT_TZ
from storage.pg.db import PgDatabase, moment
from storage.pg.rows import entity, jsonb

__all__ = ["PgComplaintsRepo"]


def _row(row: asyncpg.Record) -> StoredComplaint:
    return entity(StoredComplaint, row, complaint=Complaint.from_dict(json.loads(row["data"])))


class PgComplaintsRepo:
    def __init__(self, db: PgDatabase, tz: ZoneInfo = DEFAULT_TZ) -> None:
        self.db = db
        self.tz = tz  # the number's year is the local (Almaty) date of creation

    async def create(self, user_id: int, complaint: Complaint, language: str, at: datetime) -> StoredComplaint:
        """Save a finished complaint; `at` is an aware moment. Returns it with its id and number."""
        created_day = complaint.created or at.astimezone(self.tz).date()
        stamp = moment(at)
        async with self.db.transaction() as conn:
            complaint_id: int = await conn.fetchval(
                "INSERT INTO complaints (user_id, language, applicant_kind, grounds, recipient_kind, data,"
                " status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'created', $7, $7) RETURNING id",
                user_id, language, complaint.applicant_kind, complaint.grounds, complaint.recipient_kind,
                jsonb(complaint.to_dict()), stamp,
            )
            number = complaint_number(complaint_id, created_day)
            await conn.execute("UPDATE complaints SET number = $1 WHERE id = $2", number, complaint_id)
        return StoredComplaint(complaint_id, number, user_id, language, complaint, stamp)

    async def get(self, complaint_id: int) -> StoredComplaint | None:
        row = await self.db.fetchone("SELECT * FROM complaints WHERE id = $1", complaint_id)
        return _row(row) if row else None

    async def list_for_user(self, user_id: int) -> list[StoredComplaint]:
        """The user's complaints, newest first."""
        rows = await self.db.fetchall("SELECT * FROM complaints WHERE user_id = $1 ORDER BY id DESC", user_id)
        return [_row(r) for r in rows]
