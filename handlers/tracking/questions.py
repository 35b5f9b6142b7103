"""The text and buttons of each tracking question, and asking it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.domain.deadlines import EXTENSION_MAX
from handlers.tracking.callbacks import QAction
from handlers.tracking.flow import Target, day_of, send
from handlers.tracking.keyboards import picker_rows, question_markup, wiz_button
from handlers.tracking.render import RECIPIENT_BUTTONS, example_date, fmt

__all__ = ["ask_step", "question"]

Question = tuple[str, InlineKeyboardMarkup]


@dataclass(frozen=True)
class Asked:
    """What a question is asked with: its name, the answers so far, today, the language, the month shown."""

    step: str
    data: dict[str, Any]
    today: date
    lang: str
    month: tuple[int, int] | None

    def picker(self, earliest: date | None = None) -> list[list[Any]]:
        return picker_rows(self.step, self.today, self.lang, self.month, earliest)


def _recipient(q: Asked) -> Question:
    rows = [[wiz_button(_(label), q.step, QAction.RECIPIENT, kind)] for kind, label in RECIPIENT_BUTTONS.items()]
    return _(
        "Who reviews your complaint? The term is counted in working days from the day after registration:\n"
        "• the service provider (the head of the body that provides the service): 5 working days;\n"
        "• the authorised body for the quality of public services: 15 working days;\n"
        "• the akim: 5 working days."), question_markup(q.step, rows, back=False)


def _filed_with(q: Asked) -> Question:
    return _("Where did you file it? Write the name of the body or office, for example «Public Service Centre "
             "No. 2, Astana»."), question_markup(q.step, [], back=True, skip=_("⏭ Skip"))


def _forwarded(q: Asked) -> Question:
    rows = [[wiz_button(_("No, directly to the quality authority"), q.step, QAction.FORWARDED, "n")],
            [wiz_button(_("Yes, through the service provider"), q.step, QAction.FORWARDED, "y")]]
    return _(
        "Did you file it with the service provider, for them to forward it to the quality authority? The "
        "provider then has 3 working days to forward it, and the 15 working days are counted after that."
    ), question_markup(q.step, rows, back=True)


def _registered(q: Asked) -> Question:
    return _(
        "What is the registration date? It is on the talon (the slip you got when filing) or in eOtinish / "
        "your eGov personal account. Type it (for example {example}) or pick it below.").format(
        example=example_date(q.today)), question_markup(q.step, q.picker(), back=True)


def _reg_number(q: Asked) -> Question:
    return _("What is the registration number (from the talon or the portal)? Type it, or press Skip."), \
        question_markup(q.step, [], back=True, skip=_("⏭ Skip"))


def _learned_on(q: Asked) -> Question:
    return _(
        "On what date did you learn of the decision or action you complained about? It is for the 3-month "
        "filing limit. Type the date (for example {example}), pick it below, or press Skip.").format(
        example=example_date(q.today)), question_markup(q.step, q.picker(), back=True, skip=_("⏭ Skip"))


def _ext_days(q: Asked) -> Question:
    numbers = [wiz_button(str(n), q.step, QAction.EXT_DAYS, str(n)) for n in range(1, EXTENSION_MAX + 1)]
    return _("By how many working days was the review extended? The law allows at most 10. "
             "Press a number or type it."), question_markup(q.step, [numbers[:5], numbers[5:]], back=False)


def _ext_on(q: Asked) -> Question:
    original = day_of(q.data, "original")
    return _(
        "On what date was the review extended (the date of the decision or letter)? If you do not know, press "
        "«I don't know»: I will count from the original deadline, {date}.").format(
        date=fmt(original, q.lang) if original else ""), \
        question_markup(q.step, q.picker(day_of(q.data, "registered")), back=True, skip=_("I don't know"))


def _ext_told(q: Asked) -> Question:
    return _("On what date were you told about the extension? If you have not been told, "
             "press «Not told yet»."), \
        question_markup(q.step, q.picker(day_of(q.data, "on") or day_of(q.data, "registered")), back=True,
                        skip=_("Not told yet"))


def _ans_on(q: Asked) -> Question:
    return _("On what date did you receive the answer? The limits to appeal it count from that day. Type it "
             "(for example {example}) or pick it below.").format(example=example_date(q.today)), \
        question_markup(q.step, q.picker(day_of(q.data, "registered")), back=False)


_QUESTIONS: dict[str, Callable[[Asked], Question]] = {
    "recipient": _recipient,
    "filed_with": _filed_with,
    "forwarded": _forwarded,
    "registered": _registered,
    "reg_number": _reg_number,
    "learned_on": _learned_on,
    "ext_days": _ext_days,
    "ext_on": _ext_on,
    "ext_told": _ext_told,
    "ans_on": _ans_on,
}


def question(step: str, data: dict[str, Any], today: date, lang: str,
             month: tuple[int, int] | None = None) -> Question:
    """The text and buttons of one tracking question (``month``: the month the date picker shows)."""
    build = _QUESTIONS.get(step)
    if build is None:
        raise ValueError(f"unknown tracking question {step!r}")
    return build(Asked(step, data, today, lang, month))


async def ask_step(target: Target, bot: Bot, step: str, data: dict[str, Any], today: date, lang: str) -> None:
    text, markup = question(step, data, today, lang)
    await send(target, bot, text, markup)
