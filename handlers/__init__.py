"""All routers, in the order they are tried: commands and menus first, free text (the FAQ) last."""

from aiogram import Router

from handlers import complaint, errors, faq, operators, privacy, start, tracking
from handlers.routing import FeatureRouter

__all__ = ["get_router"]


def get_router() -> Router:
    """A new root router with every feature's router under it (one per app: nothing is shared between two
    apps in one process)."""
    root = FeatureRouter(name="root")
    root.include_routers(
        errors.get_router(),
        operators.get_early_router(),  # operators' desk: /cancel ends a desk conversation before start's /cancel
        start.get_router(),
        privacy.get_router(),  # /mydata and /forget, whatever conversation the person is in
        operators.get_router(),  # the operators' group and the desk buttons
        complaint.get_router(),
        tracking.get_router(),
        faq.get_router(),  # catches free text: keep it last
    )
    return root
