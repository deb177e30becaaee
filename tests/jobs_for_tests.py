"""Job types and services the node tests run. Dependencies come from a real dishka container."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Annotated

from dishka import Provider, Scope, make_async_container, provide

from baton import Job, RunContext, Secret, StopSchedule, job


@dataclass
class Recorder:
    """App-scoped: what runs did, when, and how many ran at once."""

    calls: list[tuple[str, int, float]] = field(default_factory=list)
    running: int = 0
    peak: int = 0
    scoped_ids: list[int] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)

    def note(self, ctx: RunContext) -> None:
        self.calls.append((ctx.run_id, ctx.attempt, time.monotonic()))


class PerRun:
    """Request-scoped: a fresh one for every run."""

    _ids = itertools.count()

    def __init__(self) -> None:
        self.serial = next(self._ids)


class Services(Provider):
    def __init__(self, recorder: Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    @provide(scope=Scope.APP)
    def get_recorder(self) -> Recorder:
        return self.recorder

    @provide(scope=Scope.REQUEST)
    def get_per_run(self) -> PerRun:
        return PerRun()


def container_for(recorder: Recorder):  # type: ignore[no-untyped-def]
    return make_async_container(Services(recorder))


@job("record")
class Record(Job):
    label: str

    async def run(self, recorder: Recorder, scoped: PerRun, ctx: RunContext) -> None:
        recorder.note(ctx)
        recorder.scoped_ids.append(scoped.serial)


@job("flaky")
class Flaky(Job):
    failures: int

    async def run(self, recorder: Recorder, ctx: RunContext) -> None:
        recorder.note(ctx)
        if ctx.attempt <= self.failures:
            raise ConnectionError(f"attempt {ctx.attempt} failed")


@job("stopper")
class Stopper(Job):
    reason: str
    by_return: bool = False

    async def run(self, recorder: Recorder, ctx: RunContext) -> StopSchedule | None:
        recorder.note(ctx)
        if self.by_return:
            return StopSchedule(self.reason)
        raise StopSchedule(self.reason)


@job("slow")
class Slow(Job):
    seconds: float

    async def run(self, recorder: Recorder, ctx: RunContext) -> None:
        recorder.note(ctx)
        recorder.running += 1
        recorder.peak = max(recorder.peak, recorder.running)
        try:
            await asyncio.sleep(self.seconds)
        finally:
            recorder.running -= 1


ALL_JOBS = [Record, Flaky, Stopper, Slow]


@job("configured")
class Configured(Job):
    """Ported-style job: pulls what it needs from the services in configure()."""

    label: str

    async def configure(self, services) -> None:  # type: ignore[no-untyped-def]
        self._recorder = await services.get(Recorder)

    async def run(self, ctx: RunContext) -> None:
        self._recorder.note(ctx)


ALL_JOBS.append(Configured)


@job("notify")
class Notify(Job):
    """Holds a secret: APIs show it as *** while the job gets the real value."""

    url: str
    api_key: Annotated[str, Secret()]

    async def run(self, recorder: Recorder, ctx: RunContext) -> None:
        recorder.note(ctx)
        recorder.secrets.append(self.api_key)


ALL_JOBS.append(Notify)
