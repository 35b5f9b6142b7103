"""The wizard's router: entry, consent, one question per step, review, confirm.

Every handler here is filtered by the wizard's states, except the entry points (/complaint and the menu
button) and the catch-all for the wizard's own stale or forged buttons. The draft lives in the FSM data:
{"token", "n", "step", "editing", "draft": Complaint.to_dict()}; nothing is stored before consent but the
token and the prompt number. A bad input is answered and never written.
"""

from __future__ import annotations

import asyncio

import logging
import secrets
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Any

from aiogram import Bot, F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import I18n, gettext as _, ngettext

from bot.clock import Clock
from bot.complaint import (
    FIELDS,
    ID_DOC_FIELDS,
    Attachment,
    Complaint,
    ParseResult,
    check_dates,
    clean_text,
    filing_limit,
    is_court_request,
    missing_required,
    parse_field,
    parse_phone,
)
from bot.config import Settings
from bot.documents import document_filename, render_docx, render_pdf
from bot.i18n import translator
from handlers.common import (
    BTN_COMPLAINT,
    BTN_HUMAN,
    BTN_MY,
    BTN_QUESTIONS,
    MenuButton,
    desk_on,
    is_menu_button,
    main_menu,
)
from handlers.complaint.callbacks import PREFIX, WizCb
from handlers.complaint.keyboards import (
    cancel_confirm_keyboard,
    consent_keyboard,
    contact_keyboard,
    escalate_keyboard,
    start_over_keyboard,
    review_keyboard,
    step_keyboard,
)
from handlers.complaint.states import ComplaintWizard
from handlers.complaint.steps import (
    ATTACHMENTS,
    CHOICES,
    DATE_STEPS,
    MAX_ATTACHMENTS,
    OPTIONAL,
    REVIEW,
    answered_count,
    court_info,
    error_text,
    field_label,
    filing_limit_note,
    is_valid_step,
    next_step,
    previous_step,
    progress,
    question,
    raw_value,
    review_text,
    shorten,
    steps_for,
)
from handlers.guards import LOST_REPLY
from storage.calendar import CalendarRepo
from storage.complaints import ComplaintsRepo
from storage.db import Database
from storage.users import User

log = logging.getLogger(__name__)
router = Router(name="complaint")
router.message.filter(F.chat.type == "private")  # a complaint is personal: never in the operators' group

WIZARD_STATES = (ComplaintWizard.consent, ComplaintWizard.draft)
#: Commands other routers answer even in the middle of the wizard (start/help/language/cancel come first).
PASS_COMMANDS = frozenset({"my", "faq", "menu", "start", "help", "language", "cancel"})
PASS_BUTTONS = (BTN_MY, BTN_QUESTIONS, BTN_HUMAN)


# ------------------------------------------------------------------------------------ the draft

@dataclass
class Wiz:
    token: str
    n: int = 1
    step: str | None = None
    editing: bool = False
    draft: Complaint | None = None

    @classmethod
    def load(cls, data: dict[str, Any]) -> "Wiz":
        draft = data.get("draft")
        return cls(
            token=str(data.get("token") or ""),
            n=int(data.get("n") or 0),
            step=data.get("step"),
            editing=bool(data.get("editing")),
            draft=Complaint.from_dict(draft) if isinstance(draft, dict) else None,
        )

    def dump(self) -> dict[str, Any]:
        data: dict[str, Any] = {"token": self.token, "n": self.n}
        if self.draft is not None:
            data.update(step=self.step, editing=self.editing, draft=self.draft.to_dict())
        return data


@dataclass
class Turn:
    """What one update needs to talk back: the chat, the state, today's date and the language."""

    bot: Bot
    chat_id: int
    state: FSMContext
    today: date
    lang: str
    settings: Settings
    cal: Any  # the working-day calendar (storage.calendar.CalendarRepo.calendar)

    async def send(self, text: str, **kwargs: Any) -> Message:
        return await self.bot.send_message(self.chat_id, text, **kwargs)

    def limit_note(self, draft: Complaint) -> str | None:
        """The person's own 3-month limit, when it has passed or is 5 working days away or less."""
        return filing_limit_note(filing_limit(draft.learned_date, self.today, self.cal))


def local_today(clock: Clock, settings: Settings) -> date:
    return clock.now().astimezone(settings.tz).date()


def make_turn(bot: Bot, chat_id: int, state: FSMContext, clock: Clock, settings: Settings, lang: str,
              calendars: CalendarRepo) -> Turn:
    return Turn(bot, chat_id, state, local_today(clock, settings), lang, settings, calendars.calendar)


def new_token() -> str:
    return secrets.token_urlsafe(6)[:6]


# ------------------------------------------------------------------------------------- prompts

async def send_prompt(turn: Turn, w: Wiz, *, note: str | None = None) -> None:
    """The current step's question; ``note`` (HTML) goes first, in the same message when it fits there."""
    assert w.draft is not None and w.step is not None
    if w.step == REVIEW:
        if note:
            await turn.send(note)
        await turn.send(review_text(w.draft, note=turn.limit_note(w.draft)),
                        reply_markup=review_keyboard(w.draft, w.token, w.n))
        return
    parts = [note] if note else []
    parts.append(f"<i>{escape(progress(w.draft, w.step))}</i>")
    current = raw_value(w.draft, w.step)
    if current and w.step not in CHOICES:
        parts.append(_("Current value: {value}").format(value=f"<code>{escape(shorten(current, 300))}</code>"))
    parts.append(question(w.step))
    await turn.send(
        "\n\n".join(parts),
        reply_markup=step_keyboard(
            w.draft, w.step, w.token, w.n, today=turn.today, lang=turn.lang, editing=w.editing,
        ),
    )
    if w.step == "phone":
        await turn.send(
            _("Or press the button below to share the number of your Telegram account."),
            reply_markup=contact_keyboard(),
        )


async def goto(turn: Turn, w: Wiz, step: str, *, ack: str | None = None, note: str | None = None) -> None:
    """Move the draft to `step` (saved before anything is sent) and ask it (`note`: see send_prompt)."""
    left = w.step
    w.step = step
    w.n += 1
    if step == REVIEW:
        w.editing = False
    await turn.state.set_state(ComplaintWizard.draft)
    await turn.state.set_data(w.dump())
    if left == "phone" and step != "phone":  # take the contact button away again
        await turn.send(ack or _("Fine, let's go on."), reply_markup=main_menu())
    elif ack:
        await turn.send(ack)
    await send_prompt(turn, w, note=note)


async def advance(turn: Turn, w: Wiz, step: str, *, ack: str | None = None) -> None:
    """After `step` was answered: the next step, or (when editing) the next missing field or the review."""
    assert w.draft is not None
    if w.editing:
        missing = set(missing_required(w.draft))
        target = next((s for s in steps_for(w.draft) if s in missing), REVIEW)
    else:
        target = next_step(w.draft, step)
    await goto(turn, w, target, ack=ack)


async def start_consent(turn: Turn) -> None:
    token = new_token()
    await turn.state.set_state(ComplaintWizard.consent)
    await turn.state.set_data({"token": token, "n": 1})
    days = turn.settings.draft_ttl_days
    await turn.send(
        _(
            "I will help you prepare a complaint about a public service, step by step: about 20 short "
            "questions, 5 to 10 minutes. At the end you get a document ready to file.\n\n"
            "To prepare it I need to process your personal data (name, IIN, address, contacts) and keep your "
            "answers until the complaint is ready."
        )
        + " "
        + ngettext(
            "An unfinished draft is deleted after {days} day without activity; a finished complaint is kept so "
            "that you can track it.",
            "An unfinished draft is deleted after {days} days without activity; a finished complaint is kept so "
            "that you can track it.",
            days,
        ).format(days=days)
        + "\n\n"
        + _("Do you agree to the processing of your personal data for this purpose?\n\n"
            "This is guidance, not legal advice."),
        reply_markup=consent_keyboard(token, 1),
    )


# ------------------------------------------------------------------------------- applying values

def apply_value(draft: Complaint, step: str, value: Any) -> None:
    if step == "grounds" and value != "other":
        draft.grounds_other_text = None
    if step == "applicant_kind" and value != draft.applicant_kind:
        for spec in FIELDS:  # drop what belonged to the other kind of applicant
            if spec.applies_to not in ("both", value):
                setattr(draft, spec.name, None)
        draft.no_iin = False
    if step == "iin":  # an IIN after all: the identity document is not needed
        draft.no_iin = False
        for name in ID_DOC_FIELDS:
            setattr(draft, name, None)
    setattr(draft, step, value)


async def accept(turn: Turn, w: Wiz, step: str, result: ParseResult) -> None:
    """A parsed answer: refuse with the reason (nothing written) or store it and go on."""
    assert w.draft is not None
    if result.ok and step in DATE_STEPS:
        result = check_dates(w.draft, step, result.value)
    if not result.ok:
        await turn.send("⚠️ " + escape(error_text(result)))
        return
    apply_value(w.draft, step, result.value)
    ack = None
    limit = filing_limit(result.value, turn.today, turn.cal) if step == "learned_date" else None
    if limit is not None and limit.passed:
        ack = "⚠️ " + _(
            "More than 3 months have passed since that date (the term ended on {date}). A complaint filed "
            "after the term may be left without review unless the missed term is restored for a valid reason. "
            "If you had one (illness, a trip, waiting for an answer), mention it in the description. "
            "You can go on."
        ).format(date=limit.last_day.strftime("%d.%m.%Y"))
    elif limit is not None and limit.soon:
        ack = filing_limit_note(limit)
    if step == "phone":
        ack = _("Phone number saved.")
    await advance(turn, w, step, ack=ack)


# -------------------------------------------------------------------------------------- entry

@router.message(Command("complaint"))
@router.message(MenuButton(BTN_COMPLAINT))
async def entry(message: Message, state: FSMContext, bot: Bot, clock: Clock, settings: Settings, lang: str,
                calendars: CalendarRepo) -> None:
    turn = make_turn(bot, message.chat.id, state, clock, settings, lang, calendars)
    w = await live_draft(state)
    if w is not None:
        await turn.send(_("You have an unfinished complaint; let's continue where you stopped."))
        await goto(turn, w, w.step)  # type: ignore[arg-type]
        await turn.send(
            _("Or start a new complaint (this draft will be deleted):"),
            reply_markup=start_over_keyboard(w.token, w.n),
        )
        return
    await start_consent(turn)


# ------------------------------------------------------------------------------------ buttons

async def stale(query: CallbackQuery) -> None:
    await query.answer(_("This button is no longer valid."), show_alert=True)


@router.callback_query(WizCb.filter())
async def on_button(
    query: CallbackQuery,
    callback_data: WizCb,
    state: FSMContext,
    bot: Bot,
    clock: Clock,
    settings: Settings,
    lang: str,
    db: Database,
    user: User,
    i18n: I18n,
    calendars: CalendarRepo,
) -> None:
    cb = callback_data
    if cb.a == "nop":
        await query.answer()
        return
    current = await state.get_state()
    w = Wiz.load(await state.get_data())
    chat_id = query.message.chat.id if query.message is not None else query.from_user.id
    if current not in (ComplaintWizard.consent.state, ComplaintWizard.draft.state) or cb.t != w.token or cb.n != w.n:
        await stale(query)
        return
    turn = make_turn(bot, chat_id, state, clock, settings, lang, calendars)

    if current == ComplaintWizard.consent.state:
        if cb.a == "ok":
            await query.answer()
            w.draft = Complaint(consent=True, created=turn.today, language=lang)
            await goto(turn, w, steps_for(w.draft)[0], ack=_("Thank you. Let's start."))
        elif cb.a == "no":
            await query.answer()
            await state.clear()
            await turn.send(
                _("Understood: nothing was saved. You can come back any time with /complaint."),
                reply_markup=main_menu(),
            )
        else:
            await stale(query)
        return

    if w.draft is None or not is_valid_step(w.step):  # a damaged draft: start over rather than guess
        await query.answer()
        await state.clear()
        await turn.send(_("Sorry, this draft cannot be continued. Please start again with /complaint."),
                        reply_markup=main_menu())
        return
    draft, step = w.draft, w.step
    assert step is not None

    if cb.a == "cx":
        await query.answer()
        await ask_to_delete(turn, w)
    elif cb.a == "cy":
        await query.answer()
        await state.clear()
        await turn.send(_("The draft is deleted. What would you like to do?"), reply_markup=main_menu())
    elif cb.a == "cn":
        await query.answer()
        await goto(turn, w, step, ack=_("Fine, the draft is kept. Let's go on."))
    elif cb.a == "ct" and step == "recipient_kind":
        await query.answer()
        await turn.send(court_info())
        await goto(turn, w, step)
    elif cb.a == "new":
        await query.answer()
        await start_consent(turn)
    elif cb.a == "bk":
        target = REVIEW if w.editing else previous_step(draft, step)
        if target is None:
            await stale(query)
            return
        await query.answer()
        await goto(turn, w, target)
    elif cb.a == "kp" and step not in (REVIEW, ATTACHMENTS):
        await query.answer()
        await advance(turn, w, step)
    elif cb.a == "sk" and step in OPTIONAL:
        await query.answer()
        apply_value(draft, step, None)
        await advance(turn, w, step)
    elif cb.a == "ch" and step in CHOICES and cb.v in CHOICES[step]:
        await query.answer()
        await accept(turn, w, step, parse_field(step, cb.v, turn.today))
    elif cb.a == "ni" and step == "iin":
        await query.answer()
        draft.iin = None
        draft.no_iin = True
        await advance(turn, w, step)
    elif cb.a == "dp" and step in DATE_STEPS and len(cb.v) == 8 and cb.v.isdigit():
        await query.answer()
        await accept(turn, w, step, parse_field(step, f"{cb.v[6:8]}.{cb.v[4:6]}.{cb.v[0:4]}", turn.today))
    elif cb.a == "dm" and step in DATE_STEPS and len(cb.v) == 6 and cb.v.isdigit():
        await query.answer()
        month = (int(cb.v[:4]), max(1, min(12, int(cb.v[4:]))))
        markup = step_keyboard(draft, step, w.token, w.n, today=turn.today, lang=lang, editing=w.editing, month=month)
        if query.message is not None:
            try:
                await bot.edit_message_reply_markup(
                    chat_id=chat_id, message_id=query.message.message_id, reply_markup=markup
                )
            except TelegramBadRequest:  # not modified, or too old to edit: the typed date still works
                pass
    elif cb.a == "dn" and step == ATTACHMENTS:
        await query.answer()
        await advance(turn, w, step)
    elif cb.a == "cl" and step == ATTACHMENTS:
        await query.answer()
        draft.attachments = []
        await state.set_data(w.dump())
        await turn.send(_("The list of attachments is empty now. Send files or press «Done»."),
                        reply_markup=step_keyboard(draft, step, w.token, w.n, today=turn.today, lang=lang,
                                                   editing=w.editing))
    elif cb.a == "ed" and step == REVIEW and cb.v in steps_for(draft):
        await query.answer()
        w.editing = True
        await goto(turn, w, cb.v)
    elif cb.a == "cf" and step == REVIEW:
        await query.answer()
        await confirm(turn, w, db=db, user=user, i18n=i18n, clock=clock)
    else:
        await stale(query)


@router.callback_query(F.data.startswith(PREFIX + ":") | (F.data == PREFIX))
async def forged_button(query: CallbackQuery) -> None:
    """A wizard button whose data does not even unpack (forged or from an incompatible version)."""
    await stale(query)


# ------------------------------------------------------------------------------------ confirm

async def confirm(turn: Turn, w: Wiz, *, db: Database, user: User, i18n: I18n, clock: Clock) -> None:
    assert w.draft is not None
    draft = w.draft
    missing = set(missing_required(draft))
    if missing:
        w.editing = True
        target = next(s for s in steps_for(draft) if s in missing)
        await goto(turn, w, target, ack=_("A required field is still empty; please fill it in."))
        return
    draft.language = turn.lang
    draft.filed = turn.today
    draft.consent = True
    stored = await ComplaintsRepo(db, turn.settings.tz).create(user.id, draft, turn.lang, clock.now())
    await turn.state.clear()
    render_args = dict(number=stored.number, gettext=translator(i18n, turn.lang), lang=turn.lang)
    # Rendering takes ~0.1 s of pure Python: off the event loop, so other people's updates keep flowing.
    content = await asyncio.to_thread(render_docx, stored.complaint, **render_args)
    await turn.bot.send_document(
        turn.chat_id,
        BufferedInputFile(content, filename=document_filename(stored.number, turn.lang)),
        caption=_("📄 Complaint {number}: print it, sign it and file it.").format(number=stored.number),
    )
    try:  # the same complaint as PDF; the DOCX above is the one that must always arrive
        pdf = await asyncio.to_thread(render_pdf, stored.complaint, **render_args)
    except Exception:
        log.exception("PDF of complaint %s failed", stored.number)
    else:
        await turn.bot.send_document(
            turn.chat_id,
            BufferedInputFile(pdf, filename=document_filename(stored.number, turn.lang, "pdf")),
            caption=_("📄 The same complaint as PDF."),
        )
    note = turn.limit_note(stored.complaint)
    await turn.send(
        (note + "\n\n" if note else "") + _(
            "Your complaint {number} is ready. What to do next:\n\n"
            "1. Print it, sign it and take it to the office of the body it is addressed to. Ask for a talon "
            "(a slip with the date, time and registration number): it proves that the complaint was accepted. "
            "Refusing to accept a complaint is prohibited.\n"
            "2. Or file it online: through eOtinish or your personal account on the eGov portal (signed with "
            "an EDS or a one-time SMS code); attach the photos and files there.\n"
            "3. Questions: the 1414 contact centre (1414 or 8-800-080-7777, free).\n\n"
            "Once the complaint is registered, send /my with its registration date: I will count the review "
            "deadline and remind you."
        ).format(number=stored.number)
        + ("\n\n" + _("If you want a person to look at it, press the button below.") if desk_on() else ""),
        reply_markup=escalate_keyboard(stored.id) if desk_on() else None,
    )


# ------------------------------------------------------------------------------------ messages

def _passes_through(message: Message, i18n: I18n) -> bool:
    """Menu buttons and commands that other routers answer, even in the middle of the wizard."""
    text = message.text or ""
    if text.startswith("/"):
        words = text[1:].split(maxsplit=1)  # empty for "/" alone or "/" and blanks
        return bool(words) and words[0].split("@")[0].lower() in PASS_COMMANDS
    return is_menu_button(i18n, text, PASS_BUTTONS)


@router.message(StateFilter(*WIZARD_STATES))
async def on_message(
    message: Message, state: FSMContext, bot: Bot, clock: Clock, settings: Settings, lang: str, i18n: I18n,
    calendars: CalendarRepo,
) -> None:
    if _passes_through(message, i18n):
        raise SkipHandler()
    turn = make_turn(bot, message.chat.id, state, clock, settings, lang, calendars)
    if await state.get_state() == ComplaintWizard.consent.state:
        await turn.send(_("Please press «I agree» or «I decline» above."))
        return
    w = Wiz.load(await state.get_data())
    if w.draft is None or not is_valid_step(w.step):
        await state.clear()
        await turn.send(_("Sorry, this draft cannot be continued. Please start again with /complaint."),
                        reply_markup=main_menu())
        return
    step = w.step
    assert step is not None
    if message.text is not None and message.text.startswith("/"):
        await turn.send(_("Commands are not answers. Type the answer, or send /cancel to stop."))
        return
    if step == REVIEW:
        await turn.send(_("Please use the buttons under the review: change a field, or confirm."))
        return
    if step == ATTACHMENTS:
        await add_attachment(turn, w, message)
        return
    if step == "recipient_kind" and is_court_request(message.text):
        await turn.send(court_info())
        await goto(turn, w, step)
        return
    if step in CHOICES:
        await turn.send(_("Please choose with the buttons above."))
        return
    if step == "phone" and message.contact is not None:
        await accept(turn, w, step, parse_phone(message.contact.phone_number))
        return
    if message.text is None:
        await turn.send(
            _("Please send the answer as a text message: stickers, photos, voice messages and files are not "
              "accepted at this step.")
        )
        return
    await accept(turn, w, step, parse_field(step, message.text, turn.today))


async def add_attachment(turn: Turn, w: Wiz, message: Message) -> None:
    assert w.draft is not None
    draft = w.draft
    if message.photo:
        kind, file_id = "photo", message.photo[-1].file_id
        default = _("Photo {n}").format(n=len(draft.attachments) + 1)
        name = message.caption
    elif message.document is not None:
        kind, file_id = "document", message.document.file_id
        default = _("Document {n}").format(n=len(draft.attachments) + 1)
        name = message.caption or message.document.file_name
    else:
        await turn.send(_("Only photos and documents (files) can be attached here. Press «Done» when you finish."))
        return
    if len(draft.attachments) >= MAX_ATTACHMENTS:
        await turn.send(ngettext("You can attach at most {limit} file. Press «Done» to go on.",
                                 "You can attach at most {limit} files. Press «Done» to go on.",
                                 MAX_ATTACHMENTS).format(limit=MAX_ATTACHMENTS))
        return
    cleaned = clean_text(shorten(name or "", 100), 100)
    draft.attachments.append(Attachment(file_id=file_id, name=cleaned.value if cleaned.ok else default, kind=kind))
    await turn.state.set_data(w.dump())
    await turn.send(
        ngettext("Added: {name}. {count} file attached so far. Send more, or press «Done».",
                 "Added: {name}. {count} files attached so far. Send more, or press «Done».",
                 len(draft.attachments)).format(
            name=escape(draft.attachments[-1].name), count=len(draft.attachments)
        ),
        reply_markup=step_keyboard(draft, ATTACHMENTS, w.token, w.n, today=turn.today, lang=turn.lang,
                                   editing=w.editing),
    )


async def live_draft(state: FSMContext) -> Wiz | None:
    """The draft in progress, if the conversation holds one that can be continued."""
    if await state.get_state() != ComplaintWizard.draft.state:
        return None
    w = Wiz.load(await state.get_data())
    return w if w.draft is not None and is_valid_step(w.step) else None


async def ask_again(bot: Bot, chat_id: int, state: FSMContext, clock: Clock, settings: Settings, lang: str,
                    calendars: CalendarRepo, *, after_failure: bool = False) -> bool:
    """Ask the current step again (after a language switch: in the new language; after a reply that did not
    reach the person: saying so, with the answer saved before it). False if no draft."""
    w = await live_draft(state)
    if w is None:
        return False
    note = lost_reply_note(w) if after_failure else None
    await goto(make_turn(bot, chat_id, state, clock, settings, lang, calendars), w, w.step, note=note)  # type: ignore[arg-type]
    return True


async def ask_to_delete(turn: Turn, w: Wiz) -> None:
    """Cancel (the button, /cancel or a typed "cancel") asks first: the buttons of the step asked before are
    stale from now on, and "keep" asks that step again."""
    assert w.draft is not None
    w.n += 1
    await turn.state.set_data(w.dump())
    await turn.send(
        ngettext("Delete this draft? The {n} answer given so far will be lost.",
                 "Delete this draft? The {n} answers given so far will be lost.",
                 answered_count(w.draft)).format(n=answered_count(w.draft)),
        reply_markup=cancel_confirm_keyboard(w.token, w.n),
    )


async def cancel_requested(bot: Bot, chat_id: int, state: FSMContext, clock: Clock, settings: Settings, lang: str,
                           calendars: CalendarRepo) -> bool:
    """/cancel in the middle of a draft: ask before deleting it (True). False when there is no draft to keep."""
    w = await live_draft(state)
    if w is None:
        return False
    await ask_to_delete(make_turn(bot, chat_id, state, clock, settings, lang, calendars), w)
    return True


def lost_reply_note(w: Wiz) -> str:
    """What the person is told before the question they are really on, after a reply that did not reach them:
    their answers are saved, and the one before this question (most likely the one they sent) is shown."""
    assert w.draft is not None and w.step is not None
    lines = [_(LOST_REPLY)]
    before = previous_step(w.draft, w.step)
    value = raw_value(w.draft, before) if before else None
    if before and value:
        lines.append(_("Saved: {field}: {value}").format(
            field=escape(field_label(before)), value=f"<code>{escape(shorten(value, 300))}</code>"))
    return "\n".join(lines)
