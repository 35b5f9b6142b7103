"""METRICS_LISTEN: /metrics scraped during a run shows counters that match what the run did (updates by kind,
latency, reminders due/sent/failed/429, the sender's queue, tickets open and overdue, FSM commits); and
LOG_FORMAT=json: one JSON object a line, still without personal data."""

from __future__ import annotations

import io
import json
import logging
from datetime import date, timedelta

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.domain.clock import FakeClock
from tests.backends import running_bot
from tests.test_operators import GROUP, TUESDAY, fast

pytestmark = pytest.mark.usefixtures("both_backends")  # on SQLite and on PostgreSQL


def metric_values(text: str) -> dict[tuple[str, tuple], float]:
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def value(values, name: str, **labels) -> float:
    return values.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(port: int) -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
            assert response.status == 200
            return metric_values(await response.text())


async def test_metrics_match_what_the_run_did(fake, db_path, no_unhandled):
    from bot.metrics import Metrics

    fake.group(GROUP, "Desk").set_member(501, "member")
    a = fake.user(3001, "A", language_code="ru")
    b = fake.user(3002, "B", language_code="kk")
    c = fake.user(3003, "C", language_code="ru")
    clock = FakeClock(TUESDAY)
    async with running_bot(fake, db_path, clock=clock, operators_chat_id=GROUP, metrics_listen="127.0.0.1:0") as app:
        fast(app)
        app.scheduler.pause()  # the reminder ticks are the test's
        metrics = next(f for f in app.features if isinstance(f, Metrics))
        before = await scrape(metrics.port)
        assert value(before, "shagym_updates_total", kind="message") == 0

        messages = callbacks = 0
        for user in (a, b):
            await user.send("/start")
            await user.expect()
            await user.send("/help")
            await user.expect()
            messages += 2
        await a.send("/language")
        choice = await a.expect()
        await a.press("Қазақша", choice)
        await a.expect()
        messages, callbacks = messages + 1, callbacks + 1
        await c.send("/start")
        await c.expect()
        await c.press("👤")  # a desk ticket
        await c.expect_text("№")
        messages += 2
        await fake.idle()

        # Two tracked cases; at the first reminder's time one delivery meets a 429 (waited out), one is refused.
        for uid in (3001, 3002):
            await app.cases.track(uid, "provider", date(2026, 4, 6), filed_with=None, reg_number=f"R-{uid}",
                                  complaint_id=None, forwarded_via_provider=False, learned_on=None)
        clock.set(TUESDAY + timedelta(days=4, hours=1))
        fake.fail_next("sendMessage", chat_id=3001, error_code=429, retry_after=1)
        fake.fail_next("sendMessage", chat_id=3002, error_code=400)
        await app.reminders.tick()

        after = await scrape(metrics.port)
        db = app.db
        sent = (await db.fetchone("SELECT count(*) AS n FROM reminders WHERE status = 'sent'"))["n"]
        failed = (await db.fetchone("SELECT count(*) AS n FROM reminders WHERE status = 'failed'"))["n"]

    assert value(after, "shagym_updates_total", kind="message") == messages
    assert value(after, "shagym_updates_total", kind="callback_query") == callbacks
    assert value(after, "shagym_update_seconds_count", kind="message") == messages
    assert value(after, "shagym_update_seconds_sum", kind="message") > 0
    assert value(after, "shagym_update_errors_total", kind="message") == 0
    assert sent >= 1 and failed == 1
    assert value(after, "shagym_reminders_total", event="sent") == sent
    assert value(after, "shagym_reminders_total", event="failed") == failed
    assert value(after, "shagym_reminders_total", event="due") == sent + failed
    assert value(after, "shagym_reminders_total", event="rate_limited") == 1
    assert value(after, "shagym_tickets_open") == 1 and value(after, "shagym_tickets_overdue") == 0
    assert value(after, "shagym_sender_queue_depth") == 0
    assert value(after, "shagym_fsm_commit_seconds_count") >= 1


async def test_no_metrics_endpoint_unless_asked(fake, db_path):
    async with running_bot(fake, db_path) as app:
        assert not any(type(f).__name__ == "Metrics" for f in app.features)


def test_start_up_imports_neither_the_chart_library_nor_the_metrics_one():
    """matplotlib (~0.5 s to import) loads when a chart is first drawn; prometheus_client only with
    METRICS_LISTEN: a fresh interpreter importing everything the bot starts with has neither."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, bot.app, bot.run, bot.__main__, handlers, bot.services.desk_sla, bot.domain.desk_chart; "
            "print(sorted(m for m in ('matplotlib', 'prometheus_client') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    assert out.strip() == "[]"


def test_json_logs_one_object_a_line_without_personal_data():
    from bot.logs import protect_personal_data
    from bot.run import setup_logging

    protect_personal_data()
    root = logging.getLogger()
    saved = root.handlers[:]
    stream = io.StringIO()
    try:
        root.handlers = []
        setup_logging("INFO", "json", stream=stream)
        log = logging.getLogger("shagym.test")
        log.info("user %s sent a step", 42)
        iin, name = "0612" + "11600012", "Ива" + "нова"  # what a person typed, never in the source lines shown
        try:
            raise ValueError(f"IIN {iin} is wrong for {name}")
        except ValueError:
            log.exception("step failed")
        logging.getLogger("aiosqlite").debug("executing INSERT ... (%r, %r)", name, iin)
    finally:
        root.handlers = saved
    lines = stream.getvalue().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 2
    assert records[0]["message"] == "user 42 sent a step" and records[0]["levelname"] == "INFO"
    assert records[0]["name"] == "shagym.test" and "asctime" in records[0]
    assert "ValueError" in records[1]["exc_info"] and "Traceback" in records[1]["exc_info"]
    assert "061211600012" not in stream.getvalue() and "Иванова" not in stream.getvalue()
