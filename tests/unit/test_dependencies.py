"""The dependency policy: what becomes of a waiting run, given its parents' runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from baton.model import Dependencies, DependencyRule, Run, RunState, Schedule
from baton.node.dependencies import Verdict, judge, waiting_run
from baton.triggers import AfterSpec

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def a_run(rid: str, state: RunState, *, after: Dependencies | None = None) -> Run:
    return Run(
        id=rid,
        schedule_id=None,
        type="t",
        fire_at=NOW,
        due_at=NOW + timedelta(seconds=60),
        state=state,
        created_at=NOW,
        after=after,
    )


def child(rule: DependencyRule = DependencyRule.ALL_SUCCESS) -> Run:
    return a_run("c", RunState.WAITING, after=Dependencies(runs=("a", "b"), rule=rule))


def parents(a: RunState, b: RunState) -> dict[str, Run | None]:
    return {"a": a_run("a", a), "b": a_run("b", b)}


def test_all_success_releases_once_every_parent_succeeded() -> None:
    ok = RunState.SUCCEEDED
    assert judge(child(), parents(ok, ok), NOW) == Verdict(
        True, "parent runs ended: a succeeded, b succeeded"
    )
    assert judge(child(), parents(ok, RunState.RUNNING), NOW) is None
    assert judge(child(), parents(ok, RunState.RETRYING), NOW) is None


@pytest.mark.parametrize(
    "ended", [RunState.FAILED, RunState.DEAD, RunState.CANCELLED, RunState.SKIPPED]
)
def test_all_success_skips_as_soon_as_a_parent_ended_otherwise(ended: RunState) -> None:
    verdict = judge(child(), parents(RunState.RUNNING, ended), NOW)
    assert verdict == Verdict(False, f"parent run b ended {ended.value}")


def test_all_done_releases_whatever_the_parents_came_to() -> None:
    rule = DependencyRule.ALL_DONE
    verdict = judge(child(rule), parents(RunState.DEAD, RunState.SUCCEEDED), NOW)
    assert verdict == Verdict(True, "parent runs ended: a dead, b succeeded")
    assert judge(child(rule), parents(RunState.DEAD, RunState.QUEUED), NOW) is None


def test_a_wait_past_its_deadline_is_skipped_naming_what_it_waited_for() -> None:
    late = NOW + timedelta(seconds=60)
    verdict = judge(child(), parents(RunState.SUCCEEDED, RunState.RUNNING), late)
    assert verdict == Verdict(False, "timed out waiting for parent runs: b running")


def test_a_missing_parent_skips_the_run() -> None:
    verdict = judge(child(), {"a": a_run("a", RunState.SUCCEEDED), "b": None}, NOW)
    assert verdict == Verdict(False, "parent run b does not exist")


def test_a_dependent_schedules_run_for_a_tick_waits_for_its_parents_runs_of_that_tick() -> None:
    spec = AfterSpec(schedules=("a", "b"), rule=DependencyRule.ALL_DONE, timeout=30)
    schedule = Schedule(
        id="c", type="t", trigger={"after": spec.model_dump(mode="json")},
        created_at=NOW, updated_at=NOW,
    )  # fmt: skip
    run = waiting_run(schedule, spec, NOW, NOW + timedelta(seconds=2))
    assert run.id == "c@2026-11-27T10:00:00Z" and run.is_fire
    assert run.state is RunState.WAITING
    assert run.after == Dependencies(
        runs=("a@2026-11-27T10:00:00Z", "b@2026-11-27T10:00:00Z"), rule=DependencyRule.ALL_DONE
    )
    assert run.due_at == NOW + timedelta(seconds=32)
