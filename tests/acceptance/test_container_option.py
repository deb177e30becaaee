"""``baton worker --container module:function`` and ``BATON_CONTAINER``: the jobs of a
node under the command line get their dependencies from the application's container."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.acceptance.procs import ROOT, baton_cmd, run_cli, stop

IMPORT = ("--import", "tests.acceptance.container_app")


def greeted(store: str, tmp_path: Path, *options: str, env: dict[str, str]) -> str:
    """Queue one greeting, run a worker until it ends, and return the run's state."""
    added = run_cli("--store", store, *IMPORT, "jobs", "add", "greet", "--id", "hi",
                    "--payload", '{"name": "ada"}', "--every", "1h")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert run_cli("--store", store, "jobs", "trigger", "hi", "--key", "1").returncode == 0
    with open(tmp_path / "worker.out", "w") as out:
        proc = subprocess.Popen(
            baton_cmd("--store", store, *IMPORT, "worker", "--shutdown-grace", "1", *options),
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            shown = run_cli("--store", store, "runs", "show", "hi@manual:1", "--json")
            state = json.loads(shown.stdout)["state"] if shown.returncode == 0 else "?"
            if state in ("succeeded", "failed", "dead"):
                return str(state)
            assert proc.poll() is None, (tmp_path / "worker.out").read_text()
            assert time.monotonic() < deadline, (tmp_path / "worker.out").read_text()
            time.sleep(0.2)
    finally:
        stop(proc)


def test_the_container_option_injects_the_client(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/baton.db"
    option = ("--container", "tests.acceptance.container_app:make_container")
    assert greeted(store, tmp_path, *option, env={}) == "succeeded"


def test_baton_container_in_the_environment_does_the_same(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/baton.db"
    env = {"BATON_CONTAINER": "tests.acceptance.container_app:make_container"}
    assert greeted(store, tmp_path, env=env) == "succeeded"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tests.acceptance.container_app", "is not module:function"),
        ("no_such_module_here:make", "cannot import 'no_such_module_here'"),
        ("tests.acceptance.container_app:missing", "has no function 'missing'"),
        ("tests.acceptance.container_app:not_a_container", "returned str"),
    ],
)
def test_a_bad_container_option_is_one_line_naming_it(
    tmp_path: Path, spec: str, message: str
) -> None:
    done = run_cli("--store", f"sqlite:///{tmp_path}/b.db", *IMPORT, "worker", "--container", spec)
    assert done.returncode == 1, done.stderr
    assert "--container" in done.stderr and message in done.stderr
    assert "Traceback" not in done.stderr
