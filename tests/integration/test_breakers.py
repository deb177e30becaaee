"""A shared circuit breaker end to end: real nodes, real time, SQLite and Redis."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from dishka import Provider, Scope, make_async_container, provide

from baton import Baton, BreakerState, Job, NodeConfig, RunState, job
from tests.integration.test_node import eventually


class Dependency:
    """What the jobs call: it fails while ``down``, and counts every call."""

    def __init__(self) -> None:
        self.down = False
        self.calls: list[tuple[float, bool]] = []

    def call(self) -> None:
        self.calls.append((time.monotonic(), self.down))
        if self.down:
            raise ConnectionError("the dependency is down")


@job("uses-dep")
class UsesDep(Job):
    n: int

    async def run(self, dep: Dependency) -> None:
        dep.call()


class Provides(Provider):
    def __init__(self, dep: Dependency) -> None:
        super().__init__()
        self.dep = dep

    @provide(scope=Scope.APP)
    def get_dep(self) -> Dependency:
        return self.dep


FAST = NodeConfig(
    name="breaker-node",
    lease=timedelta(seconds=5),
    shutdown_grace=timedelta(seconds=1),
    max_idle=timedelta(seconds=0.5),
)
POLICY = {"breaker": {"key": "dep", "failures": 3, "window": 30, "cooldown": 3}}


@pytest.fixture(params=["sqlite", "redis"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "redis":
        return str(request.getfixturevalue("redis_url"))
    return f"sqlite:///{tmp_path}/baton.db"


@pytest.mark.timeout(90)
async def test_ten_schedules_share_a_breaker_through_an_outage(url: str) -> None:
    dep = Dependency()
    async with Baton(
        store=url,
        jobs=[UsesDep],
        container=make_async_container(Provides(dep)),
        node=FAST,
        roles={"scheduler", "worker"},
    ) as baton:
        for n in range(10):
            await baton.add(
                UsesDep(n=n), id=f"s{n}", trigger={"interval": {"seconds": 1}}, policy=POLICY
            )
        await asyncio.sleep(2.5)
        dep.down = True
        went_down = time.monotonic()
        await eventually(lambda: _state(baton, BreakerState.OPEN), within=5)
        await asyncio.sleep(max(8 - (time.monotonic() - went_down), 0))
        dep.down = False
        await eventually(lambda: _state(baton, BreakerState.CLOSED), within=60)
        await asyncio.sleep(2)
        runs = (await baton.runs(limit=1000)).items
        events = await _all_events(baton)

    while_down = [t for t, down in dep.calls if down]
    # A tick's ten runs at most open it; then one probe per cool-down (3 s): a handful,
    # not the ~80 calls of ten schedules failing every second for 8 s.
    assert 3 <= len(while_down) <= 14, len(while_down)
    # It closed through a probe that reached the dependency once it was back.
    (closed,) = [e for e in events if e.kind == "breaker.closed"]
    assert "probe" in closed.data
    # The runs that met the open breaker waited: none ended failed or dead for it. The
    # failures are the calls that reached the dependency.
    failed = [r for r in runs if r.state in (RunState.FAILED, RunState.DEAD)]
    assert len(failed) == len(while_down)
    assert any((r.note or "").startswith("waiting: breaker 'dep'") for r in runs) or any(
        r.state is RunState.SKIPPED for r in runs
    )
    assert dep.calls[-1][1] is False  # it is called again once it is back


async def _all_events(baton: Baton) -> list[Any]:
    found: list[Any] = []
    while page := await baton.events(after=found[-1].id if found else None, limit=1000):
        found += page
    return found


async def _state(baton: Baton, state: BreakerState) -> bool:
    return any(b.key == "dep" and b.state is state for b in await baton.breakers())


@pytest.mark.timeout(90)
async def test_three_nodes_send_exactly_one_probe_per_half_open_period(url: str) -> None:
    dep = Dependency()
    dep.down = True
    batons = [
        Baton(
            store=url,
            jobs=[UsesDep],
            container=make_async_container(Provides(dep)),
            node=NodeConfig(
                name=f"node-{i}",
                lease=timedelta(seconds=5),
                shutdown_grace=timedelta(seconds=1),
                max_idle=timedelta(seconds=0.5),
            ),
            roles={"scheduler", "worker"},
        )
        for i in range(3)
    ]
    async with batons[0] as first, batons[1], batons[2]:
        for n in range(10):
            await first.add(
                UsesDep(n=n), id=f"s{n}", trigger={"interval": {"seconds": 1}}, policy=POLICY
            )
        await asyncio.sleep(14)
        probes = [run for run in (await first.runs(limit=1000)).items if run.owner]
        opened = [e for e in await first.events(limit=1000) if e.kind == "breaker.half_opened"]
    down_calls = sorted(t for t, down in dep.calls if down)
    # The first tick's ten runs all pass the closed breaker at once and open it; after
    # that, each cool-down (3 s) lets exactly one probe through, from whichever node.
    burst = [t for t in down_calls if t - down_calls[0] < 1.0]
    assert len(burst) <= 10
    probe_calls = down_calls[len(burst) :]
    gaps = [b - a for a, b in itertools.pairwise(probe_calls)]
    assert len(probe_calls) >= 3 and all(gap > 2.0 for gap in gaps), gaps
    assert len(opened) == len(probe_calls)
    assert len({r.owner for r in probes}) > 1  # the nodes all took part
