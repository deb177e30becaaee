"""What a new user meets in the first hour with the command line, each item as they met
it: an option in the wrong place, an error without the flag that fixes it, a store read
from the wrong folder, a run id cut in pieces, a schedule gone without a word."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from pathlib import Path

import pytest

from baton import Baton, NodeConfig, RunState
from tests.acceptance import firsthour_jobs
from tests.acceptance.procs import run_cli

IMPORT = ("--import", "tests.acceptance.firsthour_jobs")
JOBS = [firsthour_jobs.boom, firsthour_jobs.stop, firsthour_jobs.noop]
FAST = NodeConfig(name="first-hour", lease=timedelta(seconds=2), max_idle=timedelta(seconds=0.2))


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/baton.db"


def baton(*args: str, columns: int = 200) -> tuple[int, str, str]:
    done = run_cli(*args, env={"COLUMNS": str(columns)})
    return done.returncode, done.stdout, done.stderr


async def run_until(store: str, schedule_id: str, state: RunState) -> None:
    """Run a node in this process until a run of ``schedule_id`` is in ``state``."""
    async with Baton(store=store, jobs=JOBS, node=FAST, roles={"scheduler", "worker"}) as node:
        deadline = time.monotonic() + 20
        while not (await node.runs(schedule_id=schedule_id, state=state)).items:
            assert time.monotonic() < deadline, f"no {state} run of {schedule_id}"
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("option", [("--import", "myapp"), ("--store", "sqlite:///x.db")])
def test_a_global_option_after_the_command_says_where_it_goes(option: tuple[str, str]) -> None:
    code, _, err = baton("jobs", "list", *option)
    assert code == 2
    assert f"{option[0]} is an option of baton itself and goes before the command" in err
    assert "jobs list" in err


def test_an_existing_id_names_the_replace_flag(store: str) -> None:
    add = ("--store", store, *IMPORT, "jobs", "add", "noop", "--id", "n", "--every", "1h")
    assert baton(*add)[0] == 0
    code, _, err = baton(*add)
    assert code == 1 and "--replace" in err
    assert baton(*add, "--replace")[0] == 0


def test_an_unknown_job_type_points_at_import(store: str) -> None:
    code, _, err = baton("--store", store, "jobs", "add", "greet", "--id", "g", "--every", "1h")
    assert code == 1
    assert "no job type is registered as 'greet'" in err and "--import" in err


@pytest.mark.parametrize(
    "command", [("jobs", "list"), ("runs", "list", "--json"), ("jobs", "show", "x"), ("check",)]
)
def test_a_read_command_never_creates_a_store(tmp_path: Path, command: tuple[str, ...]) -> None:
    path = tmp_path / "elsewhere" / "baton.db"
    path.parent.mkdir()
    code, out, err = baton("--store", f"sqlite:///{path}", *command)
    assert code == 1 and out == ""
    assert f"no baton store at {path}" in err and "Traceback" not in err
    assert list(path.parent.iterdir()) == []


def test_verbose_says_which_store_a_command_uses(store: str, tmp_path: Path) -> None:
    added = baton("--store", store, *IMPORT, "jobs", "add", "noop", "--id", "n", "--every", "1h")
    assert added[0] == 0
    code, _, err = baton("-v", "--store", store, "jobs", "list")
    assert code == 0
    assert f"store: {store} (file {tmp_path / 'baton.db'})" in err


def test_the_cli_adds_calendar_and_json_triggers(store: str) -> None:
    add = ("--store", store, *IMPORT, "jobs", "add", "noop", "--json")
    code, out, err = baton(*add, "--id", "monthly", "--calendar", "months=1,hour=3")
    assert code == 0, err
    assert json.loads(out)["trigger"]["calendar"]["months"] == 1
    assert json.loads(out)["trigger"]["calendar"]["hour"] == 3
    spec = '{"calendar": {"weeks": 2, "timezone": "Europe/Brussels"}}'
    code, out, err = baton(*add, "--id", "fortnightly", "--trigger", spec)
    assert code == 0, err
    assert json.loads(out)["trigger"]["calendar"]["weeks"] == 2
    code, _, err = baton(*add, "--id", "bad", "--trigger", "[1]")
    assert code == 1 and "--trigger: must be a JSON object" in err


async def test_show_after_stop_schedule_says_it_was_stopped_and_why(store: str) -> None:
    async with Baton(store=store, jobs=JOBS) as setup:
        await setup.add("stop", id="stopping", trigger={"interval": {"seconds": 0.2}})
    await run_until(store, "stopping", RunState.SUCCEEDED)
    code, _, err = await asyncio.to_thread(baton, "--store", store, "jobs", "show", "stopping")
    assert code == 1
    assert "no schedule has the id 'stopping'" in err
    assert "stopped it" in err and "its worker was terminated" in err


async def test_cancelling_a_finished_run_exits_non_zero(store: str) -> None:
    async with Baton(store=store, jobs=JOBS) as setup:
        await setup.add("noop", id="once", trigger={"interval": {"seconds": 60}})
        run = await setup.trigger("once", key="by-hand")
    await run_until(store, "once", RunState.SUCCEEDED)
    code, _, err = await asyncio.to_thread(baton, "--store", store, "runs", "cancel", run.id)
    assert code == 1 and "already succeeded" in err


async def test_run_ids_are_never_wrapped_at_80_columns(store: str) -> None:
    long_id = "worker-metrics:i-0abc123456789def0"
    async with Baton(store=store, jobs=JOBS) as setup:
        await setup.add("noop", id=long_id, trigger={"interval": {"seconds": 60}})
        run = await setup.trigger(long_id)
    code, out, err = await asyncio.to_thread(baton, "--store", store, "runs", "list", columns=80)
    assert code == 0, err
    assert run.id in out
    assert all(len(line) <= 80 for line in out.splitlines())


async def test_a_run_retried_past_its_policy_does_not_say_3_of_2(store: str) -> None:
    async with Baton(store=store, jobs=JOBS) as setup:
        await setup.add(
            "boom",
            id="flaky",
            trigger={"interval": {"seconds": 60}},
            policy={"retry": {"max_attempts": 2, "backoff": 0.05}},
        )
        run = await setup.trigger("flaky", key="1")
    await run_until(store, "flaky", RunState.DEAD)
    assert (await asyncio.to_thread(baton, "--store", store, "runs", "retry", run.id))[0] == 0
    code, out, err = await asyncio.to_thread(baton, "--store", store, "runs", "show", run.id)
    assert code == 0, err
    assert "3 of 2" not in out and "3 (2 by its policy, then retried by hand)" in out
