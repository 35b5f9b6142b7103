"""Fake Telegram Bot API server for end-to-end tests of the real aiogram bot.

The fake is an aiohttp web server bound to 127.0.0.1 on a free port.  The REAL
aiogram ``Bot``/``Dispatcher`` talk to it over loopback HTTP exactly as they
would talk to api.telegram.org (same URL scheme, same form/multipart encoding,
same JSON answers, same error JSON), so everything between "Telegram sent an
update" and "the bot called sendMessage" is exercised for real.

Typical test::

    from aiogram import Dispatcher
    from tests.fakeapi import running_fake, polling

    async def test_start():
        async with running_fake() as fake:          # fails at exit on unknown methods
            dp = Dispatcher()
            dp.include_router(my_router)
            bot = fake.make_bot()                    # Bot(token=fake.token, session=
                                                     #   AiohttpSession(api=TelegramAPIServer
                                                     #     .from_base(fake.base_url)))
            async with polling(dp, bot, fake=fake):  # start_polling(handle_signals=False,
                                                     #   close_bot_session=False, polling_timeout=1)
                user = fake.user(1001, "Aigerim", language_code="kk")
                await user.send("/start")
                msg = await user.expect()            # next bot message in the user's chat
                assert "Сәлем" in msg.text
                q = await user.press("Қазақша")      # inline button -> callback_query
                ans = await user.answered_callback(q)
                await fake.idle()                    # bot fetched everything and went quiet
                assert fake.calls_of("sendMessage", chat_id=1001)

Doing it by hand instead of ``polling()``::

    bot = Bot(token=fake.token,
              session=AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url)))
    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False,
                                                close_bot_session=False, polling_timeout=1))
    ...
    await dp.stop_polling(); await task; await bot.session.close()

(aiogram 3.31 ``start_polling(*bots, polling_timeout=10, handle_as_tasks=True,
backoff_config=..., allowed_updates=UNSET, handle_signals=True,
close_bot_session=True, tasks_concurrency_limit=None, **kwargs)``; ``polling()``
additionally drains the per-update handler tasks aiogram leaves running and
closes the session itself, so no task or "Unclosed client session" leaks.)

Realism that matters for tests (all like Telegram): unknown chat -> 400 "chat not
found"; editing text without ``reply_markup`` removes the inline keyboard; an
edit with identical content -> 400 "message is not modified"; HTML that Telegram
cannot parse -> 400 "can't parse entities"; text > 4096 / caption > 1024 chars;
callback_data > 64 bytes -> BUTTON_DATA_INVALID; answering an unknown/already
answered callback query -> 400; replying to a missing message -> 400; reply
keyboards are never echoed back in Message.reply_markup.  Any method the fake
does not implement is answered 404 and recorded in ``fake.unknown_methods``;
``running_fake()`` then fails the test at exit (as it does for internal errors
of the fake, ``fake.errors``).

Nothing here talks to the network beyond 127.0.0.1; ``forbid_external_network()``
can additionally be used as a guard.

API overview (details in the docstrings):

* ``FakeBotAPI(token=..., rate_limit_per_second=None, per_chat_limit=False,
  per_group_limit=False, default_bot_status="administrator", strict_chats=True)``
  - ``start()/stop()``, ``base_url``, ``token``, ``bot_id``, ``bot_user``,
    ``make_session()``, ``make_bot(**kw)``
  - records: ``calls`` / ``calls_of(method, **param_filter)`` / ``wait_call()``,
    ``unknown_methods``, ``errors``, ``count_429``, ``bot_messages``,
    ``messages_in(chat_id)``, ``last_message(chat_id)``, ``get_message(chat, id)``,
    ``user_messages``, ``files``, ``commands``/``commands_for(lang, scope)``,
    ``callback_answers``, ``inline_answers``, ``menu_buttons``, ``dropped_updates``
  - setup: ``user(id, first_name, language_code, username)``, ``group(id, title,
    is_forum)``, ``fail_next(method, chat_id, error_code, description, retry_after,
    times)``, ``hold(method, chat_id)``, ``block(uid)/unblock(uid)``, ``push_update(payload)``
  - ``await idle(timeout=5, quiet=0.05)``, ``chat_quiet_for(chat_id)``, ``delivered(update_id)``
  - ``webhook``: what setWebhook registered (getUpdates answers 409 while it is set);
    ``tests/fake_webhook.py`` POSTs the queued updates to it
* ``FakeUser``: ``send/reply/send_photo/send_document/send_voice/send_video/
  send_sticker/send_contact/send_location/edit/press/press_data/inline_query``,
  ``expect/expect_text/expect_edit/expect_no_message/skip_pending``,
  ``answered_callback``, ``messages``, ``last``
* ``FakeChat``: ``set_member(uid, status, **fields)``, ``topics``, ``topic(name)``,
  ``messages``, ``last``
* ``running_fake(**kw)``, ``polling(dp, bot, fake=None, polling_timeout=1, ...)``,
  ``forbid_external_network()``
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import io
import itertools
import json
import math
import re
import socket
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Iterator

from aiohttp import web

__all__ = [
    "BotMessage",
    "ButtonNotFound",
    "Call",
    "FakeBotAPI",
    "FakeChat",
    "FakeUser",
    "FileRecord",
    "UploadedFile",
    "forbid_external_network",
    "polling",
    "running_fake",
]

DEFAULT_TOKEN = "7000000001:AAFakeShagymTestTokenXXXXXXXXXXXXXXXX"

# --------------------------------------------------------------------------- #
# Parameter decoding
# --------------------------------------------------------------------------- #

# Values of these parameters are JSON strings on the wire (objects / arrays).
JSON_FIELDS = frozenset(
    {
        "reply_markup", "entities", "caption_entities", "commands", "scope", "results",
        "media", "reply_parameters", "link_preview_options", "allowed_updates",
        "menu_button", "button", "permissions", "rights", "options", "prices",
        "explanation_entities", "input_message_content", "message_ids",
        "question_entities", "reaction", "text_entities", "suggested_post_parameters",
    }
)
# Free-text / identifier parameters that must never be coerced to numbers/bools.
STRING_FIELDS = frozenset(
    {
        "text", "caption", "title", "name", "description", "short_description", "query",
        "callback_query_id", "inline_query_id", "next_offset", "switch_pm_text",
        "switch_pm_parameter", "url", "emoji", "parse_mode", "phone_number",
        "first_name", "last_name", "vcard", "address", "question", "explanation",
        "custom_title", "language_code", "inline_message_id", "business_connection_id",
        "message_effect_id", "payload", "currency", "provider_token", "start_parameter",
        "secret_token", "action", "icon_custom_emoji_id", "file_id", "sticker",
        "document", "photo", "voice", "video", "audio", "animation", "video_note",
        "thumbnail", "foursquare_id", "foursquare_type", "google_place_id",
        "google_place_type", "invite_link", "ip_address", "sticker_set_name",
    }
)
_INT_RE = re.compile(r"-?\d+")
_FLOAT_RE = re.compile(r"-?\d+\.\d+(?:[eE][-+]?\d+)?")

CANONICAL_METHODS = [
    "getMe", "getUpdates", "deleteWebhook", "getWebhookInfo", "sendMessage",
    "editMessageText", "editMessageReplyMarkup", "editMessageCaption", "deleteMessage",
    "answerCallbackQuery", "answerInlineQuery", "setMyCommands", "getMyCommands",
    "deleteMyCommands", "setMyDescription", "setMyShortDescription", "sendDocument",
    "sendPhoto", "sendVoice", "sendVideo", "sendAudio", "sendSticker", "sendMediaGroup",
    "copyMessage", "forwardMessage", "getFile", "getChat", "getChatMember",
    "getChatAdministrators", "createForumTopic", "editForumTopic", "closeForumTopic",
    "reopenForumTopic", "sendChatAction", "setChatMenuButton", "getChatMenuButton",
]
_CANON = {m.lower(): m for m in CANONICAL_METHODS}

# Methods that produce chat messages (subject to rate limits / blocking).
SEND_METHODS = frozenset(
    m.lower()
    for m in (
        "sendMessage", "sendDocument", "sendPhoto", "sendVoice", "sendVideo", "sendAudio",
        "sendSticker", "sendMediaGroup", "copyMessage", "forwardMessage",
    )
)
# Methods that fail with 403 when the target private chat blocked the bot.
BLOCKABLE_PREFIXES = ("send", "copy", "forward", "edit")

MEDIA_KINDS = ("document", "photo", "voice", "video", "audio", "sticker")
_FILE_ID_PREFIX = {
    "document": "BQACAgIAAxkBAAI",
    "photo": "AgACAgIAAxkBAAI",
    "voice": "AwACAgIAAxkBAAI",
    "video": "BAACAgIAAxkBAAI",
    "audio": "CQACAgIAAxkBAAI",
    "sticker": "CAACAgIAAxkBAAI",
}
_FILE_DIR = {
    "document": "documents", "photo": "photos", "voice": "voice", "video": "videos",
    "audio": "music", "sticker": "stickers",
}
_DEFAULT_MIME = {
    "document": "application/octet-stream", "voice": "audio/ogg", "video": "video/mp4",
    "audio": "audio/mpeg",
}
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
TINY_OGG = b"OggS\x00\x02" + b"\x00" * 20 + b"OpusHead"

HTML_TAGS = frozenset(
    {
        "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
        "a", "code", "pre", "tg-emoji", "blockquote", "tg-time",
    }
)
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s[^<>]*)?)>")
MDV2_ALWAYS_ESCAPE = set("#+-={}.!")

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024


class ApiError(Exception):
    """Raised inside the fake to answer with Telegram's error JSON."""

    def __init__(self, code: int, description: str, parameters: dict | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def to_json(self) -> dict:
        out: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            out["parameters"] = self.parameters
        return out


class _Disconnect(Exception):
    """An injected network failure: the fake drops the connection without answering."""


class ButtonNotFound(AssertionError):
    pass


def _decode_value(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key in STRING_FIELDS:
        return value
    if key in JSON_FIELDS or value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if _INT_RE.fullmatch(value):
        return int(value)
    if _FLOAT_RE.fullmatch(value):
        return float(value)
    if value in ("true", "false"):
        return value == "true"
    if value == "null":
        return None
    return value


def _utf8_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def parse_html(text: str) -> str:
    """Validate Telegram HTML like Telegram does (roughly) and return the plain text."""
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    while True:
        lt = text.find("<", pos)
        if lt < 0:
            out.append(html.unescape(text[pos:]))
            break
        out.append(html.unescape(text[pos:lt]))
        m = _TAG_RE.match(text, lt)
        if not m:
            name = re.match(r"</?([^\s>]*)", text[lt:]).group(1)  # type: ignore[union-attr]  # always matches: text[lt] is "<"
            raise ApiError(
                400,
                f"Bad Request: can't parse entities: Unsupported start tag \"{name}\" "
                f"at byte offset {_utf8_offset(text, lt)}",
            )
        closing, name = m.group(1), m.group(2).lower()
        if name not in HTML_TAGS:
            raise ApiError(
                400,
                f"Bad Request: can't parse entities: Unsupported start tag \"{name}\" "
                f"at byte offset {_utf8_offset(text, lt)}",
            )
        if closing:
            if not stack or stack[-1] != name:
                expected = f', expected "</{stack[-1]}>"' if stack else ""
                raise ApiError(
                    400,
                    "Bad Request: can't parse entities: Unmatched end tag at byte offset "
                    f"{_utf8_offset(text, lt)}{expected}, found \"</{name}>\"",
                )
            stack.pop()
        else:
            stack.append(name)
        pos = m.end()
    if stack:
        raise ApiError(
            400,
            "Bad Request: can't parse entities: Can't find end tag corresponding to start "
            f"tag \"{stack[-1]}\"",
        )
    return "".join(out)


def parse_markdown_v2(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if c in MDV2_ALWAYS_ESCAPE:
            raise ApiError(
                400,
                f"Bad Request: can't parse entities: Character '{c}' is reserved and must be "
                "escaped with the preceding '\\'",
            )
        if c not in "*_~|`[]()":
            out.append(c)
        i += 1
    return "".join(out)


def render_text(text: str, parse_mode: str | None, has_entities: bool) -> str:
    if has_entities or not parse_mode:
        return text
    mode = parse_mode.lower()
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        return re.sub(r"[*_`\[\]]", "", text)
    raise ApiError(400, f"Bad Request: unsupported parse_mode \"{parse_mode}\"")


def _markup_kind(markup: dict | None) -> str | None:
    if not markup:
        return None
    if "inline_keyboard" in markup:
        return "inline"
    if "keyboard" in markup:
        return "reply"
    if markup.get("remove_keyboard"):
        return "remove"
    if markup.get("force_reply"):
        return "force_reply"
    return None


# --------------------------------------------------------------------------- #
# Records
# --------------------------------------------------------------------------- #


@dataclass
class UploadedFile:
    filename: str
    content: bytes
    content_type: str | None = None


@dataclass
class Call:
    """One HTTP request of the bot. ``params`` are decoded (JSON fields -> objects,
    numbers -> int/float, "true"/"false" -> bool); ``files`` maps the multipart
    part name AND the parameter that referenced it via ``attach://`` to UploadedFile."""

    method: str
    params: dict[str, Any]
    files: dict[str, UploadedFile]
    at: float
    status: int | None = None
    response: dict | None = None

    @property
    def ok(self) -> bool:
        return bool(self.response and self.response.get("ok"))


@dataclass
class FileRecord:
    file_id: str
    file_unique_id: str
    content: bytes
    filename: str | None
    mime_type: str | None
    file_path: str
    kind: str

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass
class BotMessage:
    """A message created by the bot (send*/copyMessage/forwardMessage/sendMediaGroup).

    ``text`` is the text for text messages and the caption for media (as sent, i.e.
    still with HTML tags); ``plain_text`` is what Telegram would display.
    ``content``/``filename`` hold the uploaded (or referenced) file bytes."""

    fake: FakeBotAPI = field(repr=False)
    message_id: int
    chat_id: int
    kind: str
    text: str | None
    plain_text: str | None
    reply_markup: dict | None
    parse_mode: str | None
    params: dict[str, Any] = field(repr=False)
    method: str = "sendMessage"
    entities: list | None = None
    file_id: str | None = None
    content: bytes | None = field(default=None, repr=False)
    filename: str | None = None
    mime_type: str | None = None
    message_thread_id: int | None = None
    reply_to_message_id: int | None = None
    reply_to_chat_id: int | None = None
    media_group_id: str | None = None
    copied_from: tuple[int, int] | None = None
    forwarded_from: tuple[int, int] | None = None
    forward_origin: dict | None = None
    date: int = field(default_factory=lambda: int(time.time()))
    edit_date: int | None = None
    edits: list[dict] = field(default_factory=list, repr=False)
    deleted: bool = False
    extra: dict = field(default_factory=dict, repr=False)  # kind specific JSON (contact...)

    # ---- convenience -----------------------------------------------------
    @property
    def caption(self) -> str | None:
        return None if self.kind == "text" else self.text

    @property
    def document(self) -> bytes | None:
        return self.content if self.kind == "document" else None

    @property
    def keyboard_type(self) -> str | None:
        """"inline", "reply", "remove", "force_reply" or None."""
        return _markup_kind(self.reply_markup)

    @property
    def has_keyboard(self) -> bool:
        return self.keyboard_type in ("inline", "reply")

    @property
    def button_rows(self) -> list[list[dict]]:
        kind = self.keyboard_type
        if kind == "inline":
            return [list(r) for r in self.reply_markup["inline_keyboard"]]  # type: ignore[index]  # an inline keyboard here
        if kind == "reply":
            return [
                [b if isinstance(b, dict) else {"text": b} for b in r]
                for r in self.reply_markup["keyboard"]  # type: ignore[index]  # a reply keyboard here
            ]
        return []

    @property
    def buttons(self) -> list[str]:
        """Flat list of button texts (inline or reply keyboard)."""
        return [b["text"] for row in self.button_rows for b in row]

    def button(self, text: str) -> dict:
        return _find_button(self.button_rows, text, where=f"message {self.message_id}")

    def callback_data(self, text: str) -> str | None:
        return self.button(text).get("callback_data")

    @property
    def text_history(self) -> list[str | None]:
        """All texts/captions this message had, oldest first (current one last)."""
        return [e["old_text"] for e in self.edits] + [self.text]

    def to_json(self, *, with_reply: bool = True) -> dict:
        return self.fake._message_json(self, with_reply=with_reply)


def _all_buttons(rows: list[list[dict]]) -> list[dict]:
    return [b for row in rows for b in row]


def _find_button(rows: list[list[dict]], text: str, *, where: str) -> dict:
    found = _match_buttons(rows, text)
    if found is None:
        raise ButtonNotFound(
            f"no button {text!r} in {where}; buttons: {[b['text'] for b in _all_buttons(rows)]}"
        )
    return found


def _match_buttons(rows: list[list[dict]], text: str) -> dict | None:
    """Exact match first, then a unique case-insensitive substring match."""
    btns = _all_buttons(rows)
    for b in btns:
        if b.get("text") == text:
            return b
    subs = [b for b in btns if text.lower() in str(b.get("text", "")).lower()]
    if len(subs) == 1:
        return subs[0]
    if len(subs) > 1:
        raise ButtonNotFound(f"button text {text!r} is ambiguous: {[b['text'] for b in subs]}")
    return None


# --------------------------------------------------------------------------- #
# Users and chats
# --------------------------------------------------------------------------- #


class FakeChat:
    """A group/supergroup known to the fake. ``members`` maps user_id -> ChatMember extras."""

    def __init__(self, fake: FakeBotAPI, chat_id: int, title: str, is_forum: bool = False,
                 type: str = "supergroup", username: str | None = None):
        self.fake = fake
        self.id = chat_id
        self.title = title
        self.is_forum = is_forum
        self.type = "supergroup" if is_forum else type
        self.username = username
        self.members: dict[int, dict] = {}
        self.topics: dict[int, dict] = {}

    def set_member(self, user_id: int, status: str, **extra: Any) -> FakeChat:
        """status: "creator"/"administrator"/"member"/"restricted"/"left"/"kicked".
        ``extra`` overrides ChatMember fields (e.g. can_manage_topics=False)."""
        if status not in ("creator", "administrator", "member", "restricted", "left", "kicked"):
            raise ValueError(f"bad status {status!r}")
        self.members[int(user_id)] = {"status": status, **extra}
        return self

    def status_of(self, user_id: int) -> str:
        m = self.members.get(int(user_id))
        if m:
            return m["status"]
        if int(user_id) == self.fake.bot_id:
            return self.fake.default_bot_status
        return "left"

    def to_json(self) -> dict:
        d: dict[str, Any] = {"id": self.id, "type": self.type, "title": self.title}
        if self.username:
            d["username"] = self.username
        if self.is_forum:
            d["is_forum"] = True
        return d

    @property
    def messages(self) -> list[BotMessage]:
        return list(self.fake.messages_in(self.id))

    @property
    def last(self) -> BotMessage | None:
        return self.fake.last_message(self.id)

    def topic(self, name: str) -> int:
        """message_thread_id of the topic with this name (raises if absent)."""
        for tid, t in self.topics.items():
            if t["name"] == name:
                return tid
        raise AssertionError(f"no topic {name!r} in chat {self.id}: {[t['name'] for t in self.topics.values()]}")

    def __repr__(self) -> str:
        return f"FakeChat({self.id}, {self.title!r}, forum={self.is_forum})"


class FakeUser:
    """A Telegram user. All actions push a real Update to the fake's queue."""

    def __init__(self, fake: FakeBotAPI, user_id: int, first_name: str = "Test",
                 language_code: str | None = "ru", username: str | None = None,
                 last_name: str | None = None, phone: str | None = None):
        self.fake = fake
        self.id = int(user_id)
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code
        self.phone = phone or f"+7701{self.id % 10_000_000:07d}"
        self._cursor: dict[int, int] = defaultdict(int)
        self._edit_cursor: dict[int, int] = defaultdict(int)

    # ---- JSON ------------------------------------------------------------
    def to_json(self) -> dict:
        d: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            d["last_name"] = self.last_name
        if self.username:
            d["username"] = self.username
        if self.language_code:
            d["language_code"] = self.language_code
        return d

    def chat_json(self) -> dict:
        d: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            d["last_name"] = self.last_name
        if self.username:
            d["username"] = self.username
        return d

    def __repr__(self) -> str:
        return f"FakeUser({self.id}, {self.first_name!r})"

    # ---- building user messages -------------------------------------------
    def _chat_id(self, chat: Any) -> int:
        if chat is None:
            return self.id
        if isinstance(chat, (FakeChat, FakeUser)):
            return chat.id
        return int(chat)

    def _base_message(self, chat: Any, reply_to: Any = None,
                      message_thread_id: int | None = None) -> dict:
        chat_id = self._chat_id(chat)
        fchat = self.fake._chat_obj(chat_id)
        if fchat is None:
            raise AssertionError(f"chat {chat_id} is unknown to the fake (use fake.group())")
        msg: dict[str, Any] = {
            "message_id": self.fake._next_message_id(chat_id),
            "from": self.to_json(),
            "chat": fchat.chat_json() if isinstance(fchat, FakeUser) else fchat.to_json(),
            "date": int(time.time()),
        }
        if reply_to is not None:
            if isinstance(reply_to, BotMessage):
                rj = reply_to.to_json(with_reply=False)
                if message_thread_id is None:
                    message_thread_id = reply_to.message_thread_id
            else:
                rj = {k: v for k, v in dict(reply_to).items() if k != "reply_to_message"}
                if message_thread_id is None:
                    message_thread_id = rj.get("message_thread_id")
            msg["reply_to_message"] = rj
        if message_thread_id is not None:
            msg["message_thread_id"] = message_thread_id
            if isinstance(fchat, FakeChat) and fchat.is_forum:
                msg["is_topic_message"] = True
        return msg

    async def _push_message(self, msg: dict) -> dict:
        self.fake.user_messages[(msg["chat"]["id"], msg["message_id"])] = msg
        await self.fake.push_update({"message": msg})
        return msg

    async def send(self, text: str, *, chat: Any = None, reply_to: Any = None,
                   message_thread_id: int | None = None, entities: list | None = None) -> dict:
        """Send a text message (to the private chat, or ``chat=`` a FakeChat/chat id).
        Leading /commands get a bot_command entity. Returns the message dict."""
        msg = self._base_message(chat, reply_to, message_thread_id)
        msg["text"] = text
        ents = list(entities or [])
        if text.startswith("/") and not entities:
            cmd = text.split(maxsplit=1)[0] if text.strip() else text
            ents.append({"type": "bot_command", "offset": 0, "length": len(cmd.encode("utf-16-le")) // 2})
        if ents:
            msg["entities"] = ents
        return await self._push_message(msg)

    async def reply(self, to_message: Any, text: str, **kw: Any) -> dict:
        """Reply to a BotMessage (or a user message dict); the chat is the message's chat."""
        chat = kw.pop("chat", None)
        if chat is None:
            chat = to_message.chat_id if isinstance(to_message, BotMessage) else to_message["chat"]["id"]
        return await self.send(text, chat=chat, reply_to=to_message, **kw)

    def _user_file(self, kind: str, content: bytes, filename: str | None = None,
                   mime_type: str | None = None) -> FileRecord:
        return self.fake._register_file(kind, content, filename, mime_type)

    async def send_document(self, filename: str, content: bytes, caption: str | None = None, *,
                            mime_type: str | None = None, chat: Any = None, reply_to: Any = None,
                            message_thread_id: int | None = None,
                            caption_entities: list | None = None) -> dict:
        rec = self._user_file("document", content, filename, mime_type or _guess_mime(filename))
        msg = self._base_message(chat, reply_to, message_thread_id)
        msg["document"] = self.fake._media_json("document", rec)
        if caption is not None:
            msg["caption"] = caption
        if caption_entities:
            msg["caption_entities"] = caption_entities
        return await self._push_message(msg)

    async def send_photo(self, caption: str | None = None, *, content: bytes = TINY_PNG,
                         chat: Any = None, reply_to: Any = None,
                         message_thread_id: int | None = None,
                         caption_entities: list | None = None) -> dict:
        small = self._user_file("photo", content, None, "image/png")
        big = self._user_file("photo", content, None, "image/png")
        msg = self._base_message(chat, reply_to, message_thread_id)
        msg["photo"] = [
            {"file_id": small.file_id, "file_unique_id": small.file_unique_id, "width": 90,
             "height": 90, "file_size": small.size},
            {"file_id": big.file_id, "file_unique_id": big.file_unique_id, "width": 800,
             "height": 800, "file_size": big.size},
        ]
        if caption is not None:
            msg["caption"] = caption
        if caption_entities:
            msg["caption_entities"] = caption_entities
        return await self._push_message(msg)

    async def send_voice(self, duration: int = 3, *, content: bytes = TINY_OGG, chat: Any = None,
                         reply_to: Any = None, message_thread_id: int | None = None) -> dict:
        rec = self._user_file("voice", content, None, "audio/ogg")
        msg = self._base_message(chat, reply_to, message_thread_id)
        msg["voice"] = {"file_id": rec.file_id, "file_unique_id": rec.file_unique_id,
                        "duration": duration, "mime_type": "audio/ogg", "file_size": rec.size}
        return await self._push_message(msg)

    async def send_video(self, caption: str | None = None, *, content: bytes = b"\x00\x00\x00\x18ftypmp42",
                         chat: Any = None) -> dict:
        rec = self._user_file("video", content, "video.mp4", "video/mp4")
        msg = self._base_message(chat)
        msg["video"] = {"file_id": rec.file_id, "file_unique_id": rec.file_unique_id,
                        "width": 640, "height": 360, "duration": 5, "file_size": rec.size}
        if caption is not None:
            msg["caption"] = caption
        return await self._push_message(msg)

    async def send_sticker(self, emoji: str = "👍", *, chat: Any = None) -> dict:
        rec = self._user_file("sticker", b"RIFF\x00\x00\x00\x00WEBP", None, "image/webp")
        msg = self._base_message(chat)
        msg["sticker"] = {"file_id": rec.file_id, "file_unique_id": rec.file_unique_id,
                          "type": "regular", "width": 512, "height": 512, "is_animated": False,
                          "is_video": False, "emoji": emoji, "file_size": rec.size}
        return await self._push_message(msg)

    async def send_contact(self, phone: str | None = None, own: bool = True, *,
                           first_name: str | None = None, user_id: int | None = None,
                           chat: Any = None) -> dict:
        """own=True: the user's own contact (contact.user_id == user id, as from a
        request_contact button). own=False: somebody else's contact (no user_id unless given)."""
        msg = self._base_message(chat)
        contact: dict[str, Any] = {
            "phone_number": phone or self.phone,
            "first_name": first_name or (self.first_name if own else "Other"),
        }
        if own:
            contact["user_id"] = self.id
            if self.last_name:
                contact["last_name"] = self.last_name
        elif user_id is not None:
            contact["user_id"] = user_id
        msg["contact"] = contact
        return await self._push_message(msg)

    async def send_location(self, latitude: float = 51.128207, longitude: float = 71.430411, *,
                            chat: Any = None) -> dict:
        msg = self._base_message(chat)
        msg["location"] = {"latitude": latitude, "longitude": longitude}
        return await self._push_message(msg)

    async def edit(self, message: dict, new_text: str, *, entities: list | None = None) -> dict:
        """Edit one of the user's own messages -> pushes an ``edited_message`` update
        (``entities``: of the new text, or of the new caption for a media message)."""
        key = (message["chat"]["id"], message["message_id"])
        cur = dict(self.fake.user_messages.get(key, message))
        if "text" in cur:
            cur["text"] = new_text
            cur.pop("entities", None)
            if new_text.startswith("/"):
                cmd = new_text.split(maxsplit=1)[0]
                cur["entities"] = [{"type": "bot_command", "offset": 0, "length": len(cmd)}]
            if entities:
                cur["entities"] = entities
        else:
            cur["caption"] = new_text
            cur.pop("caption_entities", None)
            if entities:
                cur["caption_entities"] = entities
        cur["edit_date"] = int(time.time())
        self.fake.user_messages[key] = cur
        await self.fake.push_update({"edited_message": cur})
        return cur

    # ---- buttons -----------------------------------------------------------
    async def press(self, button_text: str, message: BotMessage | None = None, *,
                    chat: Any = None) -> Any:
        """Press a button by exact text (or unique case-insensitive substring).

        Searches ``message`` if given, else (newest first) the bot messages in the
        chat carrying an inline keyboard plus the chat's currently shown reply
        keyboard.  Inline callback button -> pushes callback_query, returns its id.
        Inline url button -> returns the url (nothing pushed).  Reply button -> sends
        its text (request_contact -> own contact, request_location -> location) and
        returns the message dict."""
        chat_id = message.chat_id if message is not None else self._chat_id(chat)
        candidates: list[BotMessage]
        if message is not None:
            candidates = [message]
        else:
            candidates = [
                m for m in reversed(self.fake.messages_in(chat_id))
                if not m.deleted and m.keyboard_type == "inline"
            ]
            kb_msg = self.fake.reply_keyboard_message(chat_id)
            if kb_msg is not None:
                candidates.append(kb_msg)
                candidates.sort(key=lambda m: m.message_id, reverse=True)
        if not candidates:
            raise ButtonNotFound(f"no keyboard in chat {chat_id} to press {button_text!r}")
        # pass 1: exact text anywhere (newest first); pass 2: substring
        for exact in (True, False):
            for m in candidates:
                rows = m.button_rows
                if exact:
                    btn = next((b for b in _all_buttons(rows) if b.get("text") == button_text), None)
                else:
                    btn = _match_buttons(rows, button_text)
                if btn is not None:
                    return await self._press_button(m, btn)
        avail = {m.message_id: m.buttons for m in candidates}
        raise ButtonNotFound(f"no button {button_text!r} in chat {chat_id}; keyboards: {avail}")

    async def _press_button(self, m: BotMessage, btn: dict) -> Any:
        if m.keyboard_type == "inline":
            if "callback_data" in btn:
                return await self.press_data(btn["callback_data"], m)
            if "url" in btn:
                return btn["url"]
            if "copy_text" in btn:
                return btn["copy_text"].get("text")
            raise AssertionError(f"cannot press inline button {btn!r}")
        thread = m.message_thread_id
        chat = m.chat_id
        if btn.get("request_contact"):
            return await self.send_contact(own=True, chat=chat)
        if btn.get("request_location"):
            return await self.send_location(chat=chat)
        return await self.send(btn["text"], chat=chat,
                               message_thread_id=thread if chat != self.id else None)

    async def press_data(self, data: str | None, message: BotMessage | None = None, *,
                         chat: Any = None, game_short_name: str | None = None) -> str:
        """Push a raw (possibly forged) callback_query with ``data`` on ``message``
        (default: latest bot message in the chat). ``data=None`` with ``game_short_name``
        is a game button. Returns the callback query id."""
        if message is None:
            message = self.fake.last_message(self._chat_id(chat))
        qid = self.fake._next_query_id()
        cq: dict[str, Any] = {"id": qid, "from": self.to_json()}
        if data is not None:
            cq["data"] = data
        if game_short_name is not None:
            cq["game_short_name"] = game_short_name
        if message is not None:
            cq["message"] = message.to_json()
            cq["chat_instance"] = str(8_000_000_000_000_000 + abs(message.chat_id))
        else:
            cq["chat_instance"] = str(8_000_000_000_000_000 + self.id)
        self.fake._queries[qid] = {"type": "callback_query", "user_id": self.id, "data": data,
                                   "message": message}
        await self.fake.push_update({"callback_query": cq})
        return qid

    async def inline_query(self, query: str, offset: str = "") -> str:
        qid = self.fake._next_query_id()
        self.fake._queries[qid] = {"type": "inline_query", "user_id": self.id, "query": query}
        await self.fake.push_update({"inline_query": {
            "id": qid, "from": self.to_json(), "query": query, "offset": offset,
            "chat_type": "sender",
        }})
        return qid

    # ---- observing the bot --------------------------------------------------
    @property
    def messages(self) -> list[BotMessage]:
        """All bot messages in the private chat (including deleted ones)."""
        return list(self.fake.messages_in(self.id))

    @property
    def last(self) -> BotMessage | None:
        return self.fake.last_message(self.id)

    async def expect(self, timeout: float = 5.0, predicate: Callable[[BotMessage], bool] | None = None,
                     *, chat: Any = None) -> BotMessage:
        """Next bot message in the chat not consumed by an earlier expect (cursor per
        user+chat). With ``predicate``, non-matching messages are skipped (consumed)."""
        chat_id = self._chat_id(chat)

        def check() -> BotMessage | None:
            msgs = self.fake.messages_in(chat_id)
            while self._cursor[chat_id] < len(msgs):
                m = msgs[self._cursor[chat_id]]
                self._cursor[chat_id] += 1
                if predicate is None or predicate(m):
                    return m
            return None

        try:
            return await self.fake._wait(check, timeout)
        except asyncio.TimeoutError:
            seen = [(m.message_id, m.text) for m in self.fake.messages_in(chat_id)]
            raise AssertionError(
                f"{self!r}: no new matching bot message in chat {chat_id} within {timeout}s; "
                f"all bot messages: {seen}; unknown methods: {self.fake.unknown_methods}"
            ) from None

    async def expect_text(self, substring: str, timeout: float = 5.0, *, chat: Any = None) -> BotMessage:
        """Next unconsumed bot message whose text/caption (raw or plain) contains substring."""
        return await self.expect(
            timeout,
            lambda m: substring in (m.text or "") or substring in (m.plain_text or ""),
            chat=chat,
        )

    async def expect_no_message(self, within: float = 0.3, *, chat: Any = None) -> None:
        """Assert that no new (unconsumed) bot message arrives within ``within`` seconds."""
        chat_id = self._chat_id(chat)
        await asyncio.sleep(within)
        msgs = self.fake.messages_in(chat_id)
        new = msgs[self._cursor[chat_id]:]
        if new:
            raise AssertionError(f"unexpected bot messages: {[(m.message_id, m.text) for m in new]}")

    def skip_pending(self, *, chat: Any = None) -> list[BotMessage]:
        """Consume (and return) all bot messages received so far."""
        chat_id = self._chat_id(chat)
        msgs = self.fake.messages_in(chat_id)
        new = msgs[self._cursor[chat_id]:]
        self._cursor[chat_id] = len(msgs)
        return new

    async def expect_edit(self, message: BotMessage | None = None, timeout: float = 5.0,
                          predicate: Callable[[BotMessage], bool] | None = None, *,
                          chat: Any = None) -> BotMessage:
        """Next not yet consumed edit (editMessage*) of a bot message in the chat
        (optionally of ``message`` only). Returns the edited BotMessage (current state)."""
        chat_id = message.chat_id if message is not None else self._chat_id(chat)

        def check() -> BotMessage | None:
            log = self.fake._edit_log[chat_id]
            while self._edit_cursor[chat_id] < len(log):
                m = log[self._edit_cursor[chat_id]]
                self._edit_cursor[chat_id] += 1
                if (message is None or m.message_id == message.message_id) and (
                    predicate is None or predicate(m)
                ):
                    return m
            return None

        try:
            return await self.fake._wait(check, timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"{self!r}: no edit in chat {chat_id} within {timeout}s") from None

    async def answered_callback(self, query_id: str, timeout: float = 5.0) -> dict:
        """Params of answerCallbackQuery for this query (text, show_alert, ...)."""
        try:
            return await self.fake._wait(lambda: self.fake.callback_answers.get(query_id), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"callback query {query_id} was not answered within {timeout}s") from None


def _guess_mime(filename: str | None) -> str:
    if not filename:
        return "application/octet-stream"
    ext = filename.rsplit(".", 1)[-1].lower()
    return {
        "pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
        "txt": "text/plain", "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "doc": "application/msword", "ogg": "audio/ogg", "mp4": "video/mp4", "mp3": "audio/mpeg",
        "json": "application/json", "csv": "text/csv", "zip": "application/zip",
    }.get(ext, "application/octet-stream")


# --------------------------------------------------------------------------- #
# The server
# --------------------------------------------------------------------------- #


class FakeBotAPI:
    """Fake Telegram Bot API. See module docstring."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "shagym_test_bot",
        bot_first_name: str = "Shagym",
        rate_limit_per_second: int | None = None,
        per_chat_limit: bool = False,
        per_chat_per_second: int = 1,
        per_group_limit: bool = False,
        per_group_per_minute: int = 20,
        per_group_window: float = 60.0,
        default_bot_status: str = "administrator",
        strict_chats: bool = True,
        host: str = "127.0.0.1",
    ):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the fake only binds to loopback")
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user = {
            "id": self.bot_id, "is_bot": True, "first_name": bot_first_name,
            "username": bot_username, "can_join_groups": True,
            "can_read_all_group_messages": False, "supports_inline_queries": True,
        }
        self.host = host
        self.port: int | None = None
        self.rate_limit_per_second = rate_limit_per_second
        self.per_chat_limit = per_chat_limit
        self.per_chat_per_second = per_chat_per_second
        self.per_group_limit = per_group_limit
        self.per_group_per_minute = per_group_per_minute
        self.per_group_window = per_group_window  # Telegram's is a minute; tests may shrink it
        self.default_bot_status = default_bot_status
        self.strict_chats = strict_chats

        self.calls: list[Call] = []
        self.unknown_methods: list[str] = []
        self.errors: list[str] = []  # internal errors of the fake (bugs) -> test fails
        self.count_429 = 0
        self.held_calls = 0  # calls that waited on a hold()
        self.users: dict[int, FakeUser] = {}
        self.groups: dict[int, FakeChat] = {}
        self.bot_messages: list[BotMessage] = []
        self._by_chat: dict[int, list[BotMessage]] = defaultdict(list)
        self._edit_log: dict[int, list[BotMessage]] = defaultdict(list)
        self.user_messages: dict[tuple[int, int], dict] = {}
        self.files: dict[str, FileRecord] = {}
        self._files_by_path: dict[str, FileRecord] = {}
        self.commands: dict[tuple[tuple, str], list[dict]] = {}
        self.descriptions: dict[tuple[str, str], str] = {}
        self.menu_buttons: dict[int | None, dict] = {}
        self.callback_answers: dict[str, dict] = {}
        self.inline_answers: dict[str, dict] = {}
        self.dropped_updates: list[dict] = []
        self.blocked: set[int] = set()
        self._queries: dict[str, dict] = {}
        self._faults: list[dict] = []
        self._holds: list[tuple[str, int | None, asyncio.Event]] = []
        self._chaos: dict | None = None
        self.chaos_counts: dict[int | str, int] = defaultdict(int)  # injected at random, by code
        self._reply_kb: dict[int, BotMessage | None] = {}

        self._updates: list[dict] = []
        self._update_ids = itertools.count(100_001)
        self._last_pushed_id = 0
        self._last_delivered_id = 0
        self._last_handed_id = 0  # the last update a getUpdates answer carried (not the ones it filtered out)
        #: the last update a watched dispatcher started to handle (tests.harness); None: no dispatcher watched
        self.taken_update_id: int | None = None
        self._allowed_updates: list[str] | None = None
        self.webhook: dict[str, Any] = {}  # setWebhook's parameters; tests/fake_webhook.py delivers to it
        self._poll_gen = 0
        self._msg_ids: dict[int, int] = defaultdict(int)
        self._query_ids = itertools.count(4_611_686_018_427_387_905)
        self._file_seq = itertools.count(1)
        self._send_times: deque[float] = deque()
        self._chat_send_times: dict[int, deque[float]] = defaultdict(deque)
        self._group_send_times: dict[int, deque[float]] = defaultdict(deque)
        self._inflight = 0
        self._last_activity = time.monotonic()
        #: the bot side's own "still working" signals (tests.harness adds the app's: updates being handled,
        #: desk posts being drained); ``idle`` waits for them too, not only for a quiet spell
        self.busy_probes: list[Callable[[], bool]] = []
        self._chat_inflight: dict[int, int] = defaultdict(int)
        self._chat_last: dict[int, float] = {}
        self._changed = asyncio.Event()
        self._closing = False
        self._started_at = time.monotonic()
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ life
    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("fake not started")
        return f"http://{self.host}:{self.port}"

    async def start(self) -> FakeBotAPI:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0,
                                     access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET6 if self.host == "::1" else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock)
        await site.start()
        return self

    async def stop(self) -> None:
        self._closing = True
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ waiting
    def _notify(self) -> None:
        ev = self._changed
        self._changed = asyncio.Event()
        ev.set()

    async def _wait(self, check: Callable[[], Any], timeout: float) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            ev = self._changed
            result = check()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise asyncio.TimeoutError
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(ev.wait(), remaining)

    async def idle(self, timeout: float = 5.0, quiet: float = 0.05) -> None:
        """Wait until every pushed update was fetched by the bot, no request is in flight, the bot reports no
        work in progress (``busy_probes``: a handler still running, say waiting for its database) and no
        request arrived for ``quiet`` seconds. Raises AssertionError after ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            now = time.monotonic()
            fetched = self._last_delivered_id >= self._last_pushed_id
            busy = [probe for probe in self.busy_probes if probe()]
            if self.taken_update_id is not None and self.taken_update_id < self._last_handed_id:
                busy.append("an update fetched but not yet taken by the dispatcher")
            if busy:
                self._last_activity = max(self._last_activity, now)  # the quiet spell starts when the work ends
            if fetched and self._inflight == 0 and not busy and now - self._last_activity >= quiet:
                return
            if loop.time() >= deadline:
                raise AssertionError(
                    f"bot did not become idle within {timeout}s (fetched={fetched}, "
                    f"inflight={self._inflight}, busy={busy})"
                )
            wait = quiet - (now - self._last_activity) if fetched and not self._inflight and not busy else 0.01
            await asyncio.sleep(max(0.01, min(wait, 0.05)))

    async def wait_call(self, method: str, predicate: Callable[[Call], bool] | None = None,
                        timeout: float = 5.0, *, after: int = 0) -> Call:
        """Wait for a (finished) call of ``method`` (index >= ``after`` in fake.calls)."""
        low = method.lower()

        def check() -> Call | None:
            for c in self.calls[after:]:
                if c.method.lower() == low and c.response is not None and (
                    predicate is None or predicate(c)
                ):
                    return c
            return None

        try:
            return await self._wait(check, timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"no {method} call within {timeout}s") from None

    # ------------------------------------------------------------------ queries
    def chat_quiet_for(self, chat_id: int) -> float:
        """Seconds since the bot's last request about this chat ended (0 while one is in flight; since the
        start when there was none)."""
        if self._chat_inflight.get(chat_id):
            return 0.0
        return time.monotonic() - self._chat_last.get(chat_id, self._started_at)

    def delivered(self, update_id: int) -> bool:
        """Has the bot fetched this update (getUpdates)?"""
        return self._last_delivered_id >= update_id

    def calls_of(self, method: str, **params: Any) -> list[Call]:
        """Calls of ``method`` (case-insensitive) whose params contain ``params``."""
        low = method.lower()
        return [
            c for c in self.calls
            if c.method.lower() == low and all(c.params.get(k) == v for k, v in params.items())
        ]

    def messages_in(self, chat_id: int) -> list[BotMessage]:
        return self._by_chat.get(int(chat_id), [])

    def last_message(self, chat_id: int) -> BotMessage | None:
        for m in reversed(self.messages_in(chat_id)):
            if not m.deleted:
                return m
        return None

    def get_message(self, chat_id: int, message_id: int) -> BotMessage | None:
        for m in self.messages_in(chat_id):
            if m.message_id == int(message_id):
                return m
        return None

    def reply_keyboard_message(self, chat_id: int) -> BotMessage | None:
        """The bot message whose reply keyboard is currently shown in the chat."""
        return self._reply_kb.get(int(chat_id))

    def commands_for(self, language_code: str = "", scope: dict | None = None) -> list[dict] | None:
        """Commands set via setMyCommands for exactly this scope+language (None if never set)."""
        return self.commands.get((self._scope_key(scope), language_code or ""))

    def file_bytes(self, file_id: str) -> bytes:
        return self.files[file_id].content

    # ------------------------------------------------------------------ setup
    def user(self, user_id: int, first_name: str = "Test", language_code: str | None = "ru",
             username: str | None = None, **kw: Any) -> FakeUser:
        u = self.users.get(int(user_id))
        if u is None:
            u = FakeUser(self, user_id, first_name, language_code, username, **kw)
            self.users[u.id] = u
        return u

    def group(self, chat_id: int, title: str = "Group", is_forum: bool = False, **kw: Any) -> FakeChat:
        g = self.groups.get(int(chat_id))
        if g is None:
            g = FakeChat(self, int(chat_id), title, is_forum, **kw)
            self.groups[g.id] = g
        return g

    def fail_next(self, method: str, chat_id: int | None = None, error_code: int = 429,
                  description: str | None = None, retry_after: int | None = None,
                  times: int = 1, network: bool = False) -> None:
        """Answer the next ``times`` matching calls with Telegram's error JSON.
        Defaults: 429 -> "Too Many Requests: retry after N" + parameters.retry_after
        (N = retry_after or 1); 403 -> "Forbidden: bot was blocked by the user";
        400 -> "Bad Request: injected error"; 5xx -> "Internal Server Error".
        ``network=True``: the connection is dropped without any answer (the client sees a
        disconnect, aiogram a TelegramNetworkError); nothing is delivered."""
        if error_code == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            description = self._default_description(error_code, retry_after)
        self._faults.append({
            "method": method.lower(), "chat_id": chat_id, "code": "network" if network else error_code,
            "description": description, "retry_after": retry_after, "times": times,
        })

    @staticmethod
    def _default_description(error_code: int, retry_after: int | None) -> str:
        return {
            429: f"Too Many Requests: retry after {retry_after}",
            403: "Forbidden: bot was blocked by the user",
            400: "Bad Request: injected error",
            409: "Conflict: terminated by other getUpdates request",
        }.get(error_code, "Internal Server Error" if error_code >= 500 else "Injected error")

    def hold(self, method: str, chat_id: int | None = None) -> asyncio.Event:
        """Matching calls wait unanswered until the returned event is set (a request in flight, say for a test
        that kills the process making it). A call whose client went away meanwhile is then dropped, not
        performed; the others go on as usual."""
        gate = asyncio.Event()
        self._holds.append((method.lower(), chat_id, gate))
        return gate

    async def _held(self, low: str, params: dict, request: web.Request) -> bool:
        """Waits out the holds matching this call; True when its client is gone by then."""
        gates = [g for m, c, g in self._holds if m == low and c in (None, params.get("chat_id")) and not g.is_set()]
        if not gates:
            return False
        self.held_calls += 1
        self._notify()
        for gate in gates:
            await gate.wait()
        return request.transport is None or request.transport.is_closing()

    def chaos(self, method: str, rate: float, codes: tuple[int | str, ...] = (429, 502), *,
              retry_after: int = 1, seed: int | None = None) -> None:
        """Fail a random ``rate`` of the calls of ``method`` (nothing delivered), each with a code drawn from
        ``codes``: an HTTP error code, or "network" for a dropped connection. Counts in ``chaos_counts``."""
        import random

        self._chaos = {"method": method.lower(), "rate": rate, "codes": tuple(codes),
                       "retry_after": retry_after, "random": random.Random(seed)}

    def stop_chaos(self) -> None:
        self._chaos = None

    def block(self, user_id: int) -> None:
        """Every send/edit to this private chat answers 403 until ``unblock``."""
        self.blocked.add(int(user_id))

    def unblock(self, user_id: int) -> None:
        self.blocked.discard(int(user_id))

    async def push_update(self, payload: dict) -> int:
        """Queue a raw update (without update_id); returns the update_id."""
        uid = next(self._update_ids)
        update = {"update_id": uid, **payload}
        self._updates.append(update)
        self._last_pushed_id = uid
        self._notify()
        await asyncio.sleep(0)
        return uid

    def make_session(self) -> Any:
        """An AiohttpSession pointed at this fake (``TelegramAPIServer.from_base``).
        Its close() skips aiogram's 250 ms SSL grace sleep (plain loopback HTTP)."""
        from aiogram.client.telegram import TelegramAPIServer

        return _LoopbackSession(api=TelegramAPIServer.from_base(self.base_url))

    def make_bot(self, **bot_kwargs: Any) -> Any:
        """A real aiogram ``Bot(token=fake.token, session=fake.make_session(), **bot_kwargs)``.
        Use ``async with fake.make_bot() as bot:`` for direct calls (closes the session)."""
        from aiogram import Bot

        return Bot(token=self.token, session=self.make_session(), **bot_kwargs)

    # ------------------------------------------------------------------ internals
    def _chat_obj(self, chat_id: int) -> FakeUser | FakeChat | None:
        return self.users.get(int(chat_id)) or self.groups.get(int(chat_id))

    def _chat_json(self, chat_id: int) -> dict:
        obj = self._chat_obj(chat_id)
        if isinstance(obj, FakeUser):
            return obj.chat_json()
        if isinstance(obj, FakeChat):
            return obj.to_json()
        return {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup",
                "first_name" if chat_id > 0 else "title": f"Chat{chat_id}"}

    def _require_chat(self, params: dict, key: str = "chat_id") -> int:
        raw = params.get(key)
        if raw is None:
            raise ApiError(400, f"Bad Request: {key} is empty")
        if isinstance(raw, str):
            for g in self.groups.values():
                if g.username and "@" + g.username == raw:
                    return g.id
            raise ApiError(400, "Bad Request: chat not found")
        chat_id = int(raw)
        if self.strict_chats and self._chat_obj(chat_id) is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat_id

    def _next_message_id(self, chat_id: int) -> int:
        self._msg_ids[int(chat_id)] += 1
        return self._msg_ids[int(chat_id)]

    def _next_query_id(self) -> str:
        return str(next(self._query_ids))

    def _register_file(self, kind: str, content: bytes, filename: str | None,
                       mime_type: str | None) -> FileRecord:
        n = next(self._file_seq)
        file_id = f"{_FILE_ID_PREFIX.get(kind, 'BQACAgIAAxkBAAI')}{n:06d}F{self.bot_id % 1000:03d}"
        ext = ""
        if filename and "." in filename:
            ext = "." + filename.rsplit(".", 1)[-1]
        elif kind == "photo":
            ext = ".jpg"
        elif kind == "voice":
            ext = ".oga"
        path = f"{_FILE_DIR.get(kind, 'documents')}/file_{n}{ext}"
        rec = FileRecord(file_id, f"AgAD{n:08d}", content, filename, mime_type, path, kind)
        self.files[file_id] = rec
        self._files_by_path[path] = rec
        return rec

    @staticmethod
    def _media_json(kind: str, rec: FileRecord) -> Any:
        base = {"file_id": rec.file_id, "file_unique_id": rec.file_unique_id, "file_size": rec.size}
        if kind == "document":
            if rec.filename:
                base["file_name"] = rec.filename
            if rec.mime_type:
                base["mime_type"] = rec.mime_type
            return base
        if kind == "photo":
            return [{**base, "width": 800, "height": 600}]
        if kind == "voice":
            return {**base, "duration": 1, "mime_type": rec.mime_type or "audio/ogg"}
        if kind == "video":
            return {**base, "width": 640, "height": 360, "duration": 1}
        if kind == "audio":
            d = {**base, "duration": 1}
            if rec.filename:
                d["file_name"] = rec.filename
            return d
        if kind == "sticker":
            return {**base, "type": "regular", "width": 512, "height": 512, "is_animated": False,
                    "is_video": False}
        raise ValueError(kind)

    def _message_json(self, m: BotMessage, *, with_reply: bool = True) -> dict:  # noqa: C901 - Telegram's Message JSON, one optional field after another
        d: dict[str, Any] = {
            "message_id": m.message_id,
            "from": dict(self.bot_user),
            "chat": self._chat_json(m.chat_id),
            "date": m.date,
        }
        if m.message_thread_id is not None:
            d["message_thread_id"] = m.message_thread_id
            chat = self.groups.get(m.chat_id)
            if chat is not None and chat.is_forum:
                d["is_topic_message"] = True
        if with_reply and m.reply_to_message_id is not None and m.reply_to_chat_id == m.chat_id:
            target = self._find_any_message(m.chat_id, m.reply_to_message_id)
            if target is not None:
                d["reply_to_message"] = (
                    target.to_json(with_reply=False) if isinstance(target, BotMessage)
                    else {k: v for k, v in target.items() if k != "reply_to_message"}
                )
        if m.forward_origin:
            d["forward_origin"] = m.forward_origin
        if m.kind == "text":
            d["text"] = m.plain_text if m.plain_text is not None else m.text
            if m.entities:
                d["entities"] = m.entities
        elif m.kind in MEDIA_KINDS:
            rec = self.files.get(m.file_id or "")
            if rec is not None:
                d[m.kind] = self._media_json(m.kind, rec)
            if m.text:
                d["caption"] = m.plain_text if m.plain_text is not None else m.text
                if m.entities:
                    d["caption_entities"] = m.entities
        else:
            d.update(m.extra)
            if m.text:
                d["caption"] = m.plain_text or m.text
        if m.media_group_id:
            d["media_group_id"] = m.media_group_id
        if m.keyboard_type == "inline":
            d["reply_markup"] = m.reply_markup
        if m.edit_date:
            d["edit_date"] = m.edit_date
        return d

    def _find_any_message(self, chat_id: int, message_id: int) -> BotMessage | dict | None:
        bm = self.get_message(chat_id, message_id)
        if bm is not None:
            return bm
        return self.user_messages.get((int(chat_id), int(message_id)))

    # ------------------------------------------------------------------ HTTP
    async def _parse_request(self, request: web.Request) -> tuple[dict, dict[str, UploadedFile]]:
        raw: dict[str, Any] = dict(request.query)
        files: dict[str, UploadedFile] = {}
        if request.method == "POST" and request.can_read_body:
            ctype = request.content_type
            if ctype == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    raw.update({k: (json.dumps(v) if isinstance(v, (dict, list)) else v)
                                for k, v in body.items()})
            else:
                post = await request.post()
                for key, value in post.items():
                    if isinstance(value, web.FileField):
                        files[key] = UploadedFile(value.filename, value.file.read(), value.content_type)
                    else:
                        raw[key] = value
        params = {k: _decode_value(k, v) for k, v in raw.items()}
        # expose attach:// references under the parameter name too
        for k, v in list(params.items()):
            if isinstance(v, str) and v.startswith("attach://") and v[9:] in files:
                files.setdefault(k, files[v[9:]])
        return params, files

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        rec = self._files_by_path.get(request.match_info["path"])
        if rec is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        return web.Response(body=rec.content, content_type=rec.mime_type or "application/octet-stream")

    async def _handle_api(self, request: web.Request) -> web.Response:  # noqa: C901 - the fake server's one entry: faults, limits, dispatch
        method = request.match_info["method"]
        low = method.lower()
        is_poll = low == "getupdates"
        if not is_poll:
            self._inflight += 1
            self._last_activity = time.monotonic()
        call: Call | None = None
        chat_key: int | None = None
        try:
            params, files = await self._parse_request(request)
            call = Call(_CANON.get(low, method), params, files, time.monotonic())
            self.calls.append(call)
            if isinstance(params.get("chat_id"), int):
                chat_key = params["chat_id"]
                self._chat_inflight[chat_key] += 1
            self._notify()
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            handler = getattr(self, "_api_" + low, None)
            if handler is None:
                self.unknown_methods.append(method)
                raise ApiError(404, "Not Found")
            if await self._held(low, params, request):
                call.status = 0
                return web.Response(status=500)
            try:
                commit = self._check_faults(low, params)
            except _Disconnect:
                request.transport.close()  # no answer at all: the client sees the server disconnect
                call.status = 0
                return web.Response(status=500)
            result = handler(params, files)
            if asyncio.iscoroutine(result):
                result = await result
            if commit is not None:
                commit()
            body: dict[str, Any] = {"ok": True, "result": result}
            status = 200
        except ApiError as e:
            body, status = e.to_json(), e.code
            if e.code == 429:
                self.count_429 += 1
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a bug in the fake: fail loudly
            import traceback

            self.errors.append(f"{method}: {traceback.format_exc()}")
            body, status = {"ok": False, "error_code": 500,
                            "description": f"Internal Server Error: fake failed: {e!r}"}, 500
        finally:
            if not is_poll:
                self._inflight -= 1
                self._last_activity = time.monotonic()
            if chat_key is not None:
                self._chat_inflight[chat_key] -= 1
                self._chat_last[chat_key] = time.monotonic()
        if call is not None:
            call.status, call.response = status, body
        self._notify()
        return web.json_response(body, status=status)

    def _check_faults(self, low: str, params: dict) -> Callable[[], None] | None:
        chat = params.get("chat_id")
        for f in self._faults:
            if f["method"] != low or f["times"] <= 0:
                continue
            if f["chat_id"] is not None and str(f["chat_id"]) != str(chat):
                continue
            f["times"] -= 1
            self._faults = [x for x in self._faults if x["times"] > 0]
            self._raise_fault(f["code"], f["description"], f["retry_after"])
        chaos = self._chaos
        if chaos is not None and chaos["method"] == low and chaos["random"].random() < chaos["rate"]:
            code = chaos["random"].choice(chaos["codes"])
            self.chaos_counts[code] += 1
            retry_after = chaos["retry_after"] if code == 429 else None
            self._raise_fault(code, None if code == "network" else self._default_description(code, retry_after),
                              retry_after)
        if low.startswith(BLOCKABLE_PREFIXES) and isinstance(chat, int) and chat in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if low in SEND_METHODS and isinstance(chat, int):
            return self._check_rate(chat, len(params.get("media") or [1]) if low == "sendmediagroup" else 1)
        return None

    @staticmethod
    def _raise_fault(code: int | str, description: str | None, retry_after: int | None) -> None:
        if code == "network":
            raise _Disconnect()
        p = {"retry_after": retry_after} if retry_after is not None else None
        raise ApiError(int(code), description or "Injected error", p)

    def _check_rate(self, chat_id: int, n: int) -> Callable[[], None]:
        """Sliding windows over *successful* sends; rejected sends do not count."""
        now = time.monotonic()
        limits: list[tuple[deque, float, int]] = []
        if self.rate_limit_per_second:
            limits.append((self._send_times, 1.0, self.rate_limit_per_second))
        if self.per_chat_limit:
            limits.append((self._chat_send_times[chat_id], 1.0, self.per_chat_per_second))
        if self.per_group_limit and chat_id < 0:
            limits.append((self._group_send_times[chat_id], self.per_group_window, self.per_group_per_minute))
        for dq, window, _ in limits:
            while dq and now - dq[0] >= window:
                dq.popleft()
        for dq, window, cap in limits:
            if len(dq) + n > cap:
                wait = max(1, math.ceil(dq[0] + window - now)) if dq else 1
                raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})

        def commit() -> None:
            for dq, _, _ in limits:
                dq.extend([now] * n)

        return commit

    # ------------------------------------------------------------------ common helpers
    def _reply_target(self, params: dict, chat_id: int) -> tuple[int | None, int | None]:
        rp = params.get("reply_parameters") or {}
        mid = params.get("reply_to_message_id") or rp.get("message_id")
        if not mid:
            return None, None
        rchat = rp.get("chat_id", chat_id)
        if isinstance(rchat, int) and self._find_any_message(rchat, mid) is None:
            if not (rp.get("allow_sending_without_reply") or params.get("allow_sending_without_reply")):
                raise ApiError(400, "Bad Request: message to be replied not found")
        return int(mid), rchat if isinstance(rchat, int) else chat_id

    def _thread(self, params: dict, chat_id: int) -> int | None:
        tid = params.get("message_thread_id")
        if tid is None:
            return None
        chat = self.groups.get(chat_id)
        if chat is not None and chat.is_forum and tid != 1 and tid not in chat.topics:
            raise ApiError(400, "Bad Request: message thread not found")
        return int(tid)

    @staticmethod
    def _check_markup(markup: Any) -> dict | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            for row in markup["inline_keyboard"]:
                for b in row:
                    if not b.get("text"):
                        raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
                    cd = b.get("callback_data")
                    if cd is not None and not (1 <= len(str(cd).encode("utf-8")) <= 64):
                        raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        if "keyboard" in markup:
            for row in markup["keyboard"]:
                for b in row:
                    if not (b.get("text") if isinstance(b, dict) else b):
                        raise ApiError(400, "Bad Request: keyboard button text is empty")
        return markup

    def _render(self, text: str | None, params: dict, *, caption: bool,
                entities_key: str) -> str | None:
        if text is None:
            return None
        plain = render_text(text, params.get("parse_mode"), bool(params.get(entities_key)))
        limit = CAPTION_LIMIT if caption else TEXT_LIMIT
        if len(plain.encode("utf-16-le")) // 2 > limit:
            raise ApiError(400, "Bad Request: message caption is too long" if caption
                           else "Bad Request: message is too long")
        return plain

    def _store(self, m: BotMessage) -> BotMessage:
        self.bot_messages.append(m)
        self._by_chat[m.chat_id].append(m)
        kind = m.keyboard_type
        if kind == "reply":
            self._reply_kb[m.chat_id] = m
        elif kind == "remove":
            self._reply_kb[m.chat_id] = None
        self._notify()
        return m

    def _resolve_input_file(self, kind: str, params: dict, files: dict[str, UploadedFile],
                            key: str | None = None) -> FileRecord:
        key = key or kind
        value = params.get(key)
        if value is None:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        if isinstance(value, str) and value.startswith("attach://"):
            up = files.get(value[9:])
            if up is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            return self._register_file(kind, up.content, up.filename,
                                       up.content_type if up.content_type not in (None, "application/octet-stream")
                                       else (_guess_mime(up.filename) if kind == "document" else _DEFAULT_MIME.get(kind)))
        if isinstance(value, str) and value in self.files:
            return self.files[value]
        if isinstance(value, str) and re.match(r"https?://", value):
            return self._register_file(kind, b"", value.rsplit("/", 1)[-1] or None, _DEFAULT_MIME.get(kind))
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def _new_message(self, method: str, params: dict, chat_id: int, kind: str, text: str | None,
                     plain: str | None, **kw: Any) -> BotMessage:
        reply_to, reply_chat = self._reply_target(params, chat_id)
        thread = self._thread(params, chat_id)
        markup = self._check_markup(params.get("reply_markup"))
        return BotMessage(
            fake=self, message_id=self._next_message_id(chat_id), chat_id=chat_id, kind=kind,
            text=text, plain_text=plain, reply_markup=markup, parse_mode=params.get("parse_mode"),
            params=params, method=method, message_thread_id=thread, reply_to_message_id=reply_to,
            reply_to_chat_id=reply_chat, **kw,
        )

    # ------------------------------------------------------------------ API methods
    def _api_getme(self, params: dict, files: dict) -> dict:
        return dict(self.bot_user)

    def _api_deletewebhook(self, params: dict, files: dict) -> bool:
        if params.get("drop_pending_updates"):
            for u in self._updates:
                self.dropped_updates.append(u)
            self._updates.clear()
            self._last_delivered_id = self._last_pushed_id
        self.webhook = {}
        return True

    def _api_setwebhook(self, params: dict, files: dict) -> bool:
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if url and not re.match(r"https?://[^/]+", url):  # http allowed: the fake delivers over loopback
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self._api_deletewebhook({"drop_pending_updates": params.get("drop_pending_updates")}, files)
        if url:
            self.webhook = {"url": url, "max_connections": int(params.get("max_connections") or 40),
                            "ip_address": "127.0.0.1", "secret_token": secret,
                            "allowed_updates": params.get("allowed_updates")}
        return True

    def _api_getwebhookinfo(self, params: dict, files: dict) -> dict:
        info = {k: v for k, v in self.webhook.items() if v is not None and k != "secret_token"}
        return {"url": "", "has_custom_certificate": False, **info, "pending_update_count": len(self._updates)}

    @staticmethod
    def _update_type(u: dict) -> str:
        return next(k for k in u if k != "update_id")

    async def _api_getupdates(self, params: dict, files: dict) -> list[dict]:  # noqa: C901 - getUpdates' offset, limit, timeout and allowed_updates as Telegram reads them
        offset = params.get("offset")
        limit = max(1, min(int(params.get("limit") or 100), 100))
        timeout = float(params.get("timeout") or 0)
        if self.webhook:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        if "allowed_updates" in params and params["allowed_updates"] is not None:
            self._allowed_updates = list(params["allowed_updates"]) or None
        if offset:
            offset = int(offset)
            if offset < 0:
                self._updates = self._updates[offset:]
            else:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]

        def available() -> list[dict]:
            if self._allowed_updates is not None:
                keep = []
                for u in self._updates:
                    if self._update_type(u) in self._allowed_updates:
                        keep.append(u)
                    else:
                        self.dropped_updates.append(u)
                        self._last_delivered_id = max(self._last_delivered_id, u["update_id"])
                self._updates = keep
            return self._updates[:limit] or None  # type: ignore[return-value]  # None: keep long-polling

        if self._closing:
            return []
        self._poll_gen += 1
        gen = self._poll_gen
        try:
            batch = await self._wait(
                lambda: self._closing or self._poll_gen != gen or available(), timeout
            )
        except asyncio.TimeoutError:
            return []
        if self._poll_gen != gen:  # a newer getUpdates arrived while we were waiting
            raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure "
                                "that only one bot instance is running")
        if batch is True:
            return []
        self._last_delivered_id = max(self._last_delivered_id, batch[-1]["update_id"])
        self._last_handed_id = max(self._last_handed_id, batch[-1]["update_id"])
        self._last_activity = time.monotonic()
        return batch

    # ---- sending
    def _api_sendmessage(self, params: dict, files: dict) -> dict:
        chat_id = self._require_chat(params)
        text = params.get("text")
        if text is None or not str(text).strip():
            raise ApiError(400, "Bad Request: message text is empty")
        text = str(text)
        plain = self._render(text, params, caption=False, entities_key="entities")
        if not plain or not plain.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        m = self._new_message("sendMessage", params, chat_id, "text", text, plain,
                              entities=params.get("entities"))
        return self._store(m).to_json()

    def _send_media(self, kind: str, method: str, params: dict, files: dict) -> dict:
        chat_id = self._require_chat(params)
        rec = self._resolve_input_file(kind, params, files)
        caption = params.get("caption")
        plain = self._render(caption, params, caption=True, entities_key="caption_entities")
        m = self._new_message(method, params, chat_id, kind, caption, plain,
                              entities=params.get("caption_entities"), file_id=rec.file_id,
                              content=rec.content, filename=rec.filename, mime_type=rec.mime_type)
        return self._store(m).to_json()

    def _api_senddocument(self, params: dict, files: dict) -> dict:
        return self._send_media("document", "sendDocument", params, files)

    def _api_sendphoto(self, params: dict, files: dict) -> dict:
        return self._send_media("photo", "sendPhoto", params, files)

    def _api_sendvoice(self, params: dict, files: dict) -> dict:
        return self._send_media("voice", "sendVoice", params, files)

    def _api_sendvideo(self, params: dict, files: dict) -> dict:
        return self._send_media("video", "sendVideo", params, files)

    def _api_sendaudio(self, params: dict, files: dict) -> dict:
        return self._send_media("audio", "sendAudio", params, files)

    def _api_sendsticker(self, params: dict, files: dict) -> dict:
        return self._send_media("sticker", "sendSticker", params, files)

    def _api_sendmediagroup(self, params: dict, files: dict) -> list[dict]:
        chat_id = self._require_chat(params)
        media = params.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: wrong number of media specified")
        group_id = str(13_000_000_000_000_000 + next(self._file_seq))
        out = []
        for item in media:
            kind = item.get("type")
            if kind not in ("photo", "video", "document", "audio"):
                raise ApiError(400, "Bad Request: wrong media type")
            rec = self._resolve_input_file(kind, {"media": item.get("media")}, files, key="media")
            caption = item.get("caption")
            plain = self._render(caption, item, caption=True, entities_key="caption_entities")
            m = self._new_message("sendMediaGroup", params, chat_id, kind, caption, plain,
                                  file_id=rec.file_id, content=rec.content, filename=rec.filename,
                                  mime_type=rec.mime_type, media_group_id=group_id)
            m.parse_mode = item.get("parse_mode")
            out.append(self._store(m).to_json())
        return out

    def _source_message(self, params: dict, what: str) -> tuple[int, BotMessage | dict]:
        from_chat = self._require_chat(params, "from_chat_id")
        src = self._find_any_message(from_chat, int(params.get("message_id") or 0))
        if src is None or (isinstance(src, BotMessage) and src.deleted):
            raise ApiError(400, f"Bad Request: message to {what} not found")
        return from_chat, src

    def _clone(self, method: str, params: dict, chat_id: int, src: BotMessage | dict,
               keep_caption: bool) -> BotMessage:
        if isinstance(src, BotMessage):
            kind, text, plain = src.kind, src.text, src.plain_text
            file_id, extra, entities = src.file_id, dict(src.extra), src.entities
        else:
            kind, extra, file_id = "text", {}, None
            text = src.get("text")
            entities = src.get("entities")
            for k in ("document", "photo", "voice", "video", "audio", "sticker"):
                if k in src:
                    kind = k
                    obj = src[k][-1] if k == "photo" else src[k]
                    file_id = obj["file_id"]
                    text, entities = src.get("caption"), src.get("caption_entities")
            for k in ("contact", "location", "venue", "poll", "dice", "animation", "video_note"):
                if k in src:
                    kind, extra = k, {k: src[k]}
            plain = text
        if not keep_caption and "caption" in params and kind != "text":
            text = params.get("caption")
            plain = self._render(text, params, caption=True, entities_key="caption_entities")
            entities = params.get("caption_entities")
        rec = self.files.get(file_id or "")
        return self._new_message(
            method, params, chat_id, kind, text, plain, entities=entities, file_id=file_id,
            content=rec.content if rec else None, filename=rec.filename if rec else None,
            mime_type=rec.mime_type if rec else None, extra=extra,
        )

    def _api_copymessage(self, params: dict, files: dict) -> dict:
        chat_id = self._require_chat(params)
        from_chat, src = self._source_message(params, "copy")
        m = self._clone("copyMessage", params, chat_id, src, keep_caption=False)
        m.copied_from = (from_chat, int(params["message_id"]))
        self._store(m)
        return {"message_id": m.message_id}

    def _api_forwardmessage(self, params: dict, files: dict) -> dict:
        chat_id = self._require_chat(params)
        from_chat, src = self._source_message(params, "forward")
        params = {k: v for k, v in params.items() if k != "reply_markup"}
        m = self._clone("forwardMessage", params, chat_id, src, keep_caption=True)
        m.forwarded_from = (from_chat, int(src.message_id if isinstance(src, BotMessage) else src["message_id"]))
        sender = self.bot_user if isinstance(src, BotMessage) else src.get("from")
        m.forward_origin = {"type": "user", "sender_user": sender,
                            "date": src.date if isinstance(src, BotMessage) else src.get("date")}
        return self._store(m).to_json()

    # ---- editing
    def _editable(self, params: dict) -> BotMessage | None:
        if params.get("inline_message_id"):
            return None
        chat_id = self._require_chat(params)
        mid = int(params.get("message_id") or 0)
        m = self.get_message(chat_id, mid)
        if m is None or m.deleted:
            if (chat_id, mid) in self.user_messages:
                raise ApiError(400, "Bad Request: message can't be edited")
            raise ApiError(400, "Bad Request: message to edit not found")
        return m

    def _apply_edit(self, m: BotMessage, method: str, params: dict, text: str | None,
                    plain: str | None, markup: dict | None, entities: Any) -> dict:
        if text == m.text and markup == m.reply_markup and entities == m.entities:
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        m.edits.append({
            "method": method, "at": time.monotonic(), "params": params,
            "old_text": m.text, "old_reply_markup": m.reply_markup,
            "text": text, "reply_markup": markup,
        })
        m.text, m.plain_text, m.reply_markup, m.entities = text, plain, markup, entities
        if "parse_mode" in params:
            m.parse_mode = params.get("parse_mode")
        m.edit_date = int(time.time())
        self._edit_log[m.chat_id].append(m)
        self._notify()
        return m.to_json()

    def _api_editmessagetext(self, params: dict, files: dict) -> Any:
        m = self._editable(params)
        text = params.get("text")
        if text is None or not str(text).strip():
            raise ApiError(400, "Bad Request: message text is empty")
        plain = self._render(str(text), params, caption=False, entities_key="entities")
        markup = self._check_markup(params.get("reply_markup"))
        if m is None:
            return True
        if m.kind != "text":
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        return self._apply_edit(m, "editMessageText", params, str(text), plain, markup,
                                params.get("entities"))

    def _api_editmessagecaption(self, params: dict, files: dict) -> Any:
        m = self._editable(params)
        caption = params.get("caption")
        plain = self._render(caption, params, caption=True, entities_key="caption_entities")
        markup = self._check_markup(params.get("reply_markup"))
        if m is None:
            return True
        if m.kind == "text":
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        return self._apply_edit(m, "editMessageCaption", params, caption, plain, markup,
                                params.get("caption_entities"))

    def _api_editmessagereplymarkup(self, params: dict, files: dict) -> Any:
        m = self._editable(params)
        markup = self._check_markup(params.get("reply_markup"))
        if markup is not None and "inline_keyboard" not in markup:
            raise ApiError(400, "Bad Request: inline keyboard expected")
        if m is None:
            return True
        return self._apply_edit(m, "editMessageReplyMarkup", params, m.text, m.plain_text, markup,
                                m.entities)

    def _api_deletemessage(self, params: dict, files: dict) -> bool:
        chat_id = self._require_chat(params)
        mid = int(params.get("message_id") or 0)
        m = self.get_message(chat_id, mid)
        if m is not None and not m.deleted:
            m.deleted = True
            if self._reply_kb.get(chat_id) is m:
                pass  # deleting the message does not hide the reply keyboard in Telegram
            self._notify()
            return True
        um = self.user_messages.get((chat_id, mid))
        if um is not None and not um.get("_deleted"):
            um["_deleted"] = True
            return True
        raise ApiError(400, "Bad Request: message to delete not found")

    # ---- queries
    def _api_answercallbackquery(self, params: dict, files: dict) -> bool:
        qid = str(params.get("callback_query_id"))
        q = self._queries.get(qid)
        if q is None or q["type"] != "callback_query" or qid in self.callback_answers:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self.callback_answers[qid] = params
        return True

    def _api_answerinlinequery(self, params: dict, files: dict) -> bool:
        qid = str(params.get("inline_query_id"))
        q = self._queries.get(qid)
        if q is None or q["type"] != "inline_query" or qid in self.inline_answers:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        results = params.get("results")
        if not isinstance(results, list) or len(results) > 50:
            raise ApiError(400, "Bad Request: RESULTS_TOO_MUCH")
        ids = [r.get("id") for r in results]
        if len(set(ids)) != len(ids):
            raise ApiError(400, "Bad Request: RESULT_ID_DUPLICATE")
        self.inline_answers[qid] = params
        return True

    # ---- commands / descriptions / menu
    @staticmethod
    def _scope_key(scope: dict | None) -> tuple:
        if not scope:
            return ("default",)
        t = scope.get("type", "default")
        if t == "chat_member":
            return (t, scope.get("chat_id"), scope.get("user_id"))
        if t in ("chat", "chat_administrators"):
            return (t, scope.get("chat_id"))
        return (t,)

    def _api_setmycommands(self, params: dict, files: dict) -> bool:
        cmds = params.get("commands")
        if not isinstance(cmds, list) or len(cmds) > 100:
            raise ApiError(400, "Bad Request: commands are invalid")
        for c in cmds:
            name = c.get("command", "")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not (1 <= len(c.get("description", "")) <= 256):
                raise ApiError(400, "Bad Request: command description must be non-empty")
        key = (self._scope_key(params.get("scope")), params.get("language_code") or "")
        self.commands[key] = [{"command": c["command"], "description": c["description"]} for c in cmds]
        return True

    def _api_getmycommands(self, params: dict, files: dict) -> list[dict]:
        return list(self.commands_for(params.get("language_code") or "", params.get("scope")) or [])

    def _api_deletemycommands(self, params: dict, files: dict) -> bool:
        self.commands.pop((self._scope_key(params.get("scope")), params.get("language_code") or ""), None)
        return True

    def _api_setmydescription(self, params: dict, files: dict) -> bool:
        self.descriptions[("description", params.get("language_code") or "")] = params.get("description") or ""
        return True

    def _api_setmyshortdescription(self, params: dict, files: dict) -> bool:
        self.descriptions[("short_description", params.get("language_code") or "")] = (
            params.get("short_description") or ""
        )
        return True

    def _api_setchatmenubutton(self, params: dict, files: dict) -> bool:
        chat_id = self._require_chat(params) if params.get("chat_id") is not None else None
        self.menu_buttons[chat_id] = params.get("menu_button") or {"type": "default"}
        return True

    def _api_getchatmenubutton(self, params: dict, files: dict) -> dict:
        chat_id = self._require_chat(params) if params.get("chat_id") is not None else None
        return self.menu_buttons.get(chat_id) or self.menu_buttons.get(None) or {"type": "default"}

    def _api_sendchataction(self, params: dict, files: dict) -> bool:
        chat_id = self._require_chat(params)
        self._thread(params, chat_id)
        return True

    # ---- chats / members
    def _api_getchat(self, params: dict, files: dict) -> dict:
        chat_id = self._require_chat(params)
        d = self._chat_json(chat_id)
        d.update({
            "accent_color_id": 0, "max_reaction_count": 11,
            "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False,
                                    "unique_gifts": False, "premium_subscription": False,
                                    "gifts_from_channels": False},
        })
        return d

    def _user_json(self, user_id: int) -> dict:
        if user_id == self.bot_id:
            return dict(self.bot_user)
        u = self.users.get(user_id)
        if u is not None:
            return u.to_json()
        return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}

    def _member_json(self, chat: FakeChat, user_id: int) -> dict:
        entry = dict(chat.members.get(user_id) or {"status": chat.status_of(user_id)})
        status = entry.pop("status")
        d: dict[str, Any] = {"status": status, "user": self._user_json(user_id)}
        if status == "creator":
            d["is_anonymous"] = False
        elif status == "administrator":
            d.update({
                "can_be_edited": False, "is_anonymous": False, "can_manage_chat": True,
                "can_delete_messages": True, "can_manage_video_chats": True,
                "can_restrict_members": True, "can_promote_members": False,
                "can_change_info": True, "can_invite_users": True, "can_post_stories": False,
                "can_edit_stories": False, "can_delete_stories": False,
                "can_send_welcome_messages": False, "can_pin_messages": True,
                "can_manage_topics": True,
            })
        elif status == "restricted":
            d.update({k: False for k in (
                "can_send_messages", "can_send_audios", "can_send_documents", "can_send_photos",
                "can_send_videos", "can_send_video_notes", "can_send_voice_notes", "can_send_polls",
                "can_send_other_messages", "can_add_web_page_previews", "can_react_to_messages",
                "can_edit_tag", "can_change_info", "can_invite_users", "can_pin_messages",
                "can_manage_topics")})
            d.update({"is_member": True, "until_date": 0})
        elif status == "kicked":
            d["until_date"] = 0
        d.update(entry)
        return d

    def _api_getchatmember(self, params: dict, files: dict) -> dict:
        chat_id = self._require_chat(params)
        user_id = int(params.get("user_id") or 0)
        chat = self.groups.get(chat_id)
        if chat is None:  # private chat
            status = "member" if user_id in (chat_id, self.bot_id) else "left"
            return {"status": status, "user": self._user_json(user_id)}
        return self._member_json(chat, user_id)

    def _api_getchatadministrators(self, params: dict, files: dict) -> list[dict]:
        chat_id = self._require_chat(params)
        chat = self.groups.get(chat_id)
        if chat is None:
            raise ApiError(400, "Bad Request: there are no administrators in the private chat")
        ids = [uid for uid, m in chat.members.items() if m["status"] in ("creator", "administrator")]
        if self.bot_id not in chat.members and self.default_bot_status in ("administrator", "creator"):
            ids.append(self.bot_id)
        return [self._member_json(chat, uid) for uid in ids]

    # ---- forum topics
    def _forum(self, params: dict) -> FakeChat:
        chat_id = self._require_chat(params)
        chat = self.groups.get(chat_id)
        if chat is None or not chat.is_forum:
            raise ApiError(400, "Bad Request: the chat is not a forum")
        if chat.status_of(self.bot_id) not in ("administrator", "creator"):
            raise ApiError(400, "Bad Request: not enough rights to create a topic")
        return chat

    def _topic(self, params: dict) -> tuple[FakeChat, dict]:
        chat = self._forum(params)
        tid = params.get("message_thread_id")
        topic = chat.topics.get(int(tid or 0))
        if topic is None:
            raise ApiError(400, "Bad Request: message thread not found")
        return chat, topic

    def _api_createforumtopic(self, params: dict, files: dict) -> dict:
        chat = self._forum(params)
        name = params.get("name") or ""
        if not 1 <= len(name) <= 128:
            raise ApiError(400, "Bad Request: TOPIC_TITLE_EMPTY" if not name else "Bad Request: TOPIC_TITLE_TOO_LONG")
        tid = self._next_message_id(chat.id)  # the service message id becomes the thread id
        topic = {"message_thread_id": tid, "name": name,
                 "icon_color": params.get("icon_color") or 7322096, "closed": False}
        if params.get("icon_custom_emoji_id"):
            topic["icon_custom_emoji_id"] = params["icon_custom_emoji_id"]
        chat.topics[tid] = topic
        self._notify()
        return {k: v for k, v in topic.items() if k != "closed"}

    def _api_editforumtopic(self, params: dict, files: dict) -> bool:
        _, topic = self._topic(params)
        changed = False
        if params.get("name") is not None and params["name"] != topic["name"]:
            topic["name"] = params["name"]
            changed = True
        if "icon_custom_emoji_id" in params and params["icon_custom_emoji_id"] != topic.get("icon_custom_emoji_id"):
            topic["icon_custom_emoji_id"] = params["icon_custom_emoji_id"]
            changed = True
        if not changed:
            raise ApiError(400, "Bad Request: TOPIC_NOT_MODIFIED")
        return True

    def _api_closeforumtopic(self, params: dict, files: dict) -> bool:
        _, topic = self._topic(params)
        if topic["closed"]:
            raise ApiError(400, "Bad Request: TOPIC_NOT_MODIFIED")
        topic["closed"] = True
        return True

    def _api_reopenforumtopic(self, params: dict, files: dict) -> bool:
        _, topic = self._topic(params)
        if not topic["closed"]:
            raise ApiError(400, "Bad Request: TOPIC_NOT_MODIFIED")
        topic["closed"] = False
        return True

    # ---- files
    def _api_getfile(self, params: dict, files: dict) -> dict:
        rec = self.files.get(str(params.get("file_id")))
        if rec is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {"file_id": rec.file_id, "file_unique_id": rec.file_unique_id,
                "file_size": rec.size, "file_path": rec.file_path}


def _loopback_session_class() -> type:
    from aiogram.client.session.aiohttp import AiohttpSession

    class LoopbackAiohttpSession(AiohttpSession):
        async def close(self) -> None:
            sess = getattr(self, "_session", None)
            if sess is not None and not sess.closed:
                await sess.close()
                await asyncio.sleep(0)

    return LoopbackAiohttpSession


def _LoopbackSession(**kw: Any) -> Any:  # noqa: N802 - named like the class it builds
    return _loopback_session_class()(**kw)


# --------------------------------------------------------------------------- #
# Context helpers
# --------------------------------------------------------------------------- #


@contextlib.asynccontextmanager
async def running_fake(*, check_unknown: bool = True, **kwargs: Any) -> AsyncIterator[FakeBotAPI]:
    """Start a FakeBotAPI (kwargs -> FakeBotAPI(...)), stop it on exit.  On a clean
    exit, raises AssertionError if the bot called an unimplemented method
    (``fake.unknown_methods``) or the fake itself failed (``fake.errors``)."""
    fake = FakeBotAPI(**kwargs)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
    if fake.errors:
        raise AssertionError("fake Bot API internal errors:\n" + "\n".join(fake.errors))
    if check_unknown and fake.unknown_methods:
        raise AssertionError(f"bot called methods the fake does not implement: {fake.unknown_methods}")


@contextlib.asynccontextmanager
async def polling(dp: Any, bot: Any, *, fake: FakeBotAPI | None = None, polling_timeout: int = 1,
                  drain_timeout: float = 5.0, stuck_timeout: float = 30.0,
                  **start_kwargs: Any) -> AsyncIterator[asyncio.Task]:
    """Run ``dp.start_polling(bot)`` in a task for the duration of the block.

    Entry waits until polling is running (and, with ``fake=``, until the first
    getUpdates arrived).  Exit: stop_polling, await the polling task (its
    exceptions propagate), wait up to ``drain_timeout`` for in-flight update
    handler tasks (then cancel them: one still running ``stuck_timeout`` s later fails the block with its
    stack instead of hanging the test), close the bot session."""
    start_kwargs.setdefault("handle_signals", False)
    start_kwargs.setdefault("close_bot_session", False)
    n_polls = len(fake.calls_of("getUpdates")) if fake is not None else 0
    handling = _watch_dispatcher(dp, fake) if fake is not None else None
    task = asyncio.create_task(dp.start_polling(bot, polling_timeout=polling_timeout, **start_kwargs))
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5.0
        while not dp._running_lock.locked() and not task.done():
            if loop.time() > deadline:
                raise AssertionError("polling did not start")
            await asyncio.sleep(0.001)
        if fake is not None:
            def started() -> bool:
                return task.done() or len(fake.calls_of("getUpdates")) > n_polls

            try:
                await fake._wait(started, 5.0)
            except asyncio.TimeoutError:
                raise AssertionError("bot did not call getUpdates") from None
        if task.done():
            await task  # raises the startup error
            raise AssertionError("polling finished immediately")
        yield task
    finally:
        try:
            if not task.done():
                with contextlib.suppress(RuntimeError):
                    await dp.stop_polling()
            await task
        finally:
            stuck = await _drain(set(getattr(dp, "_handle_update_tasks", ())), drain_timeout, stuck_timeout)
            await bot.session.close()
            if handling is not None:
                _unwatch_dispatcher(fake, handling)  # type: ignore[arg-type]  # set together with fake
            if stuck:
                raise AssertionError(f"{len(stuck)} update handler task(s) still running {stuck_timeout:.0f} s after "
                                     f"being cancelled:\n{await_chains(stuck)}")


async def _drain(pending: set[asyncio.Task], drain_timeout: float, stuck_timeout: float) -> set[asyncio.Task]:
    """Wait up to ``drain_timeout`` for the handler tasks, cancel the rest; the ones still running
    ``stuck_timeout`` s after that (a task that outlives its cancellation fails the test instead of hanging it)."""
    if not pending:
        return set()
    _, still = await asyncio.wait(pending, timeout=drain_timeout)
    for t in still:
        t.cancel()
    if not still:
        return set()
    _, stuck = await asyncio.wait(still, timeout=stuck_timeout)
    for t in still - stuck:
        with contextlib.suppress(BaseException):
            t.result()
    return stuck


def await_chains(tasks: Any) -> str:
    """What each task waits on: its coroutine and every one it awaits, innermost last (``Task.print_stack``
    shows only the outermost frame of a suspended coroutine)."""
    out = io.StringIO()
    for task in tasks:
        out.write(f"{task!r}\n")
        coro = task.get_coro()
        while coro is not None:
            frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
            if frame is not None:
                out.write(f"  {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}\n")
            coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return out.getvalue()


def _watch_dispatcher(dp: Any, fake: FakeBotAPI) -> Callable[[], bool]:
    """Lets ``fake.idle`` see the dispatcher's work: the last update it took (``taken_update_id``; between a
    getUpdates answer and the update's handler task nothing else shows it) and a probe, busy while a handler
    task runs (a handler waiting for its database makes no request for a while)."""
    feed_update = dp.feed_update
    if fake.taken_update_id is None:  # what was handed out before was an earlier dispatcher's
        fake.taken_update_id = fake._last_handed_id

    async def taken(bot: Any, update: Any, **kw: Any) -> Any:
        fake.taken_update_id = max(fake.taken_update_id or 0, update.update_id)
        return await feed_update(bot, update, **kw)

    dp.feed_update = taken

    def handling() -> bool:
        return bool(getattr(dp, "_handle_update_tasks", ()))

    handling.dispatcher = True  # type: ignore[attr-defined]
    fake.busy_probes.append(handling)
    return handling


def _unwatch_dispatcher(fake: FakeBotAPI, handling: Callable[[], bool]) -> None:
    fake.busy_probes.remove(handling)
    if not any(getattr(p, "dispatcher", False) for p in fake.busy_probes):
        fake.taken_update_id = None  # no dispatcher left to take an update


@contextlib.contextmanager
def forbid_external_network() -> Iterator[None]:
    """Make any DNS lookup / asyncio connection to a non-loopback host fail."""
    loopback = {"127.0.0.1", "localhost", "::1", None}
    orig_gai = socket.getaddrinfo
    orig_cc = asyncio.BaseEventLoop.create_connection

    def guarded_gai(host: Any, *a: Any, **kw: Any) -> Any:
        h = host.decode() if isinstance(host, bytes) else host
        if h not in loopback:
            raise OSError(f"external network forbidden in tests: {h}")
        return orig_gai(host, *a, **kw)

    async def guarded_cc(self: Any, protocol_factory: Any, host: Any = None, *a: Any, **kw: Any) -> Any:
        if host not in loopback:
            raise OSError(f"external network forbidden in tests: {host}")
        return await orig_cc(self, protocol_factory, host, *a, **kw)

    socket.getaddrinfo = guarded_gai  # type: ignore[assignment]  # patched for the test run only
    asyncio.BaseEventLoop.create_connection = guarded_cc  # type: ignore[method-assign]  # patched for the test run only
    try:
        yield
    finally:
        socket.getaddrinfo = orig_gai  # type: ignore[assignment]  # restored
        asyncio.BaseEventLoop.create_connection = orig_cc  # type: ignore[method-assign]  # restored
