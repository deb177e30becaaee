"""Starting and stopping `baton` processes for acceptance tests.

Every process is started inside a context manager that ends it on the way out (see
``tests.processes.running``), and writes its output to a file rather than to a pipe
that someone must drain and close.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.processes import end, running

ROOT = Path(__file__).resolve().parents[2]


def baton_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "baton", *args]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """One `baton` command to its end (killed if it hangs for 120 s)."""
    return subprocess.run(
        baton_cmd(*args),
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextlib.contextmanager
def baton_process(
    args: list[str],
    output: Path,
    *,
    errors: Path | None = None,
    env: dict[str, str] | None = None,
    cwd: Path = ROOT,
) -> Iterator[subprocess.Popen[str]]:
    """A `baton` process writing to ``output`` (and its stderr to ``errors`` if given, else
    to ``output`` too), ended on leaving the block."""
    with contextlib.ExitStack() as files:
        out = files.enter_context(open(output, "w"))
        err = files.enter_context(open(errors, "w")) if errors else subprocess.STDOUT
        with running(
            baton_cmd(*args),
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=err,
        ) as proc:
            yield proc


@contextlib.contextmanager
def worker(
    store_url: str, name: str, log_dir: Path, *extra: str, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[str]]:
    """A `baton worker` process whose jobs log to ``log_dir``; ``env`` is added to its
    environment. Its own output goes to ``log_dir/<name>.out``."""
    args = ["--store", store_url, "--import", "tests.acceptance.mp_jobs", "worker"]
    with baton_process(
        [*args, "--name", name, *extra],
        log_dir / f"{name}.out",
        env={"BATON_TEST_LOG_DIR": str(log_dir), **(env or {})},
    ) as proc:
        yield proc


def stop(proc: subprocess.Popen[str], timeout: float = 30) -> int:
    """End a process a test started itself, in its ``finally``: SIGTERM, then SIGKILL
    after ``timeout`` s, pipes closed (``tests.processes.end``). Returns its exit status."""
    return end(proc, grace=timeout)


def libfaketime() -> str:
    """The path of libfaketime (Debian's faketime package), to preload into a process."""
    found = sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))
    if not found:
        raise RuntimeError("libfaketime is not installed (apt-get install faketime)")
    return str(found[0])
