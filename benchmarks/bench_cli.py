"""How long an operator waits for a ``baton`` command, next to the import time of the
libraries that command needs, measured in the same run.

    python benchmarks/bench_cli.py [--runs 15] [--out docs/benchmarks.md]

Each figure is the median wall time of ``--runs`` fresh processes. The commands run on a
SQLite store holding 100 schedules (and 100 queued runs), and on a Redis store holding the
same when ``redis-server`` is installed (this script starts one on a free loopback port).
A command's baseline is ``python -c "import <its libraries>"``: what no implementation
of that command could avoid loading. The goals: ``baton --help`` within twice the
baseline of Typer and Rich plus 50 ms; each store command within 0.3 s of its baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_sqlite import write_section  # noqa: E402

SECTION = "## The command line: start-up time"
SCHEDULES = 100

CLI = ["typer", "rich", "rich.table"]
CORE = [
    *CLI,
    "pydantic",
    "pydantic_settings",
    "apscheduler.triggers.cron",
    "apscheduler.triggers.interval",
    "apscheduler.triggers.date",
    "apscheduler.triggers.calendarinterval",
]
SQLITE = [*CORE, "sqlite3", "sqlalchemy", "sqlalchemy.dialects.sqlite"]
REDIS = [*CORE, "redis.asyncio", "hiredis"]

JOBS = """
from baton import Job, job


@job("noop")
class Noop(Job):
    n: int

    async def run(self) -> None:
        return None
"""


def paired(command: list[str], modules: list[str], cwd: Path, runs: int) -> tuple[float, float]:
    """Median seconds of ``command`` and of importing ``modules``, their runs alternated
    so that both see the same load on a shared machine (one warm-up run each)."""
    env = {**os.environ, "COLUMNS": "120"}
    baseline = [sys.executable, "-c", f"import {', '.join(modules)}"]
    times: dict[int, list[float]] = {0: [], 1: []}
    for n in range(runs + 1):
        for which, argv in enumerate((command, baseline)):
            start = time.perf_counter()
            subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=True)
            if n:
                times[which].append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


async def fill(store_url: str) -> None:
    """100 interval schedules and one queued run of each."""
    import benchjobs  # type: ignore[import-not-found]

    from baton import Baton

    async with Baton(store=store_url, jobs=[benchjobs.Noop]) as baton:
        for n in range(SCHEDULES):
            sid = f"bench:{n:03d}"
            await baton.add(
                "noop", id=sid, payload={"n": n}, trigger={"interval": {"hours": 1}}, replace=True
            )
            await baton.trigger(sid, key="by-hand")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str] | None:
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir), "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"redis://127.0.0.1:{port}/1"
        time.sleep(0.05)
    proc.terminate()
    raise RuntimeError("redis-server did not start")


def measure(work: Path, runs: int) -> list[tuple[str, float, str, float, str]]:
    """(command, its median, what its baseline imports, the baseline's median, verdict)."""
    baton = str(Path(sys.executable).parent / "baton")
    sqlite_url = f"sqlite:///{work}/baton.db"
    asyncio.run(fill(sqlite_url))
    rows = []
    help_s, base = paired([baton, "--help"], CLI[:2], work, runs)
    rows.append(("baton --help", help_s, "typer, rich", base, _verdict(help_s, 2 * base + 0.05)))
    store = ["--store", sqlite_url]
    for args in (["jobs", "list"], ["runs", "list", "--json"]):
        took, sqlite_base = paired([baton, *store, *args], SQLITE, work, runs)
        label = f"baton {' '.join(args)} (SQLite)"
        rows.append((label, took, _names(SQLITE), sqlite_base, _verdict(took, sqlite_base + 0.3)))
    redis = start_redis(work)
    if redis is not None:
        proc, url = redis
        try:
            asyncio.run(fill(url))
            took, redis_base = paired([baton, "--store", url, "jobs", "list"], REDIS, work, runs)
            label = "baton --store redis://... jobs list"
            rows.append((label, took, _names(REDIS), redis_base, _verdict(took, redis_base + 0.3)))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return rows


def _names(modules: list[str]) -> str:
    tops = dict.fromkeys(m.split(".")[0] for m in modules)
    return ", ".join(tops)


def _verdict(took: float, goal: float) -> str:
    return f"{'ok' if took <= goal else 'over'} (goal {goal * 1000:.0f} ms)"


def table(rows: list[tuple[str, float, str, float, str]], runs: int) -> str:
    lines = [
        SECTION,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, by "
        f"`python benchmarks/bench_cli.py` (median of {runs} fresh processes each; "
        f"{SCHEDULES} schedules and {SCHEDULES} queued runs in the store).",
        "",
        "| command | median ms | libraries it needs | importing them, ms | goal |",
        "|---|---:|---|---:|---|",
    ]
    for command, took, libs, base, verdict in rows:
        ms, base_ms = f"{took * 1000:.0f}", f"{base * 1000:.0f}"
        lines.append(f"| `{command}` | {ms} | {libs} | {base_ms} | {verdict} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--quick", action="store_true", help="5 runs, nothing written")
    args = parser.parse_args()
    runs = 5 if args.quick else args.runs
    with tempfile.TemporaryDirectory(prefix="baton-bench-cli-") as tmp:
        work = Path(tmp)
        (work / "benchjobs.py").write_text(JOBS)
        sys.path.insert(0, str(work))
        result = table(measure(work, runs), runs)
    print(result)
    if not args.quick:
        write_section(Path(args.out), result, SECTION)


if __name__ == "__main__":
    main()
