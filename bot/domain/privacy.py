"""Personal data rights (Law of the Republic of Kazakhstan No. 94-V on personal data; docs/privacy.md). PURE.

* :class:`PersonalData`: everything the bot keeps about one person, as storage returns it (the repositories'
  entities, and the conversations of the FSM storage);
* :func:`export`: that, as a JSON-ready dict (the file /mydata sends); :func:`summary`: the same as a short
  text in the person's language;
* :class:`Erasure`: what an erasure removed (/forget, or the retention pass);
* :func:`safe_audit_detail`: what of an audit entry's detail survives an erasure (who did what, without
  personal data);
* :func:`retention_cutoff`: the moment before which closed things are erased.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.domain.entities import AuditEntry, Case, CaseEvent, Reminder, StoredComplaint, Ticket, TicketMessage, User
from bot.domain.text import Gettext, NGettext, escape

__all__ = [
    "AUDIT_KEYS_KEPT",
    "CaseRecord",
    "CleanupTask",
    "Conversation",
    "Erasure",
    "Expired",
    "PersonalData",
    "TicketRecord",
    "export",
    "retention_cutoff",
    "safe_audit_detail",
    "summary",
]

#: The keys of an audit entry's detail that say what was done without saying anything about the person
#: (ticket sources, days of an extension, the body that reviews, a rating, the operator a ticket came from).
#: Everything else (registration numbers, reasons, results, message and complaint ids) goes with an erasure.
AUDIT_KEYS_KEPT = frozenset({"source", "days", "recipient", "rating", "from", "reason_kind", "by"})


@dataclass(frozen=True, slots=True)
class Conversation:
    """One conversation the FSM storage keeps (a complaint draft, a tracking form): its state and data."""

    state: str | None
    data: dict[str, Any]
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class CaseRecord:
    case: Case
    events: list[CaseEvent]
    reminders: list[Reminder]


@dataclass(frozen=True, slots=True)
class TicketRecord:
    ticket: Ticket
    messages: list[TicketMessage]  # where each relayed message lives (the bot keeps ids, never the text)
    audit: list[AuditEntry]


@dataclass(frozen=True)
class PersonalData:
    user: User | None
    complaints: list[StoredComplaint] = field(default_factory=list)
    cases: list[CaseRecord] = field(default_factory=list)
    reminders: list[Reminder] = field(default_factory=list)  # reminders not bound to a case
    tickets: list[TicketRecord] = field(default_factory=list)
    conversations: list[Conversation] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.user is None and not (self.complaints or self.cases or self.reminders or self.tickets
                                          or self.conversations)

    @property
    def planned_reminders(self) -> int:
        return sum(1 for c in self.cases for r in c.reminders if r.status == "pending") + sum(
            1 for r in self.reminders if r.status == "pending")


@dataclass(frozen=True, slots=True)
class CleanupTask:
    """Left by an erasure for the operators' chat: delete a message, or rename a ticket's forum topic."""

    id: int
    kind: str  # 'delete' or 'rename'
    chat_id: int
    message_id: int | None
    thread_id: int | None
    ticket_id: int | None
    attempts: int


@dataclass(frozen=True)
class Erasure:
    """What one erasure removed (rows) and left to do in the operators' chat."""

    users: int = 0
    conversations: int = 0
    complaints: int = 0
    cases: int = 0
    reminders: int = 0
    tickets: int = 0  # tickets whose personal content was erased (the rows stay, anonymous)
    messages: int = 0  # relayed messages forgotten
    cleanup: int = 0  # messages to delete and topics to rename in the operators' chat

    def __add__(self, other: "Erasure") -> "Erasure":
        return Erasure(**{name: getattr(self, name) + getattr(other, name) for name in self.__dataclass_fields__})

    @property
    def total(self) -> int:
        return self.users + self.conversations + self.complaints + self.cases + self.reminders + self.tickets


@dataclass(frozen=True)
class Expired:
    """What the retention pass erases next (ids, at most a batch of each)."""

    case_ids: list[int] = field(default_factory=list)
    ticket_ids: list[int] = field(default_factory=list)
    complaint_ids: list[int] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.case_ids or self.ticket_ids or self.complaint_ids)


def retention_cutoff(now: datetime, days: int) -> datetime:
    """Closed cases, answered tickets and complaints that ended before this moment are erased."""
    return now - timedelta(days=days)


def safe_audit_detail(detail: dict[str, Any], *, by_person: bool) -> dict[str, Any]:
    """An audit entry's detail after an erasure: the kept keys only, and who acted (the person, anonymous)."""
    kept = {k: v for k, v in detail.items() if k in AUDIT_KEYS_KEPT and k != "by"}
    if by_person:
        kept["by"] = "citizen"
    return kept


# ----------------------------------------------------------------------------------- the export file

def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _reminder(r: Reminder) -> dict[str, Any]:
    return {"id": r.id, "case_id": r.case_id, "kind": r.kind, "due_at": _iso(r.due_at), "status": r.status,
            "sent_at": _iso(r.sent_at), "attempts": r.attempts}


def _case(c: CaseRecord) -> dict[str, Any]:
    k = c.case
    return {
        "id": k.id, "complaint_id": k.complaint_id, "ticket_id": k.ticket_id, "recipient_kind": k.recipient_kind,
        "filed_with": k.filed_with, "reg_number": k.reg_number, "registered_on": _iso(k.registered_on),
        "forwarded_via_provider": k.forwarded_via_provider, "extended_by": k.extended_by,
        "extended_on": _iso(k.extended_on), "extension_told_on": _iso(k.extension_told_on),
        "learned_on": _iso(k.learned_on), "answered_on": _iso(k.answered_on), "status": k.status,
        "created_at": _iso(k.created_at), "updated_at": _iso(k.updated_at),
        "events": [{"kind": e.kind, "payload": e.payload, "at": _iso(e.at)} for e in c.events],
        "reminders": [_reminder(r) for r in c.reminders],
    }


def _ticket(t: TicketRecord) -> dict[str, Any]:
    k = t.ticket
    return {
        "id": k.id, "complaint_id": k.complaint_id, "case_id": k.case_id, "language": k.language,
        "source": k.source, "status": k.status, "created_at": _iso(k.created_at), "updated_at": _iso(k.updated_at),
        "resolved_at": _iso(k.resolved_at), "result": k.result, "rating": k.rating, "disagreed": k.disagreed,
        "relay_on": k.relay,
        "messages": [{"direction": m.direction, "your_message_id": m.citizen_message_id, "at": _iso(m.at)}
                     for m in t.messages if m.direction in ("in", "out")],
        "history": [{"action": a.action, "by": "you" if a.actor_id == k.user_id else "operator",
                     "detail": a.detail, "at": _iso(a.at)} for a in t.audit],
    }


def export(data: PersonalData, *, generated_at: datetime, retention_days: int, draft_ttl_days: int) -> dict[str, Any]:
    """Everything the bot keeps about the person, JSON-ready (the /mydata file)."""
    user = data.user
    profile = None if user is None else {
        "telegram_id": user.id, "language": user.language, "language_source": user.language_source,
        "first_name": user.first_name, "reminders_enabled": user.reminders_enabled,
        "unreachable_since": user.unreachable_at, "first_contact": _iso(user.created_at),
    }
    return {
        "generated_at": _iso(generated_at),
        "keeping": {"unfinished_drafts_days_without_activity": draft_ttl_days,
                    "closed_cases_answered_tickets_and_complaints_days": retention_days},
        "profile": profile,
        "conversations": [{"state": c.state, "data": c.data, "updated_at": _iso(c.updated_at)}
                          for c in data.conversations],
        "complaints": [{"id": s.id, "number": s.number, "language": s.language, "status": s.status,
                        "created_at": _iso(s.created_at), "fields": s.complaint.to_dict()} for s in data.complaints],
        "cases": [_case(c) for c in data.cases],
        "reminders": [_reminder(r) for r in data.reminders],
        "tickets": [_ticket(t) for t in data.tickets],
    }


# ----------------------------------------------------------------------------------- the summary

def summary(data: PersonalData, gettext: Gettext, ngettext: NGettext, *, language_name: str,
            date_of: Any, retention_days: int, draft_ttl_days: int) -> str:
    """The /mydata text (Telegram HTML): what is kept, how long, and how to erase it. ``date_of`` formats a
    datetime as a local date in the person's language."""
    _ = gettext
    lines = ["📂 <b>" + _("What the bot keeps about you") + "</b>", ""]
    user = data.user
    if user is not None:
        lines.append("• " + _("Profile: language {language}, name from Telegram: {name}.").format(
            language=escape(language_name), name=escape(user.first_name or "—")))
        lines.append("• " + (_("Reminders: on.") if user.reminders_enabled else _("Reminders: off.")))
        if user.created_at is not None:
            lines.append("• " + _("First contact: {date}").format(date=date_of(user.created_at)))
    drafts = [c for c in data.conversations if c.state]
    lines.append("• " + ngettext("Unfinished conversations (drafts, forms): {n}.",
                                 "Unfinished conversations (drafts, forms): {n}.", len(drafts)).format(n=len(drafts)))
    numbers = ", ".join(escape(s.number) for s in data.complaints[:10]) + ("…" if len(data.complaints) > 10 else "")
    lines.append("• " + ngettext("Complaints: {n}.", "Complaints: {n}.", len(data.complaints)).format(
        n=len(data.complaints)) + (f" {numbers}" if numbers else ""))
    lines.append("• " + ngettext("Tracked complaints: {n}.", "Tracked complaints: {n}.", len(data.cases)).format(
        n=len(data.cases)) + " " + ngettext("Reminders planned: {n}.", "Reminders planned: {n}.",
                                            data.planned_reminders).format(n=data.planned_reminders))
    relayed = sum(1 for t in data.tickets for m in t.messages if m.direction in ("in", "out"))
    lines.append("• " + ngettext("Requests to the operators' desk: {n}.", "Requests to the operators' desk: {n}.",
                                 len(data.tickets)).format(n=len(data.tickets)) + " " + ngettext(
        "Messages passed: {n} (the bot keeps only their numbers, not the text).",
        "Messages passed: {n} (the bot keeps only their numbers, not the text).", relayed).format(n=relayed))
    lines += ["", _("Every item is in the attached file."), ""]
    lines.append(ngettext(
        "How long: an unfinished draft is deleted after {days} day without activity.",
        "How long: an unfinished draft is deleted after {days} days without activity.",
        draft_ttl_days).format(days=draft_ttl_days) + " " + ngettext(
        "A closed case, an answered request and a complaint are deleted {days} day after they ended.",
        "A closed case, an answered request and a complaint are deleted {days} days after they ended.",
        retention_days).format(days=retention_days))
    lines.append(_("To withdraw your consent and erase all of it now: /forget."))
    return "\n".join(lines)
