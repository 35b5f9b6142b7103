"""Complaint wizard (placeholder until the wizard lands)."""

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from handlers.common import BTN_COMPLAINT, MenuButton

router = Router(name="complaint")


@router.message(Command("complaint"))
@router.message(MenuButton(BTN_COMPLAINT))
async def complaint_entry(message: Message) -> None:
    await message.answer(_("The complaint wizard is being prepared."))
