"""The operators' desk, the use cases: everything the desk's handlers (handlers/operators/) ask for.

* who is an operator (member of the operators' chat, cached 60 s, or listed in OPERATOR_IDS);
* what the bot may do in the operators' chat (checked at start-up, logged clearly; no crash);
* opening a ticket (forum topic or a card in a plain group) and forwarding a complaint's attachments;
* the operators' actions on a ticket (take, register, extend, resolve, reject) and the citizen's rating: each
  changes the ticket and its audit entry in one transaction (``TicketsRepo.transition``) and the tracked
  case through bot.services.cases (which re-plans its reminders in the same transaction as the case);
* the two-way relay (copyMessage, through the Sender) and re-sending edits;
* what citizens send to the desk (the card, relayed messages, notes, card refreshes) is queued in the
  desk's outbox and posted by its pump at the group's pace (bot/services/desk_outbox.py): a citizen's
  update never waits on the operators' chat;
* the operator's pending input (a tiny form keyed per operator and chat, in the FSM storage).

The SLA notices and the statistics are bot/services/desk_sla.py. Texts for the operators' chat use
``settings.operators_language``; texts for a citizen outside their own update use their current language.
Every message that leaves the bot here goes through the Sender.
"""

from __future__ import annotations

import logging
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from aiogram import Bot
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.methods import (
    CopyMessage,
    CreateForumTopic,
    EditMessageText,
    GetChat,
    GetChatMember,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.types import ChatFullInfo, ForceReply, InlineKeyboardMarkup, Message, ReplyParameters
from aiogram.utils.i18n import I18n
from apscheduler.schedulers.base import BaseScheduler
from babel.dates import format_date

from bot.config import Settings
from bot.domain.clock import Clock
from bot.domain.deadlines import Deadlines, filing_limit_from
from bot.domain.desk import OPEN, RegistrationInput, render_card, statuses_for
from bot.domain.entities import Case, StoredComplaint, Ticket, TicketStatus
from bot.domain.ports import ComplaintsRepo, OutboxRepo, TicketsRepo, UsersRepo
from bot.domain.text import N_, Gettext, escape
from bot.services.cases import CaseService
from bot.services.desk_outbox import CopySource, DeskOutbox
from bot.services.i18n import translator
from bot.services.sender import Sender, SendResult

__all__ = ["CardKeyboard", "ChatInfo", "Desk", "EscalationError"]

log = logging.getLogger("shagym.desk")

MEMBER_TTL = 60.0
OPERATOR_STATUSES = ("creator", "administrator", "member")
CAPTION_TYPES = ("photo", "video", "document", "audio", "voice", "animation")
FORM_DESTINY = "desk_form"

#: The buttons of a ticket's card (handlers/operators/keyboards.py; given by the app, which knows both).
CardKeyboard = Callable[[Ticket, Gettext], InlineKeyboardMarkup | None]
#: Why an escalation did not open a ticket: no desk, not the person's complaint, the desk's chat unreachable.
EscalationError = str


@dataclass
class ChatInfo:
    ok: bool = False
    forum: bool = False  # post each ticket in its own topic
    problems: list[str] = field(default_factory=list)


def _can_post(chat: ChatFullInfo, member: Any) -> bool:
    status = member.status
    if status in ("creator", "administrator"):
        return True
    if status == "member":
        perms = getattr(chat, "permissions", None)
        return perms is None or perms.can_send_messages is not False
    if status == "restricted":
        return bool(getattr(member, "can_send_messages", False))
    return False


def _can_manage_topics(member: Any) -> bool:
    return member.status == "creator" or (member.status == "administrator"
                                          and bool(getattr(member, "can_manage_topics", False)))


class Desk:
    def __init__(self, *, settings: Settings, bot: Bot, i18n: I18n, forms: BaseStorage, clock: Clock,
                 sender: Sender, users: UsersRepo, complaints: ComplaintsRepo, tickets: TicketsRepo,
                 outbox: OutboxRepo, cases: CaseService, card_keyboard: CardKeyboard) -> None:
        self.settings = settings
        self.bot = bot
        self.i18n = i18n
        self.forms = forms
        self.clock = clock
        self.sender = sender
        self.users = users
        self.complaints = complaints
        self.tickets = tickets
        self.cases = cases
        self._card_keyboard = card_keyboard
        self.outbox = DeskOutbox(self, outbox)
        self._members: dict[int, tuple[float, bool]] = {}
        self._chat: ChatInfo | None = None

    # ---- basics ---------------------------------------------------------------------------------
    @property
    def chat_id(self) -> int | None:
        return self.settings.operators_chat_id

    def o(self, msgid: str) -> str:
        """A msgid in the operators' language (callers mark msgids with ``_``/``N_`` for extraction)."""
        return self.i18n.gettext(msgid, locale=self.settings.operators_language)

    def o_plural(self, singular: str, plural: str, n: int) -> str:
        """Plural msgids in the operators' language (bind it to ``ngettext`` where it is called)."""
        return self.i18n.gettext(singular, plural, n, locale=self.settings.operators_language)

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        return self.now().astimezone(self.settings.tz).date()

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.settings.tz).date()

    @staticmethod
    def ops_date(day: date) -> str:
        return day.strftime("%d.%m.%Y")

    @staticmethod
    def citizen_date(day: date, lang: str) -> str:
        return format_date(day, format="long", locale=lang)

    def citizen_text(self, msgid: str, lang: str) -> str:
        return self.i18n.gettext(msgid, locale=lang)

    async def citizen_lang(self, ticket: Ticket) -> str:
        user = await self.users.get(ticket.user_id) if ticket.user_id is not None else None
        return (user.language if user and user.language else None) or ticket.language or self.settings.default_language

    async def citizen_gettext(self, ticket: Ticket) -> tuple[Gettext, str]:
        lang = await self.citizen_lang(ticket)
        return translator(self.i18n, lang), lang

    # ---- start and stop -------------------------------------------------------------------------
    async def startup(self, scheduler: BaseScheduler) -> None:
        """Check the operators' chat and log what is missing, warn about an unverified calendar, and start the
        outbox's pump when there is a desk."""
        info = await self.check_chat()
        for problem in info.problems:
            log.warning("operators' desk: %s", problem)
        if info.ok:
            log.info("operators' desk: chat ok (%s)", "a topic per ticket" if info.forum else "cards with replies")
        today = self.today()
        if self.cases.calendar.verification_reminder_due(today):
            log.warning("working-day calendar: %s is not verified; record the transfers and the Kurban Ait date "
                        "with /calendar add when the order is published", today.year + 1)
        if self.chat_id is not None:
            self.outbox.start()  # posts queued by citizens (cards, relays, notes), at the group's pace

    async def shutdown(self) -> None:
        await self.outbox.stop()

    # ---- the operators' chat ------------------------------------------------------------------
    async def check_chat(self, *, force: bool = False) -> ChatInfo:
        """What the bot may do in the operators' chat; problems are logged clearly (never raised)."""
        if self._chat is None or force:
            self._chat = await self._probe_chat()
        return self._chat

    async def _probe_chat(self) -> ChatInfo:
        info = ChatInfo()
        if self.chat_id is None:
            info.problems.append("OPERATORS_CHAT_ID is not set: the desk is off")
            return info
        try:
            chat = await self.bot(GetChat(chat_id=self.chat_id))
        except Exception as exc:  # reported, never fatal
            info.problems.append(f"getChat failed ({type(exc).__name__}): is the bot in the operators' chat "
                                 f"{self.chat_id}, and is the id right (supergroups start with -100)?")
            return info
        try:
            me = await self.bot.me()
            member = await self.bot(GetChatMember(chat_id=self.chat_id, user_id=me.id))
        except Exception as exc:  # reported, never fatal
            info.problems.append(f"getChatMember for the bot failed ({type(exc).__name__})")
            return info
        info.ok = _can_post(chat, member)
        if not info.ok:
            info.problems.append(f"the bot cannot post in the operators' chat (status: {member.status}); "
                                 "add it as a member with the right to send messages, or as an administrator")
        if getattr(chat, "is_forum", False):
            info.forum = _can_manage_topics(member)
            if not info.forum:
                info.problems.append("the operators' chat is a forum but the bot cannot manage topics: make it an "
                                     "administrator with 'Manage topics'; until then tickets are cards in General")
        return info

    async def is_operator(self, user_id: int) -> bool:
        if user_id in self.settings.operator_ids:
            return True
        if self.chat_id is None:
            return False
        now = _time.monotonic()  # a cache's age, not a date
        hit = self._members.get(user_id)
        if hit is not None and now - hit[0] < MEMBER_TTL:
            return hit[1]
        try:
            member = await self.bot(GetChatMember(chat_id=self.chat_id, user_id=user_id))
            ok = member.status in OPERATOR_STATUSES
        except Exception as exc:  # unknown means "no"
            log.info("desk: getChatMember failed (%s)", type(exc).__name__)
            ok = False
        self._members[user_id] = (now, ok)
        return ok

    # ---- the operator's pending input ---------------------------------------------------------
    def _form_key(self, chat_id: int, user_id: int) -> StorageKey:
        return StorageKey(bot_id=self.bot.id, chat_id=chat_id, user_id=user_id, destiny=FORM_DESTINY)

    async def form_get(self, chat_id: int, user_id: int) -> dict[str, Any] | None:
        key = self._form_key(chat_id, user_id)
        if await self.forms.get_state(key) is None:
            return None
        return await self.forms.get_data(key)

    async def form_set(self, chat_id: int, user_id: int, action: str, ticket_id: int) -> None:
        key = self._form_key(chat_id, user_id)
        await self.forms.set_state(key, f"desk:{action}")
        await self.forms.set_data(key, {"action": action, "ticket_id": ticket_id})

    async def form_clear(self, chat_id: int, user_id: int) -> None:
        key = self._form_key(chat_id, user_id)
        await self.forms.set_state(key, None)
        await self.forms.set_data(key, {})

    # ---- posting into a ticket ----------------------------------------------------------------
    def _place(self, ticket: Ticket) -> dict[str, Any]:
        if ticket.thread_id:
            return {"message_thread_id": ticket.thread_id}
        if ticket.card_message_id:
            return {"reply_parameters": ReplyParameters(message_id=ticket.card_message_id,
                                                        allow_sending_without_reply=True)}
        return {}

    @staticmethod
    def _group_of(ticket: Ticket) -> int:
        if ticket.chat_id is None:  # every ticket of a desk is opened with the operators' chat
            raise ValueError(f"ticket {ticket.id} has no operators' chat")
        return ticket.chat_id

    async def post(self, ticket: Ticket, method: TelegramMethod[Any], *, direction: str = "note",
                   citizen_message_id: int | None = None) -> SendResult:
        """Send ``method`` (chat and placement already set) to the operators' chat and map the result."""
        group = self._group_of(ticket)
        result = await self.sender.send(method, chat_id=group)
        if result.ok:
            mid = getattr(result.result, "message_id", None)
            await self.tickets.add_message(ticket.id, direction, citizen_chat_id=ticket.user_id or 0,
                                           citizen_message_id=citizen_message_id, group_chat_id=group,
                                           group_message_id=mid, at=self.now())
        else:
            log.warning("desk: posting to ticket %s failed: %s", ticket.id, result.error)
        return result

    async def note(self, ticket: Ticket, text: str, **kw: Any) -> SendResult:
        group = self._group_of(ticket)
        return await self.post(ticket, SendMessage(chat_id=group, text=text, **self._place(ticket), **kw))

    async def prompt(self, ticket: Ticket, text: str) -> SendResult:
        """Ask the operator for input (ForceReply, and a Cancel button is on the card's reply)."""
        group = self._group_of(ticket)
        return await self.sender.send(
            SendMessage(chat_id=group, text=text, **self._place(ticket),
                        reply_markup=ForceReply(input_field_placeholder=self.o("Your answer")[:64])),
            chat_id=group)

    # ---- the card -----------------------------------------------------------------------------
    async def case_and_deadlines(self, ticket: Ticket) -> tuple[Case | None, Deadlines | None]:
        case = await self.cases.get(ticket.case_id) if ticket.case_id is not None else None
        if case is None:
            return None, None
        return case, self.cases.deadlines_or_none(case)

    async def complaint_of(self, ticket: Ticket) -> StoredComplaint | None:
        return await self.complaints.get(ticket.complaint_id) if ticket.complaint_id is not None else None

    async def _name(self, user_id: int | None) -> str | None:
        user = await self.users.get(user_id) if user_id is not None else None
        return user.first_name if user else None

    async def card_text(self, ticket: Ticket) -> str:
        stored = await self.complaint_of(ticket)
        assignee = None
        if ticket.assignee_id is not None:
            assignee = await self._name(ticket.assignee_id) or f"id {ticket.assignee_id}"
        case, deadlines = await self.case_and_deadlines(ticket)
        learned = stored.complaint.learned_date if stored is not None else None
        return render_card(
            ticket, self.o,
            citizen_name=await self._name(ticket.user_id),
            complaint_number=stored.number if stored else None,
            complaint=stored.complaint if stored else None,
            assignee_name=assignee, case=case, deadlines=deadlines,
            filing_limit=filing_limit_from(learned, self.cases.calendar) if learned else None,
            fmt_date=self.ops_date, ngettext=self.o_plural,
            erased_on=self.local_day(ticket.erased_at) if ticket.erased_at else None,
        )

    def card_keyboard(self, ticket: Ticket) -> InlineKeyboardMarkup | None:
        return self._card_keyboard(ticket, self.o)

    async def refresh_card(self, ticket: Ticket) -> SendResult | None:
        if not ticket.card_message_id or ticket.chat_id is None:
            return None
        method = EditMessageText(chat_id=ticket.chat_id, message_id=ticket.card_message_id,
                                 text=await self.card_text(ticket), reply_markup=self.card_keyboard(ticket))
        result = await self.sender.send(method, chat_id=ticket.chat_id)
        if not result.ok and "not modified" not in (result.error or ""):
            log.warning("desk: card of ticket %s not updated: %s", ticket.id, result.error)
        return result

    # ---- escalation ---------------------------------------------------------------------------
    async def escalate(self, user_id: int, lang: str, source: str,
                       complaint_id: int | None) -> tuple[Ticket | None, bool, EscalationError | None]:
        """Open (or reuse) the citizen's ticket. Returns ``(ticket, created, error)``; error is a key:
        ``off`` (no desk), ``no_complaint`` (not theirs / unknown), ``unreachable`` (could not post)."""
        if self.chat_id is None:
            return None, False, "off"
        stored = None
        if source == "complaint":
            stored = await self.complaints.get(complaint_id or 0)
            if stored is None or stored.user_id != user_id:
                return None, False, "no_complaint"
        if not (await self.check_chat()).ok and not (await self.check_chat(force=True)).ok:
            return None, False, "unreachable"  # (forced: the bot may have been fixed since start-up)
        ticket, created = await self.tickets.open_or_create(
            user_id, language=lang, source=source, complaint_id=stored.id if stored else None,
            chat_id=self.chat_id, at=self.now(), queue_card=True)
        if created:  # its card is queued with it: the citizen is answered now, the card goes at the group's pace
            self.outbox.wake()
            return ticket, True, None
        return await self._escalated_again(ticket, stored), False, None

    async def _escalated_again(self, ticket: Ticket, stored: StoredComplaint | None) -> Ticket:
        """A second escalation reuses the open ticket: what is new goes to the operators."""
        _ = self.o
        if stored is not None and ticket.complaint_id is None:
            ticket = await self.tickets.update(ticket.id, complaint_id=stored.id, source="complaint",
                                               at=self.now()) or ticket
            await self.queue_refresh(ticket)
            await self.queue_note(ticket, _("📝 The citizen attached complaint {number} to this ticket (see the "
                                            "card).").format(number=escape(stored.number)))
            await self.queue_attachments(ticket, stored)
        elif stored is not None and ticket.complaint_id != stored.id:
            await self.queue_note(ticket, _("📝 The citizen also sent complaint {number}; it is handled in this "
                                            "ticket.").format(number=escape(stored.number)))
            await self.queue_attachments(ticket, stored)
        else:
            await self.queue_note(ticket, _("👤 The citizen asked for a person again."))
        return ticket

    # ---- what citizens send to the desk: queued (storage/outbox.py), posted by the pump ------------
    async def queue_note(self, ticket: Ticket, text: str) -> None:
        await self.outbox.repo.queue(ticket.id, "note", {"text": text}, at=self.now())
        self.outbox.wake()

    async def queue_refresh(self, ticket: Ticket) -> None:
        await self.outbox.repo.queue_refresh(ticket.id, at=self.now())
        self.outbox.wake()

    async def queue_attachments(self, ticket: Ticket, stored: StoredComplaint) -> None:
        for a in stored.complaint.attachments:
            await self.outbox.repo.queue(ticket.id, "file", {"file_id": a.file_id, "kind": a.kind, "name": a.name},
                                         at=self.now())
        self.outbox.wake()

    async def queue_relay(self, ticket: Ticket, message: Message, *, edited: bool = False) -> None:
        """A citizen's message (or its edit) for the ticket; the pump copies it (see :meth:`relay_in`)."""
        payload = {**CopySource.of(message).to_dict(), "edited": edited}
        await self.outbox.repo.queue(ticket.id, "relay", payload, at=self.now())
        self.outbox.wake()

    async def _open_topic(self, ticket: Ticket, group: int) -> tuple[Ticket, SendResult | None]:
        """The ticket's forum topic (named by ticket, complaint and first name); a retryable failure is
        handed back, any other leaves the card in General."""
        stored = await self.complaint_of(ticket)
        first_name = await self._name(ticket.user_id)
        name = f"№{ticket.id}" + (f" · {stored.number}" if stored is not None else "") + (
            f" · {first_name}" if first_name else "")
        res = await self.sender.send(CreateForumTopic(chat_id=group, name=name[:128]), chat_id=group)
        if res.ok:
            thread_id = res.result.message_thread_id
            ticket = await self.tickets.update(ticket.id, thread_id=thread_id, at=self.now()) or replace(
                ticket, thread_id=thread_id)
        elif res.retryable:
            return ticket, res
        else:
            log.warning("desk: createForumTopic failed (%s); the card goes to General", res.error)
        return ticket, None

    async def post_card(self, ticket: Ticket) -> SendResult | None:
        """The pump's part of opening a ticket: its forum topic (a forum), its card, then its complaint's
        attachments (queued). None when there is nothing to do (the card is there: a repeat after a crash)."""
        if ticket.card_message_id:
            return None
        group = self._group_of(ticket)
        if (await self.check_chat()).forum and not ticket.thread_id:
            ticket, wait = await self._open_topic(ticket, group)
            if wait is not None:
                return wait
        res = await self.sender.send(
            SendMessage(chat_id=group, text=await self.card_text(ticket), message_thread_id=ticket.thread_id,
                        reply_markup=self.card_keyboard(ticket)),
            chat_id=group)
        if not res.ok:
            return res
        ticket = await self.tickets.update(ticket.id, card_message_id=res.result.message_id, at=self.now()) or ticket
        await self.tickets.add_message(ticket.id, "card", citizen_chat_id=ticket.user_id or 0, citizen_message_id=None,
                                       group_chat_id=group, group_message_id=res.result.message_id, at=self.now())
        stored = await self.complaint_of(ticket)
        if stored is not None:
            await self.queue_attachments(ticket, stored)
        return res

    async def post_file(self, ticket: Ticket, payload: dict[str, Any]) -> SendResult:
        caption = escape(payload.get("name") or "")
        group = self._group_of(ticket)
        method: TelegramMethod[Any]
        if payload.get("kind") == "photo":
            method = SendPhoto(chat_id=group, photo=payload["file_id"], caption=caption, **self._place(ticket))
        else:
            method = SendDocument(chat_id=group, document=payload["file_id"], caption=caption, **self._place(ticket))
        return await self.post(ticket, method)

    # ---- relay --------------------------------------------------------------------------------
    async def copy(self, *, to_chat: int, source: CopySource, header: str | None,
                   place: dict[str, Any]) -> SendResult:
        """copyMessage of ``source`` to ``to_chat``, marked with ``header``: in the caption when the kind has
        one, else as a message right before the copy. The caption is the header and the message's own caption
        in full: the one limits check (bot.services.sender.fit_to_limits) cuts the visible text, never a tag."""
        caption = None
        if header and source.content_type in CAPTION_TYPES:
            caption = header + ("\n\n" + source.caption_html if source.caption_html else "")
        elif header:
            await self.sender.send(SendMessage(chat_id=to_chat, text=header, **place), chat_id=to_chat)
        kw: dict[str, Any] = dict(place)
        if caption is not None:
            kw.update(caption=caption, parse_mode="HTML")
        return await self.sender.send(
            CopyMessage(chat_id=to_chat, from_chat_id=source.chat_id, message_id=source.message_id, **kw),
            chat_id=to_chat)

    async def relay_in(self, ticket: Ticket, source: CopySource, *, edited: bool = False) -> SendResult | None:
        """The pump's part of relaying a citizen's message (or its edit) into the ticket. None: an edit of a
        message the desk never got (nothing to correct)."""
        place = self._place(ticket)
        header = None
        if edited:
            header = "✏️ " + self.o(N_("The citizen edited a message:"))
            earlier = await self.tickets.find_in(source.chat_id, source.message_id)
            if earlier is None or not earlier.group_message_id:
                return None
            reply = {"reply_parameters": ReplyParameters(message_id=earlier.group_message_id,
                                                         allow_sending_without_reply=True)}
            place = {**place, **reply} if ticket.thread_id else reply
        group = self._group_of(ticket)
        result = await self.copy(to_chat=group, source=source, header=header, place=place)
        if result.ok and not edited:
            await self.tickets.add_message(ticket.id, "in", citizen_chat_id=source.chat_id,
                                           citizen_message_id=source.message_id, group_chat_id=group,
                                           group_message_id=result.result.message_id, at=self.now())
        return result

    async def relay_out(self, ticket: Ticket, message: Message, *, edited: bool = False) -> bool:
        """An operator's message (or its edit) to the citizen, as a copy marked "from the desk"."""
        if ticket.user_id is None:  # the person's data was erased: nobody to send it to
            return False
        _, lang = await self.citizen_gettext(ticket)
        if edited:
            header = "✏️ " + _(N_("Correction from the desk (ticket №{id}):")).format(id=ticket.id)
        else:
            header = "💬 " + _(N_("Message from the desk (ticket №{id}):")).format(id=ticket.id)
        place: dict[str, Any] = {}
        if edited:
            earlier = await self.tickets.find_out(message.chat.id, message.message_id)
            if earlier is not None and earlier.citizen_message_id:
                place = {"reply_parameters": ReplyParameters(message_id=earlier.citizen_message_id,
                                                             allow_sending_without_reply=True)}
        result = await self.copy(to_chat=ticket.user_id, source=CopySource.of(message), header=header, place=place)
        if result.ok and not edited:
            await self.tickets.add_message(ticket.id, "out", citizen_chat_id=ticket.user_id,
                                           citizen_message_id=result.result.message_id, group_chat_id=message.chat.id,
                                           group_message_id=message.message_id, at=self.now())
        return result.ok

    async def tell_citizen(self, ticket: Ticket, text: str, **kw: Any) -> SendResult:
        if ticket.user_id is None:  # the person's data was erased
            return SendResult(ok=False, error="erased")
        return await self.sender.send_message(ticket.user_id, text, **kw)

    async def end_relay(self, ticket: Ticket, actor_id: int) -> Ticket | None:
        ticket2 = await self.tickets.transition(ticket.id, actor_id=actor_id, action="relay_ended", allowed=OPEN,
                                                at=self.now(), relay=False)
        if ticket2 is not None:
            await self.queue_note(ticket2, "🔚 " + self.o(N_(
                "The citizen ended the conversation; their messages no longer come here. Your replies still reach "
                "them while the ticket is open.")))
        return ticket2

    # ---- the operators' actions ----------------------------------------------------------------
    async def take(self, ticket: Ticket, operator_id: int) -> Ticket | None:
        status = TicketStatus.TAKEN if ticket.status == TicketStatus.NEW else ticket.status
        return await self.tickets.transition(
            ticket.id, actor_id=operator_id, action="take", allowed=statuses_for("take"), at=self.now(),
            detail={"from": ticket.assignee_id}, assignee_id=operator_id, status=status)

    async def register(self, ticket: Ticket, operator_id: int, reg: RegistrationInput,
                       recipient: str) -> Ticket | None:
        """The registration an operator recorded: the tracked case (re-planned), then the ticket's transition.
        None when someone else acted first (a case opened for this is closed again)."""
        if ticket.user_id is None:  # erased: closed, nothing to register
            return None
        stored = await self.complaint_of(ticket)
        c = stored.complaint if stored else None
        case, created = await self.cases.register(
            user_id=ticket.user_id, ticket_id=ticket.id, complaint_id=ticket.complaint_id, recipient_kind=recipient,
            registered_on=reg.registered_on, reg_number=reg.reg_number,
            filed_with=c.recipient_name if c else None, learned_on=c.learned_date if c else None)
        updated = await self.tickets.transition(
            ticket.id, actor_id=operator_id, action="register", allowed=statuses_for("reg"),
            detail={"case_id": case.id, "reg_number": reg.reg_number,
                    "registered_on": reg.registered_on.isoformat(), "recipient": recipient},
            at=self.now(), status=TicketStatus.REGISTERED, case_id=case.id,
            assignee_id=ticket.assignee_id or operator_id)
        if updated is None and created:  # someone else acted first: the case must not live on
            await self.cases.close(case.id)
        return updated

    async def extend(self, ticket: Ticket, operator_id: int, days: int, reason: str) -> Ticket | None:
        """An extension by ``days`` working days, told to the citizen today: the ticket's transition, then the
        case (re-planned). None when it is not possible in the ticket's state."""
        case = await self.cases.get(ticket.case_id) if ticket.case_id is not None else None
        if case is None:
            return None
        today = max(self.today(), case.registered_on)
        updated = await self.tickets.transition(
            ticket.id, actor_id=operator_id, action="extend", allowed=statuses_for("ext"),
            detail={"days": days, "reason": reason, "on": today.isoformat()}, at=self.now(),
            status=TicketStatus.EXTENDED)
        if updated is not None:
            await self.cases.extend(case.id, days, today, told_on=today)
        return updated

    async def close(self, ticket: Ticket, operator_id: int, *, resolved: bool, detail: dict[str, Any],
                    result: str) -> Ticket | None:
        """Resolve or reject: the ticket's transition (audited) and its tracked case (answered when resolved,
        closed when rejected); None if refused."""
        updated = await self.tickets.transition(
            ticket.id, actor_id=operator_id, action="resolve" if resolved else "reject", allowed=OPEN,
            detail=detail, at=self.now(), status=TicketStatus.RESOLVED if resolved else TicketStatus.REJECTED,
            resolved_at=self.now(), result=result[:2000], relay=False)
        case = await self.cases.get(updated.case_id) if updated is not None and updated.case_id is not None else None
        if case is not None and case.status == "open":
            await (self.cases.answer(case.id) if resolved else self.cases.close(case.id))
        return updated

    async def rate(self, ticket: Ticket, user_id: int, value: int) -> Ticket | None:
        """The citizen's rating (1..5) of a resolved ticket, or 0: "I disagree"."""
        if value == 0:
            return await self.tickets.transition(ticket.id, actor_id=user_id, action="disagreed",
                                                 allowed=(TicketStatus.RESOLVED,), at=self.now(), disagreed=True)
        return await self.tickets.transition(ticket.id, actor_id=user_id, action="rated",
                                             allowed=(TicketStatus.RESOLVED,), detail={"rating": value},
                                             at=self.now(), rating=value)
