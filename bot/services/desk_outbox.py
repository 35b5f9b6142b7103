"""The pump of the desk's outbox: posts what citizens sent to the operators' chat, in order, at the chat's pace.

Opening a ticket, a relayed message, "the citizen asked again", a rating: a citizen's update only queues the
post (storage/outbox.py; a ticket's card commits with the ticket) and answers the person at once. One task
posts the rows in id order through the Sender, which keeps the group's limit (20 posts a minute): the
person never waits on the operators' chat, and a burst of tickets drains as fast as Telegram allows.

Order: a ticket's rows go out in the order they were queued (its card before the messages relayed into it);
a row that must wait (429, a server or network error) holds back the later rows of ITS ticket only.
A crash between a post and its "sent" mark posts it once more after the row's lease (the card is not: a
ticket that has its card skips it). Several instances each run a pump: a row is leased to the instance that
claimed it (storage/leases.py), renewed while it works, and a ticket's rows go to one instance at a time. A row Telegram refuses for good is marked failed: the citizen is told when it
was their message or their ticket's card (that ticket is then deleted, as if it had never been opened).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from aiogram.types import Message

from bot.domain.entities import OutboxRow, Ticket
from bot.domain.leases import renewing
from bot.domain.ports import OutboxRepo, TicketsRepo
from bot.domain.text import N_
from bot.services.background import stop_task
from bot.services.sender import Sender, SendResult

log = logging.getLogger("shagym.desk")

__all__ = ["CopySource", "DeskOutbox", "DeskPoster"]


CARD_FAILED = N_("Sorry, the operators' desk could not receive your request. You can call the 1414 contact "
                 "centre: 1414 or 8-800-080-7777 (free).")
RELAY_FAILED = N_("I could not pass one of your messages to the desk. Please send it again in a few minutes.")


@dataclass(frozen=True)
class CopySource:
    """What copyMessage needs of a message (kept in the outbox between the citizen's update and the post)."""

    chat_id: int
    message_id: int
    content_type: str
    caption_html: str = ""

    @classmethod
    def of(cls, message: Message) -> "CopySource":
        kind = message.content_type
        return cls(message.chat.id, message.message_id, str(getattr(kind, "value", kind)),
                   message.html_text if message.caption else "")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CopySource":
        return cls(int(data["chat_id"]), int(data["message_id"]), str(data.get("content_type") or ""),
                   str(data.get("caption_html") or ""))

    def to_dict(self) -> dict[str, Any]:
        return {"chat_id": self.chat_id, "message_id": self.message_id, "content_type": self.content_type,
                "caption_html": self.caption_html}


class DeskPoster(Protocol):
    """What the pump asks of the desk (bot.services.desk.Desk): the posts themselves and the citizen's text."""

    tickets: TicketsRepo
    sender: Sender

    def now(self) -> datetime: ...
    def citizen_text(self, msgid: str, lang: str) -> str: ...
    async def citizen_lang(self, ticket: Ticket) -> str: ...
    async def post_card(self, ticket: Ticket) -> SendResult | None: ...
    async def note(self, ticket: Ticket, text: str, **kw: Any) -> SendResult: ...
    async def post_file(self, ticket: Ticket, payload: dict[str, Any]) -> SendResult: ...
    async def relay_in(self, ticket: Ticket, source: CopySource, *, edited: bool = False) -> SendResult | None: ...
    async def refresh_card(self, ticket: Ticket) -> SendResult | None: ...


class DeskOutbox:
    def __init__(self, desk: DeskPoster, repo: OutboxRepo, *, max_attempts: int = 8, backoff_base: float = 2.0,
                 backoff_max: float = 300.0, idle_poll: float = 60.0,
                 lease: timedelta = timedelta(seconds=90)) -> None:
        self.desk = desk
        self.repo = repo
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.idle_poll = idle_poll
        self.lease = lease
        self._wake = asyncio.Event()
        self._not_before: dict[int, float] = {}  # row id -> loop time of its next try
        self._task: asyncio.Task[None] | None = None

    # ---- life ---------------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="desk-outbox")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                pause = await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the pump must outlive a bad row or a busy database
                log.exception("desk outbox: pass failed: %s", type(exc).__name__)
                pause = 5.0
            try:
                await asyncio.wait_for(self._wake.wait(), pause)
            except asyncio.TimeoutError:
                pass

    # ---- one pass -----------------------------------------------------------------------------
    async def drain(self) -> float:
        """Post every row that may go now; returns the seconds until a held-back row may be tried again."""
        pause = self.idle_poll
        held: set[int] = set()  # tickets with a row waiting: their later rows wait too
        after = 0
        async with renewing(lambda: self.repo.renew(self.desk.now()), self.lease):
            while rows := await self.repo.claim(self.desk.now(), self.lease, after_id=after):
                pause = await self._pass(rows, held, pause)
                after = rows[-1].id
        return pause

    async def _pass(self, rows: list[OutboxRow], held: set[int], pause: float) -> float:
        loop = asyncio.get_running_loop()
        for row in rows:
            if row.ticket_id in held:
                continue
            due = self._not_before.get(row.id, 0.0)
            if due > loop.time():
                held.add(row.ticket_id)
                pause = min(pause, due - loop.time())
                continue
            if not await self._one(row):
                held.add(row.ticket_id)
                pause = min(pause, max(0.0, self._not_before.get(row.id, 0.0) - loop.time()))
        return pause

    async def _one(self, row: OutboxRow) -> bool:
        """Post one row and record the outcome; False when it has to be tried again later."""
        desk = self.desk
        ticket = await desk.tickets.get(row.ticket_id)
        if ticket is None:  # deleted meanwhile (its card failed): nothing to post
            await self.repo.mark_failed(row.id, "no ticket")
            return True
        result = await self._post(row, ticket)
        if result is None or result.ok or (row.kind == "refresh" and "not modified" in (result.error or "")):
            await self.repo.mark_sent(row.id, at=desk.now())
            self._not_before.pop(row.id, None)
            return True
        if result.retryable and (row.attempts + 1 < self.max_attempts or result.retry_after is not None):
            delay = min(self.backoff_max, self.backoff_base * 2 ** row.attempts)
            if result.retry_after:
                delay = max(delay, result.retry_after)
            self._not_before[row.id] = asyncio.get_running_loop().time() + delay
            await self.repo.retry_later(row.id, result.error)
            log.info("desk outbox: %s of ticket %s waits %.0fs: %s", row.kind, ticket.id, delay, result.error)
            return False
        self._not_before.pop(row.id, None)
        await self.repo.mark_failed(row.id, result.error, at=desk.now())
        log.error("desk outbox: %s of ticket %s not posted: %s", row.kind, ticket.id, result.error)
        await self._refused(row, ticket)
        return True

    async def _post(self, row: OutboxRow, ticket: Ticket) -> SendResult | None:
        desk = self.desk
        if row.kind == "card":
            return await desk.post_card(ticket)
        if not ticket.card_message_id and not ticket.thread_id:
            return SendResult(ok=False, error="the ticket has no card to post under")
        if row.kind == "note":
            return await desk.note(ticket, str(row.payload.get("text") or ""))
        if row.kind == "file":
            return await desk.post_file(ticket, row.payload)
        if row.kind == "relay":
            return await desk.relay_in(ticket, CopySource.from_dict(row.payload),
                                       edited=bool(row.payload.get("edited")))
        if row.kind == "refresh":
            return await desk.refresh_card(ticket)
        return SendResult(ok=False, error=f"unknown kind {row.kind}")

    async def _refused(self, row: OutboxRow, ticket: Ticket) -> None:
        """Telegram refused a row for good: tell the citizen when it was theirs to know."""
        desk = self.desk
        if row.kind not in ("card", "relay") or ticket.user_id is None:
            return
        text = desk.citizen_text(CARD_FAILED if row.kind == "card" else RELAY_FAILED, await desk.citizen_lang(ticket))
        if row.kind == "card":
            await desk.tickets.delete(ticket.id)
        await desk.sender.send_message(ticket.user_id, text)
