"""Contract: reminder delivery and its leases behave alike on SQLite and PostgreSQL.

Two instances (``stores`` holds 'one', ``other`` holds 'two') share the database: a row is sent by the instance
that claimed it, a live lease is never taken, an expired one is, once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

UTC = timezone.utc
T0 = datetime(2026, 3, 20, 6, 0, tzinfo=UTC)
LEASE = timedelta(seconds=90)


async def add(stores, n: int, *, audience: str = "operators", due: datetime = T0, **kw) -> list[int]:
    return [await stores.reminders.add(chat_id=-100, kind="sla", due_at=due + timedelta(seconds=i),
                                       audience=audience, **kw) for i in range(n)]


async def test_one_offs_are_queued_once_per_dedupe_key(stores):
    first = await stores.reminders.add(chat_id=-100, kind="sla", due_at=T0, payload={"t": 1}, dedupe_key="k1")
    assert isinstance(first, int)
    assert await stores.reminders.add(chat_id=-100, kind="sla", due_at=T0, dedupe_key="k1") is None
    row = await stores.reminders.get(first)
    assert (row.chat_id, row.kind, row.due_at, row.status, row.audience, row.payload, row.dedupe_key) == (
        -100, "sla", T0, "pending", "operators", {"t": 1}, "k1")
    try:
        await stores.reminders.add(chat_id=1, kind="x", due_at=T0, audience="nobody")
    except ValueError:
        pass
    else:
        raise AssertionError("an unknown audience was accepted")


async def test_claims_take_due_rows_oldest_first_by_audience(stores):
    ops = await add(stores, 3)
    await stores.users.seen(5, "A", "ru")
    cit = await add(stores, 2, audience="citizen", user_id=5)
    later = await add(stores, 1, due=T0 + timedelta(hours=1))
    assert await stores.reminders.claim_due(T0 + timedelta(minutes=1), audiences=[]) == []
    got = await stores.reminders.claim_due(T0 + timedelta(minutes=1), audiences=["citizen"])
    assert [r.id for r in got] == cit and {r.status for r in got} == {"sending"}
    got = await stores.reminders.claim_due(T0 + timedelta(minutes=1), limit=2)
    assert [r.id for r in got] == ops[:2] and [r.attempts for r in got] == [1, 1]
    assert got[0].claimed_at == T0 + timedelta(minutes=1)
    assert [r.id for r in await stores.reminders.claim_due(T0 + timedelta(minutes=1))] == ops[2:]
    assert later[0] not in [r.id for r in await stores.reminders.claim_due(T0 + timedelta(minutes=1))]


async def test_outcomes_retry_defer_fail_cancel(stores):
    a, b, c, d = await add(stores, 4)
    await stores.reminders.claim_due(T0 + timedelta(minutes=1))
    await stores.reminders.mark_sent(a, T0 + timedelta(minutes=1))
    await stores.reminders.retry_later(b, T0 + timedelta(minutes=10), "RetryAfter " + "x" * 400)
    await stores.reminders.defer(c, T0 + timedelta(hours=3))
    await stores.reminders.mark_failed(d, "Forbidden")
    ra, rb, rc, rd = [await stores.reminders.get(i) for i in (a, b, c, d)]
    assert (ra.status, ra.sent_at, ra.last_error) == ("sent", T0 + timedelta(minutes=1), None)
    assert (rb.status, rb.due_at, rb.attempts, rb.claimed_at, len(rb.last_error)) == (
        "pending", T0 + timedelta(minutes=10), 1, None, 300)
    assert (rc.status, rc.due_at, rc.attempts) == ("pending", T0 + timedelta(hours=3), 0)
    assert (rd.status, rd.last_error) == ("failed", "Forbidden")
    await stores.reminders.cancel(b, "case closed")
    assert (await stores.reminders.get(b)).status == "cancelled"
    await stores.reminders.mark_sent(b, T0)  # a cancelled row is never marked sent
    assert (await stores.reminders.get(b)).status == "cancelled"


async def test_cancel_for_user(stores):
    for uid in (5, 6):
        await stores.users.seen(uid, "A", "ru")
    mine = await add(stores, 2, audience="citizen", user_id=5)
    theirs = await add(stores, 1, audience="citizen", user_id=6)
    assert await stores.reminders.cancel_for_user(5) == 2
    assert {(await stores.reminders.get(i)).status for i in mine} == {"cancelled"}
    assert (await stores.reminders.get(theirs[0])).status == "pending"


async def test_only_the_holder_finishes_its_rows(stores, other):
    a, b = await add(stores, 2)
    await stores.reminders.claim_due(T0, limit=1)
    await other.reminders.mark_sent(a, T0)
    await other.reminders.retry_later(a, T0, "x")
    await other.reminders.mark_failed(a, "x")
    await other.reminders.cancel(a)
    assert (await stores.reminders.get(a)).status == "sending"
    await other.reminders.cancel(b)  # a pending row: any instance may cancel it
    assert (await stores.reminders.get(b)).status == "cancelled"


async def test_recovery_takes_only_expired_leases(stores, other):
    """What recover_stale used to do (every 'sending' row back to 'pending') sent duplicates with two
    instances: a row another instance is sending right now must stay with it."""
    a, b = await add(stores, 2)
    assert [r.id for r in await stores.reminders.claim_due(T0, limit=1)] == [a]  # 'one' holds a from T0
    assert await other.reminders.recover_stale(T0 + LEASE - timedelta(seconds=1), LEASE) == 0
    assert [r.id for r in await other.reminders.claim_due(T0 + timedelta(seconds=30))] == [b]  # a is not free
    assert await stores.reminders.renew(T0 + timedelta(seconds=60)) == 1  # a's lease runs to T0+150 now
    assert await other.reminders.recover_stale(T0 + timedelta(seconds=120), LEASE) == 0
    assert await other.reminders.renew(T0 + timedelta(seconds=120)) == 1  # b's lease runs to T0+210
    # 'one' died (nobody renews a): after its lease 'two' takes a back, and only a
    assert await other.reminders.recover_stale(T0 + timedelta(seconds=151), LEASE) == 1
    row = await other.reminders.get(a)
    assert row.status == "pending" and row.claimed_at is None
    assert (await other.reminders.get(b)).status == "sending"
    [again] = await other.reminders.claim_due(T0 + timedelta(seconds=152), limit=1)
    assert again.id == a and again.attempts == 2
    await stores.reminders.mark_sent(a, T0 + timedelta(seconds=153))  # the old holder's late write: ignored
    assert (await other.reminders.get(a)).status == "sending"
    await other.reminders.mark_sent(a, T0 + timedelta(seconds=153))
    assert (await other.reminders.get(a)).status == "sent"


async def test_two_instances_claiming_at_once_never_share_a_row(backend, stores, other):
    ids = await add(stores, 300)

    async def drain(s) -> list[int]:
        got: list[int] = []
        while rows := await s.reminders.claim_due(T0 + timedelta(hours=1), limit=7):
            got += [r.id for r in rows]
            await asyncio.sleep(0)
        return got

    a1, b1, a2, b2 = await asyncio.gather(drain(stores), drain(other), drain(stores), drain(other))
    taken = a1 + b1 + a2 + b2
    assert len(taken) == len(ids) and set(taken) == set(ids)  # every row once, none twice
    if backend == "pg":  # SKIP LOCKED: neither waits for the other (SQLite serialises whole transactions)
        assert a1 + a2 and b1 + b2
    assert await stores.reminders.count_by_status() == {"sending": 300}


async def test_a_send_begins_only_on_a_row_its_instance_still_holds(stores, other):
    """begin_send is the last question before the request (and marks the row as leaving): the holder's
    claimed row yes; a row another instance holds, a cancelled one, or one taken back after the lease, no."""
    a, b, c = await add(stores, 3)
    await stores.reminders.claim_due(T0, limit=2)  # 'one' holds a and b
    assert await stores.reminders.begin_send(a, T0) is True
    assert await other.reminders.begin_send(b, T0) is False  # not 'two's
    assert await stores.reminders.begin_send(c, T0) is False  # never claimed
    await stores.reminders.cancel(b, "erased")
    assert await stores.reminders.begin_send(b, T0) is False
    assert await other.reminders.recover_stale(T0 + LEASE + timedelta(seconds=1), LEASE) == 1  # 'one' died
    assert await stores.reminders.begin_send(a, T0 + LEASE) is False  # taken back: the old holder stays silent
    [again] = await other.reminders.claim_due(T0 + LEASE + timedelta(seconds=2), limit=1)
    assert again.id == a and await other.reminders.begin_send(a, T0 + LEASE + timedelta(seconds=2)) is True
