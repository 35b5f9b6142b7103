"""Users: language choice, reminder switch, reachability. Read-through cache: every update looks its user up."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import aiosqlite

from bot.domain.clock import Clock
from bot.domain.entities import User
from bot.domain.text import LANGUAGES
from storage.db import Database, iso, parse_iso

__all__ = ["UsersRepo"]


def _row(row: aiosqlite.Row) -> User:
    return User(
        id=row["id"],
        language=row["language"],
        language_source=row["language_source"],
        first_name=row["first_name"],
        reminders_enabled=bool(row["reminders_enabled"]),
        unreachable_at=row["unreachable_at"],
        created_at=parse_iso(row["created_at"]),
    )


class UsersRepo:
    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self.db = db
        self.clock = clock or Clock()
        self._cache: dict[int, User] = {}

    def _now(self) -> str:
        return iso(self.clock.now())

    async def get(self, user_id: int) -> User | None:
        if user_id in self._cache:
            return self._cache[user_id]
        row = await self.db.fetchone("SELECT * FROM users WHERE id = ?", (user_id,))
        if row is None:
            return None
        user = self._cache[user_id] = _row(row)
        return user

    async def _get_written(self, user_id: int) -> User:
        """The row just written (it exists: the caller wrote it)."""
        self._cache.pop(user_id, None)
        user = await self.get(user_id)
        if user is None:
            raise KeyError(user_id)
        return user

    async def seen(self, user_id: int, first_name: str | None, language_code: str | None) -> User:
        """The user of an update: created on first contact (language from Telegram when it is kk or ru).

        A user who wrote again after blocking the bot is reachable again.
        """
        user = await self.get(user_id)
        if user is not None:
            if user.unreachable_at is not None:
                await self.db.execute("UPDATE users SET unreachable_at = NULL, updated_at = ? WHERE id = ?",
                                      (self._now(), user_id))
                user = self._cache[user_id] = replace(user, unreachable_at=None)
            return user
        code = (language_code or "").split("-")[0].lower()
        language = code if code in LANGUAGES else None
        now = self._now()
        await self.db.execute(
            "INSERT INTO users (id, language, language_source, first_name, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING",
            (user_id, language, "telegram" if language else None, first_name, now, now),
        )
        return await self._get_written(user_id)

    async def set_language(self, user_id: int, language: str) -> User:
        if language not in LANGUAGES:
            raise ValueError(f"unsupported language {language!r}")
        await self.db.execute(
            "UPDATE users SET language = ?, language_source = 'choice', updated_at = ? WHERE id = ?",
            (language, self._now(), user_id),
        )
        return await self._get_written(user_id)

    async def set_reminders(self, user_id: int, enabled: bool) -> None:
        await self.db.execute("UPDATE users SET reminders_enabled = ?, updated_at = ? WHERE id = ?",
                              (int(enabled), self._now(), user_id))
        self._cache.pop(user_id, None)

    def evict(self, user_id: int) -> None:
        """Forget the cached row (the person's data was erased by another repository)."""
        self._cache.pop(user_id, None)

    async def mark_unreachable(self, user_id: int, at: datetime) -> None:
        await self.db.execute("UPDATE users SET unreachable_at = ?, updated_at = ? WHERE id = ?",
                              (iso(at), self._now(), user_id))
        self._cache.pop(user_id, None)
