"""Tracking of filed complaints, end to end: the real app polling the fake Bot API, a FakeClock, what it stored
read back through its repositories; every test on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date

from bot.domain.clock import FakeClock
from bot.domain.complaint import Complaint
from bot.domain.deadlines import compute
from bot.domain.entities import Case, CaseEvent, Reminder, User
from bot.domain.workdays import default_calendar
from bot.services.i18n import build_i18n
from handlers.tracking.callbacks import TrkCb, TrkWizCb
from tests.backends import repositories, running_bot
from tests.fakeapi import BotMessage, FakeUser

pytestmark = pytest.mark.usefixtures("both_backends")  # on SQLite and on PostgreSQL

I18N = build_i18n("ru")
ALMATY = ZoneInfo("Asia/Almaty")
REGISTERED = date(2026, 12, 14)  # Monday; 16 December (Independence Day) is a day off
# Tue 15.12.2026, before the first reminder (21.12 10:00: one working day before the 22.12 deadline).
START = datetime(2026, 12, 15, 9, 30, tzinfo=ALMATY)


def tr(msgid: str, lang: str, **params) -> str:
    text = I18N.gettext(msgid, locale=lang)
    assert text != msgid, f"{msgid!r} is not translated into {lang}"
    return text.format(**params) if params else text


def long(day: date, lang: str) -> str:
    return format_date(day, format="long", locale=lang)


def plain(text: str) -> str:
    """Babel puts narrow no-break spaces into some formats (kk: "2026\u202fж."); compare with plain spaces."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


async def cases_of(db_path, user_id: int) -> list[Case]:
    """A person's tracked cases as stored, oldest first (on the test's backend, through its repository)."""
    async with repositories(db_path) as repos:
        return sorted(await repos.cases.list_for_user(user_id), key=lambda c: c.id)


async def reminders_of(db_path, case_id: int, status: str | None = "pending") -> list[Reminder]:
    """A case's reminders (those in ``status``; all with None), in due_at order."""
    async with repositories(db_path) as repos:
        return await repos.reminders.list_for_case(case_id, statuses=[status] if status else None)


async def events_of(db_path, case_id: int) -> list[CaseEvent]:
    async with repositories(db_path) as repos:
        return await repos.cases.events(case_id)


async def user_of(db_path, user_id: int) -> User | None:
    async with repositories(db_path) as repos:
        return await repos.users.get(user_id)


def at_ten(day: date) -> str:
    """A reminder's due_at in UTC ISO form: 10:00 Almaty."""
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=ALMATY).astimezone(ZoneInfo("UTC")).isoformat(
        timespec="seconds")


async def track_from_scratch(u: FakeUser, lang: str, *, recipient: str = "Service provider · 5 working days",
                             filed_with: str = "ЦОН <Есиль>", registered: str = "14.12.2026",
                             reg_number: str | None = "ЖТ-2026-123") -> BotMessage:
    """/my -> "I already filed a complaint" -> answers; returns the timeline message."""
    await u.send("/my")
    await u.expect()
    await u.press(tr("➕ I already filed a complaint", lang))
    await u.expect()  # intro
    await u.expect()  # who reviews it
    await u.press(tr(recipient, lang))
    await u.expect()  # where filed
    await u.send(filed_with)
    await u.expect()  # registration date
    await u.send(registered)
    await u.expect()  # registration number
    if reg_number is None:
        await u.press(tr("⏭ Skip", lang))
    else:
        await u.send(reg_number)
    await u.expect()  # learned on
    await u.press(tr("⏭ Skip", lang))
    return await u.expect()


# ------------------------------------------------------------------------------------------ tests

async def test_track_from_scratch_shows_timeline_and_plans_reminders(fake, db_path, no_unhandled):
    clock = FakeClock(START)
    async with running_bot(fake, db_path, clock=clock):
        kk = fake.user(301, "Айгерім", language_code="kk")
        ru = fake.user(302, "Ольга", language_code="ru")
        await kk.send("/my")
        empty = await kk.expect()
        assert tr("You have no tracked complaints yet.", "kk") in empty.text

        timeline = await track_from_scratch(kk, "kk")
        assert "2026 ж. 22 желтоқсан" in plain(timeline.text)  # review due (5 working days, 16.12 a holiday)
        assert long(date(2026, 12, 22), "kk") in timeline.text
        assert long(date(2026, 12, 23), "kk") in timeline.text  # escalate from
        assert long(REGISTERED, "kk") in timeline.text
        for msgid in ("Deadline for the answer", "No answer by now is inaction of the body: you can appeal it",
                      "Law on public services, art. 25: the service provider reviews it within 5 working days",
                      "A complaint not reviewed in time is inaction, which can be appealed to the quality authority, "
                      "a higher body or the court",
                      "This is guidance, not legal advice."):
            assert tr(msgid, "kk") in timeline.text
        assert "&lt;Есиль&gt;" in timeline.text and "<Есиль>" in timeline.plain_text  # user text escaped
        assert "ℹ️" not in timeline.text  # 2026 is a verified year: no provisional note
        assert tr("⏳ They extended it", "kk") in timeline.buttons

        timeline_ru = await track_from_scratch(ru, "ru", reg_number=None)
        assert "22 декабря 2026 г." in plain(timeline_ru.text)
        assert "23 декабря 2026 г." in plain(timeline_ru.text)
        assert tr("Deadline for the answer", "ru") in timeline_ru.text

    (case,) = await cases_of(db_path, 301)
    assert (case.recipient_kind, case.registered_on, case.filed_with, case.reg_number, case.status) == (
        "provider", date(2026, 12, 14), "ЦОН <Есиль>", "ЖТ-2026-123", "open")
    planned = [(r.kind, r.due_at.isoformat()) for r in await reminders_of(db_path, case.id)]  # UTC, whole seconds
    assert planned == [
        ("review_due_soon", at_ten(date(2026, 12, 21))),
        ("review_due_today", at_ten(date(2026, 12, 22))),
        ("review_missed", at_ten(date(2026, 12, 23))),
    ]
    (case_ru,) = await cases_of(db_path, 302)
    assert case_ru.reg_number is None and len(await reminders_of(db_path, case_ru.id)) == 3
    assert [e.kind for e in await events_of(db_path, case.id)] == ["created"]


async def test_track_saved_complaint_from_my(fake, db_path, no_unhandled):
    clock = FakeClock(START)
    async with running_bot(fake, db_path, clock=clock) as app:
        u = fake.user(311, "Ольга", language_code="ru")
        await u.send("/start")
        await u.expect()
        complaint = Complaint(recipient_kind="quality_authority", recipient_name="Департамент АДГС по г. Астана",
                              learned_date=date(2026, 11, 20), grounds="deadline_violated")
        stored = await app.repos.complaints.create(311, complaint, "ru", clock.now())

        await u.send("/my")
        listing = await u.expect()
        assert stored.number in listing.text
        track = tr("➕ Track {number}", "ru", number=stored.number)
        assert track in listing.buttons
        await u.press(track, listing)
        intro = await u.expect()
        assert stored.number in intro.text
        await u.expect()  # recipient and body known from the complaint: next is "forwarded?"
        await u.press(tr("Yes, through the service provider", "ru"))
        await u.expect()  # registration date
        await u.send("14.12.2026")
        await u.expect()  # registration number
        await u.send("01-23/456")
        timeline = await u.expect()  # the learned date came from the complaint: no more questions

        expected = compute("quality_authority", REGISTERED, default_calendar(), forwarded_via_provider=True,
                           learned_on=date(2026, 11, 20))
        assert long(expected.forwarding_due, "ru") in timeline.text
        assert long(expected.review_due, "ru") in timeline.text
        assert long(expected.filing_limit, "ru") in timeline.text
        assert tr("APPK art. 91 p. 4: forwarded within 3 working days of arrival", "ru") in timeline.text
        assert tr("Filed with the service provider, to be forwarded to the quality authority.", "ru") in timeline.text
        if expected.provisional:
            assert "ℹ️" in timeline.text

        # tracked now: /my no longer offers it, and lists the case instead
        await u.send("/my")
        listing = await u.expect()
        assert track not in listing.buttons
        assert "Департамент АДГС по г. Астана" in listing.text

    (case,) = await cases_of(db_path, 311)
    assert case.complaint_id == stored.id and case.forwarded_via_provider is True
    assert case.learned_on == date(2026, 11, 20) and case.reg_number == "01-23/456"
    kinds = {r.kind for r in await reminders_of(db_path, case.id)}
    assert "forwarding_due" in kinds and "review_due_today" in kinds


async def test_extension_told_late_answer_and_range(fake, db_path, no_unhandled):
    # Mon 21.12.2026 09:30: the review_due_soon reminder (10:00 today) is still pending.
    clock = FakeClock(datetime(2026, 12, 21, 9, 30, tzinfo=ALMATY))
    async with running_bot(fake, db_path, clock=clock):
        u = fake.user(321, "Ольга", language_code="ru")
        await track_from_scratch(u, "ru")
        (case,) = await cases_of(db_path, 321)
        before = {r.id for r in await reminders_of(db_path, case.id)}
        assert len(before) == 3

        await u.press(tr("⏳ They extended it", "ru"))
        await u.expect()  # by how many days
        await u.send("11")
        refused = await u.expect()
        assert tr("The review term can be extended by at most 10 working days, so the number must be from 1 to 10. "
                  "Please check it and send a number from 1 to 10.", "ru") in refused.text
        assert (await cases_of(db_path, 321))[0].extended_by == 0
        await u.send("7")
        await u.expect()  # extended on
        await u.send("14.12.2026")
        await u.expect()  # told on
        await u.send("21.12.2026")  # notice due 18.12 (15, 17, 18): told late
        timeline = await u.expect()
        assert "31 декабря 2026 г." in plain(timeline.text)  # 22.12 + 7 working days
        breach = tr("⚠️ You were told about the extension on {told}, later than 3 working days after it (by {due}). "
                    "This breaches the notice rule: you may point it out in a further complaint.", "ru",
                    told=long(date(2026, 12, 21), "ru"), due=long(date(2026, 12, 18), "ru"))
        assert breach in timeline.text
        assert tr("Original deadline for the answer", "ru") in timeline.text
        assert "ℹ️" in timeline.text  # escalate_from is 01.01.2027: a year not verified yet

        row = (await cases_of(db_path, 321))[0]
        assert (row.extended_by, row.extended_on, row.extension_told_on) == (
            7, date(2026, 12, 14), date(2026, 12, 21))
        pending = await reminders_of(db_path, case.id)
        assert pending and not {r.id for r in pending} & before  # re-planned
        assert {r.payload["review_due"] for r in pending} == {"2026-12-31"}
        cancelled = await reminders_of(db_path, case.id, "cancelled")
        assert {r.id for r in cancelled} == before
        kinds = [e.kind for e in await events_of(db_path, case.id)]
        assert kinds == ["created", "extended", "extension_notice_late"]

        # "No answer yet": working days left until 31.12 (22, 23, 24, 25, 28, 29, 30, 31)
        await u.press(tr("❓ No answer yet", "ru"))
        wait = await u.expect()
        assert "осталось 8 рабочих дней" in wait.text

        # "I got an answer": on what day (the limits to appeal it count from it)
        await u.press(tr("✅ I got an answer", "ru"))
        await u.expect()
        await u.send("21.12.2026")
        await u.expect()
        row = (await cases_of(db_path, 321))[0]
        assert row.status == "answered" and row.answered_on == date(2026, 12, 21)
        assert await reminders_of(db_path, case.id) == []  # nothing pending any more


async def test_my_lists_status_next_date_and_days_left(fake, db_path, no_unhandled):
    clock = FakeClock(START)
    async with running_bot(fake, db_path, clock=clock):
        for uid, lang, status, next_text, left in (
            (331, "kk", "Мәртебесі: жауап күтілуде", "2026 ж. 22 желтоқсан", "4 жұмыс күні қалды"),
            (332, "ru", "Статус: ожидается ответ", "22 декабря 2026 г.", "осталось 4 рабочих дня"),
        ):
            u = fake.user(uid, "Test", language_code=lang)
            await track_from_scratch(u, lang)
            await u.send("/my")
            listing = await u.expect()
            assert status in listing.text
            assert plain(tr("Next date: {date}, {what}", lang, date=next_text,
                            what=tr("Deadline for the answer", lang))) in plain(listing.text)
            assert left in listing.text
            await u.send(tr("📋 My complaints", lang))
            assert left in (await u.expect()).text

        # a week later the deadline has passed: overdue by N working days
        clock.set(datetime(2026, 12, 24, 12, 0, tzinfo=ALMATY))
        u = fake.user(332, "Test", language_code="ru")
        await u.send("/my")
        listing = await u.expect_text("Статус")
        assert "просрочено на 2 рабочих дня" in listing.text


async def test_forged_case_id_is_refused(fake, db_path, no_unhandled):
    clock = FakeClock(START)
    async with running_bot(fake, db_path, clock=clock):
        owner = fake.user(341, "Owner", language_code="ru")
        await track_from_scratch(owner, "ru")
        (case,) = await cases_of(db_path, 341)
        intruder = fake.user(342, "Intruder", language_code="kk")
        await intruder.send("/my")
        await intruder.expect()
        for action in ("close", "ans", "ext", "open", "wait"):
            qid = await intruder.press_data(TrkCb(a=action, id=case.id).pack())
            answer = await intruder.answered_callback(qid)
            assert answer.get("text") == tr("This button is no longer valid.", "kk")
        for data in (TrkCb(a="cpl", id=999).pack(), "trk:zzz:1", "trk:open:x",
                     TrkWizCb(a="rk", v="provider").pack()):  # unknown complaint, action, data; no flow
            qid = await intruder.press_data(data)
            assert (await intruder.answered_callback(qid)).get("text") == tr("This button is no longer valid.", "kk")
        await intruder.expect_no_message()
    row = (await cases_of(db_path, 341))[0]
    assert row.status == "open" and row.extended_by == 0
    assert len(await reminders_of(db_path, case.id)) == 3
    assert [e.kind for e in await events_of(db_path, case.id)] == ["created"]


async def test_stop_and_resume_reminders(fake, db_path, no_unhandled):
    clock = FakeClock(START)
    async with running_bot(fake, db_path, clock=clock):
        u = fake.user(351, "Ольга", language_code="ru")
        await track_from_scratch(u, "ru")
        (case,) = await cases_of(db_path, 351)
        await u.send("/my")
        await u.expect()
        await u.press(tr("🔕 Stop reminders", "ru"))
        await u.expect_text(tr("Reminders are off. Your complaints stay here; you can turn reminders back on in /my.",
                               "ru"))
        listing = await u.expect()
        assert tr("🔔 Resume reminders", "ru") in listing.buttons
        assert (await user_of(db_path, 351)).reminders_enabled is False
        assert await reminders_of(db_path, case.id) == []

        await u.press(tr("🔔 Resume reminders", "ru"))
        await u.expect_text(tr("Reminders are on again.", "ru"))
        listing = await u.expect()
        assert tr("🔕 Stop reminders", "ru") in listing.buttons
        assert (await user_of(db_path, 351)).reminders_enabled is True
        assert [r.kind for r in await reminders_of(db_path, case.id)] == [
            "review_due_soon", "review_due_today", "review_missed"]


async def test_reminder_reaches_the_user_in_their_language(fake, db_path, no_unhandled):
    clock = FakeClock(START)
    async with running_bot(fake, db_path, clock=clock) as app:
        u = fake.user(361, "Айгерім", language_code="kk")
        await track_from_scratch(u, "kk")
        (case,) = await cases_of(db_path, 361)
        clock.set(datetime(2026, 12, 21, 10, 0, tzinfo=ALMATY))
        await app.reminders.tick()
        text = tr("Reminder: the answer to your complaint {ref} is due on {date}, in one working day.", "kk",
                  ref="«ЦОН &lt;Есиль&gt;», № ЖТ-2026-123", date=long(date(2026, 12, 22), "kk"))
        reminder = await u.expect_text(text)
        assert reminder.text == text
    sent = await reminders_of(db_path, case.id, "sent")
    assert [r.kind for r in sent] == ["review_due_soon"]


async def test_language_switch_mid_question_asks_it_again_in_the_new_language(fake, db_path, no_unhandled):
    async with running_bot(fake, db_path, clock=FakeClock(START)):
        u = fake.user(341, "Айгерім", language_code="kk")
        await u.send("/my")
        await u.expect()
        await u.press(tr("➕ I already filed a complaint", "kk"))
        await u.expect()  # intro
        await u.expect()  # who reviews it
        await u.press(tr("Service provider · 5 working days", "kk"))
        await u.expect()  # where filed, in Kazakh
        await u.send("/language")
        await u.expect()
        await u.press("Русский")
        where = tr("Where did you file it? Write the name of the body or office, for example «Public Service Centre "
                   "No. 2, Astana».", "ru")
        question = await u.expect(predicate=lambda m: m.text == where)
        assert tr("⏭ Skip", "ru") in question.buttons
        await u.send("ЦОН Есиль")  # the answer still lands on the same question
        await u.expect_text(tr("What is the registration date? It is on the talon (the slip you got when filing) or "
                               "in eOtinish / your eGov personal account. Type it (for example {example}) or pick "
                               "it below.", "ru", example="15.12.2026"))


def test_case_buttons_carry_what_trkcb_packs():
    """case_button writes TrkCb's data out itself (handlers/tracking/keyboards.py): the same string for every
    action and id, and the kept button of one language is never shown in the other."""
    from handlers.tracking.callbacks import TrkAction
    from handlers.tracking.keyboards import case_button

    for action in TrkAction:
        for ref in (0, 7, 2**63 - 1):
            assert case_button("x", action, ref).callback_data == TrkCb(a=action, id=ref).pack()
    kk, ru = tr("📋 My complaints", "kk"), tr("📋 My complaints", "ru")
    assert case_button(kk, TrkAction.LIST).text == kk and case_button(ru, TrkAction.LIST).text == ru


async def test_my_after_a_language_switch_is_all_in_the_new_language(fake, db_path, no_unhandled):
    async with running_bot(fake, db_path, clock=FakeClock(START)):
        u = fake.user(371, "Айгерім", language_code="kk")
        await track_from_scratch(u, "kk")
        await u.send("/my")
        before = await u.expect()
        assert tr("🔕 Stop reminders", "kk") in before.buttons
        await u.send("/language")
        await u.expect()
        await u.press("Русский")
        await u.expect()
        await u.send("/my")
        after = await u.expect_text(tr("<b>Your tracked complaints</b>", "ru").replace("<b>", "").replace("</b>", ""))
        assert tr("🔕 Stop reminders", "ru") in after.buttons
        assert tr("➕ I already filed a complaint", "ru") in after.buttons
        assert tr("➕ I already filed a complaint", "kk") not in after.buttons
        assert after.callback_data(tr("🔕 Stop reminders", "ru")) == before.callback_data(tr("🔕 Stop reminders", "kk"))


def test_translations_follow_the_update_locale():
    """render.translations() keeps each locale's texts apart (a language switch shows the other at once)."""
    from handlers.tracking.render import translations

    for lang in ("kk", "ru", "kk"):
        with I18N.context(), I18N.use_locale(lang):
            gettext = translations()
            assert gettext("Status: {status}") == tr("Status: {status}", lang)
            assert gettext("<b>Your tracked complaints</b>") == tr("<b>Your tracked complaints</b>", lang)
    assert tr("Status: {status}", "kk") != tr("Status: {status}", "ru")
