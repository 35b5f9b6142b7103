"""Working-day calendar of the Republic of Kazakhstan (5-day week).

Statutory rules live in code (Law "On holidays in the Republic of Kazakhstan" art. 5, Labour Code
arts. 84-85); facts that change every year (transfers by order, the first day of Kurban Ait, the list of
verified years) live in ``bot/domain/data/calendar_kz.json``; operators can add more as :class:`Override` objects.
See docs/calendar.md ('Rules', and 'How to add a year').

Rules:

* Saturday and Sunday are days off.
* State holidays by year range (see :func:`state_holidays`).
* A state holiday on Saturday or Sunday makes the next working day a day off; a run of them carries over
  day by day (Nauryz on Sat-Sun-Mon makes Tue and Wed days off).
* Religious days off (7 January, first day of Kurban Ait) are **not** carried over.
* Transfers by order turn a weekday into a day off and a weekend day into a working day.

Reason keys (for the UI to translate): ``holiday:<name>``, ``carry_over``, ``orthodox_christmas``,
``kurban_ait``, ``transfer``, ``override``.

Days are counted the civil-law way: day 1 of a term is the first working day *after* the start date.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from workalendar.core import SAT, SUN, Calendar, cleaned_date

__all__ = [
    "DATA_PATH",
    "CalendarFacts",
    "KzCalendar",
    "Override",
    "default_calendar",
    "load_facts",
    "state_holidays",
]

DATA_PATH = Path(__file__).with_name("data") / "calendar_kz.json"

_ONE_DAY = timedelta(days=1)
_WEEKEND = (SAT, SUN)

#: Override kinds known to the calendar; any other kind is accepted and reported as ``override``.
TRANSFER_OFF = "transfer_off"
TRANSFER_WORK = "transfer_work"
KURBAN_AIT = "kurban_ait"


@dataclass(frozen=True, slots=True)
class Override:
    """One yearly fact: ``day`` is made a day off (``working=False``) or a working day (``working=True``).

    ``kind`` is ``"transfer_off"``, ``"transfer_work"``, ``"kurban_ait"`` (first day of Kurban Ait; replaces
    the data file's date for that year) or any other label (reported with reason ``override``).
    ``source`` is the legal source text (order, announcement) kept for operators.
    """

    day: date
    kind: str
    working: bool
    source: str = ""

    @property
    def reason(self) -> str:
        """Reason key shown for the day."""
        if self.kind == KURBAN_AIT:
            return "kurban_ait"
        if self.kind.startswith("transfer"):
            return "transfer"
        return "override"


@dataclass(frozen=True, slots=True)
class CalendarFacts:
    """Facts from the data file: overrides (transfers and Kurban Ait dates) and verified years."""

    overrides: tuple[Override, ...] = ()
    verified_years: frozenset[int] = field(default_factory=frozenset)

    @property
    def transfers(self) -> tuple[Override, ...]:
        return tuple(o for o in self.overrides if o.kind in (TRANSFER_OFF, TRANSFER_WORK))

    @property
    def kurban_ait(self) -> dict[int, date]:
        return {o.day.year: o.day for o in self.overrides if o.kind == KURBAN_AIT}


def _parse_day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"calendar data: bad {what} date {value!r}") from exc


def load_facts(path: str | Path | None = None) -> CalendarFacts:
    """Read the yearly facts (``bot/domain/data/calendar_kz.json`` by default). Raises ``ValueError`` on bad data."""
    raw = json.loads(Path(path or DATA_PATH).read_text(encoding="utf-8"))
    overrides: list[Override] = []
    for item in raw.get("transfers", []):
        off = _parse_day(item["off"], "transfer off")
        work = _parse_day(item["work"], "transfer work")
        if off.weekday() in _WEEKEND or work.weekday() not in _WEEKEND:
            raise ValueError(f"calendar data: transfer {item!r} must move a weekend day onto a weekday")
        source = str(item.get("source", ""))
        overrides.append(Override(off, TRANSFER_OFF, False, source))
        overrides.append(Override(work, TRANSFER_WORK, True, source))
    for item in raw.get("kurban_ait", []):
        overrides.append(Override(_parse_day(item["date"], "kurban_ait"), KURBAN_AIT, False, str(item.get("source", ""))))
    years = frozenset(int(y) for y in raw.get("verified_years", []))
    return CalendarFacts(overrides=tuple(overrides), verified_years=years)


def state_holidays(year: int) -> list[tuple[date, str]]:
    """State holidays (carried over when on a weekend) of ``year``, as (date, reason key), by statute."""
    days: list[tuple[int, int, str]] = [
        (1, 1, "new_year"),
        (1, 2, "new_year"),
        (3, 8, "womens_day"),
        (5, 1, "unity_day"),
        (5, 9, "victory_day"),
        (12, 16, "independence_day"),
    ]
    if year >= 2010:
        days += [(3, 21, "nauryz"), (3, 22, "nauryz"), (3, 23, "nauryz")]
    elif year >= 2002:
        days.append((3, 22, "nauryz"))
    if year >= 2013:
        days.append((5, 7, "defender_day"))
    if year >= 2009:
        days.append((7, 6, "capital_day"))
    if 1996 <= year <= 2025:
        days.append((8, 30, "constitution_day"))
    if year >= 2027:  # constitution adopted by the referendum of 15 March 2026
        days.append((3, 15, "constitution_day"))
    if 1994 <= year <= 2008 or year >= 2022:
        days.append((10, 25, "republic_day"))
    if 2012 <= year <= 2021:
        days.append((12, 1, "first_president_day"))
    if year <= 2021:
        days.append((12, 17, "independence_day"))
    return sorted((date(year, m, d), f"holiday:{name}") for m, d, name in days)


@dataclass(frozen=True, slots=True)
class _Year:
    off: dict[date, str]  # weekdays that are days off -> reason
    work: dict[date, str]  # weekend days that are working days -> reason
    labels: tuple[tuple[date, str], ...]  # all holidays incl. weekend ones, for workalendar's holidays()


def _religious_days(year: int, overrides: list[Override]) -> list[tuple[date, str]]:
    """Religious days off (not carried over): Orthodox Christmas, and Kurban Ait as an operator recorded it."""
    religious: list[tuple[date, str]] = []
    if year >= 2006:
        religious.append((date(year, 1, 7), "orthodox_christmas"))
    kurban = [o for o in overrides if o.kind == KURBAN_AIT]
    if kurban:
        religious.append((kurban[-1].day, "kurban_ait"))  # the last one given wins (operator correction)
    return religious


def _carry_over(year: int, off: dict[date, str], labels: list[tuple[date, str]]) -> None:
    """A state holiday on a weekend moves, day by day, onto the next weekday that is not already off."""
    for day, _reason in state_holidays(year):
        if day.weekday() in _WEEKEND:
            target = day + _ONE_DAY
            while target.weekday() in _WEEKEND or target in off:
                target += _ONE_DAY
            off[target] = "carry_over"
            labels.append((target, "carry_over"))


def _apply_overrides(overrides: list[Override], off: dict[date, str],
                     labels: list[tuple[date, str]]) -> dict[date, str]:
    """Transfers and other recorded days: returns the weekend days that are working days."""
    work: dict[date, str] = {}
    for o in overrides:
        if o.kind == KURBAN_AIT:
            continue
        if o.working:
            off.pop(o.day, None)
            if o.day.weekday() in _WEEKEND:
                work[o.day] = o.reason
        else:
            work.pop(o.day, None)
            if o.day.weekday() not in _WEEKEND:
                off[o.day] = o.reason
                labels.append((o.day, o.reason))
    return work


class KzCalendar(Calendar):  # type: ignore[misc]  # workalendar ships no type hints: its Calendar is Any
    """Kazakhstan working days: statutory rules + yearly facts + operator overrides.

    Per-year sets are computed once and cached, so ``is_working_day`` is a dict lookup.
    The workalendar API (``is_working_day``, ``add_working_days``, ``get_working_days_delta``,
    ``holidays``...) works as usual; its ``extra_working_days``/``extra_holidays`` arguments are honoured.
    """

    WEEKEND_DAYS = _WEEKEND
    include_new_years_day = False  # our own rules add it

    def __init__(
        self,
        facts: CalendarFacts | None = None,
        overrides: Iterable[Override] = (),
        *,
        verified_years: Iterable[int] = (),
    ) -> None:
        super().__init__()
        self.facts = facts if facts is not None else load_facts()
        self.overrides: tuple[Override, ...] = self.facts.overrides + tuple(overrides)
        self.verified_years = self.facts.verified_years | frozenset(verified_years)
        self._by_year: dict[int, list[Override]] = {}
        for o in self.overrides:
            self._by_year.setdefault(o.day.year, []).append(o)
        self._years: dict[int, _Year] = {}
        #: What other code computed from this calendar alone, by its own keys (bot.domain.deadlines keeps a
        #: case's dates here). A calendar never changes once built (a recorded fact builds a new one:
        #: storage/calendar.py), so nothing here goes stale; the user bounds its size.
        self.derived: dict[tuple[object, ...], object] = {}

    # --- per-year computation -------------------------------------------------------------------
    def _year(self, year: int) -> _Year:
        info = self._years.get(year)
        if info is None:
            info = self._years[year] = self._compute_year(year)
        return info

    def _compute_year(self, year: int) -> _Year:
        overrides = self._by_year.get(year, [])
        labels: list[tuple[date, str]] = list(state_holidays(year)) + _religious_days(year, overrides)
        off: dict[date, str] = {}
        for day, reason in labels:
            if day.weekday() not in _WEEKEND:
                off.setdefault(day, reason)
        if year >= 2002:
            _carry_over(year, off, labels)
        work = _apply_overrides(overrides, off, labels)
        labels = [(d, r) for d, r in labels if d not in work and (d.weekday() in _WEEKEND or d in off)]
        return _Year(off=off, work=work, labels=tuple(sorted(set(labels))))

    # --- workalendar hooks ----------------------------------------------------------------------
    def get_calendar_holidays(self, year: int) -> list[tuple[date, str]]:
        """All non-working holidays of ``year`` (weekend ones included) labelled with reason keys."""
        return list(self._year(year).labels)

    def is_working_day(self, day: date | datetime, extra_working_days: Iterable[date] | None = None,
                       extra_holidays: Iterable[date] | None = None) -> bool:
        if type(day) is not date:
            day = cleaned_date(day)
        if extra_working_days and day in {cleaned_date(d) for d in extra_working_days}:
            return True
        if extra_holidays and day in {cleaned_date(d) for d in extra_holidays}:
            return False
        info = self._years.get(day.year) or self._year(day.year)
        if day.weekday() >= 5:
            return day in info.work
        return day not in info.off

    def add_working_days(self, day: date, delta: int, extra_working_days: Iterable[date] | None = None,
                         extra_holidays: Iterable[date] | None = None, keep_datetime: bool = False) -> date:
        """Add ``delta`` working days: day 1 is the first working day after ``day`` (negative goes back)."""
        if extra_working_days or extra_holidays or keep_datetime or type(day) is not date:
            moved: date = super().add_working_days(day, delta, extra_working_days, extra_holidays, keep_datetime)
            return moved
        step = _ONE_DAY if delta >= 0 else -_ONE_DAY
        remaining = abs(delta)
        while remaining:
            day += step
            if self.is_working_day(day):
                remaining -= 1
        return day

    # --- project API ----------------------------------------------------------------------------
    def working_days_between(self, a: date, b: date) -> int:
        """Working days in (a, b]; negative (minus the count in (b, a]) when b < a."""
        if a == b:
            return 0
        sign = 1
        if b < a:
            a, b, sign = b, a, -1
        count = 0
        day = a
        while day < b:
            day += _ONE_DAY
            if self.is_working_day(day):
                count += 1
        return sign * count

    def next_working_day(self, day: date) -> date:
        """First working day strictly after ``day``."""
        return self.add_working_days(day, 1)

    def working_day_on_or_after(self, day: date) -> date:
        """``day`` itself if it is a working day, else the next working day."""
        return day if self.is_working_day(day) else self.add_working_days(day, 1)

    def is_verified(self, year: int) -> bool:
        """True when the year's transfers and Kurban Ait date were checked against published sources."""
        return year in self.verified_years

    def kurban_ait(self, year: int) -> date | None:
        """``year``'s first day of Kurban Ait as recorded (the data file, then operators: the last one given wins,
        a correction included); None when nobody recorded it (it cannot be computed)."""
        days = [o.day for o in self._by_year.get(year, ()) if o.kind == KURBAN_AIT]
        return days[-1] if days else None

    def is_provisional(self, *dates: date) -> bool:
        """True when any of ``dates`` (or any year between the earliest and latest) is not verified."""
        if not dates:
            return False
        lo, hi = min(dates).year, max(dates).year
        return any(y not in self.verified_years for y in range(lo, hi + 1))

    def verification_reminder_due(self, today: date) -> bool:
        """From 1 December, True while next year is not verified (operators should look for a new order)."""
        return today.month == 12 and not self.is_verified(today.year + 1)

    def days_changed(self, other: KzCalendar, year: int) -> list[date]:
        """The days of ``year`` that are working days in one calendar and days off in the other (what recording a
        fact changed: the day itself, and a Kurban Ait date it corrected)."""
        mine, theirs = self._year(year), other._year(year)
        return sorted((mine.off.keys() ^ theirs.off.keys()) | (mine.work.keys() ^ theirs.work.keys()))

    def non_working_weekdays(self, year: int) -> list[tuple[date, str]]:
        """Weekdays of ``year`` that are days off, sorted, with reason keys."""
        return sorted(self._year(year).off.items())

    def working_weekend_days(self, year: int) -> list[tuple[date, str]]:
        """Saturdays/Sundays of ``year`` that are working days, sorted, with reason keys."""
        return sorted(self._year(year).work.items())

    def sources(self, year: int) -> list[Override]:
        """The yearly facts (with their legal sources) that apply to ``year``."""
        return sorted(self._by_year.get(year, []), key=lambda o: o.day)


@lru_cache(maxsize=1)
def default_calendar() -> KzCalendar:
    """The calendar from the bundled data file, with no operator overrides (cached)."""
    return KzCalendar(load_facts())

