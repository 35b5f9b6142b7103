"""Questions (placeholder until the FAQ router lands)."""

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from handlers.common import BTN_QUESTIONS, MenuButton

router = Router(name="faq")


@router.message(Command("faq"))
@router.message(MenuButton(BTN_QUESTIONS))
async def faq_entry(message: Message) -> None:
    await message.answer(_("Type your question in your own words."))
