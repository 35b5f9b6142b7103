"""Long polling that one bad update cannot wedge; the in-process ledger of webhook updates.

aiogram parses a getUpdates answer as ONE list: a single update it cannot parse (a field of an unexpected
type, a newer Bot API shape) fails the whole batch, the offset never moves past it, and polling retries the
same batch forever while nobody is answered. :class:`SkipUnparsableUpdates` (a session middleware) parses
such a batch update by update, returns the good ones, and moves the next getUpdates' offset past the bad
ones; the log says which update was skipped, by id only (its content may be personal).

:class:`LocalUpdateLedger` is the ledger of handled updates (bot.domain.ports.UpdateLedger) of one instance
without Redis (webhook mode on SQLite: one instance per database file): a retried or duplicated delivery of
an update handled, or being handled, here is answered without handling it again. It lives in memory: after
a crash of the process, an update whose answer never reached Telegram is handled again.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Any

from aiogram.client.session.middlewares.base import BaseRequestMiddleware
from aiogram.exceptions import ClientDecodeError
from aiogram.methods import GetUpdates
from aiogram.types import Update
from pydantic import ValidationError

from bot.domain.ports import LeaseOutcome

log = logging.getLogger("shagym.updates")

__all__ = ["LocalUpdateLedger", "SkipUnparsableUpdates"]


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


class LocalUpdateLedger:
    """Updates handled by this process (see the module docstring), the last ``capacity`` of them."""

    def __init__(self, *, lease_seconds: float = 30.0, capacity: int = 100_000) -> None:
        self.lease_seconds = lease_seconds
        self.capacity = capacity
        self._seen: OrderedDict[int, float | None] = OrderedDict()  # update id -> lease expiry, None: done

    async def claim(self, update_id: int) -> LeaseOutcome:
        now = time.monotonic()
        outcome: LeaseOutcome = "new"
        if update_id in self._seen:
            expiry = self._seen[update_id]
            if expiry is None:
                return "done"
            if expiry > now:
                return "busy"
            outcome = "replay"
        self._seen[update_id] = now + self.lease_seconds
        self._seen.move_to_end(update_id)
        while len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        return outcome

    async def renew(self, update_id: int) -> None:
        if self._seen.get(update_id) is not None:
            self._seen[update_id] = time.monotonic() + self.lease_seconds

    async def done(self, update_id: int) -> None:
        self._seen[update_id] = None

    async def release(self, update_id: int) -> None:
        if self._seen.get(update_id) is not None:
            del self._seen[update_id]
