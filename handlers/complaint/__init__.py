"""The complaint wizard: consent, then every field the law requires, a review screen and the DOCX.

Modules: `states` (the FSM group), `callbacks` (the one CallbackData factory), `steps` (order of the steps,
labels, questions, error texts: rendering only, the rules live in bot.domain.complaint), `keyboards`, `handlers`
(the router) and `jobs` (the draft purge). Drafts live only in the FSM (SQLite): state + data.
"""

from handlers.complaint.handlers import router

__all__ = ["router"]
