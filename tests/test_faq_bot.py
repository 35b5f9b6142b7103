"""The FAQ in the bot, end to end through the fake Bot API with the real app: free text, browsing, inline mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiogram import Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message

from handlers.common import EscalateCb
from tests.backends import running_bot

pytestmark = pytest.mark.usefixtures("both_backends")  # on SQLite and on PostgreSQL

FAQ = json.loads((Path(__file__).resolve().parent.parent / "bot" / "domain" / "data" / "faq.json").read_text(encoding="utf-8"))
ENTRIES = {e["id"]: e for e in FAQ["entries"]}
CATEGORIES = {c["id"]: c for c in FAQ["categories"]}
PERSON = EscalateCb(source="faq").pack()
DESK = -1001234567890  # the person buttons are offered only when the bot has an operators' desk


def _callbacks(msg) -> list[str]:
    return [b.get("callback_data") for row in msg.button_rows for b in row]


async def _inline_answer(fake, qid: str) -> dict:
    await fake._wait(lambda: fake.inline_answers.get(qid), 5.0)
    return fake.inline_answers[qid]


async def test_free_text_answers_in_the_users_language(fake, db_path, no_unhandled):
    rude_kk = ENTRIES["rude_con_employee"]["answer"]["kk"]
    where = ENTRIES["where_to_complain"]
    fake.group(DESK, "Desk")
    async with running_bot(fake, db_path, operators_chat_id=DESK):
        kk = fake.user(501, "Айгерім", language_code="kk")

        # a Kazakh question -> the Kazakh answer, with its title and the person button
        await kk.send("ЦОН қызметкері маған дөрекі сөйледі")
        msg = await kk.expect()
        assert "терезе нөмірін және қызметкердің аты-жөнін" in msg.plain_text
        assert ENTRIES["rude_con_employee"]["title"]["kk"] in msg.plain_text
        assert msg.plain_text.strip().endswith(rude_kk.strip()[-40:])
        assert PERSON in _callbacks(msg)

        # a Russian question from a Kazakh-speaking user -> still the Kazakh answer
        await kk.send("куда подать жалобу на ЦОН")
        msg = await kk.expect()
        assert "оның аумақтық департаменттеріне" in msg.plain_text
        assert where["title"]["kk"] in msg.plain_text
        assert where["answer"]["ru"][:30] not in msg.plain_text
        # "maybe you meant": other hits as buttons that open their own answers, in Kazakh
        maybe = [c for c in _callbacks(msg) if c and c.startswith("faq:t:")]
        assert 1 <= len(maybe) <= 2 and all(len(c.encode()) < 64 for c in _callbacks(msg))
        other_id = maybe[0].split(":", 2)[2]
        assert other_id != "where_to_complain"
        other_title = ENTRIES[other_id]["title"]["kk"]
        assert any(other_title in b for b in msg.buttons)
        qid = await kk.press(other_title, msg)
        await kk.answered_callback(qid)
        opened = await kk.expect()
        assert ENTRIES[other_id]["answer"]["kk"][:60] in opened.plain_text
        assert PERSON in _callbacks(opened)


async def test_unknown_question_offers_a_person_and_1414(fake, db_path, no_unhandled):
    fake.group(DESK, "Desk")
    async with running_bot(fake, db_path, operators_chat_id=DESK):
        ru = fake.user(502, "Ольга", language_code="ru")
        await ru.send("погода в Астане")
        msg = await ru.expect()
        assert "1414" in msg.plain_text and "8-800-080-7777" in msg.plain_text
        assert PERSON in _callbacks(msg)
        assert "👤 Связаться с человеком" in msg.buttons


async def test_long_text_and_html_are_safe(fake, db_path, no_unhandled):
    async with running_bot(fake, db_path):
        ru = fake.user(503, "Ольга", language_code="ru")
        await ru.send("сколько дней рассматривают жалобу <b>срочно</b> & " + "очень долго жду " * 250)
        msg = await ru.expect()
        assert "5 рабочих дней" in msg.plain_text
        await ru.send("<script>" * 600)
        msg = await ru.expect()
        assert "1414" in msg.plain_text


async def test_browse_category_topic_answer_in_russian(fake, db_path, no_unhandled):
    entry = ENTRIES["review_term_provider"]
    async with running_bot(fake, db_path):
        ru = fake.user(504, "Ольга", language_code="ru")
        await ru.send("/faq")
        menu = await ru.expect()
        assert CATEGORIES["terms"]["title"]["ru"] in menu.buttons
        assert all(len(c.encode()) < 64 for c in _callbacks(menu) if c)
        await ru.press(CATEGORIES["terms"]["title"]["ru"], menu)
        listing = await ru.expect_edit(menu)
        assert CATEGORIES["terms"]["title"]["ru"] in listing.plain_text
        assert entry["title"]["ru"] in listing.buttons
        qid = await ru.press(entry["title"]["ru"], listing)
        await ru.answered_callback(qid)
        answer = await ru.expect()
        assert entry["answer"]["ru"][:60] in answer.plain_text
        assert entry["title"]["ru"] in answer.plain_text
        # back to the categories, and the menu button works too
        await ru.press("⬅️ Назад", listing)
        home = await ru.expect_edit(menu)
        assert CATEGORIES["about"]["title"]["ru"] in home.buttons
        await ru.send("❓ Вопросы")
        assert CATEGORIES["rights"]["title"]["ru"] in (await ru.expect()).buttons

        # stale or forged buttons
        for data in ("faq:t:no_such_topic", "faq:c:nope", "faq:zzz"):
            qid = await ru.press_data(data, menu)
            assert (await ru.answered_callback(qid)).get("text") == "Эта кнопка больше не действует."
        await ru.expect_no_message(0.2)


async def test_inline_mode(fake, db_path, no_unhandled):
    async with running_bot(fake, db_path):
        ru = fake.user(505, "Ольга", language_code="ru")
        kk = fake.user(506, "Айгерім", language_code="kk")
        en = fake.user(507, "John", language_code="en")

        answer = await _inline_answer(fake, await ru.inline_query("сколько дней рассматривают жалобу"))
        results = answer["results"]
        assert 1 <= len(results) <= 5 and answer["is_personal"] is True and answer["cache_time"] <= 60
        first = ENTRIES["review_term_provider"]
        assert results[0]["title"] == first["title"]["ru"]
        description = results[0]["description"]
        assert description and first["answer"]["ru"].startswith(description.rstrip("…"))
        text = results[0]["input_message_content"]["message_text"]
        assert first["title"]["ru"] in text and first["answer"]["ru"][:40] in text

        # a Kazakh-speaking user gets Kazakh results for a Russian query
        answer = await _inline_answer(fake, await kk.inline_query("сколько дней рассматривают жалобу"))
        assert answer["results"][0]["title"] == first["title"]["kk"]

        # language unknown: guessed from the query
        answer = await _inline_answer(fake, await en.inline_query("шағым қанша күнде қаралады"))
        assert answer["results"] and answer["results"][0]["title"] in {e["title"]["kk"] for e in ENTRIES.values()}

        # empty query: popular topics; nothing found: no results, a button to the bot
        answer = await _inline_answer(fake, await ru.inline_query(""))
        assert 1 <= len(answer["results"]) <= 5
        answer = await _inline_answer(fake, await ru.inline_query("погода в Астане"))
        assert answer["results"] == [] and answer["button"]["start_parameter"] == "faq"


class Wizard(StatesGroup):
    step = State()


def wizard_router() -> Router:
    router = Router(name="test-wizard")

    @router.message(Command("wiz"))
    async def begin(message: Message, state: FSMContext) -> None:
        await state.set_state(Wizard.step)
        await message.answer("step?")

    @router.message(StateFilter(Wizard.step))
    async def step(message: Message, state: FSMContext) -> None:
        await state.clear()
        await message.answer(f"wizard got {message.content_type.value}")

    return router


async def test_non_text_hint_groups_and_wizard_steps_are_left_alone(fake, db_path, no_unhandled):
    async with running_bot(fake, db_path, extra_routers=(wizard_router(),)):
        ru = fake.user(508, "Ольга", language_code="ru")
        kk = fake.user(509, "Айгерім", language_code="kk")
        await ru.send_sticker()
        assert "меню" in (await ru.expect()).plain_text
        await kk.send_photo()
        assert "мәзір" in (await kk.expect()).plain_text

        # inside a wizard step neither text nor a sticker reach the FAQ
        await ru.send("/wiz")
        assert (await ru.expect()).text == "step?"
        await ru.send("куда подать жалобу")
        assert (await ru.expect()).text == "wizard got text"
        await ru.send("/wiz")
        await ru.expect()
        await ru.send_sticker()
        assert (await ru.expect()).text == "wizard got sticker"

        # groups are somebody else's
        group = fake.group(-100777, "Somewhere")
        await ru.send("куда подать жалобу", chat=group)
        await ru.send_sticker(chat=group)
        await fake.idle()
        await ru.expect_no_message(0.2, chat=group)


async def test_start_deep_link_from_inline_mode_opens_the_questions(fake, db_path, no_unhandled):
    async with running_bot(fake, db_path):
        kk = fake.user(508, "Айгерім", language_code="kk")
        await kk.send("/start faq")  # the inline mode's "Ask in a chat with the bot" button
        welcome = await kk.expect()
        assert "Сәлеметсіз бе" in welcome.text
        topics = await kk.expect()
        assert any(c["title"]["kk"] in topics.buttons for c in CATEGORIES.values())
        await kk.send("/start")  # a plain /start shows the welcome only
        assert "Сәлеметсіз бе" in (await kk.expect()).text
        await kk.expect_no_message(0.3)


async def test_greetings_thanks_and_goodbyes_get_a_friendly_menu_answer(fake, db_path, no_unhandled):
    """Greetings, thanks, goodbyes and a bare acknowledgement ("ок", "түсіндім") are small talk: a friendly word back
    in the user's language and the main menu, not "not found" (and not "you are welcome" to an "ok"); a greeting with
    a question is a question."""
    from bot.services.i18n import build_i18n

    i18n = build_i18n()
    not_found = {i18n.gettext("I could not find an answer to that question.", locale=lang) for lang in ("kk", "ru")}
    hello = ("Hello! I help with complaints about public services. Choose what you need in the menu below, or type "
             "your question in your own words.")
    thanks = "You are welcome! If you need anything else, choose it in the menu below or type your question."
    goodbye = "Goodbye! If you need anything else, I am here: choose it in the menu below or type your question."
    ack = "Good. If you need anything else, choose it in the menu below or type your question."
    async with running_bot(fake, db_path):
        ru = fake.user(511, "Ольга", language_code="ru")
        kk = fake.user(512, "Айгерім", language_code="kk")
        for user, text, lang, reply in (
            (ru, "Привет!", "ru", hello), (ru, "добрый день", "ru", hello), (kk, "Сәлем", "kk", hello),
            (kk, "сәлеметсіз бе", "kk", hello), (ru, "спасибо", "ru", thanks), (kk, "рақмет", "kk", thanks),
            (ru, "До свидания!", "ru", goodbye), (ru, "спасибо, пока", "ru", goodbye), (kk, "сау болыңыз", "kk", goodbye),
            (kk, "рахмет, көріскенше", "kk", goodbye), (ru, "ок", "ru", ack), (ru, "понятно", "ru", ack),
            (kk, "түсіндім", "kk", ack),
        ):
            await user.send(text)
            msg = await user.expect()
            assert not any(n in msg.plain_text for n in not_found), msg.plain_text
            assert i18n.gettext(reply, locale=lang) in msg.plain_text, msg.plain_text
            assert i18n.gettext(reply, locale=lang) != reply  # translated
            assert i18n.gettext("📝 Write a complaint", locale=lang) in msg.buttons  # the main menu
            assert i18n.gettext("❓ Questions", locale=lang) in msg.buttons
        # a greeting with a question is a question
        await kk.send("Сәлеметсіз бе, шағымды қайда беремін?")
        msg = await kk.expect()
        assert ENTRIES["where_to_complain"]["title"]["kk"] in msg.plain_text


def test_answer_buttons_carry_what_faqcb_packs():
    """answer_keyboard writes FaqCb's data out itself (handlers/faq.py topic_data) and keeps its buttons: the
    same data as FaqCb packs for every entry, and each language's own title."""
    from bot.domain.faq import default_index
    from bot.services.i18n import build_i18n
    from handlers.common import BTN_HUMAN, desk_available
    from handlers.faq import FaqCb, FaqKind, answer_keyboard, topic_data

    ix = default_index()
    for entry_id in ix.ids():
        assert topic_data(entry_id) == FaqCb(kind=FaqKind.TOPIC, id=entry_id).pack()
    entry = ix.entry("where_to_complain")
    i18n = build_i18n("ru")
    assert i18n.gettext(BTN_HUMAN, locale="kk") != i18n.gettext(BTN_HUMAN, locale="ru")
    for lang in ("kk", "ru", "kk"):
        with i18n.context(), i18n.use_locale(lang):
            markup = answer_keyboard([entry], lang)
            assert markup is not None
            [[btn]] = markup.inline_keyboard
            assert btn.text == f"🔎 {ENTRIES['where_to_complain']['title'][lang]}"
            assert btn.callback_data == "faq:t:where_to_complain"
            with desk_available(True):  # the desk's button, in the language of the update
                rows = answer_keyboard([entry], lang).inline_keyboard
            assert [b.callback_data for [b] in rows] == ["faq:t:where_to_complain", PERSON]
            assert rows[1][0].text == i18n.gettext(BTN_HUMAN, locale=lang)
            assert answer_keyboard([], lang) is None
