"""Reminder planning and texts (pure: no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.domain.deadlines import compute
from bot.domain.reminders import KINDS, is_allowed, next_allowed, plan_case, render_reminder
from bot.domain.workdays import default_calendar
from bot.services.i18n import build_i18n, translator

TZ = ZoneInfo("Asia/Almaty")
START, END = time(9, 0), time(20, 0)
LONG_AGO = datetime(2020, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def cal():
    return default_calendar()


def plan(deadlines, cal, now=LONG_AGO, **kw):
    return plan_case(deadlines, cal=cal, tz=TZ, quiet_start=START, quiet_end=END, now=now, **kw)


def local_days(planned) -> dict[str, date]:
    return {p.kind: p.due_at.astimezone(TZ).date() for p in planned}


def assert_allowed(planned):
    for p in planned:
        assert p.due_at.tzinfo is not None and p.due_at.utcoffset() == timedelta(0)
        local = p.due_at.astimezone(TZ)
        assert START <= local.time() < END, p
        assert p.kind in KINDS


def test_provider_5_days_across_nauryz(cal):
    # Wed 18.03.2026; 21-23 March Nauryz (Sat-Mon) -> Mon 23, Tue 24, Wed 25 off. Working days:
    # 19, 20, 26, 27, 30 -> due Mon 30.03.
    d = compute("provider", date(2026, 3, 18), cal)
    planned = plan(d, cal)
    assert local_days(planned) == {
        "review_due_soon": date(2026, 3, 27),
        "review_due_today": date(2026, 3, 30),
        "review_missed": date(2026, 3, 31),
    }
    assert [p.kind for p in planned] == ["review_due_soon", "review_due_today", "review_missed"]
    assert all(p.due_at.astimezone(TZ).time() == time(10, 0) for p in planned)
    missed = planned[-1].payload
    assert missed["next_step"] == "quality_authority"
    assert missed["filing_limit"] == "2026-06-30"  # 31.03 + 3 months, a Tuesday
    assert_allowed(planned)


def test_quality_authority_15_days_across_nauryz(cal):
    d = compute("quality_authority", date(2026, 3, 18), cal)
    planned = plan(d, cal)
    assert local_days(planned) == {
        "review_due_soon": date(2026, 4, 10),  # Friday before
        "review_due_today": date(2026, 4, 13),
        "review_missed": date(2026, 4, 14),
    }
    assert planned[-1].payload["next_step"] == "court"
    assert_allowed(planned)


def test_provider_across_independence_day(cal):
    # Mon 14.12.2026; 16 December is a holiday: 15, 17, 18, 21, 22.
    d = compute("provider", date(2026, 12, 14), cal)
    assert local_days(plan(d, cal)) == {
        "review_due_soon": date(2026, 12, 21),
        "review_due_today": date(2026, 12, 22),
        "review_missed": date(2026, 12, 23),
    }


def test_quality_authority_across_year_boundary(cal):
    # Fri 12.12.2025: 16 Dec, 1-2 Jan and 7 Jan (Orthodox Christmas) are off -> due Thu 08.01.2026;
    # the working day before it is Tue 06.01 (not the 7th).
    d = compute("quality_authority", date(2025, 12, 12), cal)
    planned = plan(d, cal)
    assert local_days(planned) == {
        "review_due_soon": date(2026, 1, 6),
        "review_due_today": date(2026, 1, 8),
        "review_missed": date(2026, 1, 9),
    }
    assert_allowed(planned)


def test_forwarded_and_extended(cal):
    # Forwarded by the provider within 3 working days (19, 20, 26 March) -> 26.03; review counted from there.
    d = compute("provider", date(2026, 3, 18), cal, forwarded_via_provider=True)
    days = local_days(plan(d, cal))
    assert days["forwarding_due"] == date(2026, 3, 26)
    assert days["review_due_today"] == d.review_due
    assert "extension_notice_due" not in days


def test_extension_replans(cal):
    before = plan(compute("provider", date(2026, 3, 18), cal), cal)
    d = compute("provider", date(2026, 3, 18), cal, extended_by=5, extended_on=date(2026, 3, 27))
    after = plan(d, cal)
    days = local_days(after)
    # 30.03 + 5 working days: 31.03, 1, 2, 3, 6 April.
    assert days["review_due_today"] == date(2026, 4, 6) == d.review_due
    assert days["review_due_soon"] == date(2026, 4, 3)
    assert days["review_missed"] == date(2026, 4, 7)
    # told within 3 working days of 27.03: 30, 31.03, 1.04
    assert days["extension_notice_due"] == date(2026, 4, 1)
    assert {p.kind for p in before} < {p.kind for p in after}
    assert_allowed(after)
    # Once the person recorded being told, the notice reminder goes.
    assert "extension_notice_due" not in local_days(plan(d, cal, extension_told=True))


def test_past_reminders_keep_only_the_latest(cal):
    d = compute("provider", date(2026, 3, 18), cal)
    now = datetime(2026, 3, 30, 15, 0, tzinfo=TZ)  # after the due-today reminder at 10:00
    planned = plan(d, cal, now=now)
    assert [p.kind for p in planned] == ["review_due_today", "review_missed"]
    assert planned[0].due_at < now < planned[1].due_at
    late = plan(d, cal, now=datetime(2026, 5, 1, tzinfo=timezone.utc))
    assert [p.kind for p in late] == ["review_missed"]


@pytest.mark.parametrize("send_at", [time(6, 30), time(21, 15), time(0, 0)])
def test_send_time_outside_allowed_hours_is_moved_in(cal, send_at):
    d = compute("quality_authority", date(2025, 12, 12), cal)
    planned = plan(d, cal, send_at=send_at)
    assert_allowed(planned)
    assert all(p.due_at.astimezone(TZ).time() == START for p in planned)


def test_next_allowed():
    inside = datetime(2026, 3, 30, 12, 0, tzinfo=TZ)
    assert next_allowed(inside, TZ, START, END) == inside
    early = datetime(2026, 3, 30, 7, 0, tzinfo=TZ)
    assert next_allowed(early, TZ, START, END) == datetime(2026, 3, 30, 9, 0, tzinfo=TZ)
    late = datetime(2026, 3, 30, 20, 0, tzinfo=TZ)
    assert next_allowed(late, TZ, START, END) == datetime(2026, 3, 31, 9, 0, tzinfo=TZ)
    utc_night = datetime(2026, 12, 31, 18, 30, tzinfo=timezone.utc)  # 23:30 local, New Year's Eve
    assert next_allowed(utc_night, TZ, START, END) == datetime(2027, 1, 1, 9, 0, tzinfo=TZ)
    assert next_allowed(utc_night, TZ, START, END).tzinfo == timezone.utc
    assert not is_allowed(late, TZ, START, END)
    # A window that wraps midnight.
    assert is_allowed(datetime(2026, 3, 30, 23, 0, tzinfo=TZ), TZ, time(22, 0), time(2, 0))


@dataclass
class _Case:
    id: int = 7
    filed_with: str | None = "ЦОН <Алмалы> & Co"
    reg_number: str | None = "ЖТ-2026-001"


@pytest.fixture(scope="module")
def i18n():
    return build_i18n()


@pytest.mark.parametrize("lang,probe", [("ru", "Срок ответа"), ("kk", "жауап беру мерзімі өтті")])
def test_render_all_kinds_translated(cal, i18n, lang, probe):
    d = compute("provider", date(2026, 3, 18), cal, forwarded_via_provider=True, extended_by=3,
                extended_on=date(2026, 4, 1))
    _ = translator(i18n, lang)
    texts = {k: render_reminder(k, case=_Case(), deadlines=d, gettext=_, lang=lang, cal=cal) for k in KINDS}
    for kind, text in texts.items():
        assert "&lt;Алмалы&gt; &amp; Co" in text and "<Алмалы>" not in text, kind
        assert "ЖТ-2026-001" in text
        assert "Today" not in text and "What to do" not in text, (kind, text)  # translated
        assert "{" not in text
    assert probe in texts["review_missed"]
    from babel.dates import format_date

    assert format_date(d.review_due, format="long", locale=lang) in texts["review_due_today"]
    assert "eOtinish" in texts["review_missed"]


def test_render_next_step_after_quality_authority_is_court(cal, i18n):
    d = compute("quality_authority", date(2026, 3, 18), cal)
    text = render_reminder("review_missed", case=_Case(reg_number=None), deadlines=d,
                           gettext=translator(i18n, "ru"), lang="ru", cal=cal)
    assert "суд" in text and "Агентство" not in text
    with pytest.raises(ValueError):
        render_reminder("nope", case=_Case(), deadlines=d, gettext=str, lang="ru")


# --- after a missed review: inaction, with the court's one month and the further complaint's 3 months -----------

def _long(day, lang):
    from babel.dates import format_date

    return format_date(day, format="long", locale=lang)


@pytest.mark.parametrize("lang", ["ru", "kk"])
@pytest.mark.parametrize("recipient", ["provider", "quality_authority"])
def test_review_missed_is_inaction_with_court_and_complaint_limits(cal, i18n, lang, recipient):
    d = compute(recipient, date(2026, 3, 18), cal)
    text = render_reminder("review_missed", case=_Case(), deadlines=d, gettext=translator(i18n, lang), lang=lang,
                           cal=cal)
    plain = text.replace("\u202f", " ")
    # the court: one month from the end of the review term, its last day named
    assert _long(d.court_until.day, lang) in text
    assert "136" in text
    # inaction, never "a missed deadline counts as a refusal" (docs/legal.md, 'Inaction and refusal')
    assert ("бездейств" if lang == "ru" else "әрекетсіздік") in plain
    assert ("отказ" if lang == "ru" else "бас тарту") not in plain
    if recipient == "provider":  # the Agency is the next body; its 3 months named as well
        assert _long(d.further_complaint_until.day, lang) in text
    # grammar by construction: no "до {date}", no "г..", no Kazakh date glued to a postposition
    assert "г.." not in plain and " до " not in plain
    for day in (d.review_due, d.court_until.day, d.further_complaint_until.day):
        assert _long(day, lang).replace("\u202f", " ") + " дейін" not in plain


def test_review_missed_payload_names_both_limits(cal):
    d = compute("provider", date(2026, 3, 18), cal)
    missed = plan(d, cal)[-1].payload
    assert missed["court_until"] == d.court_until.day.isoformat() == "2026-04-30"  # 30.03 + 1 month, a Thursday
    assert missed["filing_limit"] == d.further_complaint_until.day.isoformat()
