"""Tracking of filed complaints (placeholder until tracking lands)."""

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from handlers.common import BTN_MY, MenuButton

router = Router(name="tracking")


@router.message(Command("my"))
@router.message(MenuButton(BTN_MY))
async def my_complaints(message: Message) -> None:
    await message.answer(_("You have no tracked complaints yet."))
