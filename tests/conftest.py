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
    pg_migrated_url,
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


#: What a test takes to reach the bot's storage: the fake Bot API (a running bot) or the database's path.
_REACHES_STORAGE = {"fake", "db_path"}


#: The longest tests (tens of seconds, mostly waiting: a 2,000-reminder wave at Telegram's pace, real bot
#: processes), started first: in a parallel run (``-n 2``, pytest-xdist) a long test picked up last would
#: leave the other worker idle at the end.
_LONG_FIRST = (
    "tests/test_reminder_instances.py::",
    "tests/test_scaleout.py::",
    "tests/test_fault_tolerance.py::test_storm_",
    "tests/test_foundation.py::test_python_m_bot_",
    "tests/test_webhook.py::test_an_instance_killed_",
    "tests/test_memory.py::",
    "tests/test_fsm_storage.py::test_every_acknowledged_step_survives_sigkill",
    "tests/test_query_plans.py::",
)


def pytest_collection_modifyitems(items):
    def rank(item: pytest.Item) -> int:
        return next((i for i, head in enumerate(_LONG_FIRST) if item.nodeid.startswith(head)), len(_LONG_FIRST))

    items.sort(key=rank)  # stable: the rest keep their order


@pytest.hookimpl(tryfirst=True)  # before the fixtures' own parametrization, which then leaves it alone
def pytest_generate_tests(metafunc):
    """A module marked to run its conversations on every backend (``both_backends``, ``fsm_backend``) may hold
    tests of plain functions too; a test that takes neither the fake Bot API nor the database's path cannot
    start a bot or read its storage, so it runs once, on the embedded default, instead of once per backend."""
    if _REACHES_STORAGE & set(metafunc.fixturenames):
        return
    for name in ("fsm_backend", "backend"):
        if name in metafunc.fixturenames and not {"where", "stores"} & set(metafunc.fixturenames):
            metafunc.definition.add_marker(pytest.mark.parametrize(name, ["sqlite"], indirect=True))
            return


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
