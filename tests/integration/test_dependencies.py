"""Schedules that run after others, end to end: real nodes, real time, SQLite and Redis."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from dishka import Provider, Scope, make_async_container, provide

from baton import (
    Baton,
    InvalidTriggerError,
    Job,
    NodeConfig,
    Run,
    RunContext,
    RunState,
    ScheduleInUseError,
    job,
)
from baton.model import run_id_for_fire
from tests.integration.test_node import eventually

EVERY_SECOND = {"cron": "* * * * * *"}


class Steps:
    """What the step jobs share: which of them fail now, and every call by run id."""

    def __init__(self) -> None:
        self.failing: set[str] = set()
        self.calls: Counter[str] = Counter()


@job("step")
class Step(Job):
    name: str

    async def run(self, steps: Steps, ctx: RunContext) -> None:
        steps.calls[ctx.run_id] += 1
        await asyncio.sleep(0.05)
        if self.name in steps.failing:
            raise RuntimeError(f"{self.name} is failing")


class Provides(Provider):
    def __init__(self, steps: Steps) -> None:
        super().__init__()
        self.steps = steps

    @provide(scope=Scope.APP)
    def get_steps(self) -> Steps:
        return self.steps


FAST = NodeConfig(
    name="deps-node",
    lease=timedelta(seconds=5),
    shutdown_grace=timedelta(seconds=1),
    max_idle=timedelta(seconds=0.5),
    resolve_every=timedelta(seconds=0.2),
)


@pytest.fixture(params=["sqlite", "redis"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "redis":
        return str(request.getfixturevalue("redis_url"))
    return f"sqlite:///{tmp_path}/baton.db"


def node(url: str, steps: Steps) -> Baton:
    return Baton(
        store=url,
        jobs=[Step],
        container=make_async_container(Provides(steps)),
        node=FAST,
        roles={"scheduler", "worker"},
    )


async def by_id(baton: Baton) -> dict[str, Run]:
    runs: dict[str, Run] = {}
    cursor = None
    while True:
        page = await baton.runs(limit=1000, cursor=cursor)
        runs.update((r.id, r) for r in page.items)
        cursor = page.next_cursor
        if cursor is None:
            return runs


@pytest.mark.timeout(90)
async def test_c_runs_once_per_tick_after_a_and_b_and_is_skipped_while_a_fails(url: str) -> None:
    steps = Steps()
    async with node(url, steps) as baton:
        for name in ("a", "b"):
            await baton.add(Step(name=name), id=name, trigger=EVERY_SECOND)
        after = {"after": {"schedules": ["a", "b"], "timeout": 5}}
        child = await baton.add(Step(name="c"), id="c", trigger=after)
        assert child.next_fire_at is None
        await asyncio.sleep(4)
        steps.failing.add("a")
        await asyncio.sleep(3)
        steps.failing.clear()
        await asyncio.sleep(3)
        stopped = await baton.store.now()
        await asyncio.sleep(1.5)  # the last ticks' children settle
        runs = await by_id(baton)

    ticks = sorted(
        r.fire_at
        for r in runs.values()
        if r.schedule_id == "a" and child.created_at < r.fire_at < stopped
    )
    succeeded = skipped = 0
    for tick in ticks:
        a, b = runs[run_id_for_fire("a", tick)], runs[run_id_for_fire("b", tick)]
        c = runs.get(run_id_for_fire("c", tick))
        assert c is not None, f"no run of c for {tick}"
        if a.state is RunState.SUCCEEDED and b.state is RunState.SUCCEEDED:
            assert c.state is RunState.SUCCEEDED, c
            assert steps.calls[c.id] == 1 and c.attempt == 1
            assert a.finished_at and b.finished_at and c.started_at
            assert c.started_at >= max(a.finished_at, b.finished_at)
            succeeded += 1
        else:
            assert a.state is RunState.DEAD, a  # its one attempt failed
            assert c.state is RunState.SKIPPED and steps.calls[c.id] == 0
            assert c.note == f"parent run {a.id} ended dead"
            skipped += 1
    assert succeeded >= 5 and skipped >= 2, (succeeded, skipped)


@pytest.mark.timeout(60)
async def test_retrying_a_failed_parent_releases_the_skipped_child(url: str) -> None:
    steps = Steps()
    steps.failing.add("a")
    async with node(url, steps) as baton:
        await baton.add(Step(name="a"), id="a", trigger=EVERY_SECOND)
        await baton.add(Step(name="c"), id="c", trigger={"after": {"schedules": ["a"]}})

        async def skipped_child() -> Run | None:
            found = (await baton.runs(schedule_id="c", state="skipped")).items
            return found[0] if found else None

        child = await eventually(skipped_child, within=10)
        await baton.pause("a")
        steps.failing.clear()
        parent_id = child.after.runs[0]
        await baton.retry_run(parent_id)
        rearmed = await baton.get_run(child.id)
        assert rearmed.state in (RunState.WAITING, RunState.QUEUED, RunState.RUNNING)

        async def child_succeeded() -> bool:
            return (await baton.get_run(child.id)).state is RunState.SUCCEEDED

        await eventually(child_succeeded, within=10)
        parent, done = await baton.get_run(parent_id), await baton.get_run(child.id)
    assert parent.attempt == 2 and done.attempt == 2
    assert steps.calls[child.id] == 1
    assert done.started_at and parent.finished_at and done.started_at >= parent.finished_at


async def test_dependencies_are_checked_when_schedules_are_added_and_removed(
    tmp_path: Path,
) -> None:
    async with Baton(store=f"sqlite:///{tmp_path}/b.db", jobs=[Step]) as baton:
        await baton.add(Step(name="a"), id="a", trigger=EVERY_SECOND)
        with pytest.raises(InvalidTriggerError, match="'nope'") as missing:
            await baton.add(Step(name="x"), id="x", trigger={"after": {"schedules": ["nope"]}})
        assert missing.value.field == "trigger.after.schedules"
        await baton.add(Step(name="b"), id="b", trigger={"after": {"schedules": ["a"]}})
        await baton.add(Step(name="c"), id="c", trigger={"after": {"schedules": ["b"]}})
        with pytest.raises(InvalidTriggerError, match="cycle: b -> c -> b"):
            await baton.add(
                Step(name="b"), id="b", trigger={"after": {"schedules": ["c"]}}, replace=True
            )
        with pytest.raises(ScheduleInUseError) as in_use:
            await baton.remove("a")
        assert in_use.value.dependents == ("b",)
        await baton.remove("a", with_dependents=True)
        assert (await baton.list()).items == []
