"""Working-day overrides recorded at run time, and the calendar every deadline is computed with."""

from __future__ import annotations

from datetime import date, datetime

import aiosqlite

from bot.domain.clock import Clock
from bot.domain.entities import StoredOverride
from bot.domain.workdays import KzCalendar, Override, load_facts
from storage.db import Database, iso

__all__ = ["CalendarHolder", "CalendarRepo"]


def _override(row: aiosqlite.Row) -> Override:
    return Override(date.fromisoformat(row["day"]), row["kind"], bool(row["working"]), row["source"])


class CalendarHolder:
    """The current KzCalendar (data file + stored overrides), rebuilt by ``load`` (both backends)."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self._facts = load_facts()
        self._calendar: KzCalendar | None = None

    def _build(self, overrides: list[Override], verified_years: list[int]) -> KzCalendar:
        self._calendar = KzCalendar(self._facts, overrides=overrides, verified_years=verified_years)
        return self._calendar

    @property
    def calendar(self) -> KzCalendar:
        if self._calendar is None:
            raise RuntimeError("CalendarRepo.load() was not awaited")
        return self._calendar


class CalendarRepo(CalendarHolder):
    """Rebuilt when an override is added or a year verified."""

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        super().__init__(clock)
        self.db = db

    async def load(self) -> KzCalendar:
        # in the order they were recorded (add() gives a fact recorded again a new id): the last word on a day,
        # or on a year's Kurban Ait (a correction), wins
        rows = await self.db.fetchall("SELECT * FROM calendar_overrides ORDER BY id")
        years = await self.db.fetchall("SELECT year FROM calendar_years")
        return self._build([_override(r) for r in rows], [r["year"] for r in years])

    async def add(self, override: Override, added_by: int | None, at: datetime | None = None) -> KzCalendar:
        day = override.day.isoformat()
        async with self.db.transaction() as conn:  # recorded again: a new row, so the latest id is the last word
            await conn.execute("DELETE FROM calendar_overrides WHERE day = ? AND kind = ?", (day, override.kind))
            await conn.execute(
                "INSERT INTO calendar_overrides (day, kind, working, source, added_by, added_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (day, override.kind, int(override.working), override.source, added_by, iso(at or self.clock.now())),
            )
        return await self.load()

    async def verify(self, year: int, source: str, verified_by: int | None,
                     at: datetime | None = None) -> KzCalendar:
        """``year``'s transfers and Kurban Ait date are checked against ``source`` (the published order)."""
        await self.db.execute(
            "INSERT INTO calendar_years (year, source, verified_by, verified_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(year) DO UPDATE SET source = excluded.source, verified_by = excluded.verified_by,"
            " verified_at = excluded.verified_at",
            (year, source, verified_by, iso(at or self.clock.now())),
        )
        return await self.load()

    async def overrides(self) -> list[StoredOverride]:
        """What operators recorded, by day."""
        rows = await self.db.fetchall("SELECT * FROM calendar_overrides ORDER BY day")
        return [StoredOverride(r["id"], _override(r), r["added_by"], r["added_at"]) for r in rows]
