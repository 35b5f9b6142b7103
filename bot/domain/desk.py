"""The operators' desk rules. PURE: no aiogram, no I/O, no clock (callers pass today and the calendar).

* which action is allowed in which ticket status (:func:`allowed`);
* parsing what an operator types for a registration or an extension;
* the ticket card (Telegram HTML, user data escaped) in the operators' language;
* the SLA kind of a ticket on a day, and the desk statistics with the quality indicators of the model
  standard (seed 004: timeliness, quality, accessibility, complaint process, politeness; docs/legal.md,
  'Out of date in the seeds').
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable, Iterable, Sequence

from bot.domain.complaint import (
    RECIPIENT_KINDS,
    Complaint,
    attachment_kind_label,
    grounds_label,
    parse_date,
    recipient_label,
)
from bot.domain.deadlines import EXTENSION_MAX, REVIEW_TERMS, Deadlines, Recipient, WorkCalendar
from bot.domain.entities import (
    CLOSED_TICKET_STATUSES,
    OPEN_TICKET_STATUSES,
    Case,
    Ticket,
    TicketStatus,
)
from bot.domain.text import N_, Gettext, NGettext, escape

__all__ = [
    "ACTIONS",
    "DeskStats",
    "RegistrationInput",
    "TicketFacts",
    "WeekRow",
    "allowed",
    "compute_stats",
    "parse_extension",
    "parse_registration",
    "rating_counts",
    "render_card",
    "render_stats",
    "sla_kind",
    "weekly",
]

def _plural_of(gettext: Gettext) -> NGettext:
    """English plural rule over a one-argument gettext (tests and fallbacks; the bot passes a real ngettext)."""
    return lambda singular, plural, n: gettext(singular if n == 1 else plural)


# ----------------------------------------------------------------------------------- actions

#: Card actions (short codes travel in callback data): take, register, extend, resolve, reject.
ACTIONS = ("take", "reg", "ext", "res", "rej")
OPEN = OPEN_TICKET_STATUSES
CLOSED = CLOSED_TICKET_STATUSES

_ALLOWED: dict[str, tuple[str, ...]] = {
    "take": OPEN,
    "reg": (TicketStatus.NEW, TicketStatus.TAKEN),
    "ext": ("registered",),  # one extension (the law allows at most 10 working days in total)
    "res": OPEN,
    "rej": OPEN,
}

STATUS_LABELS = {
    "new": N_("new"),
    "taken": N_("taken"),
    "registered": N_("registered"),
    "extended": N_("extended"),
    "resolved": N_("resolved"),
    "rejected": N_("rejected"),
    "withdrawn": N_("consent withdrawn"),
}
SOURCE_LABELS = {
    "complaint": N_("complaint from the wizard"),
    "faq": N_("question the FAQ could not answer"),
    "menu": N_("\"Talk to a person\" button"),
}
LANGUAGE_LABELS = {"kk": N_("Kazakh"), "ru": N_("Russian")}


def statuses_for(action: str) -> tuple[str, ...]:
    return _ALLOWED.get(action, ())


def allowed(action: str, status: str, *, assignee_id: int | None = None, actor_id: int | None = None,
            has_case: bool = False) -> bool:
    """May ``action`` be taken on a ticket in ``status``? Taking a ticket already yours is not an action;
    a ticket with a case is registered already."""
    if status not in _ALLOWED.get(action, ()):
        return False
    if action == "take" and assignee_id is not None and assignee_id == actor_id:
        return False
    if action == "reg" and has_case:
        return False
    return True


def card_actions(status: str, *, has_case: bool) -> list[str]:
    """The buttons a card shows in ``status`` (the handler re-checks on press)."""
    return [a for a in ACTIONS if status in _ALLOWED[a] and not (a == "reg" and has_case)]


# ----------------------------------------------------------------------------------- parsing

@dataclass(frozen=True, slots=True)
class RegistrationInput:
    reg_number: str
    registered_on: date
    recipient_kind: str | None


_RECIPIENT_WORDS = {k: k for k in RECIPIENT_KINDS} | {"quality": "quality_authority", "agency": "quality_authority"}


def parse_registration(text: str, today: date) -> RegistrationInput | str:
    """``"<number> <date> [provider|quality_authority|akim]"`` in any order; the date as 17.05.2027 or
    2027-05-17, not in the future. Returns the parsed input or an error key (``reg_no_date``,
    ``reg_bad_date``, ``reg_no_number``)."""
    tokens = (text or "").split()
    day: date | None = None
    recipient: str | None = None
    rest: list[str] = []
    bad_date = False
    for tok in tokens:
        low = tok.lower().strip(",;")
        if low in _RECIPIENT_WORDS and recipient is None:
            recipient = _RECIPIENT_WORDS[low]
            continue
        if day is None and re.fullmatch(r"\d{1,4}[./\-]\d{1,2}[./\-]\d{1,4}", low):
            parsed = parse_date(low, today)
            if parsed.ok:
                day = parsed.value
            else:
                bad_date = True
            continue
        rest.append(tok)
    if day is None:
        return "reg_bad_date" if bad_date else "reg_no_date"
    number = " ".join(rest).strip()[:64]
    if not number:
        return "reg_no_number"
    return RegistrationInput(number, day, recipient)


def parse_extension(text: str) -> tuple[int, str] | str:
    """``"<days 1..10> <reason>"``; returns ``(days, reason)`` or an error key (``ext_bad_days``,
    ``ext_no_reason``)."""
    match = re.fullmatch(r"\s*(\d{1,2})\s*[,.:;-]?\s*(.*)", text or "", flags=re.S)
    if not match:
        return "ext_bad_days"
    days = int(match.group(1))
    if not 1 <= days <= EXTENSION_MAX:
        return "ext_bad_days"
    reason = match.group(2).strip()
    if len(reason) < 3:
        return "ext_no_reason"
    return days, reason[:500]


# ----------------------------------------------------------------------------------- the card

def _cut(text: str | None, limit: int) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


DateFormat = Callable[[date], str]


def render_card(
    ticket: Ticket,
    gettext: Gettext,
    *,
    citizen_name: str | None = None,
    complaint_number: str | None = None,
    complaint: Complaint | None = None,
    assignee_name: str | None = None,
    case: Case | None = None,
    deadlines: Deadlines | None = None,
    filing_limit: date | None = None,
    fmt_date: DateFormat = lambda d: d.strftime("%d.%m.%Y"),
    ngettext: NGettext | None = None,
    erased_on: date | None = None,
) -> str:
    """The ticket card for the operators' chat (at most ~3,500 characters). An erased ticket (``erased_on``)
    says why instead of naming the citizen (bot.domain.privacy)."""
    _ = gettext
    lines = _card_head(ticket, _, citizen_name, assignee_name)
    if erased_on is not None:
        lines[2] = erased_line(ticket, _, fmt_date(erased_on))
    if complaint is not None:
        lines += _complaint_lines(complaint, complaint_number, _, fmt_date, filing_limit)
    if case is not None:
        lines += _case_lines(case, deadlines, _, ngettext or _plural_of(gettext), fmt_date)
    return "\n".join(lines + _outcome_lines(ticket, _))


def _card_head(ticket: Ticket, _: Gettext, citizen_name: str | None, assignee_name: str | None) -> list[str]:
    status = escape(_(STATUS_LABELS.get(ticket.status, ticket.status)))
    return [
        "🎫 <b>" + _("Ticket №{id}").format(id=ticket.id) + "</b> · " + status,
        _("Source: {source}").format(source=escape(_(SOURCE_LABELS.get(ticket.source, ticket.source)))),
        _("Citizen: {name} (id {id}), language: {lang}").format(
            name=escape(citizen_name or "—"), id=ticket.user_id,
            lang=escape(_(LANGUAGE_LABELS.get(ticket.language, ticket.language)))),
        _("Assignee: {name}").format(name=escape(assignee_name) if assignee_name else _("nobody yet")),
    ]


def erased_line(ticket: Ticket, _: Gettext, day: str) -> str:
    """The card's line for a ticket whose personal content was erased (in place of the citizen's)."""
    if ticket.erased_reason == "retention":
        return "🗄 " + _("Personal data erased on {date}: the retention period ended.").format(date=day)
    return "⚠️ " + _("The citizen withdrew consent on {date}: their personal data is erased, and nothing more "
                     "reaches them.").format(date=day)


def _complaint_lines(c: Complaint, number: str | None, _: Gettext, fmt_date: DateFormat,
                     filing_limit: date | None) -> list[str]:
    lines = ["", "📝 <b>" + _("Complaint {number}").format(number=escape(number or "—")) + "</b>"]
    grounds = grounds_label(c.grounds, _) if c.grounds else "—"
    if c.grounds == "other" and c.grounds_other_text:
        grounds += f": {_cut(c.grounds_other_text, 200)}"
    lines.append(_("Grounds: {value}").format(value=escape(grounds)))
    recipient = recipient_label(c.recipient_kind, _) if c.recipient_kind else "—"
    if c.recipient_name:
        recipient += f" ({_cut(c.recipient_name, 150)})"
    lines.append(_("Addressed to: {value}").format(value=escape(recipient)))
    who = c.org_name if c.is_legal_entity and c.org_name else c.full_name()
    contact = ", ".join(x for x in (c.phone, c.email) if x)
    for label, value, limit in (
        (_("Applicant: {value}"), who, 150),
        (_("Contact: {value}"), contact, 0),
        (_("Service: {value}"), c.service_name, 200),
        (_("Organisation: {value}"), c.organisation, 200),
        (_("Officials: {value}"), c.officials, 200),
        (_("What happened: {value}"), c.description, 900),
        (_("Demands: {value}"), c.demands, 500),
    ):
        if value:
            lines.append(label.format(value=escape(_cut(value, limit) if limit else value)))
    for label, day in (
        (_("Decision or action of: {date}"), c.decision_date),
        (_("Learned of it on: {date}"), c.learned_date),
        (_("3-month filing limit: {date}"), filing_limit),
    ):
        if day:
            lines.append(label.format(date=fmt_date(day)))
    return lines + _attachment_lines(c, _)


def _attachment_lines(c: Complaint, _: Gettext) -> list[str]:
    if not c.attachments:
        return [_("Attachments: none")]
    return [_("Attachments ({n}):").format(n=len(c.attachments))] + [
        f"{i}. {escape(attachment_kind_label(a.kind, _))}: {escape(_cut(a.name, 80))}"
        for i, a in enumerate(c.attachments[:10], 1)]


def _case_lines(case: Case, deadlines: Deadlines | None, _: Gettext, ngettext: NGettext,
                fmt_date: DateFormat) -> list[str]:
    lines = ["", "📌 " + _("Registered: № {number} of {date}, {recipient}").format(
        number=escape(case.reg_number or "—"), date=fmt_date(case.registered_on),
        recipient=escape(recipient_label(case.recipient_kind, _)))]
    if deadlines is None:
        return lines
    if deadlines.forwarding_due:
        lines.append(_("Forwarding due: {date}").format(date=fmt_date(deadlines.forwarding_due)))
    if deadlines.extended_by:
        lines.append(ngettext("Review due: {date} (extended by {days} working day from {original})",
                              "Review due: {date} (extended by {days} working days from {original})",
                              deadlines.extended_by).format(
            date=fmt_date(deadlines.review_due), days=deadlines.extended_by,
            original=fmt_date(deadlines.original_review_due)))
    else:
        lines.append(_("Review due: {date}").format(date=fmt_date(deadlines.review_due)))
    if deadlines.provisional:
        lines.append(_("(provisional: the calendar for that year is not verified)"))
    return lines


def _outcome_lines(ticket: Ticket, _: Gettext) -> list[str]:
    lines = []
    if ticket.result:
        label = _("Reason") if ticket.status == TicketStatus.REJECTED else _("Result")
        lines += ["", f"{escape(label)}: {escape(_cut(ticket.result, 500))}"]
    if ticket.rating:
        lines.append(_("Citizen's rating: {n}/5").format(n=ticket.rating))
    if ticket.disagreed:
        lines.append(_("The citizen disagrees with the result."))
    return lines


# ----------------------------------------------------------------------------------- SLA

def sla_kind(today: date, review_due: date, cal: WorkCalendar) -> str | None:
    """``due_tomorrow`` (one working day left), ``due_today``, ``overdue`` (after the due day), else None."""
    if today > review_due:
        return "overdue"
    if today == review_due:
        return "due_today"
    if cal.working_days_between(today, review_due) == 1:
        return "due_tomorrow"
    return None


# ----------------------------------------------------------------------------------- statistics

@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What statistics need of one ticket (dates are local days)."""

    status: str
    opened_on: date
    closed_on: date | None
    review_due: date | None  # of its case, if registered
    rating: int | None
    disagreed: bool


@dataclass(frozen=True, slots=True)
class DeskStats:
    total: int
    open: int
    overdue: int
    resolved: int
    rejected: int
    avg_days_to_resolve: float | None
    resolved_in_time: float | None  # share 0..1 (timeliness)
    avg_rating: float | None
    ratings: int
    good_ratings: float | None  # share of ratings >= 4 (quality)
    not_disagreed: float | None  # share of resolved tickets the citizen did not dispute (complaint process)


#: Without a registered case a ticket is "in time" when resolved within the provider's review term.
DESK_TARGET_DAYS = REVIEW_TERMS[Recipient.PROVIDER]


def compute_stats(tickets: Iterable[TicketFacts], today: date, cal: WorkCalendar) -> DeskStats:
    items = list(tickets)
    open_ = [t for t in items if t.status in OPEN]
    overdue = [t for t in open_ if t.review_due is not None and today > t.review_due]
    closed = [(t, t.closed_on) for t in items if t.status == "resolved" and t.closed_on is not None]
    resolved = [t for t, _closed_on in closed]
    rejected = [t for t in items if t.status == "rejected"]
    days = [cal.working_days_between(t.opened_on, closed_on) for t, closed_on in closed]
    in_time = sum(_in_time(t, closed_on, cal) for t, closed_on in closed)
    rated = [t.rating for t in items if t.rating]
    return DeskStats(
        total=len(items),
        open=len(open_),
        overdue=len(overdue),
        resolved=len(resolved),
        rejected=len(rejected),
        avg_days_to_resolve=(sum(days) / len(days)) if days else None,
        resolved_in_time=(in_time / len(resolved)) if resolved else None,
        avg_rating=(sum(rated) / len(rated)) if rated else None,
        ratings=len(rated),
        good_ratings=(sum(1 for r in rated if r >= 4) / len(rated)) if rated else None,
        not_disagreed=(sum(1 for t in resolved if not t.disagreed) / len(resolved)) if resolved else None,
    )


@dataclass(frozen=True, slots=True)
class WeekRow:
    """One week of the desk (Monday to Sunday): tickets opened, resolved, and resolved in time."""

    start: date
    opened: int
    resolved: int
    in_time: int


def _in_time(t: TicketFacts, closed_on: date, cal: WorkCalendar) -> bool:
    return closed_on <= (t.review_due or cal.add_working_days(t.opened_on, DESK_TARGET_DAYS))


def weekly(tickets: Iterable[TicketFacts], today: date, cal: WorkCalendar, weeks: int = 8) -> list[WeekRow]:
    """The last ``weeks`` weeks up to this one, oldest first (the /stats chart)."""
    first = today - timedelta(days=today.weekday() + 7 * (weeks - 1))
    opened = [0] * weeks
    resolved = [0] * weeks
    in_time = [0] * weeks
    for t in tickets:
        i = (t.opened_on - first).days // 7
        if 0 <= i < weeks:
            opened[i] += 1
        if t.status == "resolved" and t.closed_on is not None:
            j = (t.closed_on - first).days // 7
            if 0 <= j < weeks:
                resolved[j] += 1
                in_time[j] += _in_time(t, t.closed_on, cal)
    return [WeekRow(first + timedelta(days=7 * i), opened[i], resolved[i], in_time[i]) for i in range(weeks)]


def rating_counts(tickets: Iterable[TicketFacts]) -> dict[int, int]:
    """How many tickets got each rating, 1 to 5."""
    counts = dict.fromkeys(range(1, 6), 0)
    for t in tickets:
        if t.rating in counts:
            counts[t.rating] += 1
    return counts


def render_stats(s: DeskStats, gettext: Gettext, ngettext: NGettext | None = None) -> str:
    _ = gettext
    ngettext = ngettext or _plural_of(gettext)
    no_data = _("no data")

    def pct(x: float | None) -> str:
        return no_data if x is None else f"{round(x * 100)}%"

    def num(x: float | None) -> str:
        return no_data if x is None else f"{x:.1f}"

    lines = [
        "📊 <b>" + _("Desk statistics") + "</b>",
        _("Tickets: {total}, open: {open}, overdue: {overdue}").format(total=s.total, open=s.open, overdue=s.overdue),
        _("Resolved: {resolved}, rejected: {rejected}").format(resolved=s.resolved, rejected=s.rejected),
        _("Average working days to resolve: {value}").format(value=num(s.avg_days_to_resolve)),
        _("Resolved in time: {value}").format(value=pct(s.resolved_in_time)),
        ngettext("Average rating: {value} ({n} rating)", "Average rating: {value} ({n} ratings)",
                 s.ratings).format(value=num(s.avg_rating), n=s.ratings),
        "",
        "<b>" + _("Quality indicators of the model standard of public services") + "</b>",
        _("Timeliness (resolved in time): {value}").format(value=pct(s.resolved_in_time)),
        _("Quality (ratings of 4 or 5): {value}").format(value=pct(s.good_ratings)),
        _("Accessibility: {value}").format(value=no_data),
        _("Complaint process (results not disputed): {value}").format(value=pct(s.not_disagreed)),
        _("Politeness: {value}").format(value=no_data),
    ]
    return "\n".join(lines)


def error_text(key: str, gettext: Gettext) -> str:
    _ = gettext
    texts = {
        "reg_no_date": _("Please add the registration date, e.g. 17.05.2027."),
        "reg_bad_date": _("The registration date is not valid or is in the future."),
        "reg_no_number": _("Please add the registration number."),
        "reg_no_recipient": _("Please add who reviews it: provider, quality_authority or akim."),
        "ext_bad_days": _("Start with the number of working days, from 1 to 10."),
        "ext_no_reason": _("Please give the reason for the extension after the number of days."),
        "cal_usage": _("Usage: /calendar add 2027-05-17 kurban_ait <source>, /calendar add 2027-01-04 "
                       "transfer_off <source>, /calendar add 2027-01-09 transfer_work <source>, /calendar verify "
                       "2027 <source> when every transfer and the Kurban Ait date of that year are recorded, or "
                       "/calendar list"),
        "cal_bad_year": _("The year is not valid: write it as 2027."),
        "cal_no_kurban": _("That year's Kurban Ait date is not recorded yet: add it first with /calendar add "
                           "2027-05-17 kurban_ait <source>."),
        "cal_bad_date": _("The date is not valid: write it as 2027-05-17."),
        "cal_bad_kind": _("The kind must be transfer_off, transfer_work or kurban_ait."),
        "cal_no_source": _("Please name the legal source (the order and its date)."),
    }
    return escape(texts.get(key, key))  # Telegram HTML: "<source>" must not be a tag


def summary_counts(tickets: Sequence[TicketFacts], today: date) -> tuple[int, int, int]:
    """(open, overdue, unassigned-new) for the daily summary."""
    open_ = [t for t in tickets if t.status in OPEN]
    overdue = sum(1 for t in open_ if t.review_due is not None and today > t.review_due)
    new = sum(1 for t in open_ if t.status == "new")
    return len(open_), overdue, new


def _source(args: Sequence[str]) -> str | None:
    source = " ".join(args).strip()
    return source[:300] if len(source) >= 3 else None


CALENDAR_KINDS = {"transfer_off": False, "transfer_work": True, "kurban_ait": False}


def parse_calendar_add(args: Sequence[str]) -> tuple[date, str, bool, str] | str:
    """``["2027-05-17", "kurban_ait", "source", "words"...]`` -> ``(day, kind, working, source)`` or an error
    key (``cal_usage``, ``cal_bad_date``, ``cal_bad_kind``, ``cal_no_source``)."""
    if len(args) < 2:
        return "cal_usage"
    try:
        day = date.fromisoformat(args[0])
    except ValueError:
        parsed = parse_date(args[0], date.max, allow_future=True, max_age_years=9000)
        if not parsed.ok:
            return "cal_bad_date"
        day = parsed.value
    kind = args[1].lower()
    if kind not in CALENDAR_KINDS:
        return "cal_bad_kind"
    source = _source(args[2:])
    if source is None:
        return "cal_no_source"
    return day, kind, CALENDAR_KINDS[kind], source


def parse_calendar_verify(args: Sequence[str], today: date) -> tuple[int, str] | str:
    """``["2027", "source", "words"...]`` -> ``(year, source)`` or an error key (``cal_usage``, ``cal_bad_year``:
    not this year or one of the next two, ``cal_no_source``)."""
    if not args:
        return "cal_usage"
    if not (args[0].isascii() and args[0].isdigit()) or not today.year <= int(args[0]) <= today.year + 2:
        return "cal_bad_year"
    source = _source(args[1:])
    if source is None:
        return "cal_no_source"
    return int(args[0]), source
