"""Deadline reminders: what to send, when, and the text. PURE: no aiogram, no I/O, no clock.

Kinds (all for the citizen who filed the complaint):

* ``forwarding_due``        on the last day the provider may forward the complaint (APPK art. 91 p. 4);
                             only when it was filed with the provider to be forwarded.
* ``extension_notice_due``  on the last day to be told about an extension (3 working days after it);
                             only when the term was extended and the person has not recorded being told.
* ``review_due_soon``       one working day before the review is due.
* ``review_due_today``      on the day the review is due.
* ``review_missed``         the working day after the due day: no answer in time is the body's inaction,
                             which can be appealed (LEGAL.md §3); what to do next (the quality authority or
                             the court), with the last day of each: one month for the court from the end of
                             the review term (APPK art. 136), 3 months for a further complaint (APPK art. 92).

Every reminder goes out at ``send_at`` local time on its day, moved into the allowed hours
(``quiet_start``..``quiet_end`` local, 09:00-20:00 by default) by :func:`next_allowed`.
When the person is told about their own deadlines, the earlier reading is used (LEGAL.md §4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable, Protocol
from zoneinfo import ZoneInfo

from bot.deadlines import Deadlines, Recipient

__all__ = [
    "KINDS",
    "PlannedReminder",
    "filing_limit_after_miss",
    "is_allowed",
    "next_allowed",
    "plan_case",
    "appeal_limits",
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


class _Calendar(Protocol):
    def add_working_days(self, day: date, delta: int) -> date: ...
    def next_working_day(self, day: date) -> date: ...
    def working_day_on_or_after(self, day: date) -> date: ...


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


def filing_limit_after_miss(deadlines: Deadlines, cal: _Calendar | None = None) -> date:
    """Last day to file a further complaint about a missed review: 3 calendar months from the first day of the
    body's inaction, moved to a working day (APPK art. 92); computed by the legal core with its calendar."""
    assert deadlines.further_complaint_until is not None
    return deadlines.further_complaint_until.day


def next_step(recipient: Recipient | str) -> str:
    """Where to go after a missed deadline: the quality authority after the provider/akim, else court."""
    return "court" if Recipient(recipient) is Recipient.QUALITY_AUTHORITY else "quality_authority"


def plan_case(
    deadlines: Deadlines,
    *,
    cal: _Calendar,
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
    assert deadlines.court_until is not None and deadlines.further_complaint_until is not None
    days.append(("review_missed", missed, {
        "day": due.isoformat(),
        "next_step": next_step(deadlines.recipient),
        "filing_limit": deadlines.further_complaint_until.day.isoformat(),
        "court_until": deadlines.court_until.day.isoformat(),
    }))

    planned = [PlannedReminder(kind, at(day), {**base, **extra}) for kind, day, extra in days]
    planned.sort(key=lambda p: (p.due_at, _RANK[p.kind]))
    past = [p for p in planned if p.due_at <= now]
    future = [p for p in planned if p.due_at > now]
    return ([past[-1]] if past else []) + future


# --------------------------------------------------------------------------------------------- #
# Text
# --------------------------------------------------------------------------------------------- #


class _CaseLike(Protocol):
    id: int
    filed_with: str | None
    reg_number: str | None


def _quote(text: str) -> str:
    # The same escaping as aiogram.utils.markdown.html.quote (html.escape without quotes); kept local so
    # this module stays free of aiogram.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def case_ref(case: _CaseLike) -> str:
    """How the message names the complaint: «body», № number (user data, HTML-escaped)."""
    parts = []
    if case.filed_with:
        parts.append(f"«{_quote(case.filed_with.strip())}»")
    if case.reg_number:
        parts.append(f"№ {_quote(case.reg_number.strip())}")
    return ", ".join(parts) if parts else f"#{case.id}"


def render_reminder(
    kind: str,
    *,
    case: _CaseLike,
    deadlines: Deadlines,
    gettext: Callable[[str], str],
    lang: str,
) -> str:
    """The message text (Telegram HTML; user data escaped) in the language of ``gettext``/``lang``.

    The dates come from ``deadlines`` (recomputed at send time), so a re-planned case is never described with
    stale dates. A date stands after a colon or a dash, never glued into a phrase that needs a case ending.
    """
    from babel.dates import format_date

    _ = gettext

    def d(day: date) -> str:
        return format_date(day, format="long", locale=lang)

    ref = case_ref(case)
    if kind == "forwarding_due":
        day = deadlines.forwarding_due or deadlines.registered
        text = _(
            "Today, {date}, is the last day for the service provider to forward your complaint {ref} to the "
            "body that reviews it, unless it has fully satisfied your demands. Check the status in eOtinish "
            "or in your eGov personal account, or ask at the office where you filed it."
        ).format(date=d(day), ref=ref)
    elif kind == "extension_notice_due":
        day = deadlines.extension_notice_due or deadlines.review_due
        text = _(
            "The review of your complaint {ref} was extended; the new deadline is {due}. You must be told "
            "about the extension and its reasons by {date}. If you have not been told, you may mention this "
            "in a further complaint."
        ).format(ref=ref, due=d(deadlines.review_due), date=d(day))
    elif kind == "review_due_soon":
        text = _(
            "Reminder: the answer to your complaint {ref} is due on {date}, in one working day."
        ).format(ref=ref, date=d(deadlines.review_due))
    elif kind == "review_due_today":
        text = _(
            "Today, {date}, is the last day to answer your complaint {ref}. If you receive the answer, "
            "mark the complaint as answered so that we stop the reminders."
        ).format(ref=ref, date=d(deadlines.review_due))
    elif kind == "review_missed":
        head = _(
            "The review term of your complaint {ref} is over (its last day: {date}). If you have no answer, "
            "the body's silence is inaction, and you can appeal it."
        ).format(ref=ref, date=d(deadlines.review_due))
        to_agency = next_step(deadlines.recipient) == "quality_authority"
        if to_agency:
            steps = _(
                "What you can do:\n"
                "1. Complain about the inaction to the authorised body for the quality of public services (the "
                "Agency for Civil Service Affairs, its department in your region) through eOtinish or your eGov "
                "personal account. It reviews a complaint within 15 working days.\n"
                "2. Or go to court with a claim against the inaction."
            )
        else:
            steps = _(
                "What you can do: go to court with a claim against the inaction, or complain to a higher body. "
                "Your pre-trial complaint has been filed, so the court may be approached."
            )
        limits = appeal_limits(deadlines, gettext=gettext, lang=lang, further=to_agency)
        text = f"{head}\n\n{steps}\n\n{limits}"
    else:
        raise ValueError(f"unknown reminder kind {kind!r}")
    return text


def appeal_limits(deadlines: Deadlines, *, gettext: Callable[[str], str], lang: str, further: bool = True) -> str:
    """The last days after the review, one per line: a further complaint (3 months, APPK art. 92; when
    ``further``) and the court (one month, APPK art. 136), counted from the answer (``deadlines.answered_on``)
    or from the missed review; then that a missed limit can be restored, and the guidance note (HTML)."""
    from babel.dates import format_date

    _ = gettext
    court, complaint = deadlines.court_until, deadlines.further_complaint_until
    assert court is not None and complaint is not None

    def d(day: date) -> str:
        return format_date(day, format="long", locale=lang)

    lines = []
    if further:
        lines.append(_("Last day for the complaint: {date} (3 months, APPK art. 92).").format(date=d(complaint.day)))
    if deadlines.answered_on is not None:
        lines.append(_("Last day to go to court: {date} (one month from the day you received the answer, APPK "
                       "art. 136).").format(date=d(court.day)))
    else:
        lines.append(_("Last day to go to court: {date} (one month from the end of the review term, APPK art. "
                       "136).").format(date=d(court.day)))
    lines.append(_("A missed limit can be restored for a valid reason."))
    note = _("This is guidance, not legal advice.")
    return "\n".join(lines) + f"\n\n<i>{_quote(note)}</i>"
