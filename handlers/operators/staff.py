"""The operators' side of the desk: card buttons, the operator's input after a button (registration number
and date, extension, result, reason), replies relayed to the citizen, edits, /stats and /calendar.

Every action re-checks that the presser is an operator, that the ticket exists and that the button is on
THAT ticket's card (forged data for another ticket is refused), and that the ticket's status allows it; the
change and its audit entry are one transaction (bot.services.desk, ``TicketsRepo.transition``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from aiogram import F, Router
from aiogram.filters import BaseFilter, Command, CommandObject
from aiogram.methods import SendMessage
from aiogram.types import BufferedInputFile, CallbackQuery, Message, TelegramObject
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.domain.desk import (
    allowed,
    error_text,
    parse_calendar_add,
    parse_calendar_verify,
    parse_extension,
    parse_registration,
)
from bot.domain.entities import Ticket
from bot.domain.ports import CalendarRepo
from bot.domain.text import N_, escape
from bot.domain.workdays import KURBAN_AIT, Override
from bot.services.background import spawn
from bot.services.desk import Desk
from bot.services.desk_outbox import CopySource
from bot.services.desk_sla import DeskSla
from bot.services.i18n import plural_translator
from handlers.common import Magic
from handlers.operators.callbacks import DeskAction, DeskCb
from handlers.operators.keyboards import rating_keyboard
from handlers.operators.parts import DeskPart

__all__ = ["get_commands_router", "get_group_router"]

log = logging.getLogger("shagym.desk")

NOT_POSSIBLE = N_("Not possible in the ticket's current state.")
PROMPTS = {
    DeskAction.REGISTER: N_("Ticket №{id}: send the registration number and date, e.g. «ЖТ-2027-00123 17.05.2027»."
                            "{hint} Send - to cancel."),
    DeskAction.EXTEND: N_("Ticket №{id}: send the number of working days (1 to 10) and the reason, e.g. «7 on-site "
                          "check». The citizen is told at once. Send - to cancel."),
    DeskAction.RESOLVE: N_("Ticket №{id}: send the result, as text or a document. It goes to the citizen, who is asked "
                           "to rate it. Send - to cancel."),
    DeskAction.REJECT: N_("Ticket №{id}: send the reason for rejecting. The citizen is told. Send - to cancel."),
}


class OpsChat(BaseFilter):
    """The update comes from the configured operators' chat."""

    async def __call__(self, event: TelegramObject, settings: Settings) -> bool:
        return self.quick(event, {"settings": settings})

    def quick(self, event: TelegramObject, data: dict[str, Any]) -> bool:  # handlers/routing.py: all it checks
        chat_id = data["settings"].operators_chat_id
        if chat_id is None:
            return False
        chat = getattr(event, "chat", None)
        if chat is None and isinstance(event, CallbackQuery) and event.message is not None:
            chat = event.message.chat
        return chat is not None and chat.id == chat_id


# ------------------------------------------------------------------------------------ card buttons

async def _card_ticket(query: CallbackQuery, cb: DeskCb, desk: Desk) -> Ticket | None:
    """The ticket whose card this button is on, when an operator pressed it and its status allows the action;
    else the press is answered (and the card refreshed when the status moved on) and None."""
    if not await desk.is_operator(query.from_user.id):
        await query.answer(_("Only operators of the desk can do this."), show_alert=True)
        log.info("desk: a non-operator pressed a ticket button")
        return None
    ticket = await desk.tickets.get(cb.t)
    msg = query.message
    if ticket is None or msg is None or msg.chat.id != ticket.chat_id or msg.message_id != ticket.card_message_id:
        await query.answer(_("This button does not belong to a ticket here."), show_alert=True)
        return None
    if not allowed(cb.a, ticket.status, assignee_id=ticket.assignee_id, actor_id=query.from_user.id,
                   has_case=ticket.case_id is not None):
        await query.answer(_(NOT_POSSIBLE), show_alert=True)
        await desk.refresh_card(ticket)
        return None
    return ticket


async def on_take(query: CallbackQuery, callback_data: DeskCb, desk: Desk) -> None:
    ticket = await _card_ticket(query, callback_data, desk)
    if ticket is None:
        return
    updated = await desk.take(ticket, query.from_user.id)
    if updated is None:
        await query.answer(_(NOT_POSSIBLE), show_alert=True)
        return
    await query.answer(_("The ticket is yours."))
    await desk.refresh_card(updated)


async def on_ask_input(query: CallbackQuery, callback_data: DeskCb, desk: Desk) -> None:
    """Register, extend, resolve, reject: the operator's next message in the chat is the input."""
    ticket = await _card_ticket(query, callback_data, desk)
    if ticket is None or query.message is None:
        return
    action = DeskAction(callback_data.a)
    hint = " " + error_text("reg_no_recipient", desk.o) if action == DeskAction.REGISTER and \
        ticket.complaint_id is None else ""
    await desk.form_set(query.message.chat.id, query.from_user.id, DeskAction(action).value, ticket.id)
    await query.answer()
    await desk.prompt(ticket, desk.o(PROMPTS[action]).format(id=ticket.id, hint=hint))


async def on_other_action(query: CallbackQuery, callback_data: DeskCb, desk: Desk) -> None:
    """An action the desk does not have (forged, or from an older card): no status allows it."""
    if await _card_ticket(query, callback_data, desk) is not None:  # never: no status allows it
        await query.answer(_(NOT_POSSIBLE), show_alert=True)


# ------------------------------------------------------------------------------------ the operators' chat

async def on_group_message(message: Message, desk: Desk) -> None:
    operator = message.from_user
    if operator is None or operator.is_bot:
        return
    form = await desk.form_get(message.chat.id, operator.id)
    if form is not None:
        await handle_input(desk, message, form)
        return
    ticket: Ticket | None = None
    if message.is_topic_message and message.message_thread_id:
        ticket = await desk.tickets.by_thread(message.chat.id, message.message_thread_id)
    if ticket is None and message.reply_to_message is not None:
        ticket = await desk.tickets.by_group_message(message.chat.id, message.reply_to_message.message_id)
    if ticket is None or not await desk.is_operator(operator.id):
        return  # talk among operators
    if ticket.erased_at is not None:
        await desk.note(ticket, desk.o(N_("Ticket №{id}: the citizen's data is erased, so this message was not sent "
                                          "to anyone.")).format(id=ticket.id))
        return
    if not ticket.is_open:
        await desk.note(ticket, desk.o(N_("Ticket №{id} is closed: this message was not sent to the citizen."))
                        .format(id=ticket.id))
        return
    if await desk.relay_out(ticket, message):
        await desk.tickets.audit(ticket.id, operator.id, "reply", {"message_id": message.message_id}, at=desk.now())
    else:
        await desk.note(ticket, desk.o(N_("Could not deliver this message to the citizen (they may have blocked "
                                          "the bot).")))


async def on_group_edit(message: Message, desk: Desk) -> None:
    if message.from_user is None or not await desk.is_operator(message.from_user.id):
        return
    mapped = await desk.tickets.find_out(message.chat.id, message.message_id)
    if mapped is None:
        return
    ticket = await desk.tickets.get(mapped.ticket_id)
    if ticket is None or not ticket.is_open:
        return
    if await desk.relay_out(ticket, message, edited=True):
        await desk.tickets.audit(ticket.id, message.from_user.id, "reply_edited",
                                 {"message_id": message.message_id}, at=desk.now())


# ------------------------------------------------------------------------------------ the operator's input

Step = Callable[[Desk, Ticket, Message, str], Awaitable[bool]]


async def handle_input(desk: Desk, message: Message, form: dict[str, Any]) -> None:
    operator = message.from_user
    assert operator is not None
    ticket = await desk.tickets.get(int(form.get("ticket_id") or 0))
    action = str(form.get("action") or "")
    text = (message.text or message.caption or "").strip()
    if text == "-":
        await desk.form_clear(message.chat.id, operator.id)
        if ticket is not None:
            await desk.note(ticket, desk.o(N_("Cancelled.")))
        return
    if ticket is None or not await desk.is_operator(operator.id) or not allowed(
            action, ticket.status, has_case=ticket.case_id is not None):
        await desk.form_clear(message.chat.id, operator.id)
        if ticket is not None:
            await desk.note(ticket, desk.o(NOT_POSSIBLE))
        return
    step = _STEPS.get(action)
    if step is None or await step(desk, ticket, message, text):
        await desk.form_clear(message.chat.id, operator.id)


def _operator_id(message: Message) -> int:
    assert message.from_user is not None  # the operators' input comes from a person
    return message.from_user.id


async def do_register(desk: Desk, ticket: Ticket, message: Message, text: str) -> bool:
    parsed = parse_registration(text, desk.today())
    if isinstance(parsed, str):
        await desk.note(ticket, error_text(parsed, desk.o))
        return False
    stored = await desk.complaint_of(ticket)
    recipient = parsed.recipient_kind or (stored.complaint.recipient_kind if stored else None)
    if recipient is None:
        await desk.note(ticket, error_text("reg_no_recipient", desk.o))
        return False
    updated = await desk.register(ticket, _operator_id(message), parsed, recipient)
    if updated is None:  # someone else acted first
        await desk.note(ticket, desk.o(NOT_POSSIBLE))
        return True
    await desk.refresh_card(updated)
    _case, deadlines = await desk.case_and_deadlines(updated)
    if deadlines is not None:
        await desk.note(updated, "📌 " + desk.o(N_("Registered. Review due: {date}. Reminders are planned."))
                        .format(date=desk.ops_date(deadlines.review_due)))
        g, lang = await desk.citizen_gettext(updated)
        await desk.tell_citizen(updated, g(N_(
            "Your complaint was registered: № {number} of {registered}. The answer is due by {due}. I will "
            "remind you of the deadlines.")).format(
            number=escape(parsed.reg_number), registered=desk.citizen_date(parsed.registered_on, lang),
            due=desk.citizen_date(deadlines.review_due, lang)))
    return True


async def do_extend(desk: Desk, ticket: Ticket, message: Message, text: str) -> bool:
    parsed = parse_extension(text)
    if isinstance(parsed, str):
        await desk.note(ticket, error_text(parsed, desk.o))
        return False
    days, reason = parsed
    updated = await desk.extend(ticket, _operator_id(message), days, reason)
    if updated is None:
        await desk.note(ticket, desk.o(NOT_POSSIBLE))
        return True
    case, deadlines = await desk.case_and_deadlines(updated)
    await desk.refresh_card(updated)
    if case is None or deadlines is None:
        return True
    _g, lang = await desk.citizen_gettext(updated)
    ngettext = plural_translator(desk.i18n, lang)
    await desk.tell_citizen(updated, ngettext(
        "The review of your complaint {ref} was extended by {days} working day. Reason: {reason}. "
        "The new deadline is {date}.",
        "The review of your complaint {ref} was extended by {days} working days. Reason: {reason}. "
        "The new deadline is {date}.", days).format(
        ref=escape(case.reg_number or f"№{ticket.id}"), days=days, reason=escape(reason),
        date=desk.citizen_date(deadlines.review_due, lang)))
    ngettext = desk.o_plural
    await desk.note(updated, "⏳ " + ngettext(
        "Extended by {days} working day; new review due {date}. The citizen was told.",
        "Extended by {days} working days; new review due {date}. The citizen was told.", days).format(
        days=days, date=desk.ops_date(deadlines.review_due)))
    return True


def _result_of(message: Message, text: str) -> str:
    if message.document is not None:
        return f"[{message.document.file_name or 'document'}] {text}".strip()
    if message.photo is not None:
        return f"[photo] {text}".strip()
    return text


async def do_resolve(desk: Desk, ticket: Ticket, message: Message, text: str) -> bool:
    if not text and message.document is None and message.photo is None:
        await desk.note(ticket, desk.o(N_("Please send the result as text or a document.")))
        return False
    if ticket.user_id is None:  # erased (closed): never here, the form checks the status first
        await desk.note(ticket, desk.o(NOT_POSSIBLE))
        return True
    citizen = ticket.user_id
    result = _result_of(message, text)
    # The result reaches the citizen FIRST: a ticket is resolved only once Telegram took the result.
    g, _lang = await desk.citizen_gettext(ticket)
    header = "✅ " + g(N_("The result of your request (ticket №{id}):")).format(id=ticket.id)
    delivered = await desk.copy(to_chat=citizen, source=CopySource.of(message), header=header, place={})
    if not delivered.ok:
        log.warning("desk: the result of ticket %s was not delivered: %s", ticket.id, delivered.error)
        await desk.note(ticket, "⚠️ " + desk.o(N_("The result could not be delivered to the citizen, so the ticket "
                                                  "stays open. Send the result again, or send - to cancel.")))
        return False  # the form stays: the next message is the result again
    updated = await desk.close(ticket, _operator_id(message), resolved=True, detail={"result": result[:500]},
                               result=result)
    if updated is None:
        await desk.note(ticket, desk.o(NOT_POSSIBLE))
        return True
    await desk.sender.send(SendMessage(
        chat_id=citizen,
        text=g(N_("Please rate how your request was handled, from 1 (bad) to 5 (excellent). If you disagree with "
                  "the result, press «I disagree» to see what you can do next.")),
        reply_markup=rating_keyboard(updated, g)), chat_id=citizen)
    await desk.refresh_card(updated)
    await desk.note(updated, "✅ " + desk.o(N_("Resolved; the result was sent to the citizen.")))
    return True


async def do_reject(desk: Desk, ticket: Ticket, message: Message, text: str) -> bool:
    if len(text) < 3:
        await desk.note(ticket, desk.o(N_("Please give the reason.")))
        return False
    updated = await desk.close(ticket, _operator_id(message), resolved=False, detail={"reason": text[:500]},
                               result=text)
    if updated is None:
        await desk.note(ticket, desk.o(NOT_POSSIBLE))
        return True
    g, _lang = await desk.citizen_gettext(updated)
    told = await desk.tell_citizen(updated, "⛔ " + g(N_(
        "The desk closed your request (ticket №{id}) without further action. Reason: {reason}\n\nYou can still "
        "file a complaint yourself: /complaint.")).format(id=updated.id, reason=escape(text[:1500])))
    await desk.refresh_card(updated)
    await desk.note(updated, "⛔ " + (desk.o(N_("Rejected; the citizen was told.")) if told.ok else desk.o(N_(
        "Rejected, but the message could not be delivered to the citizen."))))
    return True


_STEPS: dict[str, Step] = {
    DeskAction.REGISTER: do_register,
    DeskAction.EXTEND: do_extend,
    DeskAction.RESOLVE: do_resolve,
    DeskAction.REJECT: do_reject,
}


# ------------------------------------------------------------------------------------ /stats, /calendar

async def _refused(message: Message, desk: Desk) -> bool:
    if message.from_user is None or not await desk.is_operator(message.from_user.id):
        await message.answer(_("This command is for operators of the desk only."))
        return True
    return False


async def on_stats(message: Message, desk: Desk, desk_sla: DeskSla) -> None:
    if await _refused(message, desk):
        return
    facts = await desk_sla.facts()  # every ticket with its deadline: read once for the figures and the chart
    await message.answer(await desk_sla.stats_text(facts))
    try:
        chart = await desk_sla.stats_chart(facts)
    except Exception as exc:  # the figures are out already; the chart is a bonus
        log.warning("desk: the /stats chart failed: %s", type(exc).__name__)
        return
    await message.answer_photo(BufferedInputFile(chart, filename="stats.png"))


async def on_calendar(message: Message, command: CommandObject, desk: Desk, calendars: CalendarRepo) -> None:
    if await _refused(message, desk):
        return
    args = (command.args or "").split()
    sub = args[0].lower() if args else "list"
    if sub == "list":
        await message.answer(await _calendar_list(desk, calendars))
    elif sub == "add":
        await message.answer(await _calendar_add(desk, calendars, _operator_id(message), args[1:],
                                                 message.chat.id))
    elif sub == "verify":
        await message.answer(await _calendar_verify(desk, calendars, _operator_id(message), args[1:]))
    else:
        await message.answer(error_text("cal_usage", desk.o))


async def _calendar_list(desk: Desk, calendars: CalendarRepo) -> str:
    _o = desk.o
    cal = calendars.calendar
    today = desk.today()
    lines = ["🗓 <b>" + _o(N_("Working-day calendar")) + "</b>"]
    for y in (today.year, today.year + 1):
        state = _o(N_("verified")) if cal.is_verified(y) else _o(N_("NOT verified"))
        lines.append(f"{y}: {state}")
    stored = await calendars.overrides()
    if stored:
        lines.append(_o(N_("Recorded by operators:")))
        for s in stored:
            o = s.override
            line = f"• {o.day.isoformat()} {o.kind} — {escape(o.source)}"
            if o.kind == KURBAN_AIT and cal.kurban_ait(o.day.year) != o.day:  # corrected by a later entry
                line += " (" + _o(N_("replaced by a later entry")) + ")"
            lines.append(line)
    else:
        lines.append(_o(N_("No days recorded by operators yet.")))
    lines.append("")
    lines.append(error_text("cal_usage", _o))
    return "\n".join(lines)


async def _calendar_add(desk: Desk, calendars: CalendarRepo, operator_id: int, args: list[str],
                        chat_id: int) -> str:
    """A day recorded (audited); the open cases it can move are re-planned in the background and the chat is
    told when that is done (on a big database it takes minutes: the bot keeps answering everyone meanwhile)."""
    parsed = parse_calendar_add(args)
    if isinstance(parsed, str):
        return error_text(parsed, desk.o)
    day, kind, working, source = parsed
    before = calendars.calendar
    after = await calendars.add(Override(day, kind, working, source), added_by=operator_id, at=desk.now())
    # every day the fact changed (a corrected Kurban Ait date frees the one before): their cases are re-planned
    also = tuple(d for d in after.days_changed(before, day.year) if d != day)
    await desk.tickets.audit(None, operator_id, "calendar_add",
                             {"day": day.isoformat(), "kind": kind, "working": working, "source": source},
                             at=desk.now())
    what = desk.o(N_("a working day")) if working else desk.o(N_("a day off"))
    spawn(_replan_and_tell(desk, chat_id, day, what, kind, also))
    return desk.o(N_("Recorded: {date} is {what} ({kind}). Deadlines now use it; the reminders of the open cases "
                     "it can move are being re-planned, you will be told when that is done.")).format(
        date=day.isoformat(), what=what, kind=kind)


async def _calendar_verify(desk: Desk, calendars: CalendarRepo, operator_id: int, args: list[str]) -> str:
    """A year marked verified (audited): its deadlines are no longer provisional and the December reminder
    stops. Its Kurban Ait date must be recorded first: it is the one fact the calendar cannot compute."""
    parsed = parse_calendar_verify(args, desk.today())
    if isinstance(parsed, str):
        return error_text(parsed, desk.o)
    year, source = parsed
    if calendars.calendar.kurban_ait(year) is None:
        return error_text("cal_no_kurban", desk.o)
    await calendars.verify(year, source, verified_by=operator_id, at=desk.now())
    await desk.tickets.audit(None, operator_id, "calendar_verify", {"year": year, "source": source},
                             at=desk.now())
    return desk.o(N_("Recorded: the working-day calendar for {year} is verified ({source}). Its deadlines are no "
                     "longer marked provisional.")).format(year=year, source=escape(source))


async def _replan_and_tell(desk: Desk, chat_id: int, day: date, what: str, kind: str,
                           also: tuple[date, ...]) -> None:
    try:
        n = await desk.cases.replan_for_day(day, also=also)
    except Exception:  # the operators must hear about it: the day is recorded, the reminders are not
        log.exception("calendar: re-planning after %s failed", day)
        await desk.sender.send_message(chat_id, desk.o(N_(
            "Re-planning the reminders after the calendar change failed; see the log.")))
        return
    ngettext = desk.o_plural
    await desk.sender.send_message(chat_id, ngettext(
        "Recorded: {date} is {what} ({kind}). Deadlines now use it; reminders of {n} open case were re-planned.",
        "Recorded: {date} is {what} ({kind}). Deadlines now use it; reminders of {n} open cases were re-planned.",
        n).format(date=day.isoformat(), what=what, kind=kind, n=n))


# ------------------------------------------------------------------------------------ routers

def get_commands_router() -> Router:
    """Commands for operators anywhere (private chat or the operators' chat); buttons are checked in the
    handler."""
    router = DeskPart(name="operators.commands")
    router.callback_query.register(on_take, DeskCb.filter(F.a == DeskAction.TAKE))
    router.callback_query.register(on_ask_input, DeskCb.filter(F.a.in_(set(PROMPTS))))
    router.callback_query.register(on_other_action, DeskCb.filter())
    router.message.register(on_stats, Command("stats"))
    router.message.register(on_calendar, Command("calendar"))
    return router


def get_group_router() -> Router:
    """The operators' chat: the operator's input and replies to tickets (MasterGroosha's pattern: a chat
    filter)."""
    router = DeskPart(name="operators.group")
    router.message.filter(OpsChat())
    router.edited_message.filter(OpsChat())
    router.message.register(on_group_message, Magic(~F.text.startswith("/")))
    router.edited_message.register(on_group_edit)
    return router
