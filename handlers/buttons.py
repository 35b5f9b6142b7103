"""Inline buttons and keyboards of our own constants, without aiogram's validation of each one.

aiogram validates every button and keyboard it builds (~5 µs a button, ~4 µs a keyboard, plus ~3 µs to pack a
CallbackData), and /my, the case screens and a FAQ answer build several per update. Texts and data here are
our own strings, so a validated template is copied with them instead (pydantic's ``model_copy``, ~1 µs; its
``model_construct`` measured 4x slower than plain validation), and a button once built is kept: the same few
come back on every view. Nothing changes a sent markup (as handlers.common.main_menu), so one button can sit
in many keyboards. The key is the text as shown and the data as sent: a language switch asks for other texts,
hence other buttons. A press answered without a text (:func:`ack`) copies its request from a template too."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.methods import AnswerCallbackQuery
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup

from bot.services.background import spawn
from bot.services.sender import answering

__all__ = ["ack", "button", "keyboard"]

log = logging.getLogger(__name__)

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


async def ack(query: CallbackQuery) -> None:
    """A press answered without a text, and the handler goes on without waiting for Telegram's reply to it:
    the answer is a task of its own, made when the handler first waits (after the step's commit when it
    saved one, like every request: right after the next question's), and the next question leaves one round
    trip sooner (bench e2e at 100 updates/s: a wizard choice ~0.9 ms sooner on loopback; ~50-150 ms with
    Telegram's servers far away). Not a loop turn first: that let the next getUpdates leave before the step
    was even written (bot.services.sender.OutgoingPolicy waits for the replies' turn and their commit only).
    Every wizard button press makes one. The request is copied from a template (~2 µs) instead of validated
    with its five arguments (~5 µs).

    The step does not depend on it: an answer that fails is logged, and the error handler does not answer
    the press again (it would fail the same way)."""
    bot = query.bot
    assert bot is not None
    answering(query.id)
    spawn(_answer(bot, _ACK.model_copy(update={"callback_query_id": query.id}).as_(bot)))


async def _answer(bot: Bot, method: AnswerCallbackQuery) -> None:
    try:
        await bot(method)
    except Exception as exc:  # noqa: BLE001 - the spinner stops by itself; the step went on
        log.warning("could not answer the callback query: %s", type(exc).__name__)
