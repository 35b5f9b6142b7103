"""Deadline engine for a complaint about a public service (docs/legal.md, 'Recipients and review terms',
'Forwarding', 'Extension and notice', 'Counting terms'). Pure: no I/O, no clock.

Counting: day 1 of a term is the first working day after the start date (``KzCalendar.add_working_days``).
Every date comes with a legal-basis key (``DeadlineItem.basis``) that the UI translates.

Item keys: ``registered``, ``forwarding_due``, ``review_due_original``, ``review_due``, ``escalate_from``,
``extension_notice_due``, ``filing_limit``.
Basis keys: see :data:`BASIS_KEYS`.

After the review (:attr:`Deadlines.court_until`, :attr:`Deadlines.further_complaint_until`): one calendar month to
go to court (APPK art. 136) and three for a further complaint (APPK art. 92), counted from the day the answer was
received -- or, with no answer, from the missed review (docs/legal.md, 'Further complaint' and 'Court').
"""

from __future__ import annotations

import calendar as _stdcal
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo

__all__ = [
    "BASIS_KEYS",
    "EXTENSION_MAX",
    "EXTENSION_NOTICE_DAYS",
    "FILING_LIMIT_MONTHS",
    "filing_limit_from",
    "court_limit_from",
    "further_complaint_limit_from",
    "COURT_LIMIT_MONTHS",
    "FORWARDING_DAYS",
    "REVIEW_TERMS",
    "DeadlineError",
    "DeadlineItem",
    "Deadlines",
    "Limit",
    "Recipient",
    "add_months",
    "compute",
    "extension_notice_late",
    "registration_date",
    "working_days_left",
]

ALMATY = ZoneInfo("Asia/Almaty")
END_OF_DAY = time(18, 0)


class WorkCalendar(Protocol):
    """What the engine needs from a calendar (``bot.domain.workdays.KzCalendar`` provides it)."""

    def is_working_day(self, day: date) -> bool: ...
    def add_working_days(self, day: date, delta: int) -> date: ...
    def working_days_between(self, a: date, b: date) -> int: ...
    def next_working_day(self, day: date) -> date: ...
    def working_day_on_or_after(self, day: date) -> date: ...
    def is_provisional(self, *dates: date) -> bool: ...


class Recipient(StrEnum):
    """Who reviews the complaint (docs/legal.md, 'Recipients and review terms')."""

    PROVIDER = "provider"
    QUALITY_AUTHORITY = "quality_authority"
    AKIM = "akim"


#: Review term in working days from registration.
REVIEW_TERMS: dict[Recipient, int] = {
    Recipient.PROVIDER: 5,
    Recipient.QUALITY_AUTHORITY: 15,
    Recipient.AKIM: 5,
}
REVIEW_BASIS: dict[Recipient, str] = {
    Recipient.PROVIDER: "law_public_services_25_provider_5",
    Recipient.QUALITY_AUTHORITY: "law_public_services_25_quality_authority_15",
    Recipient.AKIM: "law_public_services_25_local_executive_5",
}
FORWARDING_DAYS = 3
EXTENSION_MAX = 10
EXTENSION_NOTICE_DAYS = 3
FILING_LIMIT_MONTHS = 3
COURT_LIMIT_MONTHS = 1

BASIS_KEYS: tuple[str, ...] = (
    "appk_64_3_registration",  # after hours / non-working day -> next working day
    "appk_91_4_forwarding",  # forwarded within 3 working days of arrival
    *REVIEW_BASIS.values(),
    "extension_max_10",  # review term extended by at most 10 working days
    "extension_notice_3",  # complainant told within 3 working days of the extension
    "review_missed_inaction",  # no answer in time is inaction, appealable (docs/legal.md, 'Inaction and refusal')
    "appk_92_filing_limit",  # 3 calendar months from learning of the decision
)

#: Order of items that fall on the same day.
#: Basis of the limits after the review (not timeline items).
COURT_BASIS = "appk_136_court_limit"  # one month to court from the answer or the missed review
FURTHER_COMPLAINT_BASIS = "appk_92_further_complaint"  # three months for a further complaint

_RANK = {
    "registered": 0,
    "forwarding_due": 1,
    "extension_notice_due": 2,
    "review_due_original": 3,
    "review_due": 4,
    "escalate_from": 5,
    "filing_limit": 6,
}


class DeadlineError(ValueError):
    """Bad input to the engine; ``key`` is a translatable reason."""

    def __init__(self, key: str, detail: str = "") -> None:
        super().__init__(f"{key}: {detail}" if detail else key)
        self.key = key


@dataclass(frozen=True, slots=True)
class DeadlineItem:
    key: str
    day: date
    basis: str

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "day": self.day.isoformat(), "basis": self.basis}


@dataclass(frozen=True, slots=True)
class Limit:
    """A last day counted from ``counted_from``; ``provisional`` when an unverified year was used."""

    day: date
    counted_from: date
    provisional: bool
    basis: str

    def to_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "from": self.counted_from.isoformat(), "provisional": self.provisional,
                "basis": self.basis}


@dataclass(frozen=True, slots=True)
class Deadlines:
    """All dates of one complaint. ``review_due`` already includes any extension."""

    recipient: Recipient
    registered: date
    review_term: int
    review_due: date
    escalate_from: date
    original_review_due: date
    forwarding_due: date | None
    extended_by: int
    extended_on: date | None
    extension_notice_due: date | None
    learned_on: date | None
    filing_limit: date | None
    filing_limit_missed: bool | None
    provisional: bool
    items: tuple[DeadlineItem, ...]
    answered_on: date | None = None
    court_until: Limit | None = None  # always set by compute()
    further_complaint_until: Limit | None = None  # always set by compute()

    def item(self, key: str) -> DeadlineItem | None:
        return next((i for i in self.items if i.key == key), None)

    def to_dict(self) -> dict[str, Any]:
        def iso(d: date | None) -> str | None:
            return d.isoformat() if d else None

        return {
            "recipient": self.recipient.value,
            "registered": iso(self.registered),
            "review_term": self.review_term,
            "review_due": iso(self.review_due),
            "escalate_from": iso(self.escalate_from),
            "original_review_due": iso(self.original_review_due),
            "forwarding_due": iso(self.forwarding_due),
            "extended_by": self.extended_by,
            "extended_on": iso(self.extended_on),
            "extension_notice_due": iso(self.extension_notice_due),
            "learned_on": iso(self.learned_on),
            "filing_limit": iso(self.filing_limit),
            "filing_limit_missed": self.filing_limit_missed,
            "provisional": self.provisional,
            "items": [i.to_dict() for i in self.items],
            "answered": iso(self.answered_on),
            "court_until": self.court_until.to_dict() if self.court_until else None,
            "further_complaint_until": self.further_complaint_until.to_dict() if self.further_complaint_until else None,
        }


def registration_date(
    submitted_at: datetime,
    cal: WorkCalendar,
    end_of_day: time = END_OF_DAY,
    tz: ZoneInfo = ALMATY,
) -> date:
    """Registration day of a complaint (APPK art. 64 p. 3).

    Arriving at or after ``end_of_day`` local time, or on a non-working day, it is registered on the next
    working day. ``submitted_at`` must be timezone-aware.
    """
    if submitted_at.tzinfo is None or submitted_at.utcoffset() is None:
        raise DeadlineError("submitted_at_naive")
    local = submitted_at.astimezone(tz)
    day = local.date()
    if not cal.is_working_day(day) or local.time() >= end_of_day:
        return cal.next_working_day(day)
    return day


def add_months(day: date, months: int) -> date:
    """Calendar months; the day is clamped to the month's end (30 Nov + 3 months = 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, _stdcal.monthrange(year, month)[1]))


def filing_limit_from(day: date, cal: WorkCalendar) -> date:
    """The person's own limit to complain: 3 calendar months from the day they learned of the decision
    (or of the refusal), moved to the next working day when it ends on a day off (APPK art. 92)."""
    return cal.working_day_on_or_after(add_months(day, FILING_LIMIT_MONTHS))


def court_limit_from(day: date, cal: WorkCalendar) -> date:
    """Last day to go to court against the decision on a complaint: one calendar month from the day the
    decision was handed over or received -- or, when the body did not review the complaint in time, from the
    day its review term expired (APPK art. 136; docs/legal.md, 'Court'). Clamped to the month's end, then moved to the
    next working day when it ends on a day off."""
    return cal.working_day_on_or_after(add_months(day, COURT_LIMIT_MONTHS))


def further_complaint_limit_from(day: date, cal: WorkCalendar) -> date:
    """Last day for a further complaint (to a higher body or the quality authority) against the decision on a
    complaint received on ``day``: the 3-month limit of APPK art. 92, same rule as :func:`filing_limit_from`."""
    return filing_limit_from(day, cal)


#: Deadlines kept per calendar (``KzCalendar.derived``): /my words every open case on every view, the reminder
#: planner and the case screens count the same cases again, and one count was ~60 µs of calendar walking.
MEMO_SIZE = 4096  # ~1.2 KB each; all are dropped when full


def compute(
    recipient: Recipient | str,
    registered: date,
    cal: WorkCalendar,
    *,
    extended_by: int = 0,
    extended_on: date | None = None,
    forwarded_via_provider: bool = False,
    learned_on: date | None = None,
    answered_on: date | None = None,
    filed_on: date | None = None,
) -> Deadlines:
    """Compute the deadlines of a complaint registered on ``registered`` (see :func:`_compute`); the same facts
    on the same calendar give the same (frozen) result, computed once."""
    args = (recipient, registered, cal, extended_by, extended_on, forwarded_via_provider, learned_on, answered_on,
            filed_on)
    memo: dict[tuple[object, ...], object] | None = getattr(cal, "derived", None)
    if memo is None or type(extended_by) is not int:  # True == 1 as a key, but True is refused
        return _compute(*args)
    key = ("deadlines", recipient, registered, extended_by, extended_on, bool(forwarded_via_provider), learned_on,
           answered_on, filed_on)
    found = memo.get(key)
    if not isinstance(found, Deadlines):
        if len(memo) >= MEMO_SIZE:
            memo.clear()
        found = memo[key] = _compute(*args)
    return found


def _compute(
    recipient: Recipient | str,
    registered: date,
    cal: WorkCalendar,
    extended_by: int,
    extended_on: date | None,
    forwarded_via_provider: bool,
    learned_on: date | None,
    answered_on: date | None,
    filed_on: date | None,
) -> Deadlines:
    """Compute the deadlines of a complaint registered on ``registered``.

    * ``forwarded_via_provider``: the complaint arrived at the provider (or the official complained about) on
      ``registered`` and must be forwarded within 3 working days (APPK art. 91 p. 4). The reviewing body's
      term is then counted from ``forwarding_due`` -- the latest day it can have registered it -- so a body
      is never called overdue too early.
    * ``extended_by`` (1..10 working days) moves ``review_due``; the complainant must be told within 3
      working days of ``extended_on`` (default: the original review due date).
    * ``registered`` on a non-working day is moved to the next working day (APPK art. 64 p. 3).
    * ``learned_on``: the person's own 3-month filing limit (APPK art. 92); ``filing_limit_missed`` compares it
      with the day the complaint was handed in (``filed_on``, default: ``registered`` as given): a complaint
      handed in on the last day after hours is in time, though registered the next working day. A warning
      only, never a block.
    * ``answered_on``: the day the answer (the decision on the complaint) was received. ``court_until`` is one
      month from it (APPK art. 136), ``further_complaint_until`` three months (APPK art. 92). Without an answer
      both count from the day the review term expired (``review_due``): the court's month and the further
      complaint's months alike -- the earlier of the readings, as the person is told their own limits
      (docs/legal.md, 'Counting terms').
    """
    recipient = _checked(recipient, registered, extended_by, extended_on, answered_on)
    # A complaint that arrived on a non-working day is registered on the next working day (APPK art. 64 p. 3),
    # whatever day the talon or the operator names; day 1 of every term follows that day
    # (docs/legal.md, 'Counting terms').
    given = registered
    registered = cal.working_day_on_or_after(registered)
    items: list[DeadlineItem] = [DeadlineItem("registered", registered, "appk_64_3_registration")]
    review = _review(recipient, registered, cal, extended_by, extended_on, forwarded_via_provider, items)
    filing_limit: date | None = None
    missed: bool | None = None
    if learned_on is not None:
        filing_limit = filing_limit_from(learned_on, cal)
        missed = (filed_on or given) > filing_limit
        items.append(DeadlineItem("filing_limit", filing_limit, "appk_92_filing_limit"))

    items.sort(key=lambda i: (i.day, _RANK[i.key]))
    # Every calendar lookup happened between the given registration day and the latest item.
    used = [given] + [i.day for i in items]
    return Deadlines(
        recipient=recipient,
        registered=registered,
        review_term=REVIEW_TERMS[recipient],
        review_due=review.due,
        escalate_from=review.escalate_from,
        original_review_due=review.original_due,
        forwarding_due=review.forwarding_due,
        extended_by=extended_by,
        extended_on=review.extended_on,
        extension_notice_due=review.notice_due,
        learned_on=learned_on,
        filing_limit=filing_limit,
        filing_limit_missed=missed,
        provisional=cal.is_provisional(*used),
        items=tuple(items),
        answered_on=answered_on,
        court_until=_limit(court_limit_from, answered_on or review.due, COURT_BASIS, cal),
        further_complaint_until=_limit(further_complaint_limit_from, answered_on or review.due,
                                       FURTHER_COMPLAINT_BASIS, cal),
    )


def _checked(recipient: Recipient | str, registered: date, extended_by: int, extended_on: date | None,
             answered_on: date | None) -> Recipient:
    """The recipient, once the input makes sense (else ``DeadlineError`` with the reason)."""
    try:
        recipient = Recipient(recipient)
    except ValueError as exc:
        raise DeadlineError("unknown_recipient", str(recipient)) from exc
    if isinstance(extended_by, bool) or not isinstance(extended_by, int):
        raise DeadlineError("extension_out_of_range", repr(extended_by))
    if extended_by and not 1 <= extended_by <= EXTENSION_MAX:
        raise DeadlineError("extension_out_of_range", str(extended_by))
    if extended_on is not None and not extended_by:
        raise DeadlineError("extended_on_without_extension")
    if extended_on is not None and extended_on < registered:
        raise DeadlineError("extended_before_registration")
    if answered_on is not None and answered_on < registered:
        raise DeadlineError("answered_before_registration")
    return recipient


@dataclass(frozen=True)
class _Review:
    forwarding_due: date | None
    original_due: date
    due: date
    extended_on: date | None
    notice_due: date | None
    escalate_from: date


def _review(recipient: Recipient, registered: date, cal: WorkCalendar, extended_by: int, extended_on: date | None,
            forwarded: bool, items: list[DeadlineItem]) -> _Review:
    """The review's dates (forwarding, the term, an extension and its notice, inaction), added to ``items``."""
    forwarding_due: date | None = None
    review_start = registered
    if forwarded:
        forwarding_due = cal.add_working_days(registered, FORWARDING_DAYS)
        items.append(DeadlineItem("forwarding_due", forwarding_due, "appk_91_4_forwarding"))
        review_start = forwarding_due
    original_due = cal.add_working_days(review_start, REVIEW_TERMS[recipient])
    review_due = original_due
    notice_due: date | None = None
    if extended_by:
        review_due = cal.add_working_days(original_due, extended_by)
        extended_on = extended_on or original_due
        notice_due = cal.add_working_days(extended_on, EXTENSION_NOTICE_DAYS)
        items.append(DeadlineItem("review_due_original", original_due, REVIEW_BASIS[recipient]))
        items.append(DeadlineItem("review_due", review_due, "extension_max_10"))
        items.append(DeadlineItem("extension_notice_due", notice_due, "extension_notice_3"))
    else:
        items.append(DeadlineItem("review_due", review_due, REVIEW_BASIS[recipient]))
    escalate_from = review_due + timedelta(days=1)
    items.append(DeadlineItem("escalate_from", escalate_from, "review_missed_inaction"))
    return _Review(forwarding_due, original_due, review_due, extended_on, notice_due, escalate_from)


def _limit(rule: Any, start: date, basis: str, cal: WorkCalendar) -> Limit:
    day = rule(start, cal)
    return Limit(day, start, cal.is_provisional(start, day), basis)


def extension_notice_late(extended_on: date, told_on: date, cal: WorkCalendar) -> bool:
    """True when the complainant was told of the extension later than 3 working days after it."""
    return told_on > cal.add_working_days(extended_on, EXTENSION_NOTICE_DAYS)


def working_days_left(today: date, due: date, cal: WorkCalendar) -> int:
    """Working days in (today, due]; 0 on the due day itself, negative when overdue."""
    return cal.working_days_between(today, due)
