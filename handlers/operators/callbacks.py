"""Callback data of the desk (all well under Telegram's 64 bytes; every one carries the ticket id).

    dk:<action>:<ticket>   a card button: take | reg | ext | res | rej       e.g. "dk:reg:123"
    dkr:<ticket>:<value>   the citizen's rating of a result: 1..5, 0 = "I disagree"   e.g. "dkr:123:5"
    dke:<ticket>           the citizen ends the conversation with the desk            e.g. "dke:123"
    esc:<source>:<ref>     (handlers.common.EscalateCb) "send this to the desk"
"""

from aiogram.filters.callback_data import CallbackData

from handlers.common import RowId


class DeskCb(CallbackData, prefix="dk"):
    a: str  # action
    t: RowId  # ticket id


class RateCb(CallbackData, prefix="dkr"):
    t: RowId
    v: int  # 1..5, 0 = disagree


class EndCb(CallbackData, prefix="dke"):
    t: RowId
