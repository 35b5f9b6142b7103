"""What happened to a tracked case since: an extension (how many days, when, when the person was told) and the
answer (its date). Each is saved through bot.services.cases, which re-plans the reminders with it."""

from __future__ import annotations

from datetime import date
from typing import Any

from aiogram.types import CallbackQuery
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.domain.deadlines import extension_notice_late
from bot.domain.entities import Case, CaseStatus
from handlers.tracking.callbacks import TrkCb
from handlers.tracking.cases import show_case, the_case
from handlers.tracking.flow import Flow, Target, day_of, own_case, refused_in_wizard
from handlers.tracking.questions import ask_step
from handlers.tracking.render import fmt
from handlers.tracking.states import TrackingEvent, state_of

__all__ = ["accept_answer_date", "accept_ext_date", "accept_ext_days", "back_in_event", "on_answered", "on_extended"]

#: The question before each question of the extension, and the answer going back forgets.
_PREVIOUS = {"ext_on": ("ext_days", "by"), "ext_told": ("ext_on", "on")}


async def ask_event(query: CallbackQuery, flow: Flow, case: Case, step: str) -> None:
    """"They extended it" or "I got an answer": the first question about it."""
    if await refused_in_wizard(query, flow):
        return
    await query.answer()
    await flow.state.set_state(state_of(step))
    await flow.state.set_data({"case_id": case.id, "registered": case.registered_on.isoformat()})
    await ask_step(query, flow.bot, step, await flow.state.get_data(), flow.today, flow.lang)


async def back_in_event(query: CallbackQuery, flow: Flow, step: str, data: dict[str, Any]) -> bool:
    """Back in the extension's questions (its answer forgotten). False where there is none."""
    previous = _PREVIOUS.get(step)
    if previous is None:
        return False
    target, forget = previous
    data.pop(forget, None)
    await flow.state.set_data(data)
    await flow.state.set_state(state_of(target))
    await ask_step(query, flow.bot, target, data, flow.today, flow.lang)
    return True


async def _event_case(target: Target, flow: Flow, data: dict[str, Any]) -> Case | None:
    case = await own_case(flow, int(data.get("case_id") or 0))
    if case is None or case.status != CaseStatus.OPEN:
        await flow.state.clear()
        await flow.send(target, _("This complaint can no longer be changed. Send /my to see your complaints."))
        return None
    return case


async def accept_ext_days(target: Target, flow: Flow, data: dict[str, Any], n: int) -> None:
    case = await _event_case(target, flow, data)
    if case is None:
        return
    data["by"] = n
    data["original"] = flow.cases.deadlines(case).original_review_due.isoformat()
    await flow.state.set_data(data)
    await flow.state.set_state(TrackingEvent.ext_on)
    await ask_step(target, flow.bot, "ext_on", data, flow.today, flow.lang)


async def accept_ext_date(target: Target, flow: Flow, data: dict[str, Any], step: str, value: date | None) -> None:
    """The day of the extension (``ext_on``) or the day the person was told (``ext_told``, the last question);
    None: "I don't know" / "not told yet"."""
    case = await _event_case(target, flow, data)
    if case is None:
        return
    if step == "ext_on":
        await _extended_on(target, flow, data, case, value)
    else:
        await _told_on(target, flow, data, case, value)


async def _extended_on(target: Target, flow: Flow, data: dict[str, Any], case: Case, value: date | None) -> None:
    if value is not None and value < case.registered_on:
        await flow.send(target, _("That is before the registration date ({date}). Please check it.").format(
            date=fmt(case.registered_on, flow.lang)))
        return
    data["on"] = value.isoformat() if value else None
    await flow.state.set_data(data)
    await flow.state.set_state(TrackingEvent.ext_told)
    await ask_step(target, flow.bot, "ext_told", data, flow.today, flow.lang)


async def _told_on(target: Target, flow: Flow, data: dict[str, Any], case: Case, value: date | None) -> None:
    by = int(data["by"])
    on = day_of(data, "on")
    effective_on = on or flow.cases.deadlines(case).original_review_due
    if value is not None and value < (on or case.registered_on):
        await flow.send(target, _("That is before the extension itself. Please check the date."))
        return
    await flow.state.clear()
    case = await flow.cases.extend(case.id, by, on, value)
    deadlines = flow.cases.deadlines(case)
    prefix = ngettext("Saved: extended by {n} working day. The answer is now due on {date}.",
                      "Saved: extended by {n} working days. The answer is now due on {date}.", by).format(
        n=by, date=fmt(deadlines.review_due, flow.lang))
    if value is not None and extension_notice_late(effective_on, value, flow.cal):
        due = deadlines.extension_notice_due
        await flow.cases.record_event(case.id, "extension_notice_late", {
            "told_on": value.isoformat(), "notice_due": due.isoformat() if due else None})
    await show_case(target, flow, case, prefix)


async def accept_answer_date(target: Target, flow: Flow, data: dict[str, Any], value: date) -> None:
    case = await _event_case(target, flow, data)
    if case is None:
        return
    if value < case.registered_on:
        await flow.send(target, _("That is before the registration date ({date}). Please check it.").format(
            date=fmt(case.registered_on, flow.lang)))
        return
    await flow.state.clear()
    case = await flow.cases.answer(case.id, value)
    await show_case(target, flow, case, _("Marked as answered; the reminders for this complaint are off."))


async def on_extended(query: CallbackQuery, callback_data: TrkCb, flow: Flow) -> None:
    """"They extended it": by how many working days."""
    case = await the_case(query, callback_data, flow, open_only=True)
    if case is not None:
        await ask_event(query, flow, case, "ext_days")


async def on_answered(query: CallbackQuery, callback_data: TrkCb, flow: Flow) -> None:
    """"I got an answer": on what day."""
    case = await the_case(query, callback_data, flow, open_only=True)
    if case is not None:
        await ask_event(query, flow, case, "ans_on")
