"""The operators' desk: tickets from the complaint wizard, the FAQ and the "Talk to a person" button, a
two-way relay between the citizen's private chat and the operators' chat (a forum topic per ticket, or
replies to the ticket card in a plain group), case actions on the card, /stats and /calendar. The use cases
are bot/services/desk.py (and its outbox pump and SLA job); these routers parse, call them and answer.

Routers (tried in this order, all before the complaint wizard, tracking and the FAQ):
    commands  /stats, /calendar and the card buttons, anywhere (rights are checked in the handlers)
    group     the operators' chat only (chat filter): operator input and replies to tickets
    citizen   private chats only: opening a ticket, the relay, ending it, rating the result
``get_early_router()`` is included before the start router so /cancel ends a desk conversation first.
"""

from aiogram import Router

from handlers.operators import citizen, staff
from handlers.routing import FeatureRouter

__all__ = ["get_early_router", "get_router"]

get_early_router = citizen.get_early_router


def get_router() -> Router:
    router = FeatureRouter(name="operators")
    router.include_routers(staff.get_commands_router(), staff.get_group_router(), citizen.get_router())
    return router
