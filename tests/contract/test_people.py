"""Contract: users, saved complaints and the working-day calendar behave alike on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from bot.domain.complaint import Complaint
from bot.domain.workdays import Override


async def test_users_first_contact_language_and_switches(stores):
    assert await stores.users.get(7) is None
    kk = await stores.users.seen(7, "Әли", "kk-KZ")
    assert (kk.id, kk.language, kk.language_source, kk.first_name, kk.reminders_enabled, kk.unreachable_at) == (
        7, "kk", "telegram", "Әли", True, None)
    unknown = await stores.users.seen(8, None, "en")
    assert (unknown.language, unknown.language_source) == (None, None)
    assert (await stores.users.seen(7, "Other", "ru")).language == "kk"  # known: nothing changes
    chosen = await stores.users.set_language(8, "ru")
    assert (chosen.language, chosen.language_source) == ("ru", "choice")
    with pytest.raises(ValueError):
        await stores.users.set_language(8, "en")
    await stores.users.set_reminders(8, False)
    assert (await stores.users.get(8)).reminders_enabled is False


async def test_users_unreachable_until_they_write_again(stores, other):
    await stores.users.seen(9, "A", "ru")
    await stores.users.mark_unreachable(9, datetime(2026, 3, 20, 10, 0, tzinfo=timezone.utc))
    got = await other.users.get(9)
    assert got.unreachable_at is not None and datetime.fromisoformat(got.unreachable_at) == datetime(
        2026, 3, 20, 10, 0, tzinfo=timezone.utc)
    assert (await other.users.seen(9, "A", "ru")).unreachable_at is None
    assert (await other.users.get(9)).unreachable_at is None


def _complaint(**kw) -> Complaint:
    data = {"applicant_kind": "individual", "grounds": "refusal", "recipient_kind": "provider",
            "recipient_name": "ЦОН «Алматы»; отдел 2"}
    data.update(kw)
    return Complaint.from_dict(data)


async def test_complaints_are_numbered_and_listed_newest_first(stores):
    at = datetime(2026, 12, 31, 20, 30, tzinfo=timezone.utc)  # 01.01.2027 in Almaty: the number's year
    first = await stores.complaints.create(5, _complaint(), "ru", at)
    second = await stores.complaints.create(5, _complaint(grounds="quality"), "kk", at)
    assert first.number == f"SH-2027-{first.id:06d}" and second.id > first.id
    assert first.created_at == at and first.status == "created"
    got = await stores.complaints.get(first.id)
    assert got is not None and got.complaint.to_dict() == _complaint().to_dict()
    assert (got.number, got.user_id, got.language, got.created_at) == (first.number, 5, "ru", at)
    assert [c.id for c in await stores.complaints.list_for_user(5)] == [second.id, first.id]
    assert await stores.complaints.list_for_user(6) == [] and await stores.complaints.get(10_000) is None
    heads = await stores.complaints.heads_for_user(5)  # /my's list: the same rows without their documents
    assert [(h.id, h.number, h.created_at) for h in heads] == [(s.id, s.number, s.created_at) for s in (second, first)]
    assert await stores.complaints.heads_for_user(6) == []


async def test_calendar_overrides_change_the_calendar_of_every_instance(stores, other):
    day = date(2026, 6, 1)  # a Monday
    assert stores.calendars.calendar.is_working_day(day)
    cal = await stores.calendars.add(Override(day, "transfer_off", False, "Order 1"), added_by=42)
    assert not cal.is_working_day(day) and not stores.calendars.calendar.is_working_day(day)
    await stores.calendars.add(Override(day, "transfer_off", False, "Order 2"), added_by=43)  # the same fact again
    [stored] = await other.calendars.overrides()
    assert (stored.override, stored.added_by) == (Override(day, "transfer_off", False, "Order 2"), 43)
    await other.calendars.load()
    assert not other.calendars.calendar.is_working_day(day)


async def test_the_kurban_ait_date_recorded_last_is_the_one_in_force(stores, other):
    """A correction, and a correction undone, within the same second: the order of recording decides, not the
    day nor the time stored (whole seconds)."""
    at = datetime(2026, 12, 2, 6, 0, tzinfo=timezone.utc)
    first, second = date(2027, 5, 17), date(2027, 5, 13)
    for day in (first, second, first):
        await stores.calendars.add(Override(day, "kurban_ait", False, f"Order {day}"), added_by=42, at=at)
    await other.calendars.load()
    for cal in (stores.calendars.calendar, other.calendars.calendar):
        assert cal.kurban_ait(2027) == first and not cal.is_working_day(first) and cal.is_working_day(second)


async def test_a_verified_year_is_kept_and_reaches_every_instance(backend, stores, other):
    assert not stores.calendars.calendar.is_verified(2027)
    cal = await stores.calendars.verify(2027, "Order 4", verified_by=42)
    assert cal.is_verified(2027) and stores.calendars.calendar.is_verified(2027)
    await stores.calendars.verify(2027, "Order 5", verified_by=43)  # again: the same year, no conflict
    await other.calendars.load()
    assert other.calendars.calendar.is_verified(2027) and not other.calendars.calendar.is_verified(2028)
    if backend == "pg":  # announced like an override: the other instance reloads without a restart
        import asyncio

        await other.calendars.listen()
        await stores.calendars.verify(2028, "Order 6", verified_by=42)
        for _ in range(100):
            if other.calendars.calendar.is_verified(2028):
                break
            await asyncio.sleep(0.02)
        assert other.calendars.calendar.is_verified(2028)


async def test_on_postgresql_an_override_reaches_the_other_instance_at_once(backend, stores, other):
    """Every instance holds the calendar in memory: on PostgreSQL an override another instance records is
    announced (NOTIFY) and reloaded without a restart (SQLite has one instance)."""
    if backend != "pg":
        return
    import asyncio

    await other.calendars.listen()
    day = date(2026, 6, 2)
    assert other.calendars.calendar.is_working_day(day)
    await stores.calendars.add(Override(day, "transfer_off", False, "Order 3"), added_by=44)
    for _ in range(100):
        if not other.calendars.calendar.is_working_day(day):
            break
        await asyncio.sleep(0.02)
    assert not other.calendars.calendar.is_working_day(day)
