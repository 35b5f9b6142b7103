"""Working-day overrides recorded at run time, and the calendar every deadline is computed with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.domain.workdays import KzCalendar, Override, load_facts
from storage.db import Database, iso, utcnow_iso


@dataclass(frozen=True)
class StoredOverride:
    id: int
    override: Override
    added_by: int | None
    added_at: str


class CalendarRepo:
    """Holds the current KzCalendar (data file + stored overrides); rebuilt when an override is added."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._facts = load_facts()
        self._calendar: KzCalendar | None = None

    async def load(self) -> KzCalendar:
        rows = await self.db.fetchall("SELECT * FROM calendar_overrides ORDER BY day")
        overrides = [Override(date.fromisoformat(r["day"]), r["kind"], bool(r["working"]), r["source"]) for r in rows]
        self._calendar = KzCalendar(self._facts, overrides=overrides)
        return self._calendar

    @property
    def calendar(self) -> KzCalendar:
        if self._calendar is None:
            raise RuntimeError("CalendarRepo.load() was not awaited")
        return self._calendar

    async def add(self, override: Override, added_by: int | None, at: datetime | None = None) -> KzCalendar:
        await self.db.execute(
            "INSERT INTO calendar_overrides (day, kind, working, source, added_by, added_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(day, kind) DO UPDATE SET working = excluded.working,"
            " source = excluded.source, added_by = excluded.added_by, added_at = excluded.added_at",
            (override.day.isoformat(), override.kind, int(override.working), override.source, added_by,
             iso(at) if at else utcnow_iso()),
        )
        return await self.load()

    async def list(self) -> list[StoredOverride]:
        rows = await self.db.fetchall("SELECT * FROM calendar_overrides ORDER BY day")
        return [
            StoredOverride(r["id"], Override(date.fromisoformat(r["day"]), r["kind"], bool(r["working"]), r["source"]),
                           r["added_by"], r["added_at"])
            for r in rows
        ]
