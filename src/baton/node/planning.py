"""Fire planning: which ticks of a due schedule become runs. All of it is policy.

Given a schedule whose next fire time has come, walk its trigger up to ``now``:
ticks later than ``misfire_grace`` are skipped (one misfire event records the range),
the rest become runs, and ``coalesce`` folds several into the latest one. The plan is
handed to the store, which commits it atomically or not at all.
"""

from __future__ import annotations

import json
import logging
import random
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from baton._identity import IdentityCache
from baton.errors import InvalidTriggerError
from baton.model import Schedule
from baton.store.base import FirePlan
from baton.triggers import Trigger, parse_trigger

log = logging.getLogger("baton.node")

#: How far a schedule with a broken stored trigger is pushed back before it is retried.
_BROKEN_TRIGGER_BACKOFF = timedelta(hours=1)


@lru_cache(maxsize=4096)
def _trigger(spec_json: str, anchor: datetime) -> Trigger:
    return parse_trigger(json.loads(spec_json), now=anchor)


class FirePlanner:
    """Plans fires for due schedules; one per node. ``max_fires`` bounds one plan's runs."""

    def __init__(self, *, max_fires: int = 1000, rng: random.Random | None = None) -> None:
        self.max_fires = max_fires
        self._rng = rng or random.Random()
        # Stores hand out the same trigger dict each time they decode a schedule they
        # decoded before: known by identity, it needs no JSON key.
        self._seen: IdentityCache[dict[str, Any], tuple[datetime, Trigger]] = IdentityCache(4096)

    def trigger_of(self, schedule: Schedule) -> Trigger:
        spec = schedule.trigger
        seen = self._seen.find(spec)
        if seen is not None and seen[0] == schedule.created_at:
            return seen[1]
        key = json.dumps(spec, sort_keys=True, separators=(",", ":"))
        trigger = _trigger(key, schedule.created_at)
        self._seen.put(spec, (schedule.created_at, trigger))
        return trigger

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
    return FirePlan(
        fires=[(fire, trigger.due_at(fire, rng)) for fire in fires],
        next_fire_at=cursor,
        skipped=skipped,
    )
