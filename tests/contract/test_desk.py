"""Contract: the desk's tickets, message map, audit log and outbox behave alike on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

UTC = timezone.utc
T0 = datetime(2026, 3, 20, 6, 0, tzinfo=UTC)
LEASE = timedelta(seconds=90)


async def open_ticket(stores, uid: int = 11, **kw):
    await stores.users.seen(uid, "A", "ru")
    return await stores.tickets.open_or_create(uid, language="ru", source=kw.pop("source", "faq"),
                                               complaint_id=kw.pop("complaint_id", None), chat_id=-100, **kw)


async def test_one_open_ticket_per_citizen(stores, clock):
    ticket, created = await open_ticket(stores, queue_card=True, complaint_id=3, source="complaint")
    assert created and (ticket.user_id, ticket.status, ticket.relay, ticket.language, ticket.chat_id,
                        ticket.complaint_id, ticket.source, ticket.created_at) == (
        11, "new", True, "ru", -100, 3, "complaint", clock.now())
    assert [(r.kind, r.payload) for r in await stores.outbox.pending()] == [("card", {})]
    await stores.tickets.update(ticket.id, relay=False)
    again, created = await open_ticket(stores)
    assert not created and again.id == ticket.id and again.relay is True
    assert len(await stores.outbox.pending()) == 1  # a reused ticket queues no second card
    assert (await stores.tickets.open_for_user(11)).id == ticket.id
    audit = await stores.tickets.audit_for(ticket.id)
    assert [(e.action, e.actor_id, e.detail) for e in audit] == [
        ("opened", 11, {"source": "complaint", "complaint_id": 3}), ("reused", 11, {"source": "faq", "complaint_id": None})]
    with pytest.raises(ValueError):
        await open_ticket(stores, source="mail")


async def test_two_instances_opening_one_citizens_ticket_get_the_same(stores, other):
    await stores.users.seen(12, "A", "ru")
    results = await asyncio.gather(*(s.tickets.open_or_create(12, language="ru", source="menu", complaint_id=None,
                                                               chat_id=-100) for s in (stores, other, stores, other)))
    assert len({t.id for t, _ in results}) == 1 and sum(created for _, created in results) == 1


async def test_fields_transitions_and_lookups(stores, clock):
    ticket, _ = await open_ticket(stores)
    placed = await stores.tickets.update(ticket.id, thread_id=77, card_message_id=500)
    assert (placed.thread_id, placed.card_message_id) == (77, 500)
    with pytest.raises(ValueError):
        await stores.tickets.update(ticket.id, user_id=1)
    assert (await stores.tickets.by_thread(-100, 77)).id == ticket.id and await stores.tickets.by_thread(-100, 78) is None
    taken = await stores.tickets.transition(ticket.id, actor_id=900, action="take", allowed=("new",),
                                            detail={"why": "mine"}, status="taken", assignee_id=900)
    assert (taken.status, taken.assignee_id) == ("taken", 900)
    assert await stores.tickets.transition(ticket.id, actor_id=901, action="take", allowed=("new",),
                                           status="taken", assignee_id=901) is None
    assert await stores.tickets.transition(10_000, actor_id=1, action="x", allowed=("new",)) is None
    done = await stores.tickets.transition(ticket.id, actor_id=900, action="resolve", allowed=("taken",),
                                           status="resolved", resolved_at=clock.now(), result="ok", relay=False)
    assert (done.status, done.resolved_at, done.result, done.relay) == ("resolved", clock.now(), "ok", False)
    rated = await stores.tickets.update(ticket.id, rating=4, disagreed=True)
    assert (rated.rating, rated.disagreed) == (4, True)
    assert await stores.tickets.open_for_user(11) is None
    assert [t.id for t in await stores.tickets.list_tickets(statuses=["resolved"])] == [ticket.id]
    assert await stores.tickets.list_tickets(statuses=["new", "taken"]) == []
    assert [e.action for e in await stores.tickets.audit_for(ticket.id)] == ["opened", "take", "resolve"]
    await stores.tickets.audit(None, 900, "calendar_add", {"day": "2026-06-01"})
    [desk_wide] = await stores.tickets.audit_for(None)
    assert (desk_wide.ticket_id, desk_wide.action, desk_wide.detail) == (None, "calendar_add", {"day": "2026-06-01"})


async def test_concurrent_operators_only_one_wins(stores, other):
    ticket, _ = await open_ticket(stores)
    wins = await asyncio.gather(*(s.tickets.transition(ticket.id, actor_id=900 + i, action="take", allowed=("new",),
                                                       status="taken", assignee_id=900 + i)
                                  for i, s in enumerate((stores, other, stores, other))))
    assert sum(w is not None for w in wins) == 1
    assert [e.action for e in await stores.tickets.audit_for(ticket.id)] == ["opened", "take"]


async def test_the_message_map(stores):
    ticket, _ = await open_ticket(stores)
    await stores.tickets.add_message(ticket.id, "in", citizen_chat_id=11, citizen_message_id=5, group_chat_id=-100,
                                     group_message_id=600)
    await stores.tickets.add_message(ticket.id, "out", citizen_chat_id=11, citizen_message_id=6, group_chat_id=-100,
                                     group_message_id=601)
    await stores.tickets.add_message(10_000, "in", citizen_chat_id=11, citizen_message_id=7, group_chat_id=-100,
                                     group_message_id=602)  # the ticket vanished: nothing mapped, no error
    assert (await stores.tickets.find_in(11, 5)).group_message_id == 600
    assert (await stores.tickets.find_out(-100, 601)).citizen_message_id == 6
    assert await stores.tickets.find_in(11, 6) is None and await stores.tickets.find_out(-100, 600) is None
    assert (await stores.tickets.by_group_message(-100, 601)).id == ticket.id
    assert [m.direction for m in await stores.tickets.messages(ticket.id)] == ["in", "out"]
    assert [m.group_message_id for m in await stores.tickets.messages(ticket.id, direction="out")] == [601]
    await stores.tickets.delete(ticket.id)
    assert await stores.tickets.get(ticket.id) is None and await stores.tickets.messages(ticket.id) == []


async def test_outbox_queue_and_outcomes(stores):
    ticket, _ = await open_ticket(stores)
    note = await stores.outbox.queue(ticket.id, "note", {"text": "Сәлем; привет"})
    await stores.outbox.queue_refresh(ticket.id)
    await stores.outbox.queue_refresh(ticket.id)  # one refresh waiting is enough
    with pytest.raises(ValueError):
        await stores.outbox.queue(ticket.id, "fax")
    rows = await stores.outbox.claim(T0, LEASE)
    assert [(r.kind, r.payload, r.attempts) for r in rows] == [("note", {"text": "Сәлем; привет"}, 0),
                                                                 ("refresh", {}, 0)]
    await stores.outbox.retry_later(note, "429")
    assert (await stores.outbox.pending())[0].attempts == 1
    await stores.outbox.mark_sent(note, at=T0)
    await stores.outbox.mark_failed(rows[1].id, "Bad Request", at=T0)
    assert await stores.outbox.pending() == [] and await stores.outbox.claim(T0, LEASE) == []


async def test_outbox_leases_keep_a_tickets_rows_with_one_instance(stores, other):
    t1, _ = await open_ticket(stores, 11)
    t2, _ = await open_ticket(stores, 12)
    a = await stores.outbox.queue(t1.id, "note", {"text": "1"})
    await stores.outbox.queue(t2.id, "note", {"text": "2"})
    assert [r.id for r in await stores.outbox.claim(T0, LEASE, limit=1)] == [a]  # 'one' holds ticket 1
    later = await stores.outbox.queue(t1.id, "note", {"text": "1b"})
    got = await other.outbox.claim(T0 + timedelta(seconds=10), LEASE)
    assert [r.ticket_id for r in got] == [t2.id]  # never a row of ticket 1 while 'one' holds it
    assert await stores.outbox.renew(T0 + timedelta(seconds=60)) == 1
    assert [r.ticket_id for r in await other.outbox.claim(T0 + timedelta(seconds=120), LEASE)] == [t2.id]
    # 'one' stopped renewing at T0+60: from T0+150 'two' takes ticket 1's rows, in order
    assert [r.id for r in await other.outbox.claim(T0 + timedelta(seconds=151), LEASE)] == [a, got[0].id, later]
    assert [r.ticket_id for r in await stores.outbox.claim(T0 + timedelta(seconds=152), LEASE)] == []
