"""Record transitions shared by every store: pure functions, no I/O, no policy.

They turn the data a node hands over (a plan, a completion) into the records a store
writes, so that each backend only has to make the write atomic.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from baton import events
from baton.errors import InvalidInputError
from baton.model import Run, RunError, RunState, Schedule, run_id_for_fire
from baton.store.base import Completion, FirePlan, Planner, RunFilter, ScheduleFilter

LEASE_EXPIRED = RunError(
    type="LeaseExpired",
    message="the node running this attempt stopped renewing its lease",
)


def int_cursor(value: str, field: str = "cursor") -> int:
    """A numeric cursor or event id given back by a caller; anything else is refused."""
    try:
        return int(value)
    except ValueError:
        raise InvalidInputError("is not a value this store gave out", field=field) from None


def new_token() -> str:
    return secrets.token_hex(8)


def runs_from_plan(schedule: Schedule, plan: FirePlan, now: datetime) -> list[Run]:
    """The queued runs of a plan, with their deterministic ids and a payload snapshot.

    Built without validation: every field comes from a stored, valid schedule.
    """
    return [
        Run.trusted(
            dict(
                id=run_id_for_fire(schedule.id, fire_at),
                schedule_id=schedule.id,
                type=schedule.type,
                payload=schedule.payload,
                fire_at=fire_at,
                due_at=due_at,
                attempt=1,
                policy=schedule.policy,
                state=RunState.QUEUED,
                owner=None,
                lease_token=None,
                lease_expires_at=None,
                cancel_requested=False,
                created_at=now,
                started_at=None,
                finished_at=None,
                error=None,
                note=None,
            )
        )
        for fire_at, due_at in plan.fires
    ]


def fired_schedule(schedule: Schedule, plan: FirePlan, now: datetime) -> Schedule:
    """The schedule after its plan is committed (version + 1)."""
    last = plan.fires[-1][0] if plan.fires else schedule.last_fire_at
    return schedule.evolve(
        next_fire_at=plan.next_fire_at,
        last_fire_at=last,
        version=schedule.version + 1,
        updated_at=now,
    )


@dataclass(frozen=True)
class FireBatch:
    """What committing the plans of a batch of due schedules writes."""

    fired: list[Schedule]
    """Schedules with their new next fire time and version."""
    finished: list[str]
    """Schedules whose trigger is done: removed."""
    runs: list[Run]
    """Runs to create (a run whose id exists is left alone)."""
    notes: list[tuple[str, str, dict[str, Any]]]
    """Schedule events (kind, schedule id, data): misfires and removals."""


def plan_batch(due: list[Schedule], planner: Planner, now: datetime, until: datetime) -> FireBatch:
    """Plan every due schedule up to ``until`` and gather what the store must write."""
    batch = FireBatch(fired=[], finished=[], runs=[], notes=[])
    for schedule in due:
        plan = planner(schedule, until)
        batch.runs.extend(runs_from_plan(schedule, plan, now))
        skipped = misfire_event(schedule, plan)
        if skipped:
            batch.notes.append((events.SCHEDULE_MISFIRED, schedule.id, skipped))
        if plan.next_fire_at is None:
            batch.finished.append(schedule.id)
            batch.notes.append(
                (events.SCHEDULE_REMOVED, schedule.id, {"reason": "trigger finished"})
            )
        else:
            batch.fired.append(fired_schedule(schedule, plan, now))
    return batch


def misfire_event(schedule: Schedule, plan: FirePlan) -> dict[str, Any] | None:
    if plan.skipped is None:
        return None
    first, until = plan.skipped
    return {"from": first.isoformat(), "until": until.isoformat(), "type": schedule.type}


def claimed(run: Run, *, owner: str, lease: timedelta, now: datetime) -> Run:
    return run.evolve(
        state=RunState.RUNNING,
        owner=owner,
        lease_token=new_token(),
        lease_expires_at=now + lease,
        started_at=max(now, run.due_at),
        finished_at=None,
    )


def completed(run: Run, completion: Completion, now: datetime) -> Run:
    """The run after a (token-checked) completion; ``owner`` stays as the node that ran it.

    A run claimed ahead of its due time starts, by the record, when it is due; a node's
    timer may end it a hair earlier by the store's clock: it never finishes before it
    started."""
    if run.started_at is not None and run.started_at > now:
        now = run.started_at
    update: dict[str, Any] = {
        "state": completion.state,
        "lease_token": None,
        "lease_expires_at": None,
        "error": completion.error,
        "note": completion.note,
        "finished_at": now,
    }
    if completion.state is RunState.RETRYING:
        update["attempt"] = run.attempt + 1
        update["due_at"] = now + completion.retry_delay
    return run.evolve(**update)


#: What a run holds of a lease; cleared when the lease ends.
_NO_LEASE: dict[str, Any] = {"owner": None, "lease_token": None, "lease_expires_at": None}


def _requeued(run: Run, **changes: Any) -> Run:
    """The run back in the queue, leased to nobody, not started."""
    return run.evolve(**_NO_LEASE, state=RunState.QUEUED, started_at=None, **changes)


def released(run: Run) -> Run:
    return _requeued(run)


def reaped(run: Run, now: datetime) -> Run:
    """An expired lease: another attempt if any is left, else dead."""
    if run.attempt < run.policy.retry.max_attempts:
        return _requeued(run, attempt=run.attempt + 1, due_at=now, error=LEASE_EXPIRED)
    return run.evolve(**_NO_LEASE, state=RunState.DEAD, error=LEASE_EXPIRED, finished_at=now)


def cancelled(run: Run, reason: str, now: datetime) -> Run:
    if run.state.claimable:
        return run.evolve(state=RunState.CANCELLED, note=reason, finished_at=now)
    if run.state is RunState.RUNNING:
        return run.evolve(cancel_requested=True, note=reason)
    return run


def retried(run: Run, reason: str, now: datetime) -> Run:
    """One more attempt of a run that ended unsuccessfully; any other run is unchanged."""
    if run.state not in (RunState.FAILED, RunState.DEAD, RunState.CANCELLED):
        return run
    return _requeued(
        run,
        attempt=run.attempt + 1,
        due_at=now,
        cancel_requested=False,
        finished_at=None,
        error=None,
        note=reason,
    )


#: States that end an attempt that ran: their event carries its duration.
_ATTEMPT_ENDS = frozenset({RunState.SUCCEEDED, RunState.FAILED, RunState.DEAD, RunState.RETRYING})


def run_event(run: Run) -> tuple[str, dict[str, Any]]:
    """The event that records a run's current state."""
    kind = {
        RunState.QUEUED: events.RUN_QUEUED,
        RunState.RUNNING: events.RUN_STARTED,
    }.get(run.state) or events.RUN_STATE_EVENTS[run.state.value]
    if run.state is RunState.QUEUED and run.error == LEASE_EXPIRED:
        kind = events.RUN_REQUEUED
    data: dict[str, Any] = {
        "schedule_id": run.schedule_id,
        "type": run.type,
        "attempt": run.attempt,
        "state": run.state.value,
    }
    if run.error is not None:
        data["error"] = run.error.type
    if run.owner:
        data["node"] = run.owner
    if run.state is RunState.RUNNING and run.started_at is not None:
        data["lateness"] = max((run.started_at - run.due_at).total_seconds(), 0.0)
    elif run.state in _ATTEMPT_ENDS and run.finished_at and run.started_at:
        data["duration"] = (run.finished_at - run.started_at).total_seconds()
    return kind, data


def schedule_matches(schedule: Schedule, flt: ScheduleFilter) -> bool:
    return (
        (flt.type is None or schedule.type == flt.type)
        and (flt.state is None or schedule.state == flt.state)
        and (flt.id_prefix is None or schedule.id.startswith(flt.id_prefix))
    )


def run_matches(run: Run, flt: RunFilter) -> bool:
    return (
        (flt.schedule_id is None or run.schedule_id == flt.schedule_id)
        and (flt.type is None or run.type == flt.type)
        and (not flt.states or run.state in flt.states)
        and (flt.since is None or run.created_at >= flt.since)
    )
