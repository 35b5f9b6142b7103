"""Whether long work lets the event loop serve others: count the loop's turns while it runs."""

from __future__ import annotations

import asyncio
from typing import Any


class LoopTicks:
    """While entered, another task counts the loop's turns (``n``): work that never yields leaves it at 0."""

    def __init__(self) -> None:
        self.n = 0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            self.n += 1
            await asyncio.sleep(0)

    async def __aenter__(self) -> "LoopTicks":
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)
        self.n = 0
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._task is not None
        self._task.cancel()
