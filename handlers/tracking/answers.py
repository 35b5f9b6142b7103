"""Answers to the tracking questions, pressed or typed. Every button of a question passes ONE router-level
check: the conversation is on a tracking question (:class:`InQuestion`, which injects ``step``), and -- except
Cancel -- the button belongs to THAT question (:class:`OfThisQuestion`). A button that fails either, or whose
value does not fit, reaches the stale handler and is answered "no longer valid"."""

from __future__ import annotations

from datetime import date
from typing import Any

from aiogram import F, Router
from aiogram.filters import BaseFilter, MagicData
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _

from bot.domain.complaint import parse_date
from bot.domain.deadlines import EXTENSION_MAX, REVIEW_TERMS
from handlers.common import BTN_COMPLAINT, BTN_HUMAN, BTN_QUESTIONS, NOT_VALID, is_menu_button
from handlers.datepicker import digits, month_of, show_month
from handlers.routing import FeatureRouter
from handlers.tracking.callbacks import QAction, TrkWizCb
from handlers.tracking.events import accept_answer_date, accept_ext_date, accept_ext_days, back_in_event
from handlers.tracking.flow import Flow, Target, small_number
from handlers.tracking.form import MAX_TEXT, accept_form_date, advance, back_in_form
from handlers.tracking.questions import question
from handlers.tracking.render import date_error
from handlers.tracking.states import DATE_QUESTIONS, FORM_STEPS, question_of

__all__ = ["get_router"]

EXT_DATES = ("ext_on", "ext_told")


class InQuestion(BaseFilter):
    """The conversation is on a tracking question: injects ``step`` (its name)."""

    async def __call__(self, event: TelegramObject, raw_state: str | None) -> bool | dict[str, Any]:
        step = question_of(raw_state)
        return False if step is None else {"step": step}

    def quick(self, event: TelegramObject, data: dict[str, Any]) -> bool:  # handlers/routing.py
        return question_of(data.get("raw_state")) is not None


class OfThisQuestion(BaseFilter):
    """The button was sent with the question the person is on (a button of an earlier question is stale)."""

    async def __call__(self, query: CallbackQuery, step: str) -> bool:
        try:
            return TrkWizCb.unpack(query.data or "").s == step
        except (TypeError, ValueError):  # forged: the stale handler answers
            return False


class StaysInQuestion(BaseFilter):
    """A message the question answers: not a menu button another feature answers, and not /faq."""

    async def __call__(self, message: Message, i18n: I18n) -> bool:
        if is_menu_button(i18n, message.text, (BTN_COMPLAINT, BTN_QUESTIONS, BTN_HUMAN)):
            return False
        text = (message.text or "").strip()
        return not text.startswith("/") or (text[1:].split(maxsplit=1) or [""])[0].split("@")[0].lower() != "faq"


async def accept_date(target: Target, flow: Flow, step: str, value: date) -> None:
    """A date typed or picked for a date question: checked against the others, then stored."""
    data = await flow.state.get_data()
    if step in EXT_DATES:
        await accept_ext_date(target, flow, data, step, value)
    elif step == "ans_on":
        await accept_answer_date(target, flow, data, value)
    else:
        await accept_form_date(target, flow, step, data, value)


# ------------------------------------------------------------------------------------ buttons

async def on_cancel(query: CallbackQuery, flow: Flow) -> None:
    await flow.state.clear()
    await query.answer()
    await flow.send(query, _("Cancelled. Send /my to see your complaints."))


async def on_label(query: CallbackQuery) -> None:
    await query.answer()


async def on_back(query: CallbackQuery, flow: Flow, step: str) -> None:
    await query.answer()
    data = await flow.state.get_data()
    back = back_in_form if step in FORM_STEPS else back_in_event
    if not await back(query, flow, step, data):
        await flow.send(query, _(NOT_VALID))


async def on_month(query: CallbackQuery, callback_data: TrkWizCb, flow: Flow, step: str) -> None:
    await query.answer()
    _text, markup = question(step, await flow.state.get_data(), flow.today, flow.lang,
                             month=month_of(callback_data.v))
    await show_month(flow.bot, query, markup)


async def on_day(query: CallbackQuery, callback_data: TrkWizCb, flow: Flow, step: str) -> None:
    await query.answer()
    v = callback_data.v
    result = parse_date(f"{v[6:8]}.{v[4:6]}.{v[0:4]}", flow.today)
    if not result.ok:
        await flow.send(query, date_error(result, flow.today))
        return
    await accept_date(query, flow, step, result.value)


async def on_form_choice(query: CallbackQuery, callback_data: TrkWizCb, flow: Flow, step: str) -> None:
    """The recipient (a kind), forwarded through the provider (y / n), or Skip (None)."""
    await query.answer()
    data = await flow.state.get_data()
    if callback_data.a == QAction.RECIPIENT:
        data[step] = callback_data.v
    elif callback_data.a == QAction.FORWARDED:
        data[step] = callback_data.v == "y"
    else:
        data[step] = None
    await advance(query, flow, data)


async def on_ext_days(query: CallbackQuery, callback_data: TrkWizCb, flow: Flow) -> None:
    await query.answer()
    n = small_number(callback_data.v)
    assert n is not None  # the filter checked it
    await accept_ext_days(query, flow, await flow.state.get_data(), n)


async def on_ext_skip(query: CallbackQuery, flow: Flow, step: str) -> None:
    await query.answer()
    await accept_ext_date(query, flow, await flow.state.get_data(), step, None)


# ------------------------------------------------------------------------------------ typed answers

async def on_typed(message: Message, flow: Flow, step: str) -> None:
    text = (message.text or "").strip()
    if text.startswith("/"):
        await message.answer(_("Commands are not answers. Type the answer, or send /cancel to stop."))
    elif not text:
        await message.answer(_("Please answer with text, or send /cancel to stop."))
    elif step == "ext_days":
        await _typed_days(message, flow, text)
    elif step in DATE_QUESTIONS:
        result = parse_date(text, flow.today)
        if result.ok:
            await accept_date(message, flow, step, result.value)
        else:
            await message.answer(date_error(result, flow.today))
    elif step in ("recipient", "forwarded"):
        await message.answer(_("Please choose with the buttons above."))
    elif len(text) > MAX_TEXT:  # filed_with, reg_number
        await message.answer(ngettext("That is too long: at most {n} character, please.",
                                      "That is too long: at most {n} characters, please.", MAX_TEXT).format(n=MAX_TEXT))
    else:
        data = await flow.state.get_data()
        data[step] = text
        await advance(message, flow, data)


async def _typed_days(message: Message, flow: Flow, text: str) -> None:
    n = small_number(text)
    if n is None or not 1 <= n <= EXTENSION_MAX:
        await message.answer(_(
            "The review term can be extended by at most 10 working days, so the number must be from 1 "
            "to 10. Please check it and send a number from 1 to 10."))
        return
    await accept_ext_days(message, flow, await flow.state.get_data(), n)


# ------------------------------------------------------------------------------------ the router

def _on(*actions: QAction) -> Any:
    return TrkWizCb.filter(F.a.in_(set(actions)))


def _at(*steps: str) -> MagicData:
    return MagicData(F.step.in_(set(steps)))


def get_router() -> Router:
    router = FeatureRouter(name="tracking.questions")
    router.callback_query.filter(InQuestion())
    router.message.filter(InQuestion())
    router.message.register(on_typed, StaysInQuestion())
    router.callback_query.register(on_cancel, _on(QAction.CANCEL))

    current = FeatureRouter(name="tracking.question")
    current.callback_query.filter(OfThisQuestion())
    register = current.callback_query.register
    register(on_label, _on(QAction.NOP))
    register(on_back, _on(QAction.BACK))
    register(on_month, _on(QAction.MONTH), _at(*DATE_QUESTIONS), digits(6))
    register(on_day, _on(QAction.DAY), _at(*DATE_QUESTIONS), digits(8))
    register(on_form_choice, _on(QAction.RECIPIENT), _at("recipient"), MagicData(F.callback_data.v.in_(REVIEW_TERMS)))
    register(on_form_choice, _on(QAction.FORWARDED), _at("forwarded"), MagicData(F.callback_data.v.in_({"y", "n"})))
    register(on_form_choice, _on(QAction.SKIP), _at("filed_with", "reg_number", "learned_on"))
    register(on_ext_days, _on(QAction.EXT_DAYS), _at("ext_days"),
             MagicData(F.callback_data.v.func(lambda v: (small_number(v) or 0) in range(1, EXTENSION_MAX + 1))))
    register(on_ext_skip, _on(QAction.SKIP), _at(*EXT_DATES))
    router.include_router(current)
    return router
