"""Self-tests of tests/fakeapi.py against the real aiogram (over loopback HTTP)."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
)
from aiogram.filters import Command, CommandStart
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQuery,
    InlineQueryResultArticle,
    InputTextMessageContent,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from tests.fakeapi import (
    ButtonNotFound,
    forbid_external_network,
    polling,
    running_fake,
)


@pytest.fixture(autouse=True)
def _no_external_network():
    with forbid_external_network():
        yield


def echo_router() -> Router:
    r = Router()

    @r.message(CommandStart())
    async def start(m: Message) -> None:
        await m.answer(
            "<b>Привет!</b> Choose:",
            parse_mode="HTML",
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[[
                InlineKeyboardButton(text="Yes ✅", callback_data="pick:yes"),
                InlineKeyboardButton(text="No", callback_data="pick:no"),
            ], [InlineKeyboardButton(text="Site", url="https://example.org")]]),
        )

    @r.message(Command("menu"))
    async def menu(m: Message) -> None:
        await m.answer("Menu:", reply_markup=ReplyKeyboardMarkup(keyboard=[
            [KeyboardButton(text="Help"), KeyboardButton(text="Share phone", request_contact=True)],
        ], resize_keyboard=True))

    @r.message(Command("hide"))
    async def hide(m: Message) -> None:
        await m.answer("hidden", reply_markup=ReplyKeyboardRemove())

    @r.message(F.contact)
    async def contact(m: Message) -> None:
        own = m.contact.user_id == m.from_user.id
        await m.answer(f"phone {m.contact.phone_number} own={own}")

    @r.message(F.document)
    async def doc(m: Message, bot: Bot) -> None:
        data = await bot.download(m.document)
        await m.reply(f"got {m.document.file_name} {len(data.getvalue())} bytes")

    @r.message(Command("doc"))
    async def send_doc(m: Message) -> None:
        await m.answer_document(BufferedInputFile(b"%PDF-1.4 fake", filename="report.pdf"),
                                caption="Your report")

    @r.message(F.text)
    async def echo(m: Message) -> None:
        await m.answer(f"echo: {m.text}")

    @r.callback_query(F.data.startswith("pick:"))
    async def pick(c: CallbackQuery) -> None:
        choice = c.data.split(":")[1]
        await c.answer(f"chosen {choice}", show_alert=choice == "no")
        await c.message.edit_text(f"You chose {choice}")

    @r.inline_query()
    async def inline(q: InlineQuery) -> None:
        await q.answer([InlineQueryResultArticle(
            id="1", title=q.query.upper(),
            input_message_content=InputTextMessageContent(message_text=q.query))], cache_time=1)

    return r


def make_dp() -> Dispatcher:
    dp = Dispatcher()
    dp.include_router(echo_router())
    return dp


async def test_echo_inline_and_reply_keyboards():
    async with running_fake() as fake:
        bot = fake.make_bot()
        async with polling(make_dp(), bot, fake=fake):
            user = fake.user(1001, "Aigerim", language_code="kk")
            await user.send("/start")
            msg = await user.expect()
            assert msg.text == "<b>Привет!</b> Choose:"
            assert msg.plain_text == "Привет! Choose:"
            assert msg.keyboard_type == "inline"
            assert msg.buttons == ["Yes ✅", "No", "Site"]
            assert msg.callback_data("Yes") == "pick:yes"  # unique substring

            qid = await user.press("Yes")  # substring of "Yes ✅"
            answer = await user.answered_callback(qid)
            assert answer["text"] == "chosen yes" and not answer.get("show_alert")
            edited = await user.expect_edit(msg)
            assert edited is msg and msg.text == "You chose yes"
            assert msg.reply_markup is None  # edit without reply_markup drops the keyboard
            assert msg.text_history == ["<b>Привет!</b> Choose:", "You chose yes"]
            assert fake.calls_of("answerCallbackQuery", callback_query_id=qid)

            await user.send("hello")
            assert (await user.expect()).text == "echo: hello"

            await user.send("/menu")
            menu = await user.expect()
            assert menu.keyboard_type == "reply" and menu.buttons == ["Help", "Share phone"]
            assert "reply_markup" not in menu.to_json()  # Telegram never echoes reply keyboards
            sent = await user.press("Help")
            assert sent["text"] == "Help"
            assert (await user.expect()).text == "echo: Help"
            await user.press("Share phone")
            assert (await user.expect()).text == f"phone {user.phone} own=True"

            await user.send("/hide")
            await user.expect_text("hidden")
            with pytest.raises(ButtonNotFound):
                await user.press("Help")  # reply keyboard was removed

            await user.send("/start")
            second = await user.expect()
            assert await user.press("Site", second) == "https://example.org"
            qid2 = await user.press("No")  # newest inline keyboard wins
            assert (await user.answered_callback(qid2))["show_alert"] is True

            qid3 = await user.inline_query("abc")
            await fake.idle()
            assert fake.inline_answers[qid3]["results"][0]["title"] == "ABC"
            await user.expect_no_message(0.05)
        assert fake.calls_of("getMe")


async def test_long_polling_offset_semantics_and_order():
    async with running_fake() as fake:
        seen: list[str] = []
        dp = Dispatcher()

        @dp.message()
        async def collect(m: Message) -> None:
            seen.append(m.text)

        bot = fake.make_bot()
        user = fake.user(7, "U")
        for i in range(5):  # queued before the bot starts
            await user.send(f"early {i}")
        async with polling(dp, bot, fake=fake, handle_as_tasks=False):
            for i in range(120):  # more than one getUpdates batch (limit 100)
                await user.send(f"m {i}")
            await fake.idle()
        assert seen == [f"early {i}" for i in range(5)] + [f"m {i}" for i in range(120)]
        offsets = [c.params.get("offset") for c in fake.calls_of("getUpdates")]
        numeric = [o for o in offsets if o is not None]
        assert numeric == sorted(numeric)
        # every update was delivered exactly once in the responses
        delivered = [u["update_id"] for c in fake.calls_of("getUpdates")
                     if c.response for u in c.response["result"]]
        assert len(delivered) == len(set(delivered)) == 125
        assert fake.calls_of("getUpdates")[0].params["timeout"] == 1


async def test_get_updates_raw_long_poll_wakeup_offset_limit():
    async with running_fake() as fake:
        url = f"{fake.base_url}/bot{fake.token}/GETUPDATES"  # case-insensitive
        user = fake.user(5)
        async with aiohttp.ClientSession() as s:
            async def get(**params):
                async with s.post(url, data={k: str(v) for k, v in params.items()}) as r:
                    return await r.json()

            t0 = time.monotonic()
            task = asyncio.create_task(get(timeout=5))
            await asyncio.sleep(0.1)
            await user.send("wake")
            res = await task
            assert time.monotonic() - t0 < 1.0  # woke up on push, did not wait 5 s
            assert [u["message"]["text"] for u in res["result"]] == ["wake"]
            first = res["result"][0]["update_id"]
            for i in range(3):
                await user.send(f"x{i}")
            # not confirmed yet: same update comes again
            res = await get(offset=first, limit=2, timeout=0)
            assert [u["update_id"] for u in res["result"]] == [first, first + 1]
            res = await get(offset=first + 2, timeout=0)
            assert [u["message"]["text"] for u in res["result"]] == ["x1", "x2"]
            res = await get(offset=first + 4, timeout=0)
            assert res == {"ok": True, "result": []}
            t0 = time.monotonic()
            res = await get(offset=first + 4, timeout=0.3)
            assert res["result"] == [] and time.monotonic() - t0 >= 0.25
            # a second concurrent poller terminates the first one with 409 like Telegram
            older = asyncio.create_task(get(offset=first + 4, timeout=5))
            await asyncio.sleep(0.05)
            newer = asyncio.create_task(get(offset=first + 4, timeout=0.2))
            assert (await older)["error_code"] == 409
            assert (await newer)["result"] == []


async def test_document_round_trip_both_directions():
    async with running_fake() as fake:
        bot = fake.make_bot()
        async with polling(make_dp(), bot, fake=fake):
            user = fake.user(42, "Doc")
            await user.send("/doc")
            msg = await user.expect()
            assert msg.kind == "document" and msg.caption == "Your report"
            assert msg.content == b"%PDF-1.4 fake" and msg.filename == "report.pdf"
            # the bot can fetch back what it sent via getFile + download
            data = await bot.download(msg.file_id)
            assert data.getvalue() == b"%PDF-1.4 fake"
            call = fake.calls_of("sendDocument")[0]
            assert call.files["document"].filename == "report.pdf"

            user_msg = await user.send_document("complaint.docx", b"x" * 1234, caption="see")
            reply = await user.expect()
            assert reply.text == "got complaint.docx 1234 bytes"
            assert reply.reply_to_message_id == user_msg["message_id"]
            assert reply.to_json()["reply_to_message"]["document"]["file_name"] == "complaint.docx"


async def test_fail_next_429_and_403_and_block():
    async with running_fake() as fake:
        fake.user(10)
        async with fake.make_bot() as bot:
            fake.fail_next("sendMessage", retry_after=3)
            with pytest.raises(TelegramRetryAfter) as ei:
                await bot.send_message(10, "a")
            assert ei.value.retry_after == 3
            assert fake.calls[-1].response == {
                "ok": False, "error_code": 429, "description": "Too Many Requests: retry after 3",
                "parameters": {"retry_after": 3},
            }
            await bot.send_message(10, "b")  # only the next call failed

            fake.fail_next("sendmessage", chat_id=10, error_code=403, times=2)
            for _ in range(2):
                with pytest.raises(TelegramForbiddenError, match="blocked by the user"):
                    await bot.send_message(10, "c")
            await bot.send_message(10, "d")

            fake.block(10)
            with pytest.raises(TelegramForbiddenError):
                await bot.send_message(10, "e")
            with pytest.raises(TelegramForbiddenError):
                await bot.send_document(10, BufferedInputFile(b"1", "a.txt"))
            fake.unblock(10)
            await bot.send_message(10, "f")
            assert [m.text for m in fake.messages_in(10)] == ["b", "d", "f"]
            assert fake.count_429 == 1


async def test_unknown_method_fails_loudly():
    with pytest.raises(AssertionError, match="sendPoll"):
        async with running_fake() as fake:
            fake.user(10)
            async with fake.make_bot() as bot:
                with pytest.raises(TelegramNotFound):
                    await bot.send_poll(10, "q?", options=["a", "b"])
            assert fake.unknown_methods == ["sendPoll"]


async def test_commands_per_language_and_scope():
    async with running_fake() as fake:
        fake.group(-100500, "Ops")
        async with fake.make_bot() as bot:
            await bot.set_my_commands([BotCommand(command="start", description="Бастау")],
                                      language_code="kk")
            await bot.set_my_commands([BotCommand(command="start", description="Начать"),
                                       BotCommand(command="help", description="Помощь")],
                                      language_code="ru")
            await bot.set_my_commands([BotCommand(command="queue", description="Queue")],
                                      scope=BotCommandScopeChat(chat_id=-100500))
            assert fake.commands_for("kk") == [{"command": "start", "description": "Бастау"}]
            assert [c["command"] for c in fake.commands_for("ru")] == ["start", "help"]
            assert fake.commands_for("") is None
            assert fake.commands_for(scope={"type": "chat", "chat_id": -100500})[0]["command"] == "queue"
            got = await bot.get_my_commands(language_code="ru")
            assert [c.command for c in got] == ["start", "help"]
            await bot.delete_my_commands(language_code="ru")
            assert fake.commands_for("ru") is None


async def test_chat_members_forum_topics_and_operator_group():
    async with running_fake() as fake:
        ops = fake.group(-1001, "Operators", is_forum=True)
        op = fake.user(500, "Operator")
        ops.set_member(500, "administrator").set_member(501, "member").set_member(502, "kicked")
        async with fake.make_bot() as bot:
            assert (await bot.get_chat_member(-1001, 500)).status == "administrator"
            assert (await bot.get_chat_member(-1001, 501)).status == "member"
            assert (await bot.get_chat_member(-1001, 502)).status == "kicked"
            assert (await bot.get_chat_member(-1001, 999)).status == "left"
            admins = await bot.get_chat_administrators(-1001)
            assert {a.user.id for a in admins} == {500, fake.bot_id}
            chat = await bot.get_chat(-1001)
            assert chat.is_forum and chat.title == "Operators"
            with pytest.raises(TelegramBadRequest, match="chat not found"):
                await bot.send_message(-999, "x")

            topic = await bot.create_forum_topic(-1001, "Complaint #1")
            assert ops.topic("Complaint #1") == topic.message_thread_id
            card = await bot.send_message(-1001, "New complaint", message_thread_id=topic.message_thread_id)
            assert card.is_topic_message
            await bot.edit_forum_topic(-1001, topic.message_thread_id, name="Complaint #1 ✅")
            await bot.close_forum_topic(-1001, topic.message_thread_id)
            assert ops.topics[topic.message_thread_id]["closed"]
            with pytest.raises(TelegramBadRequest, match="thread not found"):
                await bot.send_message(-1001, "x", message_thread_id=9999)

            bm = fake.get_message(-1001, card.message_id)
            posted = await op.reply(bm, "Answer to citizen")
            assert posted["message_thread_id"] == topic.message_thread_id
            assert posted["reply_to_message"]["message_id"] == card.message_id
            assert posted["chat"]["id"] == -1001
            await bot.copy_message(op.id, -1001, posted["message_id"])
            assert op.last.text == "Answer to citizen" and op.last.copied_from == (-1001, posted["message_id"])


async def test_edit_and_parse_validation():
    async with running_fake() as fake:
        fake.user(3)
        async with fake.make_bot() as bot:
            kb = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="a", callback_data="a")]])
            m = await bot.send_message(3, "one", reply_markup=kb)
            with pytest.raises(TelegramBadRequest, match="not modified"):
                await bot.edit_message_text("one", chat_id=3, message_id=m.message_id, reply_markup=kb)
            await bot.edit_message_reply_markup(chat_id=3, message_id=m.message_id, reply_markup=None)
            assert fake.get_message(3, m.message_id).reply_markup is None
            with pytest.raises(TelegramBadRequest, match="can't parse entities"):
                await bot.send_message(3, "1 < 2 <oops>", parse_mode="HTML")
            with pytest.raises(TelegramBadRequest, match="too long"):
                await bot.send_message(3, "x" * 4097)
            with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
                await bot.send_message(3, "k", reply_markup=InlineKeyboardMarkup(inline_keyboard=[[
                    InlineKeyboardButton(text="b", callback_data="x" * 65)]]))
            with pytest.raises(TelegramBadRequest, match="to be replied not found"):
                await bot.send_message(3, "r", reply_to_message_id=777)
            assert await bot.delete_message(3, m.message_id)
            with pytest.raises(TelegramBadRequest, match="to delete not found"):
                await bot.delete_message(3, m.message_id)
            assert await bot.send_chat_action(3, "typing")


async def test_rate_limiter_global_and_per_chat():
    async with running_fake(rate_limit_per_second=5) as fake:
        fake.user(1)
        fake.user(2)
        async with fake.make_bot() as bot:
            for i in range(5):
                await bot.send_message(1 + i % 2, f"m{i}")
            with pytest.raises(TelegramRetryAfter) as ei:
                await bot.send_message(1, "too many")
            assert ei.value.retry_after == 1
            assert fake.count_429 == 1
            assert len(fake.bot_messages) == 5

    async with running_fake(per_chat_limit=True) as fake:
        fake.user(1)
        fake.user(2)
        async with fake.make_bot() as bot:
            await bot.send_message(1, "a")
            await bot.send_message(2, "a")  # other chat is fine
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(1, "b")
            assert fake.count_429 == 1


async def test_idle_and_unconsumed_cursor():
    async with running_fake() as fake:
        dp = Dispatcher()

        @dp.message()
        async def slow(m: Message) -> None:
            await asyncio.sleep(0.05)
            await m.answer("1")
            await m.answer("2")

        bot = fake.make_bot()
        async with polling(dp, bot, fake=fake):
            u = fake.user(11)
            await u.send("go")
            await fake.idle()
            assert [m.text for m in u.messages] == ["1", "2"]
            assert (await u.expect()).text == "1"
            assert (await u.expect()).text == "2"
            with pytest.raises(AssertionError, match="no new matching bot message"):
                await u.expect(timeout=0.05)


async def test_an_app_whose_close_hangs_fails_the_test_with_the_stacks():
    """tests.harness.closed_in_time: a shutdown that never ends fails with what the tasks wait on."""
    from tests.harness import closed_in_time

    class Stuck:
        async def close(self) -> None:
            await asyncio.Event().wait()  # nobody sets it

    with pytest.raises(AssertionError, match=r"did not close within 0 s; its tasks:[\s\S]* in close\n"):
        await closed_in_time(Stuck(), seconds=0.1)

    class Closes:
        closed = False

        async def close(self) -> None:
            self.closed = True

    app = Closes()
    await closed_in_time(app, seconds=5)
    assert app.closed


async def test_a_handler_that_outlives_its_cancellation_fails_the_block_with_its_stack():
    """polling()'s exit cancels the handler tasks still running after drain_timeout; one that goes on anyway
    (it swallowed the cancellation) fails the block, naming where it waits, instead of hanging the test."""
    release = asyncio.Event()
    async with running_fake() as fake:
        dp = Dispatcher()

        @dp.message()
        async def stubborn(m: Message) -> None:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                await release.wait()  # goes on waiting: the cancellation is swallowed

        bot = fake.make_bot()
        with pytest.raises(AssertionError, match=r"1 update handler task\(s\) still running[\s\S]*in _process_update[\s\S]* in stubborn\n"):
            async with polling(dp, bot, fake=fake, drain_timeout=0.05, stuck_timeout=0.2):
                await fake.user(12).send("go")
                for _ in range(100):
                    if dp._handle_update_tasks:
                        break
                    await asyncio.sleep(0.01)
        release.set()
        await asyncio.sleep(0)
