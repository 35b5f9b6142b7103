"""The Bot API session: aiogram's aiohttp session, sending a request's parameters as one JSON body.

aiogram sends every request as an HTML form: each parameter prepared on its own, every object in it (a
keyboard, entities) encoded to JSON text, then the whole form percent-encoded field by field; Telegram
decodes it all back. The Bot API takes a JSON body as well, and a sendMessage with a keyboard is then one
``orjson.dumps`` of the same values. A request that uploads a file still goes as aiogram's multipart form.
Measured with ``python -m bench e2e`` (docs/performance.md).

Per request, the outgoing path costs what aiogram's does minus three things it pays for nothing:

* the body: the method's fields are read as they are (a dict walk) instead of ``model_dump`` and aiogram's
  ``prepare_value`` over its output; anything but plain values, lists, dicts, aiogram objects and bot defaults
  (a file, a date, an int enum) goes the way aiogram prepares it, so the parameters are the same;
* the answer's type: pydantic holds a generic like ``Response[Message]`` only weakly, so a garbage collection
  dropped it and the next answer built it again (~3 ms of schema building); it is held here for good;
* what an answer repeats: Telegram sends back the inline keyboard a message was sent with, and the bot's own
  user as its sender; when the keyboard is exactly the one sent, and the sender exactly the one in the last
  answer, the answer takes the already-built object instead of validating it again (each aiogram object costs
  ~8 us to validate, mostly its Python hooks; a 4-button keyboard is 5 of them);
* the answer's text: its bytes go to orjson as they are, without finding their charset and decoding them.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, cast

import orjson
from aiogram.client.default import Default
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import ClientDecodeError, TelegramNetworkError
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InlineKeyboardMarkup, Message, TelegramObject, User
from aiohttp import ClientError, ClientTimeout
from pydantic import ValidationError

from bot.runtime import json_dumps, json_loads

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.types import InputFile

__all__ = ["JsonBodySession"]

_JSON = {"Content-Type": "application/json"}
_PLAIN = (int, float, bool)  # exactly these types (an int enum is prepared by aiogram: its value, as text)

#: ``Response[<what the method returns>]`` per method class, held so that pydantic's weak cache keeps it.
_RESPONSES: dict[type, type[Response[Any]]] = {}


class _Unusual(Exception):
    """A value the plain walk does not prepare: aiogram's ``prepare_value`` does."""


def response_type(method: TelegramMethod[Any]) -> type[Response[Any]]:
    kind = type(method)
    found = _RESPONSES.get(kind)
    if found is None:
        found = _RESPONSES[kind] = Response[method.__returning__]  # type: ignore[name-defined]
    return found


def _fields(obj: TelegramObject | TelegramMethod[Any]) -> list[tuple[str, Any]]:
    """An object's fields and extra fields, as ``model_dump`` lists them (by field name)."""
    extra = obj.__pydantic_extra__
    items = list(obj.__dict__.items())
    return items + list(extra.items()) if extra else items


def _plain(value: Any, bot: Bot) -> Any:
    """``value`` as aiogram's ``prepare_value`` (without JSON encoding) leaves a nested value: None left out of
    lists and objects, bot defaults filled in; raises :class:`_Unusual` for anything else than plain values,
    lists, dicts, aiogram objects and defaults."""
    if isinstance(value, str) or type(value) in _PLAIN:
        return value
    if isinstance(value, TelegramObject):
        out = {}
        for key, item in _fields(value):
            if item is not None and (prepared := _plain(item, bot)) is not None:
                out[key] = prepared
        return out
    if type(value) is list:
        return [prepared for item in value if item is not None and (prepared := _plain(item, bot)) is not None]
    if type(value) is dict:
        return {key: prepared for key, item in value.items()
                if item is not None and (prepared := _plain(item, bot)) is not None}
    if isinstance(value, Default):
        default = bot.default[value.name]
        return None if default is None else _plain(default, bot)
    raise _Unusual


class JsonBodySession(AiohttpSession):
    """aiogram's AiohttpSession (the same connection pool, limits, proxy, middlewares, error mapping) whose
    requests without a file carry their parameters as a JSON body; JSON by orjson both ways."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("json_loads", json_loads)
        kwargs.setdefault("json_dumps", json_dumps)
        super().__init__(**kwargs)
        self._sender: tuple[dict[str, Any], User] | None = None  # the bot's user in an answer: JSON, object

    def parameters(self, bot: Bot, method: TelegramMethod[Any]) -> dict[str, Any] | None:
        """The request's parameters (what aiogram's form holds: empty values left out), None when it uploads a
        file."""
        body: dict[str, Any] = {}
        try:
            for key, value in _fields(method):
                if value is not None and (prepared := _plain(value, bot)) is not None and prepared != "":
                    body[key] = prepared
            return body
        except _Unusual:
            pass
        files: dict[str, InputFile] = {}
        body = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if prepared is None or prepared == "":
                continue
            body[key] = prepared
        return None if files else body

    def json_body(self, bot: Bot, method: TelegramMethod[Any]) -> bytes | None:
        """The request's parameters as a JSON object, None when it uploads a file."""
        body = self.parameters(bot, method)
        return None if body is None else orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)

    async def make_request(self, bot: Bot, method: TelegramMethod[TelegramType],
                           timeout: int | None = None) -> TelegramType:
        body = self.parameters(bot, method)
        if body is None:  # a file: aiogram's multipart form
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(url, data=orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS), headers=_JSON,
                                    timeout=ClientTimeout(total=self.timeout if timeout is None else timeout)) as resp:
                raw_result = await resp.read()  # bytes: orjson reads them as they are (Telegram's JSON is UTF-8)
        except asyncio.TimeoutError as e:
            raise TelegramNetworkError(method=method, message="Request timeout error") from e
        except ClientError as e:
            raise TelegramNetworkError(method=method, message=f"{type(e).__name__}: {e}") from e
        response = self.check_response(bot=bot, method=method, status_code=resp.status, content=raw_result,
                                       sent_keyboard=body.get("reply_markup"))
        return cast(TelegramType, response.result)

    def check_response(self, bot: Bot, method: TelegramMethod[TelegramType], status_code: int,
                       content: str | bytes, sent_keyboard: Any = None) -> Response[TelegramType]:
        """aiogram's check: the answer as ``Response[<what the method returns>]``, or the error it means.
        ``sent_keyboard``: the reply markup as sent (JSON values); an answer showing exactly that keyboard
        gets the method's own keyboard object, and one from exactly the bot's user as last seen, that user."""
        returned = response_type(method)
        data = None
        if 200 <= status_code <= 226:
            with contextlib.suppress(Exception):  # not JSON: aiogram's ClientDecodeError, from its own check
                data = self.json_loads(content)
        if not isinstance(data, dict) or data.get("ok") is not True:  # the errors, as aiogram maps them
            text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
            return super().check_response(bot, method, status_code, text)
        result = data.get("result")
        sender = None
        if isinstance(result, dict):
            keyboard = getattr(method, "reply_markup", None)
            if sent_keyboard is not None and isinstance(keyboard, InlineKeyboardMarkup) \
                    and result.get("reply_markup") == sent_keyboard:
                # equal: pydantic takes the instance as it is, so the answer and the method share one keyboard
                # object (aiogram's keyboards are mutable: the bot builds one per message and never changes it)
                result["reply_markup"] = keyboard
            sender = result.get("from")
            known = self._sender
            if known is not None and sender == known[0] and known[1].bot is bot:
                result["from"] = known[1]
                sender = None
        try:
            response = returned.model_validate(data, context={"bot": bot})
        except ValidationError as e:
            raise ClientDecodeError("Failed to deserialize object", e, data) from e
        if isinstance(sender, dict) and sender.get("is_bot") is True and isinstance(response.result, Message) \
                and response.result.from_user is not None:
            self._sender = (sender, response.result.from_user)
        return cast(Response[TelegramType], response)
