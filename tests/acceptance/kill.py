"""The scenario both stores must pass: three workers, ticks every second, one SIGKILL."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from baton import Baton, Run
from tests.acceptance.mp_jobs import tick
from tests.acceptance.procs import worker
from tests.acceptance.ticks import (
    add_ticks,
    all_runs,
    assert_all_succeeded_and_executed,
    assert_one_run_per_tick,
    executions,
    lateness,
    remove_ticks,
    wait_fired_through,
    wait_idle,
)
from tests.processes import end


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
    within lease + 5 s (plus whatever lateness a busy machine gave every run then)."""
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    async with Baton(store=url, jobs=[tick]) as baton:
        start = (await baton.store.now()).replace(microsecond=0) + timedelta(seconds=5)
        await add_ticks(baton, schedules, start, seconds=0.5)
    names = ["w1", "w2", "w3"]
    args = ("--lease", str(lease), "--concurrency", str(concurrency))
    finish = start + timedelta(seconds=seconds)
    with contextlib.ExitStack() as stack:
        procs = {name: stack.enter_context(worker(url, name, log_dir, *args)) for name in names}
        async with Baton(store=url, jobs=[tick]) as baton:
            # Kill a quarter second after a tick, when its runs (0.5 s each) are in flight.
            await asyncio.sleep((start - datetime.now(UTC)).total_seconds() + seconds / 2 + 0.25)
            victim = await busiest(baton, names)
            procs[victim].send_signal(signal.SIGKILL)
            killed_at = datetime.now(UTC)
            procs[victim].wait(timeout=60)
            # Runs that were still in flight, by the store, once the victim was dead.
            in_flight = [r.id for r in await running_runs(baton) if r.owner == victim]
            assert in_flight, f"{victim} had no runs in flight when it was killed"
            survivors = tuple(name for name in names if name != victim)

            await asyncio.sleep((finish - datetime.now(UTC)).total_seconds())
            await wait_fired_through(baton, schedules, finish, within=120)
            await remove_ticks(baton, schedules)
            await wait_idle(baton, within=lease + 120)
            runs = await all_runs(baton)
        exits = [end(procs[name]) for name in survivors]
    assert exits == [0, 0]

    assert_one_run_per_tick(runs, schedules, start, finish)
    assert_all_succeeded_and_executed(runs, log_dir)
    by_id = {r.id: r for r in runs}
    done = executions(log_dir)
    # Within lease + 5 s of the kill, give or take how late the survivors were starting
    # ordinary runs at the time (nothing, unless other processes keep the machine busy).
    window = timedelta(seconds=lease + 5)
    bound = killed_at + window + lateness(runs, killed_at, killed_at + window)
    for run_id in in_flight:
        redone = by_id[run_id]
        assert redone.attempt == 2 and redone.owner in survivors, redone
        assert redone.started_at is not None
        assert killed_at < redone.started_at <= bound, (killed_at, bound, redone)
        assert done[run_id][-1] in survivors


async def running_runs(baton: Baton) -> list[Run]:
    return (await baton.runs(state="running", limit=1000)).items


async def busiest(baton: Baton, names: list[str], within: float = 60) -> str:
    """The worker with the most runs in flight, once one has some (on a busy machine the
    workers may be between runs at the moment the test looks)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        busy: dict[str, int] = defaultdict(int)
        for run in await running_runs(baton):
            busy[run.owner or ""] += 1
        victim = max(names, key=lambda name: busy[name])
        if busy[victim]:
            return victim
        await asyncio.sleep(0.05)
    raise AssertionError("no worker had a run in flight")
