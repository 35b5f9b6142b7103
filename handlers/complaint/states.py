"""FSM states of the wizard. The exact step is `data["step"]` (a Complaint field name, "attachments" or
"review"), so one `set_data` moves the conversation atomically; the state only says "consent pending" or
"a draft exists" (and gives the purge job its prefix)."""

from aiogram.fsm.state import State, StatesGroup


class ComplaintWizard(StatesGroup):
    consent = State()  # explanation shown, waiting for Agree / Decline; nothing personal stored yet
    draft = State()  # consent given; data = {"token", "n", "step", "editing", "draft": Complaint.to_dict()}


STATE_PREFIX = "ComplaintWizard"
