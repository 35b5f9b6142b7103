"""Callback data of the desk (all well under Telegram's 64 bytes; every one carries the ticket id).

    dk:<action>:<ticket>   a card button (:class:`DeskAction`)                        e.g. "dk:reg:123"
    dkr:<ticket>:<value>   the citizen's rating of a result: 1..5, 0 = "I disagree"   e.g. "dkr:123:5"
    dke:<ticket>           the citizen ends the conversation with the desk            e.g. "dke:123"
    esc:<source>:<ref>     (handlers.common.EscalateCb) "send this to the desk"
"""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData

from handlers.common import RowId

__all__ = ["DeskAction", "DeskCb", "EndCb", "RateCb"]


class DeskAction(StrEnum):
    """A card button; the codes are bot.domain.desk's actions (its rules say which status allows which)."""

    TAKE = "take"
    REGISTER = "reg"
    EXTEND = "ext"
    RESOLVE = "res"
    REJECT = "rej"


class DeskCb(CallbackData, prefix="dk"):
    #: A :class:`DeskAction`, kept a plain string on the wire: an operator's press of a forged or retired action
    #: on a real card is answered like an action the ticket's status does not allow (the card is refreshed).
    a: str
    t: RowId  # ticket id


class RateCb(CallbackData, prefix="dkr"):
    t: RowId
    v: int  # 1..5, 0 = disagree


class EndCb(CallbackData, prefix="dke"):
    t: RowId
