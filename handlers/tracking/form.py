"""A new case: "track this complaint" (a saved one, or one filed elsewhere), its questions in order, and the
case saved with its reminders (bot.services.cases)."""

from __future__ import annotations

from datetime import date
from typing import Any

from aiogram.types import CallbackQuery
from aiogram.utils.i18n import gettext as _

from bot.domain.cases import is_overdue
from bot.domain.complaint import recipient_label
from bot.domain.deadlines import REVIEW_TERMS, DeadlineError
from bot.domain.entities import StoredComplaint
from bot.domain.ports import ComplaintsRepo
from bot.domain.text import escape
from handlers.common import NOT_VALID
from handlers.tracking.callbacks import TrkAction, TrkCb
from handlers.tracking.cases import show_case
from handlers.tracking.flow import Flow, Target, day_of, form_sequence, next_form_step, refused_in_wizard
from handlers.tracking.questions import ask_step
from handlers.tracking.states import state_of

__all__ = ["accept_form_date", "advance", "back_in_form", "start_tracking"]

MAX_TEXT = 200  # filed_with / reg_number


def _from_saved(stored: StoredComplaint) -> dict[str, Any]:
    """The answers a saved complaint already gives (recipient, where it was filed, the day learned)."""
    c = stored.complaint
    data: dict[str, Any] = {"complaint_id": stored.id}
    if c.recipient_kind in REVIEW_TERMS:
        data["recipient"] = c.recipient_kind
    name = (c.recipient_name or "").strip()
    if name:
        data["filed_with"] = name[:MAX_TEXT]
    if c.learned_date is not None:
        data["learned_on"] = c.learned_date.isoformat()
    return data


async def start_tracking(query: CallbackQuery, callback_data: TrkCb, flow: Flow, complaints: ComplaintsRepo) -> None:
    data: dict[str, Any] = {"complaint_id": None}
    intro = _("Let us set up tracking of a complaint you have filed. Send /cancel to stop at any time.")
    if callback_data.a == TrkAction.TRACK_SAVED:
        stored = await complaints.get(callback_data.id)
        if stored is None or stored.user_id != flow.user.id:
            await query.answer(_(NOT_VALID))
            return
        existing = next((c for c in await flow.cases.list_for_user(flow.user.id) if c.complaint_id == stored.id),
                        None)
        if existing is not None:  # tracked already (a second press): show it
            await query.answer()
            await show_case(query, flow, existing)
            return
        data = _from_saved(stored)
        intro = _("Tracking complaint {number}. A few questions about its registration.").format(
            number=escape(stored.number))
        if "recipient" in data:
            intro += "\n" + _("Reviewed by: {recipient}").format(recipient=recipient_label(data["recipient"], _))
    if await refused_in_wizard(query, flow):
        return
    await query.answer()
    await flow.state.set_data(data)
    await flow.send(query, intro)
    await ask_next(query, flow, data)


async def ask_next(target: Target, flow: Flow, data: dict[str, Any]) -> str | None:
    step = next_form_step(data)
    if step is None:
        return None
    await flow.state.set_state(state_of(step))
    await ask_step(target, flow.bot, step, data, flow.today, flow.lang)
    return step


async def advance(target: Target, flow: Flow, data: dict[str, Any]) -> None:
    await flow.state.set_data(data)
    if await ask_next(target, flow, data) is None:
        await finish_form(target, flow, data)


async def finish_form(target: Target, flow: Flow, data: dict[str, Any]) -> None:
    await flow.state.clear()
    case = await flow.cases.track(
        flow.user.id,
        data["recipient"],
        date.fromisoformat(data["registered"]),
        filed_with=data.get("filed_with"),
        reg_number=data.get("reg_number"),
        complaint_id=data.get("complaint_id"),
        forwarded_via_provider=bool(data.get("forwarded")),
        learned_on=day_of(data, "learned_on"),
    )
    try:
        overdue = is_overdue(case, flow.cases.deadlines(case), flow.today)
    except DeadlineError:
        overdue = False
    if overdue:  # nothing to remind of: say what is overdue and what is still open (in the timeline)
        prefix = _("Saved. The answer to this complaint is already overdue: below is what is overdue and what you "
                   "can still do.")
    elif flow.user.reminders_enabled:
        prefix = _("Saved. Here are the deadlines; I will remind you of them.")
    else:
        prefix = _("Saved. Here are the deadlines. Reminders are off; you can turn them on in /my.")
    await show_case(target, flow, case, prefix)


async def back_in_form(query: CallbackQuery, flow: Flow, step: str, data: dict[str, Any]) -> bool:
    """Back: the question before this one, asked again (its answer forgotten). False where there is none."""
    seq = form_sequence(data)
    i = seq.index(step) if step in seq else 0
    if i == 0:
        return False
    data.pop(seq[i - 1], None)
    await advance(query, flow, data)
    return True


async def accept_form_date(target: Target, flow: Flow, step: str, data: dict[str, Any], value: date) -> None:
    """The registration day or the day learned: checked against the other, then stored."""
    if step == "registered" and data.get("learned_on"):
        learned = date.fromisoformat(data["learned_on"])
        if learned > value:  # a saved complaint's own date; drop it rather than refuse
            data["learned_on"] = None
    if step == "learned_on" and value > date.fromisoformat(data["registered"]):
        await flow.send(target, _("That is after the registration date. Please check the date, or press Skip."))
        return
    data[step] = value.isoformat()
    await advance(target, flow, data)
