"""Contract: personal data (read back, erased, expired) and the conversations of a person behave alike on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from aiogram.fsm.storage.base import StorageKey

from bot.domain.complaint import Complaint
from bot.domain.privacy import Erasure, Expired
from bot.domain.reminders import PlannedReminder

UTC = timezone.utc
T0 = datetime(2026, 3, 20, 6, 0, tzinfo=UTC)
DESK = -100


async def person_with_everything(stores, uid: int, clock):
    await stores.users.seen(uid, "Айгүл", "kk")
    complaint = await stores.complaints.create(uid, Complaint.from_dict({"surname": "Әлиханқызы"}), "kk", clock.now())
    case = await stores.cases.create(uid, "provider", T0.date(), complaint_id=complaint.id, plan=lambda c: [
        PlannedReminder("soon", T0 + timedelta(days=5)), PlannedReminder("today", T0 + timedelta(days=8))])
    await stores.reminders.add(chat_id=uid, user_id=uid, audience="citizen", kind="note", due_at=T0,
                               payload={"text": "hi"})
    ticket, _ = await stores.tickets.open_or_create(uid, language="kk", source="complaint",
                                                    complaint_id=complaint.id, chat_id=DESK, queue_card=True)
    await stores.tickets.update(ticket.id, thread_id=70, card_message_id=500, case_id=case.id)
    for direction, citizen_msg, group_msg in (("card", None, 500), ("in", 5, 501), ("out", 6, 502)):
        await stores.tickets.add_message(ticket.id, direction, citizen_chat_id=uid, citizen_message_id=citizen_msg,
                                         group_chat_id=DESK, group_message_id=group_msg)
    await stores.tickets.transition(ticket.id, actor_id=uid, action="rated", allowed=("new",),
                                    detail={"text": "Әлиханқызы wrote this"})
    await stores.outbox.queue(ticket.id, "note", {"text": "Әлиханқызы"})
    await stores.reminders.add(chat_id=DESK, kind="sla", due_at=T0, payload={"ticket_id": ticket.id, "text": "N-1"},
                               dedupe_key=f"sla:{ticket.id}")
    await stores.fsm.set_state(StorageKey(bot_id=42, chat_id=uid, user_id=uid), "Wizard:name")
    await stores.fsm.set_data(StorageKey(bot_id=42, chat_id=uid, user_id=uid), {"surname": "Әлиханқызы"})
    return complaint, case, ticket


async def test_a_persons_data_read_back_and_erased(stores, clock):
    complaint, case, ticket = await person_with_everything(stores, 1, clock)
    await person_with_everything(stores, 2, clock)  # someone else: untouched
    data = await stores.privacy.personal_data(1)
    assert data.user.id == 1 and data.user.created_at == clock.now()
    assert [c.id for c in data.complaints] == [complaint.id]
    assert [(r.case.id, len(r.events), [x.kind for x in r.reminders]) for r in data.cases] == [
        (case.id, 1, ["soon", "today"])]
    assert [r.payload for r in data.reminders] == [{"text": "hi"}]
    [record] = data.tickets
    assert record.ticket.id == ticket.id and [m.direction for m in record.messages] == ["card", "in", "out"]
    assert [a.action for a in record.audit] == ["opened", "rated"]
    [(state, conv, at)] = await stores.fsm.conversations(1)
    assert (state, conv, at) == ("Wizard:name", {"surname": "Әлиханқызы"}, clock.now())

    done = await stores.privacy.erase_person(1)
    assert done == Erasure(users=1, complaints=1, cases=1, reminders=3, tickets=1, messages=2, cleanup=3)
    assert await stores.fsm.forget(1) == 1 and await stores.fsm.conversations(1) == []
    after = await stores.privacy.personal_data(1)
    assert (after.user, after.complaints, after.cases, after.reminders, after.tickets) == (None, [], [], [], [])
    kept = await stores.tickets.get(ticket.id)
    assert (kept.user_id, kept.status, kept.erased_reason, kept.case_id, kept.complaint_id, kept.relay) == (
        None, "withdrawn", "withdrawn", None, None, False)
    assert kept.erased_at == clock.now() and kept.resolved_at == clock.now()
    [card] = await stores.tickets.messages(ticket.id)
    assert (card.direction, card.citizen_chat_id, card.citizen_message_id) == ("card", 0, None)
    audit = await stores.tickets.audit_for(ticket.id)
    assert [(a.action, a.actor_id) for a in audit][-1] == ("erased", None)
    assert "Әлиханқызы" not in str([a.detail for a in audit])
    assert [a.action for a in await stores.tickets.audit_for(None)] == ["person_erased"]
    assert [(r.kind, r.payload) for r in await stores.outbox.pending() if r.ticket_id == ticket.id] == [
        ("card", {}), ("refresh", {})]  # the note went; the card is refreshed to say the data was erased
    tasks = await stores.privacy.cleanup_tasks()
    assert [(t.kind, t.chat_id, t.message_id, t.thread_id, t.ticket_id) for t in tasks] == [
        ("delete", DESK, 501, None, None), ("delete", DESK, 502, None, None), ("rename", DESK, None, 70, ticket.id)]
    await stores.privacy.cleanup_retry(tasks[0].id)
    await stores.privacy.cleanup_done(tasks[1].id)
    assert [(t.id, t.attempts) for t in await stores.privacy.cleanup_tasks()] == [
        (tasks[0].id, 1), (tasks[2].id, 0)]
    assert await stores.privacy.erase_person(1) == Erasure()  # nothing left
    other = await stores.privacy.personal_data(2)
    assert other.user is not None and len(other.complaints) == 1 and len(other.tickets) == 1


async def test_the_retention_period_erases_what_ended_before_it(stores, clock):
    old_complaint, old_case, old_ticket = await person_with_everything(stores, 1, clock)
    await stores.cases.set_status(old_case.id, "closed", at=clock.now())
    await stores.tickets.transition(old_ticket.id, actor_id=9, action="resolve", allowed=("new",), status="resolved",
                                    resolved_at=clock.now(), result="ok")
    clock.advance(days=400)
    fresh_complaint, fresh_case, _ = await person_with_everything(stores, 2, clock)
    expired = await stores.privacy.expired(clock.now() - timedelta(days=365))
    assert expired == Expired([old_case.id], [old_ticket.id], [])
    done = await stores.privacy.erase_expired(expired)
    assert (done.cases, done.tickets, done.complaints, done.reminders) == (1, 1, 1, 2)
    assert await stores.complaints.get(old_complaint.id) is None
    kept = await stores.tickets.get(old_ticket.id)
    assert (kept.status, kept.erased_reason, kept.user_id) == ("resolved", "retention", None)
    assert [t.kind for t in await stores.privacy.cleanup_tasks()] == ["rename"]  # nothing deleted after 48 h
    assert await stores.privacy.expired(clock.now() - timedelta(days=365)) == Expired([], [], [])
    assert await stores.cases.get(fresh_case.id) is not None
    assert await stores.complaints.get(fresh_complaint.id) is not None
