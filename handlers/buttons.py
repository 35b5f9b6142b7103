"""Inline buttons kept once built: aiogram validates every button it builds (~5 µs, and ~3 µs more to pack a
CallbackData), and the same few come back on every /my, case screen and FAQ answer. Nothing changes a sent
markup (as handlers.common.main_menu), so one button object can sit in many keyboards. The key is the text as
shown and the data as sent: a language switch asks for other texts, hence other buttons."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton

__all__ = ["button"]

KEPT = 4096  # buttons kept (a few hundred bytes each); all are dropped when full, and built again on demand

_kept: dict[tuple[str, str], InlineKeyboardButton] = {}


def button(text: str, callback_data: str) -> InlineKeyboardButton:
    key = (text, callback_data)
    found = _kept.get(key)
    if found is None:
        if len(_kept) >= KEPT:
            _kept.clear()
        found = _kept[key] = InlineKeyboardButton(text=text, callback_data=callback_data)
    return found
