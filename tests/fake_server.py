"""The fake Bot API (tests/fakeapi.py) as a process of its own, delivering updates by webhook POST with
retries (tests/fake_webhook.py): Telegram's side of the local two-instance stack (scripts/stack.py) and of
the scale-out benchmark, on loopback only.

    python -m tests.fake_server --state-file PATH [--rate-limit 30]

Writes ``{"base_url": ..., "control_url": ..., "token": ...}`` to PATH once listening. The bot is pointed at
``base_url`` (TELEGRAM_API_BASE) and registers its webhook there (``python -m bot set-webhook``); updates
are then POSTed to that URL. A small control API plays the people:

    POST <control_url>/send   {"user": 1001, "text": "/start", "language": "ru"}  -> {"update_id": ...}
    GET  <control_url>/chat/1001                                                  -> the bot's messages
    GET  <control_url>/stats                     -> deliveries, 429s, sendMessage calls, pending updates
    POST <control_url>/users  {"ids": [1001, ...]}                                 -> people the bot may write to
    GET  <control_url>/sends                     -> every sendMessage: [at, chat_id, text, HTTP status], ``at``
                                                    on this process's monotonic clock (the system's, shared by
                                                    every process of the machine) when the request arrived
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fake_webhook import WebhookDeliverer
from tests.fakeapi import FakeBotAPI

__all__ = ["main"]


def control_app(fake: FakeBotAPI, hooks: WebhookDeliverer) -> web.Application:
    async def send(request: web.Request) -> web.Response:
        body = await request.json()
        user = fake.users.get(int(body["user"])) or fake.user(int(body["user"]),
                                                              language_code=body.get("language", "ru"))
        await user.send(str(body["text"]))
        return web.json_response({"update_id": fake._last_pushed_id})

    async def chat(request: web.Request) -> web.Response:
        messages = fake.messages_in(int(request.match_info["chat_id"]))
        return web.json_response([{"message_id": m.message_id, "text": m.text, "buttons": m.buttons}
                                  for m in messages])

    async def stats(request: web.Request) -> web.Response:
        sends = [c for c in fake.calls_of("sendMessage") if c.ok]
        return web.json_response({
            "deliveries": len(hooks.deliveries),
            "acknowledged": len(hooks.acknowledged),
            "failed_deliveries": sum(1 for d in hooks.deliveries if d.finished is not None and not d.ok),
            "pending_updates": len(fake._updates),
            "count_429": fake.count_429,
            "send_message_ok": len(sends),
            "webhook": fake.webhook.get("url"),
        })

    async def users(request: web.Request) -> web.Response:
        for uid in (await request.json())["ids"]:
            if int(uid) not in fake.users:
                fake.user(int(uid))
        return web.json_response({"users": len(fake.users)})

    async def sends(request: web.Request) -> web.Response:
        return web.json_response([[c.at, c.params.get("chat_id"), c.params.get("text"), c.status]
                                  for c in fake.calls_of("sendMessage")])

    app = web.Application()
    app.router.add_post("/users", users)
    app.router.add_get("/sends", sends)
    app.router.add_post("/send", send)
    app.router.add_get("/chat/{chat_id}", chat)
    app.router.add_get("/stats", stats)
    return app


async def serve(state_file: Path, rate_limit: int | None) -> None:
    fake = FakeBotAPI(rate_limit_per_second=rate_limit, per_chat_limit=rate_limit is not None,
                      per_group_limit=rate_limit is not None)
    await fake.start()
    hooks = WebhookDeliverer(fake, retry_delays=(0.1, 0.5, 1.0, 2.0), timeout=60)
    await hooks.start()
    runner = web.AppRunner(control_app(fake, hooks), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # started: it has sockets
    state: dict[str, Any] = {"base_url": fake.base_url, "control_url": f"http://127.0.0.1:{port}",
                             "token": fake.token}
    state_file.write_text(json.dumps(state))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await hooks.stop()
        await runner.cleanup()
        await fake.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fake_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-file", type=Path, required=True)
    parser.add_argument("--rate-limit", type=int, default=None, help="enforce N sends/s (and 1/s per chat)")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.state_file, args.rate_limit))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
