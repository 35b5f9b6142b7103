"""Prometheus metrics (``METRICS_LISTEN=127.0.0.1:9090``: ``GET /metrics``), one registry per app.

What is measured, and where it comes from:

* ``shagym_updates_total{kind}``, ``shagym_update_seconds{kind}`` (histogram), ``shagym_update_errors_total
  {kind}``: an outer update middleware around everything the dispatcher does with an update;
* ``shagym_log_errors_total{logger}``: records at ERROR and above (jobs, the outbox, the error handler);
* ``shagym_reminders_total{event}``: due (claimed for delivery), sent, failed, rate_limited (429s met),
  cancelled (not sent) - the reminder loop's own counts, read at scrape time;
* ``shagym_sender_queue_depth``: sends in the Sender's hands (waiting for a chat's turn or on the wire);
* ``shagym_tickets_open``, ``shagym_tickets_overdue``: the desk, counted at scrape time;
* ``shagym_fsm_commit_seconds`` (histogram): each batch commit of the FSM storage.

The endpoint is an aiohttp server on the bot's own loop (aiohttp comes with aiogram): a scrape reads the
counters in place and asks the database for the desk's two figures, so nothing is shared across threads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["Metrics"]

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
COMMIT_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class _Live(Collector):
    """Values read at scrape time from the objects that keep them (no copies to drift)."""

    def __init__(self, metrics: "Metrics") -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Any]:
        m = self.metrics
        reminders = CounterMetricFamily("shagym_reminders", "Reminders since start, by event", labels=["event"])
        for event in ("due", "sent", "failed", "rate_limited", "cancelled"):
            reminders.add_metric([event], float(m.reminder_counts().get(event, 0)))
        yield reminders
        yield GaugeMetricFamily("shagym_sender_queue_depth", "Sends in the Sender's hands", value=m.queue_depth())
        yield GaugeMetricFamily("shagym_tickets_open", "Open desk tickets", value=m.tickets[0])
        yield GaugeMetricFamily("shagym_tickets_overdue", "Open desk tickets past their review day",
                                value=m.tickets[1])


class _ErrorLog(logging.Handler):
    def __init__(self, counter: Counter) -> None:
        super().__init__(logging.ERROR)
        self.counter = counter

    def emit(self, record: logging.LogRecord) -> None:
        self.counter.labels(record.name).inc()


class _UpdateMetrics(BaseMiddleware):
    def __init__(self, metrics: "Metrics") -> None:
        self.metrics = metrics

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        m = self.metrics
        kind = event.event_type if isinstance(event, Update) else type(event).__name__
        started = time.perf_counter()
        try:
            return await handler(event, data)
        except Exception:
            m.errors.labels(kind).inc()
            raise
        finally:
            m.latency.labels(kind).observe(time.perf_counter() - started)
            m.updates.labels(kind).inc()


class Metrics:
    def __init__(self, address: tuple[str, int], *, reminder_counts: Callable[[], dict[str, int]],
                 queue_depth: Callable[[], int], tickets: Callable[[], Awaitable[tuple[int, int]]]) -> None:
        self.address = address
        self.registry = CollectorRegistry()
        self.reminder_counts = reminder_counts
        self.queue_depth = queue_depth
        self._tickets = tickets
        self.tickets = (0, 0)
        self.updates = Counter("shagym_updates", "Updates handled, by kind", ["kind"], registry=self.registry)
        self.latency = Histogram("shagym_update_seconds", "Time to handle an update, by kind", ["kind"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.errors = Counter("shagym_update_errors", "Updates whose handling raised, by kind", ["kind"],
                              registry=self.registry)
        self.log_errors = Counter("shagym_log_errors", "Log records at ERROR or above, by logger", ["logger"],
                                  registry=self.registry)
        self.fsm_commit = Histogram("shagym_fsm_commit_seconds", "FSM storage batch commits",
                                    buckets=COMMIT_BUCKETS, registry=self.registry)
        self.registry.register(_Live(self))
        self._error_log = _ErrorLog(self.log_errors)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    def middleware(self) -> BaseMiddleware:
        """The outer update middleware (registered first: it wraps everything else the dispatcher does)."""
        return _UpdateMetrics(self)

    # ---- the endpoint -------------------------------------------------------------------------
    async def render(self) -> bytes:
        try:
            self.tickets = await self._tickets()
        except Exception as exc:  # a busy database must not break the scrape
            log.warning("metrics: counting tickets failed: %s", type(exc).__name__)
        return generate_latest(self.registry)

    async def _handle(self, request: web.Request) -> web.Response:
        return web.Response(body=await self.render(), headers={"Content-Type": "text/plain; version=0.0.4"})

    async def start(self, host: str, port: int) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []  # the port chosen when 0 was asked
        self.port = sockets[0].getsockname()[1] if sockets else port
        logging.getLogger().addHandler(self._error_log)
        log.info("metrics: serving /metrics on %s:%s", host, self.port)

    async def startup(self, scheduler: object) -> None:  # an app feature (bot/app.py)
        await self.start(*self.address)

    async def shutdown(self) -> None:
        await self.stop()

    async def stop(self) -> None:
        logging.getLogger().removeHandler(self._error_log)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
