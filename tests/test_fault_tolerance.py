"""Fault tolerance end to end (issue 12): the real app polling the fake Bot API while the fake fails replies
(429, 5xx, dropped connections), refuses oversized texts, sends unknown buttons and updates aiogram cannot
parse. One test per point, then the storm (50 people, 30% of sendMessage failing), the burst (30 people ask
for a person at once) and the log check at DEBUG."""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager
from datetime import date
from typing import AsyncIterator

import pytest

from bot.domain.clock import FakeClock
from bot.domain.complaint import Complaint, parse_field
from handlers.complaint.steps import ORDER, REVIEW, question
from handlers.middlewares import Inbound
from tests.backends import query, running_bot
from tests.fakeapi import BotMessage, FakeUser
from tests.test_operators import GROUP, OP, TUESDAY, card_of, fast, open_desk_ticket, ticket_row
from tests.test_wizard import DECISION, I18N, LEARNED, Walker, draft_of, individual_ru, prompt_n, wiz_buttons

pytestmark = pytest.mark.usefixtures("both_backends")  # on SQLite and on PostgreSQL

#: How often a direct reply is tried before it counts as failed (bot.services.sender.RetryAfterMiddleware).
REPLY_TRIES = 3


def quick_retries(app) -> None:
    """Keep a 5xx/network retry of a direct reply quick in tests (the policy is the same, only the pauses
    are shorter)."""
    policy = app.reply_retry
    if policy is not None:
        policy.backoff = 0.02


def question_text(step: str, lang: str = "ru") -> str:
    with I18N.context(), I18N.use_locale(lang):
        return question(step)


# ----------------------------------------------------------------------------------- (1) failed replies

@asynccontextmanager
async def wizard_at(fake, db_path, user_id: int, step: str) -> AsyncIterator[tuple[FakeUser, Walker]]:
    """The real bot, and a person whose draft stands at ``step`` (answers of test_wizard.individual_ru)."""
    user = fake.user(user_id, "Ольга", language_code="ru")
    async with running_bot(fake, db_path) as app:
        quick_retries(app)
        w = Walker(fake, db_path, user)
        await w.begin()
        await w.walk(individual_ru(), until=step)
        yield user, w


@pytest.mark.parametrize("fault", ["502", "network"])
async def test_a_reply_lost_once_is_retried_and_the_next_question_arrives(fake, db_path, no_unhandled, fault):
    async with wizard_at(fake, db_path, 1201, "surname") as (user, w):
        fake.fail_next("sendMessage", chat_id=1201, error_code=502, network=fault == "network")
        await w.send("Иванова")
        assert question_text("first_name") in w.prompt.text
        draft = await draft_of(db_path, 1201)
        assert draft["step"] == "first_name" and draft["draft"]["surname"] == "Иванова"
    assert [c.status for c in fake.calls_of("sendMessage", chat_id=1201)][-2:] == [
        0 if fault == "network" else 502, 200]


async def test_a_reply_that_finally_failed_is_asked_again_before_anything_is_applied(fake, db_path, no_unhandled):
    async with wizard_at(fake, db_path, 1202, "surname") as (user, w):
        fake.fail_next("sendMessage", chat_id=1202, error_code=502, times=REPLY_TRIES)
        await user.send("Иванова")
        apology = await user.expect(timeout=10)
        assert "попробуйте" not in apology.text.lower()  # the answer was saved: never "try again"
        assert question_text("first_name") not in apology.text
        assert (await draft_of(db_path, 1202))["draft"]["surname"] == "Иванова"
        # They never saw "first name?", so they type the surname again: it must not become their first name.
        await user.send("Иванова")
        again = await w.next_prompt()
        assert question_text("first_name") in again.text and "Иванова" in again.text  # the question + what it saved
        assert "попробуйте" not in again.text.lower()
        draft = await draft_of(db_path, 1202)
        assert draft["step"] == "first_name" and draft["draft"]["first_name"] is None
        await w.send("Ольга")
        assert (await draft_of(db_path, 1202))["draft"]["first_name"] == "Ольга"


async def failed_sends(fake, chat_id: int, count: int) -> None:
    """Wait until ``count`` sendMessage calls to ``chat_id`` were answered with an error."""
    def check() -> bool:
        return len([c for c in fake.calls_of("sendMessage", chat_id=chat_id) if c.status not in (None, 200)]) >= count

    await fake._wait(check, 10)


async def test_the_apology_for_a_lost_reply_comes_before_the_next_answer_is_handled(fake, db_path, no_unhandled):
    """The apology is part of the failed step: when Telegram delays it (a 429), the person's next message waits
    for it, so they never read "send any message, I will show you your question" after a later question."""
    async with wizard_at(fake, db_path, 1207, "surname") as (user, w):
        fake.fail_next("sendMessage", chat_id=1207, error_code=502, times=REPLY_TRIES)  # the reply
        fake.fail_next("sendMessage", chat_id=1207, error_code=429, retry_after=1)  # the apology, once
        await user.send("Иванова")
        await failed_sends(fake, 1207, REPLY_TRIES + 1)
        await user.send("Иванова")  # while the apology waits out its 429
        first = await user.expect(timeout=10)
        assert "Извините" in first.text and question_text("first_name") not in first.text
        again = await w.next_prompt()
        assert question_text("first_name") in again.text
        await w.send("Ольга")
        draft = (await draft_of(db_path, 1207))["draft"]
        assert (draft["surname"], draft["first_name"]) == ("Иванова", "Ольга")


async def test_a_button_step_whose_reply_failed_is_never_left_silent(fake, db_path, no_unhandled):
    async with wizard_at(fake, db_path, 1203, "applicant_kind") as (user, w):
        fake.fail_next("sendMessage", chat_id=1203, error_code=502, times=REPLY_TRIES)
        pressed = w.find("ch", "individual", w.prompt)
        qid = await user.press_data(pressed, w.prompt)
        apology = await user.expect(timeout=10)  # not nothing
        assert "попробуйте" not in apology.text.lower()
        answers = [c for c in fake.calls_of("answerCallbackQuery") if c.params.get("callback_query_id") == qid]
        assert [c.status for c in answers] == [200]  # answered once, never a second time
        assert (await draft_of(db_path, 1203))["step"] == "surname"
        # Pressing the old button again: answered (no spinner) and asked the question they are really on.
        qid2 = await user.press_data(pressed, w.prompt)
        await user.answered_callback(qid2)
        again = await w.next_prompt()
        assert question_text("surname") in again.text
        assert (await draft_of(db_path, 1203))["draft"]["applicant_kind"] == "individual"


async def test_a_tracking_question_whose_reply_failed_is_asked_again_too(fake, db_path, no_unhandled):
    """The same guard for the tracking form: a retyped registration date must not become the number."""
    from tests.test_tracking import START, cases_of
    from tests.test_tracking import tr as ttr

    u = fake.user(1204, "Ольга", language_code="ru")
    async with running_bot(fake, db_path, clock=FakeClock(START)) as app:
        quick_retries(app)
        await u.send("/my")
        await u.expect()
        await u.press(ttr("➕ I already filed a complaint", "ru"))
        await u.expect()  # intro
        await u.expect()  # who reviews it
        await u.press(ttr("Service provider · 5 working days", "ru"))
        await u.expect()  # where filed
        await u.send("ЦОН Есиль")
        await u.expect()  # registration date
        fake.fail_next("sendMessage", chat_id=1204, error_code=502, times=REPLY_TRIES)
        await u.send("14.12.2026")
        apology = await u.expect(timeout=10)
        assert "попробуйте" not in apology.text.lower()
        await u.send("14.12.2026")  # they never saw "registration number?"
        number = ttr("What is the registration number (from the talon or the portal)? Type it, or press Skip.", "ru")
        await u.expect_text(number)
        await u.send("ЖТ-2026-123")
        await u.expect()  # learned on
        await u.press(ttr("⏭ Skip", "ru"))
        await u.expect()  # the timeline
        (case,) = await cases_of(db_path, 1204)
        assert case.reg_number == "ЖТ-2026-123" and case.registered_on == date(2026, 12, 14)


# ----------------------------------------------------------------------------------- (2) talk to a person

async def test_talk_to_a_person_is_answered_at_once_while_the_group_is_at_its_limit(fake, db_path, no_unhandled):
    fake.group(GROUP, "Desk", is_forum=False)
    first = fake.user(1301, "Айгерим", language_code="ru")
    second = fake.user(1302, "Данияр", language_code="ru")
    async with running_bot(fake, db_path, clock=FakeClock(TUESDAY), operators_chat_id=GROUP) as app:
        sender = app.sender
        sender.chat_interval = 0.0
        sender.per_group_per_minute = 1  # the group may take one more post this minute
        await open_desk_ticket(app, fake, first, complaint=False)
        await second.send("/start")
        await second.expect()
        t0 = time.monotonic()
        await second.press("👤")
        told = await second.expect_text("№", timeout=5)
        assert time.monotonic() - t0 < 2.0, "the person waited for the operators' group"
        await second.send("/help")
        await second.expect_text("/complaint", timeout=5)
        assert time.monotonic() - t0 < 3.0
        ticket = await ticket_row(app, 2)
        assert ticket is not None and f"№{ticket.id}" in told.text
        assert ticket.card_message_id is None  # its card waits for the group's pace, in the database
        queued = await query(db_path, "SELECT status FROM desk_outbox WHERE ticket_id = ?", ticket.id)
        assert [r[0] for r in queued] == ["pending"]


# ----------------------------------------------------------------------------------- (3) Telegram's limits

async def test_every_outgoing_text_is_checked_against_telegrams_limits_in_one_place(fake, db_path, no_unhandled):
    fake.user(1401, "Ольга", language_code="ru")
    async with running_bot(fake, db_path) as app:
        bot = app.bot
        await bot.send_message(1401, "Ә" * 5000)  # too long: cut, with a mark, instead of refused
        long = fake.last_message(1401)
        assert len(long.plain_text) <= 4096 and long.plain_text.endswith("…")
        await bot.send_message(1401, "😀" * 3000)  # Telegram counts UTF-16 units: 6,000 here
        emoji = fake.last_message(1401)
        assert len(emoji.plain_text.encode("utf-16-le")) // 2 <= 4096 and emoji.plain_text.endswith("…")
        visible = "<b>" + "&lt;" * 2000 + "</b>"  # 8,007 characters of HTML, 2,000 visible: fits as it is
        await bot.send_message(1401, visible)
        assert fake.last_message(1401).text == visible
        caption = "<b>" + "Ж" * 1500 + "</b>"
        await bot.send_document(1401, fake._register_file("document", b"%PDF", "a.pdf", "application/pdf").file_id,
                                caption=caption)
        doc = fake.last_message(1401)
        assert len(doc.plain_text) <= 1024 and doc.text.startswith("<b>Ж") and doc.text.endswith("</b>")
    assert [c.status for c in fake.calls if c.method in ("sendMessage", "sendDocument")
            and c.params.get("chat_id") == 1401] == [200, 200, 200, 200]


# ----------------------------------------------------------------------------------- (4) captions, delivery

BOLD = [{"type": "bold", "offset": 0, "length": 1000}]


async def test_an_edited_bold_caption_is_relayed_and_a_refused_result_never_closes_the_ticket(
        fake, db_path, no_unhandled):
    group = fake.group(GROUP, "Desk")
    op = fake.user(OP, "Operator", language_code="ru")
    citizen = fake.user(1501, "Айгерим", language_code="ru")
    async with running_bot(fake, db_path, clock=FakeClock(TUESDAY), operators_chat_id=GROUP,
                           operator_ids=(OP,)) as app:
        fast(app)
        await open_desk_ticket(app, fake, citizen)
        shot = await citizen.send_photo("А" * 1000, caption_entities=BOLD)
        await fake.idle()
        await citizen.edit(shot, "Б" * 1000, entities=BOLD)
        await fake.idle()
        edited = [m for m in group.messages if m.copied_from == (1501, shot["message_id"]) and "Б" in (m.text or "")]
        assert len(edited) == 1 and "<b>ББ" in edited[0].text and len(edited[0].plain_text) <= 1024

        # The result as a document with a long bold caption: delivered intact up to the limit.
        await op.press_data("dk:res:1", await card_of(app, fake))
        await fake.idle()
        fake.fail_next("copyMessage", chat_id=1501, error_code=400, description="Bad Request: injected refusal")
        await op.send_document("answer.pdf", b"%PDF-1.4 answer", caption="Ответ " * 200,
                               chat=GROUP, caption_entities=[{"type": "bold", "offset": 0, "length": 1200}])
        await fake.idle()
        ticket = await ticket_row(app)
        assert ticket.status != "resolved" and ticket.is_open  # Telegram refused: not delivered, not resolved
        assert any("не" in (m.text or "") and "доставить" in (m.text or "") for m in group.messages[-3:])
        # The operator sends it again; this time it arrives, and only now is the ticket resolved.
        await op.send_document("answer.pdf", b"%PDF-1.4 answer", caption="Ответ " * 200,
                               chat=GROUP, caption_entities=[{"type": "bold", "offset": 0, "length": 1200}])
        result = await citizen.expect(predicate=lambda m: m.method == "copyMessage" and m.kind == "document")
        assert "<b>Ответ" in result.text and len(result.plain_text) <= 1024
        await fake.idle()
        assert (await ticket_row(app)).status == "resolved"


# ----------------------------------------------------------------------------------- (5) every button answered

async def test_every_callback_query_gets_an_answer(fake, db_path, no_unhandled):
    user = fake.user(1601, "Ольга", language_code="ru")
    async with running_bot(fake, db_path):
        await user.send("/start")
        menu = await user.expect()
        for data in ("zz:old:1", "", "x" * 64):
            qid = await user.press_data(data, menu)
            await user.answered_callback(qid)
        qid = await user.press_data(None, menu, game_short_name="tetris")
        await user.answered_callback(qid)


# ----------------------------------------------------------------------------------- (7) unparseable update

async def test_an_update_aiogram_cannot_parse_is_skipped_and_polling_goes_on(fake, db_path, no_unhandled, caplog):
    caplog.set_level(logging.WARNING)
    user = fake.user(1701, "Ольга", language_code="ru")
    broken = {"message": {"message_id": "not-a-number", "date": 0, "chat": {"id": 1701, "type": "private"},
                          "text": "IIN 061211600012"}}
    async with running_bot(fake, db_path):
        alone = await fake.push_update(broken)  # a batch of its own: the last (and only) update of it
        await fake._wait(lambda: fake.delivered(alone), 5)
        await user.send("/help")
        assert "/complaint" in (await user.expect(timeout=10)).text
        among = await fake.push_update(broken)  # and one in the middle of a batch
        await user.send("/help")
        assert "/complaint" in (await user.expect(timeout=10)).text
        await fake.idle()
    logged = [r.getMessage() for r in caplog.records]
    assert any(str(alone) in m for m in logged) and any(str(among) in m for m in logged), "skipped updates logged by id"
    assert len(fake.calls_of("getUpdates")) < 30, "polling did not spin on the bad update"
    assert not any("061211600012" in m for m in logged)


# ----------------------------------------------------------------------------------- (6) logs at DEBUG

async def test_no_personal_value_reaches_any_log_at_debug_over_a_whole_complaint(fake, db_path, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="aiosqlite")  # as LOG_LEVEL=DEBUG leaves it (restored after the test)
    user = fake.user(1801, "Ольга", language_code="ru")
    answers = individual_ru()
    answers.update(iin="061211600012", email="olga.ivanova@mail.kz", patronymic="Сергеевна",
                   officials="Главный специалист Ахметов Б.")
    async with running_bot(fake, db_path):
        w = Walker(fake, db_path, user)
        await w.begin()
        await w.walk(answers)
        await w.confirm()
    typed = [v for v in answers.values() if isinstance(v, str)] + ["+77015551234"]
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    output = "\n".join(formatter.format(r) for r in caplog.records)
    assert len(caplog.records) > 50  # DEBUG really was on
    leaked = [v for v in typed if v in output]
    assert leaked == []


# ----------------------------------------------------------------------------------- storm (acceptance 2)

#: What the storm's people type at each step: realistic answers, each different, so that a value in a wrong
#: field shows. Adjust here when the wizard's steps change: ("ch", v) presses a choice, ("sk",) skips,
#: ("dn",) is «Done»; a string is typed.
STORM_ANSWERS: dict[str, str | tuple] = {
    "grounds": ("ch", "deadline_violated"),
    "recipient_kind": ("ch", "provider"),
    "recipient_name": "Руководитель ЦОН Алмалинского района города Алматы",
    "applicant_kind": ("ch", "individual"),
    "surname": "Иванова",
    "first_name": "Ольга",
    "patronymic": "Сергеевна",
    "iin": "061211600012",
    "postal_address": "г. Алматы, ул. Абая 10, кв. 5",
    "actual_address": "г. Алматы, мкр. Самал-2, д. 33, кв. 12",
    "phone": "+7 701 555 12 34",
    "email": "olga.ivanova@mail.kz",
    "service_name": "Выдача справки о несудимости",
    "organisation": "ЦОН Алмалинского района города Алматы",
    "decision_date": DECISION.strftime("%d.%m.%Y"),
    "learned_date": LEARNED.strftime("%d.%m.%Y"),
    "officials": "Главный специалист Ахметов Б. К.",
    "description": "Подала заявление вовремя, но справку не выдали в срок и не объяснили причину отказа.",
    "demands": "Выдать справку в срок, установленный стандартом, и ответить мне письменно.",
    "attachments": ("dn",),
}


def expected_draft(answers: dict, today: date) -> dict:
    draft = Complaint()
    for step, value in answers.items():
        if isinstance(value, str):
            setattr(draft, step, parse_field(step, value, today).value)
        elif value[0] == "ch":
            setattr(draft, step, value[1])
    return draft.to_dict()


def last_question(user: FakeUser) -> BotMessage | None:
    """The question a person sees last: the newest message of the chat with the wizard's buttons (a question
    asked again, or a new consent after a second /complaint, has a higher message id but maybe the same
    prompt number)."""
    return max((m for m in user.messages if prompt_n(m)), key=lambda m: m.message_id, default=None)


class Handled:
    """Outer update middleware (just around Inbound, which holds the per-chat lock): the messages and button
    presses the bot has finished with (:func:`key_of`). Only the storm's people read it."""

    def __init__(self) -> None:
        self.done: set[tuple] = set()

    async def __call__(self, handler, event, data):
        try:
            return await handler(event, data)
        finally:
            if event.message is not None:
                self.done.add(key_of(event.message.chat.id, event.message.message_id))
            elif event.callback_query is not None:
                self.done.add(key_of(event.callback_query.id))


def key_of(*ids) -> tuple:
    """A message (chat id, message id) or a button press (callback query id), as :class:`Handled` records it."""
    return tuple(str(i) for i in ids)


class StormPerson:
    """Someone walking the wizard by what they SEE: they answer the last question shown, wait for the next one,
    and when it does not come (an apology, or nothing for a while) they send their answer again.

    "Nothing for a while" means: the bot has finished with their message (``handled``, see :class:`Handled`)
    and sent nothing new. A person reads that from a silence; a silence of fixed length is no such proof on a
    busy machine (a handler that waits 3 s for the CPU, a 429 wait that takes 2.7 s), and a copy sent while the
    bot still works on the original is a second answer, to the question that is on its way. The question they
    answer is the newest one in the chat (a second /complaint shows a new consent, prompt number 1 again)."""

    def __init__(self, user: FakeUser, answers: dict, handled: Handled, *, quiet: float = 0.3) -> None:
        self.user, self.answers, self.handled, self.quiet = user, answers, handled, quiet
        self.prompt: BotMessage | None = None
        self.retries = 0
        self.stuck: str | None = None
        self.questions = sorted(((question_text(s), s) for s in ORDER), key=lambda q: -len(q[0]))

    def step_of(self, m: BotMessage) -> str:
        if any(cb.a == "cf" for cb, _ in wiz_buttons(m)):
            return REVIEW
        if any(cb.a == "ok" for cb, _ in wiz_buttons(m)):
            return "consent"
        return next(step for text, step in self.questions if text in (m.text or ""))

    async def type(self, text: str) -> tuple:
        msg = await self.user.send(text)
        return key_of(msg["chat"]["id"], msg["message_id"])

    async def act(self, step: str) -> tuple:
        """Answer ``step``; what was sent (see :class:`Handled`)."""
        value = ("ok",) if step == "consent" else self.answers[step]
        if isinstance(value, str):
            return await self.type(value)
        action, arg = value[0], (value[1] if len(value) > 1 else None)
        data = next(btn["callback_data"] for cb, btn in wiz_buttons(self.prompt)
                    if cb.a == action and (arg is None or cb.v == arg))
        return key_of(await self.user.press_data(data, self.prompt))

    async def outcome(self, sent: tuple) -> bool:
        """True when a newer question arrived; False after an apology, or once the bot has finished with their
        message and sent nothing for this chat for ``quiet`` seconds since. Never earlier: someone who types
        again while the bot is still working on their message answers a question that is on its way."""
        seen = self.prompt.message_id if self.prompt is not None else 0
        fake, chat = self.user.fake, self.user.id
        deadline = time.monotonic() + 60
        apologised = False
        while time.monotonic() < deadline:
            last = last_question(self.user)
            if last is not None and last.message_id > seen:
                self.prompt = last
                return True
            if apologised:
                return False
            if any("Извините" in (m.text or "") for m in self.user.skip_pending()):
                apologised = True  # a moment for a question sent right before it, then answer again
                await asyncio.sleep(0.3)
                continue
            if sent in self.handled.done and fake.chat_quiet_for(chat) > self.quiet:
                return False
            await asyncio.sleep(0.05)
        raise AssertionError(f"{self.user!r}: the bot kept working on one message for 60 s")

    async def walk(self) -> None:
        sent = await self.type("/complaint")
        while not await self.outcome(sent):
            self.retries += 1
            sent = await self.type("/complaint")
        while (step := self.step_of(self.prompt)) != REVIEW:
            self.user.skip_pending()
            sent = await self.act(step)
            tries = 1
            while not await self.outcome(sent):
                if tries == 5:  # the bot keeps refusing: they are not where they think they are
                    self.stuck = step
                    return
                tries += 1
                self.retries += 1
                self.user.skip_pending()
                sent = await self.act(step)


async def test_storm_50_people_walk_the_wizard_while_30_percent_of_replies_fail(fake, db_path, no_unhandled):
    people = [fake.user(20_000 + i, f"Человек{i}", language_code="ru") for i in range(50)]
    async with running_bot(fake, db_path) as app:
        quick_retries(app)
        handled = Handled()
        # Around the bot's own middleware (its reply guard apologises after the handlers, within its lock).
        outer = app.dp.update.outer_middleware
        inbound = next(m for m in outer if isinstance(m, Inbound))
        outer.unregister(inbound)
        outer(handled)
        outer(inbound)
        fake.chaos("sendMessage", 0.3, codes=(429, 502), retry_after=1, seed=12)
        walkers = [StormPerson(u, STORM_ANSWERS, handled) for u in people]
        t0 = time.monotonic()
        await asyncio.gather(*(p.walk() for p in walkers))
        elapsed = time.monotonic() - t0
        fake.stop_chaos()
        await fake.idle()
    expected = expected_draft(STORM_ANSWERS, date.today())
    wrong, lost, off = [], [], []
    for p in walkers:
        row = await draft_of(db_path, p.user.id)
        got = row.get("draft") or {}
        for field in STORM_ANSWERS:
            if field != "attachments" and got.get(field) != expected[field]:
                (lost if got.get(field) is None else wrong).append((p.user.id, field, got.get(field)))
        last = last_question(p.user)  # once the bot is idle: the question they really see
        seen = p.step_of(last)
        if row.get("step") != seen or row.get("n") != prompt_n(last):
            off.append((p.user.id, row.get("step"), seen))
    stuck = [(p.user.id, p.stuck) for p in walkers if p.stuck]
    sends = fake.calls_of("sendMessage")
    print(f"\nstorm: {len(walkers)} people, {len(sends)} sendMessage calls, injected {dict(fake.chaos_counts)}, "
          f"answers sent again after a lost reply: {sum(p.retries for p in walkers)}, "
          f"wrong fields {len(wrong)}, lost steps {len(lost)}, off their question {len(off)}, stuck {len(stuck)}, "
          f"{elapsed:.1f} s")
    assert sum(fake.chaos_counts.values()) > 100
    assert wrong == [] and lost == [] and off == [] and stuck == []


# ----------------------------------------------------------------------------------- burst (acceptance 3)

async def test_burst_30_people_ask_for_a_person_at_once(fake, db_path, no_unhandled):
    """The group's pace is shrunk for speed: 10 posts per 1-second window instead of 20 per minute (the
    Sender's ``per_group_window`` and the fake's limit are the same setting)."""
    pace, window = 10, 1.0
    fake.per_group_limit, fake.per_group_per_minute, fake.per_group_window = True, pace, window
    group = fake.group(GROUP, "Desk")
    people = [fake.user(30_000 + i, f"Человек{i}", language_code="ru") for i in range(30)]
    async with running_bot(fake, db_path, clock=FakeClock(TUESDAY), operators_chat_id=GROUP) as app:
        sender = app.sender
        sender.chat_interval = 0.0
        sender.per_group_per_minute, sender.per_group_window = pace, window
        for u in people:
            await u.send("/start")
        for u in people:
            await u.expect(timeout=20)  # each one's menu (a quiet spell is no proof: PostgreSQL answers slower)

        async def ask(u: FakeUser) -> float:
            t0 = time.monotonic()
            await u.press("👤")
            await u.expect_text("№", timeout=10)
            return time.monotonic() - t0

        waits = await asyncio.gather(*(ask(u) for u in people))
        t_cards = time.monotonic()
        deadline = t_cards + 30
        while len([m for m in group.messages if m.method == "sendMessage"]) < 30 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        cards = [c for c in fake.calls_of("sendMessage", chat_id=GROUP) if c.ok]
        elapsed = max(c.at for c in cards) - min(c.at for c in cards)
    at = sorted(c.at for c in cards)
    peak = max(sum(1 for t in at if a <= t < a + window) for a in at)
    print(f"\nburst: answered in max {max(waits):.2f} s (median {sorted(waits)[15]:.2f} s); {len(cards)} cards "
          f"over {elapsed:.1f} s, peak {peak} per {window:.0f} s window (limit {pace}), 429s {fake.count_429}")
    assert max(waits) < 2.0
    assert len(cards) == 30 and fake.count_429 == 0 and peak <= pace
    assert elapsed >= (30 // pace - 1) * window  # really paced, not sent all at once
