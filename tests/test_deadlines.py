"""Deadline engine: worked examples (docs/calendar.md, 'Worked deadlines'; docs/legal.md, 'Extension and
notice', 'Counting terms'), registration, extension, properties."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.domain.deadlines import (
    BASIS_KEYS,
    REVIEW_TERMS,
    DeadlineError,
    Deadlines,
    Recipient,
    add_months,
    compute,
    extension_notice_late,
    filing_limit_from,
    registration_date,
    working_days_left,
)
from bot.domain.workdays import default_calendar

CAL = default_calendar()
ALMATY = ZoneInfo("Asia/Almaty")
D = date.fromisoformat

# docs/calendar.md, 'Worked deadlines': start, +5, +10, +15 (None = not given).
WORKED = [
    ("2025-03-19", "2025-03-31", "2025-04-07", "2025-04-14"),
    ("2025-12-12", "2025-12-22", "2025-12-29", "2026-01-08"),
    ("2026-01-01", "2026-01-12", "2026-01-19", "2026-01-26"),
    ("2026-03-18", "2026-03-30", "2026-04-06", "2026-04-13"),
    ("2026-05-05", "2026-05-14", "2026-05-21", "2026-05-29"),
    ("2026-08-24", "2026-08-31", None, None),
    ("2026-12-14", "2026-12-22", "2026-12-29", "2027-01-08"),
]


@pytest.mark.parametrize(("start", "plus5", "plus10", "plus15"), WORKED)
def test_worked_examples(start: str, plus5: str, plus10: str | None, plus15: str | None) -> None:
    # The table counts from a start date; a complaint arriving on a non-working day (2026-01-01) is registered on
    # the next working day first (APPK art. 64 p. 3), so compute() is checked on working start days only.
    assert CAL.add_working_days(D(start), 5) == D(plus5)
    if plus10:
        assert CAL.add_working_days(D(start), 10) == D(plus10)
    if plus15:
        assert CAL.add_working_days(D(start), 15) == D(plus15)
    if not CAL.is_working_day(D(start)):
        registered = CAL.next_working_day(D(start))
        assert compute(Recipient.PROVIDER, D(start), CAL).review_due == CAL.add_working_days(registered, 5)
        return
    provider = compute(Recipient.PROVIDER, D(start), CAL)
    assert provider.review_due == D(plus5)
    assert provider.escalate_from == D(plus5) + timedelta(days=1)
    assert CAL.add_working_days(D(start), 5) == D(plus5)
    if plus10:
        extended = compute("provider", D(start), CAL, extended_by=5)  # 5 + 5 working days
        assert extended.review_due == D(plus10) == CAL.add_working_days(D(start), 10)
    if plus15:
        authority = compute("quality_authority", D(start), CAL)
        assert authority.review_due == D(plus15)
        assert authority.provisional == (D(plus15).year == 2027)


def test_legal_md_example_and_provisional_2027() -> None:
    result = compute("provider", date(2025, 11, 17), CAL)
    assert (result.review_due, result.escalate_from, result.provisional) == (date(2025, 11, 24), date(2025, 11, 25), False)
    assert compute("akim", date(2025, 11, 17), CAL).review_due == date(2025, 11, 24)
    late = compute("quality_authority", date(2026, 12, 14), CAL)
    assert late.review_due == date(2027, 1, 8) and late.provisional
    assert compute("provider", date(2026, 12, 14), CAL).provisional is False
    assert compute("provider", date(2027, 3, 1), CAL).provisional is True


def test_registered_on_a_day_off_counts_from_the_next_working_day() -> None:
    # docs/legal.md, 'Counting terms':
    # Saturday 15.11.2025 -> registered Monday 17.11.2025, day 1 is Tuesday, due Monday 24.11.
    for day in (date(2025, 11, 15), date(2025, 11, 16)):
        r = compute("provider", day, CAL)
        assert r.registered == date(2025, 11, 17)
        assert r.item("registered").day == date(2025, 11, 17)
        assert r.review_due == date(2025, 11, 24)
    # Independence Day (Tue 16.12.2025) -> registered Wed 17.12, due Wed 24.12.
    assert compute("provider", date(2025, 12, 16), CAL).review_due == compute("provider", date(2025, 12, 17), CAL).review_due
    forwarded = compute("quality_authority", date(2025, 11, 15), CAL, forwarded_via_provider=True)
    assert forwarded.forwarding_due == date(2025, 11, 20)


def test_extension() -> None:
    r = compute("provider", date(2026, 12, 14), CAL, extended_by=5)
    assert r.original_review_due == date(2026, 12, 22)
    assert r.review_due == date(2026, 12, 29)
    assert r.extended_on == date(2026, 12, 22)  # default: the original due date
    assert r.extension_notice_due == date(2026, 12, 25)
    assert r.escalate_from == date(2026, 12, 30)
    assert r.item("review_due").basis == "extension_max_10"
    assert r.item("extension_notice_due").basis == "extension_notice_3"
    r2 = compute("provider", date(2026, 12, 14), CAL, extended_by=10, extended_on=date(2026, 12, 15))
    assert r2.extension_notice_due == date(2026, 12, 21)  # Dec 16 is Independence Day: Thu, Fri, Mon
    assert r2.review_due == CAL.add_working_days(date(2026, 12, 22), 10)
    for bad in (-1, 11, 100):
        with pytest.raises(DeadlineError) as err:
            compute("provider", date(2026, 12, 14), CAL, extended_by=bad)
        assert err.value.key == "extension_out_of_range" and isinstance(err.value, ValueError)
    with pytest.raises(DeadlineError, match="extended_on_without_extension"):
        compute("provider", date(2026, 12, 14), CAL, extended_on=date(2026, 12, 15))
    with pytest.raises(DeadlineError, match="unknown_recipient"):
        compute("court", date(2026, 12, 14), CAL)


def test_extension_notice_late_and_days_left() -> None:
    extended_on = date(2026, 12, 15)
    assert not extension_notice_late(extended_on, date(2026, 12, 21), CAL)
    assert extension_notice_late(extended_on, date(2026, 12, 22), CAL)
    due = date(2025, 11, 24)
    assert working_days_left(date(2025, 11, 17), due, CAL) == 5
    assert working_days_left(due, due, CAL) == 0
    assert working_days_left(date(2025, 11, 25), due, CAL) == -1
    assert working_days_left(date(2025, 11, 29), due, CAL) == -4  # Sat: Tue..Fri were working days


def test_forwarding() -> None:
    r = compute("quality_authority", date(2025, 11, 17), CAL, forwarded_via_provider=True)
    assert r.forwarding_due == date(2025, 11, 20)
    assert r.item("forwarding_due").basis == "appk_91_4_forwarding"
    # The reviewing body's term runs from the latest day it can have received the complaint.
    assert r.review_due == CAL.add_working_days(date(2025, 11, 20), 15)
    assert compute("quality_authority", date(2025, 11, 17), CAL).forwarding_due is None


def test_filing_limit() -> None:
    assert add_months(date(2025, 11, 30), 3) == date(2026, 2, 28)
    assert add_months(date(2023, 11, 30), 3) == date(2024, 2, 29)
    r = compute("provider", date(2026, 3, 2), CAL, learned_on=date(2025, 11, 30))
    assert r.filing_limit == date(2026, 3, 2)  # Sat 28 Feb -> Mon 2 Mar
    assert r.filing_limit_missed is False
    r = compute("provider", date(2026, 3, 11), CAL, learned_on=date(2025, 12, 8))
    assert r.filing_limit == date(2026, 3, 10)  # Sun 8 Mar, Mon 9 Mar carry-over -> Tue 10 Mar
    assert r.filing_limit_missed is True  # a warning only: the deadlines are still computed
    assert r.item("filing_limit").basis == "appk_92_filing_limit"
    assert compute("provider", date(2026, 3, 11), CAL).filing_limit is None


@pytest.mark.parametrize(
    ("submitted", "expected"),
    [
        (datetime(2026, 12, 14, 9, 0, tzinfo=ALMATY), date(2026, 12, 14)),
        (datetime(2026, 12, 14, 17, 59, tzinfo=ALMATY), date(2026, 12, 14)),
        (datetime(2026, 12, 14, 18, 0, tzinfo=ALMATY), date(2026, 12, 15)),
        (datetime(2026, 12, 14, 19, 30, tzinfo=ALMATY), date(2026, 12, 15)),
        (datetime(2026, 12, 15, 19, 30, tzinfo=ALMATY), date(2026, 12, 17)),  # Dec 16 holiday
        (datetime(2025, 3, 8, 10, 0, tzinfo=ALMATY), date(2025, 3, 11)),  # Sat -> (Sun, Mon carry-over) Tue
        (datetime(2025, 11, 17, 12, 30, tzinfo=timezone.utc), date(2025, 11, 17)),  # 17:30 in Almaty
        (datetime(2025, 11, 17, 13, 30, tzinfo=timezone.utc), date(2025, 11, 18)),  # 18:30 in Almaty
    ],
)
def test_registration_date(submitted: datetime, expected: date) -> None:
    assert registration_date(submitted, CAL) == expected


def test_registration_date_options_and_naive() -> None:
    moment = datetime(2025, 11, 17, 17, 30, tzinfo=ALMATY)
    assert registration_date(moment, CAL, end_of_day=time(17, 0)) == date(2025, 11, 18)
    with pytest.raises(DeadlineError, match="submitted_at_naive"):
        registration_date(datetime(2025, 11, 17, 10, 0), CAL)


def test_items_and_to_dict() -> None:
    r = compute(
        "quality_authority", date(2025, 11, 17), CAL,
        extended_by=3, forwarded_via_provider=True, learned_on=date(2025, 11, 1),
    )
    assert isinstance(r, Deadlines)
    days = [i.day for i in r.items]
    assert days == sorted(days)
    keys = [i.key for i in r.items]
    assert keys[0] == "registered" and set(keys) == {
        "registered", "forwarding_due", "review_due_original", "review_due",
        "extension_notice_due", "escalate_from", "filing_limit",
    }
    assert {i.basis for i in r.items} <= set(BASIS_KEYS)
    data = r.to_dict()
    assert data["recipient"] == "quality_authority"
    assert data["review_due"] == r.review_due.isoformat()
    assert data["items"][0] == {"key": "registered", "day": "2025-11-17", "basis": "appk_64_3_registration"}
    with pytest.raises(AttributeError):
        r.review_due = date(2000, 1, 1)  # type: ignore[misc]  # the test: a frozen result refuses it


@settings(max_examples=150, deadline=None)
@given(
    st.dates(min_value=date(2022, 1, 1), max_value=date(2029, 12, 31)),
    st.sampled_from(list(Recipient)),
    st.integers(min_value=0, max_value=10),
    st.booleans(),
)
# Found by a random run: the extension notice (5 Jan 2027) lies in an unverified year though the review does not.
@example(date(2026, 12, 16), Recipient.PROVIDER, 1, True)
def test_properties(registered: date, recipient: Recipient, extended_by: int, forwarded: bool) -> None:
    r = compute(recipient, registered, CAL, extended_by=extended_by, forwarded_via_provider=forwarded)
    assert CAL.is_working_day(r.review_due)
    assert r.registered == CAL.working_day_on_or_after(registered)
    start = r.forwarding_due or r.registered
    assert CAL.working_days_between(start, r.review_due) == REVIEW_TERMS[recipient] + extended_by
    assert r.escalate_from == r.review_due + timedelta(days=1)
    # provisional: an unverified year was used for any day the person is told (the extension notice too)
    assert r.provisional == CAL.is_provisional(registered, *(i.day for i in r.items))
    if extended_by:
        assert CAL.working_days_between(r.extended_on, r.extension_notice_due) == 3


# --- one month for the court (APPK art. 136), three months for a further complaint (APPK art. 92) -------------

def test_court_limit_is_one_month_then_the_next_working_day():
    from bot.domain.deadlines import court_limit_from, further_complaint_limit_from
    from bot.domain.workdays import default_calendar

    cal = default_calendar()
    # 2026-11-14 (Sat) + 1 month = 2026-12-14 (Mon): a working day, kept.
    assert court_limit_from(date(2026, 11, 14), cal) == date(2026, 12, 14)
    # lands on Saturday 2026-11-28 -> Monday 30.11
    assert court_limit_from(date(2026, 10, 28), cal) == date(2026, 11, 30)
    # lands on 16 December (Independence Day, a Wednesday in 2026) -> 17.12
    assert court_limit_from(date(2026, 11, 16), cal) == date(2026, 12, 17)
    # lands inside Nauryz 2026 (23-25 March off) -> 26.03
    assert court_limit_from(date(2026, 2, 23), cal) == date(2026, 3, 26)
    # 31 January + 1 month is clamped to 28 February 2026 (a Saturday) -> Monday 2 March
    assert court_limit_from(date(2026, 1, 31), cal) == date(2026, 3, 2)
    # further complaint: 3 months, same rule (2026-11-29 is a Sunday -> 30.11)
    assert further_complaint_limit_from(date(2026, 8, 29), cal) == date(2026, 11, 30)


# --- the answer: one month to court and three months for a further complaint, both in compute() --------------

@pytest.mark.parametrize(
    ("answered", "court", "further"),
    [
        (date(2026, 10, 28), date(2026, 11, 30), date(2027, 1, 28)),  # court: Sat 28.11 -> Mon 30.11
        (date(2026, 11, 16), date(2026, 12, 17), date(2027, 2, 16)),  # court: 16 December (Independence Day)
        (date(2026, 2, 23), date(2026, 3, 26), date(2026, 5, 25)),  # court: inside Nauryz (23-25.03); 23.05 Sat
        (date(2026, 1, 31), date(2026, 3, 2), date(2026, 4, 30)),  # 31.01 + 1 month = 28.02 (Sat) -> 02.03
    ],
)
def test_compute_answered_gives_court_and_further_complaint_limits(answered, court, further):
    r = compute("provider", date(2026, 1, 5), CAL, answered_on=answered)
    assert r.answered_on == answered
    assert r.court_until.day == court and r.court_until.counted_from == answered
    assert r.further_complaint_until.day == further and r.further_complaint_until.counted_from == answered
    assert r.court_until.basis == "appk_136_court_limit"
    assert r.further_complaint_until.basis == "appk_92_further_complaint"
    data = r.to_dict()
    assert data["answered"] == answered.isoformat()
    assert data["court_until"] == {"day": court.isoformat(), "from": answered.isoformat(),
                                   "provisional": CAL.is_provisional(answered, court), "basis": "appk_136_court_limit"}
    assert data["further_complaint_until"]["day"] == further.isoformat()


def test_limits_without_an_answer_count_from_the_missed_review():
    """No answer: one month to court (APPK art. 136) and 3 months for a further complaint (APPK art. 92), both
    from the day the review term expired: its last day, the earlier reading (docs/legal.md, 'Counting terms')."""
    r = compute("quality_authority", date(2026, 12, 14), CAL)
    assert r.answered_on is None
    assert r.court_until.counted_from == r.review_due
    assert r.court_until.day == CAL.working_day_on_or_after(add_months(r.review_due, 1))
    assert r.further_complaint_until.counted_from == r.review_due
    assert r.further_complaint_until.day == CAL.working_day_on_or_after(add_months(r.review_due, 3))
    # 2027 is not a verified year: each limit says so itself
    assert r.court_until.provisional and r.further_complaint_until.provisional


def test_answer_before_registration_is_refused():
    with pytest.raises(DeadlineError, match="answered_before_registration"):
        compute("provider", date(2026, 12, 14), CAL, answered_on=date(2026, 12, 1))


def test_missed_review_is_inaction_not_refusal():
    r = compute("provider", date(2026, 12, 14), CAL)
    assert r.item("escalate_from").basis == "review_missed_inaction"
    assert "appk_91_2_missed_deadline_is_refusal" not in BASIS_KEYS


def test_a_complaint_handed_in_after_hours_on_the_last_day_is_in_time():
    """The 3-month limit is met by the day the complaint is handed in, though it is registered the next
    working day (APPK art. 64 p. 3): 16.06.2026 19:00 with a limit of 16.06 is in time."""
    learned = date(2026, 3, 16)
    assert filing_limit_from(learned, CAL) == date(2026, 6, 16)
    r = compute("provider", date(2026, 6, 17), CAL, learned_on=learned, filed_on=date(2026, 6, 16))
    assert r.filing_limit_missed is False
    assert compute("provider", date(2026, 6, 17), CAL, learned_on=learned).filing_limit_missed is True


def test_deadlines_are_computed_once_per_calendar_and_facts() -> None:
    """compute() keeps its result on the calendar (KzCalendar.derived): the same facts give the same object, a
    calendar built with a new fact counts again, and refused input is never answered from the memo."""
    from bot.domain.workdays import KzCalendar, Override

    cal = KzCalendar()
    first = compute("provider", D("2026-06-01"), cal, extended_by=1)
    assert compute(Recipient.PROVIDER, D("2026-06-01"), cal, extended_by=1) is first
    assert compute("provider", D("2026-06-01"), cal, extended_by=1, forwarded_via_provider=True) is not first
    with pytest.raises(DeadlineError):
        compute("provider", D("2026-06-01"), cal, extended_by=True)  # == 1 as a key, still refused
    day_off = KzCalendar(overrides=[Override(D("2026-06-02"), "transfer_off", False)])
    moved = compute("provider", D("2026-06-01"), day_off, extended_by=1)
    assert moved.review_due == D("2026-06-10") and first.review_due == D("2026-06-09")
    plain = compute("provider", D("2026-06-01"), _Plain(cal), extended_by=1)  # a calendar without a memo
    assert plain == first and plain is not first


class _Plain:
    """A WorkCalendar without ``derived``."""

    def __init__(self, cal: object) -> None:
        self._cal = cal

    def __getattr__(self, name: str) -> object:
        if name == "derived":
            raise AttributeError(name)
        return getattr(self._cal, name)
