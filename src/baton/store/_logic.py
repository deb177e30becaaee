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
from baton.model import Run, RunError, RunState, Schedule, ScheduleState, run_id_for_fire
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
                lease_losses=0,
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
                after=None,
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


EventItem = tuple[str, str, dict[str, Any]]


@dataclass(frozen=True)
class ScheduleFire:
    """What committing one due schedule's plan writes, guarded by its read ``version``."""

    schedule_id: str
    version: int
    fired: Schedule | None
    """The schedule with its new state and version; ``None``: its trigger is done and it
    is removed."""
    runs: list[Run]
    """Runs to create (a run whose id exists is left alone)."""
    notes: list[EventItem]
    """Schedule events: misfires, removal, a pause."""
    supersede: list[tuple[str, str]]
    """(earlier run id, the new run id that replaces it) for ``coalesce``."""


def plan_one(schedule: Schedule, planner: Planner, now: datetime, until: datetime) -> ScheduleFire:
    """Plan one due schedule up to ``until``. A schedule whose plan cannot be made is
    paused with the reason instead: one bad schedule never stops a batch."""
    try:
        plan = planner(schedule, until)
        runs = runs_from_plan(schedule, plan, now)
    except Exception as exc:  # whatever the trigger arithmetic raised, it is this schedule's
        return set_aside(schedule, now, f"its next fire cannot be computed: {exc}")
    notes: list[EventItem] = []
    skipped = misfire_event(schedule, plan)
    if skipped:
        notes.append((events.SCHEDULE_MISFIRED, schedule.id, skipped))
    fired: Schedule | None = None
    if plan.next_fire_at is None:
        notes.append((events.SCHEDULE_REMOVED, schedule.id, {"reason": "trigger finished"}))
    else:
        fired = fired_schedule(schedule, plan, now)
    newest = runs[-1].id if runs else None
    supersede = [(old, newest) for old in plan.supersede if newest and old != newest]
    return ScheduleFire(schedule.id, schedule.version, fired, runs, notes, supersede)


def set_aside(schedule: Schedule, now: datetime, reason: str) -> ScheduleFire:
    """The schedule paused with ``reason`` (in its event), to be looked at by a person."""
    paused = schedule.evolve(
        state=ScheduleState.PAUSED, next_fire_at=None, version=schedule.version + 1, updated_at=now
    )
    note = (events.SCHEDULE_PAUSED, schedule.id, {"reason": reason[:500]})
    return ScheduleFire(schedule.id, schedule.version, paused, [], [note], [])


@dataclass(frozen=True)
class FireBatch:
    """What committing the plans of a batch of due schedules writes."""

    fired: list[Schedule]
    """Schedules with their new next fire time, state and version."""
    finished: list[str]
    """Schedules whose trigger is done: removed."""
    runs: list[Run]
    """Runs to create (a run whose id exists is left alone)."""
    notes: list[EventItem]
    """Schedule events (kind, schedule id, data): misfires, removals, pauses."""
    supersede: list[tuple[str, str]]
    """(earlier run id, new run id) pairs for ``coalesce``."""


def plan_batch(due: list[Schedule], planner: Planner, now: datetime, until: datetime) -> FireBatch:
    """Plan every due schedule up to ``until`` and gather what the store must write."""
    batch = FireBatch(fired=[], finished=[], runs=[], notes=[], supersede=[])
    for schedule in due:
        one = plan_one(schedule, planner, now, until)
        batch.runs.extend(one.runs)
        batch.notes.extend(one.notes)
        batch.supersede.extend(one.supersede)
        if one.fired is None:
            batch.finished.append(schedule.id)
        else:
            batch.fired.append(one.fired)
    return batch


def misfire_event(schedule: Schedule, plan: FirePlan) -> dict[str, Any] | None:
    if plan.skipped is None:
        return None
    first, until = plan.skipped
    return {"from": first.isoformat(), "until": until.isoformat(), "type": schedule.type}


def superseded(run: Run, by: str, now: datetime) -> Run | None:
    """A fire that waited in the queue, never started, replaced by the newer fire ``by``
    (``coalesce``); ``None`` when the run has started, ended or been retried since."""
    if run.state is not RunState.QUEUED or run.attempt != 1:
        return None
    return run.evolve(state=RunState.SKIPPED, finished_at=now, note=f"coalesced into {by}")


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
    """The run after a (token-checked) completion; ``owner`` stays as the node that ran it
    and ``lease_token`` as the token of its last lease (see :meth:`Store.recorded`).

    A run claimed ahead of its due time starts, by the record, when it is due; a node's
    timer may end it a hair earlier by the store's clock: it never finishes before it
    started."""
    if run.started_at is not None and run.started_at > now:
        now = run.started_at
    outcome = completion.outcome
    update: dict[str, Any] = {
        "state": outcome.state,
        "lease_expires_at": None,
        "error": outcome.error,
        "note": outcome.note,
        "finished_at": now,
    }
    if outcome.state is RunState.RETRYING:
        update["attempt"] = run.attempt + 1
        update["due_at"] = now + outcome.retry_delay
    elif outcome.state is RunState.QUEUED:  # sent back to wait: no attempt spent
        update.update(due_at=now + outcome.retry_delay, started_at=None, finished_at=None)
    return run.evolve(**update)


#: What a run holds of a lease; cleared when the lease ends.
_NO_LEASE: dict[str, Any] = {"owner": None, "lease_token": None, "lease_expires_at": None}


def _requeued(run: Run, **changes: Any) -> Run:
    """The run back in the queue, leased to nobody, not started."""
    return run.evolve(**_NO_LEASE, state=RunState.QUEUED, started_at=None, **changes)


def released(run: Run) -> Run:
    return _requeued(run)


#: Why a run that kept losing its lease is dead; ``%d`` are the losses and the budget
#: (printf style, so that a Lua script can fill it in too).
LEASE_BUDGET_SPENT = (
    "the run lost its lease %d times, more than max_lease_losses (%d) allows: each time, "
    "the node running it stopped renewing the lease (it died, hung or lost the store)"
)


def lease_budget_spent(run: Run) -> RunError:
    """The error of a run that lost its lease once more than its policy allows."""
    limit = run.policy.retry.max_lease_losses
    return RunError(type="LeaseExpired", message=LEASE_BUDGET_SPENT % (run.lease_losses + 1, limit))


def reaped(run: Run, now: datetime) -> Run:
    """An expired lease: run again without spending an attempt, unless the run lost its
    lease more often than the policy allows; then dead, saying so. The run keeps its due
    time, and so its place in the queue: it goes before the runs that came due after it."""
    if run.lease_losses < run.policy.retry.max_lease_losses:
        return _requeued(
            run, attempt=run.attempt + 1, lease_losses=run.lease_losses + 1, error=LEASE_EXPIRED
        )
    return run.evolve(
        **_NO_LEASE, state=RunState.DEAD, error=lease_budget_spent(run), finished_at=now
    )


def cancelled(run: Run, reason: str, now: datetime) -> Run:
    if run.state.claimable or run.state is RunState.WAITING:
        return run.evolve(state=RunState.CANCELLED, note=reason, finished_at=now)
    if run.state is RunState.RUNNING:
        return run.evolve(cancel_requested=True, note=reason)
    return run


_RETRYABLE = frozenset({RunState.FAILED, RunState.DEAD, RunState.CANCELLED, RunState.SKIPPED})


def retried(run: Run, reason: str, now: datetime, wait_until: datetime | None = None) -> Run:
    """One more attempt of a run that ended unsuccessfully; any other run is unchanged.

    With ``wait_until`` the run waits for its parents again (state ``waiting``) until
    then, instead of being queued due now."""
    if run.state not in _RETRYABLE:
        return run
    return _requeued(
        run,
        attempt=run.attempt + 1,
        due_at=now if wait_until is None else wait_until,
        cancel_requested=False,
        finished_at=None,
        error=None,
        note=reason,
    ).evolve(state=RunState.QUEUED if wait_until is None else RunState.WAITING)


def settled(run: Run, *, release: bool, note: str, now: datetime) -> Run:
    """A waiting run released (queued, due now) or skipped; any other run is unchanged,
    so that however many nodes settle it, one transition happens."""
    if run.state is not RunState.WAITING:
        return run
    if release:
        return run.evolve(state=RunState.QUEUED, due_at=now, note=note)
    return run.evolve(state=RunState.SKIPPED, finished_at=now, note=note)


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
