"""A tracked complaint (:class:`~bot.domain.entities.Case`) read through the deadline engine: its dates, whether
its answer is overdue, what comes next, and its reminders. Pure: the calendar, today and now are passed in."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.deadlines import DeadlineItem, Deadlines, WorkCalendar, compute
from bot.domain.entities import Case, CaseStatus
from bot.domain.reminders import PlannedReminder, plan_case

__all__ = ["CALENDAR_REACH", "answered_day", "calendar_change_window", "deadlines_of", "is_overdue", "next_item", "plan_for"]


#: How far past its registration a case's dates and reminders can reach: the longest review (15 working days
#: and an extension of 10, with holidays between: under 60 days), then the court's month and a further
#: complaint's 3 months after a missed review, each moved off a day off (under 130 days more). A change of the
#: working-day calendar on day D can only move the dates of cases registered from D - CALENDAR_REACH to D
#: (tests/test_case_service.py checks the reach against the longest case).
CALENDAR_REACH = timedelta(days=200)


def calendar_change_window(day: date, *more: date) -> tuple[date, date]:
    """The registration days of the cases whose dates a change of ``day`` (and of ``more`` days, changed
    together: a corrected Kurban Ait date frees the old one) in the calendar can move."""
    days = (day, *more)
    return min(days) - CALENDAR_REACH, max(days)


def deadlines_of(case: Case, cal: WorkCalendar) -> Deadlines:
    """The case's legal dates (raises ``DeadlineError`` when its facts do not compute)."""
    return compute(
        case.recipient_kind,
        case.registered_on,
        cal,
        extended_by=case.extended_by,
        extended_on=case.extended_on,
        forwarded_via_provider=case.forwarded_via_provider,
        learned_on=case.learned_on,
    )


def is_overdue(case: Case, deadlines: Deadlines, today: date) -> bool:
    return case.status == CaseStatus.OPEN and today > deadlines.review_due


def next_item(deadlines: Deadlines, today: date) -> DeadlineItem | None:
    """The next date of the timeline (today included), registration aside."""
    return next((i for i in deadlines.items if i.key != "registered" and i.day >= today), None)


def answered_day(case: Case, tz: ZoneInfo) -> date:
    """The day the answer came (recorded by the person), else the local day the case was marked answered."""
    return case.answered_on or case.updated_at.astimezone(tz).date()


def plan_for(case: Case, cal: WorkCalendar, *, now: datetime, tz: ZoneInfo, quiet_start: time,
             quiet_end: time) -> list[PlannedReminder]:
    """The reminders of the case as it stands: none unless it is open (raises ``DeadlineError`` when its dates
    do not compute)."""
    if case.status != CaseStatus.OPEN:
        return []
    return plan_case(deadlines_of(case, cal), cal=cal, tz=tz, quiet_start=quiet_start, quiet_end=quiet_end,
                     now=now, extension_told=case.extension_told_on is not None)
