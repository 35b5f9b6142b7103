"""What a person can still do once the review of a complaint is over (docs/legal.md, 'Further complaint',
'Court', 'Inaction and refusal'). Pure: no aiogram, no I/O,
no clock; texts go through the gettext passed in.

Two situations:

* ``inaction``: the body did not answer by the review deadline. Not reviewing a complaint in time is inaction,
  which can itself be appealed: a further complaint (to the quality authority after the provider or the akim,
  else to a higher body) within 3 months of the day the person could know of it -- the day after the deadline
  (APPK art. 92) -- and the court within one month of the day the review term expired (APPK art. 136).
* ``answer``: the person disagrees with the answer received on a given day: a further complaint within 3 months
  and the court within one month of that day.

Every limit comes with its last day (moved off a day off, bot.domain.deadlines) and whether it has passed; a passed
limit can be restored for a valid reason, so it is said, never hidden. Dates are told as the last day
("Last day: {date}."), never "by {date}".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.domain.deadlines import (
    Deadlines,
    Recipient,
    WorkCalendar,
    court_limit_from,
    further_complaint_limit_from,
    working_days_left,
)
from bot.domain.text import Gettext

__all__ = ["Options", "Route", "after_answer", "after_inaction", "further_body", "render_options"]


@dataclass(frozen=True, slots=True)
class Route:
    key: str  # "further_complaint" | "court"
    last_day: date
    passed: bool


@dataclass(frozen=True, slots=True)
class Options:
    situation: str  # "inaction" | "answer"
    since: date  # the review deadline (inaction) or the day the answer was received
    further_to: str  # "quality_authority" | "higher_body"
    overdue_days: int  # working days since the review deadline (inaction); 0 for an answer
    routes: tuple[Route, ...]

    @property
    def all_passed(self) -> bool:
        return all(r.passed for r in self.routes)

    def route(self, key: str) -> Route:
        return next(r for r in self.routes if r.key == key)


def further_body(recipient: Recipient | str) -> str:
    """Where a further complaint goes: the quality authority after the provider or the akim, else a higher body."""
    return "higher_body" if Recipient(recipient) is Recipient.QUALITY_AUTHORITY else "quality_authority"


def _routes(further: date, court: date, today: date) -> tuple[Route, ...]:
    return (Route("further_complaint", further, today > further), Route("court", court, today > court))


def after_inaction(deadlines: Deadlines, today: date, cal: WorkCalendar) -> Options:
    """No answer by ``deadlines.review_due``: the routes against the inaction and how far overdue it is."""
    return Options(
        situation="inaction",
        since=deadlines.review_due,
        further_to=further_body(deadlines.recipient),
        overdue_days=max(0, -working_days_left(today, deadlines.review_due, cal)),
        routes=_routes(further_complaint_limit_from(deadlines.review_due, cal),
                       court_limit_from(deadlines.review_due, cal), today),
    )


def after_answer(recipient: Recipient | str, answered_on: date, today: date, cal: WorkCalendar) -> Options:
    """An answer received on ``answered_on`` that the person may disagree with."""
    return Options(
        situation="answer",
        since=answered_on,
        further_to=further_body(recipient),
        overdue_days=0,
        routes=_routes(further_complaint_limit_from(answered_on, cal), court_limit_from(answered_on, cal), today),
    )


def render_options(options: Options, gettext: Gettext, lang: str) -> str:
    """The routes still open or restorable, as Telegram HTML (no user data inside), in the language of
    ``gettext``/``lang``."""
    from babel.dates import format_date

    _ = gettext

    def d(day: date) -> str:
        return format_date(day, format="long", locale=lang)

    further, court = options.route("further_complaint"), options.route("court")
    if options.further_to == "quality_authority":
        further_text = _(
            "Complain to the authorised body for the quality of public services (the Agency for Civil Service "
            "Affairs, its department in your region) through eOtinish or your eGov personal account. It reviews "
            "a complaint within 15 working days.")
    else:
        further_text = _(
            "Complain to a higher body (the one above the body that reviewed your complaint) through eOtinish or "
            "your eGov personal account.")
    if further.passed:
        further_limit = _(
            "The 3-month limit for this complaint ended on {date}. It can be restored for a valid reason "
            "(illness, a trip, waiting for the answer): file it anyway, ask for the limit to be restored and "
            "explain the reason (APPK art. 92).").format(date=d(further.last_day))
    else:
        further_limit = _("Limit: 3 months (APPK art. 92). Last day: {date}.").format(date=d(further.last_day))
    court_text = _(
        "Go to court: an administrative claim to the specialised interdistrict administrative court of your "
        "region, on paper or online through the «Judicial office» service (office.sud.kz). Attach the complaint, "
        "the proof that it was registered and the answer, if there is one.")
    if court.passed:
        court_limit = _(
            "The one-month limit to go to court ended on {date}. The court can restore it for a valid reason: "
            "ask for it in the claim and explain the reason (APPK art. 136).").format(date=d(court.last_day))
    elif options.situation == "inaction":
        court_limit = _("Limit: one month from the day the review term expired (APPK art. 136). Last day: "
                        "{date}.").format(date=d(court.last_day))
    else:
        court_limit = _("Limit: one month from the day you received the answer (APPK art. 136). Last day: "
                        "{date}.").format(date=d(court.last_day))

    parts = []
    if options.situation == "inaction":
        parts.append(_("A complaint not reviewed in time is inaction of the body, and inaction can itself be "
                       "appealed."))
    lines = ["<b>" + _("What you can do now") + "</b>"]
    # Whatever is still open first: that is the next step.
    for route_text, limit_text, route in sorted(
        ((further_text, further_limit, further), (court_text, court_limit, court)), key=lambda t: t[2].passed
    ):
        lines.append(f"• {route_text}\n   {'⚠️ ' if route.passed else ''}{limit_text}")
    parts.append("\n".join(lines))
    if options.all_passed:
        parts.append(_("Both limits have passed. If you had a valid reason for the delay, you can still ask for "
                       "them to be restored; keep the proof of it (a sick note, tickets)."))
    return "\n\n".join(parts)
