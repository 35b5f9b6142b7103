"""Deadline reminders: what to send, when, and the text. PURE: no aiogram, no I/O, no clock.

Kinds (all for the citizen who filed the complaint):

* ``forwarding_due``        on the last day the provider may forward the complaint (APPK art. 91 p. 4);
                             only when it was filed with the provider to be forwarded.
* ``extension_notice_due``  on the last day to be told about an extension (3 working days after it);
                             only when the term was extended and the person has not recorded being told.
* ``review_due_soon``       one working day before the review is due.
* ``review_due_today``      on the day the review is due.
* ``review_missed``         the working day after the due day: a complaint not reviewed in time is
                             inaction, which can be appealed (docs/legal.md, 'Inaction and refusal'); what
                             is still open, each with its last day or, once passed, that it can be restored
                             (bot.domain.next_steps).

Every reminder goes out at ``send_at`` local time on its day, moved into the allowed hours
(``quiet_start``..``quiet_end`` local, 09:00-20:00 by default) by :func:`next_allowed`.
When the person is told about their own deadlines, the earlier reading is used (docs/legal.md, 'Counting terms').
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.deadlines import (
    Deadlines,
    Recipient,
    WorkCalendar,
    court_limit_from,
    filing_limit_from,
)
from bot.domain.entities import Case
from bot.domain.text import Gettext, escape

__all__ = [
    "KINDS",
    "PlannedReminder",
    "filing_limit_after_miss",
    "is_allowed",
    "next_allowed",
    "plan_case",
    "render_reminder",
]

KINDS = (
    "forwarding_due",
    "extension_notice_due",
    "review_due_soon",
    "review_due_today",
    "review_missed",
)
#: Order of reminders on the same day.
_RANK = {k: i for i, k in enumerate(KINDS)}


@dataclass(frozen=True, slots=True)
class PlannedReminder:
    kind: str
    due_at: datetime  # aware UTC
    payload: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- #
# Allowed hours
# --------------------------------------------------------------------------------------------- #


def is_allowed(moment: datetime, tz: ZoneInfo, quiet_start: time, quiet_end: time) -> bool:
    """True when ``moment`` falls in the allowed sending window [quiet_start, quiet_end) local time.

    (Settings call the window's edges ``quiet_hours_start``/``quiet_hours_end``: messages go out between
    them and never outside.) A window that wraps midnight (start > end) is supported.
    """
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    t = moment.astimezone(tz).time().replace(tzinfo=None)
    if quiet_start == quiet_end:
        return True
    if quiet_start < quiet_end:
        return quiet_start <= t < quiet_end
    return t >= quiet_start or t < quiet_end


def next_allowed(moment: datetime, tz: ZoneInfo, quiet_start: time, quiet_end: time) -> datetime:
    """``moment`` itself if it is in the allowed window, else the next start of the window (aware UTC)."""
    if is_allowed(moment, tz, quiet_start, quiet_end):
        return moment.astimezone(timezone.utc)
    local = moment.astimezone(tz)
    day = local.date()
    if local.time().replace(tzinfo=None) >= quiet_start:
        day += timedelta(days=1)  # past today's start, so past today's window: the next one opens tomorrow
    # combine() per day keeps the local wall time across DST changes (Asia/Almaty has none).
    return datetime.combine(day, quiet_start, tzinfo=tz).astimezone(timezone.utc)


# --------------------------------------------------------------------------------------------- #
# Planning
# --------------------------------------------------------------------------------------------- #


def filing_limit_after_miss(deadlines: Deadlines, cal: WorkCalendar) -> date:
    """Last day to file the next complaint about a missed review deadline (the body's inaction): 3 calendar
    months from the day the review term expired (``review_due``: the earlier reading, as the person is told
    their own limits), moved to a working day (APPK art. 92)."""
    return filing_limit_from(deadlines.review_due, cal)


def next_step(recipient: Recipient | str) -> str:
    """Where to go after a missed deadline: the quality authority after the provider/akim, else court."""
    return "court" if Recipient(recipient) is Recipient.QUALITY_AUTHORITY else "quality_authority"


def plan_case(
    deadlines: Deadlines,
    *,
    cal: WorkCalendar,
    tz: ZoneInfo,
    quiet_start: time,
    quiet_end: time,
    send_at: time = time(10, 0),
    now: datetime,
    extension_told: bool = False,
) -> list[PlannedReminder]:
    """Every reminder of one case, sorted by ``due_at``.

    Reminders whose moment is already past at ``now`` are dropped, except the latest of them, which is kept
    with its original (past) ``due_at`` so it goes out at the next tick (a case entered late still gets the
    most relevant message, and a re-plan of an already-sent one is recognised as a duplicate).
    ``extension_told``: the person recorded being told about the extension; no notice reminder then.
    """
    if now.tzinfo is None:
        raise ValueError("now must be aware")

    def at(day: date) -> datetime:
        return next_allowed(datetime.combine(day, send_at, tzinfo=tz), tz, quiet_start, quiet_end)

    due = deadlines.review_due
    base = {"recipient": deadlines.recipient.value, "review_due": due.isoformat()}
    days: list[tuple[str, date, dict[str, Any]]] = []
    if deadlines.forwarding_due is not None:
        days.append(("forwarding_due", deadlines.forwarding_due, {"day": deadlines.forwarding_due.isoformat()}))
    if deadlines.extended_by and deadlines.extension_notice_due is not None and not extension_told:
        days.append(("extension_notice_due", deadlines.extension_notice_due,
                     {"day": deadlines.extension_notice_due.isoformat(), "extended_by": deadlines.extended_by}))
    soon = cal.add_working_days(due, -1)
    if soon > deadlines.registered:
        days.append(("review_due_soon", soon, {"day": due.isoformat()}))
    days.append(("review_due_today", due, {"day": due.isoformat()}))
    missed = cal.next_working_day(due)
    days.append(("review_missed", missed, {
        "day": due.isoformat(),
        "next_step": next_step(deadlines.recipient),
        "filing_limit": filing_limit_after_miss(deadlines, cal).isoformat(),
        "court_until": court_limit_from(deadlines.review_due, cal).isoformat(),
    }))

    planned = [PlannedReminder(kind, at(day), {**base, **extra}) for kind, day, extra in days]
    planned.sort(key=lambda p: (p.due_at, _RANK[p.kind]))
    past = [p for p in planned if p.due_at <= now]
    future = [p for p in planned if p.due_at > now]
    return ([past[-1]] if past else []) + future


# --------------------------------------------------------------------------------------------- #
# Text
# --------------------------------------------------------------------------------------------- #


def case_ref(case: Case) -> str:
    """How the message names the complaint: «body», № number (user data, HTML-escaped)."""
    parts = []
    if case.filed_with:
        parts.append(f"«{escape(case.filed_with.strip())}»")
    if case.reg_number:
        parts.append(f"№ {escape(case.reg_number.strip())}")
    return ", ".join(parts) if parts else f"#{case.id}"


def render_reminder(
    kind: str,
    *,
    case: Case,
    deadlines: Deadlines,
    gettext: Gettext,
    lang: str,
    cal: WorkCalendar | None = None,
    today: date | None = None,
) -> str:
    """The message text (Telegram HTML; user data escaped) in the language of ``gettext``/``lang``.

    The dates come from ``deadlines`` (recomputed at send time), so a re-planned case is never described with
    stale dates. ``review_missed`` needs ``cal`` (the limits of the next steps, bot.domain.next_steps) and tells which
    limits have passed by ``today`` (default: the working day after the deadline, when it is normally sent).
    """
    render = _TEXTS.get(kind)
    if render is None:
        raise ValueError(f"unknown reminder kind {kind!r}")
    if kind == "review_missed" and cal is None:
        raise ValueError("the review_missed reminder needs the calendar")
    return render(_Told(case_ref(case), deadlines, gettext, lang, cal, today))


@dataclass(frozen=True)
class _Told:
    """What a reminder's text is made of."""

    ref: str
    deadlines: Deadlines
    gettext: Gettext
    lang: str
    cal: WorkCalendar | None
    today: date | None

    def d(self, day: date) -> str:
        from babel.dates import format_date

        return format_date(day, format="long", locale=self.lang)


def _forwarding_due(t: _Told) -> str:
    _ = t.gettext
    day = t.deadlines.forwarding_due or t.deadlines.registered
    return _(
        "Today, {date}, is the last day for the service provider to forward your complaint {ref} to the "
        "body that reviews it, unless it has fully satisfied your demands. Check the status in eOtinish "
        "or in your eGov personal account, or ask at the office where you filed it."
    ).format(date=t.d(day), ref=t.ref)


def _extension_notice_due(t: _Told) -> str:
    _ = t.gettext
    day = t.deadlines.extension_notice_due or t.deadlines.review_due
    return _(
        "The review of your complaint {ref} was extended; the new deadline is {due}. You must be told "
        "about the extension and its reasons by {date}. If you have not been told, you may mention this "
        "in a further complaint."
    ).format(ref=t.ref, due=t.d(t.deadlines.review_due), date=t.d(day))


def _review_due_soon(t: _Told) -> str:
    _ = t.gettext
    return _(
        "Reminder: the answer to your complaint {ref} is due on {date}, in one working day."
    ).format(ref=t.ref, date=t.d(t.deadlines.review_due))


def _review_due_today(t: _Told) -> str:
    _ = t.gettext
    return _(
        "Today, {date}, is the last day to answer your complaint {ref}. If you receive the answer, "
        "mark the complaint as answered so that we stop the reminders."
    ).format(ref=t.ref, date=t.d(t.deadlines.review_due))


def _review_missed(t: _Told) -> str:
    from bot.domain.next_steps import after_inaction, render_options

    _ = t.gettext
    cal = t.cal
    assert cal is not None  # checked by render_reminder
    options = after_inaction(t.deadlines, t.today or cal.next_working_day(t.deadlines.review_due), cal)
    head = _("The deadline for answering your complaint {ref} was {date}.").format(
        ref=t.ref, date=t.d(t.deadlines.review_due))
    note = _("This is guidance, not legal advice.")
    return f"{head}\n\n{render_options(options, _, t.lang)}\n\n<i>{note}</i>"


_TEXTS: dict[str, Callable[[_Told], str]] = {
    "forwarding_due": _forwarding_due,
    "extension_notice_due": _extension_notice_due,
    "review_due_soon": _review_due_soon,
    "review_due_today": _review_due_today,
    "review_missed": _review_missed,
}
