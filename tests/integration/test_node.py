"""The node's behaviour end to end, on real stores with real time (short intervals)."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from baton import (
    Baton,
    InvalidInputError,
    InvalidPayloadError,
    InvalidPolicyError,
    InvalidTriggerError,
    JobTypeNotFoundError,
    NodeConfig,
    RunState,
)
from baton.jobs import Registry
from baton.triggers import parse_trigger
from tests.jobs_for_tests import ALL_JOBS, Flaky, Record, Recorder, container_for

FAST = NodeConfig(
    name="test-node",
    lease=timedelta(seconds=1.5),
    shutdown_grace=timedelta(seconds=1),
    max_idle=timedelta(seconds=0.5),
)


async def eventually(check: Callable[[], Any], within: float = 10.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def store_url(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if store_kind == "redis":
        return str(request.getfixturevalue("redis_url"))
    return "memory://" if store_kind == "memory" else f"sqlite:///{tmp_path}/baton.db"


@pytest.fixture
async def baton(store_url: str, recorder: Recorder) -> AsyncIterator[Baton]:
    container = container_for(recorder)
    async with Baton(
        store=store_url,
        jobs=ALL_JOBS,
        container=container,
        node=FAST,
        roles={"scheduler", "worker"},
    ) as running:
        yield running
    await container.close()


async def runs_in(baton: Baton, state: RunState, schedule_id: str | None = None) -> list[Any]:
    page = await baton.runs(schedule_id=schedule_id, state=state, limit=1000)
    return page.items


async def test_stop_schedule_raised_removes_the_schedule_and_records_why(
    baton: Baton,
) -> None:
    await baton.add(
        "stopper",
        id="w:1",
        payload={"reason": "worker terminated"},
        trigger={"interval": {"seconds": 0.2}},
    )
    (done,) = await eventually(lambda: runs_in(baton, RunState.SUCCEEDED, "w:1"))
    assert done.note == "schedule stopped: worker terminated"
    assert (await baton.list()).items == []
    removed = [e for e in await baton.store.read_events(limit=1000) if e.kind == "schedule.removed"]
    assert removed[0].data == {"reason": "worker terminated"}


async def test_stop_schedule_returned_works_the_same(baton: Baton) -> None:
    await baton.add(
        "stopper",
        id="w:2",
        payload={"reason": "gone", "by_return": True},
        trigger={"interval": {"seconds": 0.2}},
    )
    (done,) = await eventually(lambda: runs_in(baton, RunState.SUCCEEDED, "w:2"))
    assert done.note == "schedule stopped: gone"
    assert await baton.store.get_schedule("w:2") is None


async def test_a_job_failing_twice_succeeds_on_the_third_attempt_after_backoff(
    baton: Baton, recorder: Recorder
) -> None:
    policy = {"retry": {"max_attempts": 3, "backoff": 0.3, "jitter": 0}}
    await baton.enqueue(Flaky(failures=2), key="flaky-1", policy=policy)
    run = await eventually(lambda: runs_in(baton, RunState.SUCCEEDED))
    assert run[0].attempt == 3 and run[0].error is None
    times = [t for rid, _, t in recorder.calls if rid == "flaky@once:flaky-1"]
    assert [a for rid, a, _ in recorder.calls if rid == "flaky@once:flaky-1"] == [1, 2, 3]
    assert times[1] - times[0] >= 0.3  # backoff
    assert times[2] - times[1] >= 0.6  # doubled


async def test_a_job_that_always_fails_ends_dead_with_its_error(baton: Baton) -> None:
    policy = {"retry": {"max_attempts": 2, "backoff": 0.1, "jitter": 0}}
    await baton.enqueue(Flaky(failures=99), key="hopeless", policy=policy)
    (dead,) = await eventually(lambda: runs_in(baton, RunState.DEAD))
    assert dead.attempt == 2
    assert dead.error.type == "ConnectionError"
    assert dead.error.message == "attempt 2 failed"
    assert "ConnectionError" in dead.error.trace


async def test_each_run_gets_a_fresh_scoped_dependency(baton: Baton, recorder: Recorder) -> None:
    await baton.add(
        Record(label="x"),
        id="rec",
        trigger={"interval": {"seconds": 0.1}},
        policy={"misfire_grace": None, "coalesce": False},
    )
    await eventually(lambda: _at_least(runs_in(baton, RunState.SUCCEEDED, "rec"), 3))
    assert len(set(recorder.scoped_ids)) == len(recorder.scoped_ids) >= 3


async def _at_least(items: Any, n: int) -> bool:
    return len(await items) >= n


async def test_the_stored_payload_holds_exactly_the_declared_fields(
    tmp_path: Path, recorder: Recorder
) -> None:
    path = tmp_path / "baton.db"
    async with Baton(store=f"sqlite:///{path}", jobs=ALL_JOBS) as baton:
        await baton.add(Record(label="w-1"), id="rec", trigger={"interval": {"seconds": 60}})
        await baton.trigger("rec", key="manual-1")
    with sqlite3.connect(path) as conn:
        (schedule_payload,) = conn.execute("SELECT payload FROM baton_schedules").fetchone()
        (run_payload,) = conn.execute("SELECT payload FROM baton_runs").fetchone()
    assert schedule_payload.encode() == b'{"label":"w-1"}'
    assert run_payload.encode() == b'{"label":"w-1"}'


async def test_a_node_without_the_job_type_leaves_its_runs_waiting_for_one_that_has_it(
    tmp_path: Path, recorder: Recorder
) -> None:
    store_url = f"sqlite:///{tmp_path}/baton.db"
    async with Baton(store=store_url, jobs=ALL_JOBS) as baton:
        await baton.add(Record(label="x"), id="orphan", trigger={"interval": {"seconds": 0.2}})
    async with Baton(
        store=store_url, registry=Registry(), node=FAST, roles={"scheduler", "worker"}
    ) as baton:
        waiting = await eventually(lambda: runs_in(baton, RunState.QUEUED, "orphan"))
        await asyncio.sleep(1.0)  # the node fires, and claims none of them
        states = {r.state for r in (await baton.runs(schedule_id="orphan")).items}
        assert states == {RunState.QUEUED, RunState.SKIPPED}  # coalesced: no backlog
        assert len(await runs_in(baton, RunState.QUEUED, "orphan")) == 1
        assert (await baton.get("orphan")).type == "record"
        (node,) = await baton.nodes()
        assert node.types == ()
    node = dataclasses.replace(FAST, name="has-it")
    async with Baton(
        store=store_url,
        jobs=ALL_JOBS,
        container=container_for(recorder),
        node=node,
        roles={"scheduler", "worker"},
    ) as baton:
        await eventually(lambda: runs_in(baton, RunState.SUCCEEDED, "orphan"))
    assert not [r for r in waiting if r.state is RunState.FAILED]


async def test_a_run_past_its_timeout_is_cut_and_counts_as_failed(baton: Baton) -> None:
    await baton.enqueue("slow", payload={"seconds": 5}, key="too-slow", policy={"timeout": 0.2})
    (dead,) = await eventually(lambda: runs_in(baton, RunState.DEAD))
    assert dead.error.type == "TimeoutError"
    assert dead.duration < timedelta(seconds=5)  # cut, not run to its end


async def test_cancelling_a_running_run_stops_it(baton: Baton, recorder: Recorder) -> None:
    await baton.enqueue("slow", payload={"seconds": 30}, key="long")
    await eventually(lambda: runs_in(baton, RunState.RUNNING))
    await baton.cancel_run("slow@once:long")
    (cancelled,) = await eventually(lambda: runs_in(baton, RunState.CANCELLED))
    assert cancelled.note == "cancelled on request"
    assert recorder.running == 0


async def test_max_concurrent_holds_across_overlapping_fires(
    baton: Baton, recorder: Recorder
) -> None:
    await baton.add(
        "slow",
        id="overlap",
        payload={"seconds": 0.35},
        trigger={"interval": {"seconds": 0.1}},
        policy={"coalesce": False, "misfire_grace": None},
    )
    await eventually(lambda: _at_least(runs_in(baton, RunState.SUCCEEDED, "overlap"), 3))
    assert recorder.peak == 1


async def test_shutdown_releases_runs_that_outlive_the_grace_period(
    tmp_path: Path, recorder: Recorder
) -> None:
    url = f"sqlite:///{tmp_path}/baton.db"
    async with Baton(
        store=url, jobs=ALL_JOBS, container=container_for(recorder), node=FAST, roles={"worker"}
    ) as baton:
        await baton.enqueue("slow", payload={"seconds": 0.2}, key="quick")
        await baton.enqueue("slow", payload={"seconds": 60}, key="endless")
        await eventually(lambda: _at_least(runs_in(baton, RunState.RUNNING), 2))
    async with Baton(store=url, jobs=ALL_JOBS) as baton:
        assert (await baton.get_run("slow@once:quick")).state is RunState.SUCCEEDED
        endless = await baton.get_run("slow@once:endless")
        assert endless.state is RunState.QUEUED and endless.attempt == 1
        assert await baton.store.list_nodes() == []


async def test_after_a_restart_missed_ticks_follow_misfire_grace_and_coalesce(
    tmp_path: Path, recorder: Recorder
) -> None:
    url = f"sqlite:///{tmp_path}/baton.db"
    every = {"interval": {"seconds": 0.5}}
    container = container_for(recorder)
    async with Baton(
        store=url, jobs=ALL_JOBS, container=container, node=FAST, roles={"scheduler", "worker"}
    ) as baton:
        await baton.add(
            Record(label="c"),
            id="coalesced",
            trigger=every,
            policy={"coalesce": True, "misfire_grace": None},
        )
        await baton.add(
            Record(label="e"),
            id="every-tick",
            trigger=every,
            policy={"coalesce": False, "misfire_grace": None},
        )
        await baton.add(
            Record(label="g"),
            id="grace",
            trigger=every,
            policy={"coalesce": False, "misfire_grace": 0.6},
        )
        now = await baton.store.now()
        await baton.enqueue(
            Record(label="q"), key="queued-while-down", due_at=now + timedelta(seconds=1.6)
        )
        await asyncio.sleep(1.2)
    async with Baton(store=url, jobs=ALL_JOBS) as baton:
        last = {s.id: s.last_fire_at for s in (await baton.list()).items}
        anchor = {s.id: s.trigger for s in (await baton.list()).items}
        assert (await baton.get_run("record@once:queued-while-down")).state is RunState.QUEUED
    await asyncio.sleep(2.0)  # every node is down: about four ticks go by
    restart = datetime.now(UTC)  # the SQLite store's clock is the host's

    async with Baton(
        store=url, jobs=ALL_JOBS, container=container, node=FAST, roles={"scheduler", "worker"}
    ) as baton:
        await eventually(lambda: _at_least(runs_in(baton, RunState.SUCCEEDED, "grace"), 4))
        first_pass = min(
            r.created_at for r in (await baton.runs(limit=1000)).items if r.created_at >= restart
        )

        async def missed(sid: str) -> list[Any]:
            page = await baton.runs(schedule_id=sid, limit=1000)
            return sorted(r.fire_at for r in page.items if last[sid] < r.fire_at <= first_pass)

        trigger = parse_trigger(anchor["every-tick"])
        ticks = []
        tick = trigger.next_after(last["every-tick"])
        while tick <= first_pass:
            ticks.append(tick)
            tick = trigger.next_after(tick)
        assert len(ticks) >= 3
        assert await missed("every-tick") == ticks  # no coalesce, no grace: every tick runs
        (folded,) = await missed("coalesced")  # coalesce: one run, for the latest tick
        assert first_pass - folded <= timedelta(seconds=0.5)
        late = await missed("grace")  # grace 0.6 s: older ticks are skipped
        assert 1 <= len(late) < len(ticks)
        assert all(first_pass - fire <= timedelta(seconds=0.6) for fire in late)
        misfires = [
            e for e in await baton.store.read_events(limit=10_000) if e.kind == "schedule.misfired"
        ]
        assert [e.subject for e in misfires] == ["grace"]
        survivor = await eventually(lambda: _succeeded(baton, "record@once:queued-while-down"))
        assert survivor.attempt == 1
    await container.close()


async def _succeeded(baton: Baton, run_id: str) -> Any:
    run = await baton.get_run(run_id)
    return run if run.state is RunState.SUCCEEDED else None


async def test_configure_receives_the_per_run_services(baton: Baton, recorder: Recorder) -> None:
    await baton.enqueue("configured", payload={"label": "x"}, key="cfg-1")
    await eventually(lambda: runs_in(baton, RunState.SUCCEEDED))
    assert [rid for rid, _, _ in recorder.calls] == ["configured@once:cfg-1"]


async def test_a_run_longer_than_its_lease_keeps_it_by_heartbeat(
    baton: Baton, recorder: Recorder
) -> None:
    await baton.enqueue("slow", payload={"seconds": 4}, key="long-but-alive")
    (done,) = await eventually(lambda: runs_in(baton, RunState.SUCCEEDED), within=15)
    assert done.attempt == 1 and done.error is None
    assert [a for rid, a, _ in recorder.calls if rid == "slow@once:long-but-alive"] == [1]


async def test_bad_input_through_the_api_names_the_field_and_stores_nothing(
    baton: Baton,
) -> None:
    every = {"interval": {"seconds": 60}}
    with pytest.raises(InvalidPolicyError, match=r"policy\.retry\.max_attempts"):
        await baton.add(
            Record(label="x"), id="p", trigger=every, policy={"retry": {"max_attempts": 0}}
        )
    with pytest.raises(InvalidPolicyError, match=r"policy\.misfire_grace"):
        await baton.add(Record(label="x"), id="p", trigger=every, policy={"misfire_grace": -1})
    with pytest.raises(InvalidPayloadError, match=r"payload\.label"):
        await baton.add("record", id="p", trigger=every, payload={"label": 5})
    with pytest.raises(InvalidInputError, match="not both"):
        await baton.add(Record(label="x"), id="p", trigger=every, payload={"label": "y"})
    with pytest.raises(InvalidTriggerError, match="never fires"):
        await baton.add(
            Record(label="x"),
            id="p",
            trigger={
                "interval": {
                    "seconds": 1,
                    "start": "2020-01-01T00:00:00Z",
                    "end": "2020-01-02T00:00:00Z",
                }
            },
        )
    with pytest.raises(JobTypeNotFoundError):
        await baton.add("no-such-type", id="p", trigger=every)
    with pytest.raises(InvalidInputError, match="id"):
        await baton.add(Record(label="x"), id="", trigger=every)
    assert (await baton.list()).items == []
    assert (await baton.runs()).items == []


async def test_add_many_validates_everything_first_and_names_the_entry(baton: Baton) -> None:
    every = {"interval": {"seconds": 60}}
    entries = [{"job": Record(label=f"x{i}"), "id": f"m{i}", "trigger": every} for i in range(3)]
    bad = [*entries, {"job": "record", "id": "m9", "trigger": every, "payload": {"label": 1}}]
    with pytest.raises(InvalidPayloadError, match=r"schedules\[3\]\.payload\.label"):
        await baton.add_many(bad)
    assert (await baton.list()).items == []
    stored = await baton.add_many(entries)
    assert [s.id for s in stored] == ["m0", "m1", "m2"]
    assert [s.payload for s in (await baton.list()).items] == [{"label": f"x{i}"} for i in range(3)]


async def test_tune_gc_freezes_the_heap_and_raises_the_thresholds(tmp_path: Path) -> None:
    import gc

    saved = gc.get_threshold()
    try:
        config = dataclasses.replace(FAST, tune_gc=True)
        async with Baton(store="memory://", jobs=ALL_JOBS, node=config, roles={"worker"}):
            await asyncio.sleep(0.1)
            assert gc.get_threshold() == (20_000, 20, 100)
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)
