"""What the wizard asks and in which order, and how it words questions, values and errors.

Rendering only: the rules (which fields exist and are required, how input is parsed) live in bot.domain.complaint.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n.context import get_i18n

from bot.domain.complaint import (
    APPLICANT_KINDS,
    CONDITIONALLY_REQUIRED,
    FIELDS_BY_NAME,
    GROUNDS,
    ID_DOC_FIELDS,
    ID_DOC_TYPES,
    RECIPIENT_KINDS,
    Complaint,
    FilingLimit,
    ParseResult,
    applicant_label,
    attachment_kind_label,
    fields_for,
    grounds_label,
    id_doc_type_label,
    missing_required,
    recipient_label,
)
from bot.domain.text import escape

ATTACHMENTS = "attachments"
REVIEW = "review"
MAX_ATTACHMENTS = 20

#: Wizard order (docs/legal.md, 'What a complaint contains', and the product brief): what and to whom, who,
#: the dispute, evidence.
ORDER: tuple[str, ...] = (
    "grounds",
    "grounds_other_text",
    "recipient_kind",
    "recipient_name",
    "applicant_kind",
    # individual
    "surname",
    "first_name",
    "patronymic",
    "iin",
    *ID_DOC_FIELDS,  # only with no IIN
    # legal entity
    "org_name",
    "bin",
    "outgoing_number",
    "outgoing_date",
    # both
    "postal_address",
    "actual_address",
    # legal entity: who signs
    "representative_name",
    "representative_position",
    # contact
    "phone",
    "email",
    # the dispute
    "service_name",
    "organisation",
    "decision_date",
    "learned_date",
    "officials",
    "description",
    "demands",
    ATTACHMENTS,
)

CHOICES: dict[str, tuple[str, ...]] = {
    "grounds": GROUNDS,
    "recipient_kind": RECIPIENT_KINDS,
    "applicant_kind": APPLICANT_KINDS,
    "id_doc_type": ID_DOC_TYPES,
}
DATE_STEPS = frozenset(name for name, spec in FIELDS_BY_NAME.items() if spec.kind == "date")
#: Optional fields get a "Skip" button (conditionally required ones are never skippable).
OPTIONAL = frozenset(
    name for name, spec in FIELDS_BY_NAME.items() if not spec.required and name not in CONDITIONALLY_REQUIRED
)


def steps_for(draft: Complaint) -> list[str]:
    """The steps this draft goes through, in order (the applicant kind picks its fields; individual until
    it is chosen; the identity document only with no IIN); the progress marker counts them."""
    return list(_steps(draft.applicant_kind or "individual", draft.grounds == "other", bool(draft.no_iin)))


@lru_cache(maxsize=32)
def _steps(applicant_kind: str, other_grounds: bool, no_iin: bool) -> tuple[str, ...]:
    """The steps for these three facts, computed once: a turn asks for them three times or more (the
    progress marker, the next step, the keyboard), ~10 µs each as a filter over ORDER."""
    names = {f.name for f in fields_for(applicant_kind)}
    return tuple(
        s
        for s in ORDER
        if (s in names or s == ATTACHMENTS)
        and (s != "grounds_other_text" or other_grounds)
        and (s not in ID_DOC_FIELDS or no_iin)
    )


def missing_step(draft: Complaint) -> str | None:
    """The first step whose required field is still empty."""
    missing = set(missing_required(draft))
    return next((s for s in steps_for(draft) if s in missing), None)


def is_valid_step(step: str | None) -> bool:
    return step in ORDER or step == REVIEW


def progress(draft: Complaint, step: str) -> str:
    seq = steps_for(draft)
    if step not in seq:
        return ""
    return _("Step {n} of {total}").format(n=seq.index(step) + 1, total=len(seq))


def next_step(draft: Complaint, step: str) -> str:
    seq = steps_for(draft)
    if step not in seq:
        return seq[0]
    i = seq.index(step)
    return seq[i + 1] if i + 1 < len(seq) else REVIEW


def previous_step(draft: Complaint, step: str) -> str | None:
    seq = steps_for(draft)
    if step == REVIEW:
        return seq[-1]
    if step not in seq:
        return None
    i = seq.index(step)
    return seq[i - 1] if i > 0 else None


# --------------------------------------------------------------------------------------- labels

def field_label(name: str) -> str:
    labels = {
        "grounds": _("Grounds for the complaint"),
        "grounds_other_text": _("The violation in your words"),
        "recipient_kind": _("Addressed to"),
        "recipient_name": _("Name of the body"),
        "applicant_kind": _("Applicant"),
        "surname": _("Surname"),
        "first_name": _("First name"),
        "patronymic": _("Patronymic"),
        "iin": _("IIN"),
        "id_doc_type": _("Identity document"),
        "id_doc_number": _("Document number"),
        "id_doc_issued": _("Date of issue"),
        "id_doc_issuer": _("Issued by"),
        "org_name": _("Organisation name"),
        "bin": _("BIN"),
        "outgoing_number": _("Outgoing number"),
        "outgoing_date": _("Outgoing date"),
        "postal_address": _("Postal address"),
        "actual_address": _("Actual address"),
        "representative_name": _("Signatory's full name"),
        "representative_position": _("Signatory's position"),
        "phone": _("Phone"),
        "email": _("E-mail"),
        "service_name": _("Public service"),
        "organisation": _("Service provider"),
        "decision_date": _("Date of the decision (action)"),
        "learned_date": _("Date the applicant learned of it"),
        "officials": _("Officials whose actions are appealed"),
        "description": _("What happened"),
        "demands": _("Demands"),
        ATTACHMENTS: _("Attachments"),
    }
    return labels.get(name, name)


def grounds_hint(grounds_id: str) -> str:
    hints = {
        "deadline_violated": _("the service was not provided on time (a missed deadline also counts as a refusal)"),
        "unjustified_refusal": _("you were refused without a lawful reason"),
        "extra_documents": _("they demand papers that the service standard does not list"),
        "ethics": _("the staff were rude or behaved incorrectly"),
        "incomplete_service": _("the service was provided only in part or with errors"),
        "other": _("inaction, abuse of powers or another violation: you will describe it"),
    }
    return hints.get(grounds_id, "")


def recipient_button(kind: str) -> str:
    buttons = {
        "provider": _("Head of the service provider (5 working days)"),
        "quality_authority": _("Public service quality body (15 working days)"),
        "akim": _("Akim (5 working days)"),
    }
    return buttons.get(kind, kind)


def choice_button(step: str, value: str) -> str:
    if step == "grounds":
        return grounds_label(value, _)
    if step == "recipient_kind":
        return recipient_button(value)
    if step == "id_doc_type":
        return id_doc_type_label(value, _)
    return applicant_label(value, _)


def question(step: str) -> str:
    if step == "grounds":
        lines = [_("Why are you complaining? Choose the grounds:")]
        lines += [f"• <b>{escape(grounds_label(g, _))}</b>: {escape(grounds_hint(g))}" for g in GROUNDS]
        return "\n".join(lines)
    if step == "recipient_kind":
        return recipient_question()
    i18n = get_i18n()
    return _questions_in(i18n, i18n.current_locale).get(step, step)


@lru_cache(maxsize=8)
def _questions_in(i18n: I18n, locale: str) -> dict[str, str]:
    """Built once per language (25 lookups in the catalog for every question asked, before)."""
    with i18n.use_locale(locale):
        return _questions()


def recipient_question() -> str:
    return _(
        "Whom should the complaint be addressed to?\n\n"
        "• <b>Head of the service provider</b> (the body that provides the service, a ministry, a local "
        "executive body or the Government for Citizens state corporation): the complaint is reviewed within "
        "5 working days of registration.\n"
        "• <b>The body for the quality of public services</b> (the Agency for Civil Service Affairs and its "
        "regional departments): within 15 working days of registration.\n"
        "• <b>The akim</b> of the city or district: treated as a local executive body, 5 working days.\n"
        "• <b>A court</b>: only after a pre-trial complaint like this one, unless a law says otherwise.\n\n"
        "Usually you start with the head of the service provider. This is guidance, not legal advice."
    )


def _questions() -> dict[str, str]:
    """The question of every other step, in the current language."""
    return {
        "grounds_other_text": _("Briefly describe the violation (up to 500 characters):"),
        "recipient_name": _(
            "To whom is the complaint addressed? Write it as it will stand at the top of the document: the head "
            "and the body. Example: «To the Head of the Public Service Centre of Almaty district, Astana»."
        ),
        "applicant_kind": _("Who is complaining: a person (an individual) or an organisation (a legal entity)?"),
        "surname": _("Your surname, as in your identity document:"),
        "first_name": _("Your first name:"),
        "patronymic": _("Your patronymic (only if it is in your identity document), or press «Skip»:"),
        "iin": _("Your IIN (12 digits). If you have no IIN, press the button below."),
        "id_doc_type": _(
            "With no IIN, the complaint gives the details of your identity document instead. Which document is it?"
        ),
        "id_doc_number": _("The document's number (with its series, if it has one), as written in it:"),
        "id_doc_issued": _("Date of issue of the document (for example 20.05.2019):"),
        "id_doc_issuer": _("Who issued the document, as written in it (for example: «Ministry of Internal Affairs»):"),
        "org_name": _("Full name of the organisation:"),
        "bin": _("The organisation's BIN (12 digits):"),
        "outgoing_number": _("Outgoing number of your letter (as registered in your organisation):"),
        "outgoing_date": _("Date of the outgoing letter (for example 15.03.2025), or pick it below:"),
        "postal_address": _("Postal address for the answer (city, street, house, flat; the postcode if you know it):"),
        "actual_address": _("Actual address, if it differs from the postal address, or press «Skip»:"),
        "representative_name": _("Full name of the person who signs the complaint for the organisation:"),
        "representative_position": _("Their position (for example: Director):"),
        "phone": _(
            "Contact phone number (for example +7 701 123 45 67). You can also share it with the button "
            "below, or press «Skip»."
        ),
        "email": _("E-mail for the answer, or press «Skip»:"),
        "service_name": _("Which public service is it about? Example: «Registration at the place of residence»."),
        "organisation": _(
            "Which organisation provided (or had to provide) the service? "
            "Example: «Public Service Centre No. 3, Almaty»."
        ),
        "decision_date": _(
            "Date of the decision or action you complain about (for example 15.03.2025), or pick it below. "
            "If there was none (inaction), press «Skip»."
        ),
        "learned_date": _(
            "When did you learn of the decision or action? The 3-month term for a complaint counts from this "
            "date. Type it (for example 15.03.2025) or pick it below."
        ),
        "officials": _(
            "Officials whose actions you complain about: position, surname and initials, if you know them. "
            "Or press «Skip»."
        ),
        "description": _(
            "Describe what happened: dates, what you asked for, what you were told, why you disagree "
            "(up to 3000 characters)."
        ),
        "demands": _("What do you ask for? Example: «to provide the service within the term set by the standard»."),
        ATTACHMENTS: ngettext(
            "Attach evidence: photos or documents (the application, the refusal, a receipt, the talon), "
            "at most {limit} file. Send them one by one, then press «Done». No evidence? Just press «Done».",
            "Attach evidence: photos or documents (the application, the refusal, a receipt, the talon), "
            "at most {limit} files. Send them one by one, then press «Done». No evidence? Just press «Done».",
            MAX_ATTACHMENTS,
        ).format(limit=MAX_ATTACHMENTS),
    }


# ---------------------------------------------------------------------------------------- values

def _date(d: date | None) -> str | None:
    return d.strftime("%d.%m.%Y") if d else None


def raw_value(draft: Complaint, name: str) -> str | None:
    """The field's value as plain (unescaped) text in the person's language; None when empty."""
    if name == "grounds":
        return grounds_label(draft.grounds, _) if draft.grounds else None
    if name == "recipient_kind":
        return recipient_label(draft.recipient_kind, _) if draft.recipient_kind else None
    if name == "applicant_kind":
        return applicant_label(draft.applicant_kind, _) if draft.applicant_kind else None
    if name == "id_doc_type":
        return id_doc_type_label(draft.id_doc_type, _) if draft.id_doc_type else None
    if name == "iin":
        return _("no IIN") if draft.no_iin else draft.iin
    if name == ATTACHMENTS:
        if not draft.attachments:
            return None
        return "\n".join(
            f"{i}. {a.name} ({attachment_kind_label(a.kind, _)})" for i, a in enumerate(draft.attachments, 1)
        )
    value = getattr(draft, name, None)
    if isinstance(value, date):
        return _date(value)
    return value or None


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 1)].rstrip() + "…"


def shown_value(draft: Complaint, name: str, limit: int) -> str:
    """Escaped, shortened value for chat messages (the document always gets the full text)."""
    value = raw_value(draft, name)
    return escape(shorten(value, limit)) if value else "—"


def answered_count(draft: Complaint) -> int:
    """How many of the draft's questions have an answer (what Cancel would throw away)."""
    return sum(1 for name in steps_for(draft) if raw_value(draft, name))


def review_text(draft: Complaint, *, note: str | None = None, max_chars: int = 3900) -> str:
    """The review screen: every field of the draft, escaped; long values shortened with "…" so that the
    whole message stays under Telegram's 4096 characters. ``note`` (the filing-limit warning) goes first."""
    seq = steps_for(draft)
    header = _("Please check your complaint. Press a button below to change a field.")
    footer = _("If everything is right, press «Confirm» to get the document.")
    for limit in (400, 200, 120, 60, 30):
        lines = [f"<b>{escape(header)}</b>", ""] + ([note, ""] if note else [])
        for name in seq:
            lines.append(f"<b>{escape(field_label(name))}:</b> {shown_value(draft, name, limit)}")
        lines += ["", escape(footer)]
        text = "\n".join(lines)
        if len(text) <= max_chars:
            break
    return text  # 27 fields of at most 30 characters always fit


def filing_limit_note(limit: FilingLimit | None) -> str | None:
    """Said plainly before Confirm and again with the document: the limit has passed, ends today, or is 5
    working days away or less. None otherwise."""
    if limit is None:
        return None
    day = limit.last_day.strftime("%d.%m.%Y")
    if limit.passed:
        return _("⚠️ The 3-month limit to file this complaint ended on {date}. You can still file it: explain the "
                 "valid reason for the delay in the description and ask for the limit to be restored (APPK "
                 "art. 92).").format(date=day)
    if limit.days_left == 0:
        return _("⏳ The 3-month limit to file this complaint ends today, {date}. File it today if you can: a "
                 "complaint filed later may be left without review unless the limit is restored for a valid "
                 "reason.").format(date=day)
    if limit.soon:
        return ngettext(
            "⏳ The 3-month limit to file this complaint ends on {date} ({n} working day left). File it as soon as "
            "you can: a complaint filed later may be left without review unless the limit is restored for a valid "
            "reason.",
            "⏳ The 3-month limit to file this complaint ends on {date} ({n} working days left). File it as soon as "
            "you can: a complaint filed later may be left without review unless the limit is restored for a valid "
            "reason.", limit.days_left).format(date=day, n=limit.days_left)
    return None


def court_info() -> str:
    """The court at the recipient question (docs/legal.md, 'Court'): advice, never a recipient of this
    document."""
    return "\n\n".join([
        "⚖️ " + _("A court hears a claim only after a pre-trial complaint like this one, unless a law says "
                  "otherwise. If you have not complained yet, choose a body below and file this complaint first."),
        _("If you have complained already and disagree with the answer, or got no answer in time:\n"
          "• file an administrative claim with the specialised interdistrict administrative court of your "
          "region, on paper or online through the «Judicial office» service (office.sud.kz);\n"
          "• attach the complaint, the proof that it was registered and the answer, if there is one;\n"
          "• the limit is one month from the day you received the answer, or from the day the review term "
          "expired when there was no answer (APPK art. 136); the court can restore a missed limit for a valid "
          "reason."),
        _("For the exact last day, track your complaint in /my and mark the answer there: I will count it."),
        "<i>" + _("This is guidance, not legal advice.") + "</i>",
    ])


# ---------------------------------------------------------------------------------------- errors

def iin_reason(reason: str | None) -> str:
    reasons = {
        "not_12_digits": _("it must have exactly 12 digits."),
        "bad_century_digit": _("the 7th digit (century of birth and sex) must be from 1 to 6."),
        "bad_birth_date": _("the first 6 digits must be a real date of birth (YYMMDD)."),
        "bad_bin_month": _("the 3rd and 4th digits must be the month of registration (01 to 12)."),
        "bad_bin_type": _("the 5th digit (type of organisation) must be 4, 5 or 6."),
        "bad_bin_subdivision": _("the 6th digit (head office, branch or representative office) must be from 0 to 3."),
        "check_digit_unresolvable": _("no valid number has these first 11 digits; please check for a typo."),
        "check_digit_mismatch": _("the last (check) digit does not match the others; please check for a typo."),
    }
    return reasons.get(reason or "", _("please check the number."))


def error_text(result: ParseResult) -> str:
    key, p = result.error_key, result.params
    if key == "iin_invalid":
        return _("This IIN is not valid: {reason}").format(reason=iin_reason(p.get("reason")))
    if key == "bin_invalid":
        return _("This BIN is not valid: {reason}").format(reason=iin_reason(p.get("reason")))
    if key == "too_long":
        length = p.get("length", 0)
        return ngettext("That is too long: {length} character, at most {limit} are allowed. Please shorten it.",
                        "That is too long: {length} characters, at most {limit} are allowed. Please shorten it.",
                        length).format(
            length=p.get("length", "?"), limit=p.get("limit", "?")
        )
    if key == "date_too_old":
        years = p.get("years", 10)
        return ngettext("This date is more than {years} year ago. Please check it.",
                        "This date is more than {years} years ago. Please check it.", years).format(years=years)
    if key == "too_short":
        return too_short_text(p.get("field", ""), p.get("min", 0))
    if key == "learned_before_decision":
        return _("You could not have learned of the decision before it was made ({date}). Please check the "
                 "date.").format(date=_date(p.get("date")))
    if key == "decision_after_learned":
        return _("The decision cannot be later than the day you learned of it ({date}). Please check the "
                 "date.").format(date=_date(p.get("date")))
    texts = {
        "empty": _("The answer is empty. Please type it."),
        "name_chars": _("A name may contain only letters, a hyphen, an apostrophe and spaces."),
        "date_format": _("I could not read the date. Write it as 15.03.2025 (day.month.year) or pick it below."),
        "date_in_future": _("This date is in the future. Please check it."),
        "phone_format": _("That does not look like a Kazakhstan phone number. Example: +7 701 123 45 67."),
        "email_format": _("That does not look like an e-mail address. Example: name@mail.kz."),
        "choice_invalid": _("Please choose one of the buttons."),
        "no_letters": _("Please write it in words: there are no letters in the answer."),
    }
    return texts.get(key or "", _("Please check the answer."))


def too_short_text(name: str, minimum: int) -> str:
    if name in ("postal_address", "actual_address"):
        return _("That is too short for an address: write the city or village, the street and the house (at least "
                 "{min} characters), for example «Astana, Abai avenue 10, flat 5».").format(min=minimum)
    if name == "description":
        return _("Please describe what happened in a few sentences (at least {min} characters): the body reviews "
                 "the complaint on what you write here.").format(min=minimum)
    if name == "demands":
        return _("Please write what you ask for in words (at least {min} characters), for example «to provide the "
                 "service within the term set by the standard».").format(min=minimum)
    return _("That is too short: please write at least {min} characters.").format(min=minimum)
