"""Helpers for the multi-process tests: tick schedules, history, and the checks on it."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

from baton import Baton, Run, RunState
from tests.acceptance.mp_jobs import tick


async def add_ticks(baton: Baton, count: int, start: datetime, seconds: float = 0.0) -> None:
    """``count`` schedules firing every second from ``start``; no tick may be skipped."""
    policy = {"coalesce": False, "misfire_grace": 120, "retry": {"max_attempts": 5}}
    for n in range(count):
        await baton.add(
            tick,
            id=f"tick:{n:04}",
            payload={"n": n, "seconds": seconds},
            policy=policy,
            trigger={"interval": {"seconds": 1, "start": start.isoformat()}},
        )


async def remove_ticks(baton: Baton, count: int) -> None:
    for n in range(count):
        await baton.remove(f"tick:{n:04}")


async def wait_idle(baton: Baton, within: float) -> None:
    """Until no run is queued, running or waiting for a retry."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        busy = await baton.runs(state=["queued", "running", "retrying"], limit=1)
        if not busy.items:
            return
        await asyncio.sleep(0.5)
    raise AssertionError("runs were still pending when the test gave up")


async def wait_fired_through(baton: Baton, count: int, until: datetime, within: float) -> None:
    """Until every tick schedule has fired every tick up to ``until`` (its next fire is
    later), however far behind a busy machine has left the nodes."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        schedules = (await baton.list(limit=1000)).items
        behind = [s.id for s in schedules if s.next_fire_at is None or s.next_fire_at <= until]
        if len(schedules) == count and not behind:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"schedules had not fired through {until} when the test gave up")


async def wait_nodes(baton: Baton, names: set[str], within: float) -> None:
    """Until every node in ``names`` has sent its first heartbeat (on a busy machine a
    process can take many seconds to import and start)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if names <= {node.name for node in await baton.nodes()}:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"nodes {sorted(names)} had not all started when the test gave up")


def lateness(runs: list[Run], since: datetime, until: datetime) -> timedelta:
    """The latest start, after its due time, of a first attempt due between ``since`` and
    ``until``: the delay that a busy machine adds to every run, a re-run included."""
    late = [
        r.started_at - r.due_at
        for r in runs
        if r.started_at is not None and r.attempt == 1 and since <= r.due_at <= until
    ]
    return max(late, default=timedelta(0))


async def all_runs(baton: Baton) -> list[Run]:
    runs: list[Run] = []
    cursor = None
    while True:
        page = await baton.runs(cursor=cursor, limit=1000)
        runs += page.items
        if not (cursor := page.next_cursor):
            return runs


def assert_one_run_per_tick(runs: list[Run], count: int, start: datetime, until: datetime) -> None:
    """Every schedule has exactly one run per tick from ``start`` to ``until``, no gap."""
    by_schedule: dict[str, list[datetime]] = defaultdict(list)
    for run in runs:
        by_schedule[run.schedule_id or ""].append(run.fire_at)
    assert len(by_schedule) == count
    for sid, fires in by_schedule.items():
        fires.sort()
        assert fires[0] == start, sid
        assert len(fires) == len(set(fires)), f"{sid} has a tick with two runs"
        steps = {(b - a).total_seconds() for a, b in itertools.pairwise(fires)}
        assert steps <= {1.0}, f"{sid} missed a tick: {sorted(steps)}"
        assert fires[-1] >= until - timedelta(seconds=1), f"{sid} stopped at {fires[-1]}"


def executions(log_dir: Path) -> dict[str, list[str]]:
    """Run id -> nodes that finished an execution of it, from the jobs' own logs."""
    done: dict[str, list[str]] = defaultdict(list)
    for log in log_dir.glob("*.log"):
        for line in log.read_text().splitlines():
            kind, run_id, _attempt, node = line.split()
            if kind == "done":
                done[run_id].append(node)
    return done


def assert_all_succeeded_and_executed(runs: list[Run], log_dir: Path) -> None:
    assert {r.state for r in runs} == {RunState.SUCCEEDED}
    done = executions(log_dir)
    missing = [r.id for r in runs if not done[r.id]]
    assert not missing, f"{len(missing)} runs succeeded without an execution: {missing[:3]}"
