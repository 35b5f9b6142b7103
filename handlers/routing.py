"""The Router every feature uses: aiogram's, minus the cost of passing through routers that cannot take the
event.

aiogram tries the routers in order for every update, and passing one costs about 12 µs on these machines
(its outer-middleware chain is built again, with ``functools.wraps``, for every router and every event; its
root filters are checked; the handler list is walked) even when the router has no handler for the kind of
event at all (the errors router for a message, the wizard's stale-button router for a text). With ~19 routers
that was a sixth of the bot's CPU per update (docs/performance.md). :class:`FeatureRouter` does the same
thing with two shortcuts that change nothing in what is called:

* a router whose subtree has no handler and no outer middleware for the event's type returns UNHANDLED at
  once (aiogram would walk it and find nothing: root filters only decide whether handlers run);
* an observer without outer middlewares goes straight to aiogram's ``_propagate_event`` (aiogram would wrap
  it in an empty middleware chain).

Which types a subtree handles is computed on the first event of that type and computed again when a router is
included anywhere below; handlers are registered when the routers are built (``get_router()``), before the
first update.
"""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.types import TelegramObject

__all__ = ["FeatureRouter"]


class FeatureRouter(Router):
    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self._handles: dict[str, bool] = {}

    def include_router(self, router: Router) -> Router:
        included = super().include_router(router)
        for above in self.chain_head:  # the subtrees above now hold more
            if isinstance(above, FeatureRouter):
                above._handles.clear()
        return included

    def handles(self, update_type: str) -> bool:
        """Could this router or one below it do anything with an event of this type?"""
        known = self._handles.get(update_type)
        if known is None:
            known = self._handles[update_type] = any(
                observer is not None and bool(observer.handlers or observer.outer_middleware)
                for observer in (router.observers.get(update_type) for router in self.chain_tail)
            )
        return known

    async def propagate_event(self, update_type: str, event: TelegramObject, **kwargs: Any) -> Any:
        observer = self.observers.get(update_type)
        if observer is not None and observer.outer_middleware:
            return await super().propagate_event(update_type, event, **kwargs)
        if not self.handles(update_type):
            return UNHANDLED
        kwargs["event_router"] = self
        return await self._propagate_event(observer=observer, update_type=update_type, event=event, **kwargs)
