"""Builders of records for the contract suite."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from baton.model import Dependencies, Policy, RetryPolicy, Run, RunState, Schedule


def schedule(
    sid: str,
    now: datetime,
    *,
    every: float = 60,
    first_in: float = 0,
    type: str = "noop",
    policy: Policy | None = None,
    trigger: dict[str, Any] | None = None,
) -> Schedule:
    start = now + timedelta(seconds=first_in)
    return Schedule(
        id=sid,
        type=type,
        payload={"n": sid},
        trigger=trigger or {"interval": {"seconds": every, "start": start.isoformat()}},
        policy=policy or Policy(),
        next_fire_at=start,
        created_at=now,
        updated_at=now,
    )


def run(
    rid: str,
    now: datetime,
    *,
    schedule_id: str | None = None,
    priority: int = 0,
    due_in: float = 0,
    max_attempts: int = 1,
    max_concurrent: int = 1,
    max_lease_losses: int = 3,
    type: str = "noop",
    after: Dependencies | None = None,
) -> Run:
    return Run(
        id=rid,
        schedule_id=schedule_id,
        type=type,
        payload={},
        fire_at=now,
        due_at=now + timedelta(seconds=due_in),
        policy=Policy(
            priority=priority,
            max_concurrent=max_concurrent,
            retry=RetryPolicy(max_attempts=max_attempts, max_lease_losses=max_lease_losses),
        ),
        created_at=now,
        state=RunState.WAITING if after else RunState.QUEUED,
        after=after,
    )


def waiting(rid: str, now: datetime, *parents: str, wait: float = 60) -> Run:
    """A run that waits (for ``wait`` seconds at most) for ``parents`` to succeed."""
    return run(rid, now, due_in=wait, after=Dependencies(runs=parents))
