"""Rows to entities: PostgreSQL returns native values (int, bool, date, aware datetime), so an entity is built
from the columns of the same names; JSON columns (jsonb, read as text) are decoded here."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any, TypeVar

import asyncpg

__all__ = ["entity", "jsonb", "loads"]

T = TypeVar("T")


def entity(cls: type[T], row: asyncpg.Record, **values: Any) -> T:
    """``cls`` from the row's columns named like its fields; ``values`` replace (or add) some."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]  # every entity is a dataclass
    given = {key: value for key, value in row.items() if key in names}
    return cls(**{**given, **values})


def loads(text: str | None) -> dict[str, Any]:
    """A jsonb object column (asyncpg reads jsonb as its text)."""
    value = json.loads(text) if text else {}
    return value if isinstance(value, dict) else {}


def jsonb(value: dict[str, Any] | None, **kw: Any) -> str:
    """The text of a jsonb parameter."""
    return json.dumps(value or {}, ensure_ascii=False, **kw)
