"""The tracking questions: a new case (:class:`TrackingForm`) and what happened since (:class:`TrackingEvent`).
The FSM data holds plain JSON (dates as ISO strings). A question's name is its state's name in its group."""

from aiogram.fsm.state import State, StatesGroup

__all__ = ["DATE_QUESTIONS", "FORM_STEPS", "TrackingEvent", "TrackingForm", "question_of", "state_of"]


class TrackingForm(StatesGroup):
    recipient = State()
    filed_with = State()
    forwarded = State()
    registered = State()
    reg_number = State()
    learned_on = State()


class TrackingEvent(StatesGroup):
    ext_days = State()
    ext_on = State()
    ext_told = State()
    ans_on = State()


FORM_STEPS = ("recipient", "filed_with", "forwarded", "registered", "reg_number", "learned_on")
EVENT_STEPS = ("ext_days", "ext_on", "ext_told", "ans_on")
DATE_QUESTIONS = frozenset({"registered", "learned_on", "ext_on", "ext_told", "ans_on"})

_STATES: dict[str, State] = {
    **{name: getattr(TrackingForm, name) for name in FORM_STEPS},
    **{name: getattr(TrackingEvent, name) for name in EVENT_STEPS},
}
_QUESTIONS: dict[str | None, str] = {state.state: name for name, state in _STATES.items()}


def state_of(question: str) -> State:
    return _STATES[question]


def question_of(raw_state: str | None) -> str | None:
    """The tracking question a conversation is on (None: not in tracking)."""
    return _QUESTIONS.get(raw_state)
