"""Fire planning: misfire grace, coalescing and bounds, on plain data."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from baton.model import Policy, Schedule
from baton.node.planning import FirePlanner, plan_fires
from baton.triggers import parse_trigger

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def _schedule(policy: Policy, *, trigger: dict | None = None, next_fire: datetime = T0) -> Schedule:
    spec = trigger or {"interval": {"seconds": 10, "start": T0.isoformat()}}
    return Schedule(
        id="s",
        type="t",
        trigger=spec,
        policy=policy,
        next_fire_at=next_fire,
        created_at=T0,
        updated_at=T0,
    )


def _plan(policy: Policy, now_offset: float, **kw: object):  # type: ignore[no-untyped-def]
    schedule = _schedule(policy, **kw)  # type: ignore[arg-type]
    return plan_fires(schedule, parse_trigger(schedule.trigger), T0 + timedelta(seconds=now_offset))


def test_on_time_fire_is_one_run_and_the_next_tick_follows() -> None:
    plan = _plan(Policy(), 0.001)
    assert [f for f, _ in plan.fires] == [T0]
    assert plan.next_fire_at == T0 + timedelta(seconds=10)
    assert plan.skipped is None


def test_without_coalesce_or_grace_every_missed_tick_runs() -> None:
    plan = _plan(Policy(coalesce=False, misfire_grace=None), 35)
    assert [(f - T0).total_seconds() for f, _ in plan.fires] == [0, 10, 20, 30]
    assert plan.next_fire_at == T0 + timedelta(seconds=40)


def test_coalesce_folds_missed_ticks_into_the_latest() -> None:
    plan = _plan(Policy(coalesce=True, misfire_grace=None), 35)
    assert [f for f, _ in plan.fires] == [T0 + timedelta(seconds=30)]
    assert plan.next_fire_at == T0 + timedelta(seconds=40)


def test_ticks_later_than_the_grace_are_skipped_and_reported() -> None:
    plan = _plan(Policy(coalesce=False, misfire_grace=timedelta(seconds=12)), 35)
    assert [(f - T0).total_seconds() for f, _ in plan.fires] == [30]
    assert plan.skipped == (T0, T0 + timedelta(seconds=30))


def test_a_long_outage_skips_without_walking_every_tick() -> None:
    plan = _plan(Policy(coalesce=False, misfire_grace=timedelta(seconds=5)), 365 * 86400 + 2)
    assert [(f - T0).total_seconds() for f, _ in plan.fires] == [365 * 86400]


def test_a_date_trigger_past_its_grace_yields_no_run_and_finishes() -> None:
    spec = {"date": T0.isoformat()}
    plan = _plan(Policy(misfire_grace=timedelta(seconds=60)), 3600, trigger=spec)
    assert plan.fires == [] and plan.next_fire_at is None and plan.skipped is not None


def test_one_plan_is_bounded_and_the_rest_waits_for_the_next_pass() -> None:
    schedule = _schedule(Policy(coalesce=False, misfire_grace=None))
    plan = plan_fires(
        schedule, parse_trigger(schedule.trigger), T0 + timedelta(hours=1), max_fires=100
    )
    assert len(plan.fires) == 100
    assert plan.next_fire_at == T0 + timedelta(seconds=1000)


def test_jitter_moves_due_times_within_the_jitter_only() -> None:
    spec = {"interval": {"seconds": 10, "jitter": 3, "start": T0.isoformat()}}
    schedule = _schedule(Policy(coalesce=False, misfire_grace=None), trigger=spec)
    plan = plan_fires(
        schedule, parse_trigger(spec), T0 + timedelta(seconds=95), rng=random.Random(7)
    )
    assert all(fire <= due <= fire + timedelta(seconds=3) for fire, due in plan.fires)
    assert [(f - T0).total_seconds() for f, _ in plan.fires] == [10.0 * i for i in range(10)]


def test_planner_survives_a_broken_stored_trigger() -> None:
    broken = _schedule(Policy()).model_copy(update={"trigger": {"interval": {"seconds": 0}}})
    plan = FirePlanner()(broken, T0)
    assert plan.fires == [] and plan.next_fire_at is not None and plan.next_fire_at > T0
