"""One month of days as inline buttons, shared by the complaint wizard and the tracking questions.

    « ‹ December 2026 › »
    Mon Tue Wed ...
     ·   1   2  ...          days outside [earliest, today] show "·" and cannot be pressed

Each caller packs its own callback data (its prefix, its stale-button check): ``pick(day)`` for a day,
``show(year, month)`` for another month and ``nop`` for the inert cells; its handlers filter the values with
:func:`digits` and show another month with :func:`show_month`.
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Callable

from aiogram import Bot, F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import MagicData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from babel.dates import format_date, get_day_names

from bot.domain.complaint import years_before

Rows = list[list[InlineKeyboardButton]]


def digits(n: int) -> MagicData:
    """A button's value (``callback_data.v``) of exactly ``n`` digits: a day YYYYMMDD, a month YYYYMM."""
    return MagicData(F.callback_data.v.func(lambda v: len(v) == n and v.isdigit()))


def month_of(value: str) -> tuple[int, int]:
    """The month a YYYYMM value shows (the month clamped to 1..12)."""
    return int(value[:4]), max(1, min(12, int(value[4:])))


async def show_month(bot: Bot, query: CallbackQuery, markup: InlineKeyboardMarkup) -> None:
    """The question's keyboard with another month, in place."""
    if query.message is None:
        return
    try:
        await bot.edit_message_reply_markup(chat_id=query.message.chat.id, message_id=query.message.message_id,
                                            reply_markup=markup)
    except TelegramBadRequest:  # not modified, or too old to edit: the typed date still works
        pass


def month_shift(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def month_grid(
    year: int,
    month: int,
    *,
    today: date,
    lang: str,
    pick: Callable[[date], str],
    show: Callable[[int, int], str],
    nop: str,
    earliest: date | None = None,
) -> Rows:
    """The month (clamped to [earliest, today]; earliest defaults to ten years back) as button rows."""
    earliest = max(earliest or years_before(today, 10), years_before(today, 10))
    cur = (today.year, today.month)
    low = (earliest.year, earliest.month)
    shown = max(min((year, month), cur), low)
    year, month = shown

    def inert(text: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(text=text, callback_data=nop)

    def nav(label: str, delta: int) -> InlineKeyboardButton:
        target = max(min(month_shift(year, month, delta), cur), low)
        if target == shown:
            return inert(" ")
        return InlineKeyboardButton(text=label, callback_data=show(*target))

    title = format_date(date(year, month, 1), "LLLL y", locale=lang)
    rows: Rows = [[nav("«", -12), nav("‹", -1), inert(title), nav("›", 1), nav("»", 12)]]
    names = get_day_names("short", locale=lang)
    rows.append([inert(names[i]) for i in range(7)])
    for week in calendar.monthcalendar(year, month):
        row = []
        for day in week:
            if day == 0:
                row.append(inert(" "))
            elif not earliest <= date(year, month, day) <= today:
                row.append(inert("·"))
            else:
                row.append(InlineKeyboardButton(text=str(day), callback_data=pick(date(year, month, day))))
        rows.append(row)
    return rows
