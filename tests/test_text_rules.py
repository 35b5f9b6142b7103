"""The text rules written out in Python (handlers.common.TextRule) say what the magic filters they replace said."""

from datetime import datetime, timezone

from aiogram import F
from aiogram.types import Chat, Message, User

from handlers.common import BTN_LANGUAGE, Magic, TextFoldedIn, TextIs
from handlers.faq import FreeText, NoText
from handlers.operators.citizen import CANCEL_WORDS as DESK_CANCEL_WORDS
from handlers.start import CANCEL_WORDS

TEXTS = [None, "", " ", "/", "/start", " /start", "a/b", "hello", "Как подать жалобу?", BTN_LANGUAGE, "🌐",
         "cancel", "CANCEL", "Cancel ", "ОТМЕНА", "Отмена", "болдырмау", "БОЛДЫРМАУ", "отмена.", "cancelled",
         "ＣＡＮＣＥＬ", "İ" * 9, "ß" * 5, "ﬀ" * 4, "cancel" * 50]


def _message(text: str | None) -> Message:
    return Message(message_id=1, date=datetime.now(timezone.utc), chat=Chat(id=1, type="private"),
                   from_user=User(id=1, is_bot=False, first_name="A"), text=text)


async def test_each_rule_answers_as_its_magic_filter():
    pairs = [
        (TextIs(BTN_LANGUAGE), F.text == BTN_LANGUAGE),
        (TextFoldedIn(CANCEL_WORDS), F.text.casefold().in_(CANCEL_WORDS)),
        (TextFoldedIn(DESK_CANCEL_WORDS), F.text.casefold().in_(DESK_CANCEL_WORDS)),
        (FreeText(), F.text & ~F.text.startswith("/")),
        (NoText(), ~F.text),
    ]
    for rule, magic in pairs:
        for text in TEXTS:
            message = _message(text)
            expected = bool(await Magic(magic)(message))
            assert await rule(message) is expected, (rule, text)
            assert rule.quick(message, {}) is expected, (rule, text)


def test_a_longer_text_never_folds_into_a_shorter_word():
    """TextFoldedIn does not fold a text longer than its longest word: no character folds to nothing."""
    import sys

    assert all(chr(c).casefold() for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)


def test_reply_is_aiogram_s_answer():
    """handlers.common.reply builds the SendMessage message.answer builds, in a plain chat, a topic and a business
    chat (the last two through aiogram's own), bound to the same bot."""
    from aiogram import Bot
    from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

    from handlers.common import reply

    bot = Bot("42:test")
    markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="a", callback_data="faq:t:x")]])
    plain = _message("q")
    topic = plain.model_copy(update={"is_topic_message": True, "message_thread_id": 5,
                                     "chat": Chat(id=-5, type="supergroup")})
    business = plain.model_copy(update={"business_connection_id": "b1"})
    for message in (plain, topic, business):
        message = message.as_(bot)
        for kb in (None, markup):
            made, built = reply(message, "<b>a</b>", reply_markup=kb), message.answer("<b>a</b>", reply_markup=kb)
            assert made == built and made.model_dump() == built.model_dump()
            assert made._bot is bot


def test_search_finds_nothing_for_small_talk():
    """handlers/faq.py free_text asks small_talk() only when search() found nothing: it relies on search()
    answering [] for every text small_talk() names (bot/domain/faq.py checks it first)."""
    from bot.domain.faq import default_index, small_talk

    ix = default_index()
    for text in ("привет", "Спасибо большое!", "до свидания", "ок", "сәлем", "рахмет, сау болыңыз", "түсінікті",
                 "как дела?", "ты живой?", "Здравствуйте! Как вы?"):
        assert small_talk(text) is not None, text
        for lang in ("kk", "ru"):
            assert ix.search(text, lang=lang, limit=3) == [], text


async def test_data_match_answers_as_the_magic_regexp():
    from aiogram.types import CallbackQuery

    from handlers.common import DataMatch

    datas = [None, "", "faq", "faq:", "faq:t:x", "faq\n", "faqx", "xfaq", "lang", "lang:kk:1", "lang\n", "dk:1",
             "dkr", "dke:2", "esc:faq:0", "escx", "dkx:1", " faq", "FAQ"]
    for pattern in (r"^faq(:|$)", r"^lang(:|$)", r"^(dk|dkr|dke|esc)(:|$)"):
        rule, magic = DataMatch(pattern), Magic(F.data.regexp(pattern))
        for data in datas:
            press = CallbackQuery(id="1", from_user=User(id=1, is_bot=False, first_name="A"), chat_instance="1",
                                  data=data)
            expected = bool(await magic(press))
            assert await rule(press) is expected and rule.quick(press, {}) is expected, (pattern, data)
