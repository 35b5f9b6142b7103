"""Conversations that forgive mistakes and never lead a person astray (issue 11, citizens; issue 12 point 3).

One end-to-end test per point, each through the real app polling the fake Bot API with a FakeClock, on SQLite
and on PostgreSQL: a
confirmed Cancel, the overdue tracking case (with the transcript a person sees), the filing limit moved off
a day off and the "few days left" warning, real text and consistent dates, Back and a date picker in
tracking, the court at the recipient step, a confirmed Close, local dates, and /my in pages.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.domain.clock import FakeClock
from bot.domain.complaint import Complaint
from bot.domain.deadlines import court_limit_from, further_complaint_limit_from
from bot.domain.workdays import default_calendar
from tests.backends import running_bot
from tests.fakeapi import BotMessage, FakeUser
from tests.test_tracking import cases_of, long, plain, tr
from tests.test_wizard import I18N, Walker, draft_of, fsm_row, individual_ru

pytestmark = pytest.mark.usefixtures("both_backends")  # on SQLite and on PostgreSQL

ALMATY = ZoneInfo("Asia/Almaty")
CAL = default_calendar()
NOV24 = datetime(2026, 11, 24, 12, 0, tzinfo=ALMATY)  # Tuesday
DEC01 = datetime(2026, 12, 1, 16, 0, tzinfo=ALMATY)  # Tuesday


def answers_ru(**overrides) -> dict:
    """The Russian individual's answers with dates that suit a clock in late November 2026."""
    answers = individual_ru()
    answers.update(decision_date="28.08.2026", learned_date="29.08.2026")
    answers.update(overrides)
    return answers


def texts(m: BotMessage) -> list[list[str]]:
    return [[b["text"] for b in row] for row in m.button_rows]


class Transcript:
    """What a person typed and pressed, and what the bot showed them (plain text and buttons)."""

    def __init__(self, user: FakeUser) -> None:
        self.user = user
        self.lines: list[str] = []

    async def say(self, text: str) -> None:
        self.lines.append(f"» {text}")
        await self.user.send(text)

    async def tap(self, label: str, message: BotMessage | None = None) -> None:
        self.lines.append(f"» [{label}]")
        await self.user.press(label, message)

    async def read(self, **kw) -> BotMessage:
        m = await self.user.expect(**kw)
        self.lines.append("« " + (m.plain_text or m.text or "").replace("\n", "\n  "))
        if m.keyboard_type == "inline":
            self.lines.append("  " + " ".join(f"[{t}]" for row in texts(m) for t in row))
        return m

    def __str__(self) -> str:
        return "\n".join(self.lines)


# ------------------------------------------------------------------------------------------- 11.1

async def test_cancel_asks_before_deleting_and_never_sits_where_skip_sits(fake, db_path, no_unhandled):
    user = fake.user(1101, "Ольга", language_code="ru")
    cancel = tr("✖️ Cancel", "ru")
    answers = answers_ru()
    async with running_bot(fake, db_path, clock=FakeClock(NOV24)):
        w = Walker(fake, db_path, user)
        await w.begin()
        while True:
            rows, step = texts(w.prompt), await w.step()
            # the same place on every step: Cancel alone on the last row, Skip never on it
            assert rows[-1] == [cancel], (step, rows)
            assert all(cancel not in row for row in rows[:-1]), (step, rows)
            if step == "review":
                break
            value = answers[step]
            for item in value if isinstance(value, list) else [value]:
                await w.answer(item)
        before = await draft_of(db_path, 1101)

        await w.press("cx", wait=False)
        ask = await user.expect()
        delete = I18N.gettext("Delete this draft? The {n} answer given so far will be lost.",
                              "Delete this draft? The {n} answers given so far will be lost.", 20, locale="ru")
        assert delete.format(n=20) in ask.text and "20 ответов" in ask.text  # 16 + the identity document
        assert (await draft_of(db_path, 1101))["draft"] == before["draft"]  # nothing deleted yet
        await user.press(tr("↩️ No, keep the draft", "ru"), ask)
        again = await w.next_prompt()  # the review, asked again
        assert (await draft_of(db_path, 1101))["draft"] == before["draft"] and await w.step() == "review"
        assert tr("Please check your complaint. Press a button below to change a field.", "ru") in again.text

        await user.send("/cancel")  # the command asks too
        ask = await user.expect()
        assert tr("↩️ No, keep the draft", "ru") in ask.buttons
        assert (await draft_of(db_path, 1101))["draft"] == before["draft"]
        stale = await user.press_data(w.find("cf", message=again), again)  # the review under the question is stale
        assert (await user.answered_callback(stale))["text"] == tr("This button is no longer valid.", "ru")
        await user.press(tr("🗑 Yes, delete it", "ru"), ask)
        await user.expect_text(tr("The draft is deleted. What would you like to do?", "ru"))
        assert await fsm_row(db_path, 1101) is None


# ------------------------------------------------------------------------------------------- 11.2

async def track(t: Transcript, lang: str, registered: str, learned: str) -> BotMessage:
    await t.say("/my")
    await t.read()
    await t.tap(tr("➕ I already filed a complaint", lang))
    await t.read()  # intro
    await t.read()  # who reviews it
    await t.tap(tr("Service provider · 5 working days", lang))
    await t.read()  # where
    await t.say("ЦОН Есиль" if lang == "ru" else "Есіл ауданының ХҚКО")
    await t.read()  # registration date
    await t.say(registered)
    await t.read()  # registration number
    await t.say("ЖТ-2025-77")
    await t.read()  # learned on
    await t.say(learned)
    return await t.read()


PASSED_COURT = ("The one-month limit to go to court ended on {date}. The court can restore it for a valid reason: "
                "ask for it in the claim and explain the reason (APPK art. 136).")
PASSED_FURTHER = ("The 3-month limit for this complaint ended on {date}. It can be restored for a valid reason "
                  "(illness, a trip, waiting for the answer): file it anyway, ask for the limit to be restored and "
                  "explain the reason (APPK art. 92).")


async def test_overdue_case_says_what_is_overdue_and_what_is_still_open(fake, db_path, no_unhandled, capsys):
    clock = FakeClock(DEC01)
    due = date(2025, 11, 10)  # registered Mon 03.11.2025 with the provider: 5 working days
    # both limits count from the day the review term expired (the earlier reading: docs/legal.md, 'Counting terms')
    court, further = date(2025, 12, 10), date(2026, 2, 10)
    assert court == court_limit_from(due, CAL) and further == further_complaint_limit_from(due, CAL)
    async with running_bot(fake, db_path, clock=clock) as app:
        for uid, lang in ((1121, "ru"), (1122, "kk")):
            u = fake.user(uid, "Test", language_code=lang)
            t = Transcript(u)
            timeline = await track(t, lang, "03.11.2025", "20.10.2025")
            text = plain(timeline.text)
            assert tr("Saved. Here are the deadlines; I will remind you of them.", lang) not in text
            assert plain(tr("Status: {status}", lang, status=tr("no answer in time", lang))) in text
            assert plain(long(due, lang)) in text
            for msgid, day in ((PASSED_COURT, court), (PASSED_FURTHER, further)):
                assert plain(tr(msgid, lang, date=long(day, lang))) in text, msgid
            assert tr("A complaint not reviewed in time is inaction of the body, and inaction can itself be "
                      "appealed.", lang) in text

            await t.tap(tr("❓ No answer yet", lang), timeline)
            wait = plain((await t.read()).text)
            assert plain(long(further, lang)) in wait and plain(long(court, lang)) in wait
            # no advice to file "by" a day that is long gone: the overdue days and the passed limits instead
            late = CAL.working_days_between(due, DEC01.date())
            overdue = I18N.gettext("overdue by {n} working day", "overdue by {n} working days", late, locale=lang)
            assert plain(overdue.format(n=late)) in wait
            assert plain(tr(PASSED_FURTHER, lang, date=long(further, lang))) in wait

            # the reminder loop's "missed" message, sent once for a case entered late, says the same
            await app.reminders.tick()
            reminder = plain((await t.read()).text)
            assert plain(long(court, lang)) in reminder and plain(long(further, lang)) in reminder
            assert "136" in reminder

            # a case whose court limit passed while the further complaint is still open
            timeline = await track(t, lang, "01.10.2026", "20.09.2026")
            text = plain(timeline.text)
            open_until = further_complaint_limit_from(date(2026, 10, 8), CAL)  # due 08.10.2026
            assert open_until == date(2027, 1, 8)
            assert plain(tr("Limit: 3 months (APPK art. 92). Last day: {date}.", lang,
                            date=long(open_until, lang))) in text
            assert plain(long(date(2026, 11, 9), lang)) in text  # court: 08.11 is a Sunday

            # an answered case: court one month, a further complaint 3 months, each with its last day
            await t.tap(tr("✅ I got an answer", lang), timeline)
            await t.read()  # on what date?
            await t.say("20.11.2026")
            answered = plain((await t.read()).text)
            court_day = court_limit_from(date(2026, 11, 20), CAL)
            assert court_day == date(2026, 12, 21)  # 20.12.2026 is a Sunday
            last = {"ru": "не позднее {date}", "kk": "Соңғы күні: {date}."}[lang].format(date=long(court_day, lang))
            assert plain(last) in answered
            assert plain(long(further_complaint_limit_from(date(2026, 11, 20), CAL), lang)) in answered
            with capsys.disabled():
                print(f"\n----- transcript ({lang}) -----\n{t}\n")


# ------------------------------------------------------------------------------------------- 11.3

async def test_filing_limit_is_moved_off_a_day_off_and_a_close_limit_is_said_twice(fake, db_path, no_unhandled):
    clock = FakeClock(NOV24)  # 29.08.2026 + 3 months = Sun 29.11.2026: the limit is Mon 30.11.2026
    async with running_bot(fake, db_path, clock=clock):
        user = fake.user(1131, "Ольга", language_code="ru")
        w = Walker(fake, db_path, user)
        await w.begin()
        await w.walk(answers_ru())
        assert "30.11.2026" in w.prompt.text, w.prompt.text
        soon = I18N.gettext(
            "⏳ The 3-month limit to file this complaint ends on {date} ({n} working day left). File it as soon as "
            "you can: a complaint filed later may be left without review unless the limit is restored for a valid "
            "reason.",
            "⏳ The 3-month limit to file this complaint ends on {date} ({n} working days left). File it as soon as "
            "you can: a complaint filed later may be left without review unless the limit is restored for a valid "
            "reason.", 4, locale="ru").format(date="30.11.2026", n=4)
        assert "4 рабочих дня" in soon
        assert soon in w.prompt.text  # the review, before Confirm
        await w.confirm()
        ready = await user.expect()
        assert soon in ready.text

        clock.set(datetime(2026, 12, 5, 12, 0, tzinfo=ALMATY))
        late = fake.user(1132, "Ольга", language_code="ru")
        w2 = Walker(fake, db_path, late)
        await w2.begin()
        await w2.walk(answers_ru(), until="learned_date")
        await w2.send("29.08.2026")
        warned = [m.text for m in late.messages if "3" in (m.text or "") and "30.11.2026" in (m.text or "")]
        assert warned, [m.text for m in late.messages[-3:]]
        assert not any("29.11.2026" in (m.text or "") for m in late.messages)


# ------------------------------------------------------------------------------------------- 11.4

async def test_nonsense_text_and_inconsistent_dates_are_refused_with_the_reason(fake, db_path, no_unhandled):
    async with running_bot(fake, db_path, clock=FakeClock(NOV24)):
        user = fake.user(1141, "Ольга", language_code="ru")
        w = Walker(fake, db_path, user)
        await w.begin()
        answers = answers_ru(decision_date="10.11.2026", learned_date="12.11.2026")

        async def refused(step: str, text: str, msgid: str) -> None:
            before = await draft_of(db_path, 1141)
            await user.send(text)
            answer = await user.expect()
            assert await draft_of(db_path, 1141) == before, (step, text)
            assert tr(msgid, "ru").split("{")[0] in answer.text, (step, text, answer.text)

        address = ("That is too short for an address: write the city or village, the street and the house (at least "
                   "{min} characters), for example «Astana, Abai avenue 10, flat 5».")
        await w.walk(answers, until="postal_address")
        await refused("postal_address", ".", "Please write it in words: there are no letters in the answer.")
        await refused("postal_address", "ул", address)
        await refused("postal_address", "12345 67890", "Please write it in words: there are no letters in the answer.")
        await w.walk(answers, until="learned_date")
        await refused("learned_date", "01.11.2026", "You could not have learned of the decision before it was made "
                                                    "({date}). Please check the date.")
        await w.walk(answers, until="description")
        await refused("description", ".", "Please write it in words: there are no letters in the answer.")
        await refused("description", "плохо", "Please describe what happened in a few sentences (at least {min} "
                                              "characters): the body reviews the complaint on what you write here.")
        await w.walk(answers, until="demands")
        await refused("demands", ".", "Please write it in words: there are no letters in the answer.")
        await refused("demands", "да", "Please write what you ask for in words (at least {min} characters), for "
                                      "example «to provide the service within the term set by the standard».")
        await w.walk(answers)
        # editing the decision date to after the learned date is refused too
        await w.press("ed", "decision_date")
        await refused("decision_date", "20.11.2026", "The decision cannot be later than the day you learned of it "
                                                     "({date}). Please check the date.")


# ------------------------------------------------------------------------------------------- 11.5

async def test_tracking_questions_have_back_and_a_date_picker(fake, db_path, no_unhandled):
    today = date(2026, 12, 10)
    async with running_bot(fake, db_path, clock=FakeClock(datetime(2026, 12, 10, 11, 0, tzinfo=ALMATY))):
        u = fake.user(1151, "Ольга", language_code="ru")
        back = tr("⬅️ Back", "ru")
        await u.send("/my")
        await u.expect()
        await u.press(tr("➕ I already filed a complaint", "ru"))
        await u.expect()  # intro
        await u.expect()  # who reviews it
        await u.press(tr("Service provider · 5 working days", "ru"))
        where = await u.expect()
        assert back in where.buttons
        await u.press(back, where)
        again = await u.expect()  # who reviews it, asked again
        assert tr("Service provider · 5 working days", "ru") in again.buttons
        await u.press(tr("Service provider · 5 working days", "ru"), again)
        await u.expect()
        await u.send("ЦОН")
        registered_q = await u.expect()
        assert back in registered_q.buttons and "7" in registered_q.buttons  # a month grid
        await u.press(back, registered_q)
        await u.expect()  # where, again
        await u.send("ЦОН Есиль")
        registered_q = await u.expect()
        examples = [date(int(y), int(m), int(d)) for d, m, y in re.findall(r"(\d{2})\.(\d{2})\.(\d{4})",
                                                                             registered_q.text)]
        assert examples and all(e <= today for e in examples), registered_q.text
        await u.press("7", registered_q)  # Mon 07.12.2026
        number_q = await u.expect()
        await u.press(back, number_q)
        registered_q = await u.expect()
        await u.press("7", registered_q)
        await u.expect()
        await u.send("ЖТ-1")
        learned_q = await u.expect()
        assert back in learned_q.buttons
        await u.press("‹", learned_q)  # November
        edited = await u.expect_edit(learned_q)
        await u.press("20", edited)
        timeline = await u.expect()
        assert tr("Deadline for the answer", "ru") in timeline.text
        (case,) = await cases_of(db_path, 1151)
        assert (case.filed_with, case.registered_on, case.learned_on) == (
            "ЦОН Есиль", date(2026, 12, 7), date(2026, 11, 20))

        # the extension questions too
        await u.press(tr("⏳ They extended it", "ru"), timeline)
        await u.expect()
        await u.press("3")
        on_q = await u.expect()
        assert back in on_q.buttons and "8" in on_q.buttons
        await u.press(back, on_q)
        await u.expect()  # how many days, again
        await u.press("4")
        on_q = await u.expect()
        await u.press("8", on_q)
        await u.expect()  # told on
        await u.press(tr("Not told yet", "ru"))
        await u.expect()
        (case,) = await cases_of(db_path, 1151)
        assert (case.extended_by, case.extended_on) == (4, date(2026, 12, 8))


# ------------------------------------------------------------------------------------------- 11.6

async def test_recipient_step_offers_the_court_and_understands_it_typed(fake, db_path, no_unhandled):
    async with running_bot(fake, db_path, clock=FakeClock(NOV24)):
        for uid, lang, typed in ((1161, "ru", "в суд"), (1162, "kk", "сотқа")):
            user = fake.user(uid, "Test", language_code=lang)
            w = Walker(fake, db_path, user)
            await w.begin()
            await w.walk(answers_ru(), until="recipient_kind")
            assert any("⚖️" in b for b in w.prompt.buttons), w.prompt.buttons
            court = tr("⚖️ Court (after a pre-trial complaint)", lang)
            assert court in w.prompt.buttons
            before = (await draft_of(db_path, uid))["draft"]
            info_msgid = ("A court hears a claim only after a pre-trial complaint like this one, unless a law says "
                          "otherwise. If you have not complained yet, choose a body below and file this complaint "
                          "first.")
            await user.press(court, w.prompt)
            info = await user.expect()
            assert tr(info_msgid, lang) in info.text
            assert "136" in info.text and "office.sud.kz" in info.text
            await w.next_prompt()  # the recipient question again, with its buttons
            assert await w.step() == "recipient_kind" and (await draft_of(db_path, uid))["draft"] == before
            await user.send(typed)
            info = await user.expect()
            assert tr(info_msgid, lang) in info.text, info.text
            await w.next_prompt()
            await w.press("ch", "provider")
            assert await w.step() == "recipient_name"


# ------------------------------------------------------------------------------------------- 11.8

async def test_close_asks_first_and_stop_reminders_needs_something_tracked(fake, db_path, no_unhandled):
    async with running_bot(fake, db_path, clock=FakeClock(datetime(2026, 12, 15, 9, 30, tzinfo=ALMATY))):
        u = fake.user(1181, "Ольга", language_code="ru")
        stop = tr("🔕 Stop reminders", "ru")
        await u.send("/my")
        assert stop not in (await u.expect()).buttons  # nothing tracked: nothing to stop
        await track(Transcript(u), "ru", "14.12.2026", "01.12.2026")
        await u.send("/my")
        listing = await u.expect()
        assert stop in listing.buttons
        (case,) = await cases_of(db_path, 1181)
        await u.press(listing.buttons[0], listing)  # the case
        shown = await u.expect()
        await u.press(tr("🗂 Close", "ru"), shown)
        ask = await u.expect()
        assert (await cases_of(db_path, 1181))[0].status == "open"  # not yet
        await u.press(tr("↩️ No, keep tracking", "ru"), ask)
        await u.expect()
        assert (await cases_of(db_path, 1181))[0].status == "open"
        await u.press(tr("🗂 Close", "ru"))
        ask = await u.expect()
        await u.press(tr("🗂 Yes, close it", "ru"), ask)
        await u.expect()
        assert (await cases_of(db_path, 1181))[0].status == "closed"
        await u.send("/my")
        assert stop not in (await u.expect()).buttons  # nothing open any more


# ------------------------------------------------------------------------------------------- 11.9

async def test_my_shows_the_local_date_of_a_saved_complaint(fake, db_path, no_unhandled):
    evening = datetime(2026, 12, 1, 20, 0, tzinfo=timezone.utc)  # 02.12.2026 01:00 in Almaty
    clock = FakeClock(evening)
    async with running_bot(fake, db_path, clock=clock) as app:
        u = fake.user(1191, "Ольга", language_code="ru")
        await u.send("/start")
        await u.expect()
        stored = await app.repos.complaints.create(1191, Complaint(recipient_kind="provider"), "ru", evening)
        await u.send("/my")
        listing = await u.expect()
        line = next(ln for ln in listing.text.splitlines() if stored.number in ln)
        assert plain(long(date(2026, 12, 2), "ru")) in plain(line), line


# ------------------------------------------------------------------------------------------- 12.3

async def test_my_pages_many_long_cases_under_telegrams_limit(fake, db_path, no_unhandled):
    async with running_bot(fake, db_path, clock=FakeClock(datetime(2026, 12, 15, 9, 30, tzinfo=ALMATY))) as app:
        u = fake.user(1201, "Ольга", language_code="ru")
        await u.send("/start")
        await u.expect()
        cases = app.repos.cases
        made = []
        for i in range(9):
            case = await cases.create(1201, "quality_authority", date(2026, 12, 14), filed_with=f"{i}<" + "Ж" * 198,
                                      reg_number=f"{i}&" + "№" * 198, learned_on=date(2026, 12, 1))
            made.append(case.id)
        await u.send("/my")
        page = await u.expect()
        assert tr("<b>Your tracked complaints</b>", "ru") in page.text, page.text
        seen: set[int] = set()
        pages = 0
        while True:
            pages += 1
            assert len(page.plain_text.encode("utf-16-le")) // 2 <= 4096
            seen |= {i for i in range(9) if f"«{i}<" in page.plain_text}
            nxt = tr("Next ▶️", "ru")
            if nxt not in page.buttons:
                break
            await u.press(nxt, page)
            page = await u.expect_edit(page)  # the list turns its page in place
            assert pages < 10
        assert pages >= 2 and seen == set(range(9)), (pages, seen)


def test_the_longest_timeline_fits_one_message():
    """Overdue (every next step in full), extended, told late, filed late, provisional year, 200-character
    texts full of markup: still one Telegram message, with the longest prefix in front of it."""
    from bot.config import load_settings
    from bot.domain.cases import deadlines_of
    from bot.domain.entities import Case
    from bot.services.i18n import build_i18n
    from handlers.tracking.render import timeline_text
    from tests.fakeapi import render_text

    i18n = build_i18n("ru")
    settings = load_settings(_env_file=None, bot_token="", database_path="unused.sqlite3")
    now = datetime(2027, 6, 1, tzinfo=timezone.utc)
    for lang in ("ru", "kk"):
        for status in ("open", "answered"):
            case = Case(1, 1, None, None, "quality_authority", "<" * 200, "&" * 200, date(2026, 12, 14), True, 10,
                        date(2027, 1, 20), date(2027, 2, 20), date(2026, 8, 1), status, now, now,
                        date(2027, 5, 3) if status == "answered" else None)
            deadlines = deadlines_of(case, CAL)
            with i18n.context(), i18n.use_locale(lang):
                text = timeline_text(case, deadlines, lang, CAL, date(2027, 6, 1), settings)
                prefix = i18n.gettext("Saved. The answer to this complaint is already overdue: below is what is "
                                      "overdue and what you can still do.")
            visible = render_text(f"{prefix}\n\n{text}", "HTML", False)
            assert len(visible.encode("utf-16-le")) // 2 <= 4096, (lang, status, len(visible))
            assert "⚠️" in text and "ℹ️" in text  # the late notice and the provisional year are in it


async def test_my_never_says_due_today_on_the_day_off_after_the_deadline(fake, db_path, no_unhandled):
    clock = FakeClock(datetime(2026, 12, 18, 12, 0, tzinfo=ALMATY))  # Friday
    async with running_bot(fake, db_path, clock=clock) as app:
        u = fake.user(1211, "Ольга", language_code="ru")
        await u.send("/start")
        await u.expect()
        await app.repos.cases.create(1211, "provider", date(2026, 12, 10))  # due Friday 18.12.2026
        await u.send("/my")
        assert tr("the answer is due today", "ru") in (await u.expect()).text
        clock.set(datetime(2026, 12, 19, 12, 0, tzinfo=ALMATY))  # Saturday: late, no working day since
        await u.send("/my")
        listing = await u.expect()
        assert tr("the answer is due today", "ru") not in listing.text
        assert tr("the deadline has passed", "ru") in listing.text
        assert tr("no answer in time", "ru") in listing.text
