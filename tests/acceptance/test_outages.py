"""Store outages while `baton worker` processes run: outcomes survive them.

Redis is shut down (its AOF on) or frozen with SIGSTOP; an SQLite file is held by
another process's exclusive transaction. Each execution of a job is logged by the job
itself (tests/acceptance/mp_jobs.py), so "executed exactly once" is counted, not assumed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from baton import Baton, Run, RunState
from tests.acceptance.mp_jobs import tick
from tests.acceptance.procs import worker
from tests.acceptance.ticks import (
    add_ticks,
    all_runs,
    assert_all_succeeded_and_executed,
    assert_one_run_per_tick,
    executions,
    remove_ticks,
    wait_fired_through,
    wait_idle,
)
from tests.conftest import RedisServer
from tests.processes import end, running

pytestmark = pytest.mark.slow

JOBS = 40
OUTAGE = 25.0


async def _enqueue_jobs(url: str) -> tuple[datetime, list[str]]:
    """40 one-off jobs of 3 s, due in 3 s, with up to 3 attempts."""
    async with Baton(store=url, jobs=[tick]) as baton:
        start = await baton.store.now() + timedelta(seconds=3)
        ids = []
        for n in range(JOBS):
            run = await baton.enqueue(
                tick,
                key=f"job-{n:02}",
                payload={"n": n, "seconds": 3},
                due_at=start,
                policy={"retry": {"max_attempts": 3}},
            )
            ids.append(run.id)
    return start, ids


async def _wait_until(moment: datetime) -> None:
    await asyncio.sleep(max((moment - datetime.now(UTC)).total_seconds(), 0))


async def _finished_runs(url: str, ids: list[str], within: float) -> list[Run]:
    async with Baton(store=url, jobs=[tick]) as baton:
        deadline = time.monotonic() + within
        while True:
            runs = [await baton.get_run(rid) for rid in ids]
            if all(r.state.finished for r in runs) or time.monotonic() > deadline:
                return runs
            await asyncio.sleep(0.5)


def _workers(
    stack: contextlib.ExitStack, url: str, log_dir: Path, names: list[str]
) -> list[subprocess.Popen[str]]:
    """`baton worker` processes, ended when ``stack`` closes."""
    args = ("--lease", "10", "--concurrency", "10")
    return [stack.enter_context(worker(url, name, log_dir, *args)) for name in names]


def _assert_each_ran_once_on_its_first_attempt(runs: list[Run], log_dir: Path) -> None:
    assert {r.state for r in runs} == {RunState.SUCCEEDED}, Counter(r.state for r in runs)
    assert {r.attempt for r in runs} == {1}, [r.id for r in runs if r.attempt != 1]
    done = executions(log_dir)
    assert {r.id: len(done[r.id]) for r in runs} == {r.id: 1 for r in runs}


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    (tmp_path / "redis").mkdir()
    with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest.mark.timeout(600)
async def test_one_node_records_every_outcome_across_a_redis_shutdown(
    redis: RedisServer, tmp_path: Path
) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    start, ids = await _enqueue_jobs(redis.url)
    with contextlib.ExitStack() as stack:
        procs = _workers(stack, redis.url, log_dir, ["solo"])
        await _wait_until(start + timedelta(seconds=1))  # ten jobs are running
        redis.stop()  # SIGTERM: Redis writes its AOF and exits
        await asyncio.sleep(OUTAGE)
        redis.start()
        runs = await _finished_runs(redis.url, ids, within=120)
        assert procs[0].poll() is None, "the node died with Redis"
        exits = [end(proc) for proc in procs]
    assert exits == [0]
    _assert_each_ran_once_on_its_first_attempt(runs, log_dir)


@pytest.mark.timeout(600)
async def test_two_nodes_lose_no_run_to_a_redis_shutdown(
    redis: RedisServer, tmp_path: Path
) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    start, ids = await _enqueue_jobs(redis.url)
    with contextlib.ExitStack() as stack:
        procs = _workers(stack, redis.url, log_dir, ["a", "b"])
        await _wait_until(start + timedelta(seconds=1))
        redis.stop()
        await asyncio.sleep(OUTAGE)
        redis.start()
        runs = await _finished_runs(redis.url, ids, within=120)
        exits = [end(proc) for proc in procs]
    assert exits == [0, 0]
    # Another node may have taken a run over (its lease had expired): then it ran twice,
    # but none ended dead or failed.
    assert {r.state for r in runs} == {RunState.SUCCEEDED}, Counter(r.state for r in runs)
    done = executions(log_dir)
    assert all(done[r.id] for r in runs)


_HOLD = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


@contextlib.contextmanager
def _holding(db: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process that holds ``db`` in an exclusive transaction for ``seconds``,
    ended on leaving the block."""
    command = [sys.executable, "-c", _HOLD, str(db), str(seconds)]
    with running(command, stdout=subprocess.PIPE) as holder:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder


@pytest.mark.timeout(600)
async def test_one_node_records_every_outcome_while_sqlite_is_locked(tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    db = tmp_path / "baton.db"
    url = f"sqlite:///{db}"
    start, ids = await _enqueue_jobs(url)
    with contextlib.ExitStack() as stack:
        procs = _workers(stack, url, log_dir, ["solo"])
        await _wait_until(start + timedelta(seconds=1))
        with _holding(db, OUTAGE) as holder:
            await asyncio.to_thread(holder.wait, OUTAGE + 60)
        runs = await _finished_runs(url, ids, within=120)
        exits = [end(proc) for proc in procs]
    assert exits == [0]
    _assert_each_ran_once_on_its_first_attempt(runs, log_dir)
    with sqlite3.connect(db) as conn:  # the file is whole
        assert conn.execute("PRAGMA quick_check").fetchone() == ("ok",)


@pytest.mark.timeout(600)
async def test_a_frozen_redis_makes_no_run_dead_and_no_tick_missing_or_doubled(
    redis: RedisServer, tmp_path: Path
) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    count = 100
    async with Baton(store=redis.url, jobs=[tick]) as baton:
        start = (await baton.store.now()).replace(microsecond=0) + timedelta(seconds=4)
        await add_ticks(baton, count, start, seconds=0.05)
    args = ("--lease", "5", "--concurrency", "200")
    assert redis.proc is not None
    with worker(redis.url, "a", log_dir, *args) as a, worker(redis.url, "b", log_dir, *args) as b:
        await _wait_until(start + timedelta(seconds=5))
        redis.proc.send_signal(signal.SIGSTOP)
        try:
            await asyncio.sleep(20)
        finally:
            redis.proc.send_signal(signal.SIGCONT)
        await asyncio.sleep(15)
        assert a.poll() is None and b.poll() is None, "a node died with Redis"
        async with Baton(store=redis.url, jobs=[tick]) as baton:
            end_at = datetime.now(UTC).replace(microsecond=0)
            await wait_fired_through(baton, count, end_at, within=120)
            await remove_ticks(baton, count)
            await wait_idle(baton, within=120)
            runs = await all_runs(baton)
        exits = [end(a), end(b)]
    assert exits == [0, 0]
    assert_one_run_per_tick(runs, count, start, end_at)
    assert_all_succeeded_and_executed(runs, log_dir)
