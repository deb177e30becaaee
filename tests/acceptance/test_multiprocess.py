"""Three `baton worker` processes on one SQLite file: one run per tick, none lost.

200 schedules fire every second for 20 s. Half-way through, one process is killed
with SIGKILL while it is in the middle of runs; the others must re-run those runs once
its leases expire, and no tick may get a second run.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from baton import Baton, RunState
from tests.acceptance.mp_jobs import tick
from tests.acceptance.procs import start_worker, stop

pytestmark = pytest.mark.slow

SCHEDULES = 200
SECONDS = 20
LEASE = 3.0


async def _wait_idle(baton: Baton, deadline: float) -> None:
    while time.monotonic() < deadline:
        busy = await baton.runs(state=["queued", "running", "retrying"], limit=1)
        if not busy.items:
            return
        await asyncio.sleep(0.5)
    raise AssertionError("runs were still pending when the test gave up")


@pytest.mark.timeout(180)
async def test_three_workers_one_run_per_tick_and_a_killed_worker_is_covered(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/baton.db"
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    async with Baton(store=url, jobs=[tick]) as baton:
        start = (await baton.store.now()).replace(microsecond=0) + timedelta(seconds=4)
        policy = {"coalesce": False, "misfire_grace": 60, "retry": {"max_attempts": 3}}
        for n in range(SCHEDULES):
            await baton.add(
                tick,
                id=f"tick:{n:03}",
                payload={"n": n, "seconds": 0.5},
                policy=policy,
                trigger={"interval": {"seconds": 1, "start": start.isoformat()}},
            )

    names = ["w1", "w2", "w3"]
    procs = {
        name: start_worker(url, name, log_dir, "--lease", str(LEASE), "--concurrency", "100")
        for name in names
    }
    try:
        async with Baton(store=url, jobs=[tick]) as baton:
            await asyncio.sleep((start - datetime.now(UTC)).total_seconds() + SECONDS / 2 + 0.25)
            busy = defaultdict(int)
            for r in (await baton.runs(state="running", limit=1000)).items:
                busy[r.owner] += 1
            victim = max(names, key=lambda name: busy[name])
            os.kill(procs[victim].pid, signal.SIGKILL)
            killed_at = datetime.now(UTC)
            procs[victim].wait(timeout=10)
            in_flight = [
                r.id
                for r in (await baton.runs(state="running", limit=1000)).items
                if r.owner == victim
            ]
            assert in_flight, f"{victim} had no runs in flight when it was killed"
            survivors = tuple(name for name in names if name != victim)

            end = start + timedelta(seconds=SECONDS)
            await asyncio.sleep((end - datetime.now(UTC)).total_seconds())
            for n in range(SCHEDULES):
                await baton.remove(f"tick:{n:03}")
            await _wait_idle(baton, time.monotonic() + LEASE + 30)
            runs = []
            cursor = None
            while True:
                page = await baton.runs(cursor=cursor, limit=1000)
                runs += page.items
                if not (cursor := page.next_cursor):
                    break
    finally:
        exits = [stop(proc) for proc in procs.values() if proc.poll() is None]
    assert exits == [0, 0]

    # Every tick of every schedule has exactly one run, from the start to the removal.
    by_schedule: dict[str, list[datetime]] = defaultdict(list)
    for run in runs:
        by_schedule[run.schedule_id or ""].append(run.fire_at)
    assert len(by_schedule) == SCHEDULES
    for sid, fires in by_schedule.items():
        fires.sort()
        assert fires[0] == start, sid
        assert len(fires) == len(set(fires)), f"{sid} has a tick with two runs"
        steps = {(b - a).total_seconds() for a, b in itertools.pairwise(fires)}
        assert steps == {1.0}, f"{sid} missed a tick: {steps}"
        assert fires[-1] >= start + timedelta(seconds=SECONDS - 1), sid

    # Every run was executed to success.
    assert {r.state for r in runs} == {RunState.SUCCEEDED}

    # The victim's runs in flight were executed again by the others once its leases ran out.
    by_id = {r.id: r for r in runs}
    executions: dict[str, list[str]] = defaultdict(list)
    for log in log_dir.glob("*.log"):
        for line in log.read_text().splitlines():
            kind, run_id, _attempt, node = line.split()
            if kind == "done":
                executions[run_id].append(node)
    for run_id in in_flight:
        redone = by_id[run_id]
        assert redone.attempt == 2 and redone.owner in survivors, redone
        assert killed_at < redone.started_at <= killed_at + timedelta(seconds=LEASE + 5)
        assert executions[run_id][-1] in survivors
    assert all(executions[r.id] for r in runs), "a run succeeded without being executed"
