"""/my (the list of tracked and saved complaints, in pages) and one case: its timeline and the buttons under it
(extended, no answer yet, answered, close), and the person's reminder switch."""

from __future__ import annotations

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from bot.domain.cases import deadlines_of
from bot.domain.deadlines import DeadlineError, working_days_left
from bot.domain.entities import Case, CaseStatus, ComplaintHead
from bot.domain.ports import ComplaintsRepo, UsersRepo
from bot.domain.text import escape
from handlers.buttons import keyboard
from handlers.common import NOT_VALID
from handlers.tracking.callbacks import TrkAction, TrkCb
from handlers.tracking.flow import Flow, Target, own_case
from handlers.tracking.keyboards import case_button, case_keyboard, close_confirm_keyboard
from handlers.tracking.render import (
    case_block,
    case_button_text,
    days_left_text,
    fmt,
    overdue_text,
    paginate,
    status_label,
    timeline_text,
    translations,
)
from handlers.tracking.states import question_of

__all__ = ["render_list", "show_case"]

MAX_UNTRACKED = 5  # saved complaints offered for tracking in /my
PAGE_BUDGET = 3800  # characters of HTML on one page of /my: Telegram shows at most 4096 (fewer than the HTML)
Rows = list[list[InlineKeyboardButton]]


# ------------------------------------------------------------------------------------ /my

async def _untracked(flow: Flow, complaints: ComplaintsRepo, cases: list[Case]) -> list[ComplaintHead]:
    tracked = {c.complaint_id for c in cases if c.complaint_id is not None}
    return [c for c in await complaints.heads_for_user(flow.user.id) if c.id not in tracked][:MAX_UNTRACKED]


async def _list_tail(flow: Flow, complaints: ComplaintsRepo, users: UsersRepo,
                     cases: list[Case]) -> tuple[list[str], Rows]:
    """Under the cases: the saved complaints not tracked yet, "I already filed one", the reminder switch."""
    gettext = translations()
    tail: list[str] = []
    rows: Rows = []
    untracked = await _untracked(flow, complaints, cases)
    if untracked:
        tail += ["", gettext("<b>Saved complaints not tracked yet</b>")]
        for stored in untracked:
            tail.append("• " + gettext("Complaint {number} of {date}").format(
                number=escape(stored.number),
                date=fmt(stored.created_at.astimezone(flow.settings.tz).date(), flow.lang)))
            rows.append([case_button(gettext("➕ Track {number}").format(number=stored.number), TrkAction.TRACK_SAVED,
                                     stored.id)])
    rows.append([case_button(gettext("➕ I already filed a complaint"), TrkAction.NEW)])
    fresh = await users.get(flow.user.id)
    enabled = fresh.reminders_enabled if fresh is not None else flow.user.reminders_enabled
    if any(c.status == CaseStatus.OPEN for c in cases):  # nothing tracked, nothing to stop
        if enabled:
            rows.append([case_button(gettext("🔕 Stop reminders"), TrkAction.REMINDERS_OFF)])
        else:
            tail += ["", gettext("Reminders are off.")]
            rows.append([case_button(gettext("🔔 Resume reminders"), TrkAction.REMINDERS_ON)])
    return tail, rows


async def render_list(flow: Flow, complaints: ComplaintsRepo, users: UsersRepo,
                      page: int = 0) -> tuple[str, InlineKeyboardMarkup]:
    """One page of /my: the tracked complaints (open ones first), then on the first page the saved complaints
    not tracked yet; never longer than Telegram allows (PAGE_BUDGET)."""
    gettext = translations()
    all_cases = await flow.cases.list_for_user(flow.user.id)
    my_cases = sorted(all_cases, key=lambda c: c.status != CaseStatus.OPEN)
    tail, tail_rows = await _list_tail(flow, complaints, users, all_cases)
    if not my_cases:
        lines = [gettext("You have no tracked complaints yet."),
                 gettext("Tell me the registration date of a complaint you have filed, and I will count the "
                   "deadlines and remind you of them.")] + tail
        return "\n".join(lines), keyboard(tail_rows)
    header = gettext("<b>Your tracked complaints</b>")
    blocks = [case_block(n, case, flow.today, flow.lang, flow.cal) for n, case in enumerate(my_cases, 1)]
    fixed = len(header) + len("\n".join(tail)) + 100  # the page line and the separators
    pages = paginate(blocks, PAGE_BUDGET - fixed)
    page = max(0, min(page, len(pages) - 1))
    lines = [header] + [blocks[i] for i in pages[page]]
    rows = [[case_button(case_button_text(my_cases[i]), TrkAction.OPEN, my_cases[i].id)] for i in pages[page]]
    if len(pages) > 1:
        lines += ["", gettext("Page {n} of {total}").format(n=page + 1, total=len(pages))]
        turn = []
        if page > 0:
            turn.append(case_button(gettext("◀️ Previous"), TrkAction.PAGE, page - 1))
        if page + 1 < len(pages):
            turn.append(case_button(gettext("Next ▶️"), TrkAction.PAGE, page + 1))
        rows.append(turn)
    return "\n".join(lines + tail), keyboard(rows + tail_rows)


async def my_complaints(message: Message, flow: Flow, complaints: ComplaintsRepo, users: UsersRepo) -> None:
    if question_of(await flow.state.get_state()) is not None:
        await flow.state.clear()  # /my in the middle of a tracking question starts over from the list
    text, markup = await render_list(flow, complaints, users)
    await message.answer(text, reply_markup=markup)


async def list_pressed(query: CallbackQuery, callback_data: TrkCb, flow: Flow, complaints: ComplaintsRepo,
                       users: UsersRepo) -> None:
    """"My complaints" under a case sends the list; a page button turns the list's own message."""
    await query.answer()
    text, markup = await render_list(flow, complaints, users, page=callback_data.id)
    if callback_data.a == TrkAction.PAGE and query.message is not None:
        try:
            await flow.bot.edit_message_text(text, chat_id=query.message.chat.id,
                                             message_id=query.message.message_id, reply_markup=markup)
            return
        except TelegramBadRequest:  # too old to edit (or unchanged): send it anew
            pass
    await flow.send(query, text, markup)


async def reminders_switch(query: CallbackQuery, callback_data: TrkCb, flow: Flow, complaints: ComplaintsRepo,
                           users: UsersRepo) -> None:
    if callback_data.a == TrkAction.REMINDERS_OFF:
        await flow.cases.reminders_off(flow.user.id)
        note = _("Reminders are off. Your complaints stay here; you can turn reminders back on in /my.")
    else:
        await flow.cases.reminders_on(flow.user.id)
        note = _("Reminders are on again.")
    await query.answer()
    text, markup = await render_list(flow, complaints, users)
    await flow.send(query, note)
    await flow.send(query, text, markup)


# ------------------------------------------------------------------------------------ one case

async def show_case(target: Target, flow: Flow, case: Case, prefix: str = "") -> None:
    try:
        deadlines = deadlines_of(case, flow.cal)
    except DeadlineError:
        await flow.send(target, _("Sorry, I cannot count the dates of this complaint."), case_keyboard(case))
        return
    text = timeline_text(case, deadlines, flow.lang, flow.cal, flow.today, flow.settings)
    await flow.send(target, f"{prefix}\n\n{text}" if prefix else text, case_keyboard(case))


async def the_case(query: CallbackQuery, callback_data: TrkCb, flow: Flow, *, open_only: bool) -> Case | None:
    """The pressed case if it is the person's (and, with ``open_only``, still open); else answered."""
    case = await own_case(flow, callback_data.id)
    if case is None:
        await query.answer(_(NOT_VALID))
        return None
    if open_only and case.status != CaseStatus.OPEN:
        await query.answer(_("This complaint is already marked as {status}.").format(status=status_label(case.status)))
        return None
    return case


async def open_case(query: CallbackQuery, callback_data: TrkCb, flow: Flow) -> None:
    case = await the_case(query, callback_data, flow, open_only=False)
    if case is not None:
        await query.answer()
        await show_case(query, flow, case)


async def close_asked(query: CallbackQuery, callback_data: TrkCb, flow: Flow) -> None:
    """Ask first: closing stops the reminders."""
    case = await the_case(query, callback_data, flow, open_only=True)
    if case is not None:
        await query.answer()
        await flow.send(query, _("Stop tracking this complaint? Its reminders stop; it stays in /my as closed."),
                        close_confirm_keyboard(case))


async def close_confirmed(query: CallbackQuery, callback_data: TrkCb, flow: Flow) -> None:
    case = await the_case(query, callback_data, flow, open_only=True)
    if case is not None:
        case = await flow.cases.close(case.id)
        await query.answer()
        await flow.send(query, _("Closed; the reminders for this complaint are off."), case_keyboard(case))


async def close_declined(query: CallbackQuery, callback_data: TrkCb, flow: Flow) -> None:
    case = await the_case(query, callback_data, flow, open_only=True)
    if case is not None:
        await query.answer()
        await show_case(query, flow, case, prefix=_("Fine, I keep tracking it."))


async def no_answer_yet(query: CallbackQuery, callback_data: TrkCb, flow: Flow) -> None:
    case = await the_case(query, callback_data, flow, open_only=True)
    if case is None:
        return
    await query.answer()
    try:
        deadlines = deadlines_of(case, flow.cal)
    except DeadlineError:
        await flow.send(query, _("Sorry, I cannot count the dates of this complaint."), case_keyboard(case))
        return
    today, cal = flow.today, flow.cal
    left = working_days_left(today, deadlines.review_due, cal)
    await flow.cases.record_event(case.id, "no_answer_yet", {"today": today.isoformat(), "working_days_left": left})
    due = fmt(deadlines.review_due, flow.lang)
    if today > deadlines.review_due:
        text = overdue_text(deadlines, today, flow.lang, cal)
    elif left > 0:
        text = _("The answer is due on {date}; {left}. Nothing to do yet: I will remind you before the "
                 "deadline.").format(date=due, left=days_left_text(left))
    else:
        text = _("Today, {date}, is the last day for the answer. If there is no answer by the end of the day, "
                 "that is inaction of the body, and you can appeal it: press «❓ No answer yet» again after this "
                 "day to see how.").format(date=due)
    text += "\n\n<i>" + _("This is guidance, not legal advice.") + "</i>"
    await flow.send(query, text, case_keyboard(case))
