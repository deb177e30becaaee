"""Dependencies across `baton worker` processes and through the CLI.

A diamond (a -> b, c -> d) fires every second for 30 s on three worker processes, one of
them killed with SIGKILL half-way: every tick of d gets exactly one run, after its
parents', and none is missing. A one-off run enqueued after two others waits, and
`baton runs show` names the runs it waits for and their states.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from baton import Baton, Run, RunState
from baton.model import run_id_for_fire
from tests.acceptance.mp_jobs import tick
from tests.acceptance.procs import run_cli, worker
from tests.acceptance.ticks import all_runs, executions
from tests.processes import end

DIAMOND = {"b": ["a"], "c": ["a"], "d": ["b", "c"]}
POLICY = {"coalesce": False, "misfire_grace": 120, "retry": {"max_attempts": 5}}


@pytest.fixture(params=["sqlite", "redis"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "redis":
        return str(request.getfixturevalue("redis_url"))
    return f"sqlite:///{tmp_path}/baton.db"


async def add_diamond(baton: Baton, start: datetime) -> None:
    trigger = {"interval": {"seconds": 1, "start": start.isoformat()}}
    await baton.add(tick, id="a", payload={"n": 0, "seconds": 0.3}, policy=POLICY, trigger=trigger)
    for n, (sid, parents) in enumerate(DIAMOND.items(), start=1):
        after = {"after": {"schedules": parents, "timeout": 120}}
        await baton.add(
            tick, id=sid, payload={"n": n, "seconds": 0.3}, policy=POLICY, trigger=after
        )


async def wait_settled(baton: Baton, within: float) -> None:
    """Until no run waits, is queued, running or waiting for a retry."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        busy = await baton.runs(state=["waiting", "queued", "running", "retrying"], limit=1)
        if not busy.items:
            return
        await asyncio.sleep(0.5)
    raise AssertionError("runs were still pending when the test gave up")


def assert_diamond_ran_once_per_tick(runs: list[Run], ticks: list[datetime]) -> None:
    by_id = {r.id: r for r in runs}
    assert len(by_id) == len(runs)
    for tick_at in ticks:
        got = {sid: by_id.get(run_id_for_fire(sid, tick_at)) for sid in ("a", *DIAMOND)}
        missing = [sid for sid, run in got.items() if run is None]
        assert not missing, f"tick {tick_at}: no run of {missing}"
        for sid, parents in DIAMOND.items():
            child = got[sid]
            assert child is not None and child.state is RunState.SUCCEEDED, child
            assert child.started_at is not None
            for parent in parents:
                ended = got[parent]
                assert ended is not None and ended.finished_at is not None
                assert child.started_at >= ended.finished_at, (child.id, ended.id)
    fires = {r.schedule_id: 0 for r in runs}
    for run in runs:
        fires[run.schedule_id] += 1
    assert fires == dict.fromkeys(("a", *DIAMOND), len(ticks)), fires


async def wait_until_fired(baton: Baton, schedule_id: str, until: datetime) -> None:
    """Until ``schedule_id`` has fired every tick up to ``until`` (a busy machine can
    leave the nodes behind the clock)."""
    deadline = time.monotonic() + 120
    while (fire := (await baton.get(schedule_id)).next_fire_at) is None or fire <= until:
        assert time.monotonic() < deadline, f"{schedule_id} had not fired through {until}"
        await asyncio.sleep(0.2)


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_a_diamond_on_three_workers_survives_a_killed_worker(
    url: str, tmp_path: Path
) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    async with Baton(store=url, jobs=[tick]) as baton:
        start = (await baton.store.now()).replace(microsecond=0) + timedelta(seconds=5)
        await add_diamond(baton, start)
    names = ["w1", "w2", "w3"]
    with contextlib.ExitStack() as stack:
        procs = {
            name: stack.enter_context(worker(url, name, log_dir, "--lease", "3")) for name in names
        }
        async with Baton(store=url, jobs=[tick]) as baton:
            await asyncio.sleep((start - datetime.now(UTC)).total_seconds() + 15.1)
            procs["w2"].send_signal(signal.SIGKILL)
            procs["w2"].wait(timeout=60)
            await asyncio.sleep((start - datetime.now(UTC)).total_seconds() + 30)
            await wait_until_fired(baton, "a", start + timedelta(seconds=29))
            last = (await baton.pause("a")).last_fire_at
            await wait_settled(baton, within=120)
            runs = await all_runs(baton)
        exits = [end(procs[name]) for name in ("w1", "w3")]
    assert exits == [0, 0]
    assert last is not None
    ticks = [start + timedelta(seconds=s) for s in range(int((last - start).total_seconds()) + 1)]
    assert len(ticks) >= 29
    assert_diamond_ran_once_per_tick(runs, ticks)
    done = executions(log_dir)
    assert all(done[r.id] for r in runs), "a run succeeded without an execution"


async def test_a_one_off_run_waits_for_two_runs_and_shows_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/baton.db"
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    async with Baton(store=url, jobs=[tick]) as baton:
        p1, p2 = [
            (await baton.enqueue(tick, key=key, payload={"n": 1, "seconds": 0.2})).id
            for key in ("p1", "p2")
        ]
        child = await baton.enqueue(tick, key="child", payload={"n": 2}, after=[p1, p2])
    assert child.state is RunState.WAITING

    def cli(*args: str) -> str:
        done = run_cli("--store", url, "runs", *args, env={"COLUMNS": "200"})
        assert done.returncode == 0, done.stderr
        return done.stdout

    shown = cli("show", child.id)
    assert "waiting" in shown and f"{p1} queued, {p2} queued" in shown
    listed = json.loads(cli("list", "--state", "waiting", "--json"))
    assert [r["id"] for r in listed["items"]] == [child.id]

    with worker(url, "w1", log_dir) as w1:
        async with Baton(store=url, jobs=[tick]) as baton:
            deadline = time.monotonic() + 120  # only bounds a hang
            while (await baton.get_run(child.id)).state is not RunState.SUCCEEDED:
                assert time.monotonic() < deadline, "the child never ran"
                await asyncio.sleep(0.2)
            runs = {r.id: r for r in await all_runs(baton)}
        assert end(w1) == 0
    done = runs[child.id]
    assert done.attempt == 1 and executions(log_dir)[child.id] == ["w1"]
    assert done.started_at is not None
    assert all(done.started_at >= runs[p].finished_at for p in (p1, p2))  # type: ignore[operator]
    assert json.loads(cli("show", child.id, "--json"))["parents"] == {
        p1: "succeeded",
        p2: "succeeded",
    }
    assert f"{p1} succeeded, {p2} succeeded" in cli("show", child.id)


def test_jobs_add_after_and_remove_with_dependents_on_the_command_line(tmp_path: Path) -> None:
    def cli(*args: str) -> tuple[int, str, str]:
        done = run_cli(
            "--store", f"sqlite:///{tmp_path}/b.db", "--import", "tests.acceptance.mp_jobs", *args
        )
        return done.returncode, done.stdout, done.stderr

    payload = ("--payload", '{"n": 1}')
    assert cli("jobs", "add", "tick", "--id", "a", *payload, "--every", "1m")[0] == 0
    code, out, err = cli(
        "jobs", "add", "tick", "--id", "c", *payload, "--after", "a",
        "--after-rule", "all_done", "--after-timeout", "5m", "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["trigger"] == {
        "after": {"schedules": ["a"], "rule": "all_done", "timeout": 300.0}
    }
    code, _, err = cli("jobs", "add", "tick", "--id", "x", *payload, "--after", "nope")
    assert code == 1 and "'nope'" in err
    code, _, err = cli(
        "jobs", "add", "tick", "--id", "y", *payload, "--after", "a", "--every", "1m"
    )
    assert code == 1 and "--after" in err
    code, _, err = cli("jobs", "remove", "a")
    assert code == 1 and "'c'" in err
    assert cli("jobs", "remove", "a", "--with-dependents")[0] == 0
    code, out, _ = cli("jobs", "list", "--json")
    assert code == 0 and json.loads(out)["items"] == []
