"""Background tasks the services own (the desk's outbox pump, the privacy clean-up)."""

from __future__ import annotations

import asyncio

__all__ = ["stop_task"]


async def stop_task(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` (if it still runs) and wait until it has stopped."""
    if task is not None and not task.done():
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
