"""A few job types scheduled on SQLite and one node running them, with a live view.

python examples/demo.py [--store sqlite:///./baton-demo.db] [--duration SECONDS]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

from rich.console import Group
from rich.live import Live
from rich.text import Text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from baton import Baton, NodeConfig
from baton.cli.render import runs_table
from examples.jobs import Countdown, FlakyFetch, PollWorker, report


async def add_schedules(baton: Baton) -> None:
    now = await baton.store.now()
    for n in range(1, 6):
        await baton.add(
            PollWorker(worker_id=f"w-{n}"),
            id=f"poll-worker:w-{n}",
            trigger={"interval": {"seconds": 2, "jitter": 0.5}},
            replace=True,
        )
    await baton.add(
        FlakyFetch(url="https://licence.example/register"),
        id="licence",
        trigger={"interval": {"seconds": 5}},
        replace=True,
        policy={"retry": {"max_attempts": 4, "backoff": 0.5}},
    )
    await baton.add(
        Countdown(until=now + timedelta(seconds=12)),
        id="countdown",
        trigger={"interval": {"seconds": 3}},
        replace=True,
    )
    await baton.add(report, id="report", trigger={"cron": "*/10 * * * * *"}, replace=True)


async def view(baton: Baton) -> Group:
    recent = (await baton.runs(limit=14)).items
    states = Counter(r.state.value for r in (await baton.runs(limit=1000)).items)
    schedules = len((await baton.list(limit=1000)).items)
    summary = Text(
        f"{schedules} schedules   "
        + "   ".join(f"{k}: {v}" for k, v in sorted(states.items()))
        + "   (Ctrl-C to stop)"
    )
    return Group(summary, runs_table(recent, title="latest runs"))


async def main(store: str, duration: float | None) -> None:
    config = NodeConfig(name="demo-node", concurrency=20)
    jobs = [PollWorker, FlakyFetch, Countdown, report]
    async with Baton(store=store, jobs=jobs, node=config, roles={"scheduler", "worker"}) as baton:
        await add_schedules(baton)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        with Live(await view(baton), refresh_per_second=4) as live:
            deadline = loop.time() + duration if duration else None
            while not stop.is_set() and (deadline is None or loop.time() < deadline):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
                live.update(await view(baton))
    print("\nstopped; the schedules stay in", store)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", default="sqlite:///./baton-demo.db")
    parser.add_argument("--duration", type=float, default=None, help="seconds, then stop")
    args = parser.parse_args()
    asyncio.run(main(args.store, args.duration))
