"""The citizen's side of the desk (private chats only): opening a ticket, the relay of their messages,
ending the conversation, and rating the result.

The relay handler takes a private message only when the person has an open ticket with the relay on, is not
in any wizard step (no FSM state), and the message is neither a command nor a main-menu button: everything
else falls through to the complaint wizard, tracking and the FAQ.
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import BaseFilter, Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.domain.entities import TICKET_SOURCES, Ticket, TicketStatus
from bot.domain.next_steps import after_answer, render_options
from bot.domain.text import N_, escape
from bot.services.desk import Desk
from handlers.common import (
    BTN_HUMAN,
    NOT_VALID,
    DataMatch,
    EscalateCb,
    MenuButton,
    Private,
    TextFoldedIn,
    call_1414,
    is_menu_button,
    main_menu,
)
from handlers.operators.callbacks import EndCb, RateCb
from handlers.operators.keyboards import end_keyboard, rating_keyboard
from handlers.operators.parts import DeskPart
from handlers.routing import FeatureRouter

__all__ = ["get_early_router", "get_router"]

CANCEL_WORDS = frozenset({"cancel", "отмена", "болдырмау"})


class OpenRelay(BaseFilter):
    """A private message from someone whose open ticket has the relay on; injects ``ticket``."""

    async def __call__(self, message: Message, desk: Desk, i18n: I18n) -> bool | dict[str, Any]:
        if not self.quick(message, {"i18n": i18n}):
            return False
        assert message.from_user is not None
        ticket = await desk.tickets.open_for_user(message.from_user.id)
        if ticket is None or not ticket.relay:
            return False
        return {"ticket": ticket}

    def quick(self, event: TelegramObject, data: dict[str, Any]) -> bool:
        """What it checks before it looks the ticket up (handlers/routing.py)."""
        if getattr(event, "from_user", None) is None:
            return False
        text = getattr(event, "text", None) or ""
        return not (text.startswith("/") or is_menu_button(data["i18n"], text))


# ------------------------------------------------------------------------------------ /cancel

async def cancel_relay(message: Message, desk: Desk) -> None:
    person = message.from_user
    ticket = await desk.tickets.open_for_user(person.id) if person else None
    if person is None or ticket is None or not ticket.relay:
        raise SkipHandler  # start's /cancel answers
    await desk.end_relay(ticket, person.id)
    await message.answer(ended_text(ticket), reply_markup=main_menu())


def ended_text(ticket: Ticket) -> str:
    return _("The conversation with the desk is over: your messages no longer go to the operators. "
             "If they answer on ticket №{id}, you will see it here.").format(id=ticket.id)


# ------------------------------------------------------------------------------------ opening a ticket

async def open_ticket(bot: Bot, chat_id: int, user_id: int, lang: str, source: str, ref: int,
                      state: FSMContext, desk: Desk) -> None:
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
    await bot.send_message(chat_id, text, reply_markup=end_keyboard(ticket, _))


async def on_escalate(query: CallbackQuery, callback_data: EscalateCb, bot: Bot, lang: str, state: FSMContext,
                      desk: Desk) -> None:
    if query.message is None or query.message.chat.type != "private" or callback_data.source not in TICKET_SOURCES:
        await query.answer(_(NOT_VALID))
        return
    await query.answer()
    ref = callback_data.ref if callback_data.source == "complaint" else 0
    await open_ticket(bot, query.message.chat.id, query.from_user.id, lang, callback_data.source, ref, state, desk)


async def on_talk_to_person(message: Message, bot: Bot, lang: str, state: FSMContext, desk: Desk) -> None:
    assert message.from_user is not None  # a private message from a person
    await open_ticket(bot, message.chat.id, message.from_user.id, lang, "menu", 0, state, desk)


# ------------------------------------------------------------------------------------ the relay

async def relay_to_desk(message: Message, ticket: Ticket, desk: Desk) -> None:
    """Queued for the desk (its pump posts at the group's pace and tells the person if Telegram refuses)."""
    await desk.queue_relay(ticket, message)


async def relay_edit_to_desk(message: Message, desk: Desk) -> None:
    ticket = await desk.tickets.open_for_user(message.chat.id)
    if ticket is None or not ticket.relay:
        return
    await desk.queue_relay(ticket, message, edited=True)  # posted only if the desk got the original


async def on_end(query: CallbackQuery, callback_data: EndCb, desk: Desk) -> None:
    ticket = await desk.tickets.get(callback_data.t)
    if ticket is None or ticket.user_id != query.from_user.id or not ticket.is_open or not ticket.relay:
        await query.answer(_(NOT_VALID))
        return
    await desk.end_relay(ticket, query.from_user.id)
    await query.answer()
    if query.message is not None:
        await query.message.answer(ended_text(ticket))


# ------------------------------------------------------------------------------------ rating

async def next_steps_text(desk: Desk, ticket: Ticket, lang: str) -> str:
    """What to do after a result the citizen disagrees with: a further complaint and the court, each with its
    last day, counted from the day the result came (docs/legal.md,
    'Further complaint' and 'Court'; bot.domain.next_steps)."""
    case = await desk.cases.get(ticket.case_id) if ticket.case_id is not None else None
    recipient = case.recipient_kind if case else None
    if recipient is None:
        stored = await desk.complaint_of(ticket)
        recipient = stored.complaint.recipient_kind if stored else None
    answered = desk.local_day(ticket.resolved_at) if ticket.resolved_at else desk.today()
    options = after_answer(recipient or "provider", answered, desk.today(), desk.cases.calendar)
    note = _("This is guidance, not legal advice.")
    return f"{render_options(options, _, lang)}\n\n<i>{escape(note)}</i>"


async def on_rate(query: CallbackQuery, callback_data: RateCb, lang: str, desk: Desk) -> None:
    ticket = await desk.tickets.get(callback_data.t)
    v = callback_data.v
    if ticket is None or ticket.user_id != query.from_user.id or ticket.status != TicketStatus.RESOLVED \
            or not 0 <= v <= 5:
        await query.answer(_(NOT_VALID))
        return
    updated = await (_disagree(query, desk, ticket, lang) if v == 0 else _rated(query, desk, ticket, v))
    if updated is None:
        return
    await desk.queue_refresh(updated)
    if isinstance(query.message, Message):  # (one too old to edit has no keyboard to change)
        try:
            await query.message.edit_reply_markup(reply_markup=rating_keyboard(updated))
        except Exception:  # the keyboard is cosmetic
            pass


async def _disagree(query: CallbackQuery, desk: Desk, ticket: Ticket, lang: str) -> Ticket | None:
    if ticket.disagreed:
        await query.answer()
        return None
    updated = await desk.rate(ticket, query.from_user.id, 0)
    await query.answer()
    if updated is None:
        return None
    await desk.queue_note(updated, "🙅 " + desk.o(N_("The citizen disagrees with the result.")))
    if query.message is not None:
        await query.message.answer(await next_steps_text(desk, updated, lang))
    return updated


async def _rated(query: CallbackQuery, desk: Desk, ticket: Ticket, value: int) -> Ticket | None:
    if ticket.rating is not None:
        await query.answer(_("You have already rated it. Thank you!"))
        return None
    updated = await desk.rate(ticket, query.from_user.id, value)
    await query.answer(_("Thank you for your rating!"))
    if updated is None:
        return None
    await desk.queue_note(updated, "⭐ " + desk.o(N_("The citizen rated the result: {n}/5.")).format(n=value))
    return updated


async def on_stale(query: CallbackQuery) -> None:
    """Malformed data under the desk's prefixes (an old keyboard, a forged press): answered, never left
    spinning."""
    await query.answer(_(NOT_VALID))


# ------------------------------------------------------------------------------------ routers

def get_early_router() -> Router:
    """Ends the relay on /cancel (or the cancel words) before start's /cancel sees it; see handlers/__init__.py."""
    router = FeatureRouter(name="operators.early")
    router.message.filter(Private())
    router.message.register(cancel_relay, StateFilter(None), Command("cancel"))
    router.message.register(cancel_relay, StateFilter(None), TextFoldedIn(CANCEL_WORDS))
    return router


def get_router() -> Router:
    router = DeskPart(name="operators.citizen")
    router.message.filter(Private())
    router.edited_message.filter(Private())
    router.callback_query.register(on_escalate, EscalateCb.filter())
    router.message.register(on_talk_to_person, MenuButton(BTN_HUMAN))
    router.message.register(relay_to_desk, StateFilter(None), OpenRelay())
    router.edited_message.register(relay_edit_to_desk, StateFilter(None))
    router.callback_query.register(on_end, EndCb.filter())
    router.callback_query.register(on_rate, RateCb.filter())
    router.callback_query.register(on_stale, DataMatch(r"^(dk|dkr|dke|esc)(:|$)"))
    return router
