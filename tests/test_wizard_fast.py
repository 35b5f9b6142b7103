"""The wizard's fast paths (handlers/complaint/keyboards.py, flow.py, callbacks.py, handlers/buttons.py): a
step's keyboard built from label templates kept per locale is the one aiogram would validate, in the update's
language (also right after a language switch); Turn.send's copied sendMessage is the request Bot.send_message
makes, ack's answerCallbackQuery the one query.answer() makes; a press's data unpacks to what WizCb.unpack
gives, or fails as it does."""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import Any

import pytest
from aiogram import Bot
from aiogram.methods import SendMessage
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, User

from bot.domain.complaint import Complaint
from bot.services.i18n import build_i18n
from bot.session import JsonBodySession
from handlers.buttons import ack
from handlers.complaint import keyboards
from handlers.complaint.callbacks import WizAction, WizCb, pack, unpack
from handlers.complaint.callbacks import WizAction as A
from handlers.complaint.flow import Turn
from handlers.complaint.keyboards import nav_rows, step_keyboard
from handlers.complaint.steps import ORDER, choice_button
from tests.backends import running_bot
from tests.test_wizard import Walker, individual_kk, tr, wiz_buttons

I18N = build_i18n("ru")
TODAY = date(2026, 3, 18)
NAV = {A.BACK: "⬅️ Back", A.SKIP: "⏭ Skip", A.CANCEL: "✖️ Cancel"}


def validated(markup: InlineKeyboardMarkup) -> InlineKeyboardMarkup:
    """The markup as aiogram validates it from its parts."""
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=b.text, callback_data=b.callback_data) for b in row]
        for row in markup.inline_keyboard])


def labels(markup: InlineKeyboardMarkup, step: str, lang: str) -> list[tuple[str, str]]:
    """(text, what the text should be in ``lang``) of every button whose label is a kept template."""
    out = []
    for row in markup.inline_keyboard:
        for b in row:
            cb = WizCb.unpack(b.callback_data)
            if cb.a in NAV:
                out.append((b.text, tr(NAV[cb.a], lang)))
            elif cb.a == A.CHOICE:
                with I18N.use_locale(lang):
                    out.append((b.text, choice_button(step, cb.v)))
    return out


@pytest.fixture
def fresh_labels(monkeypatch):
    monkeypatch.setattr(keyboards, "_NAV", {})
    monkeypatch.setattr(keyboards, "_CHOICES", {})


def test_step_keyboards_are_what_aiogram_validates_in_the_update_s_language(fresh_labels):
    draft = Complaint(consent=True, created=TODAY, language="kk", surname="Әлиханқызы")
    with I18N.context():
        for lang in ("kk", "ru", "kk"):  # back and forth: a kept label is never the other language's
            with I18N.use_locale(lang):
                for n, step in enumerate([s for s in ORDER if s not in ("decision_date", "learned_date")]):
                    for editing in (False, True):
                        markup = step_keyboard(draft, step, "Xy3_k-", n, today=TODAY, lang=lang, editing=editing)
                        assert markup == validated(markup)
                        assert markup.model_dump(exclude_none=True) == validated(markup).model_dump(exclude_none=True)
                        assert all(text == expected for text, expected in labels(markup, step, lang)), (lang, step)
                        assert all(WizCb.unpack(b.callback_data).n == n for row in markup.inline_keyboard for b in row)
    assert set(keyboards._NAV) == {"kk", "ru"}


def test_kept_labels_are_bounded_and_never_shared_between_prompts(fresh_labels, monkeypatch):
    monkeypatch.setattr(keyboards, "LOCALES_KEPT", 1)
    with I18N.context():
        with I18N.use_locale("kk"):
            kk = nav_rows("abcdef", 3, back=True, skip=True)
        with I18N.use_locale("ru"):
            ru = nav_rows("abcdef", 4, back=True, skip=True)
    assert list(keyboards._NAV) == ["ru"]  # the Kazakh ones dropped when the Russian ones came
    assert [b.text for row in kk for b in row] == [tr(NAV[a], "kk") for a in (A.BACK, A.SKIP, A.CANCEL)]
    assert [b.text for row in ru for b in row] == [tr(NAV[a], "ru") for a in (A.BACK, A.SKIP, A.CANCEL)]
    assert kk[0][0] is not ru[0][0] and kk[0][0].callback_data == "cw:abcdef:3:bk:"


async def test_language_switch_shows_the_step_s_buttons_in_the_new_language(fake, db_path, no_unhandled):
    user = fake.user(514, "Айгерім", language_code="kk")
    answers = individual_kk()
    async with running_bot(fake, db_path):
        w = Walker(fake, db_path, user)
        await w.begin()
        await w.walk(answers, until="applicant_kind")
        texts = {cb.a: b["text"] for cb, b in wiz_buttons(w.prompt)}
        assert texts[A.BACK] == tr(NAV[A.BACK], "kk") and texts[A.CANCEL] == tr(NAV[A.CANCEL], "kk")
        await user.send("/language")
        await user.expect()
        await user.press("Русский")
        again = await w.next_prompt()
        texts = {(cb.a, cb.v): b["text"] for cb, b in wiz_buttons(again)}
        assert texts[(A.BACK, "")] == tr(NAV[A.BACK], "ru") and texts[(A.CANCEL, "")] == tr(NAV[A.CANCEL], "ru")
        with I18N.context(), I18N.use_locale("ru"):
            assert texts[(A.CHOICE, "individual")] == choice_button("applicant_kind", "individual")
        await w.answer(answers["applicant_kind"])  # the Russian button works
        assert await w.step() == "surname"


class Recorder(Bot):
    """A bot that keeps the requests it is asked to make."""

    def __init__(self) -> None:
        super().__init__("42:TEST")
        self.made: list[Any] = []

    async def __call__(self, method, request_timeout=None):  # type: ignore[override]
        self.made.append(method)


async def test_turn_send_makes_the_request_bot_send_message_makes():
    bot = Recorder()
    turn = Turn(bot, 777, None, TODAY, "ru", None, None)  # type: ignore[arg-type]  # send needs only these
    markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="cw:a:1:bk:")]])
    for kwargs in ({}, {"reply_markup": markup}, {"reply_markup": None}):
        await turn.send("<b>Шаг</b> 3", **kwargs)
        await bot.send_message(777, "<b>Шаг</b> 3", **kwargs)
        ours, aiograms = bot.made[-2:]
        assert isinstance(ours, SendMessage) and ours == aiograms
        assert list(ours.__dict__) == list(aiograms.__dict__)  # the same fields in the same order
        session = JsonBodySession()
        assert session.json_body(bot, ours) == session.json_body(bot, aiograms)
        await session.close()
    await bot.session.close()


async def test_ack_makes_the_request_query_answer_makes():
    bot = Recorder()
    query = CallbackQuery(id="4382bfdwdsb323b2d9", from_user=User(id=9, is_bot=False, first_name="A"),
                          chat_instance="1", data="cw:abcdef:3:bk:").as_(bot)
    await ack(query)
    await asyncio.sleep(0)  # the answer's own task makes its request
    await query.answer()
    ours, aiograms = bot.made
    assert ours == aiograms and list(ours.__dict__) == list(aiograms.__dict__)
    session = JsonBodySession()
    assert session.json_body(bot, ours) == session.json_body(bot, aiograms)
    await session.close()
    await bot.session.close()


def unpacked(data: str) -> WizCb | str:
    try:
        return WizCb.unpack(data)
    except (TypeError, ValueError) as exc:
        return type(exc).__name__


def test_unpack_gives_what_wizcb_unpack_gives():
    datas = [pack(t, n, a, v) for a in WizAction for t, n, v in (("Xy3_k-", 7, ""), ("abcdef", 0, "individual"),
                                                                 ("A1b2C3", 123456789, "20250315"), ("", 1, ""))]
    forged = ["cw", "cw:", "cw:abcdef:7:ch", "cw:abcdef:7:ch:x:y", "cx:abcdef:7:ch:x", "cw:abcdef:x:ch:",
              "cw:abcdef::ch:", "cw:abcdef:007:ch:", "cw:abcdef:+7:ch:", "cw:abcdef: 7:ch:", "cw:abcdef:٣:ch:",
              "cw:abcdef:²:ch:", "cw:abcdef:1234567890:ch:", "cw:abcdef:7:zz:", "cw:abcdef:7:CH:", ""]
    for data in datas + forged:
        try:
            ours: WizCb | str = unpack(data)
        except (TypeError, ValueError) as exc:
            ours = type(exc).__name__
        expected = unpacked(data)
        assert ours == expected, data
        if isinstance(ours, WizCb):
            assert type(ours.a) is WizAction and type(ours.n) is int and ours.pack() == expected.pack()  # type: ignore[union-attr]


async def test_the_next_question_does_not_wait_for_the_press_to_be_answered(fake, db_path, no_unhandled):
    """ack (handlers/buttons.py): the press's answer is on its way before the next question, and the next
    question does not wait for Telegram's reply to it (one round trip less for every wizard button)."""
    user = fake.user(516, "Айгерім", language_code="kk")
    async with running_bot(fake, db_path):
        walker = Walker(fake, db_path, user)
        await walker.begin()
        held = fake.hold("answerCallbackQuery")
        query_id = await walker.press("ch", "unjustified_refusal")  # the next prompt came while the answer waits
        assert fake.held_calls == 1 and await walker.step() == "recipient_kind"
        held.set()
        assert (await user.answered_callback(query_id)) is not None
        methods = [c.method for c in fake.calls if c.method in ("answerCallbackQuery", "sendMessage")]
        assert sorted(methods[-2:]) == ["answerCallbackQuery", "sendMessage"]  # one answer, one question


async def test_a_press_whose_answer_fails_still_takes_the_step(fake, db_path, no_unhandled, caplog):
    """The step does not depend on the answer: a refused answer is logged (no apology, no second answer)."""
    caplog.set_level(logging.WARNING, logger="handlers.buttons")
    user = fake.user(517, "Айгерім", language_code="kk")
    async with running_bot(fake, db_path):
        walker = Walker(fake, db_path, user)
        await walker.begin()
        fake.fail_next("answerCallbackQuery", error_code=400,
                       description="Bad Request: query is too old and response timeout expired or query ID is invalid")
        await walker.press("ch", "unjustified_refusal")
        assert await walker.step() == "recipient_kind"
    assert "could not answer the callback query: TelegramBadRequest" in caplog.text
    answers = [c for c in fake.calls if c.method == "answerCallbackQuery"]
    assert [c.status for c in answers[-1:]] == [400]  # answered once, and not again by the error handler
