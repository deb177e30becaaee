"""Many `baton worker` processes on one real Redis: crashes, restarts and skewed clocks."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from baton import Baton, RunState
from tests.acceptance.kill import kill_busiest_mid_run
from tests.acceptance.mp_jobs import tick
from tests.acceptance.procs import libfaketime, worker
from tests.acceptance.ticks import (
    add_ticks,
    all_runs,
    assert_all_succeeded_and_executed,
    assert_one_run_per_tick,
    remove_ticks,
    wait_fired_through,
    wait_idle,
    wait_nodes,
)
from tests.conftest import RedisServer
from tests.processes import end

pytestmark = pytest.mark.slow


@pytest.mark.timeout(600)
async def test_three_workers_1000_schedules_every_second_and_a_sigkill(
    redis_url: str, tmp_path: Path
) -> None:
    await kill_busiest_mid_run(redis_url, tmp_path, schedules=1000, seconds=30, lease=3.0)


@pytest.mark.timeout(600)
async def test_a_redis_restart_loses_nothing_and_firing_resumes(tmp_path: Path) -> None:
    (tmp_path / "redis").mkdir()
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    count = 50
    with RedisServer(tmp_path / "redis") as server, contextlib.ExitStack() as stack:
        url = server.url
        async with Baton(store=url, jobs=[tick]) as baton:
            start = (await baton.store.now()).replace(microsecond=0) + timedelta(seconds=4)
            await add_ticks(baton, count, start, seconds=0.05)
        procs = [
            stack.enter_context(worker(url, name, log_dir, "--lease", "5")) for name in ("a", "b")
        ]
        await asyncio.sleep((start - datetime.now(UTC)).total_seconds() + 5)
        server.stop()  # SIGTERM: Redis writes its AOF and exits
        await asyncio.sleep(4)
        server.start()
        await asyncio.sleep(8)
        assert all(proc.poll() is None for proc in procs), "a node died with Redis"
        async with Baton(store=url, jobs=[tick]) as baton:
            assert len((await baton.list(limit=1000)).items) == count
            end_at = datetime.now(UTC).replace(microsecond=0)
            # The ticks of the outage are fired late once Redis is back (misfire grace 120 s).
            await wait_fired_through(baton, count, end_at, within=120)
            await remove_ticks(baton, count)
            await wait_idle(baton, within=120)
            runs = await all_runs(baton)
        exits = [end(proc) for proc in procs]
    assert exits == [0, 0]
    assert_one_run_per_tick(runs, count, start, end_at)
    assert_all_succeeded_and_executed(runs, log_dir)


@pytest.mark.timeout(600)
async def test_a_node_with_a_wrong_clock_neither_steals_nor_loses_leases(
    redis_url: str, tmp_path: Path
) -> None:
    """One node runs two hours ahead (libfaketime). Leases, due times and fires are
    judged by Redis TIME, so it fires nothing early, and long runs that outlive the
    lease are renewed and finished by the node that took them, once each."""
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    args = ("--lease", "2", "--concurrency", "6")
    skewed = {"LD_PRELOAD": libfaketime(), "FAKETIME": "+2h"}
    with (
        worker(redis_url, "ahead", log_dir, *args, env=skewed) as ahead,
        worker(redis_url, "right", log_dir, *args) as right,
    ):
        async with Baton(store=redis_url, jobs=[tick]) as baton:
            # Both nodes must be up before the work is due, or one takes it all.
            await wait_nodes(baton, {"ahead", "right"}, within=120)
            now = await baton.store.now()
            start = now.replace(microsecond=0) + timedelta(seconds=4)
            await add_ticks(baton, 20, start, seconds=0.05)
            for n in range(12):  # each outlives the 2 s lease: only renewals keep it
                await baton.enqueue(
                    tick, key=f"long-{n}", payload={"n": n, "seconds": 5}, due_at=start
                )
            await asyncio.sleep((start - datetime.now(UTC)).total_seconds() + 12)
            end_at = datetime.now(UTC).replace(microsecond=0)
            await wait_fired_through(baton, 20, end_at, within=120)
            await remove_ticks(baton, 20)
            await wait_idle(baton, within=120)
            runs = await all_runs(baton)
        exits = [end(ahead), end(right)]
    assert exits == [0, 0]
    assert_all_succeeded_and_executed(runs, log_dir)
    long_runs = [r for r in runs if "@once:long-" in r.id]
    assert len(long_runs) == 12
    assert all(r.attempt == 1 and r.state is RunState.SUCCEEDED for r in long_runs)
    assert {r.owner for r in long_runs} == {"ahead", "right"}
    ticks = [r for r in runs if r.schedule_id]
    assert_one_run_per_tick(ticks, 20, start, end_at)
    # Nothing was fired early: a run is never created long before its fire time.
    assert all(r.created_at >= r.fire_at - timedelta(seconds=1) for r in ticks)
    assert {r.owner for r in ticks} == {"ahead", "right"}
