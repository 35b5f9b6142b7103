"""The desk's SLA job and statistics: due tomorrow / due today / overdue notices per ticket, the daily
summary and the calendar-verification warning, each queued once (dedupe keys) as operators' reminders and
delivered by the reminder loop; /stats."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from apscheduler.schedulers.base import BaseScheduler

from bot.domain.desk import (
    OPEN,
    TicketFacts,
    compute_stats,
    rating_counts,
    render_stats,
    sla_kind,
    summary_counts,
    weekly,
)
from bot.domain.entities import CaseStatus, Ticket
from bot.domain.ports import JobRunsRepo, RemindersRepo
from bot.domain.reminders import is_allowed
from bot.domain.text import escape
from bot.services.desk import Desk
from bot.services.reminders import ReminderService

__all__ = ["DeskSla"]

log = logging.getLogger("shagym.desk")

JOB_ID = "desk_sla"
INTERVAL_SECONDS = 300


class DeskSla:
    """With ``runs``, the scheduled pass runs once per interval across the instances sharing the database (the
    notices are dedupe-keyed as well: a second pass would queue nothing twice, but it would read every ticket)."""

    def __init__(self, desk: Desk, reminders: RemindersRepo, loop: ReminderService, *,
                 runs: JobRunsRepo | None = None) -> None:
        self.desk = desk
        self.reminders = reminders
        self.loop = loop
        self.runs = runs

    async def startup(self, scheduler: BaseScheduler) -> None:
        """With a desk: the SLA job every 5 minutes (the first pass after 5 minutes)."""
        if self.desk.chat_id is None:
            return
        scheduler.add_job(self._run, "interval", seconds=INTERVAL_SECONDS, id=JOB_ID, name="desk_sla",
                          max_instances=1, coalesce=True, misfire_grace_time=None, replace_existing=True)

    async def shutdown(self) -> None:
        return None

    async def _run(self) -> int | None:
        """The job: a pass, unless another instance ran one less than an interval ago (None then)."""
        try:
            every = timedelta(seconds=INTERVAL_SECONDS * 0.9)  # the instances' schedules drift a little
            if self.runs is not None and not await self.runs.claim(JOB_ID, self.desk.now(), every):
                return None
            return await self.tick()
        except Exception:  # a failing pass must not stop the job
            log.exception("desk: SLA pass failed")
            return None

    # ---- statistics ---------------------------------------------------------------------------
    async def facts(self) -> list[TicketFacts]:
        desk = self.desk
        out = []
        for t in await desk.tickets.list_tickets():
            review_due = None
            if t.case_id is not None:
                _case, dl = await desk.case_and_deadlines(t)
                review_due = dl.review_due if dl else None
            out.append(TicketFacts(
                status=t.status, opened_on=desk.local_day(t.created_at),
                closed_on=desk.local_day(t.resolved_at) if t.resolved_at else None,
                review_due=review_due, rating=t.rating, disagreed=t.disagreed))
        return out

    async def stats_text(self, facts: list[TicketFacts] | None = None) -> str:
        """The /stats figures; ``facts``: already read for the chart too (one pass over the tickets)."""
        facts = await self.facts() if facts is None else facts
        stats = compute_stats(facts, self.desk.today(), self.desk.cases.calendar)
        return render_stats(stats, self.desk.o, self.desk.o_plural)

    async def stats_chart(self, facts: list[TicketFacts] | None = None) -> bytes:
        """The /stats chart (PNG, in the operators' language), drawn off the event loop (matplotlib: ~0.7 s a
        chart, measured on a loaded 2-core machine)."""
        from bot.domain.desk_chart import render_chart

        facts = await self.facts() if facts is None else facts
        today = self.desk.today()
        weeks = weekly(facts, today, self.desk.cases.calendar)
        return await asyncio.to_thread(render_chart, weeks, rating_counts(facts), today=today, gettext=self.desk.o)

    # ---- SLA ----------------------------------------------------------------------------------
    async def tick(self) -> int:
        """Queue the operators' notices that are due now (each once: dedupe keys) and deliver them through
        the reminder loop. Notices are queued during the allowed hours only. Returns rows queued."""
        desk, settings = self.desk, self.desk.settings
        if desk.chat_id is None:
            return 0
        now = desk.now()
        if not is_allowed(now, settings.tz, settings.quiet_hours_start, settings.quiet_hours_end):
            return 0
        queued = 0
        for t in await desk.tickets.list_tickets(statuses=OPEN):
            queued += await self._due_notice(desk.chat_id, t)
        queued += await self._summary(desk.chat_id)
        queued += await self._calendar_warning(desk.chat_id)
        if queued:
            await self.loop.tick()
        return queued

    async def _queue(self, chat_id: int, kind: str, text: str, dedupe_key: str, **payload: object) -> int:
        now = self.desk.now()
        rid = await self.reminders.add(chat_id=chat_id, kind=kind, due_at=now, audience="operators",
                                       payload={"text": text, **payload}, dedupe_key=dedupe_key, at=now)
        return rid is not None

    async def _due_notice(self, chat_id: int, t: Ticket) -> int:
        """"due tomorrow", "due today" or "overdue" for one ticket with a tracked open case, when it is one."""
        desk = self.desk
        if t.case_id is None:
            return 0
        case, dl = await desk.case_and_deadlines(t)
        if case is None or dl is None or case.status != CaseStatus.OPEN:
            return 0
        kind = sla_kind(desk.today(), dl.review_due, desk.cases.calendar)
        if kind is None:
            return 0
        _ = desk.o
        texts = {
            "due_tomorrow": _("⏰ Ticket №{id}: the review of complaint {ref} is due on {date}, the next working day."),
            "due_today": _("⏰ Ticket №{id}: the review of complaint {ref} is due today, {date}."),
            "overdue": _("🔴 Ticket №{id}: the review of complaint {ref} was due on {date} and is overdue."),
        }
        text = texts[kind].format(id=t.id, ref=escape(case.reg_number or f"№{t.id}"),
                                  date=desk.ops_date(dl.review_due))
        return await self._queue(chat_id, f"desk_{kind}", text, f"desk:{kind}:{t.id}:{dl.review_due.isoformat()}",
                                 ticket_id=t.id, thread_id=t.thread_id,
                                 reply_to=None if t.thread_id else t.card_message_id)

    async def _summary(self, chat_id: int) -> int:
        desk = self.desk
        today = desk.today()
        open_n, overdue_n, new_n = summary_counts(await self.facts(), today)
        _ = desk.o
        summary = "📋 " + _("Desk summary for {date}: open tickets {open}, overdue {overdue}, not taken yet "
                            "{new}.").format(date=desk.ops_date(today), open=open_n, overdue=overdue_n, new=new_n)
        return await self._queue(chat_id, "desk_summary", summary, f"desk:summary:{today.isoformat()}")

    async def _calendar_warning(self, chat_id: int) -> int:
        desk = self.desk
        today = desk.today()
        if not desk.cases.calendar.verification_reminder_due(today):
            return 0
        _ = desk.o
        text = "⚠️ " + escape(_("The working-day calendar for {year} is not verified yet. When the order on transfers "
                         "of days off and the Kurban Ait date are published, record them with /calendar add, then "
                         "mark the year checked with /calendar verify {year} <source>.").format(year=today.year + 1))
        return await self._queue(chat_id, "desk_calendar", text, f"desk:calendar:{today.isoformat()}")
