"""Bad input outside the complaint wizard, end to end (the real app polling the fake Bot API): stickers, photos,
voice where text is expected, 4096-character text, HTML, blank text, forged and stale buttons, in every state of
the tracking flow and every operator form, plus the FAQ, language, escalation, rating and end buttons.

Each bad input gets a clear answer in the person's language (a message or a callback answer), changes no row
(cases, reminders, tickets, audit_log, ...) and no FSM state, shows user text escaped, and raises nothing
(``no_unhandled``)."""

from __future__ import annotations

import asyncio
import html
import inspect
import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from aiogram.fsm.storage.base import StorageKey

from bot.domain.clock import FakeClock
from bot.services.i18n import build_i18n
from tests.backends import query, running_bot
from tests.fakeapi import FakeUser
from tests.test_operators import GROUP, OP, TUESDAY, card_of, fast, make_complaint, open_desk_ticket, register

pytestmark = pytest.mark.usefixtures("both_backends")  # on SQLite and on PostgreSQL

I18N = build_i18n("ru")
ALMATY = ZoneInfo("Asia/Almaty")
START = datetime(2026, 12, 15, 9, 30, tzinfo=ALMATY)
HTML = "<b>x</b><script>"
LONG = "ы" * 4096
HUGE_ID = "99999999999999999999"  # > SQLite's 64-bit INTEGER
NOT_VALID = "This button is no longer valid."
TABLES = ("cases", "case_events", "reminders", "complaints", "tickets", "audit_log", "calendar_overrides")


def tr(msgid: str | tuple[str, str], lang: str, **params) -> str:
    if isinstance(msgid, tuple):  # (singular, plural): the form for params["n"]
        text = I18N.gettext(msgid[0], msgid[1], params["n"], locale=lang)
        assert text not in msgid, f"{msgid!r} is not translated into {lang}"
    else:
        text = I18N.gettext(msgid, locale=lang)
        assert text != msgid, f"{msgid!r} is not translated into {lang}"
    return text.format(**params) if params else text


async def snapshot(db_path, tables=TABLES) -> dict[str, list[tuple]]:
    """Every row of `tables`, on the test's backend (each table's first column is its key)."""
    return {t: await query(db_path, f"SELECT * FROM {t} ORDER BY 1") for t in tables}


async def fsm_state(app, chat_id: int, user_id: int | None = None, destiny: str = "default"):
    key = StorageKey(bot_id=app.bot.id, chat_id=chat_id, user_id=user_id or chat_id, destiny=destiny)
    return await app.fsm.get_state(key), await app.fsm.get_data(key)


async def send_kind(u: FakeUser, kind: str, **where) -> None:
    if kind == "sticker":
        await u.send_sticker(chat=where.get("chat"))  # (the fake's stickers have no topic: the General one)
    elif kind == "photo":
        await u.send_photo(**where)
    elif kind == "voice":
        await u.send_voice(**where)
    else:
        await u.send(kind, **where)


async def press_all_forged(u: FakeUser, fake, datas, expected: str) -> None:
    """Every forged/stale press is answered with ``expected`` (a callback answer), and nothing is sent."""
    before = len(u.messages)
    for data in datas:
        q = await u.press_data(data)
        try:
            ans = await u.answered_callback(q, timeout=2)
        except AssertionError:
            raise AssertionError(f"{data!r} was not answered") from None
        assert ans.get("text") == expected, (data, ans)
    await fake.idle()
    assert len(u.messages) == before, [m.text for m in u.messages[before:]]


# ------------------------------------------------------------------------------------------ tracking

TEXT_ONLY = "Please answer with text, or send /cancel to stop."
CHOOSE = "Please choose with the buttons above."
BAD_DATE = "I could not read the date. Write it as {example} (day.month.year), or pick it below."
BAD_DAYS = ("The review term can be extended by at most 10 working days, so the number must be from 1 to 10. "
            "Please check it and send a number from 1 to 10.")
COMMAND = "Commands are not answers. Type the answer, or send /cancel to stop."
TOO_LONG = ("That is too long: at most {n} character, please.", "That is too long: at most {n} characters, please.")


def tracking_expected(step: str) -> dict[str, tuple[str, dict]]:
    """Bad kind -> (msgid, params) of the answer in this step."""
    expected = {k: (TEXT_ONLY, {}) for k in ("sticker", "photo", "voice", "   ")}
    expected["/"] = (COMMAND, {})
    if step in ("recipient", "forwarded"):
        garbage = (CHOOSE, {})
    elif step in ("filed_with", "reg_number"):
        garbage = None  # any short text is an answer here; HTML is checked for escaping below
        expected[LONG] = (TOO_LONG, {"n": 200})
    elif step == "ext_days":
        garbage = (BAD_DAYS, {})
        for k in ("²", "0", "11", "1" * 4096, "٣٣"):
            expected[k] = garbage
    else:
        garbage = (BAD_DATE, {"example": "15.12.2026"})  # the example is today's date (START)
        expected["31.02.2026"] = garbage
    if garbage is not None:
        expected[LONG] = garbage
        expected[HTML] = garbage
    return expected


async def reach(u: FakeUser, step: str, lang: str) -> None:
    await u.send("/my")
    await u.expect()
    if step.startswith("ext") or step == "ans_on":
        await u.press(tr("➕ I already filed a complaint", lang))
        await u.expect()
        await u.expect()
        await u.press(tr("Service provider · 5 working days", lang))
        await u.expect()
        await u.send("ЦОН")
        await u.expect()
        await u.send("14.12.2026")
        await u.expect()
        await u.press(tr("⏭ Skip", lang))
        await u.expect()
        await u.press(tr("⏭ Skip", lang))
        await u.expect()  # the timeline
        if step == "ans_on":
            await u.press(tr("✅ I got an answer", lang))
            await u.expect()
            return
        await u.press(tr("⏳ They extended it", lang))
        await u.expect()
        if step in ("ext_on", "ext_told"):
            await u.press("5")
            await u.expect()
        if step == "ext_told":
            await u.press(tr("I don't know", lang))
            await u.expect()
        return
    await u.press(tr("➕ I already filed a complaint", lang))
    await u.expect()  # intro
    await u.expect()  # who reviews it
    if step == "recipient":
        return
    qa = step == "forwarded"
    await u.press(tr("Quality authority · 15 working days" if qa else "Service provider · 5 working days", lang))
    await u.expect()
    if step == "filed_with":
        return
    await u.send("ЦОН")
    await u.expect()
    if step in ("forwarded", "registered"):
        return
    await u.send("14.12.2026")
    await u.expect()
    if step == "reg_number":
        return
    await u.send("ЖТ-1")
    await u.expect()
    assert step == "learned_on"


@pytest.mark.parametrize("step,lang", [
    ("recipient", "kk"), ("filed_with", "ru"), ("forwarded", "kk"), ("registered", "ru"), ("reg_number", "kk"),
    ("learned_on", "ru"), ("ext_days", "kk"), ("ext_on", "ru"), ("ext_told", "kk"), ("ans_on", "ru"),
])
async def test_tracking_states_answer_bad_input_and_change_nothing(step, lang, fake, db_path, no_unhandled):
    async with running_bot(fake, db_path, clock=FakeClock(START)) as app:
        u = fake.user(4100, "Айгерім", language_code=lang)
        stranger = fake.user(4999, "Ерлан", language_code="ru")
        await stranger.send("/start")
        await stranger.expect()
        await reach(u, step, lang)
        other = await app.repos.cases.create(4999, "provider", date(2026, 12, 14), at=START)
        await fake.idle()
        rows, state = await snapshot(db_path), await fsm_state(app, u.id)
        assert state[0] is not None and state[0].endswith(step)

        for kind, (msgid, params) in tracking_expected(step).items():
            await send_kind(u, kind)
            reply = await u.expect()
            assert reply.text == tr(msgid, lang, **params), (kind, reply.text)

        forged = ["trkw:xd:²", "trkw:xd:99", "trkw:rk:nobody", "trkw:fw:maybe", "trkw", "trkw:zz:1", "trkw:a:b:c",
                  f"trk:open:{HUGE_ID}", f"trk:ext:{HUGE_ID}", f"trk:cpl:{HUGE_ID}", "trk:open:abc", "trk:open",
                  f"trk:ext:{other.id}", f"trk:open:{other.id}", "trk:cpl:999", "trk:zz:1"]
        if step != "ext_days":
            forged.append("trkw:xd:5")  # an old extension button
        if step != "recipient":
            forged.append("trkw:rk:provider")  # the recipient question's button, pressed again
        if step not in ("filed_with", "reg_number", "learned_on", "ext_on", "ext_told"):
            forged.append("trkw:sk")
        await press_all_forged(u, fake, forged, tr(NOT_VALID, lang))

        assert await snapshot(db_path) == rows
        assert await fsm_state(app, u.id) == state


async def test_tracking_html_is_stored_as_typed_and_shown_escaped(fake, db_path, no_unhandled):
    async with running_bot(fake, db_path, clock=FakeClock(START)):
        u = fake.user(4101, "Ольга", language_code="ru")
        await reach(u, "reg_number", "ru")
        await u.send(HTML + " &amp;")
        await u.expect()
        await u.press(tr("⏭ Skip", "ru"))
        timeline = await u.expect()
        assert "&lt;b&gt;x&lt;/b&gt;&lt;script&gt; &amp;amp;" in timeline.text
        assert HTML + " &amp;" in timeline.plain_text
        await u.send("/my")
        listing = await u.expect()
        assert "&lt;script&gt;" in listing.text and "<script>" in listing.plain_text
        assert any(HTML in b for b in listing.buttons)  # a button label is plain text, shown as typed


# ------------------------------------------------------------------------------------------ operators

OPS = "ru"  # the operators' language (settings.operators_language's default)


def ops(msgid: str) -> str:
    return html.escape(I18N.gettext(msgid, locale=OPS), quote=False)


REG_NO_DATE = "Please add the registration date, e.g. 17.05.2027."
REG_BAD_DATE = "The registration date is not valid or is in the future."
REG_NO_NUMBER = "Please add the registration number."
EXT_BAD_DAYS = "Start with the number of working days, from 1 to 10."
EXT_NO_REASON = "Please give the reason for the extension after the number of days."
RES_EMPTY = "Please send the result as text or a document."
REJ_EMPTY = "Please give the reason."

OPERATOR_FORMS = {
    "reg": {"sticker": REG_NO_DATE, "voice": REG_NO_DATE, "photo": REG_NO_DATE, "   ": REG_NO_DATE,
            LONG: REG_NO_DATE, HTML: REG_NO_DATE, "ЖТ-1 31.02.2026": REG_BAD_DATE,
            "ЖТ-1 17.05.2099": REG_BAD_DATE, "ЖТ-1 99.99.9999": REG_BAD_DATE, "ЖТ-1 99.99.99999": REG_NO_DATE, "06.04.2026": REG_NO_NUMBER,
            "ЖТ-1 06.04.2026 " + "x" * 4000: None},
    "ext": {"sticker": EXT_BAD_DAYS, "voice": EXT_BAD_DAYS, "photo": EXT_BAD_DAYS, "   ": EXT_BAD_DAYS,
            LONG: EXT_BAD_DAYS, HTML: EXT_BAD_DAYS, "0 проверка": EXT_BAD_DAYS, "11 проверка": EXT_BAD_DAYS,
            f"{HUGE_ID} проверка": EXT_BAD_DAYS, "-3 проверка": EXT_BAD_DAYS, "²  проверка": EXT_BAD_DAYS,
            "7": EXT_NO_REASON, "7 " + " " * 50: EXT_NO_REASON},
    "res": {"sticker": RES_EMPTY, "voice": RES_EMPTY, "   ": RES_EMPTY},
    "rej": {"sticker": REJ_EMPTY, "voice": REJ_EMPTY, "photo": REJ_EMPTY, "   ": REJ_EMPTY, "no": REJ_EMPTY},
}


async def until(check, what: str, timeout: float = 30.0):
    """Wait for what the bot does by its effect (``check``, sync or async, returns it), never by a quiet moment:
    on a busy machine the bot can be silent longer than ``fake.idle``'s quiet spell in the middle of an update."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.05)


async def desk_with_ticket(app, fake, *, registered: bool):
    citizen = fake.user(1001, "Айгерим", language_code="kk")
    op = fake.user(OP, "Operator", language_code="ru")
    await open_desk_ticket(app, fake, citizen)
    await until(lambda: app.desk.tickets.get(1), "the ticket")
    await until(lambda: card_ready(app), "the ticket's card")
    if registered:
        await register(app, fake, op, 1, "ЖТ-2026-1 06.04.2026")
        await citizen.expect_text("ЖТ-2026-1", timeout=30)  # told last, after the ticket was registered
        t = await app.desk.tickets.get(1)
        assert t.status == "registered"
    await fake.idle()
    return citizen, op


async def card_ready(app) -> bool:
    t = await app.desk.tickets.get(1)
    return bool(t and t.card_message_id)


@pytest.mark.parametrize("action", ["reg", "ext", "res", "rej"])
async def test_operator_forms_answer_bad_input_and_change_nothing(action, fake, db_path, no_unhandled):
    group = fake.group(GROUP, "Desk", is_forum=True).set_member(OP, "member")
    async with running_bot(fake, db_path, clock=FakeClock(TUESDAY), operators_chat_id=GROUP) as app:
        fast(app)
        citizen, op = await desk_with_ticket(app, fake, registered=action == "ext")
        t = await app.desk.tickets.get(1)
        prompted = len(group.messages)
        await op.press_data(f"dk:{action}:1", await card_of(app, fake))
        form_key = (GROUP, OP, "desk_form")
        await until(lambda: len(group.messages) > prompted, "the form's question")
        await fake.idle()
        rows, form = await snapshot(db_path), await fsm_state(app, *form_key)
        assert form[0] == f"desk:{action}"
        n_citizen = len(citizen.messages)

        for kind, msgid in OPERATOR_FORMS[action].items():
            before = len(group.messages)
            await send_kind(op, kind, chat=GROUP, message_thread_id=t.thread_id)
            if msgid is None:  # too long a number: cut to 64 characters, accepted; checked below
                await citizen.expect_text("ЖТ-1 x", timeout=30)  # the citizen is told last
                await fake.idle()
                continue
            await until(lambda: len(group.messages) > before, f"the answer to {kind[:20]!r}")  # noqa: B023
            await fake.idle()  # and anything after it
            notes = [m for m in group.messages[before:] if m.method == "sendMessage"]
            assert [m.text for m in notes] == [ops(msgid)], kind
            assert notes[0].message_thread_id == t.thread_id

        if action == "reg":  # the long number was accepted, cut to 64 characters
            case = (await app.repos.cases.list_for_user(citizen.id))[0]
            assert case.reg_number == ("ЖТ-1 " + "x" * 4000)[:64]
            return
        assert await snapshot(db_path) == rows
        assert await fsm_state(app, *form_key) == form
        assert len(citizen.messages) == n_citizen


@pytest.mark.parametrize("action,text,needle", [
    ("reg", HTML + " 06.04.2026", "&lt;b&gt;x&lt;/b&gt;&lt;script&gt;"),
    ("ext", "5 " + HTML, "&lt;b&gt;x&lt;/b&gt;&lt;script&gt;"),
    ("rej", HTML + " " + LONG, "&lt;b&gt;x&lt;/b&gt;&lt;script&gt;"),
])
async def test_operator_html_reaches_the_citizen_escaped(action, text, needle, fake, db_path, no_unhandled):
    group = fake.group(GROUP, "Desk", is_forum=True).set_member(OP, "member")
    async with running_bot(fake, db_path, clock=FakeClock(TUESDAY), operators_chat_id=GROUP) as app:
        fast(app)
        citizen, op = await desk_with_ticket(app, fake, registered=action == "ext")
        t = await app.desk.tickets.get(1)
        await op.press_data(f"dk:{action}:1", await card_of(app, fake))
        await fake.idle()
        before = len(citizen.messages)
        await op.send(text, chat=GROUP, message_thread_id=t.thread_id)
        await fake.idle()
        told = [m for m in citizen.messages[before:] if m.text and needle in m.text]
        assert told and HTML in told[0].plain_text
        assert (await fsm_state(app, GROUP, OP, "desk_form"))[0] is None
        card = await card_of(app, fake)
        assert "<script>" not in card.text
        assert not [m for m in group.messages if m.text and "<script>" in m.text]


async def test_desk_buttons_forged_or_stale(fake, db_path, no_unhandled):
    fake.group(GROUP, "Desk", is_forum=True).set_member(OP, "member")
    async with running_bot(fake, db_path, clock=FakeClock(TUESDAY), operators_chat_id=GROUP) as app:
        fast(app)
        citizen, op = await desk_with_ticket(app, fake, registered=False)
        other = fake.user(1002, "Ольга", language_code="ru")
        await other.send("/start")
        await other.expect()
        foreign = await make_complaint(app, fake, other.id)
        await fake.idle()
        card = await card_of(app, fake)
        rows = await snapshot(db_path)

        # The operator: forged card buttons are refused in the operators' language.
        for data, msgid in [(f"dk:reg:{HUGE_ID}", NOT_VALID), ("dk:reg", NOT_VALID), ("dk:reg:x", NOT_VALID),
                            ("dk:zz:1", "Not possible in the ticket's current state."),
                            ("dk:reg:2", "This button does not belong to a ticket here.")]:
            q = await op.press_data(data, card)
            assert (await op.answered_callback(q)).get("text") == tr(msgid, "ru"), data
        assert await fsm_state(app, GROUP, OP, "desk_form") == (None, {})

        # The citizen (kk): rating/end/escalation buttons with a wrong id or a malformed payload.
        forged = ["dkr:1:9", "dkr:1:-1", "dkr:1:x", "dkr:1", "dkr", f"dkr:{HUGE_ID}:5", "dkr:1:5",  # not resolved
                  "dke:x", "dke", f"dke:{HUGE_ID}", "dke:2", "dke:1:1",
                  "esc:nowhere:0", "esc:faq:x", "esc", "esc:faq:0:0", f"esc:complaint:{HUGE_ID}",
                  "lang:xx", "lang", "lang:kk:1", "faq:t:nope", "faq:c:nope", "faq", "faq:t:a:b"]
        await press_all_forged(citizen, fake, forged, tr(NOT_VALID, "kk"))
        # Someone else's complaint or an unknown one: a message, nothing opened.
        for ref in (foreign.id, 999):
            q = await citizen.press_data(f"esc:complaint:{ref}")
            await citizen.answered_callback(q)
            reply = await citizen.expect(predicate=lambda m: m.text is not None)
            assert reply.text == tr("I could not find this complaint. Please open it again from /my.", "kk")
        assert await snapshot(db_path) == rows

        # Old buttons: the end button after the relay ended, the rating after rating.
        end_msg = next(m for m in citizen.messages if m.buttons and "dke:1" in
                       [m.callback_data(b) for b in m.buttons])
        q = await citizen.press_data("dke:1", end_msg)
        assert (await citizen.answered_callback(q)).get("text") is None
        await fake.idle()
        q = await citizen.press_data("dke:1", end_msg)
        assert (await citizen.answered_callback(q)).get("text") == tr(NOT_VALID, "kk")
        await op.press_data("dk:res:1", card)
        await fake.idle()
        t = await app.desk.tickets.get(1)
        await op.send("Готово", chat=GROUP, message_thread_id=t.thread_id)
        rate = await citizen.expect(predicate=lambda m: bool(m.buttons))
        q = await citizen.press_data("dkr:1:5", rate)
        await citizen.answered_callback(q)
        await fake.idle()
        rows = await snapshot(db_path)
        q = await citizen.press_data("dkr:1:4", rate)
        assert (await citizen.answered_callback(q)).get("text") == tr("You have already rated it. Thank you!", "kk")
        q = await op.press_data("dk:rej:1", card)
        assert (await op.answered_callback(q)).get("text") == tr("Not possible in the ticket's current state.", "ru")
        await fake.idle()
        assert await snapshot(db_path) == rows


@pytest.mark.parametrize("kind", ["sticker", "photo", "voice", LONG, HTML])
async def test_citizen_relay_passes_any_kind_to_the_desk(kind, fake, db_path, no_unhandled):
    group = fake.group(GROUP, "Desk", is_forum=True).set_member(OP, "member")
    async with running_bot(fake, db_path, clock=FakeClock(TUESDAY), operators_chat_id=GROUP) as app:
        fast(app)
        citizen, _op = await desk_with_ticket(app, fake, registered=False)
        before, n_citizen = len(group.messages), len(citizen.messages)
        await send_kind(citizen, kind)
        await fake.idle()
        copies = [m for m in group.messages[before:] if m.copied_from and m.copied_from[0] == citizen.id]
        assert len(copies) == 1
        if kind in (LONG, HTML):
            assert copies[0].text == kind  # a copy: shown as typed, never parsed as HTML
        assert len(citizen.messages) == n_citizen  # relayed silently, no error


# ------------------------------------------------------------------------------------------ idle chat

@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_idle_chat_answers_unknown_commands_and_non_text(lang, fake, db_path, no_unhandled):
    async with running_bot(fake, db_path, clock=FakeClock(START)):
        u = fake.user(4200, "Айгерім", language_code=lang)
        await u.send("/start")
        await u.expect()
        for text in ("/", "/nosuchcommand", "/my@other_bot x"):
            await u.send(text)
            reply = await u.expect()
            assert reply.text == tr("I do not know this command. Send /help to see what I can do.", lang), text
        for kind in ("sticker", "photo", "voice"):
            await send_kind(u, kind)
            reply = await u.expect()
            assert reply.text == tr(
                "I understand text only here: use the menu below, or type your question in words.", lang)
        await u.send(HTML)
        reply = await u.expect()
        assert "<script>" not in reply.text
