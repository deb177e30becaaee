"""`baton demo` as `make demo` runs it: the simulated fleet monitored, listed by curl."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import httpx
import pytest

from tests.acceptance.procs import baton_process
from tests.acceptance.test_serve import free_port

ADMIN = "demo-admin-token-0123456789"
VIEWER = "demo-viewer-token-0123456789"
CURL = re.compile(r"curl -H '(Authorization: Bearer (\S+))' (\S+)")


def complete_lines(log: Path) -> str:
    """What the process has written so far, up to its last full line."""
    text = log.read_text()
    return text[: text.rfind("\n") + 1]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_demo_monitors_the_simulated_fleet(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BATON_"))}
    env["BATON_API_TOKENS"] = f"viewer:{VIEWER},admin:{ADMIN}"
    args = ["demo", "--port", str(port), "--duration", "60", "--terminate-after", "20"]
    log = tmp_path / "demo.out"
    with baton_process([*args, "--data-dir", str(tmp_path / "demo")], log, env=env) as proc:
        # The deadline only bounds a hang: the demo stops by itself 60 s after it serves.
        deadline = time.monotonic() + 120
        curl = None
        while curl is None and time.monotonic() < deadline:
            curl = CURL.search(complete_lines(log))
            assert curl or proc.poll() is None, log.read_text()
            time.sleep(0.2)
        assert curl, log.read_text()
        header, token, address = curl.groups()
        printed = complete_lines(log)
        assert token == ADMIN and VIEWER not in printed
        assert f"token   {ADMIN}" in [line.strip() for line in printed.splitlines()]
        name, _, value = header.partition(": ")
        workers: list[dict[str, object]] = []
        while proc.poll() is None and time.monotonic() < deadline:
            workers = httpx.get(address, headers={name: value}, timeout=30).json()
            if len(workers) == 12 and all(w["cpu_utilization"] is not None for w in workers):
                break
            time.sleep(1)
        assert len(workers) == 12, workers
        assert all(w["cpu_utilization"] is not None for w in workers), workers
        assert all(w["memory_utilization"] is not None for w in workers)
        assert {w["status"] for w in workers} == {"running"}
        returncode = proc.wait(timeout=240)
    output = log.read_text()
    assert returncode == 0, output
    assert "terminated instance" in output and "alert" in output
