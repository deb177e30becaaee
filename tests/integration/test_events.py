"""Listeners and event-started jobs on real stores, with real nodes and real time."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from baton import Baton, Event, InvalidInputError, JobTypeNotFoundError, NodeConfig, RunState
from baton.store import store_from_url
from tests.integration.test_node import eventually
from tests.jobs_for_tests import ALL_JOBS, Recorder, container_for

FAST = NodeConfig(
    lease=timedelta(seconds=2),
    shutdown_grace=timedelta(seconds=1),
    max_idle=timedelta(seconds=0.5),
    event_poll=timedelta(milliseconds=50),
)


@pytest.fixture
def store_url(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if store_kind == "redis":
        return str(request.getfixturevalue("redis_url"))
    return "memory://" if store_kind == "memory" else f"sqlite:///{tmp_path}/baton.db"


async def test_a_listener_sees_run_events_as_runs_happen(store_url: str) -> None:
    recorder = Recorder()
    seen: list[Event] = []
    baton = Baton(store=store_url, jobs=ALL_JOBS, container=container_for(recorder), node=FAST)

    @baton.on("run.*")
    async def collect(event: Event) -> None:
        seen.append(event)

    baton.add_listener("schedule.added", seen.append)  # a plain function works too
    async with baton:
        task = asyncio.create_task(baton.serve(handle_signals=False))
        await asyncio.sleep(0.2)  # listeners see what happens after their node started
        await baton.add(
            "record", id="tick", trigger={"interval": {"seconds": 0.3}}, payload={"label": "x"}
        )
        await eventually(lambda: _async(any(e.kind == "run.succeeded" for e in seen)))
        baton.stop()
        await task
    kinds = [e.kind for e in seen]
    assert kinds[0] == "schedule.added"
    assert kinds.index("run.queued") < kinds.index("run.started") < kinds.index("run.succeeded")
    done = next(e for e in seen if e.kind == "run.succeeded")
    assert done.subject.startswith("tick@") and done.data["type"] == "record"
    assert done.data["duration"] >= 0


async def test_an_event_started_job_runs_once_when_three_nodes_see_the_event(
    store_url: str, store_kind: str
) -> None:
    recorder = Recorder()
    container = container_for(recorder)
    shared = store_from_url(store_url) if store_kind == "memory" else None
    nodes = []
    for i in range(3):
        baton = Baton(
            store=shared or store_url,
            jobs=ALL_JOBS,
            container=container,
            node=FAST.__class__(**{**FAST.__dict__, "name": f"node-{i}"}),
            roles={"scheduler", "worker"},
        )
        baton.on_event("app.alert", "record", payload=lambda e: {"label": e.subject})
        nodes.append(baton)
    async with contextlib.AsyncExitStack() as stack:
        for baton in nodes:
            await stack.enter_async_context(baton)
        await asyncio.sleep(0.3)  # every node has found the end of the log
        event = await nodes[1].emit("app.alert", "cpu-high", {"value": 97})
        run_id = f"record@event:{event.id}"
        await eventually(lambda: _async(any(c[0] == run_id for c in recorder.calls)))
        await asyncio.sleep(0.5)  # time for a duplicate, were there one
        run = await nodes[0].get_run(run_id)
    assert [c[0] for c in recorder.calls] == [run_id]
    assert run.state is RunState.SUCCEEDED and run.payload == {"label": "cpu-high"}
    assert run.schedule_id is None


async def test_an_event_job_payload_that_does_not_validate_is_skipped_not_fatal(
    store_url: str,
) -> None:
    recorder = Recorder()
    baton = Baton(
        store=store_url,
        jobs=ALL_JOBS,
        container=container_for(recorder),
        node=FAST,
        roles={"scheduler", "worker"},
    )
    baton.on_event("app.*", "record", payload=lambda e: {"label": e.data.get("label")})
    async with baton:
        await asyncio.sleep(0.2)
        await baton.emit("app.bad", "one", {"label": 42})  # not a string: refused
        good = await baton.emit("app.good", "two", {"label": "fine"})
        await eventually(lambda: _async(len(recorder.calls) == 1))
    assert recorder.calls[0][0] == f"record@event:{good.id}"


async def test_event_job_registration_errors_name_the_problem() -> None:
    baton = Baton(store="memory://", jobs=ALL_JOBS)
    with pytest.raises(JobTypeNotFoundError):
        baton.on_event("x.*", "no-such-job")
    baton.on_event("x.*", "record", payload=lambda e: {"label": "a"})
    with pytest.raises(InvalidInputError, match="name"):
        baton.on_event("y.*", "record")
    with pytest.raises(InvalidInputError, match="data"):
        async with baton:
            await baton.emit("x.y", "s", {"when": object()})


async def _async(value: bool) -> bool:
    return value


async def test_an_event_appended_while_no_node_ran_starts_its_job_when_one_is_back(
    store_url: str, store_kind: str
) -> None:
    recorder = Recorder()
    shared = store_from_url(store_url) if store_kind == "memory" else None

    def node(replay: timedelta = timedelta(hours=1)) -> Baton:
        baton = Baton(
            store=shared or store_url,
            jobs=ALL_JOBS,
            container=container_for(recorder),
            node=dataclasses.replace(FAST, event_replay=replay),
            roles={"scheduler", "worker"},
        )
        baton.on_event("app.alert", "record", payload=lambda e: {"label": e.subject})
        return baton

    async with node():
        await asyncio.sleep(0.2)  # its first start saves the end of the log
    async with Baton(store=shared or store_url, jobs=ALL_JOBS) as offline:  # no node runs
        missed = await offline.emit("app.alert", "while-down", {})
    async with node():
        await eventually(lambda: _async(len(recorder.calls) == 1))
        await asyncio.sleep(0.3)
    assert [c[0] for c in recorder.calls] == [f"record@event:{missed.id}"]

    async with Baton(store=shared or store_url, jobs=ALL_JOBS) as offline:
        await offline.emit("app.alert", "long-ago", {})
    await asyncio.sleep(0.6)
    async with node(replay=timedelta(seconds=0.5)):  # too old: its run may be pruned
        await asyncio.sleep(0.5)
    assert len(recorder.calls) == 1


async def test_an_event_emitted_right_after_start_reaches_listeners_and_event_jobs(
    store_url: str,
) -> None:
    """On a fresh store, the first event after ``async with`` returns is not missed."""
    seen: list[Event] = []
    baton = Baton(
        store=store_url,
        jobs=ALL_JOBS,
        container=container_for(Recorder()),
        node=FAST,
        roles={"scheduler", "worker"},
    )
    baton.add_listener("app.ping", seen.append)
    baton.on_event("app.ping", "record", payload=lambda event: {"label": event.subject})
    async with baton:
        await baton.emit("app.ping", "first")
        await eventually(lambda: _async(bool(seen)))
        runs = await eventually(lambda: _succeeded(baton))
    assert [e.subject for e in seen] == ["first"]
    assert [r.payload for r in runs] == [{"label": "first"}]


async def _succeeded(baton: Baton) -> list[Any]:
    return (await baton.runs(state=RunState.SUCCEEDED)).items
