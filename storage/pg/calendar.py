"""Working-day overrides on PostgreSQL, and the calendar every deadline is computed with.

Every instance holds the calendar in memory (deadlines are computed synchronously); an override one instance
adds is announced with NOTIFY in the same transaction, and every instance that ``listen``s reloads at once.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from bot.domain.clock import Clock
from bot.domain.entities import StoredOverride
from bot.domain.workdays import KzCalendar, Override
from storage.calendar import CalendarHolder
from storage.db import iso
from storage.pg.db import PgDatabase, moment

__all__ = ["CHANNEL", "PgCalendarRepo"]

#: The NOTIFY channel of a changed calendar.
CHANNEL = "shagym_calendar"


def _override(row: asyncpg.Record) -> Override:
    return Override(row["day"], row["kind"], row["working"], row["source"])


class PgCalendarRepo(CalendarHolder):
    """Rebuilt when any instance adds an override or verifies a year."""

    def __init__(self, db: PgDatabase, clock: Clock | None = None) -> None:
        super().__init__(clock)
        self.db = db

    async def load(self) -> KzCalendar:
        # in the order they were recorded (add() gives a fact recorded again a new id): the last word on a day,
        # or on a year's Kurban Ait (a correction), wins
        rows = await self.db.fetchall("SELECT * FROM calendar_overrides ORDER BY id")
        years = await self.db.fetchall("SELECT year FROM calendar_years")
        return self._build([_override(r) for r in rows], [r["year"] for r in years])

    async def listen(self) -> None:
        """Reload whenever an instance (this one included) adds an override or verifies a year."""
        async def changed(_payload: str) -> None:
            await self.load()

        await self.db.listen(CHANNEL, changed)

    async def add(self, override: Override, added_by: int | None, at: datetime | None = None) -> KzCalendar:
        async with self.db.transaction() as conn:
            # recorded again: a new row, so the latest id is the last word
            await conn.execute("DELETE FROM calendar_overrides WHERE day = $1 AND kind = $2", override.day, override.kind)
            await conn.execute(
                "INSERT INTO calendar_overrides (day, kind, working, source, added_by, added_at)"
                " VALUES ($1, $2, $3, $4, $5, $6)",
                override.day, override.kind, override.working, override.source, added_by,
                moment(at or self.clock.now()),
            )
            await conn.execute(f"NOTIFY {CHANNEL}")
        return await self.load()

    async def verify(self, year: int, source: str, verified_by: int | None,
                     at: datetime | None = None) -> KzCalendar:
        """``year``'s transfers and Kurban Ait date are checked against ``source`` (the published order)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO calendar_years (year, source, verified_by, verified_at) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (year) DO UPDATE SET source = excluded.source, verified_by = excluded.verified_by,"
                " verified_at = excluded.verified_at",
                year, source, verified_by, moment(at or self.clock.now()),
            )
            await conn.execute(f"NOTIFY {CHANNEL}")
        return await self.load()

    async def overrides(self) -> list[StoredOverride]:
        """What operators recorded, by day."""
        rows = await self.db.fetchall("SELECT * FROM calendar_overrides ORDER BY day")
        return [StoredOverride(r["id"], _override(r), r["added_by"], iso(r["added_at"])) for r in rows]
