"""Which failures are the infrastructure's (a database or Redis unreachable, busy, restarting), not a bug:
in webhook mode the update is answered 500 and Telegram delivers it again, instead of an apology and a lost
update (handlers/errors.py receives :func:`is_transient` as ``transient_error``)."""

from __future__ import annotations

import sqlite3

import asyncpg
from redis import exceptions as redis_errors

__all__ = ["is_transient"]

_TRANSIENT: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    redis_errors.ConnectionError,  # BusyLoadingError (Redis loading its file) is one
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,  # a replica promoted a moment ago
    redis_errors.TryAgainError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # the connection was closed under the query
    asyncpg.TooManyConnectionsError,
    asyncpg.CannotConnectNowError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.QueryCanceledError,
    asyncpg.AdminShutdownError,
)
_SQLITE_TRANSIENT = ("locked", "busy", "disk i/o", "unable to open")


def is_transient(exc: BaseException) -> bool:
    """True when trying the same update again later may well succeed (the error, or what caused it)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _TRANSIENT):
            return True
        if isinstance(current, sqlite3.OperationalError) and any(w in str(current).lower() for w in _SQLITE_TRANSIENT):
            return True
        current = current.__cause__ or current.__context__
    return False
