"""The scenario both stores must pass: three workers, ticks every second, one SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from baton import Baton
from tests.acceptance.mp_jobs import tick
from tests.acceptance.procs import start_worker, stop
from tests.acceptance.ticks import (
    add_ticks,
    all_runs,
    assert_all_succeeded_and_executed,
    assert_one_run_per_tick,
    executions,
    remove_ticks,
    wait_idle,
)


async def kill_busiest_mid_run(
    url: str,
    tmp_path: Path,
    *,
    schedules: int,
    seconds: int,
    lease: float,
    concurrency: int = 200,
) -> None:
    """Run three workers for ``seconds``; SIGKILL the busiest half-way, mid-run; check
    that every tick ran once and that the victim's runs were run again by the others
    within lease + 5 s."""
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    async with Baton(store=url, jobs=[tick]) as baton:
        start = (await baton.store.now()).replace(microsecond=0) + timedelta(seconds=5)
        await add_ticks(baton, schedules, start, seconds=0.5)
    names = ["w1", "w2", "w3"]
    args = ("--lease", str(lease), "--concurrency", str(concurrency))
    procs = {name: start_worker(url, name, log_dir, *args) for name in names}
    try:
        async with Baton(store=url, jobs=[tick]) as baton:
            # Kill a quarter second after a tick, when its runs (0.5 s each) are in flight.
            await asyncio.sleep((start - datetime.now(UTC)).total_seconds() + seconds / 2 + 0.25)
            busy: dict[str | None, int] = defaultdict(int)
            for run in (await baton.runs(state="running", limit=1000)).items:
                busy[run.owner] += 1
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

            end = start + timedelta(seconds=seconds)
            await asyncio.sleep((end - datetime.now(UTC)).total_seconds())
            await remove_ticks(baton, schedules)
            await wait_idle(baton, within=lease + 60)
            runs = await all_runs(baton)
    finally:
        exits = [stop(proc) for proc in procs.values() if proc.poll() is None]
    assert exits == [0, 0]

    assert_one_run_per_tick(runs, schedules, start, end)
    assert_all_succeeded_and_executed(runs, log_dir)
    by_id = {r.id: r for r in runs}
    done = executions(log_dir)
    for run_id in in_flight:
        redone = by_id[run_id]
        assert redone.attempt == 2 and redone.owner in survivors, redone
        assert redone.started_at is not None
        assert killed_at < redone.started_at <= killed_at + timedelta(seconds=lease + 5)
        assert done[run_id][-1] in survivors
