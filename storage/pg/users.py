"""Users on PostgreSQL. No read-through cache (unlike storage/users.py): several instances share the rows, and
a cached language or reachability would go stale on the others; the lookup is one indexed query."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from bot.domain.clock import Clock
from bot.domain.entities import User
from bot.domain.text import LANGUAGES
from storage.db import iso
from storage.pg.db import PgDatabase, moment
from storage.pg.rows import entity

__all__ = ["PgUsersRepo"]


def _user(row: asyncpg.Record) -> User:
    unreachable = row["unreachable_at"]
    return entity(User, row, unreachable_at=iso(unreachable) if unreachable else None)


def _written(row: asyncpg.Record | None, user_id: int) -> User:
    """The row a statement just wrote (None: the user does not exist)."""
    if row is None:
        raise KeyError(user_id)
    return _user(row)


class PgUsersRepo:
    def __init__(self, db: PgDatabase, clock: Clock | None = None) -> None:
        self.db = db
        self.clock = clock or Clock()

    def _now(self) -> datetime:
        return moment(self.clock.now())

    async def get(self, user_id: int) -> User | None:
        row = await self.db.fetchone("SELECT * FROM users WHERE id = $1", user_id)
        return _user(row) if row else None

    async def seen(self, user_id: int, first_name: str | None, language_code: str | None) -> User:
        """The user of an update: created on first contact (language from Telegram when it is kk or ru).

        A user who wrote again after blocking the bot is reachable again. One query for a known user."""
        row = await self.db.fetchone("SELECT * FROM users WHERE id = $1", user_id)
        if row is not None and row["unreachable_at"] is None:
            return _user(row)
        now = self._now()
        if row is not None:
            row = await self.db.fetchone(
                "UPDATE users SET unreachable_at = NULL, updated_at = $1 WHERE id = $2 RETURNING *", now, user_id)
        else:
            code = (language_code or "").split("-")[0].lower()
            language = code if code in LANGUAGES else None
            row = await self.db.fetchone(  # another instance may create it at the same moment: theirs is kept
                "INSERT INTO users AS u (id, language, language_source, first_name, created_at, updated_at)"
                " VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (id) DO UPDATE SET id = u.id RETURNING *",
                user_id, language, "telegram" if language else None, first_name, now)
        return _written(row, user_id)

    async def set_language(self, user_id: int, language: str) -> User:
        if language not in LANGUAGES:
            raise ValueError(f"unsupported language {language!r}")
        row = await self.db.fetchone(
            "UPDATE users SET language = $1, language_source = 'choice', updated_at = $2 WHERE id = $3 RETURNING *",
            language, self._now(), user_id)
        return _written(row, user_id)

    async def set_reminders(self, user_id: int, enabled: bool) -> None:
        await self.db.execute("UPDATE users SET reminders_enabled = $1, updated_at = $2 WHERE id = $3",
                              enabled, self._now(), user_id)

    def evict(self, user_id: int) -> None:
        """Nothing is cached here (the rows are shared by the instances)."""

    async def mark_unreachable(self, user_id: int, at: datetime) -> None:
        await self.db.execute("UPDATE users SET unreachable_at = $1, updated_at = $2 WHERE id = $3",
                              moment(at), self._now(), user_id)
