"""Fire planning: which ticks of a due schedule become runs. All of it is policy.

Given a schedule whose next fire time has come, walk its trigger up to ``now``:
ticks later than ``misfire_grace`` are skipped (one misfire event records the range),
the rest become runs, and ``coalesce`` folds several into the latest one — including
the schedule's previous fire when it still waits in the queue, never started (its node
died, or ``max_concurrent`` held it back): a backlog of stale runs never builds up. The
plan is handed to the store, which commits it atomically or not at all.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from baton.errors import InvalidTriggerError
from baton.model import Schedule, run_id_for_fire
from baton.store.base import FirePlan
from baton.triggers import Trigger, TriggerCache

log = logging.getLogger("baton.node")

#: How far a schedule with a broken stored trigger is pushed back before it is retried.
_BROKEN_TRIGGER_BACKOFF = timedelta(hours=1)


class FirePlanner:
    """Plans fires for due schedules; one per node. ``max_fires`` bounds one plan's runs."""

    def __init__(
        self,
        *,
        max_fires: int = 1000,
        rng: random.Random | None = None,
        triggers: TriggerCache | None = None,
    ) -> None:
        self.max_fires = max_fires
        self._rng = rng or random.Random()
        self.triggers = triggers or TriggerCache()

    def trigger_of(self, schedule: Schedule) -> Trigger:
        return self.triggers.trigger_of(schedule)

    def __call__(self, schedule: Schedule, now: datetime) -> FirePlan:
        try:
            trigger = self.trigger_of(schedule)
        except InvalidTriggerError as exc:
            log.error(
                "schedule %s has an unreadable trigger (%s); retrying later", schedule.id, exc
            )
            return FirePlan(fires=[], next_fire_at=now + _BROKEN_TRIGGER_BACKOFF)
        return plan_fires(schedule, trigger, now, max_fires=self.max_fires, rng=self._rng)


def plan_fires(
    schedule: Schedule,
    trigger: Trigger,
    now: datetime,
    *,
    max_fires: int = 1000,
    rng: random.Random | None = None,
) -> FirePlan:
    """The plan for one due schedule at ``now`` under its policy."""
    policy = schedule.policy
    cursor = schedule.next_fire_at
    fires: list[datetime] = []
    skipped_first: datetime | None = None
    skipped_last: datetime | None = None
    grace = policy.misfire_grace
    while cursor is not None and cursor <= now and (policy.coalesce or len(fires) < max_fires):
        if grace is not None and now - cursor > grace:
            skipped_first = skipped_first or cursor
            cursor = trigger.skip_to(now - grace, cursor)
            skipped_last = cursor or now
            continue
        fires.append(cursor)
        if policy.coalesce and len(fires) > 1:
            fires.pop(0)
        cursor = trigger.next_after(cursor)
    skipped = (skipped_first, skipped_last) if skipped_first and skipped_last else None
    supersede: tuple[str, ...] = ()
    if policy.coalesce and fires and schedule.last_fire_at is not None:
        supersede = (run_id_for_fire(schedule.id, schedule.last_fire_at),)
    return FirePlan(
        fires=[(fire, trigger.due_at(fire, rng)) for fire in fires],
        next_fire_at=cursor,
        skipped=skipped,
        supersede=supersede,
    )
