"""Callback data of tracking (all < 64 bytes).

* ``trk:<action>:<id>`` (:class:`TrkCb`) -- actions on the list and on one case; ``id`` is a case id (open,
  extended, answered, waiting, close and its confirmation), a saved complaint id (track a saved complaint), a
  page of the list (list, page), or 0 (new, reminders off/on). Ownership of the case / complaint is checked
  on every press; a foreign or unknown id gets "This button is no longer valid."
* ``trkw:<action>:<value>:<question>`` (:class:`TrkWizCb`) -- answers inside the question flows; ``question``
  is the question the button belongs to, so a button of an earlier question is stale.
Data under these prefixes that does not unpack (an unknown action, a forged id) is answered as stale.
"""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData

from handlers.common import RowId

__all__ = ["QAction", "TrkAction", "TrkCb", "TrkWizCb"]


class TrkAction(StrEnum):
    OPEN = "open"  # show a case
    EXTENDED = "ext"  # "they extended it": asks the extension's questions
    ANSWERED = "ans"  # "I got an answer": asks its date
    WAITING = "wait"  # "no answer yet": what the deadlines say today
    CLOSE = "close"  # asks first
    CLOSE_YES = "cly"
    CLOSE_NO = "cln"
    TRACK_SAVED = "cpl"  # track a saved complaint (id = the complaint)
    NEW = "new"  # track a complaint filed elsewhere
    LIST = "list"  # the list, sent anew
    PAGE = "pg"  # another page of the list, in place (id = the page)
    REMINDERS_OFF = "roff"
    REMINDERS_ON = "ron"


class QAction(StrEnum):
    RECIPIENT = "rk"  # value = the recipient kind
    FORWARDED = "fw"  # value = y / n
    EXT_DAYS = "xd"  # value = the number of working days
    SKIP = "sk"
    BACK = "bk"
    DAY = "dp"  # value = YYYYMMDD
    MONTH = "dm"  # value = YYYYMM
    NOP = "nop"  # a calendar label
    CANCEL = "x"


class TrkCb(CallbackData, prefix="trk"):
    a: TrkAction
    id: RowId = 0


class TrkWizCb(CallbackData, prefix="trkw"):
    a: QAction
    v: str = ""
    s: str = ""  # the question the button belongs to
