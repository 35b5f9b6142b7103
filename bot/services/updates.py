"""Long polling that one bad update cannot wedge.

aiogram parses a getUpdates answer as ONE list: a single update it cannot parse (a field of an unexpected
type, a newer Bot API shape) fails the whole batch, the offset never moves past it, and polling retries the
same batch forever while nobody is answered. :class:`SkipUnparsableUpdates` (a session middleware) parses
such a batch update by update, returns the good ones, and moves the next getUpdates' offset past the bad
ones; the log says which update was skipped, by id only (its content may be personal).
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram.client.session.middlewares.base import BaseRequestMiddleware
from aiogram.exceptions import ClientDecodeError
from aiogram.methods import GetUpdates
from aiogram.types import Update
from pydantic import ValidationError

log = logging.getLogger("shagym.updates")

__all__ = ["SkipUnparsableUpdates"]


class SkipUnparsableUpdates(BaseRequestMiddleware):
    def __init__(self) -> None:
        self.skipped_through = 0  # the highest update id skipped: the offset must move past it

    async def __call__(self, make_request, bot, method):
        if not isinstance(method, GetUpdates):
            return await make_request(bot, method)
        if self.skipped_through and (method.offset or 0) <= self.skipped_through:
            # polling sets the offset after the last update it was GIVEN: a bad last one is confirmed here
            method.offset = self.skipped_through + 1
        try:
            return await make_request(bot, method)
        except ClientDecodeError as exc:
            updates = self._parse_each(exc.data, bot)
            if updates is None:
                raise
            return updates

    def _parse_each(self, data: Any, bot: Any) -> list[Update] | None:
        """The updates of a getUpdates answer without the bad ones; None when the answer is not a list of
        updates at all (then the error stands: polling backs off and retries)."""
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
                self.skipped_through = max(self.skipped_through, update_id)
        return updates
