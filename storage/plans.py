"""What re-planning a case's reminders changes, decided once for both backends (storage/cases.py and
storage/pg/cases.py run the statements).

A row's identity is (kind, the due_at it was PLANNED for): a retry (429, network) moves ``due_at`` later, never
its identity, so the planned moment is kept in ``payload['planned_at']``. The case's pending reminders become
exactly the plan: pending rows not in it are cancelled, rows already pending keep their id (payload refreshed),
the rest are inserted. A planned reminder identical to one already sent, in flight or failed is skipped, so a
re-plan never sends the same reminder twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.domain.reminders import PlannedReminder
from storage.db import iso

__all__ = ["Existing", "PlanChange", "plan_change", "planned_at"]


@dataclass(frozen=True)
class Existing:
    """A case's reminder row that is not cancelled."""

    id: int
    kind: str
    due_at: str  # ISO, UTC
    status: str
    payload: str | None  # its JSON text


@dataclass
class PlanChange:
    cancel: list[int] = field(default_factory=list)
    refresh: list[tuple[int, str]] = field(default_factory=list)  # (row id, new payload JSON)
    insert: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, due_at ISO, payload JSON)


def planned_at(row: Existing) -> str:
    """The due_at a case reminder was planned for (``payload['planned_at']``; ``due_at`` for older rows)."""
    try:
        planned = json.loads(row.payload or "{}").get("planned_at")
    except (ValueError, AttributeError):
        planned = None
    return str(planned or row.due_at)


def plan_payload(payload: dict[str, Any], at: str) -> str:
    return json.dumps({**payload, "planned_at": at}, ensure_ascii=False)


def plan_change(existing: Iterable[Existing], planned: Iterable[PlannedReminder]) -> PlanChange:
    """The rows to cancel, to refresh and to insert so the pending reminders are exactly ``planned``."""
    wanted = {(p.kind, iso(p.due_at)): p for p in planned}
    change = PlanChange()
    seen: set[tuple[str, str]] = set()
    for row in existing:
        key = (row.kind, planned_at(row))
        if row.status != "pending":
            seen.add(key)  # sending, sent or failed: never planned again
            continue
        keep = wanted.get(key)
        if keep is None or key in seen:
            change.cancel.append(row.id)
        else:
            seen.add(key)  # keeps its id and its (possibly later, retried) due_at
            change.refresh.append((row.id, plan_payload(keep.payload, key[1])))
    change.insert = [(kind, due_at, plan_payload(p.payload, due_at))
                     for (kind, due_at), p in wanted.items() if (kind, due_at) not in seen]
    return change
