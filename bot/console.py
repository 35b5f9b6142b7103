"""Console mode: the real dispatcher, database and catalogs, driven from the terminal (or a pipe).

The bot's Telegram calls are answered by ConsoleSession instead of the network: messages are printed,
buttons are numbered, and typing a number presses one (inline buttons of the last answer first, then the
reply keyboard). Anything else typed is sent as a message. End of input ends the session.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from aiogram.types import (
    CallbackQuery,
    Chat,
    Contact,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
    User,
)

from bot.config import Settings

CONSOLE_USER_ID = 1000
_TAG = re.compile(r"<[^>]+>")


@dataclass
class Button:
    text: str
    callback_data: str | None = None  # inline button
    message_id: int | None = None
    request_contact: bool = False


class ConsoleSession(BaseSession):
    def __init__(self, out: TextIO, files_dir: Path) -> None:
        super().__init__()
        self.out = out
        self.files_dir = files_dir
        self.message_ids = itertools.count(1)
        self.sent: dict[int, Message] = {}
        self.inline: list[Button] = []
        self.new_keyboard = False  # did the last answers bring buttons of their own?
        self.reply: list[Button] = []
        self.edited: set[int] = set()  # messages edited while the current update was handled
        self.bot_user = User(id=42, is_bot=True, first_name="Shagym", username="shagym_console_bot")

    async def close(self) -> None:
        return None

    async def stream_content(self, url, headers=None, timeout=30, chunk_size=65536, raise_for_status=True):
        if False:  # pragma: no cover - nothing to download in the console
            yield b""

    def _print(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _show(self, text: str | None, markup: Any, message_id: int, edited: bool = False) -> None:
        plain = html.unescape(_TAG.sub("", text or ""))
        prefix = "bot (edited)> " if edited else "bot> "
        self._print(prefix + plain.replace("\n", "\n     "))
        if isinstance(markup, (InlineKeyboardMarkup, ReplyKeyboardMarkup)):
            self.new_keyboard = True
        if isinstance(markup, InlineKeyboardMarkup):
            for row in markup.inline_keyboard:
                for b in row:
                    if b.callback_data is not None:
                        self.inline.append(Button(b.text, b.callback_data, message_id))
                    elif b.url:
                        self._print(f"     ({b.text}: {b.url})")
        elif isinstance(markup, ReplyKeyboardMarkup):
            self.reply = [Button(b.text, request_contact=bool(b.request_contact)) for row in markup.keyboard for b in row]
        elif isinstance(markup, ReplyKeyboardRemove):
            self.reply = []

    def show_buttons(self) -> None:
        buttons = self.inline + self.reply
        if buttons:
            self._print("     " + "  ".join(f"[{i}] {b.text}" for i, b in enumerate(buttons, 1)))

    def button(self, number: int) -> Button | None:
        buttons = self.inline + self.reply
        return buttons[number - 1] if 1 <= number <= len(buttons) else None

    def _message(self, bot: Bot, chat_id: int, **fields: Any) -> Message:
        message_id = next(self.message_ids)
        message = Message(
            message_id=message_id,
            date=datetime.now(timezone.utc),
            chat=Chat(id=chat_id, type="private" if chat_id > 0 else "supergroup"),
            from_user=self.bot_user,
            **fields,
        ).as_(bot)
        self.sent[message_id] = message
        return message

    async def make_request(self, bot: Bot, method: TelegramMethod, timeout: int | None = None) -> Any:
        name = type(method).__name__
        params = method.model_dump(exclude_none=True)
        if name == "GetMe":
            return self.bot_user
        if name == "SendMessage":
            message = self._message(bot, method.chat_id, text=method.text)
            self._show(method.text, method.reply_markup, message.message_id)
            return message
        if name in ("SendDocument", "SendPhoto", "SendVoice", "SendVideo", "SendAudio"):
            media = getattr(method, name[4:].lower())
            label = name[4:].lower()
            if isinstance(media, InputFile):
                chunks = [chunk async for chunk in media.read(bot)]
                self.files_dir.mkdir(parents=True, exist_ok=True)
                target = self.files_dir / (media.filename or f"{label}.bin")
                target.write_bytes(b"".join(chunks))
                label += f": {target}"
            message = self._message(bot, method.chat_id, caption=getattr(method, "caption", None))
            self._show(f"[{label}] {getattr(method, 'caption', None) or ''}", method.reply_markup, message.message_id)
            return message
        if name in ("EditMessageText", "EditMessageReplyMarkup", "EditMessageCaption"):
            old = self.sent.get(params.get("message_id", 0))
            text = params.get("text") or params.get("caption") or (old.text if old else "")
            self.inline = [b for b in self.inline if b.message_id != params.get("message_id")]
            self.edited.add(params.get("message_id", 0))
            self._show(text, method.reply_markup, params.get("message_id", 0), edited=True)
            return old or True
        if name == "AnswerCallbackQuery":
            if getattr(method, "text", None):
                self._print(f"     ({method.text})")
            return True
        if name in ("CopyMessage", "ForwardMessage"):
            message = self._message(bot, method.chat_id, text="[copy]")
            self._print(f"bot> [{name} to chat {method.chat_id}]")
            return message if name == "ForwardMessage" else {"message_id": message.message_id}
        if name == "GetMyCommands":
            return []
        if name == "GetChatMember":
            from aiogram.types import ChatMemberLeft

            return ChatMemberLeft(user=User(id=method.user_id, is_bot=False, first_name="?"))
        # setMyCommands, deleteMessage, sendChatAction, answerInlineQuery, ...: nothing to show
        return True


async def run_console(settings: Settings, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    from bot.app import create_app

    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    session = ConsoleSession(stdout, Path(settings.database_path).parent / "console")
    app = await create_app(settings, session=session)
    bot, dp = app.bot, app.dp
    update_ids = itertools.count(1)
    user = User(id=CONSOLE_USER_ID, is_bot=False, first_name="Console")
    chat = Chat(id=CONSOLE_USER_ID, type="private")
    user_message_ids = itertools.count(100_000)
    session._print("Shagym console. Type /start; numbers press buttons; Ctrl-D ends.")
    await dp.emit_startup(bot=bot, **dp.workflow_data)
    try:
        while True:
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                break
            text = line.rstrip("\n")
            if not text.strip():
                continue
            stdout.write(f"you> {text}\n")
            update = _update_for(text, session, user, chat, next(update_ids), next(user_message_ids))
            if update is None:
                session._print("     (that button needs a phone number: type it, e.g. +7 701 234 56 78)")
                continue
            before, session.inline, session.new_keyboard = session.inline, [], False
            await dp.feed_update(bot, update)
            if not session.new_keyboard:
                # An answer without buttons (say "that date is not valid") leaves the question's buttons in
                # place, as Telegram does: Skip, Back or the date picker can still be pressed by number.
                session.inline = [b for b in before if b.message_id not in session.edited]
            session.edited.clear()
            session.show_buttons()
    finally:
        await dp.emit_shutdown(bot=bot, **dp.workflow_data)
        await app.close()
    return 0


def _update_for(text: str, session: ConsoleSession, user: User, chat: Chat, update_id: int, message_id: int):
    now = datetime.now(timezone.utc)
    button = session.button(int(text)) if text.isdigit() else None
    if button is not None and button.callback_data is not None:
        origin = session.sent.get(button.message_id or 0)
        query = CallbackQuery(
            id=str(update_id), from_user=user, chat_instance="console", data=button.callback_data, message=origin
        )
        return Update(update_id=update_id, callback_query=query)
    if button is not None and button.request_contact:
        return None
    if button is not None:
        text = button.text
    if re.fullmatch(r"\+?[\d\s()-]{10,}", text) and any(b.request_contact for b in session.reply):
        contact = Contact(phone_number=text, first_name=user.first_name, user_id=user.id)
        return Update(update_id=update_id, message=Message(
            message_id=message_id, date=now, chat=chat, from_user=user, contact=contact))
    return Update(update_id=update_id, message=Message(message_id=message_id, date=now, chat=chat, from_user=user,
                                                        text=text))
