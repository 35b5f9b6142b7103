"""Keyboards of the wizard. Every inline button carries the draft token and the prompt number (WizCb)."""

from __future__ import annotations

import calendar
from datetime import date

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from babel.dates import format_date, get_day_names

from bot.complaint import years_before
from handlers.common import EscalateCb
from handlers.complaint.callbacks import WizCb
from handlers.complaint.steps import (
    ATTACHMENTS,
    CHOICES,
    DATE_STEPS,
    OPTIONAL,
    choice_button,
    field_label,
    raw_value,
    steps_for,
)
from bot.complaint import Complaint

Rows = list[list[InlineKeyboardButton]]


def button(text: str, token: str, n: int, action: str, value: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=WizCb(t=token, n=n, a=action, v=value).pack())


def consent_keyboard(token: str, n: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[button(_("✅ I agree"), token, n, "ok"), button(_("❌ I decline"), token, n, "no")]]
    )


def nav_rows(token: str, n: int, *, back: bool, skip: bool) -> Rows:
    row = []
    if back:
        row.append(button(_("⬅️ Back"), token, n, "bk"))
    if skip:
        row.append(button(_("⏭ Skip"), token, n, "sk"))
    row.append(button(_("✖️ Cancel"), token, n, "cx"))
    return [row]


def choice_rows(step: str, token: str, n: int) -> Rows:
    return [[button(choice_button(step, value), token, n, "ch", value)] for value in CHOICES[step]]


def month_shift(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def date_rows(token: str, n: int, year: int, month: int, today: date, lang: str) -> Rows:
    """A month grid: « ‹ Month Year › » then the weekdays and the days (days after today are not offered)."""
    earliest = years_before(today, 10)
    cur = (today.year, today.month)
    low = (earliest.year, earliest.month)
    shown = max(min((year, month), cur), low)
    year, month = shown

    def nav(label: str, delta: int) -> InlineKeyboardButton:
        target = month_shift(year, month, delta)
        target = max(min(target, cur), low)
        if target == shown:
            return button(" ", token, n, "nop")
        return button(label, token, n, "dm", f"{target[0]:04d}{target[1]:02d}")

    title = format_date(date(year, month, 1), "LLLL y", locale=lang)
    rows: Rows = [[nav("«", -12), nav("‹", -1), button(title, token, n, "nop"), nav("›", 1), nav("»", 12)]]
    names = get_day_names("short", locale=lang)
    rows.append([button(names[i], token, n, "nop") for i in range(7)])
    for week in calendar.monthcalendar(year, month):
        row = []
        for day in week:
            if day == 0 or date(year, month, day) > today or date(year, month, day) < earliest:
                row.append(button(" " if day == 0 else "·", token, n, "nop"))
            else:
                row.append(button(str(day), token, n, "dp", f"{year:04d}{month:02d}{day:02d}"))
        rows.append(row)
    return rows


def step_keyboard(
    draft: Complaint, step: str, token: str, n: int, *, today: date, lang: str, editing: bool,
    month: tuple[int, int] | None = None,
) -> InlineKeyboardMarkup:
    rows: Rows = []
    if step in CHOICES:
        rows += choice_rows(step, token, n)
    elif step in DATE_STEPS:
        y, m = month or (today.year, today.month)
        rows += date_rows(token, n, y, m, today, lang)
    elif step == "iin":
        rows.append([button(_("🚫 I have no IIN"), token, n, "ni")])
    elif step == ATTACHMENTS:
        rows.append([button(_("✅ Done"), token, n, "dn")])
        if draft.attachments:
            rows.append([button(_("🗑 Clear the list"), token, n, "cl")])
    if step != ATTACHMENTS and raw_value(draft, step):
        rows.append([button(_("➡️ Keep the current value"), token, n, "kp")])
    first = steps_for(draft)[0] == step
    rows += nav_rows(token, n, back=editing or not first, skip=step in OPTIONAL)
    return InlineKeyboardMarkup(inline_keyboard=rows)


def review_keyboard(draft: Complaint, token: str, n: int) -> InlineKeyboardMarkup:
    edits = [button("✏️ " + field_label(s), token, n, "ed", s) for s in steps_for(draft)]
    rows: Rows = [edits[i : i + 2] for i in range(0, len(edits), 2)]
    rows.append([button(_("✅ Confirm and get the document"), token, n, "cf")])
    rows += nav_rows(token, n, back=True, skip=False)
    return InlineKeyboardMarkup(inline_keyboard=rows)


def start_over_keyboard(token: str, n: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[button(_("🆕 Start a new complaint"), token, n, "new")]])


def contact_keyboard() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=_("📱 Share my phone number"), request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def escalate_keyboard(complaint_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(
            text=_("👤 Send it to the operators' desk"),
            callback_data=EscalateCb(source="complaint", ref=complaint_id).pack(),
        )]]
    )
