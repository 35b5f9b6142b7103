"""The wizard's buttons: one handler per action (:class:`WizAction`), filtered by the action and by the step it
applies to. Every button of the wizard first passes ONE router-level check, :class:`FreshButton`: the
conversation is in the wizard, and the button carries the current draft's token and the current prompt's
number. A button that fails it, or whose action does not apply to the current step, reaches the stale
handler (handlers/complaint/__init__.py) and is answered "no longer valid"."""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.filters import BaseFilter, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, TelegramObject
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.domain.clock import Clock
from bot.domain.complaint import Complaint, parse_field
from bot.domain.entities import User
from bot.domain.ports import ComplaintsRepo
from handlers.buttons import ack
from handlers.common import NOT_VALID, main_menu
from handlers.complaint.callbacks import WizAction as A
from handlers.complaint.callbacks import WizCb, unpack
from handlers.complaint.confirm import confirm
from handlers.complaint.flow import (
    LiveDraft,
    Turn,
    Wiz,
    WizardDraft,
    accept,
    advance,
    apply_value,
    ask_to_delete,
    cannot_continue,
    goto,
    start_consent,
)
from handlers.complaint.keyboards import step_keyboard
from handlers.complaint.states import ComplaintWizard
from handlers.complaint.steps import (
    ATTACHMENTS,
    CHOICES,
    DATE_STEPS,
    OPTIONAL,
    REVIEW,
    court_info,
    previous_step,
    steps_for,
)
from handlers.datepicker import digits, month_of, show_month
from handlers.privacy import erase_keyboard
from handlers.routing import FeatureRouter

__all__ = ["FreshButton", "get_router", "stale"]

WIZARD_STATES = (ComplaintWizard.consent.state, ComplaintWizard.draft.state)
WIZ_PREFIX = WizCb.__prefix__ + WizCb.__separator__  # every wizard button's data starts so


async def stale(query: CallbackQuery) -> None:
    await query.answer(_(NOT_VALID), show_alert=True)


class FreshButton(BaseFilter):
    """A button of the question the person is on now: the wizard's state, the draft's token, the prompt's
    number. Injects ``w`` (the conversation's :class:`Wiz`) and ``callback_data`` (the button's
    :class:`WizCb`, unpacked once here for every handler below: see :class:`On`)."""

    async def __call__(self, query: CallbackQuery, state: FSMContext, raw_state: str | None) -> bool | dict[str, Any]:
        if not self.quick(query, {"raw_state": raw_state}):
            return False
        try:
            cb = unpack(query.data or "")
        except (TypeError, ValueError):  # not the wizard's, or forged: the stale handler answers
            return False
        w = Wiz.load(await state.get_data())
        if cb.t != w.token or cb.n != w.n:
            return False
        return {"w": w, "callback_data": cb}

    def quick(self, event: TelegramObject, data: dict[str, Any]) -> bool:
        """What it checks before it reads the conversation (handlers/routing.py)."""
        return data.get("raw_state") in WIZARD_STATES and (getattr(event, "data", None) or "").startswith(WIZ_PREFIX)


# On, AtStep and Damaged are decided by their quick checks (handlers/routing.py): a choice was tried against
# ten handlers before its own, each filter called through aiogram's CallableObject (~3 µs a call); the quick
# checks pass over them in a fraction of that. Their data (``callback_data``, ``w``, ``wd``) is given by the
# routers' own filters above them; where it is missing (a router's gate) the quick check raises: cannot tell.

class On(BaseFilter):
    """The button's action is one of these. What ``WizCb.filter(F.a.in_(actions))`` checks, on the data
    :class:`FreshButton` already unpacked for the router: a press was unpacked (pydantic) once per handler
    tried, about ten times for a choice."""

    quick_is_exact = True

    def __init__(self, *actions: A) -> None:
        self.actions = frozenset(actions)

    async def __call__(self, query: CallbackQuery, callback_data: WizCb) -> bool:
        return callback_data.a in self.actions

    def quick(self, event: TelegramObject, data: dict[str, Any]) -> bool:
        return data["callback_data"].a in self.actions


class AtStep(BaseFilter):
    """The live draft (``wd``, injected by the steps router's :class:`LiveDraft`) is at one of these steps."""

    quick_is_exact = True

    def __init__(self, *steps: str) -> None:
        self.steps = frozenset(steps)

    async def __call__(self, query: CallbackQuery, wd: WizardDraft) -> bool:
        return wd.step in self.steps

    def quick(self, event: TelegramObject, data: dict[str, Any]) -> bool:
        return data["wd"].step in self.steps


class Damaged(BaseFilter):
    """The conversation's draft (``w``, loaded by :class:`FreshButton`) cannot be continued: ``~LiveDraft()``
    for a fresh button in the draft state, without loading anything."""

    quick_is_exact = True

    async def __call__(self, query: CallbackQuery, w: Wiz) -> bool:
        return not w.live

    def quick(self, event: TelegramObject, data: dict[str, Any]) -> bool:
        return not data["w"].live



# ------------------------------------------------------------------------------------ consent

async def on_agree(query: CallbackQuery, turn: Turn, w: Wiz) -> None:
    await ack(query)
    w.draft = Complaint(consent=True, created=turn.today, language=turn.lang)
    await goto(turn, w, steps_for(w.draft)[0], ack=_("Thank you. Let's start."))


async def on_decline(query: CallbackQuery, turn: Turn) -> None:
    await ack(query)
    await turn.state.clear()
    await turn.send(_("Understood: nothing was saved. You can come back any time with /complaint."),
                    reply_markup=main_menu())
    # Declining is withdrawing consent: what the bot kept from before (the language, earlier complaints) can go too.
    await turn.send(_("If you also want the bot to erase what it already keeps about you, press the button below "
                      "(/mydata shows what that is)."), reply_markup=erase_keyboard())


async def on_damaged(query: CallbackQuery, turn: Turn) -> None:
    await ack(query)
    await cannot_continue(turn)


# ------------------------------------------------------------------------------------ any step

async def on_cancel(query: CallbackQuery, turn: Turn, wd: WizardDraft) -> None:
    await ack(query)
    await ask_to_delete(turn, wd.w)


async def on_delete(query: CallbackQuery, turn: Turn) -> None:
    await ack(query)
    await turn.state.clear()
    await turn.send(_("The draft is deleted. What would you like to do?"), reply_markup=main_menu())


async def on_keep(query: CallbackQuery, turn: Turn, wd: WizardDraft) -> None:
    await ack(query)
    await goto(turn, wd.w, wd.step, ack=_("Fine, the draft is kept. Let's go on."))


async def on_new(query: CallbackQuery, turn: Turn) -> None:
    await ack(query)
    await start_consent(turn)


async def on_back(query: CallbackQuery, turn: Turn, wd: WizardDraft) -> None:
    target = REVIEW if wd.w.editing else previous_step(wd.draft, wd.step)
    if target is None:
        await stale(query)
        return
    await ack(query)
    await goto(turn, wd.w, target)


async def on_keep_value(query: CallbackQuery, turn: Turn, wd: WizardDraft) -> None:
    await ack(query)
    await advance(turn, wd.w, wd.step)


# ------------------------------------------------------------------------------------ answers

async def on_court(query: CallbackQuery, turn: Turn, wd: WizardDraft) -> None:
    await ack(query)
    await turn.send(court_info())
    await goto(turn, wd.w, wd.step)


async def on_skip(query: CallbackQuery, turn: Turn, wd: WizardDraft) -> None:
    await ack(query)
    apply_value(wd.draft, wd.step, None)
    await advance(turn, wd.w, wd.step)


async def on_choice(query: CallbackQuery, callback_data: WizCb, turn: Turn, wd: WizardDraft) -> None:
    if callback_data.v not in CHOICES[wd.step]:
        await stale(query)
        return
    await ack(query)
    await accept(turn, wd.w, wd.step, parse_field(wd.step, callback_data.v, turn.today))


async def on_no_iin(query: CallbackQuery, turn: Turn, wd: WizardDraft) -> None:
    await ack(query)
    wd.draft.iin = None
    wd.draft.no_iin = True
    await advance(turn, wd.w, wd.step)


async def on_day(query: CallbackQuery, callback_data: WizCb, turn: Turn, wd: WizardDraft) -> None:
    v = callback_data.v
    await ack(query)
    await accept(turn, wd.w, wd.step, parse_field(wd.step, f"{v[6:8]}.{v[4:6]}.{v[0:4]}", turn.today))


async def on_month(query: CallbackQuery, callback_data: WizCb, turn: Turn, wd: WizardDraft) -> None:
    await ack(query)
    w = wd.w
    await show_month(turn.bot, query, step_keyboard(wd.draft, wd.step, w.token, w.n, today=turn.today,
                                                    lang=turn.lang, editing=w.editing,
                                                    month=month_of(callback_data.v)))


async def on_attachments_done(query: CallbackQuery, turn: Turn, wd: WizardDraft) -> None:
    await ack(query)
    await advance(turn, wd.w, wd.step)


async def on_attachments_clear(query: CallbackQuery, turn: Turn, wd: WizardDraft) -> None:
    await ack(query)
    w = wd.w
    wd.draft.attachments = []
    await turn.state.set_data(w.dump())
    await turn.send(_("The list of attachments is empty now. Send files or press «Done»."),
                    reply_markup=step_keyboard(wd.draft, wd.step, w.token, w.n, today=turn.today, lang=turn.lang,
                                               editing=w.editing))


# ------------------------------------------------------------------------------------ review

async def on_edit(query: CallbackQuery, callback_data: WizCb, turn: Turn, wd: WizardDraft) -> None:
    if callback_data.v not in steps_for(wd.draft):
        await stale(query)
        return
    await ack(query)
    wd.w.editing = True
    await goto(turn, wd.w, callback_data.v)


async def on_confirm(query: CallbackQuery, turn: Turn, wd: WizardDraft, complaints: ComplaintsRepo, user: User,
                     i18n: I18n, clock: Clock) -> None:
    await ack(query)
    await confirm(turn, wd.w, complaints=complaints, user=user, i18n=i18n, clock=clock)


def get_router() -> Router:
    """The buttons of a fresh prompt (the router-level :class:`FreshButton` check)."""
    router = FeatureRouter(name="complaint.buttons")
    router.callback_query.filter(FreshButton())
    consent = StateFilter(ComplaintWizard.consent)
    router.callback_query.register(on_agree, consent, On(A.AGREE))
    router.callback_query.register(on_decline, consent, On(A.DECLINE))
    router.callback_query.register(on_damaged, StateFilter(ComplaintWizard.draft), Damaged())

    steps = FeatureRouter(name="complaint.steps")
    steps.callback_query.filter(StateFilter(ComplaintWizard.draft), LiveDraft())
    register = steps.callback_query.register
    # One action each (tests/test_hot_path.py): the order only decides how many are tried before the one that
    # matches, so the presses of every draft (a choice, a day, Skip, Back) come first.
    register(on_choice, On(A.CHOICE), AtStep(*CHOICES))
    register(on_day, On(A.DAY), AtStep(*DATE_STEPS), digits(8))
    register(on_skip, On(A.SKIP), AtStep(*OPTIONAL))
    register(on_back, On(A.BACK))
    register(on_month, On(A.MONTH), AtStep(*DATE_STEPS), digits(6))
    register(on_no_iin, On(A.NO_IIN), AtStep("iin"))
    register(on_keep_value, On(A.KEEP_VALUE), ~AtStep(REVIEW, ATTACHMENTS))
    register(on_attachments_done, On(A.DONE), AtStep(ATTACHMENTS))
    register(on_attachments_clear, On(A.CLEAR), AtStep(ATTACHMENTS))
    register(on_edit, On(A.EDIT), AtStep(REVIEW))
    register(on_confirm, On(A.CONFIRM), AtStep(REVIEW))
    register(on_cancel, On(A.CANCEL))
    register(on_delete, On(A.DELETE))
    register(on_keep, On(A.KEEP))
    register(on_court, On(A.COURT), AtStep("recipient_kind"))
    register(on_new, On(A.NEW))
    router.include_router(steps)
    return router
