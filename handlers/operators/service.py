"""The desk service: everything the desk handlers share (one instance per App, ``desk_of(app)``).

* who is an operator (member of the operators' chat, cached 60 s, or listed in OPERATOR_IDS);
* what the bot may do in the operators' chat (checked at start-up, logged clearly; no crash);
* opening a ticket (forum topic or a card in a plain group) and forwarding a complaint's attachments;
* the two-way relay (copyMessage, through the Sender) and re-sending edits;
* what citizens send to the desk (the card, relayed messages, notes, card refreshes) is queued in the
  desk's outbox and posted by its pump at the group's pace (handlers/operators/outbox.py): a citizen's
  update never waits on the operators' chat;
* the operator's pending input (a tiny form keyed per operator and chat, in the FSM storage);
* the SLA job (``desk_sla_tick``) and the statistics.

Texts for the operators' chat use ``settings.operators_language``; texts for a citizen outside their own update
use their current language. Every message that leaves the bot here goes through the Sender.
"""

from __future__ import annotations

import html
import logging
import time as _time
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable

from aiogram.fsm.storage.base import StorageKey
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
from aiogram.types import (
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
)

from bot.desk import (
    OPEN,
    TicketFacts,
    card_actions,
    compute_stats,
    render_card,
    render_stats,
    sla_kind,
    summary_counts,
)
from bot.deadlines import DeadlineError, Deadlines, filing_limit_from
from bot.i18n import translator
from bot.reminders import is_allowed
from bot.sender import SendResult
from storage.cases import Case
from storage.complaints import StoredComplaint
from storage.tickets import Ticket, TicketsRepo

from handlers.operators.callbacks import DeskCb, EndCb

log = logging.getLogger("shagym.desk")

MEMBER_TTL = 60.0
OPERATOR_STATUSES = ("creator", "administrator", "member")
CAPTION_TYPES = ("photo", "video", "document", "audio", "voice", "animation")
FORM_DESTINY = "desk_form"


def N_(s: str) -> str:
    return s


ACTION_LABELS = {
    "take": N_("🙋 Take"),
    "reg": N_("📌 Register"),
    "ext": N_("⏳ Extend"),
    "res": N_("✅ Resolve"),
    "rej": N_("⛔ Reject"),
}


def _e(value: Any) -> str:
    return html.escape(str(value), quote=False)


@dataclass
class ChatInfo:
    ok: bool = False
    forum: bool = False  # post each ticket in its own topic
    problems: list[str] = field(default_factory=list)


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


class Desk:
    def __init__(self, app: Any) -> None:
        deps = app.deps
        self.app = app
        self.settings = app.settings
        self.bot = app.bot
        self.i18n = app.i18n
        self.fsm = app.fsm
        self.db = app.db
        self.clock = deps["clock"]
        self.sender = deps["sender"]
        self.users = deps["users"]
        self.complaints = deps["complaints"]
        self.cases = deps["cases"]
        self.reminders = deps["reminders"]
        self.reminder_service = deps["reminder_service"]
        self.calendars = deps["calendars"]
        self.tickets = TicketsRepo(app.db)
        self._members: dict[int, tuple[float, bool]] = {}
        self._chat: ChatInfo | None = None
        from handlers.operators.outbox import DeskOutbox

        self.outbox = DeskOutbox(self)

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
        from babel.dates import format_date

        return format_date(day, format="long", locale=lang)

    async def citizen_lang(self, ticket: Ticket) -> str:
        user = await self.users.get(ticket.user_id)
        return (user.language if user and user.language else None) or ticket.language or self.settings.default_language

    async def citizen_gettext(self, ticket: Ticket) -> tuple[Callable[[str], str], str]:
        lang = await self.citizen_lang(ticket)
        return translator(self.i18n, lang), lang

    # ---- the operators' chat ------------------------------------------------------------------
    async def check_chat(self, *, force: bool = False) -> ChatInfo:
        """What the bot may do in the operators' chat; problems are logged clearly (never raised)."""
        if self._chat is not None and not force:
            return self._chat
        info = ChatInfo()
        if self.chat_id is None:
            info.problems.append("OPERATORS_CHAT_ID is not set: the desk is off")
            self._chat = info
            return info
        try:
            chat = await self.bot(GetChat(chat_id=self.chat_id))
        except Exception as exc:  # noqa: BLE001 - reported, never fatal
            info.problems.append(f"getChat failed ({type(exc).__name__}): is the bot in the operators' chat "
                                 f"{self.chat_id}, and is the id right (supergroups start with -100)?")
            self._chat = info
            return info
        try:
            me = await self.bot.me()
            member = await self.bot(GetChatMember(chat_id=self.chat_id, user_id=me.id))
        except Exception as exc:  # noqa: BLE001
            info.problems.append(f"getChatMember for the bot failed ({type(exc).__name__})")
            self._chat = info
            return info
        status = member.status
        can_post = False
        if status in ("creator", "administrator"):
            can_post = True
        elif status == "member":
            perms = getattr(chat, "permissions", None)
            can_post = perms is None or perms.can_send_messages is not False
        elif status == "restricted":
            can_post = bool(getattr(member, "can_send_messages", False))
        if not can_post:
            info.problems.append(f"the bot cannot post in the operators' chat (status: {status}); "
                                 "add it as a member with the right to send messages, or as an administrator")
        info.ok = can_post
        if getattr(chat, "is_forum", False):
            can_topics = status == "creator" or (status == "administrator"
                                                 and bool(getattr(member, "can_manage_topics", False)))
            if can_topics:
                info.forum = True
            else:
                info.problems.append("the operators' chat is a forum but the bot cannot manage topics: make it an "
                                     "administrator with 'Manage topics'; until then tickets are cards in General")
        self._chat = info
        return info

    async def is_operator(self, user_id: int) -> bool:
        if user_id in self.settings.operator_ids:
            return True
        if self.chat_id is None:
            return False
        now = _time.monotonic()
        hit = self._members.get(user_id)
        if hit is not None and now - hit[0] < MEMBER_TTL:
            return hit[1]
        try:
            member = await self.bot(GetChatMember(chat_id=self.chat_id, user_id=user_id))
            ok = member.status in OPERATOR_STATUSES
        except Exception as exc:  # noqa: BLE001 - unknown means "no"
            log.info("desk: getChatMember failed (%s)", type(exc).__name__)
            ok = False
        self._members[user_id] = (now, ok)
        return ok

    # ---- the operator's pending input ---------------------------------------------------------
    def _form_key(self, chat_id: int, user_id: int) -> StorageKey:
        return StorageKey(bot_id=self.bot.id, chat_id=chat_id, user_id=user_id, destiny=FORM_DESTINY)

    async def form_get(self, chat_id: int, user_id: int) -> dict[str, Any] | None:
        key = self._form_key(chat_id, user_id)
        if await self.fsm.get_state(key) is None:
            return None
        return await self.fsm.get_data(key)

    async def form_set(self, chat_id: int, user_id: int, action: str, ticket_id: int) -> None:
        key = self._form_key(chat_id, user_id)
        await self.fsm.set_state(key, f"desk:{action}")
        await self.fsm.set_data(key, {"action": action, "ticket_id": ticket_id})

    async def form_clear(self, chat_id: int, user_id: int) -> None:
        key = self._form_key(chat_id, user_id)
        await self.fsm.set_state(key, None)
        await self.fsm.set_data(key, {})

    # ---- posting into a ticket ----------------------------------------------------------------
    def _place(self, ticket: Ticket) -> dict[str, Any]:
        if ticket.thread_id:
            return {"message_thread_id": ticket.thread_id}
        if ticket.card_message_id:
            return {"reply_parameters": ReplyParameters(message_id=ticket.card_message_id,
                                                        allow_sending_without_reply=True)}
        return {}

    async def post(self, ticket: Ticket, method: TelegramMethod, *, direction: str = "note",
                   citizen_message_id: int | None = None) -> SendResult:
        """Send ``method`` (chat and placement already set) to the operators' chat and map the result."""
        result = await self.sender.send(method, chat_id=ticket.chat_id)
        if result.ok:
            mid = getattr(result.result, "message_id", None)
            await self.tickets.add_message(ticket.id, direction, citizen_chat_id=ticket.user_id,
                                           citizen_message_id=citizen_message_id, group_chat_id=ticket.chat_id,
                                           group_message_id=mid, at=self.now())
        else:
            log.warning("desk: posting to ticket %s failed: %s", ticket.id, result.error)
        return result

    async def note(self, ticket: Ticket, text: str, **kw: Any) -> SendResult:
        return await self.post(ticket, SendMessage(chat_id=ticket.chat_id, text=text, **self._place(ticket), **kw))

    async def prompt(self, ticket: Ticket, text: str) -> SendResult:
        """Ask the operator for input (ForceReply, and a Cancel button is on the card's reply)."""
        return await self.sender.send(
            SendMessage(chat_id=ticket.chat_id, text=text, **self._place(ticket),
                        reply_markup=ForceReply(input_field_placeholder=self.o("Your answer")[:64])),
            chat_id=ticket.chat_id)

    # ---- the card -----------------------------------------------------------------------------
    async def case_and_deadlines(self, ticket: Ticket) -> tuple[Case | None, Deadlines | None]:
        if ticket.case_id is None:
            return None, None
        case = await self.cases.get(ticket.case_id)
        if case is None:
            return None, None
        try:
            return case, self.reminder_service.deadlines_of(case, self.calendars.calendar)
        except DeadlineError:
            return case, None

    async def card_text(self, ticket: Ticket) -> str:
        stored: StoredComplaint | None = None
        if ticket.complaint_id is not None:
            stored = await self.complaints.get(ticket.complaint_id)
        user = await self.users.get(ticket.user_id)
        assignee = None
        if ticket.assignee_id is not None:
            a = await self.users.get(ticket.assignee_id)
            assignee = (a.first_name if a and a.first_name else None) or f"id {ticket.assignee_id}"
        case, deadlines = await self.case_and_deadlines(ticket)
        filing_limit = None
        if stored is not None and stored.complaint.learned_date:
            cal = self.calendars.calendar
            filing_limit = filing_limit_from(stored.complaint.learned_date, cal)
        return render_card(
            ticket, self.o,
            citizen_name=user.first_name if user else None,
            complaint_number=stored.number if stored else None,
            complaint=stored.complaint if stored else None,
            assignee_name=assignee, case=case, deadlines=deadlines, filing_limit=filing_limit,
            fmt_date=self.ops_date, ngettext=self.o_plural,
        )

    def card_keyboard(self, ticket: Ticket) -> InlineKeyboardMarkup | None:
        actions = card_actions(ticket.status, has_case=ticket.case_id is not None)  # "take": another may take over
        buttons = [InlineKeyboardButton(text=self.o(ACTION_LABELS[a]), callback_data=DeskCb(a=a, t=ticket.id).pack())
                   for a in actions]
        if not buttons:
            return None
        rows = [buttons[i:i + 3] for i in range(0, len(buttons), 3)]
        return InlineKeyboardMarkup(inline_keyboard=rows)

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
                       complaint_id: int | None) -> tuple[Ticket | None, bool, str | None]:
        """Open (or reuse) the citizen's ticket. Returns ``(ticket, created, error)``; error is a key:
        ``off`` (no desk), ``no_complaint`` (not theirs / unknown), ``unreachable`` (could not post)."""
        if self.chat_id is None:
            return None, False, "off"
        stored = None
        if source == "complaint":
            stored = await self.complaints.get(complaint_id or 0)
            if stored is None or stored.user_id != user_id:
                return None, False, "no_complaint"
        info = await self.check_chat()
        if not info.ok:
            info = await self.check_chat(force=True)  # the bot may have been fixed since start-up
            if not info.ok:
                return None, False, "unreachable"
        ticket, created = await self.tickets.open_or_create(
            user_id, language=lang, source=source, complaint_id=stored.id if stored else None,
            chat_id=self.chat_id, at=self.now(), queue_card=True)
        _ = self.o
        if created:  # its card is queued with it: the citizen is answered now, the card goes at the group's pace
            self.outbox.wake()
            return ticket, True, None
        # A second escalation reuses the open ticket.
        if stored is not None and ticket.complaint_id is None:
            ticket = await self.tickets.update(ticket.id, complaint_id=stored.id, source="complaint",
                                               at=self.now()) or ticket
            await self.queue_refresh(ticket)
            await self.queue_note(ticket, _("📝 The citizen attached complaint {number} to this ticket (see the "
                                            "card).").format(number=_e(stored.number)))
            await self.queue_attachments(ticket, stored)
        elif stored is not None and ticket.complaint_id != stored.id:
            await self.queue_note(ticket, _("📝 The citizen also sent complaint {number}; it is handled in this "
                                            "ticket.").format(number=_e(stored.number)))
            await self.queue_attachments(ticket, stored)
        else:
            await self.queue_note(ticket, _("👤 The citizen asked for a person again."))
        return ticket, False, None

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

    async def post_card(self, ticket: Ticket) -> SendResult | None:
        """The pump's part of opening a ticket: its forum topic (a forum), its card, then its complaint's
        attachments (queued). None when there is nothing to do (the card is there: a repeat after a crash)."""
        if ticket.card_message_id:
            return None
        info = await self.check_chat()
        thread_id = ticket.thread_id
        if info.forum and not thread_id:
            stored = await self.complaints.get(ticket.complaint_id) if ticket.complaint_id else None
            user = await self.users.get(ticket.user_id)
            name = f"№{ticket.id}"
            if stored is not None:
                name += f" · {stored.number}"
            if user and user.first_name:
                name += f" · {user.first_name}"
            res = await self.sender.send(CreateForumTopic(chat_id=self.chat_id, name=name[:128]), chat_id=self.chat_id)
            if res.ok:
                thread_id = res.result.message_thread_id
                ticket = await self.tickets.update(ticket.id, thread_id=thread_id, at=self.now()) or ticket
            elif res.retryable:
                return res
            else:
                log.warning("desk: createForumTopic failed (%s); the card goes to General", res.error)
        res = await self.sender.send(
            SendMessage(chat_id=ticket.chat_id, text=await self.card_text(ticket), message_thread_id=thread_id,
                        reply_markup=self.card_keyboard(ticket)),
            chat_id=ticket.chat_id)  # type: ignore[arg-type]
        if not res.ok:
            return res
        ticket = await self.tickets.update(ticket.id, card_message_id=res.result.message_id, at=self.now()) or ticket
        await self.tickets.add_message(ticket.id, "card", citizen_chat_id=ticket.user_id, citizen_message_id=None,
                                       group_chat_id=ticket.chat_id, group_message_id=res.result.message_id,  # type: ignore[arg-type]
                                       at=self.now())
        stored = await self.complaints.get(ticket.complaint_id) if ticket.complaint_id else None
        if stored is not None:
            await self.queue_attachments(ticket, stored)
        return res

    async def post_file(self, ticket: Ticket, payload: dict[str, Any]) -> SendResult:
        caption = _e(payload.get("name") or "")
        if payload.get("kind") == "photo":
            method: TelegramMethod = SendPhoto(chat_id=ticket.chat_id, photo=payload["file_id"], caption=caption,
                                               **self._place(ticket))
        else:
            method = SendDocument(chat_id=ticket.chat_id, document=payload["file_id"], caption=caption,
                                  **self._place(ticket))
        return await self.post(ticket, method)

    # ---- relay --------------------------------------------------------------------------------
    async def _copy(self, *, to_chat: int, source: CopySource, header: str | None,
                    place: dict[str, Any]) -> SendResult:
        """copyMessage of ``source`` to ``to_chat``, marked with ``header``: in the caption when the kind has
        one, else as a message right before the copy. The caption is the header and the message's own caption
        in full: the one limits check (bot.sender.TelegramLimits) cuts the visible text, never a tag."""
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
        _ = self.o
        place = self._place(ticket)
        header = None
        if edited:
            header = "✏️ " + _("The citizen edited a message:")
            earlier = await self.tickets.find_in(source.chat_id, source.message_id)
            if earlier is None or not earlier.group_message_id:
                return None
            reply = {"reply_parameters": ReplyParameters(message_id=earlier.group_message_id,
                                                         allow_sending_without_reply=True)}
            place = {**place, **reply} if ticket.thread_id else reply
        result = await self._copy(to_chat=ticket.chat_id, source=source, header=header, place=place)  # type: ignore[arg-type]
        if result.ok and not edited:
            await self.tickets.add_message(ticket.id, "in", citizen_chat_id=source.chat_id,
                                           citizen_message_id=source.message_id, group_chat_id=ticket.chat_id,  # type: ignore[arg-type]
                                           group_message_id=result.result.message_id, at=self.now())
        return result

    async def relay_out(self, ticket: Ticket, message: Message, *, edited: bool = False) -> bool:
        """An operator's message (or its edit) to the citizen, as a copy marked "from the desk"."""
        _, lang = await self.citizen_gettext(ticket)
        if edited:
            header = "✏️ " + _("Correction from the desk (ticket №{id}):").format(id=ticket.id)
        else:
            header = "💬 " + _("Message from the desk (ticket №{id}):").format(id=ticket.id)
        place: dict[str, Any] = {}
        if edited:
            earlier = await self.tickets.find_out(message.chat.id, message.message_id)
            if earlier is not None and earlier.citizen_message_id:
                place = {"reply_parameters": ReplyParameters(message_id=earlier.citizen_message_id,
                                                             allow_sending_without_reply=True)}
        result = await self._copy(to_chat=ticket.user_id, source=CopySource.of(message), header=header, place=place)
        if result.ok and not edited:
            await self.tickets.add_message(ticket.id, "out", citizen_chat_id=ticket.user_id,
                                           citizen_message_id=result.result.message_id, group_chat_id=message.chat.id,
                                           group_message_id=message.message_id, at=self.now())
        return result.ok

    async def tell_citizen(self, ticket: Ticket, text: str, **kw: Any) -> SendResult:
        return await self.sender.send_message(ticket.user_id, text, **kw)

    def end_keyboard(self, ticket: Ticket, gettext: Callable[[str], str]) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
            text=gettext("🔚 End the conversation"), callback_data=EndCb(t=ticket.id).pack())]])

    async def end_relay(self, ticket: Ticket, actor_id: int) -> Ticket | None:
        ticket2 = await self.tickets.transition(ticket.id, actor_id=actor_id, action="relay_ended", allowed=OPEN,
                                                at=self.now(), relay=False)
        if ticket2 is not None:
            _ = self.o
            await self.queue_note(ticket2, "🔚 " + _("The citizen ended the conversation; their messages no longer "
                                                     "come here. Your replies still reach them while the ticket is "
                                                     "open."))
        return ticket2

    # ---- deadlines re-planning ----------------------------------------------------------------
    async def replan_open_cases(self) -> int:
        n = 0
        for case_id in await self.tickets.open_case_ids():
            try:
                await self.reminder_service.schedule_case(case_id)
                n += 1
            except Exception as exc:  # noqa: BLE001 - one bad case must not stop the others
                log.warning("desk: re-planning case %s failed: %s", case_id, type(exc).__name__)
        return n

    # ---- statistics ---------------------------------------------------------------------------
    async def facts(self) -> list[TicketFacts]:
        out = []
        for t in await self.tickets.list():
            review_due = None
            if t.case_id is not None:
                _case, dl = await self.case_and_deadlines(t)
                review_due = dl.review_due if dl else None
            out.append(TicketFacts(
                status=t.status, opened_on=self.local_day(t.created_at),
                closed_on=self.local_day(t.resolved_at) if t.resolved_at else None,
                review_due=review_due, rating=t.rating, disagreed=t.disagreed))
        return out

    async def stats_text(self) -> str:
        stats = compute_stats(await self.facts(), self.today(), self.calendars.calendar)
        return render_stats(stats, self.o, self.o_plural)

    # ---- SLA ----------------------------------------------------------------------------------
    async def sla_tick(self) -> int:
        """Queue the operators' notices that are due now (each once: dedupe keys) and deliver them through
        the reminder service. Notices are queued during the allowed hours only. Returns rows queued."""
        if self.chat_id is None:
            return 0
        now = self.now()
        local = now.astimezone(self.settings.tz)
        if not is_allowed(now, self.settings.tz, self.settings.quiet_hours_start, self.settings.quiet_hours_end):
            return 0
        today = local.date()
        cal = self.calendars.calendar
        _ = self.o
        queued = 0
        texts = {
            "due_tomorrow": _("⏰ Ticket №{id}: the review of complaint {ref} is due on {date}, the next working day."),
            "due_today": _("⏰ Ticket №{id}: the review of complaint {ref} is due today, {date}."),
            "overdue": _("🔴 Ticket №{id}: the review of complaint {ref} was due on {date} and is overdue."),
        }
        for t in await self.tickets.list(statuses=OPEN):
            if t.case_id is None:
                continue
            case, dl = await self.case_and_deadlines(t)
            if case is None or dl is None or case.status != "open":
                continue
            kind = sla_kind(today, dl.review_due, cal)
            if kind is None:
                continue
            ref = _e(case.reg_number or f"№{t.id}")
            text = texts[kind].format(id=t.id, ref=ref, date=self.ops_date(dl.review_due))
            rid = await self.reminders.add(
                chat_id=self.chat_id, kind=f"desk_{kind}", due_at=now, audience="operators",
                payload={"text": text, "ticket_id": t.id, "thread_id": t.thread_id,
                         "reply_to": None if t.thread_id else t.card_message_id},
                dedupe_key=f"desk:{kind}:{t.id}:{dl.review_due.isoformat()}", at=now)
            queued += rid is not None
        facts = await self.facts()
        open_n, overdue_n, new_n = summary_counts(facts, today)
        summary = "📋 " + _("Desk summary for {date}: open tickets {open}, overdue {overdue}, not taken yet {new}.") \
            .format(date=self.ops_date(today), open=open_n, overdue=overdue_n, new=new_n)
        rid = await self.reminders.add(chat_id=self.chat_id, kind="desk_summary", due_at=now, audience="operators",
                                       payload={"text": summary}, dedupe_key=f"desk:summary:{today.isoformat()}",
                                       at=now)
        queued += rid is not None
        if cal.verification_reminder_due(today):
            text = "⚠️ " + _("The working-day calendar for {year} is not verified yet. When the order on transfers "
                             "of days off and the Kurban Ait date are published, record them with /calendar add.") \
                .format(year=today.year + 1)
            rid = await self.reminders.add(chat_id=self.chat_id, kind="desk_calendar", due_at=now,
                                           audience="operators", payload={"text": text},
                                           dedupe_key=f"desk:calendar:{today.isoformat()}", at=now)
            queued += rid is not None
        if queued:
            await self.reminder_service.tick()
        return queued


def desk_of(app: Any) -> Desk:
    desk = app.deps.get("desk")
    if desk is None:
        desk = app.deps["desk"] = Desk(app)
    return desk
