"""The store contract, run against every store on real files (no store may skip a test)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from baton.errors import InvalidInputError, ScheduleExistsError
from baton.model import NodeInfo, Policy, RunError, RunState, Schedule, ScheduleState
from baton.node import FirePlanner
from baton.store.base import (
    Claimant,
    ClaimRequest,
    Completion,
    FirePlan,
    Outcome,
    RunFilter,
    ScheduleFilter,
    Store,
)
from tests.conftest import Clock, make_store
from tests.contract.helpers import run, schedule

LEASE = timedelta(seconds=30)


async def fire(store: Store) -> list[str]:
    return [r.id for r in (await store.fire_due(limit=100, planner=FirePlanner())).created]


async def claim_one(store: Store, owner: str = "n1") -> str:
    (claimed,) = await store.claim_runs(ClaimRequest(owner=owner, limit=1, lease=LEASE))
    assert claimed.lease_token
    return claimed.lease_token


# -- schedules ----------------------------------------------------------------------------


async def test_add_then_get_returns_the_schedule_at_version_1(store: Store, clock: Clock) -> None:
    added = await store.add_schedule(schedule("a", clock.now))
    assert added.version == 1
    assert await store.get_schedule("a") == added
    assert await store.get_schedule("missing") is None


async def test_add_existing_id_without_replace_is_refused_and_changes_nothing(
    store: Store, clock: Clock
) -> None:
    await store.add_schedule(schedule("a", clock.now, every=60))
    with pytest.raises(ScheduleExistsError):
        await store.add_schedule(schedule("a", clock.now, every=5))
    kept = await store.get_schedule("a")
    assert kept is not None and kept.trigger["interval"]["seconds"] == 60


async def test_replace_overwrites_and_bumps_the_version(store: Store, clock: Clock) -> None:
    await store.add_schedule(schedule("a", clock.now, every=60))
    replaced = await store.add_schedule(schedule("a", clock.now, every=5), replace=True)
    assert replaced.version == 2
    got = await store.get_schedule("a")
    assert got is not None and got.trigger["interval"]["seconds"] == 5


async def test_list_filters_and_pages_by_id(store: Store, clock: Clock) -> None:
    for i in range(7):
        await store.add_schedule(schedule(f"w:{i}", clock.now, type="a" if i % 2 else "b"))
    await store.add_schedule(schedule("other", clock.now))
    await store.set_schedule_state("w:3", ScheduleState.PAUSED, next_fire_at=None)

    seen, cursor = [], None
    while True:
        page = await store.list_schedules(ScheduleFilter(id_prefix="w:"), cursor=cursor, limit=3)
        seen += [s.id for s in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [f"w:{i}" for i in range(7)]
    by_type = await store.list_schedules(ScheduleFilter(type="a"))
    assert [s.id for s in by_type.items] == ["w:1", "w:3", "w:5"]
    paused = await store.list_schedules(ScheduleFilter(state=ScheduleState.PAUSED))
    assert [s.id for s in paused.items] == ["w:3"]


async def test_id_prefix_treats_like_wildcards_literally(store: Store, clock: Clock) -> None:
    await store.add_schedule(schedule("a_1", clock.now))
    await store.add_schedule(schedule("ab1", clock.now))
    page = await store.list_schedules(ScheduleFilter(id_prefix="a_"))
    assert [s.id for s in page.items] == ["a_1"]


async def test_remove_deletes_the_schedule_but_keeps_its_runs(store: Store, clock: Clock) -> None:
    await store.add_schedule(schedule("a", clock.now))
    (rid,) = await fire(store)
    assert await store.remove_schedule("a", reason="test") is True
    assert await store.remove_schedule("a", reason="test") is False
    assert await store.get_schedule("a") is None
    assert await store.get_run(rid) is not None


async def test_pause_and_resume_set_state_and_next_fire(store: Store, clock: Clock) -> None:
    await store.add_schedule(schedule("a", clock.now))
    paused = await store.set_schedule_state("a", ScheduleState.PAUSED, next_fire_at=None)
    assert paused is not None and paused.state is ScheduleState.PAUSED and paused.version == 2
    assert await store.next_fire_time() is None
    assert await fire(store) == []
    later = clock.now + timedelta(seconds=90)
    resumed = await store.set_schedule_state("a", ScheduleState.ACTIVE, next_fire_at=later)
    assert resumed is not None and resumed.next_fire_at == later
    assert await store.next_fire_time() == later
    missing = await store.set_schedule_state("x", ScheduleState.PAUSED, next_fire_at=None)
    assert missing is None


# -- firing -------------------------------------------------------------------------------


async def test_fire_due_creates_one_run_per_tick_with_deterministic_ids(
    store: Store, clock: Clock
) -> None:
    await store.add_schedule(schedule("a", clock.now, every=10))
    await store.add_schedule(schedule("later", clock.now, first_in=3600))
    assert await fire(store) == ["a@2026-11-27T10:00:00Z"]
    assert await fire(store) == []
    clock.advance(10)
    assert await fire(store) == ["a@2026-11-27T10:00:10Z"]
    fired = await store.get_schedule("a")
    assert fired is not None
    assert fired.next_fire_at == clock.now + timedelta(seconds=10)
    assert fired.last_fire_at == clock.now
    run_ = await store.get_run("a@2026-11-27T10:00:10Z")
    assert run_ is not None and run_.state is RunState.QUEUED and run_.payload == {"n": "a"}


async def test_a_finished_trigger_removes_its_schedule(store: Store, clock: Clock) -> None:
    one_off = schedule("once", clock.now, trigger={"date": clock.now.isoformat()})
    await store.add_schedule(one_off)
    assert await fire(store) == ["once@2026-11-27T10:00:00Z"]
    assert await store.get_schedule("once") is None


async def test_fire_due_fires_at_most_limit_schedules_and_only_due_ones(
    store: Store, clock: Clock
) -> None:
    # Enough ids to land in many of the Redis store's buckets.
    await store.add_schedules([schedule(f"due-{i}", clock.now) for i in range(60)])
    await store.add_schedules([schedule(f"later-{i}", clock.now, first_in=5) for i in range(20)])
    fired: list[str] = []
    for _ in range(4):
        batch = await store.fire_due(limit=25, planner=FirePlanner())
        assert len(batch.created) <= 25
        fired += [r.id for r in batch.created]
    assert sorted(fired) == sorted(f"due-{i}@2026-11-27T10:00:00Z" for i in range(60))


async def test_racing_firers_produce_one_run_per_tick(
    store_kind: str, tmp_path: Path, clock: Clock, request: pytest.FixtureRequest
) -> None:
    """Four store handles (separate connections) fire the same due ticks at once."""
    url = request.getfixturevalue("redis_url") if store_kind == "redis" else ""
    handles = [make_store(store_kind, tmp_path, clock, url) for _ in range(4)]
    if store_kind == "memory":
        handles = [handles[0]] * 4
    for handle in handles:
        await handle.open()
    try:
        for i in range(50):
            await handles[0].add_schedule(schedule(f"s{i}", clock.now, every=1))
        created: list[str] = []
        for _ in range(5):
            results = await asyncio.gather(*(fire(h) for h in handles))
            created += [rid for result in results for rid in result]
            clock.advance(1)
        assert len(created) == len(set(created)) == 250
        page = await handles[0].list_runs(limit=1000)
        assert len(page.items) == 250
    finally:
        for handle in set(handles):
            await handle.close()


async def test_enqueue_is_idempotent_on_the_run_id(store: Store, clock: Clock) -> None:
    first, created = await store.enqueue_run(run("r1", clock.now))
    again, created_again = await store.enqueue_run(run("r1", clock.now, priority=9))
    assert created and not created_again
    assert again == first and again.policy.priority == 0


# -- claiming and leases ------------------------------------------------------------------


async def test_claim_orders_by_priority_then_due_time_and_skips_future_runs(
    store: Store, clock: Clock
) -> None:
    await store.enqueue_run(run("low-early", clock.now, priority=0, due_in=-5))
    await store.enqueue_run(run("high", clock.now, priority=5))
    await store.enqueue_run(run("low-late", clock.now, priority=0))
    await store.enqueue_run(run("future", clock.now, priority=99, due_in=60))
    claimed = await store.claim_runs(ClaimRequest(owner="n1", limit=10, lease=LEASE))
    assert [r.id for r in claimed] == ["high", "low-early", "low-late"]
    first = claimed[0]
    assert first.state is RunState.RUNNING and first.owner == "n1"
    assert first.lease_expires_at == clock.now + LEASE
    assert await store.next_due_run_time() == clock.now + timedelta(seconds=60)


async def test_claim_respects_the_limit(store: Store, clock: Clock) -> None:
    for i in range(5):
        await store.enqueue_run(run(f"r{i}", clock.now))
    assert len(await store.claim_runs(ClaimRequest(owner="n1", limit=2, lease=LEASE))) == 2
    assert len(await store.claim_runs(ClaimRequest(owner="n2", limit=10, lease=LEASE))) == 3
    assert await store.claim_runs(ClaimRequest(owner="n3", limit=10, lease=LEASE)) == []


async def test_claim_respects_max_concurrent_per_schedule(store: Store, clock: Clock) -> None:
    for i in range(4):
        await store.enqueue_run(run(f"s@{i}", clock.now, schedule_id="s", max_concurrent=2))
    await store.enqueue_run(run("t@0", clock.now, schedule_id="t"))
    first = await store.claim_runs(ClaimRequest(owner="n1", limit=10, lease=LEASE))
    assert sorted(r.id for r in first) == ["s@0", "s@1", "t@0"]
    assert await store.claim_runs(ClaimRequest(owner="n2", limit=10, lease=LEASE)) == []
    done = Completion(
        run_id="s@0",
        lease_token=first[0].lease_token or "",
        outcome=Outcome(state=RunState.SUCCEEDED),
    )
    assert first[0].id == "s@0"
    assert await store.complete_runs([done]) == [True]
    assert [
        r.id for r in await store.claim_runs(ClaimRequest(owner="n2", limit=10, lease=LEASE))
    ] == ["s@2"]


async def test_extend_keeps_matching_leases_only(store: Store, clock: Clock) -> None:
    await store.enqueue_run(run("r1", clock.now))
    token = await claim_one(store)
    clock.advance(20)
    status = await store.extend_leases(owner="n1", tokens={"r1": token, "x": "y"}, lease=LEASE)
    assert status.kept == {"r1"} and not status.cancel_requested
    got = await store.get_run("r1")
    assert got is not None and got.lease_expires_at == clock.now + LEASE
    stale = await store.extend_leases(owner="n1", tokens={"r1": "wrong"}, lease=LEASE)
    assert stale.kept == frozenset()


async def test_an_expired_lease_reruns_the_run_without_spending_an_attempt(
    store: Store, clock: Clock
) -> None:
    # The default policy: one attempt. A lost lease is not the job's failure.
    await store.enqueue_run(run("r1", clock.now, max_attempts=1))
    await claim_one(store)
    assert await store.reap_expired() == []
    clock.advance(31)
    (reaped,) = await store.reap_expired()
    assert reaped.id == "r1" and reaped.state is RunState.QUEUED
    assert reaped.attempt == 2 and reaped.lease_losses == 1 and reaped.failures == 1
    assert reaped.error is not None and reaped.error.type == "LeaseExpired"
    assert await store.get_run("r1") == reaped


async def test_a_run_that_keeps_losing_its_lease_is_dead_naming_that_budget(
    store: Store, clock: Clock
) -> None:
    await store.enqueue_run(run("r1", clock.now, max_attempts=5, max_lease_losses=2))
    for _ in range(2):
        await claim_one(store)
        clock.advance(31)
        (requeued,) = await store.reap_expired()
        assert requeued.state is RunState.QUEUED
    await claim_one(store)
    clock.advance(31)
    (reaped,) = await store.reap_expired()
    assert reaped.state is RunState.DEAD and reaped.finished_at == clock.now
    assert reaped.attempt == 3 and reaped.lease_losses == 2
    assert reaped.error is not None and reaped.error.type == "LeaseExpired"
    assert "lost its lease 3 times" in reaped.error.message
    assert "max_lease_losses (2)" in reaped.error.message
    assert await store.get_run("r1") == reaped


async def test_a_run_claimed_ahead_and_done_early_never_finishes_before_it_started(
    store: Store, clock: Clock
) -> None:
    # Claimed 2 s ahead of its due time; the node's timer ends it a moment early by the
    # store's clock.
    await store.enqueue_run(run("ahead", clock.now, due_in=2))
    (claimed,) = await store.claim_runs(
        ClaimRequest(owner="n1", limit=1, lease=LEASE, horizon=timedelta(seconds=5))
    )
    assert claimed.started_at == clock.now + timedelta(seconds=2)
    clock.advance(1.999)
    done = Completion(
        run_id="ahead",
        lease_token=claimed.lease_token or "",
        outcome=Outcome(state=RunState.SUCCEEDED),
    )
    assert await store.complete_runs([done]) == [True]
    stored = await store.get_run("ahead")
    assert stored is not None and stored.started_at and stored.finished_at
    assert stored.finished_at >= stored.started_at
    (event,) = [e for e in await store.read_events(limit=100) if e.kind == "run.succeeded"]
    assert event.data["duration"] >= 0


async def test_completion_with_a_stale_lease_token_is_refused(store: Store, clock: Clock) -> None:
    await store.enqueue_run(run("r1", clock.now, max_attempts=3))
    old_token = await claim_one(store, "n1")
    clock.advance(31)
    await store.reap_expired()
    new_token = await claim_one(store, "n2")
    stale = Completion(
        run_id="r1", lease_token=old_token, outcome=Outcome(state=RunState.SUCCEEDED)
    )
    assert await store.complete_runs([stale]) == [False]
    got = await store.get_run("r1")
    assert got is not None and got.state is RunState.RUNNING and got.owner == "n2"
    fresh = Completion(
        run_id="r1", lease_token=new_token, outcome=Outcome(state=RunState.SUCCEEDED)
    )
    assert await store.complete_runs([fresh]) == [True]
    # Repeated because its answer was lost on the way back: reported as recorded (not as
    # a lost lease), and recorded once.
    assert await store.complete_runs([fresh]) == [True]
    done = await store.get_run("r1")
    assert done is not None and done.state is RunState.SUCCEEDED and done.attempt == 2
    assert [e.kind for e in await store.read_events(limit=100)].count("run.succeeded") == 1


async def test_retrying_completion_delays_the_next_attempt(store: Store, clock: Clock) -> None:
    await store.enqueue_run(run("r1", clock.now, max_attempts=3))
    token = await claim_one(store)
    error = RunError(type="ValueError", message="boom", trace="...")
    retry = Completion(
        run_id="r1",
        lease_token=token,
        outcome=Outcome(state=RunState.RETRYING, error=error, retry_delay=timedelta(seconds=4)),
    )
    assert await store.complete_runs([retry]) == [True]
    got = await store.get_run("r1")
    assert got is not None
    assert (got.state, got.attempt, got.error) == (RunState.RETRYING, 2, error)
    assert got.due_at == clock.now + timedelta(seconds=4)
    assert await store.claim_runs(ClaimRequest(owner="n1", limit=1, lease=LEASE)) == []
    clock.advance(4)
    assert len(await store.claim_runs(ClaimRequest(owner="n1", limit=1, lease=LEASE))) == 1


async def test_stop_schedule_removes_it_and_cancels_its_queued_runs(
    store: Store, clock: Clock
) -> None:
    await store.add_schedule(
        schedule("a", clock.now, every=1, policy=Policy(max_concurrent=5, coalesce=False))
    )
    await fire(store)
    clock.advance(1)
    await fire(store)
    first = (await store.claim_runs(ClaimRequest(owner="n1", limit=1, lease=LEASE)))[0]
    stop = Completion(
        run_id=first.id,
        lease_token=first.lease_token or "",
        outcome=Outcome(
            state=RunState.SUCCEEDED, note="schedule stopped: gone", stop_schedule="gone"
        ),
    )
    assert await store.complete_runs([stop]) == [True]
    assert await store.get_schedule("a") is None
    other = await store.get_run("a@2026-11-27T10:00:01Z")
    assert other is not None and other.state is RunState.CANCELLED
    done = await store.get_run(first.id)
    assert done is not None and done.note == "schedule stopped: gone"


async def test_release_puts_runs_back_unchanged(store: Store, clock: Clock) -> None:
    await store.enqueue_run(run("r1", clock.now))
    token = await claim_one(store)
    assert await store.release_runs(owner="n1", tokens={"r1": token}) == 1
    got = await store.get_run("r1")
    assert got is not None and got.state is RunState.QUEUED and got.attempt == 1
    assert got.owner is None and got.lease_token is None
    assert await store.release_runs(owner="n1", tokens={"r1": token}) == 0


async def test_cancel_queued_running_finished_and_missing_runs(store: Store, clock: Clock) -> None:
    await store.enqueue_run(run("queued", clock.now))
    await store.enqueue_run(run("running", clock.now, due_in=-1))
    token = await claim_one(store)
    cancelled = await store.cancel_run("queued", reason="no longer needed")
    assert cancelled is not None and cancelled.state is RunState.CANCELLED
    flagged = await store.cancel_run("running", reason="stop it")
    assert flagged is not None and flagged.state is RunState.RUNNING and flagged.cancel_requested
    status = await store.extend_leases(owner="n1", tokens={"running": token}, lease=LEASE)
    assert status.cancel_requested == {"running"}
    again = await store.cancel_run("queued", reason="twice")
    assert (
        again is not None and again.state is RunState.CANCELLED and again.note == "no longer needed"
    )
    assert await store.cancel_run("missing", reason="x") is None


async def test_retry_gives_an_ended_run_one_more_attempt(store: Store, clock: Clock) -> None:
    await store.enqueue_run(run("r1", clock.now, max_attempts=1))
    token = await claim_one(store)
    error = RunError(type="ValueError", message="boom")
    await store.complete_runs(
        [
            Completion(
                run_id="r1", lease_token=token, outcome=Outcome(state=RunState.DEAD, error=error)
            )
        ]
    )
    clock.advance(5)
    retried = await store.retry_run("r1", reason="retry requested")
    assert retried is not None and retried.state is RunState.QUEUED
    assert (retried.attempt, retried.error, retried.note) == (2, None, "retry requested")
    assert retried.due_at == clock.now and retried.finished_at is None
    assert await store.get_run("r1") == retried
    again = await store.retry_run("r1", reason="twice")
    assert again is not None and again.attempt == 2 and again.note == "retry requested"
    (claimed,) = await store.claim_runs(ClaimRequest(owner="n2", limit=1, lease=LEASE))
    assert claimed.id == "r1" and claimed.attempt == 2
    done = Completion(
        run_id="r1",
        lease_token=claimed.lease_token or "",
        outcome=Outcome(state=RunState.SUCCEEDED),
    )
    await store.complete_runs([done])
    kept = await store.retry_run("r1", reason="after success")
    assert kept is not None and kept.state is RunState.SUCCEEDED
    assert await store.retry_run("missing", reason="x") is None


async def test_retry_of_a_cancelled_run_queues_it_again(store: Store, clock: Clock) -> None:
    await store.enqueue_run(run("r1", clock.now))
    await store.cancel_run("r1", reason="not now")
    retried = await store.retry_run("r1", reason="now after all")
    assert retried is not None and retried.state is RunState.QUEUED
    assert [
        r.id for r in await store.claim_runs(ClaimRequest(owner="n1", limit=5, lease=LEASE))
    ] == ["r1"]


async def test_stats_count_schedules_by_state_and_unfinished_runs(
    store: Store, clock: Clock
) -> None:
    for sid in ("a", "b", "c"):
        await store.add_schedule(schedule(sid, clock.now, first_in=60))
    await store.set_schedule_state("c", ScheduleState.PAUSED, next_fire_at=None)
    for rid in ("r1", "r2", "r3"):
        await store.enqueue_run(run(rid, clock.now))
    await claim_one(store)
    await store.cancel_run("r3", reason="x")
    stats = await store.stats()
    assert stats.schedules == {ScheduleState.ACTIVE: 2, ScheduleState.PAUSED: 1}
    assert (stats.queued, stats.running) == (1, 1)


# -- history --------------------------------------------------------------------------------


async def test_list_runs_newest_first_with_filters_and_cursor(store: Store, clock: Clock) -> None:
    for i in range(5):
        await store.enqueue_run(run(f"a{i}", clock.now, schedule_id="a"))
        clock.advance(1)
    await store.enqueue_run(run("b0", clock.now, schedule_id="b"))
    await claim_one(store)  # claims a0 (earliest due)
    page = await store.list_runs(RunFilter(schedule_id="a"), limit=2)
    ids = [r.id for r in page.items]
    while page.next_cursor:
        page = await store.list_runs(RunFilter(schedule_id="a"), cursor=page.next_cursor, limit=2)
        ids += [r.id for r in page.items]
    assert ids == ["a4", "a3", "a2", "a1", "a0"]
    running = await store.list_runs(RunFilter(states=frozenset({RunState.RUNNING})))
    assert [r.id for r in running.items] == ["a0"]
    recent = await store.list_runs(RunFilter(since=clock.now - timedelta(seconds=1.5)))
    assert [r.id for r in recent.items] == ["b0", "a4"]


async def test_prune_keeps_unfinished_runs_and_the_newest_finished(
    store: Store, clock: Clock
) -> None:
    for i in range(6):
        await store.enqueue_run(run(f"r{i}", clock.now))
        token = await claim_one(store)
        done = Completion(
            run_id=f"r{i}", lease_token=token, outcome=Outcome(state=RunState.SUCCEEDED)
        )
        await store.complete_runs([done])
        clock.advance(60)
    await store.enqueue_run(run("waiting", clock.now - timedelta(days=30)))
    # By age: r0 and r1 finished more than four minutes ago.
    assert await store.prune_runs(keep=5, older_than=timedelta(minutes=4)) == 2
    # By count: only the two newest finished runs stay.
    assert await store.prune_runs(keep=2, older_than=timedelta(days=1)) == 2
    left = {r.id for r in (await store.list_runs()).items}
    assert left == {"r4", "r5", "waiting"}


# -- nodes, events, wake-ups ----------------------------------------------------------------


async def test_heartbeats_are_listed_by_name_and_removed(store: Store, clock: Clock) -> None:
    node = NodeInfo(
        name="b-node",
        roles=("worker",),
        host="h",
        pid=1,
        concurrency=4,
        running=2,
        started_at=clock.now,
        heartbeat_at=clock.now,
    )
    await store.heartbeat(node)
    clock.advance(5)
    await store.heartbeat(node.model_copy(update={"name": "a-node"}))
    listed = await store.list_nodes()
    assert [n.name for n in listed] == ["a-node", "b-node"]
    assert listed[0].heartbeat_at == clock.now and listed[1].running == 2
    await store.remove_node("a-node")
    await store.remove_node("a-node")
    assert [n.name for n in await store.list_nodes()] == ["b-node"]


async def test_state_changes_append_events_readable_after_an_id(store: Store, clock: Clock) -> None:
    assert await store.last_event_id() is None
    await store.add_schedule(schedule("a", clock.now))
    await fire(store)
    clock.advance(0.25)
    token = await claim_one(store)
    clock.advance(2)
    await store.complete_runs(
        [
            Completion(
                run_id="a@2026-11-27T10:00:00Z",
                lease_token=token,
                outcome=Outcome(state=RunState.SUCCEEDED),
            )
        ]
    )
    custom = await store.append_event("custom.thing", "x", {"k": 1})
    assert await store.last_event_id() == custom.id
    log = await store.read_events()
    assert log[2].data["lateness"] == pytest.approx(0.25)
    assert log[3].data["duration"] == pytest.approx(2.0)
    assert log[3].data["type"] == "noop" and log[3].data["node"] == "n1"
    kinds = [e.kind for e in log]
    assert kinds == [
        "schedule.added",
        "run.queued",
        "run.started",
        "run.succeeded",
        "custom.thing",
    ]
    assert log[-1] == custom
    after = await store.read_events(after=log[1].id, limit=2)
    assert [e.kind for e in after] == ["run.started", "run.succeeded"]
    assert await store.prune_events(keep=2) == 3
    assert [e.kind for e in await store.read_events()] == ["run.succeeded", "custom.thing"]


async def test_a_saved_cursor_never_moves_back(store: Store, clock: Clock) -> None:
    first = await store.append_event("a.b", "x", {})
    second = await store.append_event("a.b", "y", {})
    assert await store.load_cursor("jobs") is None
    assert await store.save_cursor("jobs", second.id) == second.id
    assert await store.save_cursor("jobs", first.id) == second.id  # a node behind the others
    assert await store.load_cursor("jobs") == second.id
    assert await store.load_cursor("other") is None
    with pytest.raises(InvalidInputError):
        await store.save_cursor("jobs", "not an id")


async def test_cursors_and_event_ids_not_given_out_by_the_store_are_refused(
    store: Store, clock: Clock
) -> None:
    with pytest.raises(InvalidInputError) as runs_error:
        await store.list_runs(cursor="not-a-cursor")
    assert runs_error.value.field == "cursor"
    with pytest.raises(InvalidInputError) as events_error:
        await store.read_events(after="x; DROP")
    assert events_error.value.field == "after"


async def test_wait_for_change_wakes_on_a_write_and_times_out_otherwise(
    store: Store, clock: Clock
) -> None:
    assert await store.wait_for_change(0.05) is False
    waiter = asyncio.create_task(store.wait_for_change(5))
    await asyncio.sleep(0.01)
    await store.add_schedule(schedule("a", clock.now))
    assert await asyncio.wait_for(waiter, 1) is True


async def test_a_change_between_looking_and_sleeping_is_not_missed(
    store: Store, clock: Clock
) -> None:
    marker = store.change_marker()
    await store.enqueue_run(run("r1", clock.now))
    # Waiting no time at all still sees the change made after the marker was read.
    assert await store.wait_for_change(0, since=marker) is True
    assert await store.wait_for_change(0.05, since=store.change_marker()) is False


async def test_fire_then_claim_in_one_step_claims_in_claim_order(
    store: Store, clock: Clock
) -> None:
    await store.enqueue_run(run("older-urgent", clock.now, priority=9, due_in=-5))
    await store.add_schedule(schedule("a", clock.now))
    await store.add_schedule(schedule("b", clock.now))
    fired = await store.fire_due(
        limit=10, planner=FirePlanner(), claim=Claimant(owner="n1", limit=2, lease=LEASE)
    )
    assert sorted(r.id for r in fired.created) == [
        "a@2026-11-27T10:00:00Z",
        "b@2026-11-27T10:00:00Z",
    ]
    assert [r.id for r in fired.claimed] == ["older-urgent", "a@2026-11-27T10:00:00Z"]
    assert all(r.state is RunState.RUNNING and r.owner == "n1" for r in fired.claimed)
    left = await store.get_run("b@2026-11-27T10:00:00Z")
    assert left is not None and left.state is RunState.QUEUED


async def test_fire_then_claim_with_nothing_queued_takes_new_runs_in_claim_order(
    store: Store, clock: Clock
) -> None:
    await store.add_schedule(schedule("low", clock.now))
    await store.add_schedule(schedule("high", clock.now, policy=Policy(priority=5)))
    # Three missed ticks, not coalesced, at most one running: one may start.
    start = clock.now - timedelta(seconds=20)
    backlog = schedule(
        "backlog",
        start,
        every=10,
        policy=Policy(priority=9, coalesce=False, misfire_grace=None, max_concurrent=1),
    )
    await store.add_schedule(backlog)
    fired = await store.fire_due(
        limit=10, planner=FirePlanner(), claim=Claimant(owner="n1", limit=3, lease=LEASE)
    )
    assert len(fired.created) == 5
    assert [r.id for r in fired.claimed] == [
        "backlog@2026-11-27T09:59:40Z",
        "high@2026-11-27T10:00:00Z",
        "low@2026-11-27T10:00:00Z",
    ]
    for claimed in fired.claimed:
        stored = await store.get_run(claimed.id)
        assert stored is not None and stored.state is RunState.RUNNING
        assert stored.owner == "n1" and stored.lease_token == claimed.lease_token
    assert await store.claim_runs(ClaimRequest(owner="n2", limit=10, lease=LEASE)) == []
    log = [(e.kind, e.subject) for e in await store.read_events(limit=100)]
    first = "backlog@2026-11-27T09:59:40Z"
    assert log.index(("run.queued", first)) < log.index(("run.started", first))
    left = await store.get_run("backlog@2026-11-27T09:59:50Z")
    assert left is not None and left.state is RunState.QUEUED


async def test_fire_with_nothing_due_still_claims_every_free_slot(
    store: Store, clock: Clock
) -> None:
    for i in range(60):
        await store.enqueue_run(run(f"r{i:02}", clock.now))
    fired = await store.fire_due(
        limit=10, planner=FirePlanner(), claim=Claimant(owner="n1", limit=100, lease=LEASE)
    )
    assert fired.created == []
    assert len(fired.claimed) == 60


async def test_a_large_bulk_add_with_one_taken_id_stores_nothing(
    store: Store, clock: Clock
) -> None:
    # Larger than the Redis store writes per script: the taken id is in a later chunk.
    await store.add_schedule(schedule("s1100", clock.now))
    batch = [schedule(f"s{i:04}", clock.now) for i in range(1200)]
    with pytest.raises(ScheduleExistsError, match="s1100"):
        await store.add_schedules(batch)
    assert await store.get_schedule("s0000") is None
    assert await store.get_schedule("s1199") is None
    stored = await store.add_schedules(batch, replace=True)
    assert [s.id for s in stored] == [s.id for s in batch]
    assert {s.version for s in stored} == {1, 2}


async def test_fire_then_claim_of_a_large_batch_claims_up_to_the_limit_once(
    store: Store, clock: Clock
) -> None:
    # More due schedules than the Redis store plans per script: its chunks share the limit.
    await store.add_schedules([schedule(f"s{i:03}", clock.now) for i in range(250)])
    fired = await store.fire_due(
        limit=500, planner=FirePlanner(), claim=Claimant(owner="n1", limit=120, lease=LEASE)
    )
    assert len(fired.created) == 250
    assert len(fired.claimed) == 120
    assert len({r.lease_token for r in fired.claimed}) == 120
    rest = await store.claim_runs(ClaimRequest(owner="n2", limit=500, lease=LEASE))
    assert {r.id for r in rest} | {r.id for r in fired.claimed} == {r.id for r in fired.created}
    assert len(rest) == 130


async def test_bulk_add_is_all_or_nothing(store: Store, clock: Clock) -> None:
    first = await store.add_schedules([schedule(f"b{i}", clock.now) for i in range(5)])
    assert [s.version for s in first] == [1] * 5
    assert [s.id for s in first] == [f"b{i}" for i in range(5)]
    with pytest.raises(ScheduleExistsError, match="'b3'"):
        await store.add_schedules([schedule("new", clock.now), schedule("b3", clock.now)])
    assert await store.get_schedule("new") is None
    replaced = await store.add_schedules(
        [schedule("b3", clock.now, every=5), schedule("new", clock.now)], replace=True
    )
    assert [(s.id, s.version) for s in replaced] == [("b3", 2), ("new", 1)]
    got = await store.get_schedule("b3")
    assert got is not None and got.trigger["interval"]["seconds"] == 5
    assert await store.next_fire_time() == clock.now
    kinds = [e.kind for e in await store.read_events(limit=100)]
    assert kinds.count("schedule.added") == 6 and kinds.count("schedule.replaced") == 1


async def test_a_schedule_whose_plan_fails_is_paused_and_the_batch_fires(
    store: Store, clock: Clock
) -> None:
    await store.add_schedule(schedule("healthy", clock.now))
    await store.add_schedule(schedule("poison", clock.now))
    planner = FirePlanner()

    def plan(s: Schedule, now: datetime) -> FirePlan:
        if s.id == "poison":
            raise OverflowError("date value out of range")
        return planner(s, now)

    fired = await store.fire_due(limit=10, planner=plan)
    assert [r.id for r in fired.created] == ["healthy@2026-11-27T10:00:00Z"]
    poison = await store.get_schedule("poison")
    assert poison is not None and poison.state is ScheduleState.PAUSED
    assert poison.next_fire_at is None
    (paused,) = [e for e in await store.read_events(limit=100) if e.kind == "schedule.paused"]
    assert paused.subject == "poison" and "date value out of range" in paused.data["reason"]
    clock.advance(60)
    again = await store.fire_due(limit=10, planner=plan)
    assert [r.schedule_id for r in again.created] == ["healthy"]


async def test_a_stored_poison_trigger_never_stops_other_schedules_firing(
    store: Store, clock: Clock
) -> None:
    """A trigger that slipped past validation (written by hand, or by an older version):
    the others fire, it does not."""
    poison = schedule(
        "poison",
        clock.now,
        trigger={"interval": {"seconds": 1, "jitter": 1e300, "start": clock.now.isoformat()}},
    )
    await store.add_schedule(poison)
    await store.add_schedule(schedule("healthy", clock.now))
    fired = await store.fire_due(limit=10, planner=FirePlanner())
    assert [r.schedule_id for r in fired.created] == ["healthy"]
    kept = await store.get_schedule("poison")
    assert kept is not None and (
        kept.state is ScheduleState.PAUSED
        or (kept.next_fire_at is not None and kept.next_fire_at > clock.now)
    )
