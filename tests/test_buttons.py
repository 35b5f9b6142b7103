"""handlers/buttons.py: buttons and keyboards copied from a validated template are what aiogram would build,
and are sent the same; a kept button is found by its text and data only."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from handlers import buttons
from handlers.buttons import button, keyboard


def test_copied_buttons_and_keyboards_equal_validated_ones_and_dump_the_same():
    made = button("📋 Менің шағымдарым", "trk:list:0")
    built = InlineKeyboardButton(text="📋 Менің шағымдарым", callback_data="trk:list:0")
    assert made == built and made.model_fields_set == built.model_fields_set
    assert made.model_dump(exclude_none=True) == built.model_dump(exclude_none=True)
    rows = [[made], [button("x", "trk:pg:1"), button("y", "trk:pg:2")]]
    markup = keyboard(rows)
    validated = InlineKeyboardMarkup(inline_keyboard=rows)
    assert markup == validated and markup.model_dump(exclude_none=True) == validated.model_dump(exclude_none=True)
    assert keyboard([]).inline_keyboard == [] and keyboard(rows) is not markup  # a keyboard is never shared


def test_kept_buttons_by_text_and_data_and_bounded(monkeypatch):
    assert button("Да", "d:1") is button("Да", "d:1")
    assert button("Иә", "d:1").text == "Иә" and button("Да", "d:2").callback_data == "d:2"
    once = button("📂 №1", "trk:open:1", keep=False)
    assert once == button("📂 №1", "trk:open:1") and once is not button("📂 №1", "trk:open:1", keep=False)
    monkeypatch.setattr(buttons, "KEPT", 3)
    monkeypatch.setattr(buttons, "_kept", {})
    for i in range(10):
        assert button(str(i), "d").text == str(i)
        assert len(buttons._kept) <= 3
