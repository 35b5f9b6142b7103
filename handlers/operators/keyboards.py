"""The desk's buttons: the ticket card's (for the operators), the relay's end and the rating (for the citizen)."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.domain.desk import card_actions
from bot.domain.entities import Ticket
from bot.domain.text import N_, Gettext
from handlers.operators.callbacks import DeskAction, DeskCb, EndCb, RateCb

__all__ = ["card_keyboard", "end_keyboard", "rating_keyboard"]

ACTION_LABELS = {
    DeskAction.TAKE: N_("🙋 Take"),
    DeskAction.REGISTER: N_("📌 Register"),
    DeskAction.EXTEND: N_("⏳ Extend"),
    DeskAction.RESOLVE: N_("✅ Resolve"),
    DeskAction.REJECT: N_("⛔ Reject"),
}


def card_keyboard(ticket: Ticket, gettext: Gettext) -> InlineKeyboardMarkup | None:
    """The card's buttons in the operators' language (``gettext``): what the ticket's status allows ("take":
    another operator may take over)."""
    actions = [DeskAction(a) for a in card_actions(ticket.status, has_case=ticket.case_id is not None)]
    buttons = [InlineKeyboardButton(text=gettext(ACTION_LABELS[a]), callback_data=DeskCb(a=a, t=ticket.id).pack())
               for a in actions]
    if not buttons:
        return None
    return InlineKeyboardMarkup(inline_keyboard=[buttons[i:i + 3] for i in range(0, len(buttons), 3)])


def end_keyboard(ticket: Ticket, gettext: Gettext) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=gettext("🔚 End the conversation"), callback_data=EndCb(t=ticket.id).pack())]])


def rating_keyboard(ticket: Ticket, gettext: Gettext = _) -> InlineKeyboardMarkup | None:
    rows = []
    if ticket.rating is None:
        rows.append([InlineKeyboardButton(text="⭐" * 1 + f" {v}", callback_data=RateCb(t=ticket.id, v=v).pack())
                     for v in range(1, 6)])
    if not ticket.disagreed:
        rows.append([InlineKeyboardButton(text=gettext("🙅 I disagree"),
                                          callback_data=RateCb(t=ticket.id, v=0).pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None
