"""`baton check`: a store that would lose jobs is refused, and what was found is shown."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.acceptance.procs import run_cli
from tests.conftest import RedisServer


def test_check_accepts_the_test_redis_and_shows_what_it_found(redis_url: str) -> None:
    done = run_cli("--store", redis_url, "check", env={"COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert "noeviction" in done.stdout and "on (appendfsync always)" in done.stdout
    assert "ok" in done.stdout


def test_check_refuses_eviction_and_warns_without_persistence(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    server.start()
    try:
        subprocess.run(
            [
                "redis-cli",
                "-p",
                str(server.port),
                "config",
                "set",
                "maxmemory-policy",
                "allkeys-lru",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["redis-cli", "-p", str(server.port), "config", "set", "appendonly", "no"],
            check=True,
            capture_output=True,
        )
        done = run_cli("--store", server.url, "check", env={"COLUMNS": "200"})
    finally:
        server.stop()
    assert done.returncode == 1
    assert "problem: maxmemory-policy is allkeys-lru" in done.stderr
    assert "warning: neither AOF nor RDB persistence is on" in done.stderr
    assert "allkeys-lru" in done.stdout


def test_check_on_sqlite(tmp_path: Path) -> None:
    done = run_cli("--store", f"sqlite:///{tmp_path}/b.db", "check", env={"COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert "journal mode" in done.stdout and "wal" in done.stdout
