"""bot/session.py reads a getUpdates answer as validating it gives: an update of a shape validated before is built
from that one without validating; anything it cannot vouch for is validated (and teaches its shape)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.exceptions import ClientDecodeError
from aiogram.methods import GetUpdates, Response
from aiogram.types import InaccessibleMessage, Message, TelegramObject, Update
from pydantic import BaseModel

from bench.workload import KINDS, Workload, update_payload
from bot import session as session_module
from bot.session import _SEEN_MAX, JsonBodySession, response_type

DATE = 1_760_000_000
ME = {"id": 42, "is_bot": True, "first_name": "Shagym", "username": "shagym_bot"}


def _same(built: Any, validated: Any, where: str = "update") -> None:
    """``built`` is indistinguishable from ``validated``: types, values, fields set, extra, bot, all the way down."""
    assert type(built) is type(validated), where
    if isinstance(validated, BaseModel):
        assert built is not validated, where
        assert list(built.__dict__) == list(validated.__dict__), where
        assert built.model_fields_set == validated.model_fields_set, where
        assert built.model_extra == validated.model_extra, where
        assert list(built.model_extra or ()) == list(validated.model_extra or ()), where
        assert built.__pydantic_private__ == validated.__pydantic_private__, where
        if isinstance(validated, TelegramObject):
            assert built.bot is validated.bot, where
        assert built.model_dump() == validated.model_dump(), where
        assert built.model_dump_json(exclude_unset=True, by_alias=True) == \
            validated.model_dump_json(exclude_unset=True, by_alias=True), where
        for name, value in validated.__dict__.items():
            _same(built.__dict__[name], value, f"{where}.{name}")
        for name, value in (validated.model_extra or {}).items():
            _same(built.model_extra[name], value, f"{where}.{name}")
    elif isinstance(validated, list):
        assert len(built) == len(validated), where
        for n, (b, v) in enumerate(zip(built, validated, strict=True)):
            _same(b, v, f"{where}[{n}]")
    elif isinstance(validated, datetime):
        assert built == validated and built.tzinfo == validated.tzinfo, where
    else:
        assert built == validated, where


class Reader:
    """A session reading getUpdates answers, counting what it validates: whole answers and single updates."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, bot_id: int = 42) -> None:
        self.session = JsonBodySession()
        self.bot = Bot(token=f"{bot_id}:test", session=self.session,
                       default=DefaultBotProperties(parse_mode="HTML"))
        self.answers = 0
        self.alone = 0
        answer_type = response_type(GetUpdates())
        validate_answer, validate_update = answer_type.model_validate, Update.model_validate

        def answer(*args: Any, **kwargs: Any) -> Any:
            self.answers += 1
            return validate_answer(*args, **kwargs)

        def update(*args: Any, **kwargs: Any) -> Any:
            self.alone += 1
            return validate_update(*args, **kwargs)

        monkeypatch.setattr(answer_type, "model_validate", answer)
        monkeypatch.setattr(Update, "model_validate", update)
        self.reference = validate_answer

    def read(self, updates: list[Any], bot: Bot | None = None) -> list[Update]:
        """The updates as the session reads them, checked against pydantic's reading of the same answer."""
        bot = bot or self.bot
        raw = orjson.dumps({"ok": True, "result": updates})
        got = self.session.check_response(bot, GetUpdates(), 200, raw)
        expected = self.reference(orjson.loads(raw), context={"bot": bot})
        _same(got, expected, "answer")
        return got.result

    def validations(self) -> int:
        return self.answers + self.alone


def _workload(first_id: int, date: int = DATE) -> list[dict]:
    """An answer of 100 updates of the e2e workload's kinds (bench/workload.py), ``first_id`` on."""
    work = Workload()
    actions = work.schedule({"start": 1, "faq": 2, "wizard": 3, "button": 3, "my": 1}, 100,
                            start={kind: first_id for kind in KINDS})
    return [update_payload(a, first_id + n, bot_id=42, date=date) for n, a in enumerate(actions)]


def _text(update_id: int, text: str = "Сәлем", user: int = 7, **more: Any) -> dict:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "from": {"id": user, "is_bot": False, "first_name": "Айгерім", "language_code": "kk"},
        "chat": {"id": user, "type": "private", "first_name": "Айгерім"}, "date": DATE, "text": text, **more}}


def _press(update_id: int, date: int = DATE, data: str = "cw:a:1:y", **more: Any) -> dict:
    keyboard = {"inline_keyboard": [[{"text": "Иә", "callback_data": "cw:a:1:y"},
                                     {"text": "Жоқ", "callback_data": "cw:a:1:n"}], [{"text": "Сайт", "url": "https://egov.kz"}]]}
    shown = {"message_id": update_id, "from": ME, "chat": {"id": 7, "type": "private", "first_name": "A"},
             "date": date, "text": "Қадам 3", "reply_markup": keyboard, **more}
    return {"update_id": update_id, "callback_query": {
        "id": str(4_000 + update_id), "from": {"id": 7, "is_bot": False, "first_name": "A"},
        "chat_instance": "-8000", "message": shown, "data": data}}


def test_the_workloads_updates_are_built_as_validated_without_validating(monkeypatch):
    """Every kind the bot handles in the e2e workload: learned from one answer, the next answer of the same kinds
    (other people, texts, ids) is built without any validation, equal to pydantic's in every way."""
    reader = Reader(monkeypatch)
    reader.read(_workload(1))
    assert reader.validations() == 1
    second = reader.read(_workload(1000))
    assert reader.validations() == 1
    kinds = {u.event_type for u in second}
    assert kinds == {"message", "callback_query"}
    query = next(u.callback_query for u in second if u.callback_query)
    assert type(query.message) is Message and query.message.reply_markup.inline_keyboard[0][0].callback_data
    one, two = [u.message for u in second if u.message][:2]
    assert one.chat is not two.chat and one.from_user is not two.from_user
    reader.read([])  # an empty answer (a long poll that timed out) too
    assert reader.validations() == 1


def test_a_new_date_or_shape_is_validated_once_then_built(monkeypatch):
    reader = Reader(monkeypatch)
    reader.read([_text(1)])
    reader.read([_text(2, date=DATE)])
    assert reader.validations() == 1
    later = {**_text(3), "message": {**_text(3)["message"], "date": DATE + 1}}
    reader.read([later, _text(4)])
    assert (reader.answers, reader.alone) == (1, 1)  # the new second, alone; the other built
    reader.read([{**later, "update_id": 5}])
    assert reader.validations() == 2
    reader.read([_text(6, entities=[{"type": "bold", "offset": 0, "length": 5}])])  # another shape
    reader.read([_text(7, "/start", entities=[{"type": "bot_command", "offset": 0, "length": 6}])])
    assert reader.validations() == 3


@pytest.mark.parametrize("teacher, student", [
    # extra fields, on the update, the message, the chat, a keyboard button (kept as they are, whatever they hold)
    (_text(1, new_field={"a": [1, None]}), _text(2, new_field=[{"b": 2}])),
    ({**_text(1), "future_kind": None}, {**_text(2), "future_kind": 5}),
    (_press(1, more={"x": 1}), _press(2, more={"x": "y"})),
    # missing optional fields, nulls
    ({"update_id": 1, "message": {"message_id": 1, "date": DATE, "chat": {"id": 7, "type": "private"}}},
     {"update_id": 2, "message": {"message_id": 2, "date": DATE, "chat": {"id": 8, "type": "group"}}}),
    (_text(1, text=None), _text(2, text=None)),
    (_text(1, text=None), _text(2, text="now a text")),
    (_text(1, reply_markup=None, caption=None), _text(2, reply_markup=None, caption="c")),
    # values of another type than the field's: converted by pydantic; only that exact value is taken
    (_text(1, message_thread_id="12"), _text(2, message_thread_id="12")),
    (_text(1, message_thread_id="12"), _text(2, message_thread_id="13")),
    (_text(1, message_thread_id=12), _text(2, message_thread_id="12")),
    ({**_text(1), "update_id": "1"}, {**_text(2), "update_id": "2"}),
    (_text(1, has_protected_content=True), _text(2, has_protected_content=1)),
    (_text(1, has_protected_content=1), _text(2, has_protected_content=True)),
    # huge text, entities, a reply, a forward (a union of origins), a location (floats)
    (_text(1, "Ә" * 4096), _text(2, "ы" * 100_000)),
    (_text(1, entities=[{"type": "bold", "offset": 0, "length": 2}, {"type": "text_link", "offset": 2, "length": 3,
                                                                      "url": "https://egov.kz"}]),
     _text(2, entities=[{"type": "italic", "offset": 1, "length": 2}, {"type": "text_link", "offset": 3, "length": 3,
                                                                        "url": "https://gov.kz"}])),
    (_text(1, entities=[{"type": "bold", "offset": 0, "length": 2}]), _text(2, entities=[])),
    (_text(1, entities=[]), _text(2, entities=[{"type": "bold", "offset": 0, "length": 2}])),
    (_text(1, reply_to_message=_text(0)["message"]), _text(2, reply_to_message=_text(9, "другой")["message"])),
    (_text(1, forward_origin={"type": "user", "date": DATE, "sender_user": ME}),
     _text(2, forward_origin={"type": "user", "date": DATE, "sender_user": ME})),
    (_text(1, forward_origin={"type": "hidden_user", "date": DATE, "sender_user_name": "X"}),
     _text(2, forward_origin={"type": "hidden_user", "date": DATE, "sender_user_name": "Y"})),
    (_text(1, location={"latitude": 51.1, "longitude": 71.4}), _text(2, location={"latitude": 43.2, "longitude": 76.9})),
    (_text(1, location={"latitude": 51.1, "longitude": 71.4}), _text(2, location={"latitude": 43, "longitude": 76})),
    # the field's name as well as its alias ("from", "from_user"), or the name alone
    ({"update_id": 1, "message": {**_text(1)["message"], "from_user": ME}},
     {"update_id": 2, "message": {**_text(2)["message"], "from_user": ME}}),
    ({"update_id": 1, "message": {k if k != "from" else "from_user": v for k, v in _text(1)["message"].items()}},
     {"update_id": 2, "message": {k if k != "from" else "from_user": v for k, v in _text(2)["message"].items()}}),
    # a button pressed under a message too old to show (InaccessibleMessage: date 0), and under a shown one
    (_press(1, date=0), _press(2, date=0)),
    (_press(1), _press(2, date=0)),
    (_press(1, date=0), _press(2)),
    (_press(1), _press(2, data="cw:a:1:n", more={"edit_date": DATE})),
    (_press(1, more={"edit_date": DATE}), _press(2, more={"edit_date": DATE})),
    # other kinds of update
    ({"update_id": 1, "edited_message": _text(1)["message"]}, {"update_id": 2, "edited_message": _text(2)["message"]}),
    ({"update_id": 1, "my_chat_member": {"chat": {"id": 7, "type": "private"}, "from": ME, "date": DATE,
                                         "old_chat_member": {"status": "member", "user": ME},
                                         "new_chat_member": {"status": "kicked", "user": ME, "until_date": 0}}},
     {"update_id": 2, "my_chat_member": {"chat": {"id": 7, "type": "private"}, "from": ME, "date": DATE,
                                         "old_chat_member": {"status": "kicked", "user": ME, "until_date": 0},
                                         "new_chat_member": {"status": "member", "user": ME}}}),
])
def test_an_odd_update_reads_as_validated(monkeypatch, teacher, student):
    """Forged or unusual shapes: whatever the session builds or validates, it is what pydantic reads."""
    reader = Reader(monkeypatch)
    reader.read([teacher])
    reader.read([student])
    reader.read([teacher, student, teacher])
    validated = reader.validations()
    reader.read([teacher, teacher])
    # built again: every shape but those holding a union of objects (a forward's origin, a chat member: their
    # values choose the type; a whole message dated 0 under a button: pydantic reads a Message or an
    # InaccessibleMessage by what it holds) or both a field's alias and its name ("from" and "from_user")
    message, shown = teacher.get("message", {}), teacher.get("callback_query", {}).get("message", {})
    vouched = "forward_origin" not in message and "my_chat_member" not in teacher and shown.get("date") != 0 \
        and not {"from", "from_user"} <= message.keys()
    assert reader.validations() == validated + (0 if vouched else 2)


def test_a_press_under_an_old_message_is_an_inaccessible_message(monkeypatch):
    """Telegram shows a message too old to show as its chat, id and date 0: pydantic reads an InaccessibleMessage
    (a whole message dated 0 it reads as a Message: tested above); whichever it is, the session reads the same."""
    def inaccessible(update_id: int) -> dict:
        update = _press(update_id)
        update["callback_query"]["message"] = {"chat": {"id": 7, "type": "private"}, "message_id": 5, "date": 0}
        return update

    reader = Reader(monkeypatch)
    reader.read([_press(1), inaccessible(2), _press(3, date=0)])
    old, shown, dated_0 = reader.read([inaccessible(4), _press(5), _press(6, date=0)])
    assert type(old.callback_query.message) is InaccessibleMessage and type(shown.callback_query.message) is Message
    assert type(dated_0.callback_query.message) is Message


def test_an_update_pydantic_refuses_fails_the_answer_as_before(monkeypatch):
    """A value the field does not take (a text that is a number): the answer fails with aiogram's error, for
    SkipUnparsableUpdates to skip that update."""
    reader = Reader(monkeypatch)
    reader.read([_text(1)])
    bad = _text(2, text=5)
    with pytest.raises(ClientDecodeError):
        reader.session.check_response(reader.bot, GetUpdates(), 200, orjson.dumps({"ok": True, "result": [_text(3), bad]}))
    with pytest.raises(ClientDecodeError):
        reader.session.check_response(reader.bot, GetUpdates(), 200, orjson.dumps({"ok": True, "result": [_text(3), 5]}))
    reader.read([_text(4)])


async def test_the_shortcuts_of_a_built_update_act_as_on_a_validated_one(monkeypatch):
    reader = Reader(monkeypatch)
    reader.read([_text(1), _press(2)])
    message, query = (u.event for u in reader.read([_text(3, "басқа", user=8), _press(4)]))
    assert reader.validations() == 1
    alone = Response[list[Update]].model_validate({"ok": True, "result": [_text(3, "басқа", user=8), _press(4)]},
                                                  context={"bot": reader.bot}).result
    for built, validated in ((message.answer("x"), alone[0].message.answer("x")),
                             (query.answer("ok"), alone[1].callback_query.answer("ok")),
                             (query.message.edit_text("y"), alone[1].callback_query.message.edit_text("y"))):
        assert type(built) is type(validated) and built.model_dump() == validated.model_dump()
        assert built.bot is reader.bot
    assert message.answer("x").chat_id == 8 and query.answer("ok").callback_query_id == "4004"


def test_a_delivered_update_changed_by_a_handler_does_not_change_the_next(monkeypatch):
    """Keyboards and entities are mutable aiogram objects: the plan keeps its own copy of what it learned from."""
    reader = Reader(monkeypatch)
    first = reader.read([_text(1, entities=[{"type": "bold", "offset": 0, "length": 2}]), _press(2)])
    first[0].message.entities[0].url = "https://changed"
    first[1].callback_query.message.reply_markup.inline_keyboard[0][0].text = "changed"
    first[0].message.as_(None)
    later = reader.read([_text(3, entities=[{"type": "bold", "offset": 0, "length": 2}]), _press(4)])
    assert reader.validations() == 1
    assert later[0].message.entities[0].url is None and later[0].message.bot is reader.bot


def test_another_bot_gets_objects_bound_to_it(monkeypatch):
    reader = Reader(monkeypatch)
    other = Bot(token="43:other", session=reader.session)
    reader.read([_text(1)])
    assert reader.read([_text(2)], bot=other)[0].message.bot is other
    assert reader.read([_text(3)])[0].message.chat.bot is reader.bot


def test_the_shapes_kept_stay_bounded(monkeypatch):
    """Shapes are chosen by whoever writes to the bot (an extra field, any number of entities): what is kept
    stays bounded."""
    reader = Reader(monkeypatch)
    most = session_module._PLANS_MAX
    for n in range(3 * most):
        entities = [{"type": "bold", "offset": 0, "length": 1}] * (n % 7)
        update = _text(n, entities=entities, **{f"field{n}": n})
        update["message"]["date"] = DATE + n
        reader.session.check_response(reader.bot, GetUpdates(), 200, orjson.dumps({"ok": True, "result": [update]}))
        assert len(reader.session._plans) <= most + 8 and len(reader.session._dates) <= _SEEN_MAX + 8
    reader.read([_text(1, entities=[], field1=0), _text(2)])


def test_one_update_reads_as_validated_too(monkeypatch):
    """``read_update`` (one update, as a webhook's body would be): the same reading, the same errors."""
    from pydantic import ValidationError

    reader = Reader(monkeypatch)
    for raw in (_text(1), _text(2), _press(3), _press(4, data="x")):
        _same(reader.session.read_update(reader.bot, raw), Update.model_validate(raw, context={"bot": reader.bot}))
    assert reader.alone == 2 + 4  # the first of each shape by the session; every one by the reference
    with pytest.raises(ValidationError):
        reader.session.read_update(reader.bot, _text(5, text=5))
