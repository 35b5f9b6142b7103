"""The complaint wizard: consent, then every field the law requires, a review screen and the DOCX.

Modules: `states` (the FSM group), `callbacks` (the one CallbackData factory and its actions), `steps` (order of
the steps, labels, questions, error texts: rendering only, the rules live in bot.domain.complaint),
`keyboards`, `flow` (the draft and the moves every handler shares), `buttons` and `messages` (the handlers),
`confirm` (the documents). Drafts live only in the FSM (SQLite): state + data; the purge of abandoned ones is
bot/services/drafts.py.
"""

from typing import Any

from aiogram import F, Router
from aiogram.filters import BaseFilter
from aiogram.types import CallbackQuery, TelegramObject

from handlers.buttons import ack
from handlers.common import Magic, Private
from handlers.complaint import buttons, messages
from handlers.complaint.callbacks import PREFIX, WizAction, WizCb
from handlers.complaint.flow import TurnMiddleware
from handlers.routing import FeatureRouter

__all__ = ["get_router"]


class Label(BaseFilter):
    """``WizCb.filter(F.a == WizAction.NOP)`` (a calendar label), whose quick check (handlers/routing.py) reads
    the action from the data: every other wizard button passed it only after a full unpack (pydantic)."""

    def __init__(self) -> None:
        self.rule = WizCb.filter(F.a == WizAction.NOP)

    async def __call__(self, query: CallbackQuery) -> bool | dict[str, Any]:
        return await self.rule(query)

    def quick(self, event: TelegramObject, data: dict[str, Any]) -> bool:
        """The action's part is "nop" (necessary for the unpacked action to be NOP)."""
        parts = (getattr(event, "data", None) or "").split(WizCb.__separator__)
        return len(parts) > 3 and parts[0] == PREFIX and parts[3] == WizAction.NOP.value


async def on_label(query: CallbackQuery) -> None:
    """A calendar label (the month's name, a weekday): nothing to do."""
    await ack(query)


def get_router() -> Router:
    """Entry, answers and buttons of the wizard; a wizard button that is not fresh, or whose action does not
    apply where the person is, is answered as stale (last, after every other wizard handler)."""
    router = FeatureRouter(name="complaint")
    router.message.filter(Private())  # a complaint is personal: never in the operators' group
    router.message.middleware(TurnMiddleware())
    router.callback_query.middleware(TurnMiddleware())
    router.callback_query.register(on_label, Label())
    stale = FeatureRouter(name="complaint.stale")
    # Forged data under the prefix, a button of an earlier prompt or another draft, an action not for this step.
    stale.callback_query.register(buttons.stale, Magic(F.data.startswith(PREFIX + ":") | (F.data == PREFIX)))
    router.include_routers(messages.get_router(), buttons.get_router(), stale)
    return router
