"""One full sweep of 1,000 simulated CML workers, AWS calls batched and not.

    python benchmarks/bench_fleet.py [--workers 1000] [--quick] [--out docs/benchmarks.md]

A moto server (its own process, pinned to core 1) holds 1,000 tagged instances with
CPU and memory datapoints. For each mode, a fresh store and fleet database are made,
the fleet is imported, one collection run per worker is queued, and then one node
(concurrency 1,000, Python on core 0) runs them all. Measured: AWS API calls by
operation (counted by botocore's before-call hook) and the wall time from the node's
start until the last run finished.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECTION = "## Fleet: one sweep of 1,000 workers"


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    if shutil.which("taskset"):
        command = ["taskset", "-c", "1", *command]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, url
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the moto server did not start")


@contextmanager
def moto_holding(count: int) -> Iterator[str]:
    """A fresh moto server with ``count`` tagged instances and their metrics: its URL."""
    server, endpoint = start_moto()
    try:
        asyncio.run(populate(endpoint, count))
        yield endpoint
    finally:
        server.terminate()
        server.wait()


async def populate(endpoint: str, count: int) -> None:
    from aiobotocore.session import get_session
    from tests.fleet.conftest import REGION, Cloud

    session = get_session()
    async with (
        session.create_client("ec2", region_name=REGION, endpoint_url=endpoint) as ec2,
        session.create_client("cloudwatch", region_name=REGION, endpoint_url=endpoint) as cw,
    ):
        cloud = Cloud(endpoint=endpoint, ec2=ec2, cloudwatch=cw)
        ids: list[str] = []
        for start in range(0, count, 500):
            ids += await cloud.launch(min(500, count - start))
        await cloud.feed(ids, cpu=35.0, memory=60.0)


async def sweep(endpoint: str, count: int, batching: bool, folder: Path) -> dict[str, Any]:
    from tests.fleet.conftest import REGION

    from baton import Baton, NodeConfig, RunState
    from baton.fleet import FLEET_JOBS, Fleet, FleetSettings, schedule_id

    store = f"sqlite:///{folder}/baton.db"
    settings = FleetSettings(
        aws_endpoint_url=endpoint,
        region=REGION,
        db_url=f"sqlite+aiosqlite:///{folder}/fleet.db",
        poll_interval=300,
        batching=batching,
    )
    fleet = Fleet(settings, store_url=store)
    node = NodeConfig(concurrency=count, tune_gc=True, max_idle=timedelta(seconds=0.2))
    baton = Baton(store=store, jobs=FLEET_JOBS, container=fleet.container, node=node)
    fleet.attach(baton)
    async with fleet, baton:
        imported = await fleet.registration.import_instances(
            region=REGION, filters={"tag:Name": ["cml-*"]}
        )
        workers = [w.id for w in imported.registered]
        assert len(workers) == count, f"imported {len(workers)} of {count}"
        for worker_id in workers:
            await baton.trigger(schedule_id(worker_id), key=f"sweep:{worker_id}")
        fleet.aws.calls.clear()
        started = time.perf_counter()
        serving = asyncio.create_task(baton.serve(handle_signals=False))
        while True:
            page = await baton.runs(type="worker-metrics", state=RunState.SUCCEEDED, limit=1000)
            failed = await baton.runs(state=[RunState.DEAD, RunState.FAILED], limit=10)
            if failed.items:
                raise RuntimeError(f"runs failed: {failed.items[0].error}")
            if len(page.items) >= count:
                break
            await asyncio.sleep(0.05)
        wall = time.perf_counter() - started
        calls = dict(fleet.aws.calls)
        baton.stop()
        await serving
        collected = [w for w in await fleet.repository.list_workers() if w.cpu_utilization]
    return {
        "calls": sum(calls.values()),
        "by_operation": calls,
        "seconds": round(wall, 2),
        "collected": len(collected),
    }


def one(endpoint: str, count: int, batching: bool) -> dict[str, Any]:
    """Each mode in a fresh interpreter (pinned to core 0) and fresh files."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, __file__, "--child", endpoint, str(count), str(batching), tmp]
        if shutil.which("taskset"):
            command = ["taskset", "-c", "0", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-3000:])
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result


def render(results: dict[str, dict[str, Any]], count: int) -> str:
    lines = [
        SECTION,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, {os.cpu_count()} "
        f"cores, Python {platform.python_version()}, by `python benchmarks/bench_fleet.py`. "
        f"{count:,} instances in a moto server (its own process, core 1); one node "
        "(concurrency = workers, core 0) runs one collection per worker, all queued before "
        "it starts; time from its start until the last run succeeded.",
        "",
        "| mode | AWS calls | by operation | sweep s | workers updated |",
        "|---|---:|---|---:|---:|",
    ]
    for mode, r in results.items():
        ops = ", ".join(f"{k} {v}" for k, v in sorted(r["by_operation"].items()))
        lines.append(
            f"| {mode} | {r['calls']:,} | {ops} | {r['seconds']:.2f} | {r['collected']:,} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=4)
    parser.add_argument("--workers", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="200 workers, no doc update")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    if args.child:
        endpoint, count, batching, folder = args.child
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        result = asyncio.run(sweep(endpoint, int(count), batching == "True", Path(folder)))
        print(json.dumps(result))
        return
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    count = 200 if args.quick else args.workers
    results: dict[str, dict[str, Any]] = {}
    for mode, batching in (("batched", True), ("per worker", False)):
        with moto_holding(count) as endpoint:
            results[mode] = one(endpoint, count, batching)
        print(mode, json.dumps(results[mode]), flush=True)
    table = render(results, count)
    print(table)
    if not args.quick:
        from benchmarks.bench_sqlite import write_section

        write_section(Path(args.out), table, SECTION)


if __name__ == "__main__":
    main()
