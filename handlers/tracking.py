"""Tracking of filed complaints: /my, "track this complaint", the deadline timeline and what the person records
later (extension, answer, no answer yet, closed), plus the reminders on/off switch.

The dates come from the legal core (bot.deadlines.compute via ReminderService.deadlines_of, bot.next_steps for
what is still open after the review); this module only asks questions, stores the answers (storage.cases) and
renders the results with gettext.

Callback data (all < 64 bytes):

* ``trk:<a>:<id>`` (:class:`TrkCb`) -- actions on the list and on one case; ``id`` is a case id
  (open/ext/ans/wait/close/cly/cln), a saved complaint id (cpl), a page of the list (list, pg), or 0 (new,
  roff, ron). Ownership of the case / complaint is checked on every press; a foreign or unknown id gets
  "This button is no longer valid."
* ``trkw:<a>:<v>:<s>`` (:class:`TrkWizCb`) -- answers inside the question flows (rk: recipient kind,
  fw: forwarded y/n, xd: extension days, sk: skip, bk: back, dp: a day picked (v = YYYYMMDD), dm: another
  month (v = YYYYMM), nop: a calendar label, x: cancel); ``s`` is the question the button belongs to, so a
  button of an earlier question is stale.

FSM states: :class:`TrackingForm` (a new case) and :class:`TrackingEvent` (an extension, the answer's date);
the data holds plain JSON (dates as ISO strings). Every question has the same layout: its own buttons or a
month of days, then Back and Skip where they apply, then Cancel alone on the last row.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date
from typing import Any

from aiogram import Bot, F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.exceptions import TelegramBadRequest
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
from bot.next_steps import after_answer, after_inaction, render_options
from bot.reminder_loop import ReminderService
from bot.reminders import case_ref
from handlers.common import BTN_COMPLAINT, BTN_HUMAN, BTN_MY, BTN_QUESTIONS, MenuButton, RowId, is_menu_button
from handlers.datepicker import month_grid
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
PAGE_CASES = 5  # cases on one page of /my
PAGE_BUDGET = 3800  # characters of HTML on one page of /my: Telegram shows at most 4096 (fewer than the HTML)
MAX_TEXT = 200  # filed_with / reg_number


# ------------------------------------------------------------------------------------ callbacks, states

class TrkCb(CallbackData, prefix="trk"):
    a: str  # open ext ans wait close cly cln cpl new list pg roff ron
    id: RowId = 0


class TrkWizCb(CallbackData, prefix="trkw"):
    a: str  # rk fw xd sk bk dp dm nop x
    v: str = ""
    s: str = ""  # the question (state name) the button belongs to


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
    ans_on = State()


FORM_STEPS = ("recipient", "filed_with", "forwarded", "registered", "reg_number", "learned_on")
DATE_QUESTIONS = frozenset({"registered", "learned_on", "ext_on", "ext_told", "ans_on"})
#: Questions with a Skip button (its label says what skipping means there).
SKIPPABLE = frozenset({"filed_with", "reg_number", "learned_on", "ext_on", "ext_told"})


# ------------------------------------------------------------------------------------ labels

_ITEM_LABELS = {
    "registered": N_("Complaint registered"),
    "forwarding_due": N_("Last day to forward it to the body that reviews it"),
    "review_due_original": N_("Original deadline for the answer"),
    "review_due": N_("Deadline for the answer"),
    "extension_notice_due": N_("Last day to tell you about the extension"),
    "escalate_from": N_("No answer by now is inaction of the body: you can appeal it"),
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
        "A complaint not reviewed in time is inaction, which can be appealed to the quality authority, a higher "
        "body or the court"),
    "appk_92_filing_limit": N_(
        "APPK art. 92: 3 calendar months from the day you learned of the decision; a missed limit can be "
        "restored for a valid reason"),
}
_STATUS_LABELS = {
    "open": N_("waiting for the answer"),
    "overdue": N_("no answer in time"),
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


def days_left_text(n: int, *, passed: bool = False) -> str:
    """``n`` working days left (negative: overdue); ``passed``: the due day is behind us even when no working
    day has followed it yet (a Saturday after a Friday deadline)."""
    if n > 0:
        return ngettext("{n} working day left", "{n} working days left", n).format(n=n)
    if n == 0 and passed:
        return _("the deadline has passed")
    if n == 0:
        return _("the answer is due today")
    return ngettext("overdue by {n} working day", "overdue by {n} working days", -n).format(n=-n)


def next_item(deadlines: Deadlines, today: date):
    """The next date of the timeline (today included), registration aside."""
    return next((i for i in deadlines.items if i.key != "registered" and i.day >= today), None)


def is_overdue(case: Case, deadlines: Deadlines, today: date) -> bool:
    return case.status == "open" and today > deadlines.review_due


def answered_day(case: Case, settings: Settings) -> date:
    """The day the answer came (recorded by the person), else the local day the case was marked answered."""
    return case.answered_on or case.updated_at.astimezone(settings.tz).date()


def overdue_text(deadlines: Deadlines, today: date, lang: str, cal: Any) -> str:
    """What is overdue and what is still open (or restorable) after a missed review deadline."""
    options = after_inaction(deadlines, today, cal)
    if options.overdue_days:
        head = _("⚠️ Overdue: the answer was due on {date} and has not come; {left}.").format(
            date=fmt(deadlines.review_due, lang), left=days_left_text(-options.overdue_days))
    else:  # the days off right after the last day: late, but not by a working day yet
        head = _("⚠️ Overdue: the answer was due on {date} and has not come.").format(
            date=fmt(deadlines.review_due, lang))
    return head + "\n" + render_options(options, _, lang)


def answered_text(case: Case, day: date, today: date, lang: str, cal: Any) -> str:
    options = after_answer(case.recipient_kind, day, today, cal)
    head = _("You received the answer on {date}. If you disagree with it:").format(date=fmt(day, lang))
    return head + "\n\n" + render_options(options, _, lang)


def timeline_text(case: Case, deadlines: Deadlines, lang: str, cal: Any, today: date, settings: Settings) -> str:
    overdue = is_overdue(case, deadlines, today)
    lines = [
        _("<b>Complaint {ref}</b>").format(ref=case_ref(case)),
        _("Reviewed by: {recipient}").format(recipient=recipient_label(case.recipient_kind, _)),
        _("Status: {status}").format(status=status_label("overdue" if overdue else case.status)),
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
        if item.key == "escalate_from" and case.status == "answered":
            continue  # the answer came: what silence would have meant is no longer news
        lines.append(f"• <b>{fmt(item.day, lang)}</b>: {item_label(item.key)}")
        lines.append(f"   <i>{basis_label(item.basis)}</i>")
    if overdue:
        lines += ["", overdue_text(deadlines, today, lang, cal)]
    elif case.status == "answered":
        lines += ["", answered_text(case, answered_day(case, settings), today, lang, cal)]
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


def close_confirm_keyboard(case: Case) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=_("↩️ No, keep tracking"), callback_data=TrkCb(a="cln", id=case.id).pack())],
        [InlineKeyboardButton(text=_("🗂 Yes, close it"), callback_data=TrkCb(a="cly", id=case.id).pack())],
    ])


def wiz_button(text: str, step: str, a: str, v: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=TrkWizCb(a=a, v=v, s=step).pack())


def question_markup(step: str, rows: list[list[InlineKeyboardButton]], *, back: bool,
                    skip: str | None = None) -> InlineKeyboardMarkup:
    """The question's own rows, then Back and Skip (where they apply), then Cancel alone on the last row: the
    same places on every question, as in the complaint wizard."""
    nav = ([wiz_button(_("⬅️ Back"), step, "bk")] if back else []) + \
        ([wiz_button(skip, step, "sk")] if skip else [])
    rows = rows + ([nav] if nav else [])
    rows.append([wiz_button(_("✖️ Cancel"), step, "x")])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def picker_rows(step: str, today: date, lang: str, month: tuple[int, int] | None = None,
                earliest: date | None = None) -> list[list[InlineKeyboardButton]]:
    y, m = month or (today.year, today.month)
    return month_grid(
        y, m, today=today, lang=lang, earliest=earliest,
        pick=lambda day: TrkWizCb(a="dp", v=day.strftime("%Y%m%d"), s=step).pack(),
        show=lambda yy, mm: TrkWizCb(a="dm", v=f"{yy:04d}{mm:02d}", s=step).pack(),
        nop=TrkWizCb(a="nop", s=step).pack(),
    )


async def send(target: Message | CallbackQuery, bot: Bot, text: str, markup=None) -> None:
    if isinstance(target, CallbackQuery):
        await bot.send_message(target.from_user.id, text, reply_markup=markup)
    else:
        await target.answer(text, reply_markup=markup)


def example_date(today: date) -> str:
    """An example date for the questions: today's, so it is never in the future."""
    return today.strftime("%d.%m.%Y")


def date_error(result, today: date) -> str:
    if result.error_key == "date_in_future":
        return _("This date is in the future. Please check it and write it again.")
    if result.error_key == "date_too_old":
        return _("This date is too far in the past. Please check it and write it again.")
    return _("I could not read the date. Write it as {example} (day.month.year), or pick it below.").format(
        example=example_date(today))


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

def case_block(n: int, case: Case, today: date, lang: str, cal: Any) -> str:
    lines = ["", f"{n}. {case_ref(case)}: {esc(recipient_label(case.recipient_kind, _))}"]
    try:
        deadlines = ReminderService.deadlines_of(case, cal) if case.status == "open" else None
    except DeadlineError:
        deadlines = None
    status = "overdue" if deadlines is not None and is_overdue(case, deadlines, today) else case.status
    lines.append("   " + _("Status: {status}").format(status=status_label(status)))
    if deadlines is not None:
        nxt = next_item(deadlines, today)
        if nxt is not None:
            lines.append("   " + _("Next date: {date}, {what}").format(date=fmt(nxt.day, lang),
                                                                      what=item_label(nxt.key)))
        lines.append("   " + _("Answer due {date}, {left}").format(
            date=fmt(deadlines.review_due, lang),
            left=days_left_text(working_days_left(today, deadlines.review_due, cal),
                                passed=today > deadlines.review_due)))
    return "\n".join(lines)


def paginate(blocks: list[str], budget: int, per_page: int = PAGE_CASES) -> list[list[int]]:
    """Indexes of the blocks on each page: at most ``per_page`` blocks and ``budget`` characters a page (a
    block longer than the budget alone still gets its own page). The same list always pages the same way."""
    pages: list[list[int]] = [[]]
    used = 0
    for i, block in enumerate(blocks):
        if pages[-1] and (len(pages[-1]) >= per_page or used + len(block) + 1 > budget):
            pages.append([])
            used = 0
        pages[-1].append(i)
        used += len(block) + 1
    return pages


async def render_list(user: User, cases: CasesRepo, complaints: ComplaintsRepo, users: UsersRepo,
                      calendars: CalendarRepo, settings: Settings, today: date, lang: str, page: int = 0
                      ) -> tuple[str, InlineKeyboardMarkup]:
    """One page of /my: the tracked complaints (open ones first), then on the first page the saved complaints
    not tracked yet; never longer than Telegram allows (PAGE_BUDGET)."""
    cal = calendars.calendar
    all_cases = await cases.list_for_user(user.id)
    tracked = {c.complaint_id for c in all_cases if c.complaint_id is not None}
    my_cases = sorted(all_cases, key=lambda c: c.status != "open")
    untracked = [c for c in await complaints.list_for_user(user.id) if c.id not in tracked][:MAX_UNTRACKED]
    fresh = await users.get(user.id)
    enabled = fresh.reminders_enabled if fresh is not None else user.reminders_enabled
    any_open = any(c.status == "open" for c in all_cases)

    tail: list[str] = []
    tail_rows: list[list[InlineKeyboardButton]] = []
    if untracked:
        tail += ["", _("<b>Saved complaints not tracked yet</b>")]
        for stored in untracked:
            tail.append("• " + _("Complaint {number} of {date}").format(
                number=esc(stored.number), date=fmt(stored.created_at.astimezone(settings.tz).date(), lang)))
            tail_rows.append([InlineKeyboardButton(text=_("➕ Track {number}").format(number=stored.number),
                                                   callback_data=TrkCb(a="cpl", id=stored.id).pack())])
    tail_rows.append([InlineKeyboardButton(text=_("➕ I already filed a complaint"),
                                           callback_data=TrkCb(a="new").pack())])
    if any_open and enabled:  # nothing tracked, nothing to stop
        tail_rows.append([InlineKeyboardButton(text=_("🔕 Stop reminders"), callback_data=TrkCb(a="roff").pack())])
    elif any_open:
        tail += ["", _("Reminders are off.")]
        tail_rows.append([InlineKeyboardButton(text=_("🔔 Resume reminders"), callback_data=TrkCb(a="ron").pack())])

    if not my_cases:
        lines = [_("You have no tracked complaints yet."),
                 _("Tell me the registration date of a complaint you have filed, and I will count the "
                   "deadlines and remind you of them.")] + tail
        return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=tail_rows)

    header = _("<b>Your tracked complaints</b>")
    blocks = [case_block(n, case, today, lang, cal) for n, case in enumerate(my_cases, 1)]
    fixed = len(header) + len("\n".join(tail)) + 100  # the page line and the separators
    pages = paginate(blocks, PAGE_BUDGET - fixed)
    page = max(0, min(page, len(pages) - 1))
    lines = [header] + [blocks[i] for i in pages[page]]
    rows = [[InlineKeyboardButton(text=case_button_text(my_cases[i]),
                                  callback_data=TrkCb(a="open", id=my_cases[i].id).pack())] for i in pages[page]]
    if len(pages) > 1:
        lines += ["", _("Page {n} of {total}").format(n=page + 1, total=len(pages))]
        turn = []
        if page > 0:
            turn.append(InlineKeyboardButton(text=_("◀️ Previous"), callback_data=TrkCb(a="pg", id=page - 1).pack()))
        if page + 1 < len(pages):
            turn.append(InlineKeyboardButton(text=_("Next ▶️"), callback_data=TrkCb(a="pg", id=page + 1).pack()))
        rows.append(turn)
    return "\n".join(lines + tail), InlineKeyboardMarkup(inline_keyboard=rows + tail_rows)


@router.message(Command("my"))
@router.message(MenuButton(BTN_MY))
async def my_complaints(message: Message, state: FSMContext, user: User, cases: CasesRepo,
                        complaints: ComplaintsRepo, users: UsersRepo, calendars: CalendarRepo, clock,
                        settings: Settings, lang: str) -> None:
    current = await state.get_state()
    if current is not None and current.startswith("Tracking"):
        await state.clear()  # /my in the middle of a tracking question starts over from the list
    text, markup = await render_list(user, cases, complaints, users, calendars, settings,
                                     today_of(clock, settings), lang)
    await message.answer(text, reply_markup=markup)


@router.callback_query(TrkCb.filter(F.a.in_({"list", "pg"})))
async def list_pressed(query: CallbackQuery, callback_data: TrkCb, bot: Bot, user: User, cases: CasesRepo,
                       complaints: ComplaintsRepo, users: UsersRepo, calendars: CalendarRepo, clock,
                       settings: Settings, lang: str) -> None:
    """"My complaints" under a case sends the list; a page button turns the list's own message."""
    await query.answer()
    text, markup = await render_list(user, cases, complaints, users, calendars, settings,
                                     today_of(clock, settings), lang, page=callback_data.id)
    if callback_data.a == "pg" and query.message is not None:
        try:
            await bot.edit_message_text(text, chat_id=query.message.chat.id, message_id=query.message.message_id,
                                        reply_markup=markup)
            return
        except TelegramBadRequest:  # too old to edit (or unchanged): send it anew
            pass
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
    text, markup = await render_list(user, cases, complaints, users, calendars, settings,
                                     today_of(clock, settings), lang)
    await send(query, bot, note)
    await send(query, bot, text, markup)


# ------------------------------------------------------------------------------------ one case

async def show_case(target, bot: Bot, case: Case, reminder_service: ReminderService, cal: Any, lang: str,
                    today: date, settings: Settings, prefix: str = "") -> None:
    try:
        deadlines = reminder_service.deadlines_of(case, cal)
    except DeadlineError:
        await send(target, bot, _("Sorry, I cannot count the dates of this complaint."), case_keyboard(case))
        return
    text = timeline_text(case, deadlines, lang, cal, today, settings)
    await send(target, bot, f"{prefix}\n\n{text}" if prefix else text, case_keyboard(case))


@router.callback_query(TrkCb.filter(F.a.in_({"open", "ext", "ans", "wait", "close", "cly", "cln"})))
async def case_action(query: CallbackQuery, callback_data: TrkCb, bot: Bot, state: FSMContext, user: User,
                      cases: CasesRepo, reminder_service: ReminderService, calendars: CalendarRepo, clock,
                      settings: Settings, lang: str) -> None:
    case = await own_case(cases, callback_data.id, user.id)
    if case is None:
        await query.answer(_(NOT_VALID))
        return
    cal = calendars.calendar
    today = today_of(clock, settings)
    a = callback_data.a
    if a == "open":
        await query.answer()
        await show_case(query, bot, case, reminder_service, cal, lang, today, settings)
        return
    if case.status != "open":
        await query.answer(_("This complaint is already marked as {status}.").format(status=status_label(case.status)))
        return
    if a == "close":  # ask first: closing stops the reminders
        await query.answer()
        await send(query, bot, _("Stop tracking this complaint? Its reminders stop; it stays in /my as closed."),
                   close_confirm_keyboard(case))
    elif a == "cly":
        case = await cases.set_status(case.id, "closed", at=clock.now())
        await query.answer()
        await send(query, bot, _("Closed; the reminders for this complaint are off."), case_keyboard(case))
    elif a == "cln":
        await query.answer()
        await show_case(query, bot, case, reminder_service, cal, lang, today, settings,
                        prefix=_("Fine, I keep tracking it."))
    elif a == "wait":
        await query.answer()
        await no_answer_yet(query, bot, case, cases, reminder_service, cal, today, lang)
    elif a in ("ext", "ans"):
        if await refused_in_wizard(query, bot, state):
            return
        await query.answer()
        step = "ext_days" if a == "ext" else "ans_on"
        await state.set_state(getattr(TrackingEvent, step))
        await state.set_data({"case_id": case.id, "registered": case.registered_on.isoformat()})
        await ask_step(query, bot, step, await state.get_data(), today, lang)


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
    if today > deadlines.review_due:
        text = overdue_text(deadlines, today, lang, cal)
    elif left > 0:
        text = _("The answer is due on {date}; {left}. Nothing to do yet: I will remind you before the "
                 "deadline.").format(date=due, left=days_left_text(left))
    else:
        text = _("Today, {date}, is the last day for the answer. If there is no answer by the end of the day, "
                 "that is inaction of the body, and you can appeal it: press «❓ No answer yet» again after this "
                 "day to see how.").format(date=due)
    text += "\n\n<i>" + _("This is guidance, not legal advice.") + "</i>"
    await send(query, bot, text, case_keyboard(case))


# ------------------------------------------------------------------------------------ the questions

@dataclass
class Flow:
    """What one update of a question flow needs (the handler's injected dependencies, gathered once)."""

    bot: Bot
    state: FSMContext
    user: User
    cases: CasesRepo
    reminder_service: ReminderService
    calendars: CalendarRepo
    clock: Any
    settings: Settings
    lang: str

    @property
    def today(self) -> date:
        return today_of(self.clock, self.settings)

    @property
    def cal(self) -> Any:
        return self.calendars.calendar

    async def show(self, target, case: Case, prefix: str = "") -> None:
        await show_case(target, self.bot, case, self.reminder_service, self.cal, self.lang, self.today,
                        self.settings, prefix=prefix)


def form_sequence(data: dict[str, Any]) -> list[str]:
    """The questions of a new case, in order ("forwarded?" only for the quality authority)."""
    return [s for s in FORM_STEPS if s != "forwarded" or data.get("recipient") == Recipient.QUALITY_AUTHORITY.value]


def next_form_step(data: dict[str, Any]) -> str | None:
    return next((s for s in form_sequence(data) if s not in data), None)


def _day(data: dict[str, Any], key: str) -> date | None:
    value = data.get(key)
    return date.fromisoformat(value) if value else None


def question(step: str, data: dict[str, Any], today: date, lang: str,
             month: tuple[int, int] | None = None) -> tuple[str, InlineKeyboardMarkup]:
    """The text and buttons of one tracking question (``month``: the month the date picker shows)."""
    example = example_date(today)
    if step == "recipient":
        rows = [[wiz_button(_(label), step, "rk", kind)] for kind, label in _RECIPIENT_BUTTONS.items()]
        return _(
            "Who reviews your complaint? The term is counted in working days from the day after registration:\n"
            "• the service provider (the head of the body that provides the service): 5 working days;\n"
            "• the authorised body for the quality of public services: 15 working days;\n"
            "• the akim: 5 working days."), question_markup(step, rows, back=False)
    if step == "filed_with":
        return _("Where did you file it? Write the name of the body or office, for example «Public Service Centre "
                 "No. 2, Astana»."), question_markup(step, [], back=True, skip=_("⏭ Skip"))
    if step == "forwarded":
        rows = [[wiz_button(_("No, directly to the quality authority"), step, "fw", "n")],
                [wiz_button(_("Yes, through the service provider"), step, "fw", "y")]]
        return _(
            "Did you file it with the service provider, for them to forward it to the quality authority? The "
            "provider then has 3 working days to forward it, and the 15 working days are counted after that."
        ), question_markup(step, rows, back=True)
    if step == "registered":
        return _(
            "What is the registration date? It is on the talon (the slip you got when filing) or in eOtinish / "
            "your eGov personal account. Type it (for example {example}) or pick it below.").format(
            example=example), question_markup(step, picker_rows(step, today, lang, month), back=True)
    if step == "reg_number":
        return _("What is the registration number (from the talon or the portal)? Type it, or press Skip."), \
            question_markup(step, [], back=True, skip=_("⏭ Skip"))
    if step == "learned_on":
        return _(
            "On what date did you learn of the decision or action you complained about? It is for the 3-month "
            "filing limit. Type the date (for example {example}), pick it below, or press Skip.").format(
            example=example), question_markup(step, picker_rows(step, today, lang, month), back=True,
                                              skip=_("⏭ Skip"))
    if step == "ext_days":
        numbers = [wiz_button(str(n), step, "xd", str(n)) for n in range(1, EXTENSION_MAX + 1)]
        return _("By how many working days was the review extended? The law allows at most 10. "
                 "Press a number or type it."), question_markup(step, [numbers[:5], numbers[5:]], back=False)
    registered = _day(data, "registered")
    if step == "ext_on":
        original = _day(data, "original")
        return _(
            "On what date was the review extended (the date of the decision or letter)? If you do not know, press "
            "«I don't know»: I will count from the original deadline, {date}.").format(
            date=fmt(original, lang) if original else ""), \
            question_markup(step, picker_rows(step, today, lang, month, registered), back=True,
                            skip=_("I don't know"))
    if step == "ext_told":
        return _("On what date were you told about the extension? If you have not been told, "
                 "press «Not told yet»."), \
            question_markup(step, picker_rows(step, today, lang, month, _day(data, "on") or registered),
                            back=True, skip=_("Not told yet"))
    if step == "ans_on":
        return _("On what date did you receive the answer? The limits to appeal it count from that day. Type it "
                 "(for example {example}) or pick it below.").format(example=example), \
            question_markup(step, picker_rows(step, today, lang, month, registered), back=False)
    raise ValueError(f"unknown tracking question {step!r}")


async def ask_step(target, bot: Bot, step: str, data: dict[str, Any], today: date, lang: str) -> None:
    text, markup = question(step, data, today, lang)
    await send(target, bot, text, markup)


async def ask_next(target, flow: Flow, data: dict[str, Any]) -> str | None:
    step = next_form_step(data)
    if step is None:
        return None
    await flow.state.set_state(getattr(TrackingForm, step))
    await ask_step(target, flow.bot, step, data, flow.today, flow.lang)
    return step


# ------------------------------------------------------------------------------------ a new case

@router.callback_query(TrkCb.filter(F.a.in_({"new", "cpl"})))
async def start_tracking(query: CallbackQuery, callback_data: TrkCb, bot: Bot, state: FSMContext, user: User,
                         cases: CasesRepo, complaints: ComplaintsRepo, reminder_service: ReminderService,
                         calendars: CalendarRepo, clock, settings: Settings, lang: str) -> None:
    flow = Flow(bot, state, user, cases, reminder_service, calendars, clock, settings, lang)
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
            await flow.show(query, existing)
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
    await ask_next(query, flow, data)


async def finish_form(target, flow: Flow, data: dict[str, Any]) -> None:
    await flow.state.clear()
    case = await flow.cases.create(
        flow.user.id,
        data["recipient"],
        date.fromisoformat(data["registered"]),
        filed_with=data.get("filed_with"),
        reg_number=data.get("reg_number"),
        complaint_id=data.get("complaint_id"),
        forwarded_via_provider=bool(data.get("forwarded")),
        learned_on=_day(data, "learned_on"),
        at=flow.clock.now(),
    )
    await flow.reminder_service.schedule_case(case.id)
    try:
        overdue = is_overdue(case, flow.reminder_service.deadlines_of(case, flow.cal), flow.today)
    except DeadlineError:
        overdue = False
    if overdue:  # nothing to remind of: say what is overdue and what is still open (in the timeline)
        prefix = _("Saved. The answer to this complaint is already overdue: below is what is overdue and what you "
                   "can still do.")
    elif flow.user.reminders_enabled:
        prefix = _("Saved. Here are the deadlines; I will remind you of them.")
    else:
        prefix = _("Saved. Here are the deadlines. Reminders are off; you can turn them on in /my.")
    await flow.show(target, case, prefix)


async def advance(target, flow: Flow, data: dict[str, Any]) -> None:
    await flow.state.set_data(data)
    if await ask_next(target, flow, data) is None:
        await finish_form(target, flow, data)


async def go_back(query: CallbackQuery, flow: Flow, step: str, data: dict[str, Any]) -> bool:
    """Back: the question before this one, asked again (its answer forgotten). False where there is none."""
    if step in FORM_STEPS:
        seq = form_sequence(data)
        i = seq.index(step) if step in seq else 0
        if i == 0:
            return False
        data.pop(seq[i - 1], None)
        await advance(query, flow, data)
        return True
    previous = {"ext_on": ("ext_days", "by"), "ext_told": ("ext_on", "on")}.get(step)
    if previous is None:
        return False
    target, forget = previous
    data.pop(forget, None)
    await flow.state.set_data(data)
    await flow.state.set_state(getattr(TrackingEvent, target))
    await ask_step(query, flow.bot, target, data, flow.today, flow.lang)
    return True


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
    step = current.split(":", 1)[1]
    if callback_data.s != step:  # a button of another (earlier) question
        await query.answer(_(NOT_VALID))
        return
    flow = Flow(bot, state, user, cases, reminder_service, calendars, clock, settings, lang)
    data = await state.get_data()
    if a == "nop":
        await query.answer()
    elif a == "bk":
        await query.answer()
        if not await go_back(query, flow, step, data):
            await send(query, bot, _(NOT_VALID))
    elif a == "dm" and step in DATE_QUESTIONS and len(v) == 6 and v.isdigit():
        await query.answer()
        _text, markup = question(step, data, flow.today, lang, month=(int(v[:4]), max(1, min(12, int(v[4:])))))
        if query.message is not None:
            try:
                await bot.edit_message_reply_markup(chat_id=query.message.chat.id,
                                                    message_id=query.message.message_id, reply_markup=markup)
            except TelegramBadRequest:  # not modified, or too old to edit: the typed date still works
                pass
    elif a == "dp" and step in DATE_QUESTIONS and len(v) == 8 and v.isdigit():
        await query.answer()
        result = parse_date(f"{v[6:8]}.{v[4:6]}.{v[0:4]}", flow.today)
        if not result.ok:
            await send(query, bot, date_error(result, flow.today))
            return
        await accept_date(query, flow, step, data, result.value)
    elif a == "rk" and step == "recipient" and v in REVIEW_TERMS:
        await query.answer()
        data["recipient"] = v
        await advance(query, flow, data)
    elif a == "fw" and step == "forwarded" and v in ("y", "n"):
        await query.answer()
        data["forwarded"] = v == "y"
        await advance(query, flow, data)
    elif a == "sk" and step in ("filed_with", "reg_number", "learned_on"):
        await query.answer()
        data[step] = None
        await advance(query, flow, data)
    elif a == "xd" and step == "ext_days" and (small_number(v) or 0) in range(1, EXTENSION_MAX + 1):
        await query.answer()
        await accept_ext_days(query, flow, data, small_number(v))  # type: ignore[arg-type]
    elif a == "sk" and step in ("ext_on", "ext_told"):
        await query.answer()
        await accept_ext_date(query, flow, data, step, None)
    else:
        await query.answer(_(NOT_VALID))


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
    flow = Flow(bot, state, user, cases, reminder_service, calendars, clock, settings, lang)
    data = await state.get_data()
    if step == "ext_days":
        n = small_number(text)
        if n is None or not 1 <= n <= EXTENSION_MAX:
            await message.answer(_(
                "The review term can be extended by at most 10 working days, so the number must be from 1 "
                "to 10. Please check it and send a number from 1 to 10."))
            return
        await accept_ext_days(message, flow, data, n)
    elif step in DATE_QUESTIONS:
        result = parse_date(text, flow.today)
        if not result.ok:
            await message.answer(date_error(result, flow.today))
            return
        await accept_date(message, flow, step, data, result.value)
    elif step in ("recipient", "forwarded"):
        await message.answer(_("Please choose with the buttons above."))
    elif step in ("filed_with", "reg_number"):
        if len(text) > MAX_TEXT:
            await message.answer(ngettext("That is too long: at most {n} character, please.",
                                          "That is too long: at most {n} characters, please.", MAX_TEXT).format(n=MAX_TEXT))
            return
        data[step] = text
        await advance(message, flow, data)


async def accept_date(target, flow: Flow, step: str, data: dict[str, Any], value: date) -> None:
    """A date typed or picked for a date question: checked against the others, then stored."""
    if step in ("ext_on", "ext_told"):
        await accept_ext_date(target, flow, data, step, value)
        return
    if step == "ans_on":
        await accept_answer_date(target, flow, data, value)
        return
    if step == "registered" and data.get("learned_on"):
        learned = date.fromisoformat(data["learned_on"])
        if learned > value:  # a saved complaint's own date; drop it rather than refuse
            data["learned_on"] = None
    if step == "learned_on" and value > date.fromisoformat(data["registered"]):
        await send(target, flow.bot, _("That is after the registration date. Please check the date, or press Skip."))
        return
    data[step] = value.isoformat()
    await advance(target, flow, data)


# ------------------------------------------------------------------------------------ extension, answer

async def _event_case(target, flow: Flow, data: dict) -> Case | None:
    case = await own_case(flow.cases, int(data.get("case_id") or 0), flow.user.id)
    if case is None or case.status != "open":
        await flow.state.clear()
        await send(target, flow.bot, _("This complaint can no longer be changed. Send /my to see your complaints."))
        return None
    return case


async def accept_ext_days(target, flow: Flow, data: dict, n: int) -> None:
    case = await _event_case(target, flow, data)
    if case is None:
        return
    data["by"] = n
    data["original"] = flow.reminder_service.deadlines_of(case, flow.cal).original_review_due.isoformat()
    await flow.state.set_data(data)
    await flow.state.set_state(TrackingEvent.ext_on)
    await ask_step(target, flow.bot, "ext_on", data, flow.today, flow.lang)


async def accept_ext_date(target, flow: Flow, data: dict, step: str, value: date | None) -> None:
    case = await _event_case(target, flow, data)
    if case is None:
        return
    cal, lang = flow.cal, flow.lang
    if step == "ext_on":
        if value is not None and value < case.registered_on:
            await send(target, flow.bot, _("That is before the registration date ({date}). Please check it.").format(
                date=fmt(case.registered_on, lang)))
            return
        data["on"] = value.isoformat() if value else None
        await flow.state.set_data(data)
        await flow.state.set_state(TrackingEvent.ext_told)
        await ask_step(target, flow.bot, "ext_told", data, flow.today, lang)
        return
    # ext_told: the last answer
    by = int(data["by"])
    on = _day(data, "on")
    effective_on = on or flow.reminder_service.deadlines_of(case, cal).original_review_due
    if value is not None and value < (on or case.registered_on):
        await send(target, flow.bot, _("That is before the extension itself. Please check the date."))
        return
    await flow.state.clear()
    case = await flow.cases.set_extension(case.id, by, on, value, at=flow.clock.now())
    await flow.reminder_service.schedule_case(case.id)
    deadlines = flow.reminder_service.deadlines_of(case, cal)
    prefix = ngettext("Saved: extended by {n} working day. The answer is now due on {date}.",
                      "Saved: extended by {n} working days. The answer is now due on {date}.", by).format(
        n=by, date=fmt(deadlines.review_due, lang))
    if value is not None and extension_notice_late(effective_on, value, cal):
        await flow.cases.record_event(case.id, "extension_notice_late", {
            "told_on": value.isoformat(), "notice_due": deadlines.extension_notice_due.isoformat()
            if deadlines.extension_notice_due else None})
    await flow.show(target, case, prefix)


async def accept_answer_date(target, flow: Flow, data: dict, value: date) -> None:
    case = await _event_case(target, flow, data)
    if case is None:
        return
    if value < case.registered_on:
        await send(target, flow.bot, _("That is before the registration date ({date}). Please check it.").format(
            date=fmt(case.registered_on, flow.lang)))
        return
    await flow.state.clear()
    case = await flow.cases.set_status(case.id, "answered", at=flow.clock.now(), answered_on=value)
    await flow.show(target, case, _("Marked as answered; the reminders for this complaint are off."))


@router.callback_query(F.data.regexp(r"^trkw?(:|$)"))
async def stale_button(query: CallbackQuery) -> None:
    """An unknown action or malformed data under our prefixes (old or forged buttons)."""
    await query.answer(_(NOT_VALID))


async def ask_again(message: Message, bot: Bot, state: FSMContext, today: date, lang: str) -> bool:
    """Ask the current tracking question again (after a language switch: in the new language)."""
    current = await state.get_state() or ""
    if not current.startswith("Tracking"):
        return False
    step = current.split(":", 1)[1]
    await ask_step(message, bot, step, await state.get_data(), today, lang)
    return True
