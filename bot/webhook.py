"""Webhook mode (WEBHOOK_URL): aiogram's aiohttp webhook server, answering Telegram only once an update is
handled, each update handled once across instances, and the health checks a load balancer needs.

    POST <path of WEBHOOK_URL>   an update; X-Telegram-Bot-Api-Secret-Token must be WEBHOOK_SECRET (else 401)
    GET  /healthz                200 while the process serves requests (liveness)
    GET  /readyz                 200 when started, not stopping, and the database (and Redis) answer; else 503

An update, in order (:class:`UpdateRequestHandler`):

1. its id is claimed in the ledger (Redis across instances, else this process): a lease of
   UPDATE_LEASE_SECONDS (30), renewed while it is handled. Handled already -> 200 and nothing else; another attempt holds a live lease -> 503
   (Telegram, or the proxy, delivers it again later: if that attempt dies, the update is not lost);
2. the dispatcher handles it, here, before the answer (aiogram's ``handle_in_background=True`` would answer
   200 first and lose the update with the process). A Bot API call returned by a handler is made here too;
3. handled: the ledger says "done" (remembered a day) and Telegram gets 200. It failed for a reason that may
   pass (the database or Redis, storage/errors.py: the error handler lets such an error through instead of
   apologising) -> the lease is released and Telegram gets 500, so it delivers the update again. Any other
   error was answered by the error handler (an apology) and counts as handled;
4. an update whose earlier lease expired (the instance died mid-way) is handled with ``replayed=True``: the
   conversation guard (handlers/guards.py) asks the person the question they are on instead of applying the
   answer a second time.

Instances never call setWebhook: ``python -m bot set-webhook`` registers the URL once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import timedelta
from typing import Any, AsyncIterator

from aiogram import Bot
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from pydantic import ValidationError

from bot.app import App, create_app
from bot.config import Settings
from bot.domain.leases import renewing
from bot.domain.ports import UpdateLedger
from storage.errors import is_transient

log = logging.getLogger("shagym.webhook")

__all__ = ["UpdateRequestHandler", "WebhookServer", "running_webhook", "serve"]


class UpdateRequestHandler(SimpleRequestHandler):
    """aiogram's request handler (secret checked, handled before answering) with the ledger around it."""

    def __init__(self, app: App, ledger: UpdateLedger, *, secret: str, lease_seconds: float = 30.0) -> None:
        super().__init__(app.dp, app.bot, handle_in_background=False, secret_token=secret)
        self.ledger = ledger
        self.lease_seconds = lease_seconds
        self.inflight = 0
        self.counts = {"handled": 0, "duplicate": 0, "busy": 0, "failed": 0, "replayed": 0, "skipped": 0}

    async def close(self) -> None:
        return None  # the App owns the bot's session

    async def _handle_request(self, bot: Bot, request: web.Request) -> web.Response:
        try:
            raw = await request.json(loads=bot.session.json_loads)
        except ValueError:
            return web.Response(status=400, text="not JSON")
        update_id = raw.get("update_id") if isinstance(raw, dict) else None
        if not isinstance(update_id, int):
            return web.Response(status=400, text="no update_id")
        try:
            outcome = await self.ledger.claim(update_id)
        except Exception as exc:
            log.warning("update %s: the ledger failed (%s); answered 503", update_id, type(exc).__name__)
            return web.Response(status=503, text="ledger unavailable", headers={"Retry-After": "1"})
        if outcome == "done":
            self.counts["duplicate"] += 1
            return web.json_response({})
        if outcome == "busy":
            self.counts["busy"] += 1
            return web.Response(status=503, text="being handled", headers={"Retry-After": "1"})
        self.inflight += 1
        try:
            async with renewing(lambda: self.ledger.renew(update_id), timedelta(seconds=self.lease_seconds)):
                ok = await self._handle(bot, raw, update_id, replayed=outcome == "replay")
        finally:
            self.inflight -= 1
        return web.json_response({}) if ok else web.Response(status=500, text="try again")

    async def _handle(self, bot: Bot, raw: dict[str, Any], update_id: int, *, replayed: bool) -> bool:
        # The session reads it as polling reads getUpdates (bot/session.py read_update: built from the updates of
        # the same shape validated before, ~9 us for a text message instead of ~30; the same objects).
        read = getattr(bot.session, "read_update", None)
        try:
            update = read(bot, raw) if read is not None else Update.model_validate(raw, context={"bot": bot})
        except ValidationError as exc:  # as in polling (bot/services/updates.py): skipped, never retried forever
            log.warning("skipped update %s: aiogram cannot parse it (%d errors)", update_id, exc.error_count())
            self.counts["skipped"] += 1
            return await self._finish(update_id)
        if replayed:
            self.counts["replayed"] += 1
            log.warning("update %s: delivered again after an attempt that did not finish", update_id)
        try:
            result = await self.dispatcher.feed_update(bot, update, replayed=replayed, **self.data)
            if isinstance(result, TelegramMethod):  # sent now, through the session's middlewares, not in the answer
                await bot(result)
        except Exception as exc:
            self.counts["failed"] += 1
            log.warning("update %s: %s; answered 500 for Telegram to deliver it again", update_id,
                        type(exc).__name__)
            with contextlib.suppress(Exception):
                await self.ledger.release(update_id)
            return False
        return await self._finish(update_id)

    async def _finish(self, update_id: int) -> bool:
        try:
            await self.ledger.done(update_id)
        except Exception as exc:  # handled, but not recorded: a retry would find the lease (replay)
            log.warning("update %s: handled, but the ledger failed (%s)", update_id, type(exc).__name__)
            return False
        self.counts["handled"] += 1
        return True


class WebhookServer:
    """The aiohttp application of one instance: the update route and the health checks."""

    def __init__(self, app: App, settings: Settings, *, ledger: UpdateLedger | None = None) -> None:
        self.app = app
        self.settings = settings
        self.ready = False
        self.handler = UpdateRequestHandler(app, ledger or app.ledger, secret=settings.webhook_secret.get_secret_value(),
                                            lease_seconds=settings.update_lease_seconds)
        self.web = web.Application()
        self.handler.register(self.web, path=settings.webhook_path)
        self.web.router.add_get("/healthz", self._healthz)
        self.web.router.add_get("/readyz", self._readyz)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, request: web.Request) -> web.Response:
        if not self.ready:
            return web.Response(status=503, text="not ready\n")
        try:
            await asyncio.wait_for(self.app.ping(), 5)
        except Exception as exc:
            return web.Response(status=503, text=f"storage: {type(exc).__name__}\n")
        return web.Response(text="ready\n")

    async def start(self, host: str | None = None, port: int | None = None) -> None:
        """Start the bot's features, then listen (``port`` 0: a free one, see ``self.port``)."""
        default_host, default_port = self.settings.listen_host_port
        self.app.dp["transient_error"] = is_transient  # a storage failure is answered 500 (handlers/errors.py)
        await self.app.dp.emit_startup(bot=self.app.bot, **self.app.dp.workflow_data)
        self._runner = web.AppRunner(self.web, access_log=None, shutdown_timeout=30)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host or default_host, default_port if port is None else port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        self.ready = True
        log.info("webhook: listening on %s:%s%s", host or default_host, self.port, self.settings.webhook_path)

    async def stop(self) -> None:
        """Not ready any more (the balancer stops sending), finish the updates in hand, then stop the bot."""
        self.ready = False
        if self._runner is not None:
            await self._runner.cleanup()  # stops accepting, waits for the requests in flight
            self._runner = None
        await self.app.dp.emit_shutdown(bot=self.app.bot, **self.app.dp.workflow_data)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.settings.webhook_path}"


@contextlib.asynccontextmanager
async def running_webhook(app: App, settings: Settings, *, port: int | None = 0,
                          ledger: UpdateLedger | None = None) -> AsyncIterator[WebhookServer]:
    """One instance serving its webhook (tests and benchmarks: on a free loopback port); closes the App."""
    server = WebhookServer(app, settings, ledger=ledger)
    try:
        await server.start("127.0.0.1" if port == 0 else None, port)
        yield server
    finally:
        try:
            await server.stop()
        finally:
            await app.close()


async def serve(settings: Settings) -> None:
    """``python -m bot`` in webhook mode: until SIGTERM or SIGINT, then a graceful stop."""
    from bot.runtime import tune_gc

    app = await create_app(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with running_webhook(app, settings, port=None):
        tune_gc()
        await stop.wait()
        log.info("webhook: stopping")


# ------------------------------------------------------------------------------------------- the CLI

WEBHOOK_USAGE = """\
usage: python -m bot set-webhook [--drop-pending-updates]
       python -m bot delete-webhook [--drop-pending-updates]

set-webhook: register WEBHOOK_URL with Telegram once, with WEBHOOK_SECRET and the update types the bot
handles (instances never do it themselves). delete-webhook: back to long polling.
"""


async def register_webhook(settings: Settings, *, drop_pending_updates: bool = False) -> str:
    """setWebhook with the bot's own update types; returns a one-line summary."""
    from aiogram import Dispatcher

    from bot.app import make_session
    from handlers import get_router

    dp = Dispatcher()
    dp.include_router(get_router())
    allowed = dp.resolve_used_update_types()
    async with Bot(settings.bot_token.get_secret_value(), session=make_session(settings)) as bot:
        await bot.set_webhook(settings.webhook_url or "", secret_token=settings.webhook_secret.get_secret_value(),
                              allowed_updates=allowed, drop_pending_updates=drop_pending_updates)
        info = await bot.get_webhook_info()
    return f"webhook set: {info.url} ({', '.join(allowed)}; {info.pending_update_count} pending)"


async def unregister_webhook(settings: Settings, *, drop_pending_updates: bool = False) -> str:
    from bot.app import make_session

    async with Bot(settings.bot_token.get_secret_value(), session=make_session(settings)) as bot:
        await bot.delete_webhook(drop_pending_updates=drop_pending_updates)
    return "webhook deleted: the bot can poll again"


def cli(command: str, argv: list[str]) -> int:
    """``python -m bot set-webhook|delete-webhook``: one line on stdout, or one error line and status 2."""
    import sys

    from aiogram.exceptions import TelegramAPIError

    from bot.config import ConfigError, load_settings

    if any(arg in ("-h", "--help") for arg in argv):
        print(WEBHOOK_USAGE, end="")
        return 0
    unknown = [arg for arg in argv if arg != "--drop-pending-updates"]
    if unknown:
        print(f"error: {command}: unknown argument {unknown[0]!r}", file=sys.stderr)
        return 2
    drop = "--drop-pending-updates" in argv
    try:
        settings = load_settings()
        if settings.console_mode:
            raise ConfigError(f"configuration error: BOT_TOKEN: required for {command}")
        if command == "set-webhook" and not settings.webhook_url:
            raise ConfigError("configuration error: WEBHOOK_URL: required for set-webhook")
        action = register_webhook if command == "set-webhook" else unregister_webhook
        print(asyncio.run(action(settings, drop_pending_updates=drop)))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except (TelegramAPIError, OSError) as exc:
        print(f"error: {command}: {type(exc).__name__}: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2
    return 0
