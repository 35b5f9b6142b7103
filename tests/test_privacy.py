"""Personal data rights end to end (issue 16): /mydata and /forget through the fake Bot API, the real app and
its SQLite file; the erasure of a claimed reminder at send time; the consent text and /help; no personal data
in the logs."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta

import pytest

from bot.domain.clock import FakeClock
from tests.backends import every_row, query, running_bot
from tests.test_operators import GROUP, OP, TUESDAY, card_of, fast, make_complaint, register

CITIZEN = 987654321
NAME = "Айгерим"
IIN = "061211600012"
PHONE = "+77011234567"
TYPED = "Мой секретный рассказ про ЦОН 4242"
DRAFT = "Черновик: Бекова"


pytestmark = pytest.mark.usefixtures("both_backends")  # on SQLite and on PostgreSQL


async def rows_holding(db_path, needles: list[str], user_id: int) -> list[tuple[str, tuple]]:
    """Every row of every table with a cell equal to the id or containing one of the strings."""
    found = []
    for table, rows in (await every_row(db_path)).items():
        for row in rows:
            for cell in row:
                text = str(cell) if cell is not None else ""
                if cell == user_id or str(user_id) in text or any(n in text for n in needles):
                    found.append((table, row))
                    break
    return found


async def person_with_everything(app, fake, citizen, op):
    """A complaint (escalated to the desk: a ticket with relayed messages, registered: a tracked case with
    planned reminders) and a complaint draft in progress."""
    await citizen.send("/start")
    await citizen.expect()
    stored = await make_complaint(app, fake, citizen.id)
    await citizen.press_data(f"esc:complaint:{stored.id}")
    await citizen.expect_text("№")
    await fake.idle()
    await citizen.send(TYPED)
    await citizen.send_photo("талон")
    await fake.idle()
    await op.send("Здравствуйте, проверяем.", chat=GROUP, message_thread_id=(await app.desk.tickets.get(1)).thread_id)
    await fake.idle()
    await register(app, fake, op, 1, "ЖТ-2026-00123 06.04.2026")
    citizen.skip_pending()
    # A draft in the wizard: consent given, the first answers typed.
    await citizen.send("/complaint")
    consent = await citizen.expect_text("/forget")
    await citizen.press("✅", consent)
    await citizen.expect_text("Начнём")
    await fake.idle()
    return stored


async def test_mydata_lists_everything_and_forget_erases_it(fake, db_path, no_unhandled, caplog):
    caplog.set_level(logging.DEBUG)
    group = fake.group(GROUP, "Desk", is_forum=True).set_member(OP, "member")
    op = fake.user(OP, "Operator", language_code="ru")
    citizen = fake.user(CITIZEN, NAME, language_code="ru")
    clock = FakeClock(TUESDAY)
    async with running_bot(fake, db_path, clock=clock, operators_chat_id=GROUP) as app:
        fast(app)
        await person_with_everything(app, fake, citizen, op)
        ticket = await app.desk.tickets.get(1)
        assert ticket.case_id and ticket.thread_id
        await app.fsm.set_data(_key(app, CITIZEN), {**await app.fsm.get_data(_key(app, CITIZEN)), "note": DRAFT})

        # /mydata: a summary in the person's language and a JSON file with every item of the database.
        await citizen.send("/mydata")
        text = await citizen.expect_text("Что бот хранит о вас")
        assert "SH-" in text.text and "/forget" in text.text
        assert "Первое обращение к боту: " in text.text and "г.." not in text.text  # a long date ends in «г.»
        doc = await citizen.expect(predicate=lambda m: m.kind == "document")
        assert doc.filename == "shagym-my-data.json"
        exported = json.loads(doc.content)
        assert exported["profile"]["telegram_id"] == CITIZEN and exported["profile"]["first_name"] == NAME
        assert [c["id"] for c in exported["complaints"]] == [r[0] for r in await query(
            db_path, "SELECT id FROM complaints WHERE user_id = ? ORDER BY id", CITIZEN)]
        assert exported["complaints"][0]["fields"]["iin"] == IIN
        assert [c["id"] for c in exported["cases"]] == [r[0] for r in await query(
            db_path, "SELECT id FROM cases WHERE user_id = ? ORDER BY id", CITIZEN)]
        exported_reminders = sorted(r["id"] for c in exported["cases"] for r in c["reminders"])
        assert exported_reminders and exported_reminders == [r[0] for r in await query(
            db_path, "SELECT id FROM reminders WHERE user_id = ? ORDER BY id", CITIZEN)]
        assert len(exported["cases"][0]["events"]) == (await query(
            db_path, "SELECT count(*) FROM case_events WHERE case_id = ?", ticket.case_id))[0][0]
        assert [t["id"] for t in exported["tickets"]] == [1]
        relayed = (await query(db_path, "SELECT count(*) FROM ticket_messages WHERE ticket_id = 1"
                                        " AND direction IN ('in', 'out')"))[0][0]
        assert relayed >= 3 and len(exported["tickets"][0]["messages"]) == relayed
        assert [h["action"] for h in exported["tickets"][0]["history"]] == [r[0] for r in await query(
            db_path, "SELECT action FROM audit_log WHERE ticket_id = 1 ORDER BY id")]
        assert len(exported["conversations"]) == (await query(
            db_path, "SELECT count(*) FROM fsm WHERE user_id = ?", CITIZEN))[0][0] >= 1
        assert any(DRAFT in json.dumps(c["data"], ensure_ascii=False) for c in exported["conversations"])

        # A reminder already claimed for delivery when the person erases their data (it must not go out).
        clock.set(TUESDAY + timedelta(days=4, hours=1))  # Saturday 7 April+4: the first reminders are due
        claimed = await app.repos.reminders.claim_due(clock.now(), 1, audiences=("citizen",))
        assert claimed and claimed[0].user_id == CITIZEN

        # /forget asks first; "No" keeps everything.
        await citizen.send("/forget")
        ask = await citizen.expect_text("Отозвать согласие")
        await citizen.press("↩️", ask)
        await citizen.expect_text("ничего не удалено")
        assert await app.repos.users.get(CITIZEN) is not None
        await citizen.send("/forget")
        ask = await citizen.expect_text("Отозвать согласие")
        await citizen.press("🗑", ask)
        done = await citizen.expect_text("Готово")
        assert "Операторы" in done.text
        await fake.idle()

        sends_before = len(fake.calls_of("sendMessage", chat_id=CITIZEN))
        assert await app.reminders._deliver(claimed[0]) == 0
        assert len(fake.calls_of("sendMessage", chat_id=CITIZEN)) == sends_before

        # The operators' card says so, the topic lost the person's name, the relayed copies are deleted.
        card = await card_of(app, fake)
        assert "отозвал" in card.text and NAME not in card.text and "ЦОН" not in card.text
        assert not card.buttons
        assert group.topics[ticket.thread_id]["name"] == "№1"
        copies = [m for m in group.messages if m.copied_from and m.copied_from[0] == CITIZEN]
        assert copies and all(m.deleted for m in copies)
        files = [m for m in group.messages if m.kind in ("document", "photo") and not m.copied_from]
        assert files and all(m.deleted for m in files)
        t = await app.desk.tickets.get(1)
        assert t.status == "withdrawn" and t.user_id is None and t.erased_reason == "withdrawn"
        audit = await app.desk.tickets.audit_for(1)
        assert {a.actor_id for a in audit} == {None, OP}  # operators' actions keep who did them
        assert [a.action for a in audit][-1] == "erased"
        assert all(set(a.detail) <= {"source", "days", "recipient", "rating", "from", "reason_kind", "by"}
                   for a in audit)
        # An operator's later message in the topic reaches nobody and says so.
        before = len(citizen.messages)
        await op.send("Ещё вопрос", chat=GROUP, message_thread_id=ticket.thread_id)
        await fake.idle()
        assert len(citizen.messages) == before
        assert "данные гражданина удалены" in group.messages[-1].text

    # Nothing in any table holds the person's id, IIN, name, phone or what they typed.
    assert await rows_holding(db_path, [IIN, NAME, PHONE, TYPED, DRAFT, "Иванова"], CITIZEN) == []

    # A restart long after every reminder was due: none reaches the person.
    clock.set(TUESDAY + timedelta(days=40))
    async with running_bot(fake, db_path, clock=clock, operators_chat_id=GROUP) as app:
        await app.reminders.tick()
        await fake.idle()
    assert len(fake.calls_of("sendMessage", chat_id=CITIZEN)) == sends_before

    # Nothing personal in any log line of the whole run.
    logged = "\n".join(r.getMessage() + str(r.exc_text or "") for r in caplog.records)
    for needle in (IIN, NAME, PHONE, TYPED, DRAFT, "Иванова"):
        assert needle not in logged


def _key(app, user_id):
    from aiogram.fsm.storage.base import StorageKey

    return StorageKey(bot_id=app.bot.id, chat_id=user_id, user_id=user_id)


async def test_consent_text_help_and_decline_lead_to_forget(fake, db_path, no_unhandled):
    user = fake.user(1201, "Ерлан", language_code="kk")
    async with running_bot(fake, db_path, clock=FakeClock(TUESDAY), retention_days=200) as app:
        await user.send("/help")
        help_text = (await user.expect()).text
        assert "/mydata" in help_text and "/forget" in help_text
        await user.send("/complaint")
        consent = await user.expect_text("/forget")
        assert "/mydata" in consent.text and "200" in consent.text
        await user.press("❌", consent)
        await user.expect()
        offer = await user.expect()
        assert offer.buttons and "🗑" in offer.buttons[0]
        await user.press("🗑", offer)
        ask = await user.expect()
        await user.press("🗑", ask)
        await user.expect()
        assert await app.repos.users.get(1201) is None
        commands = {c["command"] for c in fake.commands_for(language_code="kk")}
        assert {"mydata", "forget"} <= commands


async def test_a_reminder_claimed_before_the_erasure_is_not_sent(fake, db_path, no_unhandled):
    """The reminder was claimed and its text rendered; it waits for its chat's turn in the Sender while the
    person's data is erased. Asked again right before the send, it finds its row gone and stays unsent."""
    import asyncio
    from datetime import date

    user = fake.user(CITIZEN, NAME, language_code="ru")
    clock = FakeClock(TUESDAY)
    async with running_bot(fake, db_path, clock=clock) as app:
        await user.send("/start")
        await user.expect()
        case = await app.cases.track(CITIZEN, "provider", date(2026, 4, 6), filed_with=None, reg_number="ЖТ-1",
                                     complaint_id=None, forwarded_via_provider=False, learned_on=None)
        clock.set(TUESDAY + timedelta(days=4, hours=1))
        claimed = await app.repos.reminders.claim_due(clock.now(), 1, audiences=("citizen",))
        assert claimed and claimed[0].case_id == case.id
        sends = len(fake.calls_of("sendMessage", chat_id=CITIZEN))
        async with app.sender.hold(CITIZEN):  # what Privacy.erase does around the erasure
            delivery = asyncio.create_task(app.reminders._deliver(claimed[0]))
            await asyncio.sleep(0.3)
            assert not delivery.done()  # rendered, waiting for the chat
            await app.repos.privacy.erase_person(CITIZEN)
        assert await delivery == 0
        assert app.reminders.counts["cancelled"] == 1
        assert len(fake.calls_of("sendMessage", chat_id=CITIZEN)) == sends


async def test_two_instances_carry_out_each_erasure_clean_up_once(fake, db_path, no_unhandled):
    """Every instance runs the clean-up an erasure leaves in the operators' chat: each task is claimed (a lease,
    like the desk outbox's rows), so each deletion is attempted once across both, never twice (before: both
    read the same tasks and both asked Telegram to delete every message; it refuses the second)."""
    from collections import Counter

    fake.group(GROUP, "Desk")
    async with running_bot(fake, db_path, clock=FakeClock(TUESDAY), operators_chat_id=GROUP) as one, \
            running_bot(fake, db_path, clock=FakeClock(TUESDAY), operators_chat_id=GROUP) as two:
        fast(one)
        fast(two)
        # what erasures queued (the messages are already gone: Telegram answers 400, the task is dropped)
        await query(db_path, "INSERT INTO desk_cleanup (kind, chat_id, message_id, created_at) VALUES "
                    + ", ".join(f"('delete', {GROUP}, {9000 + n}, CURRENT_TIMESTAMP)" for n in range(40)))
        # both instances' passes at once (their own loops, woken, too)
        one.privacy._cleanup_wake.set()
        two.privacy._cleanup_wake.set()
        await asyncio.gather(one.privacy.cleanup(), two.privacy.cleanup())
        for _ in range(200):
            if await query(db_path, "SELECT count(*) FROM desk_cleanup") == [(0,)]:
                break
            await asyncio.sleep(0.05)
        await fake.idle()
    attempts = Counter(c.params["message_id"] for c in fake.calls_of("deleteMessage"))
    assert attempts == {9000 + n: 1 for n in range(40)}, {m: k for m, k in attempts.items() if k != 1}
