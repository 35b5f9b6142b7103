"""bot/domain/leases.py: the renewal beat while a block works, and a stop that always stops."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.domain.leases import renewing


async def test_the_lease_is_renewed_while_the_block_works():
    beats = []

    async def renew() -> None:
        beats.append(asyncio.get_running_loop().time())

    async with renewing(renew, timedelta(seconds=0.15)):  # a beat every third of the lease: 0.05 s
        for _ in range(500):
            if len(beats) >= 3:
                break
            await asyncio.sleep(0.01)
    assert len(beats) >= 3
    after = len(beats)
    await asyncio.sleep(0.2)
    assert len(beats) == after  # the beat stops with the block


async def test_a_cancellation_while_the_beat_is_stopped_is_not_swallowed():
    """The pump's stop cancels it the moment its block ends (the beat being cancelled then): the pump must
    stop, not carry on with its cancellation lost (it hung App.close in the desk tests)."""
    entered = asyncio.Event()
    release = asyncio.Event()

    async def renew() -> None:
        return None

    async def worker() -> None:
        while True:
            async with renewing(renew, timedelta(seconds=30)):
                entered.set()
                await release.wait()
            await asyncio.sleep(0)

    for _ in range(20):  # the race: a cancel delivered while `renewing` awaits its beat's end
        entered.clear()
        release.clear()
        task = asyncio.create_task(worker())
        await entered.wait()
        release.set()
        await asyncio.sleep(0)  # the block ends; `renewing` now cancels and awaits the beat
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=2)
        assert task in done, "the cancellation was swallowed: the worker runs on"
