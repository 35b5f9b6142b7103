"""aiogram FSM storage on PostgreSQL: the same group commit and barrier as storage/fsm.py (nothing is sent
before the step it answers is committed), shared by every instance: no cache beyond this instance's own
uncommitted writes (GroupCommitStorage.shared), so an update handled by another instance sees the last step.

A batch is one transaction of two statements over arrays (upsert, delete), on a pool connection."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from storage.fsm import GroupCommitStorage, Row
from storage.pg.db import PgDatabase, moment

__all__ = ["PgStorage"]

_UPSERT = (
    "INSERT INTO fsm (key, user_id, state, data, updated_at)"
    " SELECT k, u, s, d::jsonb, $5 FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[]) AS t (k, u, s, d)"
    " ON CONFLICT (key) DO UPDATE SET state = excluded.state, data = excluded.data, updated_at = excluded.updated_at"
)


class PgStorage(GroupCommitStorage):
    shared = True

    def __init__(self, db: PgDatabase, *, now: Callable[[], datetime] | None = None, **kwargs: Any) -> None:
        super().__init__(cache_size=0, now=now)
        self.db = db

    @classmethod
    async def open(cls, db: PgDatabase, **kwargs: Any) -> "PgStorage":
        return cls(db, **kwargs)

    async def _fetch(self, skey: str) -> tuple[str | None, str] | None:
        row = await self.db.fetchone("SELECT state, data::text AS data FROM fsm WHERE key = $1", skey)
        return (row["state"], row["data"]) if row else None

    async def _store(self, upserts: list[Row], deletes: list[str], now: datetime) -> None:
        async with self.db.transaction() as conn:
            if upserts:
                keys, users, states, datas = (list(c) for c in zip(*upserts, strict=True))
                await conn.execute(_UPSERT, keys, users, states, datas, moment(now))
            if deletes:
                await conn.execute("DELETE FROM fsm WHERE key = ANY($1::text[])", deletes)

    async def _delete_idle(self, older_than: datetime, pattern: str) -> list[str]:
        rows = await self.db.fetchall("DELETE FROM fsm WHERE updated_at < $1 AND state LIKE $2 RETURNING key",
                                      moment(older_than), pattern)
        return [r["key"] for r in rows]

    async def _release(self) -> None:
        return None  # the pool belongs to the PgDatabase

    async def _user_rows(self, user_id: int) -> list[tuple[str | None, str, datetime | None]]:
        rows = await self.db.fetchall(
            "SELECT state, data::text AS data, updated_at FROM fsm WHERE user_id = $1 ORDER BY key", user_id)
        return [(r["state"], r["data"], r["updated_at"]) for r in rows]

    async def _forget_user(self, user_id: int) -> list[str]:
        rows = await self.db.fetchall("DELETE FROM fsm WHERE user_id = $1 RETURNING key", user_id)
        return [r["key"] for r in rows]
