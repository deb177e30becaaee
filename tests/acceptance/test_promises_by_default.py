"""Promise 2 under the settings a user gets: `baton worker` processes on one real Redis,
a schedule with the default policy (one attempt, coalesce on, max_concurrent 1)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import Popen

import pytest

from baton import Baton, Run, RunState
from tests.acceptance.mp_jobs import tick
from tests.acceptance.procs import baton_process, worker
from tests.acceptance.ticks import executions
from tests.processes import end

pytestmark = pytest.mark.slow

LEASE = 3.0


async def _runs_of(baton: Baton, schedule_id: str) -> list[Run]:
    return (await baton.runs(schedule_id=schedule_id, limit=1000)).items


async def _running(baton: Baton, schedule_id: str, within: float) -> Run:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        running = [r for r in await _runs_of(baton, schedule_id) if r.state is RunState.RUNNING]
        if running:
            return running[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no run of {schedule_id} started")


async def _settled(baton: Baton, schedule_id: str, within: float) -> list[Run]:
    """The runs of ``schedule_id`` once every one has finished (or the time is up)."""
    deadline = time.monotonic() + within
    while True:
        runs = await _runs_of(baton, schedule_id)
        if all(r.state.finished for r in runs) or time.monotonic() > deadline:
            return runs
        await asyncio.sleep(0.2)


def _blind_worker(url: str, log_dir: Path) -> contextlib.AbstractContextManager[Popen[str]]:
    """A worker started without --import: it knows no job type."""
    args = ["--store", url, "worker", "--name", "blind", "--lease", str(LEASE)]
    return baton_process(args, log_dir / "blind.out", env={"BATON_TEST_LOG_DIR": str(log_dir)})


@pytest.mark.timeout(600)
async def test_a_killed_nodes_run_runs_again_and_no_backlog_follows(
    redis_url: str, tmp_path: Path
) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    async with Baton(store=redis_url, jobs=[tick]) as baton:
        start = (await baton.store.now()).replace(microsecond=0) + timedelta(seconds=3)
        await baton.add(  # no policy: the defaults
            tick,
            id="slow",
            payload={"n": 1, "seconds": 2.5},
            trigger={"interval": {"seconds": 1, "start": start.isoformat()}},
        )
    args = ("--lease", str(LEASE))
    with contextlib.ExitStack() as stack:
        procs = {
            name: stack.enter_context(worker(redis_url, name, log_dir, *args))
            for name in ("w1", "w2")
        }
        procs["blind"] = stack.enter_context(_blind_worker(redis_url, log_dir))
        async with Baton(store=redis_url, jobs=[tick]) as baton:
            victim_run = await _running(baton, "slow", within=120)
            victim = victim_run.owner
            assert victim in ("w1", "w2")
            await asyncio.sleep(0.5)  # mid-run
            procs[victim].send_signal(signal.SIGKILL)
            killed_at = datetime.now(UTC)
            procs[victim].wait(timeout=60)
            # The lease expires, the run runs again; then the schedule goes on for a while.
            await asyncio.sleep(LEASE + 15)
            await baton.remove("slow")
            runs = await _settled(baton, "slow", within=120)
            nodes = {n.name: n for n in await baton.nodes()}
        exits = [end(proc) for name, proc in procs.items() if name != victim]
    assert exits == [0, 0]

    survivor = "w2" if victim == "w1" else "w1"
    (redone,) = [r for r in runs if r.id == victim_run.id]
    assert redone.state is RunState.SUCCEEDED, redone
    assert redone.attempt == 2 and redone.lease_losses == 1 and redone.owner == survivor
    assert redone.started_at is not None
    assert killed_at < redone.started_at <= killed_at + timedelta(seconds=LEASE + 5)
    assert executions(log_dir)[redone.id] == [survivor]

    # Nothing failed or died, and the worker without the job type took nothing.
    states = {r.state for r in runs}
    assert states <= {RunState.SUCCEEDED, RunState.SKIPPED}, states
    assert all(r.owner != "blind" for r in runs)
    assert nodes["blind"].types == () and "tick" in nodes[survivor].types
    # No backlog: the ticks that waited behind the held run were folded into the newest
    # one (skipped, "coalesced"), and no run started long after its tick.
    skipped = [r for r in runs if r.state is RunState.SKIPPED]
    assert skipped and all((r.note or "").startswith("coalesced into") for r in skipped)
    ran = [r for r in runs if r.state is RunState.SUCCEEDED and r.id != redone.id]
    late = [r.id for r in ran if r.started_at and r.started_at - r.fire_at > timedelta(seconds=4)]
    assert not late, late
