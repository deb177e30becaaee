"""Starting and stopping `baton` processes for acceptance tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def baton_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "baton", *args]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        baton_cmd(*args),
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def start_worker(
    store_url: str, name: str, log_dir: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """A `baton worker` process whose jobs log to ``log_dir``; ``env`` is added to its
    environment."""
    env = {**os.environ, "BATON_TEST_LOG_DIR": str(log_dir), **(env or {})}
    command = baton_cmd(
        "--store",
        store_url,
        "--import",
        "tests.acceptance.mp_jobs",
        "worker",
        "--name",
        name,
        *extra,
    )
    with open(log_dir / f"{name}.out", "w") as out:  # the child keeps its own copy
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )


def stop(proc: subprocess.Popen[str], timeout: float = 30) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=timeout)


def libfaketime() -> str:
    """The path of libfaketime (Debian's faketime package), to preload into a process."""
    found = sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))
    if not found:
        raise RuntimeError("libfaketime is not installed (apt-get install faketime)")
    return str(found[0])
