"""Tracked complaints, the use cases: a citizen tracks a complaint, an operator registers one, the review is
extended, the answer comes, the person closes it, the calendar changes.

Every change of a case re-plans its reminders IN THE SAME TRANSACTION (the repository calls :meth:`plan` on
the changed case before it commits; bot.domain.ports.Planner): a case and its reminders never disagree, and
a plan that cannot be written leaves the case as it was. Handlers (tracking, the desk) call these methods
and never re-plan themselves.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date

from bot.config import Settings
from bot.domain.cases import calendar_change_window, deadlines_of, plan_for
from bot.domain.clock import Clock
from bot.domain.deadlines import DeadlineError, Deadlines
from bot.domain.entities import Case, CaseStatus
from bot.domain.ports import CalendarRepo, CasesRepo, RemindersRepo, UsersRepo
from bot.domain.reminders import PlannedReminder
from bot.domain.workdays import KzCalendar

__all__ = ["CaseService"]

log = logging.getLogger(__name__)


class CaseService:
    def __init__(self, cases: CasesRepo, reminders: RemindersRepo, users: UsersRepo, calendars: CalendarRepo,
                 clock: Clock, settings: Settings) -> None:
        self.repo = cases
        self.reminders = reminders
        self.users = users
        self.calendars = calendars
        self.clock = clock
        self.settings = settings

    # ---- reading --------------------------------------------------------------------------------
    @property
    def calendar(self) -> KzCalendar:
        """The working-day calendar as it stands (operators may have added days since start-up)."""
        return self.calendars.calendar

    def today(self) -> date:
        return self.clock.now().astimezone(self.settings.tz).date()

    def deadlines(self, case: Case) -> Deadlines:
        """The case's dates on the current calendar (raises ``DeadlineError`` when they do not compute)."""
        return deadlines_of(case, self.calendar)

    def deadlines_or_none(self, case: Case) -> Deadlines | None:
        try:
            return self.deadlines(case)
        except DeadlineError:
            return None

    async def get(self, case_id: int) -> Case | None:
        return await self.repo.get(case_id)

    async def own(self, case_id: int, user_id: int) -> Case | None:
        """The case, if it belongs to ``user_id`` (a button's id is never trusted)."""
        case = await self.repo.get(case_id)
        return case if case is not None and case.user_id == user_id else None

    async def list_for_user(self, user_id: int, *, open_only: bool = False) -> list[Case]:
        return await self.repo.list_for_user(user_id, statuses=(CaseStatus.OPEN,) if open_only else None)

    async def record_event(self, case_id: int, kind: str, payload: dict[str, object]) -> None:
        await self.repo.record_event(case_id, kind, dict(payload), at=self.clock.now())

    # ---- planning -------------------------------------------------------------------------------
    def plan(self, case: Case) -> list[PlannedReminder]:
        """The case's reminders as it stands (bot.domain.ports.Planner): none unless it is open and its dates
        compute."""
        try:
            return plan_for(case, self.calendar, now=self.clock.now(), tz=self.settings.tz,
                            quiet_start=self.settings.quiet_hours_start, quiet_end=self.settings.quiet_hours_end)
        except DeadlineError as exc:
            log.warning("case %s: deadlines do not compute (%s); no reminders", case.id, exc.key)
            return []

    async def replan(self, case_id: int) -> int:
        """Re-plan one case from its current state; returns the number of reminders added."""
        return await self.repo.replan(case_id, self.plan, at=self.clock.now())

    async def replan_for_day(self, day: date, *, also: tuple[date, ...] = (), batch: int = 50,
                             pause: float = 0.002) -> int:
        """The working-day calendar changed on ``day`` (and on the days ``also``, changed with it): re-plan the
        open cases whose dates the change can move
        (registered within :data:`CALENDAR_REACH` before it), ``batch`` cases per transaction, and let the
        loop serve everyone else between batches (``pause``). Returns how many cases were re-planned.

        On a big database this takes minutes: run it in the background (the operators' /calendar add tells
        them when it is done). A batch that fails is re-planned case by case, so one bad case never stops
        the others.
        """
        first, last = calendar_change_window(day, *also)
        after: tuple[date, int] | None = None
        n = 0
        while cases := await self.repo.open_registered(first, last, after=after, limit=batch):
            ids = [c.id for c in cases]
            try:
                await self.repo.replan_many(ids, self.plan, at=self.clock.now())
                n += len(ids)
            except Exception as exc:  # noqa: BLE001 - one bad case must not stop the others
                log.warning("re-planning %s cases failed (%s): one by one", len(ids), type(exc).__name__)
                n += await self._replan_each(ids)
            after = (cases[-1].registered_on, cases[-1].id)
            await asyncio.sleep(pause)
        return n

    async def _replan_each(self, case_ids: list[int]) -> int:
        n = 0
        for case_id in case_ids:
            try:
                await self.replan(case_id)
                n += 1
            except Exception as exc:  # noqa: BLE001 - one bad case must not stop the others
                log.warning("re-planning case %s failed: %s", case_id, type(exc).__name__)
        return n

    # ---- changes (each re-plans in its own transaction) ------------------------------------------
    async def track(self, user_id: int, recipient_kind: str, registered_on: date, *, filed_with: str | None,
                    reg_number: str | None, complaint_id: int | None, forwarded_via_provider: bool,
                    learned_on: date | None) -> Case:
        """A complaint the person filed, from now on tracked, with its reminders."""
        return await self.repo.create(
            user_id, recipient_kind, registered_on, filed_with=filed_with, reg_number=reg_number,
            complaint_id=complaint_id, forwarded_via_provider=forwarded_via_provider, learned_on=learned_on,
            at=self.clock.now(), plan=self.plan)

    async def register(self, *, user_id: int, ticket_id: int, complaint_id: int | None, recipient_kind: str,
                       registered_on: date, reg_number: str, filed_with: str | None,
                       learned_on: date | None) -> tuple[Case, bool]:
        """An operator recorded the registration of a ticket's complaint. The case the citizen already tracks
        for that complaint is registered (one case per complaint, one set of reminders), else a new case is
        opened. Returns ``(case, created)``."""
        tracked = None
        if complaint_id is not None:
            tracked = next((k for k in await self.list_for_user(user_id, open_only=True)
                            if k.complaint_id == complaint_id and k.ticket_id is None), None)
        now = self.clock.now()
        if tracked is not None:
            case = await self.repo.register(tracked.id, recipient_kind=recipient_kind, registered_on=registered_on,
                                            reg_number=reg_number, ticket_id=ticket_id, at=now, plan=self.plan)
            return case, False
        case = await self.repo.create(
            user_id, recipient_kind, registered_on, filed_with=filed_with, reg_number=reg_number,
            complaint_id=complaint_id, ticket_id=ticket_id, learned_on=learned_on, at=now, plan=self.plan)
        return case, True

    async def extend(self, case_id: int, by: int, on: date | None, told_on: date | None) -> Case:
        """The review was extended by ``by`` working days on ``on`` (None: from the original deadline); the
        person was told on ``told_on`` (None: not yet)."""
        return await self.repo.set_extension(case_id, by, on, told_on, at=self.clock.now(), plan=self.plan)

    async def answer(self, case_id: int, answered_on: date | None = None) -> Case:
        """The answer came (on ``answered_on``, when the person knows): the reminders stop."""
        return await self.repo.set_status(case_id, CaseStatus.ANSWERED, at=self.clock.now(),
                                          answered_on=answered_on, plan=self.plan)

    async def close(self, case_id: int) -> Case:
        """No longer tracked: the reminders stop; the case stays in /my as closed."""
        return await self.repo.set_status(case_id, CaseStatus.CLOSED, at=self.clock.now(), plan=self.plan)

    # ---- the person's reminder switch -------------------------------------------------------------
    async def reminders_off(self, user_id: int) -> None:
        await self.users.set_reminders(user_id, False)
        await self.reminders.cancel_for_user(user_id)

    async def reminders_on(self, user_id: int) -> None:
        await self.users.set_reminders(user_id, True)
        for case in await self.list_for_user(user_id, open_only=True):
            await self.replan(case.id)
