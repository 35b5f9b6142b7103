"""Tracking of filed complaints: /my, "track this complaint", the deadline timeline and what the person records
later (extension, answer, no answer yet, closed), plus the reminders on/off switch.

The dates come from the legal core (bot.deadlines.compute via ReminderService.deadlines_of); this module
only asks questions, stores the answers (storage.cases) and renders the results with gettext.

Callback data (all < 64 bytes):

* ``trk:<a>:<id>`` (:class:`TrkCb`) -- actions on the list and on one case; ``id`` is a case id
  (open/ext/ans/wait/close), a saved complaint id (cpl), or 0 (new, list, roff, ron). Ownership of the
  case / complaint is checked on every press; a foreign or unknown id gets "This button is no longer valid."
* ``trkw:<a>:<v>`` (:class:`TrkWizCb`) -- answers inside the question flows (rk: recipient kind,
  fw: forwarded y/n, xd: extension days, sk: skip, x: cancel); only valid in the matching state.

FSM states: :class:`TrackingForm` (a new case) and :class:`TrackingEvent` (an extension); the data holds
plain JSON (dates as ISO strings).
"""

from __future__ import annotations

import html
from datetime import date
from typing import Any

from aiogram import Bot, F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n, gettext as _, ngettext
from babel.dates import format_date

from bot.complaint import parse_date, recipient_label
from bot.config import Settings
from bot.deadlines import (
    EXTENSION_MAX,
    REVIEW_TERMS,
    DeadlineError,
    Deadlines,
    Recipient,
    extension_notice_late,
    working_days_left,
)
from bot.reminder_loop import ReminderService
from bot.reminders import case_ref, filing_limit_after_miss, next_step
from handlers.common import BTN_COMPLAINT, BTN_HUMAN, BTN_MY, BTN_QUESTIONS, MenuButton, RowId, is_menu_button
from storage.calendar import CalendarRepo
from storage.cases import Case, CasesRepo
from storage.complaints import ComplaintsRepo
from storage.users import User, UsersRepo

router = Router(name="tracking")
router.message.filter(F.chat.type == "private")


def N_(message: str) -> str:
    return message


NOT_VALID = N_("This button is no longer valid.")
MAX_UNTRACKED = 5  # saved complaints offered for tracking in /my
MAX_CASES = 10  # cases listed in /my (open ones first), so the message stays well under 4096 characters
MAX_TEXT = 200  # filed_with / reg_number


# ------------------------------------------------------------------------------------ callbacks, states

class TrkCb(CallbackData, prefix="trk"):
    a: str  # open ext ans wait close cpl new list roff ron
    id: RowId = 0


class TrkWizCb(CallbackData, prefix="trkw"):
    a: str  # rk fw xd sk x
    v: str = ""


class TrackingForm(StatesGroup):
    recipient = State()
    filed_with = State()
    forwarded = State()
    registered = State()
    reg_number = State()
    learned_on = State()


class TrackingEvent(StatesGroup):
    ext_days = State()
    ext_on = State()
    ext_told = State()


FORM_STEPS = ("recipient", "filed_with", "forwarded", "registered", "reg_number", "learned_on")


# ------------------------------------------------------------------------------------ labels

_ITEM_LABELS = {
    "registered": N_("Complaint registered"),
    "forwarding_due": N_("Last day to forward it to the body that reviews it"),
    "review_due_original": N_("Original deadline for the answer"),
    "review_due": N_("Deadline for the answer"),
    "extension_notice_due": N_("Last day to tell you about the extension"),
    "escalate_from": N_("No answer by now is inaction: you can appeal it"),
    "filing_limit": N_("Your 3-month limit for filing ends"),
}
_BASIS_LABELS = {
    "appk_64_3_registration": N_(
        "APPK art. 64 p. 3: a complaint that arrives after hours or on a day off is registered on the next "
        "working day"),
    "appk_91_4_forwarding": N_("APPK art. 91 p. 4: forwarded within 3 working days of arrival"),
    "law_public_services_25_provider_5": N_(
        "Law on public services, art. 25: the service provider reviews it within 5 working days"),
    "law_public_services_25_quality_authority_15": N_(
        "Law on public services, art. 25: the quality authority reviews it within 15 working days"),
    "law_public_services_25_local_executive_5": N_(
        "Law on public services, art. 25: the akim (local executive body) reviews it within 5 working days"),
    "extension_max_10": N_("The review term may be extended by at most 10 working days"),
    "extension_notice_3": N_("You must be told of an extension, with its reasons, within 3 working days"),
    "review_missed_inaction": N_(
        "No answer within the review term is inaction, which you can appeal to the quality authority, a higher "
        "body or the court"),
    "appk_92_filing_limit": N_(
        "APPK art. 92: 3 calendar months from the day you learned of the decision; a missed limit can be "
        "restored for a valid reason"),
}
_STATUS_LABELS = {
    "open": N_("waiting for the answer"),
    "answered": N_("answer received"),
    "closed": N_("closed by you"),
}
_RECIPIENT_BUTTONS = {
    "provider": N_("Service provider · 5 working days"),
    "quality_authority": N_("Quality authority · 15 working days"),
    "akim": N_("Akim · 5 working days"),
}


def item_label(key: str) -> str:
    msgid = _ITEM_LABELS.get(key)
    return _(msgid) if msgid else key


def basis_label(key: str) -> str:
    msgid = _BASIS_LABELS.get(key)
    return _(msgid) if msgid else key


def status_label(status: str) -> str:
    msgid = _STATUS_LABELS.get(status)
    return _(msgid) if msgid else status


# ------------------------------------------------------------------------------------ helpers

def esc(text: str) -> str:
    return html.escape(text, quote=False)


def fmt(day: date, lang: str) -> str:
    return format_date(day, format="long", locale=lang)


def today_of(clock, settings: Settings) -> date:
    return clock.now().astimezone(settings.tz).date()


def case_button_text(case: Case) -> str:
    """Plain text for a button (no HTML)."""
    name = (case.filed_with or "").strip()
    if len(name) > 28:
        name = name[:27] + "…"
    bits = [b for b in (name, f"№ {case.reg_number.strip()}" if case.reg_number else "") if b]
    return "📂 " + (" · ".join(bits) if bits else f"#{case.id}")


def days_left_text(n: int) -> str:
    if n > 0:
        return ngettext("{n} working day left", "{n} working days left", n).format(n=n)
    if n == 0:
        return _("the answer is due today")
    return ngettext("overdue by {n} working day", "overdue by {n} working days", -n).format(n=-n)


def next_item(deadlines: Deadlines, today: date):
    """The next date of the timeline (today included), registration aside."""
    return next((i for i in deadlines.items if i.key != "registered" and i.day >= today), None)


def timeline_text(case: Case, deadlines: Deadlines, lang: str, cal: Any) -> str:
    lines = [
        _("<b>Complaint {ref}</b>").format(ref=case_ref(case)),
        _("Reviewed by: {recipient}").format(recipient=recipient_label(case.recipient_kind, _)),
        _("Status: {status}").format(status=status_label(case.status)),
    ]
    if case.forwarded_via_provider:
        lines.append(_("Filed with the service provider, to be forwarded to the quality authority."))
    term = ngettext("Review term: {n} working day", "Review term: {n} working days",
                    deadlines.review_term).format(n=deadlines.review_term)
    if deadlines.extended_by:
        term += "; " + ngettext("extended by {n} working day", "extended by {n} working days",
                                deadlines.extended_by).format(n=deadlines.extended_by)
    lines.append(term)
    lines.append("")
    lines.append(_("<b>Dates</b>"))
    for item in deadlines.items:
        lines.append(f"• <b>{fmt(item.day, lang)}</b>: {item_label(item.key)}")
        lines.append(f"   <i>{basis_label(item.basis)}</i>")
    notes = []
    if deadlines.filing_limit_missed:
        notes.append(_(
            "⚠️ The complaint seems to have been filed after the 3-month limit. It may still be reviewed: a "
            "missed limit can be restored for a valid reason; explain the reason in the complaint."))
    if case.extended_by and case.extension_told_on is not None and deadlines.extended_on is not None and \
            extension_notice_late(deadlines.extended_on, case.extension_told_on, cal):
        notes.append(late_notice_text(case.extension_told_on, deadlines, lang))
    if deadlines.provisional:
        notes.append(_(
            "ℹ️ Some of these dates fall in a year whose official calendar of days off is not confirmed yet: "
            "they may shift by a day or two."))
    if notes:
        lines.append("")
        lines.extend(notes)
    lines.append("")
    lines.append("<i>" + _("This is guidance, not legal advice.") + "</i>")
    return "\n".join(lines)


def late_notice_text(told_on: date, deadlines: Deadlines, lang: str) -> str:
    due = deadlines.extension_notice_due
    return _(
        "⚠️ You were told about the extension on {told}, later than 3 working days after it (by {due}). This "
        "breaches the notice rule: you may point it out in a further complaint."
    ).format(told=fmt(told_on, lang), due=fmt(due, lang) if due else "")


def case_keyboard(case: Case) -> InlineKeyboardMarkup:
    rows = []
    if case.status == "open":
        rows += [
            [InlineKeyboardButton(text=_("⏳ They extended it"), callback_data=TrkCb(a="ext", id=case.id).pack()),
             InlineKeyboardButton(text=_("❓ No answer yet"), callback_data=TrkCb(a="wait", id=case.id).pack())],
            [InlineKeyboardButton(text=_("✅ I got an answer"), callback_data=TrkCb(a="ans", id=case.id).pack()),
             InlineKeyboardButton(text=_("🗂 Close"), callback_data=TrkCb(a="close", id=case.id).pack())],
        ]
    rows.append([InlineKeyboardButton(text=_("📋 My complaints"), callback_data=TrkCb(a="list").pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def cancel_row() -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(text=_("✖️ Cancel"), callback_data=TrkWizCb(a="x").pack())]


def skip_cancel_keyboard(skip_text: str | None = None) -> InlineKeyboardMarkup:
    row = [InlineKeyboardButton(text=skip_text or _("⏭ Skip"), callback_data=TrkWizCb(a="sk").pack())]
    return InlineKeyboardMarkup(inline_keyboard=[row, cancel_row()])


async def send(target: Message | CallbackQuery, bot: Bot, text: str, markup=None) -> None:
    if isinstance(target, CallbackQuery):
        await bot.send_message(target.from_user.id, text, reply_markup=markup)
    else:
        await target.answer(text, reply_markup=markup)


def date_error(result) -> str:
    if result.error_key == "date_in_future":
        return _("This date is in the future. Please check it and write it again.")
    if result.error_key == "date_too_old":
        return _("This date is too far in the past. Please check it and write it again.")
    return _("I could not read the date. Write it as 15.12.2026 (day.month.year).")


async def in_foreign_flow(state: FSMContext) -> bool:
    """Another feature (the complaint wizard) holds the conversation: do not overwrite its draft."""
    current = await state.get_state()
    return current is not None and not current.startswith("Tracking")


async def refused_in_wizard(query: CallbackQuery, bot: Bot, state: FSMContext) -> bool:
    """Tracking never overwrites a complaint draft in progress: say so, and True."""
    if not await in_foreign_flow(state):
        return False
    await query.answer()
    await send(query, bot, _("You are in the middle of writing a complaint. Finish it or send /cancel, "
                             "then come back with /my."))
    return True


def small_number(text: str) -> int | None:
    """A plain number of at most 3 ASCII digits ("5"), else None: str.isdigit() also accepts "²" and "٣",
    which int() refuses or reads unexpectedly."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 3 else None


async def own_case(cases: CasesRepo, case_id: int, user_id: int) -> Case | None:
    case = await cases.get(case_id)
    return case if case is not None and case.user_id == user_id else None


# ------------------------------------------------------------------------------------ /my

async def render_list(user: User, cases: CasesRepo, complaints: ComplaintsRepo, users: UsersRepo,
                      reminder_service: ReminderService, calendars: CalendarRepo, today: date, lang: str
                      ) -> tuple[str, InlineKeyboardMarkup]:
    cal = calendars.calendar
    all_cases = await cases.list_for_user(user.id)
    tracked = {c.complaint_id for c in all_cases if c.complaint_id is not None}
    my_cases = sorted(all_cases, key=lambda c: c.status != "open")[:MAX_CASES]
    untracked = [c for c in await complaints.list_for_user(user.id) if c.id not in tracked][:MAX_UNTRACKED]
    fresh = await users.get(user.id)
    enabled = fresh.reminders_enabled if fresh is not None else user.reminders_enabled

    lines: list[str] = []
    rows: list[list[InlineKeyboardButton]] = []
    if my_cases:
        lines.append(_("<b>Your tracked complaints</b>"))
        for n, case in enumerate(my_cases, 1):
            lines.append("")
            lines.append(f"{n}. {case_ref(case)}: {esc(recipient_label(case.recipient_kind, _))}")
            lines.append("   " + _("Status: {status}").format(status=status_label(case.status)))
            if case.status == "open":
                try:
                    deadlines = ReminderService.deadlines_of(case, cal)
                except DeadlineError:
                    deadlines = None
                if deadlines is not None:
                    nxt = next_item(deadlines, today)
                    if nxt is not None:
                        lines.append("   " + _("Next date: {date}, {what}").format(
                            date=fmt(nxt.day, lang), what=item_label(nxt.key)))
                    lines.append("   " + _("Answer due {date}, {left}").format(
                        date=fmt(deadlines.review_due, lang),
                        left=days_left_text(working_days_left(today, deadlines.review_due, cal))))
            rows.append([InlineKeyboardButton(text=case_button_text(case),
                                              callback_data=TrkCb(a="open", id=case.id).pack())])
    else:
        lines.append(_("You have no tracked complaints yet."))
        lines.append(_("Tell me the registration date of a complaint you have filed, and I will count the "
                       "deadlines and remind you of them."))
    if untracked:
        lines.append("")
        lines.append(_("<b>Saved complaints not tracked yet</b>"))
        for stored in untracked:
            lines.append("• " + _("Complaint {number} of {date}").format(
                number=esc(stored.number), date=fmt(stored.created_at.date(), lang)))
            rows.append([InlineKeyboardButton(text=_("➕ Track {number}").format(number=stored.number),
                                              callback_data=TrkCb(a="cpl", id=stored.id).pack())])
    rows.append([InlineKeyboardButton(text=_("➕ I already filed a complaint"),
                                      callback_data=TrkCb(a="new").pack())])
    if enabled:
        rows.append([InlineKeyboardButton(text=_("🔕 Stop reminders"), callback_data=TrkCb(a="roff").pack())])
    else:
        lines.append("")
        lines.append(_("Reminders are off."))
        rows.append([InlineKeyboardButton(text=_("🔔 Resume reminders"), callback_data=TrkCb(a="ron").pack())])
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


@router.message(Command("my"))
@router.message(MenuButton(BTN_MY))
async def my_complaints(message: Message, state: FSMContext, user: User, cases: CasesRepo,
                        complaints: ComplaintsRepo, users: UsersRepo, reminder_service: ReminderService,
                        calendars: CalendarRepo, clock, settings: Settings, lang: str) -> None:
    current = await state.get_state()
    if current is not None and current.startswith("Tracking"):
        await state.clear()  # /my in the middle of a tracking question starts over from the list
    text, markup = await render_list(user, cases, complaints, users, reminder_service, calendars,
                                     today_of(clock, settings), lang)
    await message.answer(text, reply_markup=markup)


@router.callback_query(TrkCb.filter(F.a == "list"))
async def list_pressed(query: CallbackQuery, bot: Bot, user: User, cases: CasesRepo, complaints: ComplaintsRepo,
                       users: UsersRepo, reminder_service: ReminderService, calendars: CalendarRepo, clock,
                       settings: Settings, lang: str) -> None:
    await query.answer()
    text, markup = await render_list(user, cases, complaints, users, reminder_service, calendars,
                                     today_of(clock, settings), lang)
    await send(query, bot, text, markup)


@router.callback_query(TrkCb.filter(F.a.in_({"roff", "ron"})))
async def reminders_switch(query: CallbackQuery, callback_data: TrkCb, bot: Bot, user: User, cases: CasesRepo,
                           complaints: ComplaintsRepo, users: UsersRepo, reminder_service: ReminderService,
                           calendars: CalendarRepo, clock, settings: Settings, lang: str) -> None:
    if callback_data.a == "roff":
        await users.set_reminders(user.id, False)
        await reminder_service.reminders.cancel_for_user(user.id)
        note = _("Reminders are off. Your complaints stay here; you can turn reminders back on in /my.")
    else:
        await users.set_reminders(user.id, True)
        for case in await cases.list_for_user(user.id, statuses=("open",)):
            await reminder_service.schedule_case(case.id)
        note = _("Reminders are on again.")
    await query.answer()
    text, markup = await render_list(user, cases, complaints, users, reminder_service, calendars,
                                     today_of(clock, settings), lang)
    await send(query, bot, note)
    await send(query, bot, text, markup)


# ------------------------------------------------------------------------------------ one case

async def show_case(target, bot: Bot, case: Case, reminder_service: ReminderService, cal: Any, lang: str,
                    prefix: str = "") -> None:
    try:
        deadlines = reminder_service.deadlines_of(case, cal)
    except DeadlineError:
        await send(target, bot, _("Sorry, I cannot count the dates of this complaint."), case_keyboard(case))
        return
    text = timeline_text(case, deadlines, lang, cal)
    await send(target, bot, f"{prefix}\n\n{text}" if prefix else text, case_keyboard(case))


@router.callback_query(TrkCb.filter(F.a.in_({"open", "ext", "ans", "wait", "close"})))
async def case_action(query: CallbackQuery, callback_data: TrkCb, bot: Bot, state: FSMContext, user: User,
                      cases: CasesRepo, reminder_service: ReminderService, calendars: CalendarRepo, clock,
                      settings: Settings, lang: str) -> None:
    case = await own_case(cases, callback_data.id, user.id)
    if case is None:
        await query.answer(_(NOT_VALID))
        return
    cal = calendars.calendar
    a = callback_data.a
    if a == "open":
        await query.answer()
        await show_case(query, bot, case, reminder_service, cal, lang)
        return
    if case.status != "open":
        await query.answer(_("This complaint is already marked as {status}.").format(status=status_label(case.status)))
        return
    now = clock.now()
    if a == "ans":
        case = await cases.set_status(case.id, "answered", at=now)
        await query.answer()
        await send(query, bot, _(
            "Marked as answered; the reminders for this complaint are off.\n\n"
            "If you disagree with the answer, you can complain to a higher body or go to court. The limit is 3 "
            "months from the day you received the answer.\n\n<i>This is guidance, not legal advice.</i>"),
            case_keyboard(case))
    elif a == "close":
        case = await cases.set_status(case.id, "closed", at=now)
        await query.answer()
        await send(query, bot, _("Closed; the reminders for this complaint are off."), case_keyboard(case))
    elif a == "wait":
        await query.answer()
        await no_answer_yet(query, bot, case, cases, reminder_service, cal, today_of(clock, settings), lang)
    elif a == "ext":
        if await refused_in_wizard(query, bot, state):
            return
        await query.answer()
        await state.set_state(TrackingEvent.ext_days)
        await state.set_data({"case_id": case.id})
        await ask_ext_days(query, bot)


async def no_answer_yet(query: CallbackQuery, bot: Bot, case: Case, cases: CasesRepo,
                        reminder_service: ReminderService, cal: Any, today: date, lang: str) -> None:
    try:
        deadlines = reminder_service.deadlines_of(case, cal)
    except DeadlineError:
        await send(query, bot, _("Sorry, I cannot count the dates of this complaint."), case_keyboard(case))
        return
    left = working_days_left(today, deadlines.review_due, cal)
    await cases.record_event(case.id, "no_answer_yet", {"today": today.isoformat(), "working_days_left": left})
    due = fmt(deadlines.review_due, lang)
    if left > 0:
        text = _("The answer is due on {date}; {left}. Nothing to do yet: I will remind you before the "
                 "deadline.").format(date=due, left=days_left_text(left))
    elif left == 0:
        text = _("Today, {date}, is the last day for the answer. If there is no answer by the end of the day, "
                 "that is inaction, which you can appeal.").format(date=due)
    else:
        if next_step(deadlines.recipient) == "quality_authority":
            steps = _("Complain to the authorised body for the quality of public services (the Agency for Civil "
                      "Service Affairs, its department in your region) through eOtinish or your eGov personal "
                      "account; if that does not help, go to court.")
        else:
            steps = _("You can go to court, or complain to a higher body.")
        text = _(
            "The answer was due on {date}; {left}. No answer in time is inaction, and you can appeal it."
            "\n\nWhat to do next: {steps}\n\nFile it by {limit}: 3 months, with a missed "
            "limit restorable for a valid reason."
        ).format(date=due, left=days_left_text(left), steps=steps,
                 limit=fmt(filing_limit_after_miss(deadlines, cal), lang))
    text += "\n\n<i>" + _("This is guidance, not legal advice.") + "</i>"
    await send(query, bot, text, case_keyboard(case))


# ------------------------------------------------------------------------------------ a new case

@router.callback_query(TrkCb.filter(F.a.in_({"new", "cpl"})))
async def start_tracking(query: CallbackQuery, callback_data: TrkCb, bot: Bot, state: FSMContext, user: User,
                         cases: CasesRepo, complaints: ComplaintsRepo, reminder_service: ReminderService,
                         calendars: CalendarRepo, lang: str) -> None:
    data: dict[str, Any] = {"complaint_id": None}
    intro = _("Let us set up tracking of a complaint you have filed. Send /cancel to stop at any time.")
    if callback_data.a == "cpl":
        stored = await complaints.get(callback_data.id)
        if stored is None or stored.user_id != user.id:
            await query.answer(_(NOT_VALID))
            return
        existing = next((c for c in await cases.list_for_user(user.id) if c.complaint_id == stored.id), None)
        if existing is not None:  # tracked already (a second press): show it
            await query.answer()
            await show_case(query, bot, existing, reminder_service, calendars.calendar, lang)
            return
        c = stored.complaint
        data["complaint_id"] = stored.id
        if c.recipient_kind in REVIEW_TERMS:
            data["recipient"] = c.recipient_kind
        name = (c.recipient_name or "").strip()
        if name:
            data["filed_with"] = name[:MAX_TEXT]
        if c.learned_date is not None:
            data["learned_on"] = c.learned_date.isoformat()
        intro = _("Tracking complaint {number}. A few questions about its registration.").format(
            number=esc(stored.number))
        if "recipient" in data:
            intro += "\n" + _("Reviewed by: {recipient}").format(recipient=recipient_label(data["recipient"], _))
    if await refused_in_wizard(query, bot, state):
        return
    await query.answer()
    await state.set_data(data)
    await send(query, bot, intro)
    await ask_next(query, bot, state, data)


def next_form_step(data: dict[str, Any]) -> str | None:
    for step in FORM_STEPS:
        if step == "forwarded" and data.get("recipient") != Recipient.QUALITY_AUTHORITY.value:
            continue
        if step not in data:
            return step
    return None


async def ask_next(target, bot: Bot, state: FSMContext, data: dict[str, Any]) -> str | None:
    step = next_form_step(data)
    if step is None:
        return None
    await state.set_state(getattr(TrackingForm, step))
    if step == "recipient":
        rows = [[InlineKeyboardButton(text=_(label), callback_data=TrkWizCb(a="rk", v=kind).pack())]
                for kind, label in _RECIPIENT_BUTTONS.items()]
        rows.append(cancel_row())
        await send(target, bot, _(
            "Who reviews your complaint? The term is counted in working days from the day after registration:\n"
            "• the service provider (the head of the body that provides the service): 5 working days;\n"
            "• the authorised body for the quality of public services: 15 working days;\n"
            "• the akim: 5 working days."), InlineKeyboardMarkup(inline_keyboard=rows))
    elif step == "filed_with":
        await send(target, bot, _(
            "Where did you file it? Write the name of the body or office, for example «Public Service Centre "
            "No. 2, Astana»."), skip_cancel_keyboard())
    elif step == "forwarded":
        rows = [[InlineKeyboardButton(text=_("No, directly to the quality authority"),
                                      callback_data=TrkWizCb(a="fw", v="n").pack())],
                [InlineKeyboardButton(text=_("Yes, through the service provider"),
                                      callback_data=TrkWizCb(a="fw", v="y").pack())],
                cancel_row()]
        await send(target, bot, _(
            "Did you file it with the service provider, for them to forward it to the quality authority? The "
            "provider then has 3 working days to forward it, and the 15 working days are counted after that."),
            InlineKeyboardMarkup(inline_keyboard=rows))
    elif step == "registered":
        await send(target, bot, _(
            "What is the registration date? It is on the talon (the slip you got when filing) or in eOtinish / "
            "your eGov personal account. Write it as 15.12.2026."),
            InlineKeyboardMarkup(inline_keyboard=[cancel_row()]))
    elif step == "reg_number":
        await send(target, bot, _("What is the registration number (from the talon or the portal)? Type it, or "
                                  "press Skip."), skip_cancel_keyboard())
    elif step == "learned_on":
        await send(target, bot, _(
            "On what date did you learn of the decision or action you complained about? It is for the 3-month "
            "filing limit. Type the date, or press Skip."), skip_cancel_keyboard())
    return step


async def finish_form(target, bot: Bot, state: FSMContext, data: dict[str, Any], user: User, cases: CasesRepo,
                      reminder_service: ReminderService, calendars: CalendarRepo, clock, lang: str) -> None:
    await state.clear()
    learned = data.get("learned_on")
    case = await cases.create(
        user.id,
        data["recipient"],
        date.fromisoformat(data["registered"]),
        filed_with=data.get("filed_with"),
        reg_number=data.get("reg_number"),
        complaint_id=data.get("complaint_id"),
        forwarded_via_provider=bool(data.get("forwarded")),
        learned_on=date.fromisoformat(learned) if learned else None,
        at=clock.now(),
    )
    await reminder_service.schedule_case(case.id)
    if user.reminders_enabled:
        prefix = _("Saved. Here are the deadlines; I will remind you of them.")
    else:
        prefix = _("Saved. Here are the deadlines. Reminders are off; you can turn them on in /my.")
    await show_case(target, bot, case, reminder_service, calendars.calendar, lang, prefix=prefix)


async def advance(target, bot: Bot, state: FSMContext, data: dict[str, Any], user: User, cases: CasesRepo,
                  reminder_service: ReminderService, calendars: CalendarRepo, clock, lang: str) -> None:
    await state.set_data(data)
    if await ask_next(target, bot, state, data) is None:
        await finish_form(target, bot, state, data, user, cases, reminder_service, calendars, clock, lang)


@router.callback_query(TrkWizCb.filter())
async def wizard_button(query: CallbackQuery, callback_data: TrkWizCb, bot: Bot, state: FSMContext, user: User,
                        cases: CasesRepo, reminder_service: ReminderService, calendars: CalendarRepo, clock,
                        settings: Settings, lang: str) -> None:
    current = await state.get_state()
    a, v = callback_data.a, callback_data.v
    if current is None or not current.startswith("Tracking"):
        await query.answer(_(NOT_VALID))
        return
    if a == "x":
        await state.clear()
        await query.answer()
        await send(query, bot, _("Cancelled. Send /my to see your complaints."))
        return
    data = await state.get_data()
    step = current.split(":", 1)[1]
    form = current.startswith(TrackingForm.__full_group_name__)
    if form and a == "rk" and step == "recipient" and v in REVIEW_TERMS:
        data["recipient"] = v
    elif form and a == "fw" and step == "forwarded" and v in ("y", "n"):
        data["forwarded"] = v == "y"
    elif form and a == "sk" and step in ("filed_with", "reg_number", "learned_on"):
        data[step] = None
    elif not form and a == "xd" and step == "ext_days" and (small_number(v) or 0) in range(1, EXTENSION_MAX + 1):
        await query.answer()
        await accept_ext_days(query, bot, state, data, small_number(v), cases, user, reminder_service, calendars, lang)
        return
    elif not form and a == "sk" and step in ("ext_on", "ext_told"):
        await query.answer()
        await accept_ext_date(query, bot, state, data, step, None, user, cases, reminder_service, calendars,
                              clock, settings, lang)
        return
    else:
        await query.answer(_(NOT_VALID))
        return
    await query.answer()
    await advance(query, bot, state, data, user, cases, reminder_service, calendars, clock, lang)


def _passes_through(message: Message, i18n: I18n) -> bool:
    """Menu buttons that other routers answer, even in the middle of a question."""
    return is_menu_button(i18n, message.text, (BTN_COMPLAINT, BTN_QUESTIONS, BTN_HUMAN))


@router.message(StateFilter(TrackingForm, TrackingEvent))
async def form_message(message: Message, bot: Bot, state: FSMContext, user: User, cases: CasesRepo,
                       reminder_service: ReminderService, calendars: CalendarRepo, clock, settings: Settings,
                       lang: str, i18n: I18n) -> None:
    if _passes_through(message, i18n):
        raise SkipHandler()
    text = (message.text or "").strip()
    if text.startswith("/"):
        if (text[1:].split(maxsplit=1) or [""])[0].split("@")[0].lower() == "faq":
            raise SkipHandler()
        await message.answer(_("Commands are not answers. Type the answer, or send /cancel to stop."))
        return
    if not text:
        await message.answer(_("Please answer with text, or send /cancel to stop."))
        return
    current = await state.get_state() or ""
    step = current.split(":", 1)[1]
    data = await state.get_data()
    today = today_of(clock, settings)
    if current.startswith(TrackingEvent.__full_group_name__):
        if step == "ext_days":
            n = small_number(text)
            if n is None or not 1 <= n <= EXTENSION_MAX:
                await message.answer(_(
                    "The review term can be extended by at most 10 working days, so the number must be from 1 "
                    "to 10. Please check it and send a number from 1 to 10."))
                return
            await accept_ext_days(message, bot, state, data, n, cases, user, reminder_service, calendars, lang)
        else:
            result = parse_date(text, today)
            if not result.ok:
                await message.answer(date_error(result))
                return
            await accept_ext_date(message, bot, state, data, step, result.value, user, cases, reminder_service,
                                  calendars, clock, settings, lang)
        return
    if step in ("recipient", "forwarded"):
        await message.answer(_("Please choose with the buttons above."))
        return
    if step in ("filed_with", "reg_number"):
        if len(text) > MAX_TEXT:
            await message.answer(ngettext("That is too long: at most {n} character, please.",
                                          "That is too long: at most {n} characters, please.", MAX_TEXT).format(n=MAX_TEXT))
            return
        data[step] = text
    elif step in ("registered", "learned_on"):
        result = parse_date(text, today)
        if not result.ok:
            await message.answer(date_error(result))
            return
        if step == "registered" and data.get("learned_on"):
            learned = date.fromisoformat(data["learned_on"])
            if learned > result.value:  # a saved complaint's own date; drop it rather than refuse
                data["learned_on"] = None
        if step == "learned_on" and result.value > date.fromisoformat(data["registered"]):
            await message.answer(_("That is after the registration date. Please check the date, or press Skip."))
            return
        data[step] = result.value.isoformat()
    await advance(message, bot, state, data, user, cases, reminder_service, calendars, clock, lang)


# ------------------------------------------------------------------------------------ extension

async def ask_ext_days(target, bot: Bot) -> None:
    numbers = [InlineKeyboardButton(text=str(n), callback_data=TrkWizCb(a="xd", v=str(n)).pack())
               for n in range(1, EXTENSION_MAX + 1)]
    await send(target, bot, _("By how many working days was the review extended? The law allows at most 10. "
                              "Press a number or type it."),
               InlineKeyboardMarkup(inline_keyboard=[numbers[:5], numbers[5:], cancel_row()]))


async def _event_case(target, bot: Bot, state: FSMContext, data: dict, user: User, cases: CasesRepo) -> Case | None:
    case = await own_case(cases, int(data.get("case_id") or 0), user.id)
    if case is None or case.status != "open":
        await state.clear()
        await send(target, bot, _("This complaint can no longer be changed. Send /my to see your complaints."))
        return None
    return case


async def accept_ext_days(target, bot: Bot, state: FSMContext, data: dict, n: int, cases: CasesRepo, user: User,
                          reminder_service: ReminderService, calendars: CalendarRepo, lang: str) -> None:
    case = await _event_case(target, bot, state, data, user, cases)
    if case is None:
        return
    data["by"] = n
    await state.set_data(data)
    await state.set_state(TrackingEvent.ext_on)
    original = reminder_service.deadlines_of(case, calendars.calendar).original_review_due
    await send(target, bot, _(
        "On what date was the review extended (the date of the decision or letter)? If you do not know, press "
        "«I don't know»: I will count from the original deadline, {date}.").format(date=fmt(original, lang)),
        skip_cancel_keyboard(_("I don't know")))


async def accept_ext_date(target, bot: Bot, state: FSMContext, data: dict, step: str, value: date | None,
                          user: User, cases: CasesRepo, reminder_service: ReminderService, calendars: CalendarRepo,
                          clock, settings: Settings, lang: str) -> None:
    case = await _event_case(target, bot, state, data, user, cases)
    if case is None:
        return
    cal = calendars.calendar
    if step == "ext_on":
        if value is not None and value < case.registered_on:
            await send(target, bot, _("That is before the registration date ({date}). Please check it.").format(
                date=fmt(case.registered_on, lang)))
            return
        data["on"] = value.isoformat() if value else None
        await state.set_data(data)
        await state.set_state(TrackingEvent.ext_told)
        await send(target, bot, _("On what date were you told about the extension? If you have not been told, "
                                  "press «Not told yet»."), skip_cancel_keyboard(_("Not told yet")))
        return
    # ext_told: the last answer
    by = int(data["by"])
    on = date.fromisoformat(data["on"]) if data.get("on") else None
    effective_on = on or reminder_service.deadlines_of(case, cal).original_review_due
    if value is not None and value < (on or case.registered_on):
        await send(target, bot, _("That is before the extension itself. Please check the date."))
        return
    await state.clear()
    case = await cases.set_extension(case.id, by, on, value, at=clock.now())
    await reminder_service.schedule_case(case.id)
    deadlines = reminder_service.deadlines_of(case, cal)
    prefix = ngettext("Saved: extended by {n} working day. The answer is now due on {date}.",
                      "Saved: extended by {n} working days. The answer is now due on {date}.", by).format(
        n=by, date=fmt(deadlines.review_due, lang))
    if value is not None and extension_notice_late(effective_on, value, cal):
        await cases.record_event(case.id, "extension_notice_late", {
            "told_on": value.isoformat(), "notice_due": deadlines.extension_notice_due.isoformat()
            if deadlines.extension_notice_due else None})
    await show_case(target, bot, case, reminder_service, cal, lang, prefix=prefix)


@router.callback_query(F.data.regexp(r"^trkw?(:|$)"))
async def stale_button(query: CallbackQuery) -> None:
    """An unknown action or malformed data under our prefixes (old or forged buttons)."""
    await query.answer(_(NOT_VALID))


async def ask_again(message: Message, bot: Bot, state: FSMContext) -> bool:
    """Ask the current tracking question again (after a language switch: in the new language)."""
    current = await state.get_state() or ""
    if current.startswith("TrackingForm:"):
        return await ask_next(message, bot, state, await state.get_data()) is not None
    if current == TrackingEvent.ext_days.state:
        await ask_ext_days(message, bot)
        return True
    return False
