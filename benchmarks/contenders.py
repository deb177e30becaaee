"""The three measurements, once for baton and once for APScheduler 3.11.

Each function runs in a fresh interpreter (see run.py) and returns a dict of figures.
All jobs are no-ops apart from recording when they ran.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from baton import Baton, NodeConfig, RunContext, job

# -- baton -----------------------------------------------------------------------------

_done: list[float] = []
_lateness: list[float] = []


@job("bench-noop")
async def noop() -> None:
    _done.append(time.time())


@job("bench-late")
async def late(ctx: RunContext) -> None:
    _lateness.append(time.time() - ctx.fire_at.timestamp())


def _baton(url: str, **node: Any) -> Baton:
    config = NodeConfig(name="bench", concurrency=node.pop("concurrency", 200), **node)
    return Baton(store=url, jobs=[noop, late], node=config)


async def baton_adds(url: str, count: int) -> dict[str, float]:
    async with _baton(url) as baton:
        started = time.perf_counter()
        for i in range(count):
            await baton.add(noop, id=f"add-{i}", trigger={"interval": {"hours": 1}})
        elapsed = time.perf_counter() - started
    return {"adds_per_s": count / elapsed}


async def baton_burst(url: str, count: int) -> dict[str, float]:
    async with _baton(url, concurrency=1000) as baton:
        due = (await baton.store.now()) + timedelta(seconds=count / 1000 + 3)
        for i in range(count):
            await baton.add(
                noop,
                id=f"burst-{i}",
                trigger={"date": due.isoformat()},
                policy={"misfire_grace": None},
            )
        if await baton.store.now() >= due:
            raise RuntimeError("adding the one-offs took longer than the head start")
        _done.clear()
        node = asyncio.create_task(baton.serve(handle_signals=False))
        while len(_done) < count:
            await asyncio.sleep(0.01)
        baton.stop()
        await node
    elapsed = max(_done) - due.timestamp()
    return {"burst_per_s": count / elapsed, "burst_s": elapsed}


async def baton_lateness(url: str, rate: int, seconds: float) -> dict[str, float]:
    async with _baton(url, concurrency=200) as baton:
        start = (await baton.store.now()).replace(microsecond=0) + timedelta(seconds=3)
        for i in range(rate):
            first = start + timedelta(seconds=i / rate)
            await baton.add(
                late,
                id=f"late-{i}",
                trigger={"interval": {"seconds": 1, "start": first.isoformat()}},
            )
        _lateness.clear()
        node = asyncio.create_task(baton.serve(handle_signals=False))
        await asyncio.sleep((start - datetime.now(UTC)).total_seconds() + seconds)
        baton.stop()
        await node
    return _percentiles(_lateness)


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=100)
    return {
        "samples": len(ordered),
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
        "max_ms": ordered[-1] * 1000,
    }


# -- APScheduler 3.11 ----------------------------------------------------------------------

_ap_done: list[float] = []
_ap_late: list[float] = []


async def ap_noop() -> None:
    _ap_done.append(time.time())


async def ap_late(first: float) -> None:
    now = time.time()
    ticks = round(now - first)
    _ap_late.append(now - (first + ticks))


def _ap_scheduler(store: str, path: Path | None):  # type: ignore[no-untyped-def]
    from apscheduler.executors.asyncio import AsyncIOExecutor
    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    jobstore = (
        MemoryJobStore() if store == "memory" else SQLAlchemyJobStore(url=f"sqlite:///{path}")
    )
    return AsyncIOScheduler(
        jobstores={"default": jobstore},
        executors={"default": AsyncIOExecutor()},
        job_defaults={"misfire_grace_time": None, "coalesce": False, "max_instances": 1000},
        timezone=UTC,
    )


async def ap_adds(store: str, path: Path | None, count: int) -> dict[str, float]:
    from apscheduler.triggers.interval import IntervalTrigger

    scheduler = _ap_scheduler(store, path)
    scheduler.start(paused=True)
    started = time.perf_counter()
    for i in range(count):
        scheduler.add_job(ap_noop, IntervalTrigger(hours=1, timezone=UTC), id=f"add-{i}")
    elapsed = time.perf_counter() - started
    scheduler.shutdown(wait=False)
    return {"adds_per_s": count / elapsed}


async def ap_burst(store: str, path: Path | None, count: int) -> dict[str, float]:
    from apscheduler.triggers.date import DateTrigger

    scheduler = _ap_scheduler(store, path)
    scheduler.start(paused=True)
    due = datetime.now(UTC) + timedelta(seconds=count / 1000 + 3)
    for i in range(count):
        scheduler.add_job(ap_noop, DateTrigger(due, timezone=UTC), id=f"burst-{i}")
    _ap_done.clear()
    scheduler.resume()
    while len(_ap_done) < count:
        await asyncio.sleep(0.01)
    scheduler.shutdown(wait=False)
    elapsed = max(_ap_done) - due.timestamp()
    return {"burst_per_s": count / elapsed, "burst_s": elapsed}


async def ap_lateness(store: str, path: Path | None, rate: int, seconds: float) -> dict[str, float]:
    from apscheduler.triggers.interval import IntervalTrigger

    scheduler = _ap_scheduler(store, path)
    scheduler.start(paused=True)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    for i in range(rate):
        first = start + timedelta(seconds=i / rate)
        scheduler.add_job(
            ap_late,
            IntervalTrigger(seconds=1, start_date=first, timezone=UTC),
            args=[first.timestamp()],
            id=f"late-{i}",
        )
    _ap_late.clear()
    scheduler.resume()
    await asyncio.sleep((start - datetime.now(UTC)).total_seconds() + seconds)
    scheduler.shutdown(wait=False)
    return _percentiles(_ap_late)
