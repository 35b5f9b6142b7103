"""Foundation, end to end through the fake Bot API over HTTP with the real dispatcher in polling mode."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message

from tests.backends import query, running_bot

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.usefixtures("both_backends")  # on SQLite and on PostgreSQL
async def test_language_from_telegram_and_bilingual_choice(fake, db_path):
    async with running_bot(fake, db_path):
        kk = fake.user(101, "Айгерім", language_code="kk")
        ru = fake.user(102, "Ольга", language_code="ru")
        en = fake.user(103, "John", language_code="en")
        await kk.send("/start")
        assert "Сәлеметсіз бе" in (await kk.expect()).text
        await ru.send("/start")
        assert "Здравствуйте" in (await ru.expect()).text
        await en.send("/start")
        prompt = await en.expect()
        assert "Тілді таңдаңыз" in prompt.text and "выберите язык" in prompt.text
        # anything else before choosing still gets the choice, not a guess
        await en.send("hello")
        assert "Тілді таңдаңыз" in (await en.expect()).text
        await en.press("Қазақша")
        welcome = await en.expect()
        assert "Сәлеметсіз бе" in welcome.text
        assert "📝 Шағым жазу" in welcome.buttons

        # /language switches at any time, and the menu follows
        await kk.send("/language")
        await kk.expect()
        await kk.press("Русский")
        switched = await kk.expect()
        assert "по-казахски" not in switched.text and "по-русски" in switched.text
        assert "📝 Написать жалобу" in switched.buttons
        await kk.send("/help")
        assert "Что я умею" in (await kk.expect()).text

    for lang, word in (("kk", "Шағым жазу"), ("ru", "Написать жалобу")):
        commands = fake.commands_for(language_code=lang)
        assert commands and {c["command"] for c in commands} >= {"start", "complaint", "my", "faq", "language"}
        assert any(word in c["description"] for c in commands)


class Form(StatesGroup):
    name = State()
    city = State()


def form_router() -> Router:
    router = Router(name="test-form")

    @router.message(Command("form"))
    async def begin(message: Message, state: FSMContext) -> None:
        await state.set_state(Form.name)
        await message.answer("name?")

    @router.message(StateFilter(Form.name), F.text)
    async def got_name(message: Message, state: FSMContext) -> None:
        await state.update_data(name=message.text)
        await state.set_state(Form.city)
        await message.answer("city?")

    @router.message(StateFilter(Form.city), F.text)
    async def got_city(message: Message, state: FSMContext) -> None:
        data = await state.get_data()
        await state.clear()
        await message.answer(f"done: {data['name']} / {message.text}")

    @router.message(Command("boom"))
    async def boom(message: Message) -> None:
        raise RuntimeError(f"cannot handle {message.text}")

    return router


@pytest.mark.usefixtures("both_backends")  # on SQLite and on PostgreSQL
async def test_restart_keeps_the_conversation_step(fake, db_path):
    user = fake.user(201, "Марат", language_code="ru")
    async with running_bot(fake, db_path, extra_routers=(form_router(),)):
        await user.send("/form")
        assert (await user.expect()).text == "name?"
        await user.send("Марат Әлиев")
        assert (await user.expect()).text == "city?"
    # a new process would build everything again from the same file: so does this
    async with running_bot(fake, db_path, extra_routers=(form_router(),)):
        await user.send("Алматы")
        assert (await user.expect()).text == "done: Марат Әлиев / Алматы"


@pytest.mark.usefixtures("both_backends")  # on SQLite and on PostgreSQL
async def test_handler_error_apologises_and_bot_keeps_running(fake, db_path, caplog):
    caplog.set_level(logging.ERROR)
    user = fake.user(301, "Дана", language_code="kk")
    async with running_bot(fake, db_path, extra_routers=(form_router(),)):
        await user.send("/boom IIN 061211600012 Aliyeva")
        apology = await user.expect()
        assert "Кешіріңіз" in apology.text
        await user.send("/help")
        assert "Мен не істей аламын" in (await user.expect()).text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError" in logged and "061211600012" not in logged and "Aliyeva" not in logged


def _run_bot(env_extra: dict, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_", "OPERATORS", "DATABASE"))}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-m", "bot"], input=stdin, capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout
    )


def test_bad_config_value_exits_with_one_clear_line(tmp_path):
    result = _run_bot({"OPERATORS_CHAT_ID": "not-a-number", "DATABASE_PATH": str(tmp_path / "x.sqlite3")})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "OPERATORS_CHAT_ID" in lines[0], result.stderr


def test_console_mode_scripted_in_both_languages(tmp_path):
    script = "/start\n/1\n/language\n/2\n/help\n"
    result = _run_bot({"BOT_TOKEN": "", "DATABASE_PATH": str(tmp_path / "console.sqlite3")}, stdin=script)
    out = result.stdout
    assert result.returncode == 0, result.stderr
    first_menu = out.index("Шағым жазу")
    assert "Тілді таңдаңыз" in out and "выберите язык" in out
    assert "Сәлеметсіз бе" in out  # chose Kazakh -> welcome in Kazakh with the menu
    assert out.index("Написать жалобу") > first_menu  # then Russian, menu in Russian
    assert "Что я умею" in out
    assert "Traceback" not in result.stderr


@pytest.mark.usefixtures("both_backends")  # on SQLite and on PostgreSQL
async def test_a_person_who_blocked_the_bot_is_no_error_and_is_marked_unreachable(fake, db_path, caplog):
    caplog.set_level(logging.INFO)
    user = fake.user(302, "Дана", language_code="kk")
    async with running_bot(fake, db_path):
        await user.send("/help")
        await user.expect()
        fake.block(302)  # blocked the bot: the answer to the next update gets a 403
        await user.send("/help")
        await fake.idle()
    errors = [r.getMessage() for r in caplog.records if r.name == "shagym.errors" and r.levelno >= logging.WARNING]
    assert errors == []  # not an "unhandled" error, and no apology tried into a closed chat
    ((unreachable_at,),) = await query(db_path, "SELECT unreachable_at FROM users WHERE id = ?", 302)
    assert unreachable_at is not None


@pytest.mark.usefixtures("both_backends")  # on SQLite and on PostgreSQL
async def test_unknown_command_points_to_help(fake, db_path, no_unhandled):
    user = fake.user(303, "Дана", language_code="kk")
    async with running_bot(fake, db_path):
        await user.send("/hepl")
        reply = await user.expect()
        assert "/help" in reply.text and "команда" in reply.text.lower()
        await user.send("/help")  # a known command is still answered by its own handler, once
        assert "Мен не істей аламын" in (await user.expect()).text
        await user.expect_no_message(0.3)


def test_console_keeps_the_step_buttons_after_an_error(tmp_path):
    # consent, grounds, recipient, its name, individual, surname, first name; then a bad patronymic is refused
    # and "/2" must still press the step's «Skip» (not the second button of the main menu)
    script = "/start\n/2\n/complaint\n/1\n/1\n/1\nЦОН\n/1\nИванов\nИван\n<b>x</b>\n/2\n"
    result = _run_bot({"BOT_TOKEN": "", "DATABASE_PATH": str(tmp_path / "console.sqlite3")}, stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    refused = out.index("Имя может содержать только буквы")
    assert "Шаг 8 из 20" in out[refused:] and "ИИН" in out[refused:]


async def test_python_m_bot_runs_long_polling_with_a_token(fake, tmp_path):
    """The real entry point, as deployed: `python -m bot` with a token and a Bot API base URL."""
    import asyncio
    import signal

    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_", "OPERATORS", "DATABASE"))}
    env.update(BOT_TOKEN=fake.token, TELEGRAM_API_BASE=fake.base_url, DATABASE_PATH=str(tmp_path / "p.sqlite3"))
    user = fake.user(901, "Асель", language_code="kk")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    try:
        await fake.wait_call("getUpdates", timeout=60)  # importing aiogram takes seconds here
        await user.send("/start")
        assert "Сәлеметсіз бе" in (await user.expect(timeout=30)).text
        assert fake.commands_for(language_code="kk") and fake.commands_for(language_code="ru")
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, stderr.decode()[-2000:]
    assert b"Traceback" not in stderr


@pytest.mark.usefixtures("both_backends")  # on SQLite and on PostgreSQL
async def test_a_direct_reply_waits_out_a_429_instead_of_being_lost(fake, db_path, no_unhandled):
    user = fake.user(902, "Ерлан", language_code="ru")
    async with running_bot(fake, db_path):
        fake.fail_next("sendMessage", chat_id=902, error_code=429, retry_after=1)
        await user.send("/help")
        assert "Что я умею" in (await user.expect(timeout=10)).text
    answers = [c for c in fake.calls_of("sendMessage", chat_id=902)]
    assert [c.status for c in answers] == [429, 200]


def test_welcome_text_is_kept_per_language_and_desk():
    """handlers.start.welcome_text keeps its text per language and desk: never another language's or the
    other desk's greeting."""
    from bot.services.i18n import build_i18n
    from handlers.common import desk_available
    from handlers.start import _build_welcome_text, welcome_text

    i18n = build_i18n("ru")
    seen = {}
    for lang, desk in (("kk", False), ("ru", False), ("kk", True), ("ru", True), ("kk", False), ("ru", True)):
        with i18n.context(), i18n.use_locale(lang), desk_available(desk):
            seen[lang, desk] = welcome_text()
            assert seen[lang, desk] == _build_welcome_text(desk)
    assert len(set(seen.values())) == 4 and "Сәлеметсіз бе" in seen["kk", False]
