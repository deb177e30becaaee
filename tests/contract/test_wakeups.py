"""Every row of the wake-up table, on every store: the verb wakes a waiter on its topic in
the same process, and (SQLite, Redis) a waiter of another store object on the same data.

The other store object has its own change counters and hears of the change only the way
another process would (SQLite's data version, Redis's wake channel), so it stands for
another process here; tests/acceptance drives real processes end to end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest

from baton.model import Policy, RunState, ScheduleState
from baton.node import FirePlanner
from baton.store._signal import Topic
from baton.store.base import WAKES, ClaimRequest, Completion, Outcome, Store
from tests.conftest import Clock, make_store
from tests.contract.helpers import run, schedule, waiting

LEASE = timedelta(seconds=30)

Step = Callable[[Store, Clock], Awaitable[object]]


async def _nothing(store: Store, clock: Clock) -> None:
    return None


async def _a_schedule(store: Store, clock: Clock) -> None:
    await store.add_schedule(schedule("a", clock.now))


async def _claimed(store: Store, clock: Clock, *, max_attempts: int = 1) -> str:
    await store.enqueue_run(run("r1", clock.now, max_attempts=max_attempts))
    (claimed,) = await store.claim_runs(ClaimRequest(owner="n1", limit=1, lease=LEASE))
    return claimed.lease_token or ""


async def _complete(store: Store, outcome: Outcome, run_id: str = "r1") -> None:
    got = await store.get_run(run_id)
    assert got is not None
    token = got.lease_token or ""
    assert await store.complete_runs(
        [Completion(run_id=run_id, lease_token=token, outcome=outcome)]
    ) == [True]


async def _fired_and_claimed(store: Store, clock: Clock) -> None:
    await store.add_schedule(schedule("s", clock.now, policy=Policy(max_concurrent=1)))
    await store.fire_due(limit=10, planner=FirePlanner())
    await store.claim_runs(ClaimRequest(owner="n1", limit=1, lease=LEASE))


async def _failed(store: Store, clock: Clock) -> None:
    await _claimed(store, clock)
    await _complete(store, Outcome(state=RunState.FAILED))


async def _expired(store: Store, clock: Clock) -> None:
    await _claimed(store, clock)
    clock.advance(31)


async def _release(store: Store, clock: Clock) -> None:
    got = await store.get_run("r1")
    assert got is not None
    assert await store.release_runs(owner="n1", tokens={"r1": got.lease_token or ""}) == 1


async def _reap(store: Store, clock: Clock) -> None:
    assert len(await store.reap_expired()) == 1


async def _stop(store: Store, clock: Clock) -> None:
    (claimed,) = (await store.list_runs()).items
    outcome = Outcome(state=RunState.SUCCEEDED, stop_schedule="gone")
    await _complete(store, outcome, claimed.id)


async def _waiting(store: Store, clock: Clock) -> None:
    await store.enqueue_run(waiting("w", clock.now, "p"))


#: (verb, topic) -> (what to set up, what to do): each does the verb so that the row's
#: condition holds.
SCENARIOS: dict[tuple[str, Topic], tuple[Step, Step]] = {
    ("add_schedules", "schedules"): (_nothing, _a_schedule),
    ("remove_schedule", "schedules"): (
        _a_schedule,
        lambda s, c: s.remove_schedule("a", reason="test"),
    ),
    ("set_schedule_state", "schedules"): (
        _a_schedule,
        lambda s, c: s.set_schedule_state("a", ScheduleState.PAUSED, next_fire_at=None),
    ),
    ("fire_due", "queue"): (_a_schedule, lambda s, c: s.fire_due(limit=10, planner=FirePlanner())),
    ("enqueue_run", "queue"): (_nothing, lambda s, c: s.enqueue_run(run("r1", c.now))),
    ("complete_runs", "done"): (
        _claimed,
        lambda s, c: _complete(s, Outcome(state=RunState.SUCCEEDED)),
    ),
    ("complete_runs", "queue"): (
        lambda s, c: _claimed(s, c, max_attempts=3),
        lambda s, c: _complete(
            s, Outcome(state=RunState.RETRYING, retry_delay=timedelta(seconds=5))
        ),
    ),
    ("complete_runs", "schedules"): (_fired_and_claimed, _stop),
    ("release_runs", "queue"): (_claimed, _release),
    ("reap_expired", "queue"): (_expired, _reap),
    ("reap_expired", "done"): (_expired, _reap),
    ("retry_run", "queue"): (_failed, lambda s, c: s.retry_run("r1", reason="again")),
    ("settle_waiting", "queue"): (
        _waiting,
        lambda s, c: s.settle_waiting("w", release=True, note="parents succeeded"),
    ),
    ("settle_waiting", "done"): (
        _waiting,
        lambda s, c: s.settle_waiting("w", release=False, note="parent failed"),
    ),
}

ROWS = sorted(SCENARIOS)


def test_every_row_of_the_wake_up_table_has_a_scenario() -> None:
    assert set(SCENARIOS) == {(verb, w.topic) for verb, rows in WAKES.items() for w in rows}


@pytest.mark.parametrize(("verb", "topic"), ROWS)
async def test_a_verb_wakes_its_topic_in_the_same_process(
    store: Store, clock: Clock, verb: str, topic: Topic
) -> None:
    setup, act = SCENARIOS[verb, topic]
    await setup(store, clock)
    marker = store.change_marker()
    await act(store, clock)
    assert await store.wait_for_change(0, topics=(topic,), since=marker) is True


@pytest.fixture(params=["sqlite", "redis"])
def shared_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize(("verb", "topic"), ROWS)
async def test_a_verb_wakes_its_topic_in_another_process(
    shared_kind: str,
    tmp_path: Path,
    clock: Clock,
    request: pytest.FixtureRequest,
    verb: str,
    topic: Topic,
) -> None:
    url = request.getfixturevalue("redis_url") if shared_kind == "redis" else ""
    setup, act = SCENARIOS[verb, topic]
    async with (
        make_store(shared_kind, tmp_path, clock, url) as store,
        make_store(shared_kind, tmp_path, clock, url) as other,
    ):
        await setup(store, clock)
        await asyncio.sleep(0.3)  # notices of the setup itself have arrived
        waiter = asyncio.create_task(
            other.wait_for_change(10, topics=(topic,), since=other.change_marker())
        )
        await asyncio.sleep(0.3)  # the other object is listening (subscribed, polling)
        assert not waiter.done()
        await act(store, clock)
        assert await asyncio.wait_for(waiter, 10) is True
