"""Inline buttons and keyboards of our own constants, without aiogram's validation of each one.

aiogram validates every button and keyboard it builds (~5 µs a button, ~4 µs a keyboard, plus ~3 µs to pack a
CallbackData), and /my, the case screens and a FAQ answer build several per update. Texts and data here are
our own strings, so a validated template is copied with them instead (pydantic's ``model_copy``, ~1 µs; its
``model_construct`` measured 4x slower than plain validation), and a button once built is kept: the same few
come back on every view. Nothing changes a sent markup (as handlers.common.main_menu), so one button can sit
in many keyboards. The key is the text as shown and the data as sent: a language switch asks for other texts,
hence other buttons. A press answered without a text (:func:`ack`) copies its request from a template too."""

from __future__ import annotations

from aiogram.methods import AnswerCallbackQuery
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup

__all__ = ["ack", "button", "keyboard"]

KEPT = 1024  # buttons kept (~1.3 KB each); all are dropped when full, and built again on demand

_kept: dict[tuple[str, str], InlineKeyboardButton] = {}
_BUTTON = InlineKeyboardButton(text="-", callback_data="-")
_KEYBOARD = InlineKeyboardMarkup(inline_keyboard=[])


def button(text: str, callback_data: str, *, keep: bool = True) -> InlineKeyboardButton:
    """The button; ``keep=False`` for one that names a single person's row (a case of theirs): built, not kept."""
    if not keep:
        return _BUTTON.model_copy(update={"text": text, "callback_data": callback_data})
    key = (text, callback_data)
    found = _kept.get(key)
    if found is None:
        if len(_kept) >= KEPT:
            _kept.clear()
        found = _kept[key] = _BUTTON.model_copy(update={"text": text, "callback_data": callback_data})
    return found


def keyboard(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup:
    """``InlineKeyboardMarkup(inline_keyboard=rows)`` for rows of :func:`button`'s."""
    return _KEYBOARD.model_copy(update={"inline_keyboard": rows})


_ACK = AnswerCallbackQuery(callback_query_id="-")


async def ack(query: CallbackQuery) -> bool:
    """``await query.answer()`` (a press answered without a text): the same request copied from a template
    (~2 µs) instead of validated with its five arguments (~5 µs); every wizard button press makes one."""
    bot = query.bot
    return await bot(_ACK.model_copy(update={"callback_query_id": query.id}).as_(bot))  # type: ignore[misc]
