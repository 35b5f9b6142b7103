"""Tracking's buttons. Every question has the same layout: its own buttons or a month of days, then Back and
Skip where they apply, then Cancel alone on the last row (as in the complaint wizard)."""

from __future__ import annotations

from datetime import date

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.domain.entities import Case, CaseStatus
from handlers.buttons import button, keyboard
from handlers.datepicker import Rows, month_grid
from handlers.tracking.callbacks import QAction, TrkAction, TrkCb, TrkWizCb

__all__ = ["case_button", "case_keyboard", "close_confirm_keyboard", "picker_rows", "question_markup", "wiz_button"]


def case_button(text: str, action: TrkAction, ref: int = 0) -> InlineKeyboardButton:
    # TrkCb(a=action, id=ref).pack(), written out (~3 µs less a button; tests/test_tracking.py compares them).
    # Kept: the buttons of the list, the pages and the switches; a case's or a saved complaint's own id is not.
    return button(text, f"{TrkCb.__prefix__}:{action.value}:{int(ref)}", keep=ref == 0 or action == TrkAction.PAGE)


def case_keyboard(case: Case) -> InlineKeyboardMarkup:
    rows = []
    if case.status == CaseStatus.OPEN:
        rows += [
            [case_button(_("⏳ They extended it"), TrkAction.EXTENDED, case.id),
             case_button(_("❓ No answer yet"), TrkAction.WAITING, case.id)],
            [case_button(_("✅ I got an answer"), TrkAction.ANSWERED, case.id),
             case_button(_("🗂 Close"), TrkAction.CLOSE, case.id)],
        ]
    rows.append([case_button(_("📋 My complaints"), TrkAction.LIST)])
    return keyboard(rows)


def close_confirm_keyboard(case: Case) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [case_button(_("↩️ No, keep tracking"), TrkAction.CLOSE_NO, case.id)],
        [case_button(_("🗂 Yes, close it"), TrkAction.CLOSE_YES, case.id)],
    ])


def wiz_button(text: str, step: str, a: QAction, v: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=TrkWizCb(a=a, v=v, s=step).pack())


def question_markup(step: str, rows: Rows, *, back: bool, skip: str | None = None) -> InlineKeyboardMarkup:
    """The question's own rows, then Back and Skip (where they apply), then Cancel alone on the last row: the
    same places on every question, as in the complaint wizard."""
    nav = ([wiz_button(_("⬅️ Back"), step, QAction.BACK)] if back else []) + \
        ([wiz_button(skip, step, QAction.SKIP)] if skip else [])
    rows = rows + ([nav] if nav else [])
    rows.append([wiz_button(_("✖️ Cancel"), step, QAction.CANCEL)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def picker_rows(step: str, today: date, lang: str, month: tuple[int, int] | None = None,
                earliest: date | None = None) -> Rows:
    y, m = month or (today.year, today.month)
    return month_grid(
        y, m, today=today, lang=lang, earliest=earliest,
        pick=lambda day: TrkWizCb(a=QAction.DAY, v=day.strftime("%Y%m%d"), s=step).pack(),
        show=lambda yy, mm: TrkWizCb(a=QAction.MONTH, v=f"{yy:04d}{mm:02d}", s=step).pack(),
        nop=TrkWizCb(a=QAction.NOP, s=step).pack(),
    )
