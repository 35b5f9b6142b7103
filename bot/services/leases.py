"""Keeping a lease while working (storage/leases.py explains them): the rows an instance claimed stay its own as
long as it renews them, and go to another instance only when it stops renewing (it died, or froze for a whole
lease)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

__all__ = ["renewing"]

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def renewing(renew: Callable[[], Awaitable[object]], lease: timedelta) -> AsyncIterator[None]:
    """While the block runs, ``await renew()`` every third of the ``lease`` (a renewal that fails is tried again
    at the next beat: two more before the lease runs out)."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(lease.total_seconds() / 3)
            try:
                await renew()
            except Exception as exc:
                log.warning("lease renewal failed: %s", type(exc).__name__)

    task = asyncio.create_task(beat(), name="lease-renewal")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
