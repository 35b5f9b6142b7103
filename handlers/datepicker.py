"""One month of days as inline buttons, shared by the complaint wizard and the tracking questions.

    « ‹ December 2026 › »
    Mon Tue Wed ...
     ·   1   2  ...          days outside [earliest, today] show "·" and cannot be pressed

Each caller packs its own callback data (its prefix, its stale-button check): ``pick(day)`` for a day,
``show(year, month)`` for another month and ``nop`` for the inert cells.
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Callable

from aiogram.types import InlineKeyboardButton
from babel.dates import format_date, get_day_names

from bot.domain.complaint import years_before

Rows = list[list[InlineKeyboardButton]]


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
