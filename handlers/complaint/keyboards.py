"""Keyboards of the wizard. Every inline button carries the draft token and the prompt number (WizCb).

A step's keyboard is new at every prompt (its buttons carry the prompt's number), so its buttons are copies of
a validated template (handlers/buttons.py: ``model_copy``, ~1.5 µs, instead of ~5-9 µs for validation) and
the labels every step shows (Back, Skip, Cancel; a choice step's choices) are templates kept per locale with
their text, so a turn copies the callback data into them without looking the text up again. A step's
keyboard cost ~19 µs (Back and Cancel) in a loop, ~48 µs in the bot's update, before."""

from __future__ import annotations

from datetime import date

from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n.context import get_i18n

from bot.domain.complaint import Complaint
from handlers import buttons
from handlers.common import EscalateCb
from handlers.complaint.callbacks import WizAction as A
from handlers.complaint.callbacks import pack
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
from handlers.datepicker import month_grid

Rows = list[list[InlineKeyboardButton]]


def button(text: str, token: str, n: int, action: A, value: str = "") -> InlineKeyboardButton:
    return buttons.button(text, pack(token, n, action, value), keep=False)  # new data each prompt: not kept


def _with(template: InlineKeyboardButton, token: str, n: int, action: A, value: str = "") -> InlineKeyboardButton:
    """A kept label's button with this prompt's data."""
    return template.model_copy(update={"callback_data": pack(token, n, action, value)})


#: Label templates by locale (nothing changes a sent markup, so they can be copied for ever). A few locales at
#: most: all are dropped past LOCALES_KEPT and built again on demand.
LOCALES_KEPT = 8
_NAV: dict[str, tuple[InlineKeyboardButton, InlineKeyboardButton, InlineKeyboardButton]] = {}
_CHOICES: dict[tuple[str, str], tuple[tuple[str, InlineKeyboardButton], ...]] = {}


def _nav_labels() -> tuple[InlineKeyboardButton, InlineKeyboardButton, InlineKeyboardButton]:
    """Back, Skip and Cancel in the update's locale (what ``_()`` would give)."""
    locale = get_i18n().current_locale
    found = _NAV.get(locale)
    if found is None:
        if len(_NAV) >= LOCALES_KEPT:
            _NAV.clear()
        found = _NAV[locale] = (buttons.button(_("⬅️ Back"), "-", keep=False),
                                buttons.button(_("⏭ Skip"), "-", keep=False),
                                buttons.button(_("✖️ Cancel"), "-", keep=False))
    return found


def _choice_labels(step: str) -> tuple[tuple[str, InlineKeyboardButton], ...]:
    """A choice step's (value, label template) in the update's locale."""
    key = (get_i18n().current_locale, step)
    found = _CHOICES.get(key)
    if found is None:
        if len(_CHOICES) >= LOCALES_KEPT * len(CHOICES):
            _CHOICES.clear()
        found = _CHOICES[key] = tuple((value, buttons.button(choice_button(step, value), "-", keep=False))
                                      for value in CHOICES[step])
    return found


def consent_keyboard(token: str, n: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[button(_("✅ I agree"), token, n, A.AGREE), button(_("❌ I decline"), token, n, A.DECLINE)]]
    )


def nav_rows(token: str, n: int, *, back: bool, skip: bool) -> Rows:
    """The same place on every step: Back and Skip (when they apply) on one row, Cancel alone on the last row,
    so a tap where Skip sits on an optional step never lands on Cancel on a required one."""
    back_label, skip_label, cancel_label = _nav_labels()
    row = []
    if back:
        row.append(_with(back_label, token, n, A.BACK))
    if skip:
        row.append(_with(skip_label, token, n, A.SKIP))
    cancel = [_with(cancel_label, token, n, A.CANCEL)]
    return [row, cancel] if row else [cancel]


def choice_rows(step: str, token: str, n: int) -> Rows:
    rows = [[_with(label, token, n, A.CHOICE, value)] for value, label in _choice_labels(step)]
    if step == "recipient_kind":  # advice only: a court hears a claim after a pre-trial complaint
        # (docs/legal.md, 'Court')
        rows.append([button(_("⚖️ Court (after a pre-trial complaint)"), token, n, A.COURT)])
    return rows


def date_rows(token: str, n: int, year: int, month: int, today: date, lang: str,
              earliest: date | None = None) -> Rows:
    """A month grid: « ‹ Month Year › » then the weekdays and the days (days after today are not offered)."""
    return month_grid(
        year, month, today=today, lang=lang, earliest=earliest,
        pick=lambda day: pack(token, n, A.DAY, day.strftime("%Y%m%d")),
        show=lambda y, m: pack(token, n, A.MONTH, f"{y:04d}{m:02d}"),
        nop=pack(token, n, A.NOP),
    )


def step_keyboard(
    draft: Complaint, step: str, token: str, n: int, *, today: date, lang: str, editing: bool,
    month: tuple[int, int] | None = None,
) -> InlineKeyboardMarkup:
    rows: Rows = []
    if step in CHOICES:
        rows += choice_rows(step, token, n)
    elif step in DATE_STEPS:
        y, m = month or (today.year, today.month)
        earliest = draft.decision_date if step == "learned_date" else None  # one learns of it after it is made
        rows += date_rows(token, n, y, m, today, lang, earliest)
    elif step == "iin":
        rows.append([button(_("🚫 I have no IIN"), token, n, A.NO_IIN)])
    elif step == ATTACHMENTS:
        rows.append([button(_("✅ Done"), token, n, A.DONE)])
        if draft.attachments:
            rows.append([button(_("🗑 Clear the list"), token, n, A.CLEAR)])
    if step != ATTACHMENTS and raw_value(draft, step):
        rows.append([button(_("➡️ Keep the current value"), token, n, A.KEEP_VALUE)])
    first = steps_for(draft)[0] == step
    rows += nav_rows(token, n, back=editing or not first, skip=step in OPTIONAL)
    return buttons.keyboard(rows)


def review_keyboard(draft: Complaint, token: str, n: int) -> InlineKeyboardMarkup:
    edits = [button("✏️ " + field_label(s), token, n, A.EDIT, s) for s in steps_for(draft)]
    rows: Rows = [edits[i : i + 2] for i in range(0, len(edits), 2)]
    rows.append([button(_("✅ Confirm and get the document"), token, n, A.CONFIRM)])
    rows += nav_rows(token, n, back=True, skip=False)
    return buttons.keyboard(rows)


def cancel_confirm_keyboard(token: str, n: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [button(_("↩️ No, keep the draft"), token, n, A.KEEP)],
        [button(_("🗑 Yes, delete it"), token, n, A.DELETE)],
    ])


def start_over_keyboard(token: str, n: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[button(_("🆕 Start a new complaint"), token, n, A.NEW)]])


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
