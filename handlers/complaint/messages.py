"""The wizard's messages: the entry points (/complaint and the menu button) and the answers typed (or sent)
at a step. A bad input is answered and never written; commands and menu buttons that other features answer
pass through the wizard (:class:`StaysInWizard`)."""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.filters import BaseFilter, Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import Message, TelegramObject
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _

from bot.domain.complaint import Attachment, clean_text, is_court_request, parse_field, parse_phone
from bot.domain.text import escape
from handlers.common import BTN_COMPLAINT, BTN_HUMAN, BTN_MY, BTN_QUESTIONS, MenuButton, is_menu_button
from handlers.complaint.flow import (
    LiveDraft,
    Turn,
    Wiz,
    WizardDraft,
    accept,
    cannot_continue,
    goto,
    live_draft,
    start_consent,
)
from handlers.complaint.keyboards import start_over_keyboard, step_keyboard
from handlers.complaint.states import ComplaintWizard
from handlers.complaint.steps import ATTACHMENTS, CHOICES, MAX_ATTACHMENTS, REVIEW, court_info, shorten
from handlers.routing import FeatureRouter

__all__ = ["StaysInWizard", "get_router"]

#: Commands other routers answer even in the middle of the wizard (start/help/language/cancel come first).
PASS_COMMANDS = frozenset({"my", "faq", "menu", "start", "help", "language", "cancel"})
PASS_BUTTONS = (BTN_MY, BTN_QUESTIONS, BTN_HUMAN)


def _passes_through(message: Message, i18n: I18n) -> bool:
    """Menu buttons and commands that other routers answer, even in the middle of the wizard."""
    text = message.text or ""
    if text.startswith("/"):
        words = text[1:].split(maxsplit=1)  # empty for "/" alone or "/" and blanks
        return bool(words) and words[0].split("@")[0].lower() in PASS_COMMANDS
    return is_menu_button(i18n, text, PASS_BUTTONS)


class StaysInWizard(BaseFilter):
    """A message the wizard answers (not a command or a menu button another feature answers)."""

    quick_is_exact = True  # handlers/routing.py: its quick check is all it checks (one CallableObject call less)

    async def __call__(self, message: Message, i18n: I18n) -> bool:
        return not _passes_through(message, i18n)

    def quick(self, event: TelegramObject, data: dict[str, Any]) -> bool:
        return not _passes_through(event, data["i18n"])  # type: ignore[arg-type]  # a message router's filter


# -------------------------------------------------------------------------------------- entry

async def entry(message: Message, state: FSMContext, turn: Turn) -> None:
    w = await live_draft(state)
    if w is None or w.step is None:
        await start_consent(turn)
        return
    await turn.send(_("You have an unfinished complaint; let's continue where you stopped."))
    await goto(turn, w, w.step)
    await turn.send(_("Or start a new complaint (this draft will be deleted):"),
                    reply_markup=start_over_keyboard(w.token, w.n))


# ------------------------------------------------------------------------------------ answers

async def on_consent_message(message: Message, turn: Turn) -> None:
    await turn.send(_("Please press «I agree» or «I decline» above."))


async def on_damaged_draft(message: Message, turn: Turn) -> None:
    await cannot_continue(turn)


async def on_answer(message: Message, turn: Turn, wd: WizardDraft) -> None:
    w, step = wd.w, wd.step
    if message.text is not None and message.text.startswith("/"):
        await turn.send(_("Commands are not answers. Type the answer, or send /cancel to stop."))
    elif step == REVIEW:
        await turn.send(_("Please use the buttons under the review: change a field, or confirm."))
    elif step == ATTACHMENTS:
        await add_attachment(turn, w, message)
    elif step == "recipient_kind" and is_court_request(message.text):
        await turn.send(court_info())
        await goto(turn, w, step)
    elif step in CHOICES:
        await turn.send(_("Please choose with the buttons above."))
    elif step == "phone" and message.contact is not None:
        await accept(turn, w, step, parse_phone(message.contact.phone_number))
    elif message.text is None:
        await turn.send(_("Please send the answer as a text message: stickers, photos, voice messages and files are "
                          "not accepted at this step."))
    else:
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
                 len(draft.attachments)).format(name=escape(draft.attachments[-1].name), count=len(draft.attachments)),
        reply_markup=step_keyboard(draft, ATTACHMENTS, w.token, w.n, today=turn.today, lang=turn.lang,
                                   editing=w.editing),
    )


def get_router() -> Router:
    router = FeatureRouter(name="complaint.messages")
    router.message.register(entry, Command("complaint"))
    router.message.register(entry, MenuButton(BTN_COMPLAINT))
    stays = StaysInWizard()
    router.message.register(on_consent_message, StateFilter(ComplaintWizard.consent), stays)
    router.message.register(on_answer, StateFilter(ComplaintWizard.draft), stays, LiveDraft())
    router.message.register(on_damaged_draft, StateFilter(ComplaintWizard.draft), stays)
    return router
