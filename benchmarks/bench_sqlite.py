"""baton on SQLite against APScheduler 3.11 (SQLAlchemy job store on SQLite, and memory).

    python benchmarks/bench_sqlite.py [--quick] [--out docs/benchmarks.md]

Every measurement runs in a fresh interpreter with a fresh database file. Figures:
schedules added per second (one call each, through the public API), burst fires per
second (10,000 no-op one-off jobs due at the same instant, timed from that instant until
the last has run), and lateness (start minus fire time) at a steady 200 fires/s
(200 one-second interval schedules, starts spread evenly over the second).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECTION = "## SQLite: baton against APScheduler 3.11"


def one(contender: str, measure: str, args: list[str]) -> dict[str, float]:
    """Run one measurement in a child interpreter and return its figures."""
    out = subprocess.run(
        [sys.executable, __file__, "--one", contender, measure, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{contender} {measure} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


async def child(contender: str, measure: str, args: list[str]) -> dict[str, float]:
    from benchmarks import contenders as c

    n = int(args[0])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        if contender == "baton":
            url = f"sqlite:///{path}"
            if measure == "adds":
                return await c.baton_adds(url, n)
            if measure == "burst":
                return await c.baton_burst(url, n)
            return await c.baton_lateness(url, n, float(args[1]))
        store = "memory" if contender == "apscheduler-memory" else "sqlalchemy"
        if measure == "adds":
            return await c.ap_adds(store, path, n)
        if measure == "burst":
            return await c.ap_burst(store, path, n)
        return await c.ap_lateness(store, path, n, float(args[1]))


CONTENDERS = ["baton", "apscheduler-sqlalchemy", "apscheduler-memory"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--one", nargs="+")
    parser.add_argument("--quick", action="store_true", help="smaller runs, no doc update")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    if args.one:
        contender, measure, *rest = args.one
        print(json.dumps(asyncio.run(child(contender, measure, rest))))
        return
    adds, burst, rate, seconds = (2000, 2000, 200, 5) if args.quick else (5000, 10000, 200, 15)
    results: dict[str, dict[str, float]] = {}
    for contender in CONTENDERS:
        figures: dict[str, float] = {}
        figures.update(one(contender, "adds", [str(adds)]))
        figures.update(one(contender, "burst", [str(burst)]))
        figures.update(one(contender, "lateness", [str(rate), str(seconds)]))
        results[contender] = figures
        print(contender, json.dumps(figures), flush=True)
    table = render(results, adds=adds, burst=burst, rate=rate, seconds=seconds)
    print(table)
    if not args.quick:
        write_section(Path(args.out), table)


def render(results: dict[str, dict[str, float]], **params: float) -> str:
    lines = [
        SECTION,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, by `python benchmarks/bench_sqlite.py`.",
        f"Adds: {params['adds']:.0f} interval schedules, one API call each. "
        f"Burst: {params['burst']:.0f} no-op one-off jobs due at one instant. "
        f"Lateness: {params['rate']:.0f} fires/s for {params['seconds']:.0f} s.",
        "",
        "| contender | adds/s | burst fires/s | burst s "
        "| p50 late ms | p99 late ms | max late ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, f in results.items():
        lines.append(
            f"| {name} | {f['adds_per_s']:,.0f} | {f['burst_per_s']:,.0f} | {f['burst_s']:.2f} "
            f"| {f['p50_ms']:.2f} | {f['p99_ms']:.2f} | {f['max_ms']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def write_section(path: Path, table: str, section: str = SECTION) -> None:
    """Replace (or append) one ``## `` section of the benchmarks page."""
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    if section in text:
        head, _, rest = text.partition(section)
        tail = rest[rest.find("\n## ") + 1 :] if "\n## " in rest else ""
        text = head + table + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + table
    path.write_text(text)


if __name__ == "__main__":
    main()
