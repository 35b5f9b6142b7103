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

__all__ = ["FakeServerProcess", "main"]


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


async def stop_process(proc: asyncio.subprocess.Process, sig: int = signal.SIGTERM, *, grace: float = 30) -> None:
    """Ask a child process to end with ``sig``; kill it if it has not ended ``grace`` seconds later."""
    if proc.returncode is not None:
        return
    proc.send_signal(sig)
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()


class FakeServerProcess:
    """This module as a child process (``rate_limit``: enforce N sends/s), and its control API: for tests and
    benchmarks that must not share an event loop (or a CPU's clock) with the fake, so its timestamps are
    Telegram's side of the wire and nothing the senders do bunches them.

        async with FakeServerProcess(tmp, rate_limit=30) as fake:
            await fake.users(ids); session = fake.make_session(); ...; await fake.sends()
    """

    def __init__(self, folder: Path, *, rate_limit: int | None = None) -> None:
        self.state_file = folder / "fake-server.json"
        self.rate_limit = rate_limit
        self.proc: asyncio.subprocess.Process | None = None
        self.http: Any = None
        self.base_url = self.control_url = self.token = ""

    async def __aenter__(self) -> "FakeServerProcess":
        import os
        import sys

        import aiohttp

        root = Path(__file__).resolve().parent.parent
        extra = ["--rate-limit", str(self.rate_limit)] if self.rate_limit else []
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.fake_server", "--state-file", str(self.state_file), *extra, cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)})
        for _ in range(1200):
            if self.state_file.exists() and self.state_file.read_text():
                break
            if self.proc.returncode is not None:
                raise RuntimeError(f"the fake Bot API exited with {self.proc.returncode}")
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError("the fake Bot API did not start")
        state = json.loads(self.state_file.read_text())
        self.base_url, self.control_url, self.token = state["base_url"], state["control_url"], state["token"]
        self.http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self.http is not None:
            await self.http.close()
        if self.proc is not None:
            await stop_process(self.proc, signal.SIGTERM, grace=20)

    def make_session(self) -> Any:
        from aiogram.client.session.aiohttp import AiohttpSession
        from aiogram.client.telegram import TelegramAPIServer

        return AiohttpSession(api=TelegramAPIServer.from_base(self.base_url))

    async def _get(self, path: str) -> Any:
        async with self.http.get(self.control_url + path) as resp:
            return await resp.json()

    async def users(self, ids: list[int]) -> None:
        async with self.http.post(self.control_url + "/users", json={"ids": ids}) as resp:
            resp.raise_for_status()

    async def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = await self._get("/stats")
        return stats

    async def sends(self) -> list[list[Any]]:
        """Every sendMessage: [at (the system's monotonic clock), chat_id, text, HTTP status]."""
        sends: list[list[Any]] = await self._get("/sends")
        return sends


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fake_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-file", type=Path, required=True)
    parser.add_argument("--rate-limit", type=int, default=None, help="enforce N sends/s (and 1/s per chat)")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.state_file, args.rate_limit))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
