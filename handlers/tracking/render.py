"""What tracking shows: the labels of the timeline's dates and their legal bases, a case's timeline, its block in
/my, what is overdue or still open after the answer. The dates come from the legal core (bot.domain.cases over
bot.domain.deadlines; bot.domain.next_steps for what is still open after the review); this module only
words them, with gettext, in Telegram HTML (user data escaped)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import lru_cache

from aiogram.utils.i18n import I18n, get_i18n, ngettext
from aiogram.utils.i18n import gettext as _
from babel.dates import format_date

from bot.config import Settings
from bot.domain.cases import answered_day, deadlines_of, is_overdue, next_item
from bot.domain.complaint import ParseResult, recipient_label
from bot.domain.deadlines import DeadlineError, Deadlines, WorkCalendar, extension_notice_late, working_days_left
from bot.domain.entities import Case
from bot.domain.next_steps import after_answer, after_inaction, render_options
from bot.domain.reminders import case_ref
from bot.domain.text import N_, escape

PAGE_CASES = 5  # cases on one page of /my

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
RECIPIENT_BUTTONS = {
    "provider": N_("Service provider · 5 working days"),
    "quality_authority": N_("Quality authority · 15 working days"),
    "akim": N_("Akim · 5 working days"),
}


def item_label(key: str, gettext: Callable[[str], str] = _) -> str:
    msgid = _ITEM_LABELS.get(key)
    return gettext(msgid) if msgid else key


def basis_label(key: str) -> str:
    msgid = _BASIS_LABELS.get(key)
    return _(msgid) if msgid else key


def status_label(status: str, gettext: Callable[[str], str] = _) -> str:
    msgid = _STATUS_LABELS.get(status)
    return gettext(msgid) if msgid else status


def translations() -> Callable[[str], str]:
    """gettext for the update's locale that looks each msgid up once. aiogram's gettext finds the I18n and
    its locale in context variables on every call (~1.5 µs), and a block of /my asks for seven texts."""
    i18n = get_i18n()
    return _translations(i18n, i18n.current_locale)


@lru_cache(maxsize=16)
def _translations(i18n: I18n, locale: str) -> Callable[[str], str]:
    known: dict[str, str] = {}  # msgids are this module's constants: a few dozen at most

    def gettext(msgid: str) -> str:
        text = known.get(msgid)
        if text is None:
            text = known[msgid] = i18n.gettext(msgid, locale=locale)
        return text

    return gettext


@lru_cache(maxsize=2048)
def fmt(day: date, lang: str) -> str:
    """A date as people read it ("2 желтоқсан 2026 ж."). Babel took ~40 µs a date, and /my shows several per
    case, mostly the same few days around today: computed once per day and language."""
    return format_date(day, format="long", locale=lang)


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


def overdue_text(deadlines: Deadlines, today: date, lang: str, cal: WorkCalendar) -> str:
    """What is overdue and what is still open (or restorable) after a missed review deadline."""
    options = after_inaction(deadlines, today, cal)
    if options.overdue_days:
        head = _("⚠️ Overdue: the answer was due on {date} and has not come; {left}.").format(
            date=fmt(deadlines.review_due, lang), left=days_left_text(-options.overdue_days))
    else:  # the days off right after the last day: late, but not by a working day yet
        head = _("⚠️ Overdue: the answer was due on {date} and has not come.").format(
            date=fmt(deadlines.review_due, lang))
    return head + "\n" + render_options(options, _, lang)


def answered_text(case: Case, day: date, today: date, lang: str, cal: WorkCalendar) -> str:
    options = after_answer(case.recipient_kind, day, today, cal)
    head = _("You received the answer on {date}. If you disagree with it:").format(date=fmt(day, lang))
    return head + "\n\n" + render_options(options, _, lang)


def timeline_text(case: Case, deadlines: Deadlines, lang: str, cal: WorkCalendar, today: date,
                  settings: Settings) -> str:
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
        lines += ["", answered_text(case, answered_day(case, settings.tz), today, lang, cal)]
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


def example_date(today: date) -> str:
    """An example date for the questions: today's, so it is never in the future."""
    return today.strftime("%d.%m.%Y")


def date_error(result: ParseResult, today: date) -> str:
    if result.error_key == "date_in_future":
        return _("This date is in the future. Please check it and write it again.")
    if result.error_key == "date_too_old":
        return _("This date is too far in the past. Please check it and write it again.")
    return _("I could not read the date. Write it as {example} (day.month.year), or pick it below.").format(
        example=example_date(today))


def case_block(n: int, case: Case, today: date, lang: str, cal: WorkCalendar) -> str:
    gettext = translations()  # named so that extraction (scripts/i18n.py) finds the msgids
    lines = ["", f"{n}. {case_ref(case)}: {escape(recipient_label(case.recipient_kind, gettext))}"]
    try:
        deadlines = deadlines_of(case, cal) if case.status == "open" else None
    except DeadlineError:
        deadlines = None
    status = "overdue" if deadlines is not None and is_overdue(case, deadlines, today) else case.status
    lines.append("   " + gettext("Status: {status}").format(status=status_label(status, gettext)))
    if deadlines is not None:
        nxt = next_item(deadlines, today)
        if nxt is not None:
            lines.append("   " + gettext("Next date: {date}, {what}").format(date=fmt(nxt.day, lang),
                                                                       what=item_label(nxt.key, gettext)))
        lines.append("   " + gettext("Answer due {date}, {left}").format(
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
