"""The wizard's one callback-data factory.

    cw:<token>:<n>:<action>:<value>      e.g. cw:Xy3_k:7:ch:individual   cw:Xy3_k:12:dp:20250315

* token: 6 url-safe chars, new for each draft (a button of another draft, or of a finished one, is stale);
* n: the prompt number, +1 for every question sent (a button of an earlier question is stale);
* action: ok / no (consent), ch (choice; value = id), ct (the court, advice at the recipient question),
  bk (back), sk (skip), cx (cancel: asks first), cy / cn (yes, delete the draft / no, keep it), ni (no IIN),
  dp (date picked; value = YYYYMMDD), dm (show month; value = YYYYMM), nop (calendar label),
  dn (attachments done), cl (clear attachments), ed (edit from the review; value = field name or
  "attachments"), cf (confirm), new (drop the draft and start over).
The longest value is a field name (23 chars): every packed value stays well under Telegram's 64 bytes.
"""

from aiogram.filters.callback_data import CallbackData

PREFIX = "cw"


class WizCb(CallbackData, prefix=PREFIX):
    t: str
    n: int
    a: str
    v: str = ""
