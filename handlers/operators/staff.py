"""The operators' side of the desk: card buttons, the operator's input after a button (registration number
and date, extension, result, reason), replies relayed to the citizen, edits, /stats and /calendar.

Every action re-checks that the presser is an operator, that the ticket exists and that the button is on
THAT ticket's card (forged data for another ticket is refused), and that the ticket's status allows it; the
change and its audit entry are one transaction (``TicketsRepo.transition``).
"""

from __future__ import annotations

import html
import logging
from typing import Any

from aiogram import F, Router
from aiogram.filters import BaseFilter, Command, CommandObject
from aiogram.methods import SendMessage
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram.utils.i18n import gettext as _

from bot.desk import allowed, error_text, parse_calendar_add, parse_extension, parse_registration, statuses_for
from bot.i18n import plural_translator
from bot.workdays import Override
from handlers.operators.callbacks import DeskCb
from handlers.operators.citizen import rating_keyboard
from handlers.operators.service import CopySource, Desk, desk_of
from storage.tickets import OPEN_STATUSES, Ticket

log = logging.getLogger("shagym.desk")


def N_(s: str) -> str:
    return s


class OpsChat(BaseFilter):
    """The update comes from the configured operators' chat."""

    async def __call__(self, event: TelegramObject, settings: Any) -> bool:
        chat_id = settings.operators_chat_id
        if chat_id is None:
            return False
        chat = getattr(event, "chat", None)
        if chat is None and isinstance(event, CallbackQuery) and event.message is not None:
            chat = event.message.chat
        return chat is not None and chat.id == chat_id


# Commands for operators anywhere (private chat or the operators' chat); buttons are checked in the handler.
commands = Router(name="operators.commands")
# The operators' chat: the operator's input and replies to tickets (MasterGroosha's pattern: a chat filter).
group = Router(name="operators.group")
group.message.filter(OpsChat())
group.edited_message.filter(OpsChat())


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


# ------------------------------------------------------------------------------------ card buttons

PROMPTS = {
    "reg": N_("Ticket №{id}: send the registration number and date, e.g. «ЖТ-2027-00123 17.05.2027».{hint} "
              "Send - to cancel."),
    "ext": N_("Ticket №{id}: send the number of working days (1 to 10) and the reason, e.g. «7 on-site check». "
              "The citizen is told at once. Send - to cancel."),
    "res": N_("Ticket №{id}: send the result, as text or a document. It goes to the citizen, who is asked to "
              "rate it. Send - to cancel."),
    "rej": N_("Ticket №{id}: send the reason for rejecting. The citizen is told. Send - to cancel."),
}


@commands.callback_query(DeskCb.filter())
async def on_card_button(query: CallbackQuery, callback_data: DeskCb, app: Any) -> None:
    desk = desk_of(app)
    operator = query.from_user
    if not await desk.is_operator(operator.id):
        await query.answer(_("Only operators of the desk can do this."), show_alert=True)
        log.info("desk: a non-operator pressed a ticket button")
        return
    ticket = await desk.tickets.get(callback_data.t)
    msg = query.message
    if (ticket is None or msg is None or msg.chat.id != ticket.chat_id
            or msg.message_id != ticket.card_message_id):
        await query.answer(_("This button does not belong to a ticket here."), show_alert=True)
        return
    action = callback_data.a
    if not allowed(action, ticket.status, assignee_id=ticket.assignee_id, actor_id=operator.id,
                   has_case=ticket.case_id is not None):
        await query.answer(_("Not possible in the ticket's current state."), show_alert=True)
        await desk.refresh_card(ticket)
        return
    if action == "take":
        status = "taken" if ticket.status == "new" else ticket.status
        updated = await desk.tickets.transition(
            ticket.id, actor_id=operator.id, action="take", allowed=statuses_for("take"), at=desk.now(),
            detail={"from": ticket.assignee_id}, assignee_id=operator.id, status=status)
        if updated is None:
            await query.answer(_("Not possible in the ticket's current state."), show_alert=True)
            return
        await query.answer(_("The ticket is yours."))
        await desk.refresh_card(updated)
        return
    if action == "reg" and ticket.complaint_id is None:
        hint = " " + error_text("reg_no_recipient", desk.o)
    else:
        hint = ""
    await desk.form_set(msg.chat.id, operator.id, action, ticket.id)
    await query.answer()
    await desk.prompt(ticket, desk.o(PROMPTS[action]).format(id=ticket.id, hint=hint))


# ------------------------------------------------------------------------------------ the operators' chat

@group.message(~F.text.startswith("/"))
async def on_group_message(message: Message, app: Any) -> None:
    desk = desk_of(app)
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
    if ticket is None:
        return  # talk among operators
    if not await desk.is_operator(operator.id):
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


@group.edited_message()
async def on_group_edit(message: Message, app: Any) -> None:
    desk = desk_of(app)
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


async def handle_input(desk: Desk, message: Message, form: dict[str, Any]) -> None:
    _o = desk.o
    operator = message.from_user
    assert operator is not None
    ticket = await desk.tickets.get(int(form.get("ticket_id") or 0))
    action = str(form.get("action") or "")
    text = (message.text or message.caption or "").strip()
    if text == "-":
        await desk.form_clear(message.chat.id, operator.id)
        if ticket is not None:
            await desk.note(ticket, _o(N_("Cancelled.")))
        return
    if ticket is None or not await desk.is_operator(operator.id) or not allowed(
            action, ticket.status, has_case=ticket.case_id is not None):
        await desk.form_clear(message.chat.id, operator.id)
        if ticket is not None:
            await desk.note(ticket, _o(N_("Not possible in the ticket's current state.")))
        return
    if action == "reg":
        done = await do_register(desk, ticket, message, text)
    elif action == "ext":
        done = await do_extend(desk, ticket, message, text)
    elif action == "res":
        done = await do_resolve(desk, ticket, message, text)
    elif action == "rej":
        done = await do_reject(desk, ticket, message, text)
    else:
        done = True
    if done:
        await desk.form_clear(message.chat.id, operator.id)


async def _complaint(desk: Desk, ticket: Ticket):
    return await desk.complaints.get(ticket.complaint_id) if ticket.complaint_id is not None else None


async def do_register(desk: Desk, ticket: Ticket, message: Message, text: str) -> bool:
    parsed = parse_registration(text, desk.today())
    if isinstance(parsed, str):
        await desk.note(ticket, error_text(parsed, desk.o))
        return False
    stored = await _complaint(desk, ticket)
    recipient = parsed.recipient_kind or (stored.complaint.recipient_kind if stored else None)
    if recipient is None:
        await desk.note(ticket, error_text("reg_no_recipient", desk.o))
        return False
    c = stored.complaint if stored else None
    # The citizen may track this complaint in /my already: register THAT case (one case, one set of reminders).
    tracked = None
    if ticket.complaint_id is not None:
        tracked = next((k for k in await desk.cases.list_for_user(ticket.user_id, statuses=("open",))
                        if k.complaint_id == ticket.complaint_id and k.ticket_id is None), None)
    if tracked is not None:
        case = await desk.cases.register(tracked.id, recipient_kind=recipient, registered_on=parsed.registered_on,
                                         reg_number=parsed.reg_number, ticket_id=ticket.id, at=desk.now())
    else:
        case = await desk.cases.create(
            ticket.user_id, recipient, parsed.registered_on, filed_with=c.recipient_name if c else None,
            reg_number=parsed.reg_number, complaint_id=ticket.complaint_id, ticket_id=ticket.id,
            learned_on=c.learned_date if c else None, at=desk.now())
    updated = await desk.tickets.transition(
        ticket.id, actor_id=message.from_user.id, action="register", allowed=statuses_for("reg"),  # type: ignore[union-attr]
        detail={"case_id": case.id, "reg_number": parsed.reg_number,
                "registered_on": parsed.registered_on.isoformat(), "recipient": recipient},
        at=desk.now(), status="registered", case_id=case.id,
        assignee_id=ticket.assignee_id or message.from_user.id)  # type: ignore[union-attr]
    if updated is None:  # someone else acted first: the case must not live on
        if tracked is None:
            await desk.cases.set_status(case.id, "closed", at=desk.now())
        await desk.note(ticket, desk.o(N_("Not possible in the ticket's current state.")))
        return True
    await desk.reminder_service.schedule_case(case.id)
    await desk.refresh_card(updated)
    _case, deadlines = await desk.case_and_deadlines(updated)
    _o = desk.o
    if deadlines is not None:
        await desk.note(updated, "📌 " + _o(N_("Registered. Review due: {date}. Reminders are planned."))
                        .format(date=desk.ops_date(deadlines.review_due)))
        g, lang = await desk.citizen_gettext(updated)
        await desk.tell_citizen(updated, g(N_(
            "Your complaint was registered: № {number} of {registered}. The answer is due by {due}. I will "
            "remind you of the deadlines.")).format(
            number=_escape(parsed.reg_number), registered=desk.citizen_date(parsed.registered_on, lang),
            due=desk.citizen_date(deadlines.review_due, lang)))
    return True


async def do_extend(desk: Desk, ticket: Ticket, message: Message, text: str) -> bool:
    parsed = parse_extension(text)
    if isinstance(parsed, str):
        await desk.note(ticket, error_text(parsed, desk.o))
        return False
    days, reason = parsed
    case = await desk.cases.get(ticket.case_id) if ticket.case_id is not None else None
    if case is None:
        await desk.note(ticket, desk.o(N_("Not possible in the ticket's current state.")))
        return True
    today = max(desk.today(), case.registered_on)
    updated = await desk.tickets.transition(
        ticket.id, actor_id=message.from_user.id, action="extend", allowed=statuses_for("ext"),  # type: ignore[union-attr]
        detail={"days": days, "reason": reason, "on": today.isoformat()}, at=desk.now(), status="extended")
    if updated is None:
        await desk.note(ticket, desk.o(N_("Not possible in the ticket's current state.")))
        return True
    await desk.cases.set_extension(case.id, days, today, told_on=today, at=desk.now())
    await desk.reminder_service.schedule_case(case.id)
    _case, deadlines = await desk.case_and_deadlines(updated)
    await desk.refresh_card(updated)
    if deadlines is None:
        return True
    _g, lang = await desk.citizen_gettext(updated)
    ngettext = plural_translator(desk.i18n, lang)
    await desk.tell_citizen(updated, ngettext(
        "The review of your complaint {ref} was extended by {days} working day. Reason: {reason}. "
        "The new deadline is {date}.",
        "The review of your complaint {ref} was extended by {days} working days. Reason: {reason}. "
        "The new deadline is {date}.", days).format(
        ref=_escape(case.reg_number or f"№{ticket.id}"), days=days, reason=_escape(reason),
        date=desk.citizen_date(deadlines.review_due, lang)))
    ngettext = desk.o_plural
    await desk.note(updated, "⏳ " + ngettext(
        "Extended by {days} working day; new review due {date}. The citizen was told.",
        "Extended by {days} working days; new review due {date}. The citizen was told.", days).format(
        days=days, date=desk.ops_date(deadlines.review_due)))
    return True


async def _close(desk: Desk, ticket: Ticket, message: Message, *, action: str, status: str, detail: dict,
                 result: str, case_status: str) -> Ticket | None:
    """Resolve or reject: the ticket's transition (audited) and its tracked case's status; None if refused."""
    updated = await desk.tickets.transition(
        ticket.id, actor_id=message.from_user.id, action=action, allowed=OPEN_STATUSES,  # type: ignore[union-attr]
        detail=detail, at=desk.now(), status=status, resolved_at=desk.now(), result=result[:2000], relay=False)
    if updated is None:
        await desk.note(ticket, desk.o(N_("Not possible in the ticket's current state.")))
        return None
    if updated.case_id is not None:
        case = await desk.cases.get(updated.case_id)
        if case is not None and case.status == "open":
            await desk.cases.set_status(case.id, case_status, at=desk.now())
    return updated


async def do_resolve(desk: Desk, ticket: Ticket, message: Message, text: str) -> bool:
    has_file = message.document is not None or message.photo is not None
    if not text and not has_file:
        await desk.note(ticket, desk.o(N_("Please send the result as text or a document.")))
        return False
    result = text
    if message.document is not None:
        result = f"[{message.document.file_name or 'document'}] {text}".strip()
    elif message.photo is not None:
        result = f"[photo] {text}".strip()
    # The result reaches the citizen FIRST: a ticket is resolved only once Telegram took the result.
    g, _lang = await desk.citizen_gettext(ticket)
    header = "✅ " + g(N_("The result of your request (ticket №{id}):")).format(id=ticket.id)
    delivered = await desk._copy(to_chat=ticket.user_id, source=CopySource.of(message), header=header, place={})
    if not delivered.ok:
        log.warning("desk: the result of ticket %s was not delivered: %s", ticket.id, delivered.error)
        await desk.note(ticket, "⚠️ " + desk.o(N_("The result could not be delivered to the citizen, so the ticket "
                                                  "stays open. Send the result again, or send - to cancel.")))
        return False  # the form stays: the next message is the result again
    updated = await _close(desk, ticket, message, action="resolve", status="resolved",
                           detail={"result": result[:500]}, result=result, case_status="answered")
    if updated is None:
        return True
    await desk.sender.send(SendMessage(
        chat_id=updated.user_id,
        text=g(N_("Please rate how your request was handled, from 1 (bad) to 5 (excellent). If you disagree with "
                  "the result, press «I disagree» to see what you can do next.")),
        reply_markup=rating_keyboard(updated, g)), chat_id=updated.user_id)
    await desk.refresh_card(updated)
    await desk.note(updated, "✅ " + desk.o(N_("Resolved; the result was sent to the citizen.")))
    return True


async def do_reject(desk: Desk, ticket: Ticket, message: Message, text: str) -> bool:
    if len(text) < 3:
        await desk.note(ticket, desk.o(N_("Please give the reason.")))
        return False
    updated = await _close(desk, ticket, message, action="reject", status="rejected",
                           detail={"reason": text[:500]}, result=text, case_status="closed")
    if updated is None:
        return True
    g, _lang = await desk.citizen_gettext(updated)
    told = await desk.tell_citizen(updated, "⛔ " + g(N_(
        "The desk closed your request (ticket №{id}) without further action. Reason: {reason}\n\nYou can still "
        "file a complaint yourself: /complaint.")).format(id=updated.id, reason=_escape(text[:1500])))
    await desk.refresh_card(updated)
    await desk.note(updated, "⛔ " + (desk.o(N_("Rejected; the citizen was told.")) if told.ok else desk.o(N_(
        "Rejected, but the message could not be delivered to the citizen."))))
    return True


# ------------------------------------------------------------------------------------ /stats, /calendar

@commands.message(Command("stats"))
async def on_stats(message: Message, app: Any) -> None:
    desk = desk_of(app)
    if message.from_user is None or not await desk.is_operator(message.from_user.id):
        await message.answer(_("This command is for operators of the desk only."))
        return
    await message.answer(await desk.stats_text())


@commands.message(Command("calendar"))
async def on_calendar(message: Message, command: CommandObject, app: Any) -> None:
    desk = desk_of(app)
    if message.from_user is None or not await desk.is_operator(message.from_user.id):
        await message.answer(_("This command is for operators of the desk only."))
        return
    _o = desk.o
    args = (command.args or "").split()
    sub = args[0].lower() if args else "list"
    cal = desk.calendars.calendar
    today = desk.today()
    if sub == "list":
        stored = await desk.calendars.list()
        lines = ["🗓 <b>" + _o(N_("Working-day calendar")) + "</b>"]
        years = [y for y in (today.year, today.year + 1)]
        for y in years:
            state = _o(N_("verified")) if cal.is_verified(y) else _o(N_("NOT verified"))
            lines.append(f"{y}: {state}")
        if stored:
            lines.append(_o(N_("Recorded by operators:")))
            for s in stored:
                o = s.override
                lines.append(f"• {o.day.isoformat()} {o.kind} — {_escape(o.source)}")
        else:
            lines.append(_o(N_("No days recorded by operators yet.")))
        lines.append("")
        lines.append(error_text("cal_usage", _o))
        await message.answer("\n".join(lines))
        return
    if sub != "add":
        await message.answer(error_text("cal_usage", _o))
        return
    parsed = parse_calendar_add(args[1:])
    if isinstance(parsed, str):
        await message.answer(error_text(parsed, _o))
        return
    day, kind, working, source = parsed
    await desk.calendars.add(Override(day, kind, working, source), added_by=message.from_user.id, at=desk.now())
    await desk.tickets.audit(None, message.from_user.id, "calendar_add",
                             {"day": day.isoformat(), "kind": kind, "working": working, "source": source},
                             at=desk.now())
    n = await desk.replan_open_cases()
    what = _o(N_("a working day")) if working else _o(N_("a day off"))
    ngettext = desk.o_plural
    await message.answer(ngettext(
        "Recorded: {date} is {what} ({kind}). Deadlines now use it; reminders of {n} open case were re-planned.",
        "Recorded: {date} is {what} ({kind}). Deadlines now use it; reminders of {n} open cases were re-planned.",
        n).format(date=day.isoformat(), what=what, kind=kind, n=n))
