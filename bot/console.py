"""Console mode: the real dispatcher, database and catalogs, driven from the terminal (or a pipe).

The bot's Telegram calls are answered by ConsoleSession instead of the network: messages are printed, and
buttons are listed as ``[/1] ...``: typing ``/1`` presses one (inline buttons of the last answers first, then
the reply keyboard). Anything else typed is sent as a message, so a number ("1", "4") is an answer, never a
button. A date picker is printed as a small month calendar whose days are picked with ``/d5``; where the
wizard asks for attachments, typing a file's path attaches that file. End of input ends the session.

State lives where the bot keeps it (DATABASE_PATH); documents the bot sends are saved in the folder
``console`` next to the database, and the log goes to ``console.log`` there: the terminal shows only the
conversation.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import logging
import mimetypes
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import (
    AnswerCallbackQuery,
    CopyMessage,
    EditMessageCaption,
    EditMessageReplyMarkup,
    EditMessageText,
    ForwardMessage,
    GetChatMember,
    GetMe,
    GetMyCommands,
    SendAudio,
    SendDocument,
    SendMessage,
    SendPhoto,
    SendVideo,
    SendVoice,
    TelegramMethod,
)
from aiogram.types import (
    CallbackQuery,
    Chat,
    ChatMemberLeft,
    Contact,
    Document,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
    User,
)
from aiogram.utils.i18n import I18n

from bot.config import Settings
from bot.domain.clock import Clock
from bot.domain.text import LANGUAGES, N_
from handlers.complaint.callbacks import WizCb

CONSOLE_USER_ID = 1000
_TAG = re.compile(r"<[^>]+>")
_PRESS = re.compile(r"/(\d{1,3})")
_DAY = re.compile(r"/[dд](\d{1,2})", re.IGNORECASE)
_INERT = {"", "·"}  # calendar filler cells


BANNER = N_("Shagym console: press buttons with /1, /2, …; Ctrl-D ends. Documents: {docs}. State: {db}.")
CONTACT_HINT = N_("In Telegram this button shares your phone number. Here, type the number, for example "
                  "+7 701 234 56 78.")
CALENDAR_HINT = N_("To pick a day, type /d and its number, for example /d5; or type the date.")
ATTACH_HINT = N_("To attach a file, type its path, for example /home/me/talon.pdf.")
NO_BUTTON = N_("There is no such button here: {button}.")
NO_DAY = N_("There is no such day to pick here: {day}.")
NO_FILE = N_("There is no file at {path}.")


@dataclass
class Button:
    text: str
    callback_data: str | None = None  # inline button
    message_id: int | None = None
    request_contact: bool = False
    day: int | None = None  # a day of a date picker: pressed with /d<day>, not numbered
    action: str | None = None  # the wizard's action (WizCb.a), when it is a wizard button


def _wizard_action(data: str | None) -> tuple[str, str] | None:
    if not data or not data.startswith("cw:"):
        return None
    try:
        cb = WizCb.unpack(data)
    except (ValueError, TypeError):
        return None
    return cb.a, cb.v


_MONTH = re.compile(r":(\d{4})(0[1-9]|1[0-2])(?=:|$)")


def _month_label(label: str, data: str) -> str:
    """A date picker's « ‹ › » button says which month it shows (its callback carries YYYYMM)."""
    found = _MONTH.findall(data) if label in ("«", "‹", "›", "»") else []
    return f"{label} {found[-1][1]}.{found[-1][0]}" if found else label


class ConsoleSession(BaseSession):
    def __init__(self, out: TextIO, files_dir: Path, clock: Clock) -> None:
        super().__init__()
        self.out = out
        self.files_dir = files_dir
        self.clock = clock  # the app's: the date of every message in the conversation
        self.i18n: I18n | None = None  # set once the app exists: the console's own notes are translated
        self.message_ids = itertools.count(1)
        self.sent: dict[int, Message] = {}
        self.inline: list[Button] = []
        self.new_keyboard = False  # did the last answers bring buttons of their own?
        self.reply: list[Button] = []
        self.edited: set[int] = set()  # messages edited while the current update was handled
        self.hinted: set[str] = set()  # prompts whose console hint was printed already
        self.bot_user = User(id=42, is_bot=True, first_name="Shagym", username="shagym_console_bot")

    async def close(self) -> None:
        return None

    async def stream_content(self, url, headers=None, timeout=30, chunk_size=65536, raise_for_status=True):
        if False:  # pragma: no cover - nothing to download in the console
            yield b""

    # ---- printing ---------------------------------------------------------------------------------------------

    def _print(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def note(self, msgid: str, locale: str | None = None, **params: Any) -> None:
        """A console note (not a bot message), in the person's language: the current update's locale, or
        ``locale`` outside an update."""
        text = self.i18n.gettext(msgid, locale=locale) if self.i18n is not None else msgid
        self._print("     (" + text.format(**params) + ")")

    def _show(self, text: str | None, markup: Any, message_id: int, edited: bool = False) -> None:
        plain = html.unescape(_TAG.sub("", text or ""))
        prefix = "bot (edited)> " if edited else "bot> "
        self._print(prefix + plain.replace("\n", "\n     "))
        if isinstance(markup, (InlineKeyboardMarkup, ReplyKeyboardMarkup)):
            self.new_keyboard = True
        if isinstance(markup, InlineKeyboardMarkup):
            self._inline(markup, message_id)
        elif isinstance(markup, ReplyKeyboardMarkup):
            self.reply = [Button(b.text, request_contact=bool(b.request_contact)) for row in markup.keyboard for b in row]
        elif isinstance(markup, ReplyKeyboardRemove):
            self.reply = []

    def _inline(self, markup: InlineKeyboardMarkup, message_id: int) -> None:
        """Collect the buttons of an inline keyboard. A date picker (handlers.datepicker: rows of 7 cells under
        a « ‹ month › » row) is drawn as a compact month calendar: its days are picked with /d<day>, and its
        labels and filler cells (the month, the weekdays, blanks, "·") are not buttons."""
        rows = [[b for b in row if b.callback_data is not None] for row in markup.inline_keyboard]
        for row in markup.inline_keyboard:
            for b in row:
                if b.url:
                    self._print(f"     ({b.text}: {b.url})")
        # The picker's inert cells share one callback (its "nop"): the weekdays and blanks reveal it.
        inert = {b.callback_data for row in rows if len(row) == 7 for b in row if not b.text.strip().isdigit()}
        grid = [line for row in rows if (line := self._grid_row(row, inert, message_id))]
        if any(b.day for b in self.inline if b.message_id == message_id):
            for line in grid:
                self._print("     " + line)
            self.note(CALENDAR_HINT)
        for button in self.inline:  # once per question: the same question's later messages carry the same «Done»
            if button.message_id == message_id and button.action == "dn" and button.callback_data and \
                    button.callback_data not in self.hinted:
                self.hinted.add(button.callback_data)
                self.note(ATTACH_HINT)

    def _grid_row(self, row: list[InlineKeyboardButton], inert: set[str | None], message_id: int) -> str:
        """One row of buttons: its buttons collected; what it shows of a date picker returned ("" for none)."""
        week = len(row) == 7
        cells: list[str] = []
        for b in row:
            label = b.text.strip()
            if week and label.isdigit():
                self.inline.append(Button(label, b.callback_data, message_id, day=int(label)))
                cells.append(label)
            elif week or b.callback_data in inert or label in _INERT:
                cells.append(label)  # the month, a weekday, an empty cell
            else:
                self.inline.append(Button(_month_label(label, b.callback_data or ""), b.callback_data,
                                          message_id, action=(_wizard_action(b.callback_data) or ("",))[0]))
        if week:
            return "".join(c.rjust(4) for c in cells)
        return "   ".join(c for c in cells if c).center(28) if any(cells) else ""

    def numbered(self) -> list[Button]:
        return [b for b in self.inline if b.day is None] + self.reply

    def show_buttons(self) -> None:
        buttons = self.numbered()
        if buttons:
            self._print("     " + "  ".join(f"[/{i}] {b.text}" for i, b in enumerate(buttons, 1)))

    def button(self, number: int) -> Button | None:
        buttons = self.numbered()
        return buttons[number - 1] if 1 <= number <= len(buttons) else None

    def day(self, day: int) -> Button | None:
        return next((b for b in reversed(self.inline) if b.day == day), None)

    @property
    def attachments_open(self) -> bool:
        """Is the wizard asking for attachments (its «Done» button is on screen)?"""
        return any(b.action == "dn" for b in self.inline)

    # ---- the Bot API ------------------------------------------------------------------------------------------

    def _message(self, bot: Bot, chat_id: int, **fields: Any) -> Message:
        message_id = next(self.message_ids)
        message = Message(
            message_id=message_id,
            date=self.clock.now(),
            chat=Chat(id=chat_id, type="private" if chat_id > 0 else "supergroup"),
            from_user=self.bot_user,
            **fields,
        ).as_(bot)
        self.sent[message_id] = message
        return message

    async def make_request(self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None) -> Any:
        if isinstance(method, GetMe):
            return self.bot_user
        if isinstance(method, SendMessage):
            message = self._message(bot, int(method.chat_id), text=method.text)
            self._show(method.text, method.reply_markup, message.message_id)
            return message
        if isinstance(method, (SendDocument, SendPhoto, SendVoice, SendVideo, SendAudio)):
            return await self._media(bot, method)
        if isinstance(method, (EditMessageText, EditMessageReplyMarkup, EditMessageCaption)):
            return self._edited(method)
        if isinstance(method, AnswerCallbackQuery):
            if method.text:
                self._print(f"     ({method.text})")
            return True
        if isinstance(method, (CopyMessage, ForwardMessage)):
            name = type(method).__name__
            message = self._message(bot, int(method.chat_id), text="[copy]")
            self._print(f"bot> [{name} to chat {method.chat_id}]")
            return message if isinstance(method, ForwardMessage) else {"message_id": message.message_id}
        if isinstance(method, GetMyCommands):
            return []
        if isinstance(method, GetChatMember):
            return ChatMemberLeft(user=User(id=method.user_id, is_bot=False, first_name="?"))
        # setMyCommands, deleteMessage, sendChatAction, answerInlineQuery, ...: nothing to show
        return True

    async def _media(self, bot: Bot, method: SendDocument | SendPhoto | SendVoice | SendVideo | SendAudio) -> Message:
        label = type(method).__name__[4:].lower()
        media = getattr(method, label)
        if isinstance(media, InputFile):
            chunks = [chunk async for chunk in media.read(bot)]
            self.files_dir.mkdir(parents=True, exist_ok=True)
            target = self.files_dir / (media.filename or f"{label}.bin")
            target.write_bytes(b"".join(chunks))
            label += f": {target}"
        message = self._message(bot, int(method.chat_id), caption=method.caption)
        self._show(f"[{label}] {method.caption or ''}", method.reply_markup, message.message_id)
        return message

    def _edited(self, method: EditMessageText | EditMessageReplyMarkup | EditMessageCaption) -> Message | bool:
        params = method.model_dump(exclude_none=True)
        old = self.sent.get(params.get("message_id", 0))
        text = params.get("text") or params.get("caption") or (old.text if old else "")
        self.inline = [b for b in self.inline if b.message_id != params.get("message_id")]
        self.edited.add(params.get("message_id", 0))
        self._show(text, method.reply_markup, params.get("message_id", 0), edited=True)
        return old or True


def console_paths(settings: Settings) -> tuple[Path, Path]:
    """Where the console keeps the documents the bot sends, and its log: next to the database."""
    folder = Path(settings.database_path).parent
    return folder / "console", folder / "console.log"


def _log_to_file(path: Path, level: str, fmt: str = "text") -> None:
    """The terminal belongs to the conversation: the log (start-up notes, warnings, errors) goes to a file."""
    from bot.logs import log_formatter

    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(log_formatter(fmt))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)


async def run_console(settings: Settings, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    from bot.app import create_app

    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    files_dir, log_path = console_paths(settings)
    _log_to_file(log_path, settings.log_level, settings.log_format)
    clock = Clock()
    session = ConsoleSession(stdout, files_dir, clock)
    app = await create_app(settings, clock=clock, session=session)
    session.i18n = app.i18n
    bot, dp = app.bot, app.dp
    users = app.repos.users
    update_ids = itertools.count(1)
    user = User(id=CONSOLE_USER_ID, is_bot=False, first_name="Console")
    chat = Chat(id=CONSOLE_USER_ID, type="private")
    user_message_ids = itertools.count(100_000)
    try:
        await dp.emit_startup(bot=bot, **dp.workflow_data)
        for lang in LANGUAGES:
            session._print(app.i18n.gettext(BANNER, locale=lang).format(docs=files_dir, db=settings.database_path))
        lines = _reader(stdin)
        while True:
            line = await lines.get()
            if not line:
                break
            text = line.rstrip("\n")
            if not text.strip():
                continue
            stdout.write(f"you> {text}\n")
            stored = await users.get(CONSOLE_USER_ID)
            lang = stored.language if stored is not None and stored.language else settings.default_language
            update = _update_for(text, session, user, chat, next(update_ids), next(user_message_ids), lang)
            if update is None:
                continue
            before, session.inline, session.new_keyboard = session.inline, [], False
            sent_before = len(session.sent)
            await dp.feed_update(bot, update)
            if not session.new_keyboard and (update.message is not None or len(session.sent) == sent_before):
                # An answer without buttons to a typed line (say "that date is not valid"), or a press answered
                # by a note only, leaves the question's buttons in place, as Telegram does: Skip, Back or the
                # date picker can still be pressed. A press that moved on (confirm) leaves no stale buttons.
                session.inline = [b for b in before if b.message_id not in session.edited]
            session.edited.clear()
            session.show_buttons()
    finally:
        await dp.emit_shutdown(bot=bot, **dp.workflow_data)
        await app.close()
    return 0


def _reader(stdin: TextIO) -> asyncio.Queue[str]:
    """Typed lines, read by a daemon thread ("" at the end): Ctrl-C ends the console at once instead of
    waiting for a blocked read to return."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str] = asyncio.Queue()

    def read() -> None:
        for line in iter(stdin.readline, ""):
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, "")

    threading.Thread(target=read, name="console-stdin", daemon=True).start()
    return queue


def _press(button: Button, session: ConsoleSession, user: User, update_id: int) -> Update:
    origin = session.sent.get(button.message_id or 0)
    query = CallbackQuery(
        id=str(update_id), from_user=user, chat_instance="console", data=button.callback_data, message=origin
    )
    return Update(update_id=update_id, callback_query=query)


def _attachment(text: str) -> Path | None:
    """A typed line that is a path (it has a slash or starts with ~) or names a file in the current folder."""
    candidate = text.strip().strip("'\"")
    if not candidate:
        return None
    path = Path(candidate).expanduser()
    return path if path.is_file() or candidate.startswith("~") or "/" in candidate or "\\" in candidate else None


def _update_for(text: str, session: ConsoleSession, user: User, chat: Chat, update_id: int, message_id: int,
                lang: str) -> Update | None:
    """The update a typed line stands for; None when the console answered it itself (a note)."""
    now = session.clock.now()

    def message(**fields: Any) -> Update:
        return Update(update_id=update_id, message=Message(
            message_id=message_id, date=now, chat=chat, from_user=user, **fields))

    if pressed := _PRESS.fullmatch(text.strip()):
        button = session.button(int(pressed.group(1)))
        if button is None:
            session.note(NO_BUTTON, lang, button=text.strip())
            return None
        if button.callback_data is not None:
            return _press(button, session, user, update_id)
        if button.request_contact:
            session.note(CONTACT_HINT, lang)
            return None
        return message(text=button.text)
    if picked := _DAY.fullmatch(text.strip()):
        button = session.day(int(picked.group(1)))
        if button is None:
            session.note(NO_DAY, lang, day=picked.group(1))
            return None
        return _press(button, session, user, update_id)
    if session.attachments_open and (path := _attachment(text)) is not None:
        if not path.is_file():
            session.note(NO_FILE, lang, path=path)
            return None
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        document = Document(file_id=f"console:{path.resolve()}", file_unique_id=str(path.resolve()),
                            file_name=path.name, mime_type=mime, file_size=path.stat().st_size)
        return message(document=document)
    if re.fullmatch(r"\+?[\d\s()-]{10,}", text) and any(b.request_contact for b in session.reply):
        contact = Contact(phone_number=text, first_name=user.first_name, user_id=user.id)
        return message(contact=contact)
    return message(text=text)

