"""The operators' desk: tickets from the complaint wizard, the FAQ and the "Talk to a person" button, a
two-way relay between the citizen's private chat and the operators' chat (a forum topic per ticket, or
replies to the ticket card in a plain group), case actions on the card, SLA notices, /stats and /calendar.

Routers (tried in this order, all before the complaint wizard, tracking and the FAQ):
    commands  /stats, /calendar and the card buttons, anywhere (rights are checked in the handlers)
    group     the operators' chat only (chat filter): operator input and replies to tickets
    citizen   private chats only: opening a ticket, the relay, ending it, rating the result
``early_router`` is included before the start router so /cancel ends a desk conversation first.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Router

from handlers.operators.citizen import early_router, router as citizen_router
from handlers.operators.service import Desk, desk_of
from handlers.operators.staff import commands as commands_router, group as group_router

log = logging.getLogger("shagym.desk")

__all__ = ["Desk", "desk_of", "desk_sla_tick", "early_router", "install_desk", "router"]

router = Router(name="operators")
router.include_routers(commands_router, group_router, citizen_router)

SLA_JOB_ID = "desk_sla"
SLA_INTERVAL_SECONDS = 300


async def desk_sla_tick(app_or_deps: Any) -> int:
    """One pass of the desk's SLA job (due tomorrow / due today / overdue notices, the daily summary, the
    calendar-verification warning), each notice once. Takes the App (or anything with ``.deps``/a deps dict
    holding ``app``). Returns the number of notices queued."""
    app = app_or_deps
    if isinstance(app_or_deps, dict):
        app = app_or_deps["app"]
    return await desk_of(app).sla_tick()


async def _run_sla(app: Any) -> None:
    try:
        await desk_sla_tick(app)
    except Exception:  # noqa: BLE001 - a failing pass must not stop the job
        log.exception("desk: SLA pass failed")


async def install_desk(app: Any) -> None:
    """At start-up: check the operators' chat and log what is missing, warn about an unverified calendar,
    and add the SLA job (every 5 minutes; the first pass after 5 minutes)."""
    desk = desk_of(app)
    info = await desk.check_chat()
    for problem in info.problems:
        log.warning("operators' desk: %s", problem)
    if info.ok:
        log.info("operators' desk: chat ok (%s)", "a topic per ticket" if info.forum else "cards with replies")
    today = desk.today()
    if desk.calendars.calendar.verification_reminder_due(today):
        log.warning("working-day calendar: %s is not verified; record the transfers and the Kurban Ait date "
                    "with /calendar add when the order is published", today.year + 1)
    if desk.chat_id is not None:
        desk.outbox.start()  # posts queued by citizens (cards, relays, notes), at the group's pace
        app.closers.append(desk.outbox.stop)
        app.scheduler.add_job(_run_sla, "interval", seconds=SLA_INTERVAL_SECONDS, args=[app], id=SLA_JOB_ID,
                              name="desk_sla", max_instances=1, coalesce=True, misfire_grace_time=None,
                              replace_existing=True)
