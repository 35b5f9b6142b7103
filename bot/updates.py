"""Long polling that one bad update cannot wedge.

aiogram parses a getUpdates answer as ONE list: a single update it cannot parse (a field of an unexpected
type, a newer Bot API shape) fails the whole batch, the offset never moves past it, and polling retries the
same batch forever while nobody is answered. :class:`SkipUnparsableUpdates` (a session middleware) parses
such a batch update by update, keeps every good one, and puts an empty ``Update`` with the bad one's id in
its place: the offset moves on, the dispatcher drops it (:class:`DropSkippedUpdates`), and the log says which
update was skipped, by id only (its content may be personal).
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram.client.session.middlewares.base import BaseRequestMiddleware
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.exceptions import ClientDecodeError
from aiogram.methods import GetUpdates
from aiogram.types import Update
from pydantic import ValidationError

log = logging.getLogger("shagym.updates")

__all__ = ["DropSkippedUpdates", "SkipUnparsableUpdates"]


class SkipUnparsableUpdates(BaseRequestMiddleware):
    async def __call__(self, make_request, bot, method):
        if not isinstance(method, GetUpdates):
            return await make_request(bot, method)
        try:
            return await make_request(bot, method)
        except ClientDecodeError as exc:
            updates = _parse_each(exc.data, bot)
            if updates is None:
                raise
            return updates


def _parse_each(data: Any, bot: Any) -> list[Update] | None:
    """The updates of a getUpdates answer, a bad one replaced by an empty Update with its id; None when the
    answer is not a list of updates at all (then the error stands: polling backs off and retries)."""
    if not isinstance(data, dict) or not data.get("ok") or not isinstance(data.get("result"), list):
        return None
    updates = []
    for raw in data["result"]:
        try:
            updates.append(Update.model_validate(raw, context={"bot": bot}))
        except ValidationError as exc:
            update_id = raw.get("update_id") if isinstance(raw, dict) else None
            if not isinstance(update_id, int):
                return None  # without its id the offset cannot move past it
            log.warning("skipped update %s: aiogram cannot parse it (%d errors, first at %s)", update_id,
                        exc.error_count(), ".".join(str(p) for p in exc.errors()[0]["loc"][:4]))
            # mounted on the bot like the others, so the dispatcher does not rebuild it (and set every field)
            updates.append(Update.model_validate({"update_id": update_id}, context={"bot": bot}))
    return updates


class DropSkippedUpdates:
    """Outer update middleware: an empty placeholder left by :class:`SkipUnparsableUpdates` goes no further
    (aiogram would warn about an unknown update type and print it)."""

    async def __call__(self, handler, event: Update, data: dict[str, Any]) -> Any:
        if len(event.model_fields_set) == 1:  # only update_id: a placeholder (a real update has its event)
            return UNHANDLED
        return await handler(event, data)
