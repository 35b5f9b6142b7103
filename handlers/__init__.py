"""All routers, in the order they are tried: commands and menus first, free text (the FAQ) last."""

from functools import cache

from aiogram import Router


@cache
def build_router() -> Router:
    """The feature routers are module-level singletons, so the root is built once per process;
    App.close() detaches it so a restarted app (tests, console) can attach it again."""
    from handlers import complaint, errors, faq, operators, start, tracking

    root = Router(name="root")
    root.include_routers(
        errors.router,
        operators.early_router,  # operators' desk: /cancel ends a desk conversation before start's /cancel
        start.router,
        operators.router,  # the operators' group and the desk buttons
        complaint.router,
        tracking.router,
        faq.router,  # catches free text: keep it last
    )
    return root
