"""handlers/operators/parts.py: the desk's router passes over its parts that cannot take the event."""

from datetime import datetime, timezone

from aiogram.types import CallbackQuery, Chat, Message, User

from handlers import get_router
from handlers.routing import _opens, _plan

PERSON = User(id=7, is_bot=False, first_name="A")


def _entered(event, kind: str, settings, raw_state=None) -> list[str]:
    """The parts of the desk's router its walk enters for this event."""
    from bot.services.i18n import build_i18n

    desk = next(r for r in get_router().sub_routers if r.name == "operators")
    data = {"i18n": build_i18n("ru"), "raw_state": raw_state, "settings": settings}
    return [sub.name for sub, _feature, _observer, gate in _plan(desk, kind)
            if gate is None or _opens(gate, event, data)]


def _text(text: str, chat: Chat) -> Message:
    return Message(message_id=1, date=datetime.now(timezone.utc), chat=chat, from_user=PERSON, text=text)


def test_a_free_text_enters_only_the_citizen_s_part():
    from bot.config import load_settings

    private, group = Chat(id=7, type="private"), Chat(id=-100, type="supergroup")
    for settings in (load_settings(_env_file=None, bot_token="", database_path="unused.sqlite3"),
                     load_settings(_env_file=None, bot_token="", database_path="unused.sqlite3",
                                   operators_chat_id=-100)):
        assert _entered(_text("Как подать жалобу?", private), "message", settings) == ["operators.citizen"]
        assert _entered(_text("/stats", private), "message", settings) == ["operators.commands"]
        press = CallbackQuery(id="1", from_user=PERSON, chat_instance="1", data="dk:1:take")
        assert "operators.commands" in _entered(press, "callback_query", settings)
    assert "operators.group" in _entered(_text("ответ", group), "message", settings)
