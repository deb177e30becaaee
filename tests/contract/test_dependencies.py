"""Waiting runs on every store: created waiting, listed, never claimed, and settled by
one compare-and-set however often it is asked."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from baton.model import Dependencies, DependencyRule, RunState
from baton.store.base import ClaimRequest, RunFilter, Store
from tests.conftest import Clock
from tests.contract.helpers import run, schedule, waiting

LEASE = timedelta(seconds=30)


async def claim_all(store: Store) -> list[str]:
    claimed = await store.claim_runs(ClaimRequest(owner="n1", limit=10, lease=LEASE))
    return [r.id for r in claimed]


async def test_a_waiting_run_keeps_its_parents_and_is_not_claimable(
    store: Store, clock: Clock
) -> None:
    after = Dependencies(runs=("a@1", "b@1"), rule=DependencyRule.ALL_DONE)
    made, created = await store.enqueue_run(run("c@1", clock.now, due_in=300, after=after))
    assert created and made.state is RunState.WAITING and made.after == after
    assert await store.get_run("c@1") == made
    assert await claim_all(store) == []
    assert await store.next_due_run_time() is None
    clock.advance(600)  # past its deadline: still only the node may skip it
    assert await claim_all(store) == []
    kinds = [e.kind for e in await store.read_events()]
    assert kinds == ["run.waiting"]


async def test_waiting_runs_are_listed_by_state(store: Store, clock: Clock) -> None:
    await store.enqueue_run(waiting("w1", clock.now, "p"))
    await store.enqueue_run(run("q1", clock.now))
    await store.enqueue_run(waiting("w2", clock.now, "p"))
    page = await store.list_runs(RunFilter(states=frozenset({RunState.WAITING})))
    assert [r.id for r in page.items] == ["w2", "w1"]
    queued = await store.list_runs(RunFilter(states=frozenset({RunState.QUEUED})))
    assert [r.id for r in queued.items] == ["q1"]


async def test_release_queues_a_waiting_run_due_now_once(store: Store, clock: Clock) -> None:
    await store.enqueue_run(waiting("w", clock.now, "p", wait=300))
    clock.advance(3)
    released = await store.settle_waiting("w", release=True, note="p succeeded")
    assert released is not None and released.state is RunState.QUEUED
    assert (released.due_at, released.note, released.attempt) == (clock.now, "p succeeded", 1)
    again = await store.settle_waiting("w", release=False, note="too late")
    assert again == released
    assert await claim_all(store) == ["w"]
    assert await store.settle_waiting("w", release=True, note="again") is not None
    got = await store.get_run("w")
    assert got is not None and got.state is RunState.RUNNING
    assert [e.kind for e in await store.read_events()] == [
        "run.waiting",
        "run.queued",
        "run.started",
    ]


async def test_skip_ends_a_waiting_run_with_its_reason(store: Store, clock: Clock) -> None:
    await store.enqueue_run(waiting("w", clock.now, "p"))
    skipped = await store.settle_waiting("w", release=False, note="parent p ended failed")
    assert skipped is not None and skipped.state is RunState.SKIPPED
    assert (skipped.finished_at, skipped.note) == (clock.now, "parent p ended failed")
    assert await store.settle_waiting("w", release=True, note="late") == skipped
    assert await claim_all(store) == []
    assert await store.settle_waiting("nope", release=True, note="x") is None
    assert await store.get_run("w") == skipped
    listed = await store.list_runs(RunFilter(states=frozenset({RunState.WAITING})))
    assert listed.items == []


async def test_racing_settlements_make_one_transition(store: Store, clock: Clock) -> None:
    await store.enqueue_run(waiting("w", clock.now, "p"))
    results = await asyncio.gather(
        *(store.settle_waiting("w", release=i % 2 == 0, note=f"n{i}") for i in range(8))
    )
    final = await store.get_run("w")
    assert final is not None and final.state in (RunState.QUEUED, RunState.SKIPPED)
    assert all(r == final for r in results)
    ends = [e for e in await store.read_events() if e.kind != "run.waiting"]
    assert len(ends) == 1


async def test_retry_can_make_a_skipped_run_wait_again(store: Store, clock: Clock) -> None:
    await store.enqueue_run(waiting("w", clock.now, "p"))
    await store.settle_waiting("w", release=False, note="p failed")
    until = clock.now + timedelta(seconds=120)
    rearmed = await store.retry_run("w", reason="p retried", wait_until=until)
    assert rearmed is not None and rearmed.state is RunState.WAITING
    assert (rearmed.attempt, rearmed.due_at, rearmed.finished_at) == (2, until, None)
    assert rearmed.after == Dependencies(runs=("p",))
    assert await claim_all(store) == []
    listed = await store.list_runs(RunFilter(states=frozenset({RunState.WAITING})))
    assert [r.id for r in listed.items] == ["w"]
    released = await store.settle_waiting("w", release=True, note="p succeeded")
    assert released is not None and released.state is RunState.QUEUED
    assert await claim_all(store) == ["w"]


async def test_a_waiting_run_can_be_cancelled(store: Store, clock: Clock) -> None:
    await store.enqueue_run(waiting("w", clock.now, "p"))
    cancelled = await store.cancel_run("w", reason="not needed")
    assert cancelled is not None and cancelled.state is RunState.CANCELLED
    assert await store.settle_waiting("w", release=True, note="p succeeded") == cancelled
    listed = await store.list_runs(RunFilter(states=frozenset({RunState.WAITING})))
    assert listed.items == []


async def test_dependent_schedules_are_those_with_an_after_trigger(
    store: Store, clock: Clock
) -> None:
    assert await store.dependent_schedules() == []
    await store.add_schedule(schedule("a", clock.now))
    assert await store.dependent_schedules() == []
    after = {"after": {"rule": "all_success", "schedules": ["a"], "timeout": 300.0}}
    for sid in ("c", "b"):
        await store.add_schedule(schedule(sid, clock.now, trigger=after).evolve(next_fire_at=None))
    found = await store.dependent_schedules()
    assert [s.id for s in found] == ["b", "c"] and found[0].trigger == after
    await store.remove_schedule("b", reason="test")
    assert [s.id for s in await store.dependent_schedules()] == ["c"]
