"""What the bot keeps: plain, frozen values the repositories return (storage/) and the rest of the code reads.

Every status and kind is defined here once. Times are aware UTC datetimes; days are local (Asia/Almaty) dates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from bot.domain.complaint import Complaint
from bot.domain.workdays import Override

__all__ = [
    "AUDIENCES",
    "CASE_STATUSES",
    "CLOSED_TICKET_STATUSES",
    "ERASED_REASONS",
    "OPEN_TICKET_STATUSES",
    "OUTBOX_KINDS",
    "REMINDER_STATUSES",
    "TICKET_SOURCES",
    "TICKET_STATUSES",
    "AuditEntry",
    "Case",
    "CaseEvent",
    "CaseStatus",
    "ComplaintHead",
    "OutboxRow",
    "Reminder",
    "StoredComplaint",
    "StoredOverride",
    "Ticket",
    "TicketMessage",
    "TicketStatus",
    "User",
]


# ----------------------------------------------------------------------------------- statuses and kinds

class CaseStatus(StrEnum):
    """A tracked complaint: waiting for the answer, answered (the day is recorded), or closed by the person."""

    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"


class TicketStatus(StrEnum):
    """An operators' desk ticket (the desk's rules: bot.domain.desk)."""

    NEW = "new"
    TAKEN = "taken"
    REGISTERED = "registered"
    EXTENDED = "extended"
    RESOLVED = "resolved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"  # the person withdrew consent (/forget) while it was open


CASE_STATUSES: tuple[str, ...] = tuple(CaseStatus)
TICKET_STATUSES: tuple[str, ...] = tuple(TicketStatus)
OPEN_TICKET_STATUSES: tuple[str, ...] = (
    TicketStatus.NEW, TicketStatus.TAKEN, TicketStatus.REGISTERED, TicketStatus.EXTENDED)
CLOSED_TICKET_STATUSES: tuple[str, ...] = (TicketStatus.RESOLVED, TicketStatus.REJECTED, TicketStatus.WITHDRAWN)
#: Why a ticket's personal content was erased: the person withdrew consent, or the retention period ended.
ERASED_REASONS: tuple[str, ...] = ("withdrawn", "retention")
#: Where a ticket came from: the wizard's "send it to the desk", an unanswered FAQ question, the menu button.
TICKET_SOURCES: tuple[str, ...] = ("complaint", "faq", "menu")
#: A reminder row's life: pending -> sending -> sent | failed; pending/sending -> cancelled (storage/cases.py).
REMINDER_STATUSES: tuple[str, ...] = ("pending", "sending", "sent", "failed", "cancelled")
AUDIENCES: tuple[str, ...] = ("citizen", "operators")
#: What the desk's outbox posts to the operators' chat (bot/services/desk_outbox.py).
OUTBOX_KINDS: tuple[str, ...] = ("card", "file", "note", "relay", "refresh")


# ----------------------------------------------------------------------------------- people and complaints

@dataclass(frozen=True)
class User:
    id: int
    language: str | None
    language_source: str | None
    first_name: str | None
    reminders_enabled: bool
    unreachable_at: str | None
    created_at: datetime | None = None  # first contact (aware UTC)

    @property
    def reachable(self) -> bool:
        return self.unreachable_at is None


@dataclass(frozen=True)
class StoredComplaint:
    """A complaint the wizard produced on "Confirm", with its id and human number."""

    id: int
    number: str
    user_id: int
    language: str
    complaint: Complaint
    created_at: datetime  # aware UTC
    status: str = "created"


@dataclass(frozen=True, slots=True)
class ComplaintHead:
    """What a list of saved complaints shows (/my): a stored complaint without its packed document."""

    id: int
    number: str
    created_at: datetime  # aware UTC


@dataclass(frozen=True)
class StoredOverride:
    """A working-day fact an operator recorded (/calendar add)."""

    id: int
    override: Override
    added_by: int | None
    added_at: str


# ----------------------------------------------------------------------------------- tracking

@dataclass(frozen=True, slots=True)
class Case:
    """A filed complaint the bot tracks: its registration facts and what happened since."""

    id: int
    user_id: int
    complaint_id: int | None
    ticket_id: int | None
    recipient_kind: str
    filed_with: str | None
    reg_number: str | None
    registered_on: date
    forwarded_via_provider: bool
    extended_by: int
    extended_on: date | None
    extension_told_on: date | None
    learned_on: date | None
    status: str
    created_at: datetime
    updated_at: datetime
    answered_on: date | None = None  # the day the person received the answer (status 'answered')


@dataclass(frozen=True, slots=True)
class CaseEvent:
    id: int
    case_id: int
    kind: str
    payload: dict[str, Any]
    at: datetime


@dataclass(frozen=True, slots=True)
class Reminder:
    """One message to send at ``due_at`` (a case's planned reminder, or an operators' one-off notice)."""

    id: int
    case_id: int | None
    chat_id: int
    user_id: int | None
    audience: str
    kind: str
    due_at: datetime
    status: str
    attempts: int
    claimed_at: datetime | None
    sent_at: datetime | None
    last_error: str | None
    payload: dict[str, Any] = field(default_factory=dict)
    dedupe_key: str | None = None


# ----------------------------------------------------------------------------------- the operators' desk

@dataclass(frozen=True, slots=True)
class Ticket:
    id: int
    user_id: int | None  # None once the person's data is erased (erased_at)
    complaint_id: int | None
    case_id: int | None
    language: str
    source: str
    status: str
    assignee_id: int | None
    chat_id: int | None
    thread_id: int | None
    card_message_id: int | None
    relay: bool
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    result: str | None
    rating: int | None
    disagreed: bool
    erased_at: datetime | None = None  # its personal content was erased (erased_reason says why)
    erased_reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_TICKET_STATUSES


@dataclass(frozen=True, slots=True)
class TicketMessage:
    """Where a relayed message lives on each side (for replies and edits)."""

    id: int
    ticket_id: int
    direction: str
    citizen_chat_id: int
    citizen_message_id: int | None
    group_chat_id: int
    group_message_id: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    ticket_id: int | None
    actor_id: int | None
    action: str
    detail: dict[str, Any]
    at: datetime


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A post queued for the operators' chat."""

    id: int
    ticket_id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
