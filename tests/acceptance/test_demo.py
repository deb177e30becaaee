"""`baton demo` as `make demo` runs it: workers monitored within 30 s, listed by curl."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.acceptance.procs import baton_cmd
from tests.acceptance.test_serve import free_port

ADMIN = "demo-admin-token-0123456789"
VIEWER = "demo-viewer-token-0123456789"


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_demo_monitors_the_simulated_fleet_within_30s(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BATON_"))}
    env["BATON_API_TOKENS"] = f"viewer:{VIEWER},admin:{ADMIN}"
    proc = subprocess.Popen(
        [
            *baton_cmd(
                "demo",
                "--port",
                str(port),
                "--duration",
                "60",
                "--terminate-after",
                "20",
                "--data-dir",
                str(tmp_path / "demo"),
            )
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    started = time.monotonic()
    lines: list[str] = []
    curl = None
    try:
        assert proc.stdout is not None
        while curl is None and time.monotonic() - started < 30:
            line = proc.stdout.readline()
            lines.append(line)
            curl = re.search(r"curl -H '(Authorization: Bearer (\S+))' (\S+)", line)
        assert curl, "".join(lines)
        header, token, address = curl.groups()
        assert token == ADMIN and VIEWER not in "".join(lines)
        assert f"token   {ADMIN}" in [line.strip() for line in lines]  # the token alone
        name, _, value = header.partition(": ")
        workers: list[dict[str, object]] = []
        while time.monotonic() - started < 30:
            workers = httpx.get(address, headers={name: value}, timeout=5).json()
            if len(workers) == 12 and all(w["cpu_utilization"] is not None for w in workers):
                break
            time.sleep(1)
        assert len(workers) == 12, workers
        assert all(w["cpu_utilization"] is not None for w in workers), workers
        assert all(w["memory_utilization"] is not None for w in workers)
        assert {w["status"] for w in workers} == {"running"}
        rest, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = "".join(lines) + rest
    assert proc.returncode == 0, output
    assert "terminated instance" in output and "alert" in output
