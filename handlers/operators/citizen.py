"""The citizen's side of the desk (private chats only): opening a ticket, the relay of their messages,
ending the conversation, and rating the result.

The relay handler takes a private message only when the person has an open ticket with the relay on, is not
in any wizard step (no FSM state), and the message is neither a command nor a main-menu button: everything
else falls through to the complaint wizard, tracking and the FAQ.
"""

from __future__ import annotations

import html

from typing import Any

from aiogram import Bot, F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import BaseFilter, Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n, gettext as _

from bot.next_steps import after_answer, render_options
from handlers.common import (
    BTN_HUMAN,
    EscalateCb,
    MenuButton,
    call_1414,
    is_menu_button,
    main_menu,
)
from handlers.operators.callbacks import EndCb, RateCb
from handlers.operators.service import Desk, desk_of
from storage.tickets import Ticket

router = Router(name="operators.citizen")
router.message.filter(F.chat.type == "private")
router.edited_message.filter(F.chat.type == "private")

#: Ends the relay on /cancel (or the cancel words) before start's /cancel sees it; see handlers/__init__.py.
early_router = Router(name="operators.early")
early_router.message.filter(F.chat.type == "private")

def N_(s: str) -> str:
    return s


CANCEL_WORDS = {"cancel", "отмена", "болдырмау"}
SOURCES = ("complaint", "faq", "menu")


class OpenRelay(BaseFilter):
    """A private message from someone whose open ticket has the relay on; injects ``ticket``."""

    async def __call__(self, message: Message, app: Any, i18n: I18n) -> bool | dict[str, Any]:
        if message.from_user is None:
            return False
        text = message.text or ""
        if text.startswith("/") or is_menu_button(i18n, text):
            return False
        ticket = await desk_of(app).tickets.open_for_user(message.from_user.id)
        if ticket is None or not ticket.relay:
            return False
        return {"ticket": ticket}


# ------------------------------------------------------------------------------------ /cancel

@early_router.message(StateFilter(None), Command("cancel"))
@early_router.message(StateFilter(None), F.text.casefold().in_(CANCEL_WORDS))
async def cancel_relay(message: Message, app: Any) -> None:
    desk = desk_of(app)
    ticket = await desk.tickets.open_for_user(message.from_user.id) if message.from_user else None
    if ticket is None or not ticket.relay:
        raise SkipHandler  # start's /cancel answers
    await desk.end_relay(ticket, message.from_user.id)  # type: ignore[union-attr]
    await message.answer(ended_text(ticket), reply_markup=main_menu())


def ended_text(ticket: Ticket) -> str:
    return _("The conversation with the desk is over: your messages no longer go to the operators. "
             "If they answer on ticket №{id}, you will see it here.").format(id=ticket.id)


# ------------------------------------------------------------------------------------ opening a ticket

async def open_ticket(bot: Bot, chat_id: int, user_id: int, lang: str, source: str, ref: int,
                      state: FSMContext, app: Any) -> None:
    desk = desk_of(app)
    if desk.chat_id is None:  # an old button from before the desk was switched off: 1414, and a fresh menu
        await bot.send_message(chat_id, _("This bot has no operators' desk, so I cannot pass your request to a "
                                          "person.") + "\n" + call_1414(), reply_markup=main_menu())
        return
    ticket, created, error = await desk.escalate(user_id, lang, source, ref or None)
    if error == "no_complaint":
        await bot.send_message(chat_id, _("I could not find this complaint. Please open it again from /my."))
        return
    if ticket is None:
        await bot.send_message(chat_id, _(
            "The operators' desk is not available right now, sorry. You can call the 1414 contact centre: "
            "1414 or 8-800-080-7777 (free)."))
        return
    if created:
        text = _("Your request is with the operators' desk: ticket №{id}. Write here: your next messages "
                 "(text, photos, documents, voice) go to the desk, and the answers come to this chat. To stop, "
                 "press the button below or send /cancel.").format(id=ticket.id)
    else:
        text = _("You already have an open ticket №{id}: your messages go to the desk, and the answers come "
                 "to this chat. To stop, press the button below or send /cancel.").format(id=ticket.id)
    if await state.get_state() is not None:
        text += "\n\n" + _("You are filling in a form now: your messages go to the desk once you finish it "
                           "or send /cancel.")
    await bot.send_message(chat_id, text, reply_markup=desk.end_keyboard(ticket, _))


@router.callback_query(EscalateCb.filter())
async def on_escalate(query: CallbackQuery, callback_data: EscalateCb, bot: Bot, lang: str, state: FSMContext,
                      app: Any) -> None:
    if query.message is None or query.message.chat.type != "private" or callback_data.source not in SOURCES:
        await query.answer(_("This button is no longer valid."))
        return
    await query.answer()
    ref = callback_data.ref if callback_data.source == "complaint" else 0
    await open_ticket(bot, query.message.chat.id, query.from_user.id, lang, callback_data.source, ref, state, app)


@router.message(MenuButton(BTN_HUMAN))
async def on_talk_to_person(message: Message, bot: Bot, lang: str, state: FSMContext, app: Any) -> None:
    await open_ticket(bot, message.chat.id, message.from_user.id, lang, "menu", 0, state, app)  # type: ignore[union-attr]


# ------------------------------------------------------------------------------------ the relay

@router.message(StateFilter(None), OpenRelay())
async def relay_to_desk(message: Message, ticket: Ticket, app: Any) -> None:
    """Queued for the desk (its pump posts at the group's pace and tells the person if Telegram refuses)."""
    await desk_of(app).queue_relay(ticket, message)


@router.edited_message(StateFilter(None))
async def relay_edit_to_desk(message: Message, app: Any) -> None:
    desk = desk_of(app)
    ticket = await desk.tickets.open_for_user(message.chat.id)
    if ticket is None or not ticket.relay:
        return
    await desk.queue_relay(ticket, message, edited=True)  # posted only if the desk got the original


@router.callback_query(EndCb.filter())
async def on_end(query: CallbackQuery, callback_data: EndCb, app: Any) -> None:
    desk = desk_of(app)
    ticket = await desk.tickets.get(callback_data.t)
    if ticket is None or ticket.user_id != query.from_user.id or not ticket.is_open or not ticket.relay:
        await query.answer(_("This button is no longer valid."))
        return
    await desk.end_relay(ticket, query.from_user.id)
    await query.answer()
    if query.message is not None:
        await query.message.answer(ended_text(ticket))


# ------------------------------------------------------------------------------------ rating

def rating_keyboard(ticket: Ticket, gettext=_) -> InlineKeyboardMarkup | None:
    rows = []
    if ticket.rating is None:
        rows.append([InlineKeyboardButton(text="⭐" * 1 + f" {v}", callback_data=RateCb(t=ticket.id, v=v).pack())
                     for v in range(1, 6)])
    if not ticket.disagreed:
        rows.append([InlineKeyboardButton(text=gettext("🙅 I disagree"), callback_data=RateCb(t=ticket.id, v=0).pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


async def next_steps_text(desk: Desk, ticket: Ticket, lang: str) -> str:
    """What to do after a result the citizen disagrees with: a further complaint and the court, each with its
    last day, counted from the day the result came (LEGAL.md §3: 3 months and one month; bot.next_steps)."""
    recipient = None
    if ticket.case_id is not None:
        case = await desk.cases.get(ticket.case_id)
        recipient = case.recipient_kind if case else None
    if recipient is None and ticket.complaint_id is not None:
        stored = await desk.complaints.get(ticket.complaint_id)
        recipient = stored.complaint.recipient_kind if stored else None
    answered = desk.local_day(ticket.resolved_at) if ticket.resolved_at else desk.today()
    options = after_answer(recipient or "provider", answered, desk.today(), desk.calendars.calendar)
    note = _("This is guidance, not legal advice.")
    return f"{render_options(options, _, lang)}\n\n<i>{html.escape(note)}</i>"


@router.callback_query(RateCb.filter())
async def on_rate(query: CallbackQuery, callback_data: RateCb, lang: str, app: Any) -> None:
    desk = desk_of(app)
    ticket = await desk.tickets.get(callback_data.t)
    v = callback_data.v
    if ticket is None or ticket.user_id != query.from_user.id or ticket.status != "resolved" or not 0 <= v <= 5:
        await query.answer(_("This button is no longer valid."))
        return
    if v == 0:
        if ticket.disagreed:
            await query.answer()
            return
        updated = await desk.tickets.transition(ticket.id, actor_id=query.from_user.id, action="disagreed",
                                                allowed=("resolved",), at=desk.now(), disagreed=True)
        await query.answer()
        if updated is None:
            return
        ops = desk.o
        await desk.queue_note(updated, "🙅 " + ops(N_("The citizen disagrees with the result.")))
        if query.message is not None:
            await query.message.answer(await next_steps_text(desk, updated, lang))
    else:
        if ticket.rating is not None:
            await query.answer(_("You have already rated it. Thank you!"))
            return
        updated = await desk.tickets.transition(ticket.id, actor_id=query.from_user.id, action="rated",
                                                allowed=("resolved",), detail={"rating": v}, at=desk.now(), rating=v)
        await query.answer(_("Thank you for your rating!"))
        if updated is None:
            return
        ops = desk.o
        await desk.queue_note(updated, "⭐ " + ops(N_("The citizen rated the result: {n}/5.")).format(n=v))
    if updated is not None:
        await desk.queue_refresh(updated)
        if query.message is not None:
            try:
                await query.message.edit_reply_markup(reply_markup=rating_keyboard(updated))
            except Exception:  # noqa: BLE001 - the keyboard is cosmetic
                pass


@router.callback_query(F.data.regexp(r"^(dk|dkr|dke|esc)(:|$)"))
async def on_stale(query: CallbackQuery) -> None:
    """Malformed data under the desk's prefixes (an old keyboard, a forged press): answered, never left
    spinning."""
    await query.answer(_("This button is no longer valid."))
