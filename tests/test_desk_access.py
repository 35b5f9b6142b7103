"""Who reaches the operators' desk: without an operators' chat nobody is offered a person (1414 instead), and an
operator whose Telegram language is neither kk nor ru still works the desk, in the operators' language."""

from __future__ import annotations

import pytest

from bot.domain.clock import FakeClock
from tests.backends import query, running_bot
from tests.fakeapi import BotMessage
from tests.test_operators import CITIZEN, GROUP, OP, TUESDAY, card_of, fast, open_desk_ticket, ticket_row
from tests.test_wizard import Walker, individual_ru, tr

pytestmark = pytest.mark.usefixtures("both_backends")  # on SQLite and on PostgreSQL

HUMAN = "👤 Talk to a person"


def callbacks(m: BotMessage) -> list[str]:
    return [b.get("callback_data") or "" for row in m.button_rows for b in row]


def no_person(m: BotMessage) -> None:
    assert not any(c.startswith("esc") for c in callbacks(m)), m.button_rows
    assert tr(HUMAN, "ru") not in m.buttons and tr(HUMAN, "kk") not in m.buttons


# ------------------------------------------------------------------------------------ (7) no desk configured

async def test_without_an_operators_chat_nobody_is_offered_a_person(fake, db_path, no_unhandled):
    user = fake.user(701, "Ольга", language_code="ru")
    async with running_bot(fake, db_path):
        # The main menu: no "Talk to a person"; the welcome promises no person and names 1414.
        await user.send("/start")
        welcome = await user.expect()
        assert welcome.keyboard_type == "reply"
        no_person(welcome)
        assert tr("📝 Write a complaint", "ru") in welcome.buttons and tr("❓ Questions", "ru") in welcome.buttons
        assert "1414" in welcome.text and "человеку" not in welcome.text

        # The FAQ: the topics, an answer, and "not found" offer no person; "not found" points to 1414.
        await user.send("/faq")
        no_person(await user.expect())
        await user.send("сколько дней рассматривают жалобу")
        no_person(await user.expect())
        await user.send("погода в Астане")
        not_found = await user.expect()
        no_person(not_found)
        assert "1414" in not_found.plain_text and "8-800-080-7777" in not_found.plain_text
        assert "команды" not in not_found.plain_text  # no "a person from our team"

        # An old "Talk to a person" reply button (or the typed text) and an old inline escalation button:
        # the way to a person (1414), a fresh menu without the button, no ticket.
        await user.send(tr(HUMAN, "ru"))
        answer = await user.expect()
        assert "1414" in answer.text and "8-800-080-7777" in answer.text
        assert answer.keyboard_type == "reply"
        no_person(answer)
        qid = await user.press_data("esc:faq:0", not_found)
        await user.answered_callback(qid)
        answer = await user.expect()
        assert "1414" in answer.text
        assert await query(db_path, "SELECT count(*) FROM tickets") == [(0,)]

        # The wizard's last message: the next steps with 1414, and no "send it to the operators" button.
        w = Walker(fake, db_path, user)
        await w.begin()
        await w.walk(individual_ru())
        await w.confirm()
        ready = await user.expect()
        assert "1414" in ready.text and "eOtinish" in ready.text
        assert not ready.buttons and "кнопку ниже" not in ready.text


async def test_with_an_operators_chat_the_person_is_offered(fake, db_path, no_unhandled):
    fake.group(GROUP, "Desk")
    user = fake.user(702, "Ольга", language_code="ru")
    async with running_bot(fake, db_path, operators_chat_id=GROUP):
        await user.send("/start")
        welcome = await user.expect()
        assert tr(HUMAN, "ru") in welcome.buttons
        await user.send("погода в Астане")
        assert any(c.startswith("esc:faq") for c in callbacks(await user.expect()))


# ------------------------------------------------------------------------------------ (10) operators' language

async def test_an_operator_whose_telegram_language_is_english_works_the_desk(fake, db_path, no_unhandled):
    group = fake.group(GROUP, "Desk").set_member(OP, "member")
    op = fake.user(OP, "Operator", language_code="en")  # never chose a language in a private chat
    citizen = fake.user(CITIZEN, "Айгерим", language_code="ru")
    async with running_bot(fake, db_path, clock=FakeClock(TUESDAY), operators_chat_id=GROUP,
                           operators_language="kk") as app:
        fast(app)
        await open_desk_ticket(app, fake, citizen)
        qid = await op.press_data("dk:take:1", await card_of(app, fake))
        # Answered in the operators' language (kk), not the bot's default (ru), and the press took effect.
        assert (await op.answered_callback(qid)).get("text") == tr("The ticket is yours.", "kk")
        await fake.idle()
        t = await ticket_row(app)
        assert t.status == "taken" and t.assignee_id == OP

        # The follow-up question and the operator's answer in the group work too.
        await op.press_data("dk:reg:1", await card_of(app, fake))
        await fake.idle()
        assert "ЖТ-2027-00123" in group.messages[-1].text
        await op.send("ЖТ-2026-00123 06.04.2026", chat=GROUP)
        await fake.idle()
        assert (await ticket_row(app)).status == "registered"
        # Nobody asked the operator to choose a language: not in the group, not in a private chat.
        choose = tr("Please choose your language.", "ru")
        assert not any(choose in (m.text or "") for m in group.messages)
        assert fake.messages_in(OP) == []
