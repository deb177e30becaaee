"""`baton check`: a store that would lose jobs is refused, and what was found is shown."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import redis

from baton import Baton, Job, NodeInfo, job
from tests.acceptance.procs import run_cli
from tests.conftest import RedisServer


@job("check-worker-metrics")
class WorkerMetrics(Job):
    worker_id: str

    async def run(self) -> None:
        return None


def test_check_accepts_the_test_redis_and_shows_what_it_found(redis_url: str) -> None:
    done = run_cli("--store", redis_url, "check", env={"COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert "noeviction" in done.stdout and "on (appendfsync always)" in done.stdout
    assert "ok" in done.stdout


def test_check_refuses_eviction_and_warns_without_persistence(tmp_path: Path) -> None:
    with RedisServer(tmp_path) as server:
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
    assert done.returncode == 1
    assert "problem: maxmemory-policy is allkeys-lru" in done.stderr
    assert "warning: neither AOF nor RDB persistence is on" in done.stderr
    assert "allkeys-lru" in done.stdout


def test_check_on_sqlite(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/b.db"
    made = run_cli("--store", store, "--import", "tests.acceptance.mp_jobs", "jobs", "add", "tick",
                   "--id", "t", "--payload", '{"n": 1}', "--every", "1m")  # fmt: skip
    assert made.returncode == 0, made.stderr  # check reads a store, it never makes one
    done = run_cli("--store", store, "check", env={"COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert "journal mode" in done.stdout and "wal" in done.stdout


async def test_check_counts_schedules_and_warns_when_buckets_are_not_compact(
    tmp_path: Path,
) -> None:
    """A definition over hash-max-listpack-value bytes (64 by default; the fleet's own
    schedules are about 72) turns its bucket into a plain hash table."""
    with RedisServer(tmp_path) as server:
        client = redis.Redis(port=server.port, decode_responses=True)
        loose_url, compact_url = f"{server.url}?prefix=a:", f"{server.url}?prefix=b:"
        await _add_worker_schedules(loose_url, 40)
        client.config_set("hash-max-listpack-value", 256)  # new keys start compact
        await _add_worker_schedules(compact_url, 40)
        loose = run_cli("--store", loose_url, "check", env={"COLUMNS": "200"})
        compact = run_cli("--store", compact_url, "check", env={"COLUMNS": "200"})
        client.close()
    assert loose.returncode == 0 and compact.returncode == 0, loose.stderr + compact.stderr
    for done in (loose, compact):
        assert re.search(r"│ schedules\s+│ 40 ", done.stdout), done.stdout
        assert re.search(r"│ active schedules\s+│ 40 ", done.stdout), done.stdout
    buckets = re.search(r"│ compact schedule buckets\s+│ 0 of (\d+) ", loose.stdout)
    assert buckets, loose.stdout
    assert f"warning: {buckets[1]} of {buckets[1]} schedule buckets left" in loose.stderr
    assert "(hash-max-listpack-value 256, zset-max-listpack-entries 128)" in loose.stderr
    assert f"│ compact schedule buckets │ {buckets[1]} of {buckets[1]} " in compact.stdout
    assert "compact encoding" not in compact.stderr


async def _add_worker_schedules(url: str, count: int) -> None:
    async with Baton(store=url, jobs=[WorkerMetrics]) as baton:
        await baton.add_many(
            [
                {
                    "job": WorkerMetrics(worker_id=f"i-{i:017x}"),
                    "id": f"worker-metrics:i-{i:017x}",
                    "trigger": {"interval": {"seconds": 300}},
                }
                for i in range(count)
            ]
        )


async def test_check_names_the_job_types_of_each_node_and_the_runs_no_node_can_run(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/baton.db"
    async with Baton(store=url, jobs=[WorkerMetrics]) as baton:
        await baton.enqueue(WorkerMetrics(worker_id="w-1"), key="waits")
        node = NodeInfo(
            name="blind",
            roles=("scheduler", "worker"),
            host="h",
            pid=1,
            concurrency=1,
            started_at=await baton.store.now(),
            heartbeat_at=await baton.store.now(),
        )
        await baton.store.heartbeat(node)
    done = run_cli("--store", url, "check", env={"COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert re.search(r"blind\s.*scheduler, worker\s.*-", done.stdout), done.stdout
    assert "1 run(s) of job type 'check-worker-metrics' wait" in done.stderr
