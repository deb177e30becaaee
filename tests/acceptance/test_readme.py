"""The README, run as a reader would: its first example embedded and under
``baton worker --container``, its shell and curl examples against a served node."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.acceptance.procs import ROOT
from tests.acceptance.test_serve import free_port, wait_healthy
from tests.processes import end, running

README = (ROOT / "README.md").read_text()
TOKEN = "readme-admin-token-0123456789"

#: Lines of the README's ``sh`` blocks that this test does not run, and why.
NOT_RUN = {
    "pip install": "installing is what `make` and tests/acceptance/test_plain_install.py do",
    "make ": "the two commands are what CI runs",
    "baton fleet": "needs AWS (tests/fleet runs it against a moto server)",
    "--fleet": "needs AWS (tests/fleet runs it against a moto server)",
    "/workers": "the fleet's routes (tests/fleet)",
}

#: ``myapp.jobs``, which the README's commands import: the job types they name.
MYAPP_JOBS = """
from baton import Job, job


@job("worker-metrics")
class WorkerMetrics(Job):
    worker_id: str

    async def run(self) -> None:
        return None


@job("report")
async def report() -> None:
    return None


@job("summary")
async def summary() -> None:
    return None
"""


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.M | re.S)


def commands(block: str) -> list[str]:
    """The block's commands, continuation lines joined, those in NOT_RUN left out."""
    joined = re.sub(r"\\\n\s*", " ", block)
    # a quoted JSON body may span lines: join a line to the next until its quotes close
    lines: list[str] = []
    for line in joined.splitlines():
        if lines and lines[-1].count("'") % 2:
            lines[-1] += " " + line.strip()
        elif line.strip():
            lines.append(line.strip())
    return [c for c in lines if not any(marker in c for marker in NOT_RUN)]


def env_with_baton(**extra: str) -> dict[str, str]:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, "PYTHONPATH": "", **extra}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A `baton serve` importing myapp.jobs, and the environment a reader's shell has."""
    (tmp_path / "myapp").mkdir()
    (tmp_path / "myapp" / "__init__.py").write_text("")
    (tmp_path / "myapp" / "jobs.py").write_text(MYAPP_JOBS)
    port = free_port()
    env = env_with_baton(
        BATON_STORE_URL=f"sqlite:///{tmp_path}/baton.db",
        BATON_API_TOKENS=f"admin:{TOKEN}",
        TOKEN=TOKEN,
    )
    log = tmp_path / "serve.out"
    command = ["baton", "--import", "myapp.jobs", "serve", "--port", str(port)]
    with (
        open(log, "w") as out,
        running([*command, "--shutdown-grace", "1"], cwd=tmp_path, env=env, stdout=out,
                stderr=subprocess.STDOUT) as proc,
    ):  # fmt: skip
        wait_healthy(f"http://127.0.0.1:{port}", proc, log)
        yield f"127.0.0.1:{port}", env


def run_shell(command: str, *, cwd: Path, env: dict[str, str], host: str) -> None:
    line = command.replace("localhost:8000", host)
    # curl fails on an HTTP error; the event stream never ends by itself
    wrapped = f'curl() {{ command curl -sS --fail-with-body --max-time 3 "$@"; }}\n{line}'
    done = subprocess.run(
        ["bash", "-c", wrapped], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    streaming = " -N " in line and done.returncode == 28  # curl's "timed out"
    assert done.returncode == 0 or streaming, f"{line}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr


def test_the_readme_shell_and_curl_examples_run_against_a_served_node(
    served: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    host, env = served
    ran = []
    for block in blocks("sh"):
        for command in commands(block):
            run_shell(command, cwd=tmp_path, env=env, host=host)
            ran.append(command)
    assert any(c.startswith("baton ") for c in ran) and any(c.startswith("curl ") for c in ran)
    jobs = httpx.get(f"http://{host}/admin/jobs", headers={"Authorization": f"Bearer {TOKEN}"})
    ids = {s["id"] for s in jobs.json()["items"]}
    assert {"worker-metrics:w-1", "nightly", "monthly", "weekly", "cleanup"} <= ids


def first_example(tmp_path: Path) -> Path:
    (example,) = [b for b in blocks("python") if "make_container" in b]
    path = tmp_path / "app.py"
    path.write_text(example)
    return path


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["baton", *args], cwd=tmp_path, env=env_with_baton(), capture_output=True, text=True
    )


def wait_for(check: object, what: str, proc: subprocess.Popen[str], within: float = 120) -> None:
    deadline = time.monotonic() + within
    while not check():  # type: ignore[operator]
        if proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {proc.returncode}")
        assert time.monotonic() < deadline, f"{what}: not within {within} s"
        time.sleep(0.2)


def test_the_readme_example_runs_embedded(tmp_path: Path) -> None:
    app = first_example(tmp_path)
    with running([sys.executable, str(app)], cwd=tmp_path, env=env_with_baton()) as proc:

        def ran() -> bool:
            done = cli(tmp_path, "runs", "list", "--job", "worker-metrics:w-1", "--state",
                       "succeeded", "--json")  # fmt: skip
            return done.returncode == 0 and '"succeeded"' in done.stdout

        wait_for(ran, "the injected client's run", proc)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0


def test_the_readme_example_runs_under_baton_worker_container(tmp_path: Path) -> None:
    first_example(tmp_path)
    for worker_id in ("w-2", "w-3-gone"):
        added = cli(
            tmp_path, "--import", "app", "jobs", "add", "worker-metrics",
            "--id", f"worker-metrics:{worker_id}", "--payload", f'{{"worker_id": "{worker_id}"}}',
            "--every", "1s",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
    log = tmp_path / "worker.err"
    command = ["baton", "--import", "app", "worker", "--container", "app:make_container"]
    with (
        open(log, "w") as errors,
        running(command, cwd=tmp_path, env=env_with_baton(), stderr=errors) as proc,
    ):

        def stopped() -> bool:
            shown = cli(tmp_path, "jobs", "show", "worker-metrics:w-3-gone")
            return shown.returncode == 1 and "worker terminated" in shown.stderr

        wait_for(stopped, "the terminated worker's schedule ends itself", proc)
        done = cli(tmp_path, "runs", "list", "--job", "worker-metrics:w-2", "--json")
        assert '"succeeded"' in done.stdout and '"dead"' not in done.stdout, done.stdout
        assert end(proc) == 0
    assert "no container was given" not in log.read_text()
