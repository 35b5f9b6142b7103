"""The Bot API session: aiogram's aiohttp session, sending a request's parameters as one JSON body.

aiogram sends every request as an HTML form: each parameter prepared on its own, every object in it (a
keyboard, entities) encoded to JSON text, then the whole form percent-encoded field by field; Telegram
decodes it all back. The Bot API takes a JSON body as well, and a sendMessage with a keyboard is then one
``orjson.dumps`` of the same values. A request that uploads a file still goes as aiogram's multipart form.
Measured with ``python -m bench e2e`` (docs/performance.md).

Per request, the outgoing path costs what aiogram's does minus what it pays for nothing (measured per request
without the network, /work/wt-out-bench.py --stub: sendMessage with a 4-button keyboard, answerCallbackQuery,
editMessageText: 131 us for aiogram's session, 61 us for this one before the last round below, 36 us after):

* the body: the method's fields are read as they are (a dict walk) instead of ``model_dump`` and aiogram's
  ``prepare_value`` over its output; anything but plain values, lists, dicts, aiogram objects and bot defaults
  (a file, a date, an int enum) goes the way aiogram prepares it, so the parameters are the same. What to do
  with a value is looked up by its type (``isinstance`` on pydantic's classes goes through ABCMeta), an inline
  keyboard is dumped by pydantic (4 us instead of 9), the bot's defaults are prepared once;
* the answer's type: pydantic holds a generic like ``Response[Message]`` only weakly, so a garbage collection
  dropped it and the next answer built it again (~3 ms of schema building); it is held here for good;
* what an answer repeats: Telegram sends back the inline keyboard a message was sent with, the bot's own user
  as its sender, the chat, the entities; when the keyboard is exactly the one sent, and the others exactly
  as an earlier answer showed them, the answer takes the already-built object instead of validating it again
  (each aiogram object costs ~8 us to validate, mostly its Python hooks; a 4-button keyboard is 5 of them);
  a method returning True answered exactly ``{"ok":true,"result":true}`` is not validated at all, and a message
  made only of such objects, a date read before, its id and text is built from the last answer of its shape
  without validating (``_quick``: ~2 us instead of ~10);
* the answer's text: its bytes go to orjson as they are, without finding their charset and decoding them;
* getUpdates' answer (the incoming updates, ~4.5% of the bot's CPU in the e2e burst when validated): an update
  whose objects have the keys, in order, of objects validated before is built from those (``_build``: copies
  holding the new values, each checked against what its field takes; dates read before), and anything else is
  validated alone, which teaches its shape; a text message ~9 us instead of ~30, a button press with its
  message and keyboard ~22 instead of ~70 (timeit, loaded machine);
* the request: the URL parsed once per method, one ClientTimeout per timeout, and (``__call__``) the one
  request middleware the bot registers called as it is instead of aiogram's functools.partial chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import types
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, Union, cast, get_args, get_origin

import orjson
from aiogram.client.default import Default, DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import ClientDecodeError, TelegramNetworkError
from aiogram.methods import GetUpdates, Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import (
    Chat,
    InaccessibleMessage,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    TelegramObject,
    Update,
    User,
)
from aiohttp import ClientError, ClientTimeout
from multidict import CIMultiDict
from pydantic import BaseModel, PlainSerializer, ValidationError
from yarl import URL

from bot.runtime import json_dumps, json_loads

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.types import InputFile

__all__ = ["JsonBodySession"]

_JSON = CIMultiDict({"Content-Type": "application/json"})  # aiohttp takes a CIMultiDict as it is
#: The answer to a method returning True, as Telegram writes it (and as json.dumps does: a local server, the fake)
_TRUE = (b'{"ok":true,"result":true}', b'{"ok": true, "result": true}')
_MISSING = object()
_SEEN_MAX = 4096  # objects kept from answers (each a chat, the bot's user or an entity): cleared when over
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


# What _plain does with a value, by its exact type (looked up once per type: ``isinstance`` on pydantic's model
# classes goes through ABCMeta and cost ~0.4 us a value, a third of a sendMessage's body).
_VALUE, _OBJECT, _KEYBOARD, _LIST, _DICT, _DEFAULT, _OTHER = range(1, 8)  # all true: ``get() or``
_KINDS: dict[type, int] = {str: _VALUE, int: _VALUE, float: _VALUE, bool: _VALUE, list: _LIST, dict: _DICT,
                           Default: _DEFAULT, InlineKeyboardMarkup: _KEYBOARD}


def _kind(kind: type) -> int:
    found = _KINDS.get(kind)
    if found is None:  # exactly int, float, bool are plain; an int enum is prepared by aiogram (its value, as text)
        found = _KINDS[kind] = (_VALUE if issubclass(kind, str) else _OBJECT if issubclass(kind, TelegramObject)
                                else _DEFAULT if issubclass(kind, Default) else _OTHER)
    return found


def _plain(value: Any, bot: Bot) -> Any:
    """``value`` as aiogram's ``prepare_value`` (without JSON encoding) leaves a nested value: None left out of
    lists and objects, bot defaults filled in; raises :class:`_Unusual` for anything else than plain values,
    lists, dicts, aiogram objects and defaults."""
    kind = _KINDS.get(type(value)) or _kind(type(value))
    if kind == _VALUE:
        return value
    if kind == _KEYBOARD:
        # an inline keyboard holds only text, booleans and option objects (no defaults, files, dates): pydantic
        # dumps it as the walk below would, 4 us instead of 9 for a 4-button keyboard
        return value.model_dump(exclude_none=True, warnings=False)
    if kind == _OBJECT:
        out = {}
        for key, item in _fields(value):
            if item is not None and (prepared := _plain(item, bot)) is not None:
                out[key] = prepared
        return out
    if kind == _LIST:
        return [prepared for item in value if item is not None and (prepared := _plain(item, bot)) is not None]
    if kind == _DICT:
        return {key: prepared for key, item in value.items()
                if item is not None and (prepared := _plain(item, bot)) is not None}
    if kind == _DEFAULT:
        default = bot.default[value.name]
        return None if default is None else _plain(default, bot)
    raise _Unusual


#: What :meth:`JsonBodySession._quick` reads from a message in an answer, by JSON key: of exactly this type (int,
#: str), a date read before (datetime), entities already read (list), an object already read (the others).
_QUICK_FIELDS: dict[str, type] = {"message_id": int, "text": str, "date": datetime, "edit_date": datetime,
                                  "from": User, "chat": Chat, "reply_markup": InlineKeyboardMarkup, "entities": list}


def _like(template: BaseModel, values: dict[str, Any], extra: dict[str, Any] | None = None) -> Any:
    """What validating a JSON of ``template``'s shape gives when its values are ``values`` (by field name, the
    shape's every field) and its extra fields ``extra`` (None: the template's): a copy of ``template`` holding
    them (aiogram's objects are frozen, or never changed by the bot: nothing else differs)."""
    obj = template.__class__.__new__(template.__class__)
    fields = template.__dict__.copy()
    fields.update(values)
    _set(obj, "__dict__", fields)
    _set(obj, "__pydantic_fields_set__", template.__pydantic_fields_set__.copy())
    if extra is None:
        extra = template.__pydantic_extra__
        extra = None if extra is None else extra.copy()
    _set(obj, "__pydantic_extra__", extra)
    private = template.__pydantic_private__
    _set(obj, "__pydantic_private__", None if private is None else private.copy())
    return obj


_set = object.__setattr__  # pydantic's __setattr__ refuses a frozen object's fields


# ------------------------------------------------------------------------------ incoming updates (getUpdates)
#
# Validating an update costs ~29 us for a text message and more for a button press (its message and keyboard):
# each aiogram object runs Python hooks (``remove_unset``, ``model_post_init`` for the bot). An object whose JSON
# has the keys, in order, of one validated before (a ``_Plan`` per class and keys) is built as a copy of that one
# holding the new values, checked one by one against what the field takes (``_step``); anything the plan cannot
# vouch for (another type, a date not read before, a value of a field it does not know) makes the update be
# validated, which teaches its shape.

# What a JSON key becomes: ``_AS_IS`` the value of exactly the type the field takes (str, int, bool, float),
# ``_NULL`` None, ``_DATE`` a date read before, ``_NODE`` an object, ``_LIST``/``_LISTS`` a list (of lists) of
# objects, ``_MESSAGE`` a message that is accessible (a date other than 0: InaccessibleMessage's is 0),
# ``_EXTRA`` an extra field (kept as it is), ``_EQUAL`` exactly the value the template was read from.
_AS_IS, _NULL, _DATE, _NODE, _LIST, _LISTS, _MESSAGE, _EXTRA, _EQUAL = range(9)
_PLANS_MAX = 256  # shapes of objects kept (a person can send odd ones): all forgotten when over
_SCALARS = (str, int, bool, float, type(None))
_FIELD_KINDS: dict[type, dict[str, tuple[str, int, Any]]] = {}  # class -> JSON key -> (field, kind, its type)


def _annotation_kind(annotation: Any, metadata: list[Any]) -> tuple[int, Any]:
    """What a field of this annotation takes, as far as ``_build`` vouches for it (``_EQUAL``: nothing)."""
    args = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else (annotation,)
    args = tuple(arg for arg in args if arg is not type(None))
    if set(args) == {Message, InaccessibleMessage} and not metadata:
        return _MESSAGE, None
    if len(args) != 1:
        return _EQUAL, None
    kind = args[0]
    if get_origin(kind) is Annotated:
        kind, *more = get_args(kind)
        metadata = [*metadata, *more]
    if kind is datetime and all(isinstance(m, PlainSerializer) for m in metadata):  # aiogram's DateTime
        return _DATE, None
    if metadata:
        return _EQUAL, None
    if kind in (str, int, bool, float):
        return _AS_IS, kind
    if isinstance(kind, type) and issubclass(kind, TelegramObject):
        return _NODE, kind
    if get_origin(kind) is list:
        item = get_args(kind)[0]
        if isinstance(item, type) and issubclass(item, TelegramObject):
            return _LIST, item
        if get_origin(item) is list and isinstance(inner := get_args(item)[0], type) \
                and issubclass(inner, TelegramObject):
            return _LISTS, inner
    return _EQUAL, None


def _field_kinds(cls: type[TelegramObject]) -> dict[str, tuple[str, int, Any]]:
    found = _FIELD_KINDS.get(cls)
    if found is None:
        found = {}
        for name, field in cls.model_fields.items():
            kind = _annotation_kind(field.annotation, field.metadata)
            found[name] = (name, *kind)
            if field.alias:  # populate_by_name: the field's name is read as well as its alias
                found[field.alias] = (name, *kind)
        _FIELD_KINDS[cls] = found
    return found


class _Plan:
    """Builds an object of a class from a JSON object of exactly the keys it was learned from (in order)."""

    __slots__ = ("steps", "template")

    def __init__(self, template: TelegramObject, steps: tuple[tuple[str, str, int, Any], ...]) -> None:
        self.template = template
        self.steps = steps  # per JSON key: (key, field name, what it becomes, its type, class or value)


class JsonBodySession(AiohttpSession):
    """aiogram's AiohttpSession (the same connection pool, limits, proxy, middlewares, error mapping) whose
    requests without a file carry their parameters as a JSON body; JSON by orjson both ways."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("json_loads", json_loads)
        kwargs.setdefault("json_dumps", json_dumps)
        super().__init__(**kwargs)
        # Objects read from answers, kept to serve again when an answer repeats exactly the same JSON: the bot's
        # user ("from"), a chat by its id, an entity (type, offset, length); all bound to ``_seen_bot``.
        self._seen: dict[Any, tuple[Any, TelegramObject]] = {}
        self._seen_bot: Bot | None = None
        self._dates: dict[int, datetime] = {}  # a date in an answer (Unix time) -> as validated
        self._shapes: dict[tuple[type, frozenset[str]], Response[Any]] = {}  # answers of a shape: a template
        self._plans: dict[tuple[type, tuple[str, ...]], _Plan] = {}  # objects in updates, by class and keys
        self._updates_answer: Response[Any] | None = None  # a getUpdates answer as validated: its template
        self._urls: dict[tuple[str, str], URL] = {}  # (token, API method) -> its URL, for ``_urls_api``
        self._urls_api = self.api
        self._timeouts: dict[float, ClientTimeout] = {}
        # The bot's defaults as sent, by name, for ``_defaults_of`` (a bot's DefaultBotProperties: not changed
        # once the bot is built; the values are shared by the bodies, which are only encoded)
        self._defaults: dict[str, Any] = {}
        self._defaults_of: DefaultBotProperties | None = None

    async def __call__(self, bot: Bot, method: TelegramMethod[TelegramType],
                       timeout: int | None = None) -> TelegramType:
        # aiogram wraps the registered middlewares around make_request anew for every request (a chain of
        # functools.partial); the bot registers one (bot.services.sender.OutgoingPolicy): it is called as is
        if len(self.middleware) == 1:
            make_request = self.make_request if timeout is None else partial(self.make_request, timeout=timeout)
            return cast(TelegramType, await self.middleware[0](make_request, bot, method))
        return await super().__call__(bot, method, timeout)

    def parameters(self, bot: Bot, method: TelegramMethod[Any]) -> dict[str, Any] | None:
        """The request's parameters (what aiogram's form holds: empty values left out), None when it uploads a
        file."""
        body: dict[str, Any] = {}
        if self._defaults_of is not bot.default:
            self._defaults = {}
            self._defaults_of = bot.default
        defaults = self._defaults
        try:
            for key, value in _fields(method):
                if value is None:
                    continue
                if type(value) is Default:  # most methods hold three or four: each prepared once per bot
                    prepared = defaults.get(value.name, _MISSING)
                    if prepared is _MISSING:
                        prepared = defaults[value.name] = _plain(value, bot)
                else:
                    prepared = _plain(value, bot)
                if prepared is not None and prepared != "":
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

    def _url(self, bot: Bot, method: TelegramMethod[Any]) -> URL:
        """The method's URL, parsed once (aiohttp parses a URL given as text on every request)."""
        if self._urls_api is not self.api:
            self._urls.clear()
            self._urls_api = self.api
        key = (bot.token, method.__api_method__)
        url = self._urls.get(key)
        if url is None:
            url = self._urls[key] = URL(self.api.api_url(token=bot.token, method=method.__api_method__))
        return url

    async def make_request(self, bot: Bot, method: TelegramMethod[TelegramType],
                           timeout: int | None = None) -> TelegramType:
        body = self.parameters(bot, method)
        if body is None:  # a file: aiogram's multipart form
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        total = self.timeout if timeout is None else timeout
        client_timeout = self._timeouts.get(total)
        if client_timeout is None:
            client_timeout = self._timeouts[total] = ClientTimeout(total=total)
        try:
            async with session.post(self._url(bot, method), data=orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS),
                                    headers=_JSON, timeout=client_timeout) as resp:
                raw_result = await resp.read()  # bytes: orjson reads them as they are (Telegram's JSON is UTF-8)
        except asyncio.TimeoutError as e:
            raise TelegramNetworkError(method=method, message="Request timeout error") from e
        except ClientError as e:
            raise TelegramNetworkError(method=method, message=f"{type(e).__name__}: {e}") from e
        if raw_result in _TRUE and resp.status == 200 and method.__returning__ is bool:
            return cast(TelegramType, True)  # answerCallbackQuery, deleteMessage...: nothing to read
        response = self.check_response(bot=bot, method=method, status_code=resp.status, content=raw_result,
                                       sent_keyboard=body.get("reply_markup"))
        return cast(TelegramType, response.result)

    def _bind(self, bot: Bot) -> None:
        """Forget what was read for another bot (every object read is bound to its bot)."""
        if self._seen_bot is not bot:
            self._seen.clear()
            self._dates.clear()
            self._shapes.clear()
            self._plans.clear()
            self._updates_answer = None
            self._seen_bot = bot

    def _known(self, key: Any, raw: Any) -> TelegramObject | None:
        """The object read before from exactly ``raw`` under ``key``, None when there is none."""
        known = self._seen.get(key)
        return known[1] if known is not None and known[0] == raw else None

    def _reuse(self, bot: Bot, method: TelegramMethod[Any], result: dict[str, Any],
               sent_keyboard: Any) -> list[tuple[Any, Any, str, int | None]]:
        """Put in ``result`` the objects already built for what it repeats; returns what is read anew and worth
        keeping: (key, JSON, field, index in the list)."""
        self._bind(bot)
        keyboard = getattr(method, "reply_markup", None)
        if sent_keyboard is not None and isinstance(keyboard, InlineKeyboardMarkup) \
                and result.get("reply_markup") == sent_keyboard:
            # equal: pydantic takes the instance as it is, so the answer and the method share one keyboard
            # object (aiogram's keyboards are mutable: the bot builds one per message and never changes it)
            result["reply_markup"] = keyboard
        fresh: list[tuple[Any, Any, str, int | None]] = []
        key: Any
        for field in ("from", "chat"):
            raw = result.get(field)
            if isinstance(raw, dict):
                key = field if field == "from" else (field, raw.get("id"))
                known = self._known(key, raw)
                if known is not None:
                    result[field] = known
                elif field == "chat" or raw.get("is_bot") is True:
                    fresh.append((key, raw, field, None))
        entities = result.get("entities")
        if isinstance(entities, list):
            for n, raw in enumerate(entities):
                if isinstance(raw, dict) and len(raw) == 3:  # type, offset, length: the usual ones
                    key = (raw.get("type"), raw.get("offset"), raw.get("length"))
                    known = self._known(key, raw)
                    if known is not None:
                        entities[n] = known
                    else:
                        fresh.append((key, raw, "entities", n))
        return fresh

    def _keep(self, fresh: list[tuple[Any, Any, str, int | None]], message: Message) -> None:
        """Keep the objects ``message`` was read into for what ``_reuse`` found new."""
        if len(self._seen) > _SEEN_MAX:
            self._seen.clear()
        for key, raw, field, n in fresh:
            built = message.from_user if field == "from" else message.chat if field == "chat" else \
                message.entities[n] if message.entities and n is not None and n < len(message.entities) else None
            if isinstance(built, TelegramObject):
                self._seen[key] = (raw, built)

    def _learn(self, returned: type[Response[Any]], result: dict[str, Any], response: Response[Any]) -> None:
        """Keep ``response`` (a message validated from ``result``) as the template of answers of its shape, and
        its dates, when that shape is one :meth:`_quick` reads."""
        if _QUICK_FIELDS.keys() >= result.keys():
            message = response.result
            self._shapes[(returned, frozenset(result))] = response
            for key in ("date", "edit_date"):
                if type(result.get(key)) is int:
                    self._dates[result[key]] = getattr(message, key)
            if len(self._dates) > _SEEN_MAX:
                self._dates.clear()

    def _quick(self, returned: type[Response[Any]], result: dict[str, Any]) -> Response[Any] | None:
        """The answer as validating it gives, built from the template of its shape without validation; None
        unless every value is an object already read (``_reuse``), a date read before, an int id or a text.
        An answer to sendMessage or editMessageText usually is (the sender, the chat, the keyboard sent, the
        entities, the second): ~2 us instead of ~10 for pydantic and the Message's hooks."""
        template = self._shapes.get((returned, frozenset(result)))
        if template is None:
            return None
        values: dict[str, Any] = {}
        for key, value in result.items():
            kind = _QUICK_FIELDS[key]
            if kind is datetime:
                value = self._dates.get(value) if type(value) is int else None
            elif kind is list:
                if type(value) is not list or not all(isinstance(item, MessageEntity) for item in value):
                    return None
            elif not (type(value) is kind if kind is int or kind is str else isinstance(value, kind)):
                return None
            if value is None:
                return None
            values["from_user" if key == "from" else key] = value
        return _like(template, {"result": _like(cast(Message, template.result), values)})

    def _learn_update(self, raw: Any, update: Update) -> None:
        """Learn the plans of the objects ``update`` was validated into from ``raw``, and its dates."""
        if len(self._plans) > _PLANS_MAX:
            self._plans.clear()
        if len(self._dates) > _SEEN_MAX:
            self._dates.clear()
        if type(raw) is dict:
            self._plan(Update, raw, update)

    def _plan(self, cls: type[TelegramObject], raw: dict[str, Any], built: Any) -> bool:
        """Learn the plan of ``cls`` objects of ``raw``'s keys from ``built`` (``raw`` validated), and those of
        the objects in it; False when it cannot be built from a plan (then neither can what holds it)."""
        if type(built) is not cls:
            return False
        fields = _field_kinds(cls)
        extra = built.__pydantic_extra__ or {}
        steps: list[tuple[str, str, int, Any]] = []
        named: set[str] = set()
        for key, value in raw.items():
            field = fields.get(key)
            if field is None:
                if key not in extra:
                    return False
                steps.append((key, key, _EXTRA, None))
                continue
            name, kind, of = field
            if name in named:  # both the alias and the name: which one pydantic keeps is its business
                return False
            named.add(name)
            step = self._step(kind, of, value, getattr(built, name))
            if step is None:
                return False
            steps.append((key, name, *step))
        # a copy: the bot's handlers get ``built`` itself (a keyboard, an entity can be changed)
        self._plans[(cls, tuple(raw))] = _Plan(_like(built, {}), tuple(steps))
        return True

    def _step(self, kind: int, of: Any, value: Any, read: Any) -> tuple[int, Any] | None:
        """How ``_build`` reads a value of a field of this kind, learned from ``value`` read as ``read``; None
        when it cannot."""
        if value is None and read is None:
            return _NULL, None
        if kind == _AS_IS and type(value) is of and type(read) is of and read == value:
            return kind, of
        if kind == _DATE and type(value) is int and isinstance(read, datetime):
            self._dates[value] = read
            return kind, of
        if kind == _MESSAGE and type(value) is dict and type(value.get("date")) is int and value["date"]:
            return (kind, of) if self._plan(Message, value, read) else None
        if kind == _NODE and type(value) is dict:
            return (kind, of) if self._plan(of, value, read) else None
        if kind == _LIST:
            return (kind, of) if self._plan_all(of, value, read) else None
        if kind == _LISTS and type(value) is list and type(read) is list and len(read) == len(value):
            return (kind, of) if all(self._plan_all(of, row, built) for row, built in zip(value, read, strict=True)) \
                else None
        if type(value) in _SCALARS and type(read) in _SCALARS:  # a value it does not know: this one only
            return _EQUAL, (type(value), value, read)
        return None

    def _plan_all(self, cls: type[TelegramObject], raw: Any, read: Any) -> bool:
        """``_plan`` for each object of a list."""
        return type(raw) is list and type(read) is list and len(read) == len(raw) and \
            all(type(item) is dict and self._plan(cls, item, built) for item, built in zip(raw, read, strict=True))

    def _build(self, cls: type[TelegramObject], raw: dict[str, Any]) -> Any:
        """The ``cls`` object validating ``raw`` gives, built from its plan; None when there is none or a value
        is not one the plan vouches for."""
        plan = self._plans.get((cls, tuple(raw)))
        if plan is None:
            return None
        values: dict[str, Any] = {}
        extra: dict[str, Any] | None = None
        for key, name, kind, of in plan.steps:
            value = raw[key]
            if kind == _AS_IS:  # the most common: inline
                if type(value) is not of:
                    return None
            elif kind == _EXTRA:
                if extra is None:
                    extra = {}
                extra[key] = value
                continue
            elif (value := self._value(kind, of, value)) is _MISSING:
                return None
            values[name] = value
        return _like(plan.template, values, extra)

    def _value(self, kind: int, of: Any, value: Any) -> Any:
        """What a value of a field of this kind is read as (``_build``), _MISSING when the plan does not vouch
        for it."""
        if kind == _NODE:
            built = self._build(of, value) if type(value) is dict else None
        elif kind == _DATE:
            built = self._dates.get(value) if type(value) is int else None
        elif kind == _MESSAGE:
            built = self._build(Message, value) if type(value) is dict and type(value.get("date")) is int \
                and value["date"] else None
        elif kind == _LIST:
            built = self._build_all(of, value)
        elif kind == _LISTS:
            rows = [self._build_all(of, row) for row in value] if type(value) is list else [None]
            built = None if None in rows else rows
        elif kind == _NULL:
            return None if value is None else _MISSING
        else:  # _EQUAL
            return of[2] if type(value) is of[0] and value == of[1] else _MISSING
        return _MISSING if built is None else built

    def _build_all(self, cls: type[TelegramObject], raw: Any) -> list[Any] | None:
        """The list of ``cls`` objects validating the list ``raw`` gives (``_build``), None as there."""
        if type(raw) is not list:
            return None
        built = []
        for item in raw:
            if type(item) is not dict or (item := self._build(cls, item)) is None:
                return None
            built.append(item)
        return built

    def read_update(self, bot: Bot, raw: Any) -> Update:
        """``Update.model_validate(raw, context={"bot": bot})``, built from what was validated before when it
        can be (``_build``); raises ValidationError as that does. (A webhook's body could be read here too.)"""
        self._bind(bot)
        update = self._build(Update, raw) if type(raw) is dict else None
        if update is None:
            update = Update.model_validate(raw, context={"bot": bot})
            self._learn_update(raw, update)
        return update

    def _updates(self, bot: Bot, result: list[Any]) -> Response[Any] | None:
        """A getUpdates answer as validating it gives, its updates read by :meth:`read_update`; None when there
        is no answer to copy yet or an update is not valid (the whole answer is then validated, for aiogram's
        error)."""
        self._bind(bot)
        template = self._updates_answer
        if template is None:
            return None
        try:
            updates = [self.read_update(bot, raw) for raw in result]
        except ValidationError:
            return None
        return cast("Response[Any]", _like(template, {"result": updates}))

    def check_response(self, bot: Bot, method: TelegramMethod[TelegramType], status_code: int,
                       content: str | bytes, sent_keyboard: Any = None) -> Response[TelegramType]:
        """aiogram's check: the answer as ``Response[<what the method returns>]``, or the error it means.
        ``sent_keyboard``: the reply markup as sent (JSON values); an answer showing exactly that keyboard
        gets the method's own keyboard object; the bot's user, a chat, an entity exactly as an earlier answer
        showed them get the objects read from that one (each aiogram object costs ~8 us to validate, mostly
        its Python hooks: a chat ~11 us, the bot's user, an entity ~7 us each)."""
        returned = response_type(method)
        data = None
        if 200 <= status_code <= 226:
            with contextlib.suppress(Exception):  # not JSON: aiogram's ClientDecodeError, from its own check
                data = self.json_loads(content)
        if not isinstance(data, dict) or data.get("ok") is not True:  # the errors, as aiogram maps them
            text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
            return super().check_response(bot, method, status_code, text)
        result = data.get("result")
        fresh = self._reuse(bot, method, result, sent_keyboard) if isinstance(result, dict) else None
        if isinstance(result, dict) and not fresh and len(data) == 2:
            quick = self._quick(returned, result)
            if quick is not None:
                return cast("Response[TelegramType]", quick)
        updates = result if type(method) is GetUpdates and type(result) is list and len(data) == 2 else None
        if updates is not None and (built := self._updates(bot, updates)) is not None:
            return cast("Response[TelegramType]", built)
        try:
            response = returned.model_validate(data, context={"bot": bot})
        except ValidationError as e:
            raise ClientDecodeError("Failed to deserialize object", e, data) from e
        if isinstance(response.result, Message):
            if fresh:
                self._keep(fresh, response.result)
            if len(data) == 2 and isinstance(result, dict):
                self._learn(returned, result, response)
        elif updates is not None:
            self._updates_answer = _like(response, {"result": []})
            for raw, update in zip(updates, response.result or (), strict=True):
                self._learn_update(raw, update)
        return cast("Response[TelegramType]", response)  # quoted: subscripting a pydantic generic costs ~3 us
