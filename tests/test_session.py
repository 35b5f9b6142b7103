"""bot/session.py: the bot's Bot API session sends what aiogram's own session sends, as one JSON body (a file
still as a multipart form), and reads the answers the same way."""

from __future__ import annotations

import gc

import orjson
import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import SendMessage
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    MessageEntity,
    ReplyKeyboardMarkup,
)

from bot.session import JsonBodySession
from tests.fakeapi import running_fake

CHAT = 1001


async def exchange(bot: Bot) -> list:
    """Requests of every shape the bot makes; returns what they answered."""
    inline = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Жеке тұлға", callback_data="cw:a:1:ch:x"),
                                                    InlineKeyboardButton(text="Сайт", url="https://egov.kz")]])
    menu = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="📝 Шағым жазу")]], resize_keyboard=True,
                               is_persistent=True)
    out = [await bot.get_me()]
    sent = await bot.send_message(CHAT, "<b>Сәлем</b> & «ru» 0", reply_markup=inline, disable_notification=False)
    out.append(sent)
    out.append(await bot.send_message(CHAT, "plain 12", parse_mode=None, reply_markup=menu,
                                      entities=[MessageEntity(type="bold", offset=0, length=5)],
                                      protect_content=True))
    out.append(await bot.edit_message_text("edited", chat_id=CHAT, message_id=sent.message_id, reply_markup=inline))
    out.append(await bot.set_my_commands([BotCommand(command="start", description="Бастау")], language_code="kk"))
    out.append(await bot.send_document(CHAT, BufferedInputFile(b"%PDF-1.4 shagym", filename="shagym.pdf"),
                                       caption="Шағым"))
    out.append(await bot.send_chat_action(CHAT, "typing"))
    with pytest.raises(TelegramBadRequest):
        await bot.send_message(424242, "to nobody")
    with pytest.raises(TelegramBadRequest):
        await bot.answer_callback_query("no-such-query", text="x", show_alert=False, cache_time=0)
    return out


def _undated(value):
    """An answer without its timestamps (the two runs are seconds apart)."""
    if isinstance(value, dict):
        return {k: _undated(v) for k, v in value.items() if k not in ("date", "edit_date")}
    if isinstance(value, list):
        return [_undated(v) for v in value]
    return value


def _shape(calls) -> list:
    """The requests as the fake decoded them (an upload's random part name left out)."""
    def params(c) -> dict:
        return {k: "attach://*" if str(v).startswith("attach://") else v for k, v in c.params.items()}

    return [(c.method, params(c), {k: (f.filename, f.content) for k, f in c.files.items() if k in c.params},
             c.status) for c in calls]


async def test_the_json_session_sends_and_reads_what_aiograms_form_session_does():
    results = {}
    requests = {}
    for name, make in (("form", AiohttpSession), ("json", JsonBodySession)):
        async with running_fake() as fake:
            fake.user(CHAT, "Aigerim", language_code="kk")
            bot = Bot(token=fake.token, session=make(api=TelegramAPIServer.from_base(fake.base_url)),
                      default=DefaultBotProperties(parse_mode="HTML", link_preview_is_disabled=True))
            try:
                results[name] = _undated([r.model_dump() if hasattr(r, "model_dump") else r
                                          for r in await exchange(bot)])
            finally:
                await bot.session.close()
            requests[name] = _shape(fake.calls)
    assert requests["json"] == requests["form"]
    assert results["json"] == results["form"]
    assert [m for m, *_ in requests["json"]] == ["getMe", "sendMessage", "sendMessage", "editMessageText",
                                                 "setMyCommands", "sendDocument", "sendChatAction", "sendMessage",
                                                 "answerCallbackQuery"]


async def test_only_a_file_goes_as_a_form():
    session = JsonBodySession()
    bot = Bot(token="42:test", session=session, default=DefaultBotProperties(parse_mode="HTML"))
    from aiogram.methods import SendDocument, SendMessage

    body = session.json_body(bot, SendMessage(chat_id=5, text="hi", disable_notification=False))
    assert body == b'{"chat_id":5,"text":"hi","parse_mode":"HTML","disable_notification":false}'
    assert session.json_body(bot, SendDocument(chat_id=5, document=BufferedInputFile(b"x", filename="a"))) is None
    await session.close()


# ------------------------------------------------------------------------- the answers, as callers read them

def _bot_on(fake) -> Bot:
    return Bot(token=fake.token, session=JsonBodySession(api=TelegramAPIServer.from_base(fake.base_url)),
               default=DefaultBotProperties(parse_mode="HTML", link_preview_is_disabled=True))


async def test_a_sent_message_reads_as_aiogram_builds_it():
    """What a caller reads from a reply (the desk keeps message ids, a handler may edit what it sent): the
    types, the values, the keyboard as Telegram shows it, the bot it is bound to."""
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Иә", callback_data="cw:a:1:y"),
                                                      InlineKeyboardButton(text="Жоқ", callback_data="cw:a:1:n")]])
    async with running_fake() as fake:
        fake.user(CHAT, "Aigerim", language_code="kk")
        bot = _bot_on(fake)
        try:
            sent = await bot.send_message(CHAT, "Қадам 3", reply_markup=keyboard, parse_mode=None,
                                          entities=[MessageEntity(type="bold", offset=0, length=5)])
            assert isinstance(sent, Message) and isinstance(sent.message_id, int) and sent.message_id > 0
            assert sent.chat.id == CHAT and sent.from_user is not None and sent.from_user.is_bot
            assert sent.text == "Қадам 3" and [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 0, 5)]
            assert all(isinstance(e, MessageEntity) for e in sent.entities)
            assert isinstance(sent.reply_markup, InlineKeyboardMarkup)
            assert sent.reply_markup.model_dump() == keyboard.model_dump()
            assert sent.bot is bot and sent.chat.bot is bot
            edited = await sent.edit_text("<i>Өзгертілді</i>", reply_markup=keyboard)  # through the bound bot
            assert isinstance(edited, Message) and edited.message_id == sent.message_id
            assert edited.text in ("Өзгертілді", "<i>Өзгертілді</i>") and edited.reply_markup.model_dump() == keyboard.model_dump()
            assert fake.get_message(CHAT, sent.message_id).text == "<i>Өзгертілді</i>"
            plain = await bot.send_message(CHAT, "no keyboard")
            assert plain.reply_markup is None and plain.message_id == sent.message_id + 1
        finally:
            await bot.session.close()


def test_a_reply_showing_another_keyboard_than_the_one_sent_is_read_as_shown():
    """The answer carries the keyboard as Telegram stored it: when it is not what was sent, that is what the
    caller gets."""
    session = JsonBodySession()
    bot = Bot(token="42:test", session=session, default=DefaultBotProperties(parse_mode="HTML"))
    sent = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="A", callback_data="a")]])
    method = SendMessage(chat_id=5, text="hi", reply_markup=sent)
    shown = {"inline_keyboard": [[{"text": "B", "callback_data": "b"}]]}
    raw = orjson.dumps({"ok": True, "result": {"message_id": 9, "date": 1, "chat": {"id": 5, "type": "private"},
                                               "text": "hi", "reply_markup": shown}}).decode()
    result = session.check_response(bot, method, 200, raw).result
    assert isinstance(result.reply_markup, InlineKeyboardMarkup)
    assert result.reply_markup.model_dump(exclude_none=True) == shown


def test_the_bots_user_in_an_answer_is_read_as_shown():
    """The sender of an answer is the bot's user: when it is exactly the one of the last answer, that object
    serves again; when Telegram shows it otherwise (the bot was renamed), the answer says so."""
    session = JsonBodySession()
    bot = Bot(token="42:test", session=session, default=DefaultBotProperties(parse_mode="HTML"))
    method = SendMessage(chat_id=5, text="hi")

    def answer(first_name: str) -> Message:
        me = {"id": 42, "is_bot": True, "first_name": first_name, "username": "shagym_bot"}
        raw = orjson.dumps({"ok": True, "result": {"message_id": 9, "date": 1, "from": me, "text": "hi",
                                                   "chat": {"id": 5, "type": "private"}}})
        return session.check_response(bot, method, 200, raw).result

    first, second, renamed = answer("Shagym"), answer("Shagym"), answer("Шағым")
    assert first.from_user == second.from_user and second.from_user.first_name == "Shagym"
    assert second.from_user.bot is bot and second.from_user.is_bot
    assert renamed.from_user.first_name == "Шағым" and answer("Шағым").from_user.first_name == "Шағым"
    other = Bot(token="43:other", session=session)
    assert session.check_response(other, method, 200, orjson.dumps(
        {"ok": True, "result": {"message_id": 1, "date": 1, "chat": {"id": 5, "type": "private"}, "text": "x",
                                "from": {"id": 42, "is_bot": True, "first_name": "Шағым",
                                         "username": "shagym_bot"}}})).result.from_user.bot is other


async def test_a_reply_is_read_without_building_a_model_class(monkeypatch):
    """pydantic keeps the generic ``Response[Message]`` only weakly: a garbage collection dropped it and the
    next reply built it again (~3 ms of schema building, every few dozen updates in the e2e profile)."""
    from pydantic._internal import _model_construction

    async with running_fake() as fake:
        fake.user(CHAT, "Aigerim", language_code="kk")
        bot = _bot_on(fake)
        try:
            first = await bot.send_message(CHAT, "one")  # each kind of answer once: its type is built here
            await bot.edit_message_text("edited", chat_id=CHAT, message_id=first.message_id)
            await bot.send_chat_action(CHAT, "typing")
            built: list[str] = []
            new = _model_construction.ModelMetaclass.__new__

            def counting(mcs, name, *args, **kwargs):
                built.append(name)
                return new(mcs, name, *args, **kwargs)

            monkeypatch.setattr(_model_construction.ModelMetaclass, "__new__", counting)
            for i in range(2):
                gc.collect()
                await bot.send_message(CHAT, "two")
                await bot.edit_message_text(f"edited {i}", chat_id=CHAT, message_id=first.message_id)
                await bot.send_chat_action(CHAT, "typing")
            assert built == []
        finally:
            await bot.session.close()


def test_an_answer_takes_what_an_earlier_one_showed_exactly():
    """The chat and the entities of an answer, exactly as an earlier answer showed them, are the objects read
    from that one; anything else shown (a renamed person, another entity, another bot) is read anew. Either
    way the answer reads as pydantic alone would read it."""
    from aiogram.methods import Response

    session = JsonBodySession()
    bot = Bot(token="42:test", session=session, default=DefaultBotProperties(parse_mode="HTML"))
    method = SendMessage(chat_id=5, text="hi")
    bold = {"type": "bold", "offset": 0, "length": 5}

    def answer(name: str, entities: list, on: Bot = bot) -> Message:
        raw = orjson.dumps({"ok": True, "result": {"message_id": 9, "date": 1, "text": "Сәлем hi", "entities": entities,
                                                   "chat": {"id": 5, "type": "private", "first_name": name}}})
        read = session.check_response(on, method, 200, raw).result
        alone = Response[Message].model_validate(orjson.loads(raw), context={"bot": on}).result
        assert read == alone and read.model_dump() == alone.model_dump() and read.chat.bot is on
        return read

    first = answer("Aigerim", [bold])
    again = answer("Aigerim", [bold])
    assert again.chat is first.chat and again.entities[0] is first.entities[0]
    link = {"type": "text_link", "offset": 6, "length": 2, "url": "https://egov.kz"}
    renamed = answer("Айгерім", [bold, {**bold, "offset": 6, "length": 2}, link])
    assert renamed.chat is not first.chat and renamed.chat.first_name == "Айгерім"
    assert renamed.entities[0] is first.entities[0] and renamed.entities[1].offset == 6
    assert answer("Айгерім", []).chat is renamed.chat
    other = Bot(token="43:other", session=session)
    assert answer("Айгерім", [bold], on=other).chat is not renamed.chat


def test_an_answer_of_a_shape_seen_before_reads_as_validated_without_validating(monkeypatch):
    """An answer holding only what was read before (the sender, the chat, the keyboard sent, the entities, the
    second) besides its id and text is built from the last one of its shape: the same message as pydantic would
    read, fields set, bot and all; anything new in it (another second, another field) is validated."""
    from bot.session import response_type

    session = JsonBodySession()
    bot = Bot(token="42:test", session=session, default=DefaultBotProperties(parse_mode="HTML"))
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Иә", callback_data="y")]])
    method = SendMessage(chat_id=5, text="hi", reply_markup=keyboard)
    sent = session.parameters(bot, method)["reply_markup"]
    me = {"id": 42, "is_bot": True, "first_name": "Shagym", "username": "shagym_bot"}
    validated: list[int] = []
    validate = response_type(method).model_validate

    def counting(data, **kwargs):
        validated.append(data["result"]["message_id"])
        return validate(data, **kwargs)

    monkeypatch.setattr(response_type(method), "model_validate", counting)

    def answer(message_id, date: int = 100, **more) -> Message:
        result = {"message_id": message_id, "from": me, "chat": {"id": 5, "type": "private", "first_name": "A"},
                  "date": date, "text": f"Сәлем {message_id}", "entities": [{"type": "bold", "offset": 0, "length": 5}],
                  "reply_markup": sent, **more}
        raw = orjson.dumps({"ok": True, "result": result})
        read = session.check_response(bot, method, 200, raw, sent_keyboard=sent).result
        alone = Message.model_validate({**orjson.loads(raw)["result"], "reply_markup": keyboard},  # as sent
                                       context={"bot": bot})
        assert read == alone and read.model_dump() == alone.model_dump()
        assert read.model_fields_set == alone.model_fields_set and read.model_extra == alone.model_extra
        assert read.bot is bot and type(read.date) is type(alone.date) and read.date.tzinfo == alone.date.tzinfo
        return read

    first = answer(1)  # validated: its sender, chat, entity, date and shape kept
    second = answer(2)
    assert validated == [1] and second.reply_markup is keyboard and second.chat is first.chat
    answer(4, date=101)  # another second
    answer(5, date=101)
    answer(6, date=101, edit_date=102)  # another shape
    answer(7, date=101, link_preview_options={"is_disabled": True})  # a field read only by validating
    answer("8", date=101)  # an id of another type
    answer(9, date=101, edit_date=102)
    assert validated == [1, 4, 6, 7, "8"]


async def test_a_true_answer_is_taken_without_reading_it(monkeypatch):
    """A method returning True, answered ``{"ok":true,"result":true}``, is True without a model; any other
    answer is read as before (the errors of such a method too: tested with the exchange above)."""
    async with running_fake() as fake:
        fake.user(CHAT, "Aigerim", language_code="kk")
        bot = _bot_on(fake)
        read: list[str] = []
        check = bot.session.check_response

        def counting(*args, **kwargs):
            read.append(type(kwargs["method"]).__name__)
            return check(*args, **kwargs)

        monkeypatch.setattr(bot.session, "check_response", counting)
        try:
            assert await bot.send_chat_action(CHAT, "typing") is True
            assert read == []
            sent = await bot.send_message(CHAT, "one")
            assert await bot.delete_message(CHAT, sent.message_id) is True
            assert read == ["SendMessage"]
        finally:
            await bot.session.close()


async def test_the_one_request_middleware_is_called_as_it_is(monkeypatch):
    """With the one middleware the bot registers, no chain is built per request; the timeout still reaches
    make_request, and with more middlewares aiogram's chain runs them in order."""
    from aiogram.methods import SendChatAction

    session = JsonBodySession()
    bot = Bot(token="42:test", session=session)
    timeouts: list[int | None] = []
    seen: list[str] = []

    async def make_request(bot, method, timeout=None):
        timeouts.append(timeout)
        return True

    def layer(name: str):
        async def middleware(make_request, bot, method):
            seen.append(name)
            return await make_request(bot, method)
        return middleware

    def no_chain(*args, **kwargs):
        raise AssertionError("a chain was built")

    monkeypatch.setattr(session, "make_request", make_request)
    session.middleware(layer("outer"))
    monkeypatch.setattr(session.middleware, "wrap_middlewares", no_chain)
    action = SendChatAction(chat_id=5, action="typing")
    assert await bot(action) is True and await bot(action, request_timeout=7) is True
    assert timeouts == [None, 7] and seen == ["outer", "outer"]
    monkeypatch.undo()
    monkeypatch.setattr(session, "make_request", make_request)
    session.middleware(layer("inner"))
    assert await bot(action, request_timeout=3) is True
    assert timeouts[-1] == 3 and seen[-2:] == ["outer", "inner"]


def test_the_url_and_the_defaults_follow_the_bot_and_the_server():
    """What the session prepares once (a method's URL, the bot's defaults as sent) is per bot and server."""
    session = JsonBodySession()
    html = Bot(token="42:test", session=session, default=DefaultBotProperties(parse_mode="HTML"))
    markdown = Bot(token="43:test", session=session, default=DefaultBotProperties(parse_mode="MarkdownV2"))
    method = SendMessage(chat_id=5, text="hi")
    assert orjson.loads(session.json_body(html, method))["parse_mode"] == "HTML"
    assert orjson.loads(session.json_body(markdown, method))["parse_mode"] == "MarkdownV2"
    assert str(session._url(html, method)) == "https://api.telegram.org/bot42:test/sendMessage"
    assert str(session._url(markdown, method)) == "https://api.telegram.org/bot43:test/sendMessage"
    session.api = TelegramAPIServer.from_base("http://127.0.0.1:8081")
    assert str(session._url(html, method)) == "http://127.0.0.1:8081/bot42:test/sendMessage"


def _aiograms_body(session: JsonBodySession, bot: Bot, method) -> dict | None:
    """The parameters as aiogram's own session prepares them (its form, before encoding), None with a file."""
    files: dict = {}
    body = {}
    for key, value in method.model_dump(warnings=False).items():
        prepared = session.prepare_value(value, bot=bot, files=files, _dumps_json=False)
        if prepared is not None and prepared != "":
            body[key] = prepared
    return None if files else body


def test_the_json_body_holds_what_aiograms_form_would():
    from datetime import datetime, timedelta, timezone

    from aiogram.enums import ChatAction, ParseMode
    from aiogram.methods import (
        AnswerCallbackQuery,
        BanChatMember,
        CopyMessage,
        CreateChatInviteLink,
        DeleteMessage,
        EditMessageReplyMarkup,
        EditMessageText,
        SendChatAction,
        SendDocument,
        SendMediaGroup,
        SetMyCommands,
    )
    from aiogram.types import (
        ForceReply,
        InputMediaDocument,
        LinkPreviewOptions,
        ReplyKeyboardRemove,
        ReplyParameters,
    )

    session = JsonBodySession()
    bot = Bot(token="42:test", session=session,
              default=DefaultBotProperties(parse_mode="HTML", link_preview_is_disabled=True, protect_content=False))
    inline = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Жеке тұлға", callback_data="cw:a:1:x"),
                                                    InlineKeyboardButton(text="Сайт", url="https://egov.kz")]])
    from aiogram.types import CallbackGame, CopyTextButton, LoginUrl, SwitchInlineQueryChosenChat, WebAppInfo

    every_button = InlineKeyboardMarkup(inline_keyboard=[  # an inline keyboard goes by pydantic's dump: each kind
        [InlineKeyboardButton(text="w", web_app=WebAppInfo(url="https://egov.kz")),
         InlineKeyboardButton(text="l", login_url=LoginUrl(url="https://egov.kz", request_write_access=False))],
        [InlineKeyboardButton(text="c", copy_text=CopyTextButton(text="KZ12")),
         InlineKeyboardButton(text="g", callback_game=CallbackGame()), InlineKeyboardButton(text="p", pay=True)],
        [InlineKeyboardButton(text="s", switch_inline_query_chosen_chat=SwitchInlineQueryChosenChat(
            query="q", allow_user_chats=True)), InlineKeyboardButton(text="i", switch_inline_query="",
                                                                     icon_custom_emoji_id="5368324170671202286")],
    ])
    methods = [
        SendMessage(chat_id=5, text="<b>hi</b>", reply_markup=inline),
        SendMessage(chat_id=5, text="every button", reply_markup=every_button),
        SendMessage(chat_id=-100, text="", message_thread_id=7, disable_notification=False, parse_mode=None),
        SendMessage(chat_id=5, text="x", parse_mode=ParseMode.MARKDOWN_V2, reply_markup=ReplyKeyboardRemove(),
                    link_preview_options=LinkPreviewOptions(url="https://egov.kz", prefer_small_media=True),
                    reply_parameters=ReplyParameters(message_id=3, allow_sending_without_reply=True)),
        SendMessage(chat_id="@channel", text="y", reply_markup=ForceReply(input_field_placeholder="Аты"),
                    entities=[MessageEntity(type="bold", offset=0, length=1)], extra_field={"a": [1, None]}),
        SendMessage(chat_id=5, text="menu", reply_markup=ReplyKeyboardMarkup(
            keyboard=[[KeyboardButton(text="📝"), KeyboardButton(text="❓")]], resize_keyboard=True)),
        EditMessageText(chat_id=5, message_id=3, text="e", reply_markup=inline),
        EditMessageReplyMarkup(chat_id=5, message_id=3, reply_markup=None),
        AnswerCallbackQuery(callback_query_id="77", text="ok", show_alert=False, cache_time=0),
        DeleteMessage(chat_id=5, message_id=3),
        SendChatAction(chat_id=5, action=ChatAction.TYPING),
        CopyMessage(chat_id=-100, from_chat_id=5, message_id=3, caption="c"),
        SetMyCommands(commands=[BotCommand(command="start", description="Бастау")], language_code="kk"),
        BanChatMember(chat_id=-100, user_id=5, until_date=datetime(2027, 1, 1, tzinfo=timezone.utc)),
        CreateChatInviteLink(chat_id=-100, expire_date=timedelta(days=1), member_limit=3),
        SendMediaGroup(chat_id=5, media=[InputMediaDocument(media="file-id-1"), InputMediaDocument(media="file-id-2")]),
        SendDocument(chat_id=5, document=BufferedInputFile(b"x", filename="a"), caption="d"),
    ]
    for method in methods:
        body = session.json_body(bot, method)
        expected = _aiograms_body(session, bot, method)
        if expected is None:
            assert body is None, method
        else:
            assert body is not None and orjson.loads(body) == orjson.loads(orjson.dumps(expected)), method


# ------------------------------------------------------------------------------- the bot's request middleware

async def test_the_bots_requests_wait_for_the_commit_keep_the_limits_and_wait_out_a_429(tmp_path):
    """make_bot's one middleware (bot.services.sender.OutgoingPolicy) does what the four did: a request leaves
    only once the step it answers is on disk, a text too long is cut instead of refused, a 429 is waited out
    and the same message sent again; a getUpdates passes."""
    import sqlite3

    from aiogram.fsm.storage.base import StorageKey

    from bot.app import make_bot
    from bot.config import load_settings
    from storage.db import Database
    from storage.fsm import SQLiteStorage

    path = tmp_path / "bot.sqlite3"
    await (await Database.open(path)).close()
    storage = await SQLiteStorage.open(path)
    rows_seen: list[int] = []

    class Watching(JsonBodySession):
        async def make_request(self, bot, method, timeout=None):
            with sqlite3.connect(path) as disk:
                rows_seen.append(disk.execute("SELECT count(*) FROM fsm").fetchone()[0])
            return await super().make_request(bot, method, timeout)

    async with running_fake() as fake:
        fake.user(CHAT, "Aigerim", language_code="kk")
        settings = load_settings(_env_file=None, bot_token=fake.token, database_path=path)
        bot, _retry = make_bot(settings, Watching(api=TelegramAPIServer.from_base(fake.base_url)), storage)
        try:
            for n in range(1, 4):
                await storage.set_state(StorageKey(bot_id=bot.id, chat_id=CHAT + n, user_id=CHAT + n), "Wizard:x")
                await bot.send_message(CHAT, f"step {n}")
            assert rows_seen == [1, 2, 3]  # each request saw its step committed
            await bot.send_message(CHAT, "Ә" * 5000)
            assert len(fake.last_message(CHAT).plain_text) <= 4096 and fake.last_message(CHAT).plain_text.endswith("…")
            fake.fail_next("sendMessage", chat_id=CHAT, error_code=429, retry_after=1)
            sent = await bot.send_message(CHAT, "after a 429")
            assert sent.text == "after a 429"
            assert [c.status for c in fake.calls_of("sendMessage", chat_id=CHAT)][-2:] == [429, 200]
            assert await bot.get_updates(timeout=0) == []
        finally:
            await bot.session.close()
            await storage.close()
