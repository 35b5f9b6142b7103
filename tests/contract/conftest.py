"""The contract suite's fixtures: every test runs once per backend (tests/backends.py)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.domain.clock import FakeClock
from tests.backends import open_stores

TZ = ZoneInfo("Asia/Almaty")
START = datetime(2026, 3, 19, 12, 0, tzinfo=TZ)


@pytest.fixture
def clock():
    return FakeClock(START)


@pytest.fixture
async def stores(backend, where, clock):
    s = await open_stores(backend, where, clock, holder="one")
    yield s
    await s.close()


@pytest.fixture
async def other(backend, where, clock, stores):
    """A second instance on the same database (its own connections, holder 'two')."""
    s = await open_stores(backend, where, clock, holder="two")
    yield s
    await s.close()
