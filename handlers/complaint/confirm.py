"""Confirm: the complaint is saved with its number, and the person gets it as DOCX and PDF, with what to do next."""

from __future__ import annotations

import asyncio
import logging

from aiogram.types import BufferedInputFile
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.domain.clock import Clock
from bot.domain.documents import document_filename, render_docx, render_pdf
from bot.domain.entities import StoredComplaint, User
from bot.domain.ports import ComplaintsRepo
from bot.services.i18n import translator
from handlers.common import desk_on
from handlers.complaint.flow import Turn, Wiz, goto
from handlers.complaint.keyboards import escalate_keyboard
from handlers.complaint.steps import missing_step

__all__ = ["confirm"]

log = logging.getLogger(__name__)


async def confirm(turn: Turn, w: Wiz, *, complaints: ComplaintsRepo, user: User, i18n: I18n, clock: Clock) -> None:
    assert w.draft is not None
    draft = w.draft
    target = missing_step(draft)
    if target is not None:
        w.editing = True
        await goto(turn, w, target, ack=_("A required field is still empty; please fill it in."))
        return
    draft.language = turn.lang
    draft.filed = turn.today
    draft.consent = True
    stored = await complaints.create(user.id, draft, turn.lang, clock.now())
    await turn.state.clear()
    await send_documents(turn, stored, i18n)
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


async def send_documents(turn: Turn, stored: StoredComplaint, i18n: I18n) -> None:
    """The DOCX (which must always arrive), then the same complaint as PDF."""
    gettext = translator(i18n, turn.lang)
    # Rendering takes ~0.1 s of pure Python: off the event loop, so other people's updates keep flowing.
    content = await asyncio.to_thread(render_docx, stored.complaint, number=stored.number, gettext=gettext,
                                      lang=turn.lang)
    await turn.bot.send_document(
        turn.chat_id,
        BufferedInputFile(content, filename=document_filename(stored.number, turn.lang)),
        caption=_("📄 Complaint {number}: print it, sign it and file it.").format(number=stored.number),
    )
    try:
        pdf = await asyncio.to_thread(render_pdf, stored.complaint, number=stored.number, gettext=gettext,
                                      lang=turn.lang)
    except Exception:
        log.exception("PDF of complaint %s failed", stored.number)
        return
    await turn.bot.send_document(
        turn.chat_id,
        BufferedInputFile(pdf, filename=document_filename(stored.number, turn.lang, "pdf")),
        caption=_("📄 The same complaint as PDF."),
    )
