"""Kazakhstan working-day calendar: golden table (docs/calendar.md, 'The 2024-2027 table'), holidays.KZ
cross-check, properties."""

from __future__ import annotations

import time
from datetime import date, timedelta

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from workalendar.core import Calendar

from bot.domain.workdays import (
    CalendarFacts,
    KzCalendar,
    Override,
    default_calendar,
    load_facts,
    state_holidays,
)

CAL = default_calendar()


def _d(year: int, spec: str) -> list[date]:
    """'Jan 1, 2; Mar 8' -> dates (the notation of docs/calendar.md's table)."""
    months = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
    out: list[date] = []
    for group in filter(None, (g.strip() for g in spec.split(";"))):
        month, days = group.split(" ", 1)
        out += [date(year, months[month], int(x.strip(" *†"))) for x in days.split(",")]
    return out


# docs/calendar.md, 'The 2024-2027 table', copied verbatim (markers * and † kept, then stripped).
GOLDEN_OFF = {
    2024: "Jan 1, 2; Mar 8, 21, 22, 25*; May 1, 7, 8†, 9; Jul 8*; Aug 30; Oct 25; Dec 16",
    2025: "Jan 1, 2, 3†, 7; Mar 10*, 21, 24*, 25*; May 1, 7, 9; Jun 6; Jul 7*; Sep 1*; Oct 27*; Dec 16",
    2026: "Jan 1, 2, 7; Mar 9*, 23, 24*, 25*; May 1, 7, 11*, 27; Jul 6; Oct 26*; Dec 16",
    2027: "Jan 1, 4*, 7; Mar 8, 15, 22, 23, 24*; May 3*, 7, 10*; Jul 6; Oct 25; Dec 16",
}
GOLDEN_WORK = {2024: [date(2024, 5, 4)], 2025: [date(2025, 1, 5)], 2026: [], 2027: []}


@pytest.mark.parametrize("year", [2024, 2025, 2026, 2027])
def test_golden_table(year: int) -> None:
    assert [d for d, _ in CAL.non_working_weekdays(year)] == _d(year, GOLDEN_OFF[year])
    assert [d for d, _ in CAL.working_weekend_days(year)] == GOLDEN_WORK[year]


def test_reason_keys() -> None:
    off = dict(CAL.non_working_weekdays(2024) + CAL.non_working_weekdays(2025) + CAL.non_working_weekdays(2026))
    assert off[date(2024, 1, 1)] == "holiday:new_year"
    assert off[date(2024, 3, 25)] == "carry_over"
    assert off[date(2024, 5, 8)] == "transfer"
    assert off[date(2025, 1, 7)] == "orthodox_christmas"
    assert off[date(2025, 6, 6)] == "kurban_ait"
    assert off[date(2026, 3, 23)] == "holiday:nauryz"
    assert dict(CAL.working_weekend_days(2025)) == {date(2025, 1, 5): "transfer"}
    # Religious days on a weekend are not carried over; 30 Aug is not a holiday from 2026.
    assert date(2024, 1, 8) not in off and date(2024, 6, 17) not in off
    assert CAL.is_working_day(date(2026, 8, 31))


def test_statutory_year_ranges() -> None:
    def names(year: int) -> set[tuple[int, int]]:
        return {(d.month, d.day) for d, _ in state_holidays(year)}

    assert {(12, 1), (12, 17)} <= names(2021)
    assert (10, 25) not in names(2021) and (10, 25) in names(2022)
    assert not {(12, 1), (12, 17)} & names(2022)
    assert (8, 30) in names(2025) and (8, 30) not in names(2026)
    assert (3, 15) not in names(2026) and (3, 15) in names(2027)


@pytest.mark.parametrize("year", sorted(load_facts().verified_years))
def test_matches_holidays_kz_day_by_day(year: int) -> None:
    """holidays>=0.109: a date is working iff (weekend and in weekend_workdays) or (weekday and not a holiday)."""
    kz = holidays.KZ(years=year)
    day, mismatches = date(year, 1, 1), []
    while day.year == year:
        theirs = day in kz.weekend_workdays if day.weekday() >= 5 else day not in kz
        assert theirs == kz.is_working_day(day)
        if theirs != CAL.is_working_day(day):
            mismatches.append(day)
        day += timedelta(days=1)
    assert mismatches == []


def test_verified_and_provisional() -> None:
    assert [y for y in range(2020, 2030) if CAL.is_verified(y)] == [2024, 2025, 2026]
    assert not CAL.is_provisional(date(2024, 1, 1), date(2026, 12, 31))
    assert CAL.is_provisional(date(2026, 12, 14), date(2027, 1, 8))
    assert CAL.is_provisional(date(2023, 12, 31), date(2024, 1, 5))
    assert not CAL.is_provisional()
    assert CAL.verification_reminder_due(date(2026, 12, 1))
    assert not CAL.verification_reminder_due(date(2026, 11, 30))
    assert not CAL.verification_reminder_due(date(2025, 12, 1))


def test_the_days_a_recorded_fact_changes() -> None:
    """Kurban Ait recorded (17 May 2027), then corrected (13 May): the correction changes both days; a transfer
    its own day; the same fact again nothing."""
    announced = Override(date(2027, 5, 17), "kurban_ait", False, "a")
    first = KzCalendar(CAL.facts, overrides=[announced])
    corrected = KzCalendar(CAL.facts, overrides=[announced, Override(date(2027, 5, 13), "kurban_ait", False, "b")])
    assert corrected.days_changed(first, 2027) == [date(2027, 5, 13), date(2027, 5, 17)]
    assert first.days_changed(CAL, 2027) == [date(2027, 5, 17)]
    moved = KzCalendar(CAL.facts, overrides=[Override(date(2027, 1, 9), "transfer_work", True, "c")])  # Saturday
    assert moved.days_changed(CAL, 2027) == [date(2027, 1, 9)] and CAL.days_changed(CAL, 2027) == []


def test_a_year_verified_at_run_time_stops_the_reminder() -> None:
    """An operator's /calendar verify 2027 (stored, then passed in) ends the December reminder and the
    provisional marks; the Kurban Ait date is the one fact it needs recorded first."""
    assert CAL.kurban_ait(2027) is None and CAL.kurban_ait(2026) == date(2026, 5, 27)
    kurban = Override(date(2027, 5, 17), "kurban_ait", False, "Order")
    cal = KzCalendar(CAL.facts, overrides=[kurban], verified_years=[2027])
    assert cal.kurban_ait(2027) == date(2027, 5, 17) and cal.is_verified(2027)
    assert not cal.verification_reminder_due(date(2026, 12, 1))
    assert not cal.is_provisional(date(2026, 12, 14), date(2027, 1, 8))


def test_api_and_counting_convention() -> None:
    assert isinstance(CAL, Calendar)
    assert CAL.add_working_days(date(2025, 11, 17), 5) == date(2025, 11, 24)
    assert CAL.next_working_day(date(2025, 3, 7)) == date(2025, 3, 11)  # Fri -> (Sat, Sun, Mon 10 carry-over)
    assert CAL.working_day_on_or_after(date(2025, 3, 10)) == date(2025, 3, 11)
    assert CAL.working_day_on_or_after(date(2025, 3, 11)) == date(2025, 3, 11)
    assert CAL.working_days_between(date(2025, 11, 17), date(2025, 11, 24)) == 5
    assert CAL.working_days_between(date(2025, 11, 24), date(2025, 11, 17)) == -5
    assert CAL.add_working_days(date(2025, 11, 24), -5) == date(2025, 11, 17)
    # workalendar's own API agrees, including working weekend days and its extra_* arguments.
    assert CAL.get_working_days_delta(date(2025, 1, 1), date(2025, 1, 10)) == 5  # Jan 5 (Sun) worked
    assert CAL.add_working_days(date(2025, 11, 17), 5, extra_holidays=[date(2025, 11, 18)]) == date(2025, 11, 25)
    assert CAL.is_working_day(date(2025, 11, 22), extra_working_days=[date(2025, 11, 22)])
    assert (date(2025, 1, 3), "transfer") in CAL.holidays(2025)
    assert (date(2025, 3, 8), "holiday:womens_day") in CAL.holidays(2025)


def test_overrides_and_facts(tmp_path) -> None:
    facts = load_facts()
    assert {o.day for o in facts.transfers} == {date(2024, 5, 8), date(2024, 5, 4), date(2025, 1, 3), date(2025, 1, 5)}
    assert all(o.source for o in facts.overrides)
    assert facts.kurban_ait == {2024: date(2024, 6, 16), 2025: date(2025, 6, 6), 2026: date(2026, 5, 27)}
    cal = KzCalendar(
        facts,
        [
            Override(date(2027, 5, 17), "kurban_ait", False, "announcement"),
            Override(date(2027, 12, 31), "transfer_off", False, "order"),
            Override(date(2027, 12, 25), "transfer_work", True, "order"),
        ],
        verified_years=[2027],
    )
    assert not cal.is_working_day(date(2027, 5, 17)) and CAL.is_working_day(date(2027, 5, 17))
    assert cal.working_weekend_days(2027) == [(date(2027, 12, 25), "transfer")]
    assert (date(2027, 12, 31), "transfer") in cal.non_working_weekdays(2027)
    assert cal.is_verified(2027) and not cal.is_provisional(date(2027, 6, 1))
    # An operator correction of a Kurban Ait date replaces the data file's date.
    moved = KzCalendar(facts, [Override(date(2026, 5, 26), "kurban_ait", False, "correction")])
    assert not moved.is_working_day(date(2026, 5, 26)) and moved.is_working_day(date(2026, 5, 27))
    # Bad data are refused.
    bad = tmp_path / "bad.json"
    bad.write_text('{"transfers": [{"off": "2025-01-04", "work": "2025-01-06", "source": "x"}]}', encoding="utf-8")
    with pytest.raises(ValueError):
        load_facts(bad)
    empty = KzCalendar(CalendarFacts())
    assert not empty.is_verified(2025) and empty.is_working_day(date(2025, 6, 6))


def test_fast_after_warm_up() -> None:
    from bot.domain.deadlines import compute

    compute("quality_authority", date(2026, 12, 14), CAL, extended_by=10, learned_on=date(2026, 10, 1))
    n = 2000
    start = time.perf_counter()
    for _ in range(n):
        compute("quality_authority", date(2026, 12, 14), CAL, extended_by=10, learned_on=date(2026, 10, 1))
    per_call = (time.perf_counter() - start) / n
    print(f"deadline compute: {per_call * 1e6:.1f} us")
    assert per_call < 1e-3


DAYS = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))
TERMS = st.integers(min_value=0, max_value=40)


@settings(max_examples=150, deadline=None)
@given(DAYS, st.integers(min_value=1, max_value=40))
def test_result_is_a_working_day(day: date, n: int) -> None:
    assert CAL.is_working_day(CAL.add_working_days(day, n))
    assert CAL.is_working_day(CAL.add_working_days(day, -n))


@settings(max_examples=150, deadline=None)
@given(DAYS, TERMS, TERMS)
def test_adding_is_additive(day: date, n: int, m: int) -> None:
    assert CAL.add_working_days(CAL.add_working_days(day, n), m) == CAL.add_working_days(day, n + m)


@settings(max_examples=150, deadline=None)
@given(DAYS, TERMS)
def test_count_between_equals_term(day: date, n: int) -> None:
    due = CAL.add_working_days(day, n)
    assert CAL.working_days_between(day, due) == n
    assert CAL.get_working_days_delta(day, due) == n
