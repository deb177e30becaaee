"""A failing job leaves a trace in the node's output: every failed attempt, retry and
dead run is one line at WARNING or above, as text or as JSON for a log shipper."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path

from baton import Baton
from tests.acceptance import firsthour_jobs
from tests.acceptance.procs import ROOT, baton_cmd, run_cli, stop

RUN = "printer@manual:p-1"


def add_failing(store: str) -> None:
    """A schedule whose job always fails, and one run of it queued now."""
    added = run_cli(
        "--store", store, "--import", "tests.acceptance.firsthour_jobs",
        "jobs", "add", "boom", "--id", "printer", "--every", "1h",
        "--max-attempts", "2", "--backoff", "0.1s",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    triggered = run_cli("--store", store, "jobs", "trigger", "printer", "--key", "p-1")
    assert triggered.returncode == 0, triggered.stderr


def worker_output(
    store: str, tmp_path: Path, *extra: str, until: tuple[str, ...] = (RUN, "dead")
) -> str:
    """Run a worker until its output holds every text of ``until``."""
    out_path = tmp_path / "worker.out"
    command = baton_cmd(
        "--store", store, "--import", "tests.acceptance.firsthour_jobs",
        "worker", "--shutdown-grace", "1", *extra,
    )  # fmt: skip
    with open(out_path, "w") as out:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        deadline = time.monotonic() + 30
        while not all(text in out_path.read_text() for text in until):
            assert proc.poll() is None, out_path.read_text()
            assert time.monotonic() < deadline, out_path.read_text()
            time.sleep(0.1)
    finally:
        stop(proc)
    return out_path.read_text()


def test_failed_attempts_and_the_dead_run_are_in_the_worker_output(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/baton.db"
    add_failing(store)
    output = worker_output(store, tmp_path, "--log-level", "WARNING")
    assert (
        f"WARNING baton.node run {RUN} (boom) attempt 1 of 2 failed: "
        "RuntimeError: the printer is on fire; retry in" in output
    )
    assert f"ERROR baton.node run {RUN} (boom) is dead after attempt 2: RuntimeError" in output


def test_log_format_json_gives_one_object_per_line_with_the_run_fields(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/baton.db"
    add_failing(store)
    output = worker_output(store, tmp_path, "--log-format", "json")
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    by_state = {r.get("state"): r for r in records if r.get("run_id") == RUN}
    retrying, dead = by_state["retrying"], by_state["dead"]
    assert retrying["level"] == "WARNING" and retrying["job_type"] == "boom"
    assert retrying["error"] == "RuntimeError: the printer is on fire"
    assert retrying["attempt"] == 1 and retrying["max_attempts"] == 2
    assert dead["level"] == "ERROR" and dead["attempt"] == 2
    assert dead["logger"] == "baton.node" and "is dead" in dead["message"]


async def test_a_breaker_that_opens_is_a_warning_in_the_worker_output(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/baton.db"
    breaker = {"key": "printer", "failures": 1, "window": 60, "cooldown": 60}
    async with Baton(store=store, jobs=[firsthour_jobs.boom]) as setup:
        await setup.add(
            "boom", id="printer", trigger={"interval": {"seconds": 3600}},
            policy={"breaker": breaker},
        )  # fmt: skip
        await setup.trigger("printer", key="p-1")
    output = await asyncio.to_thread(
        worker_output, store, tmp_path, until=("circuit breaker printer opened",)
    )
    assert "WARNING baton.node circuit breaker printer opened (" in output
