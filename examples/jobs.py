"""Example job types: what a service's recurring background work looks like in baton."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

from baton import Job, RunContext, StopSchedule, job


@job("poll-worker")
class PollWorker(Job):
    """Pretend to read a worker's metrics: a short network call."""

    worker_id: str

    async def run(self) -> None:
        await asyncio.sleep(random.uniform(0.05, 0.3))


@job("flaky-fetch")
class FlakyFetch(Job):
    """Fail now and then, as remote APIs do; the schedule's retry policy takes over."""

    url: str
    failure_rate: float = 0.4

    async def run(self, ctx: RunContext) -> None:
        await asyncio.sleep(0.05)
        if random.random() < self.failure_rate:
            raise ConnectionError(f"{self.url} did not answer (attempt {ctx.attempt})")


@job("countdown")
class Countdown(Job):
    """End its own schedule once a deadline has passed."""

    until: datetime

    async def run(self) -> None:
        if datetime.now(UTC) >= self.until:
            raise StopSchedule(f"deadline {self.until:%H:%M:%S} reached")


@job("report")
async def report() -> None:
    """A cron-driven task with no payload."""
    await asyncio.sleep(0.01)
