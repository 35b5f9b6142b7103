"""Background tasks the services own (the desk's outbox pump, the privacy clean-up), and ones nobody awaits
(:func:`spawn`: a press's answer, a calendar re-plan)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

__all__ = ["spawn", "stop_task"]

_running: set[asyncio.Task[Any]] = set()


def spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """``coro`` as a task nobody awaits, referenced until it is done (the loop keeps only a weak reference to a
    task: an unreferenced one can be collected before it ends)."""
    task = asyncio.create_task(coro)
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task


async def stop_task(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` (if it still runs) and wait until it has stopped."""
    if task is not None and not task.done():
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
