"""bot/session.py: the bot's Bot API session sends what aiogram's own session sends, as one JSON body (a file
still as a multipart form), and reads the answers the same way."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
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
