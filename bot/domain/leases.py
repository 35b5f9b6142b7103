"""Keeping a lease while working. A lease (storage/leases.py: rows an instance claimed; the webhook's update
ledger; the Redis conversation lock, storage/fsm_redis.py) stays its holder's as long as it is renewed, and goes
to another instance only when renewals stop (the holder died, or froze for a whole lease). The rule, once:
renew every third of the lease, so a failed renewal has two more tries before the lease runs out.
"""

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
        # asyncio.wait never raises the beat's CancelledError, so a cancellation of the task running this block
        # (the pump or the tick being stopped right now) is not swallowed with it: it propagates.
        await asyncio.wait([task])
