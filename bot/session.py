"""The Bot API session: aiogram's aiohttp session, sending a request's parameters as one JSON body.

aiogram sends every request as an HTML form: each parameter prepared on its own, every object in it (a
keyboard, entities) encoded to JSON text, then the whole form percent-encoded field by field; Telegram
decodes it all back. The Bot API takes a JSON body as well, and a sendMessage with a keyboard is then one
``orjson.dumps`` of the same values. A request that uploads a file still goes as aiogram's multipart form.
Measured with ``python -m bench e2e`` (docs/performance.md).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, cast

import orjson
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiohttp import ClientError, ClientTimeout

from bot.runtime import json_dumps, json_loads

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.types import InputFile

__all__ = ["JsonBodySession"]

_JSON = {"Content-Type": "application/json"}


class JsonBodySession(AiohttpSession):
    """aiogram's AiohttpSession (the same connection pool, limits, proxy, middlewares, error mapping) whose
    requests without a file carry their parameters as a JSON body; JSON by orjson both ways."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("json_loads", json_loads)
        kwargs.setdefault("json_dumps", json_dumps)
        super().__init__(**kwargs)

    def json_body(self, bot: Bot, method: TelegramMethod[Any]) -> bytes | None:
        """The request's parameters as a JSON object (what aiogram's form holds: empty values left out),
        None when it uploads a file."""
        files: dict[str, InputFile] = {}
        body: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if prepared is None or prepared == "":
                continue
            body[key] = prepared
        if files:
            return None
        return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)

    async def make_request(self, bot: Bot, method: TelegramMethod[TelegramType],
                           timeout: int | None = None) -> TelegramType:
        body = self.json_body(bot, method)
        if body is None:  # a file: aiogram's multipart form
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(url, data=body, headers=_JSON,
                                    timeout=ClientTimeout(total=self.timeout if timeout is None else timeout)) as resp:
                raw_result = await resp.text()
        except asyncio.TimeoutError as e:
            raise TelegramNetworkError(method=method, message="Request timeout error") from e
        except ClientError as e:
            raise TelegramNetworkError(method=method, message=f"{type(e).__name__}: {e}") from e
        response = self.check_response(bot=bot, method=method, status_code=resp.status, content=raw_result)
        return cast(TelegramType, response.result)
