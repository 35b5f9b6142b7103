import logging
import os

import pytest
from hypothesis import settings as hypothesis_settings

from bot.services.i18n import ensure_compiled
from tests.backends import (  # noqa: F401  (fixtures: run on both backends; the wizard on SQLite, Redis, PostgreSQL)
    backend,
    both_backends,
    fsm_backend,
    pg_reader,
    where,
)
from tests.services import (  # noqa: F401  (fixtures: a fresh PostgreSQL database / Redis db per test)
    _drop_pg_template,
    pg_pool,
    pg_url,
    redis_client,
    redis_url,
)

# CI explores the same hypothesis examples every run (reproducible); developers' runs explore new ones.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


def pytest_sessionstart(session):
    ensure_compiled()  # tests run against the real catalogs, compiled from the .po files


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "shagym.sqlite3"


@pytest.fixture
async def fake():
    from tests.fakeapi import running_fake

    async with running_fake() as fake:
        yield fake


@pytest.fixture
def no_unhandled(caplog):
    """Fails the test if the global error handler logged an unhandled exception."""
    caplog.set_level(logging.ERROR, logger="shagym.errors")
    yield
    unhandled = [r for r in caplog.records if r.name == "shagym.errors"]
    assert not unhandled, [r.getMessage() for r in unhandled]
