"""Tracking of filed complaints: /my, "track this complaint", the deadline timeline and what the person records
later (extension, answer, no answer yet, closed), plus the reminders on/off switch.

Modules: `callbacks` (the two CallbackData factories and their actions), `states` (the questions), `render`
(the texts), `keyboards`, `questions` (each question's text and buttons), `flow` (what one update needs),
`cases` (/my and one case), `form` (a new case), `events` (extension and answer), `answers` (the questions'
buttons and typed answers). The dates come from the legal core through bot.services.cases, which also
re-plans the reminders with every change.
"""

from datetime import date

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InaccessibleMessage, Message
from aiogram.utils.i18n import gettext as _

from handlers.common import BTN_MY, NOT_VALID, Magic, MenuButton, Private
from handlers.routing import FeatureRouter
from handlers.tracking import answers, cases, events, form
from handlers.tracking.callbacks import TrkAction, TrkCb
from handlers.tracking.flow import FlowMiddleware
from handlers.tracking.questions import ask_step
from handlers.tracking.states import question_of

__all__ = ["ask_again", "get_router", "in_question"]


async def stale_button(query: CallbackQuery) -> None:
    """An unknown action or malformed data under our prefixes (old or forged buttons)."""
    await query.answer(_(NOT_VALID))


def _on(*actions: TrkAction) -> CallbackQueryFilter:
    return TrkCb.filter(F.a.in_(set(actions)))


def get_router() -> Router:
    router = FeatureRouter(name="tracking")
    router.message.filter(Private())
    router.message.middleware(FlowMiddleware())
    router.callback_query.middleware(FlowMiddleware())
    router.message.register(cases.my_complaints, Command("my"))
    router.message.register(cases.my_complaints, MenuButton(BTN_MY))
    register = router.callback_query.register
    register(cases.list_pressed, _on(TrkAction.LIST, TrkAction.PAGE))
    register(cases.reminders_switch, _on(TrkAction.REMINDERS_OFF, TrkAction.REMINDERS_ON))
    register(cases.open_case, _on(TrkAction.OPEN))
    register(events.on_extended, _on(TrkAction.EXTENDED))
    register(events.on_answered, _on(TrkAction.ANSWERED))
    register(cases.no_answer_yet, _on(TrkAction.WAITING))
    register(cases.close_asked, _on(TrkAction.CLOSE))
    register(cases.close_confirmed, _on(TrkAction.CLOSE_YES))
    register(cases.close_declined, _on(TrkAction.CLOSE_NO))
    register(form.start_tracking, _on(TrkAction.NEW, TrkAction.TRACK_SAVED))
    stale = FeatureRouter(name="tracking.stale")
    stale.callback_query.register(stale_button, Magic(F.data.regexp(r"^trkw?(:|$)")))
    router.include_routers(answers.get_router(), stale)
    return router


async def in_question(state: FSMContext) -> bool:
    return question_of(await state.get_state()) is not None


async def ask_again(message: Message | InaccessibleMessage, bot: Bot, state: FSMContext, today: date, lang: str) -> bool:
    """Ask the current tracking question again (after a language switch: in the new language)."""
    step = question_of(await state.get_state())
    if step is None:
        return False
    await ask_step(message, bot, step, await state.get_data(), today, lang)
    return True
