"""Workers registered, monitored, updated and ended, against a moto server."""

from __future__ import annotations

from pathlib import Path

import pytest

from baton import RunState, ScheduleNotFoundError
from baton.fleet import WorkerStatus, schedule_id
from tests.fleet.conftest import Cloud
from tests.fleet.harness import Running, fleet_node, settings_for
from tests.integration.test_node import eventually


async def finished(running: Running, run_id: str) -> RunState:
    async def done() -> RunState | None:
        run = await running.baton.get_run(run_id)
        return run.state if run.state.finished else None

    state: RunState = await eventually(done, within=20)
    return state


async def collect_now(running: Running, worker_id: str) -> RunState:
    run = await running.baton.trigger(schedule_id(worker_id))
    return await finished(running, run.id)


async def test_register_creates_a_schedule_whose_payload_is_only_the_worker_id(
    cloud: Cloud, tmp_path: Path
) -> None:
    (iid,) = await cloud.launch(1)
    settings = settings_for(cloud, tmp_path, poll_interval=300, poll_jitter=15)
    async with fleet_node(settings, tmp_path) as running:
        worker = await running.fleet.registration.register(iid)
        stored = await running.baton.get(f"worker-metrics:{worker.id}")
    assert stored.payload == {"worker_id": iid}
    assert stored.type == "worker-metrics"
    assert stored.trigger["interval"]["seconds"] == 300
    assert stored.trigger["interval"]["jitter"] == 15
    assert worker.status is WorkerStatus.RUNNING and worker.name == "cml-worker"
    assert worker.instance_type == "c5.2xlarge" and worker.private_ip


async def test_a_run_updates_status_metrics_and_history(cloud: Cloud, tmp_path: Path) -> None:
    (iid,) = await cloud.launch(1)
    await cloud.feed([iid], cpu=42.0, memory=55.5)
    async with fleet_node(settings_for(cloud, tmp_path), tmp_path) as running:
        await running.fleet.registration.register(iid)
        assert await collect_now(running, iid) is RunState.SUCCEEDED
        worker = await running.fleet.repository.require(iid)
        history = await running.fleet.repository.samples(iid)
        events = [e for e in await running.baton.events(limit=1000) if e.kind == "fleet.metrics"]
    assert worker.status is WorkerStatus.RUNNING
    assert (worker.cpu_utilization, worker.memory_utilization) == (42.0, 55.5)
    assert worker.last_collected_at is not None and worker.version == 2
    assert [(s.cpu_utilization, s.memory_utilization) for s in history] == [(42.0, 55.5)]
    assert events[-1].data == {"worker_id": iid, "status": "running", "cpu": 42.0, "memory": 55.5}


async def test_a_stopped_instance_is_recorded_without_metrics(cloud: Cloud, tmp_path: Path) -> None:
    (iid,) = await cloud.launch(1)
    async with fleet_node(settings_for(cloud, tmp_path), tmp_path) as running:
        await running.fleet.registration.register(iid)
        await cloud.stop(iid)
        assert await collect_now(running, iid) is RunState.SUCCEEDED
        worker = await running.fleet.repository.require(iid)
        await running.baton.get(schedule_id(iid))  # still monitored
    assert worker.status is WorkerStatus.STOPPED and worker.cpu_utilization is None


async def test_terminating_the_instance_ends_the_schedule_at_the_next_run(
    cloud: Cloud, tmp_path: Path
) -> None:
    (iid,) = await cloud.launch(1)
    async with fleet_node(settings_for(cloud, tmp_path), tmp_path) as running:
        await running.fleet.registration.register(iid)
        await cloud.terminate(iid)
        run = await running.baton.trigger(schedule_id(iid))
        assert await finished(running, run.id) is RunState.SUCCEEDED
        with pytest.raises(ScheduleNotFoundError):
            await running.baton.get(schedule_id(iid))
        worker = await running.fleet.repository.require(iid)
        done = await running.baton.get_run(run.id)
    assert worker.status is WorkerStatus.TERMINATED and worker.terminated_at is not None
    assert done.note and "terminated" in done.note


async def test_deleting_the_worker_removes_its_schedule(cloud: Cloud, tmp_path: Path) -> None:
    (iid,) = await cloud.launch(1)
    async with fleet_node(settings_for(cloud, tmp_path), tmp_path) as running:
        await running.fleet.registration.register(iid)
        await running.fleet.registration.remove(iid)
        with pytest.raises(ScheduleNotFoundError):
            await running.baton.get(schedule_id(iid))
        assert await running.fleet.repository.get(iid) is None


async def test_a_worker_missing_from_the_repository_ends_its_schedule(
    cloud: Cloud, tmp_path: Path
) -> None:
    (iid,) = await cloud.launch(1)
    async with fleet_node(settings_for(cloud, tmp_path), tmp_path) as running:
        await running.fleet.registration.register(iid)
        await running.fleet.repository.remove(iid)  # behind the scheduler's back
        assert await collect_now(running, iid) is RunState.SUCCEEDED
        with pytest.raises(ScheduleNotFoundError):
            await running.baton.get(schedule_id(iid))


async def test_reconcile_after_a_restart_restores_exactly_the_expected_schedules(
    cloud: Cloud, tmp_path: Path
) -> None:
    a, b, c = await cloud.launch(3)
    settings = settings_for(cloud, tmp_path)
    async with fleet_node(settings, tmp_path) as running:
        for iid in (a, b, c):
            await running.fleet.registration.register(iid)
        await cloud.terminate(c)
        await collect_now(running, c)  # c is now terminated, its schedule gone
        await running.baton.remove(schedule_id(a))  # a's schedule was lost
        await running.baton.add(
            "worker-metrics",
            id=schedule_id("ghost"),
            payload={"worker_id": "ghost"},
            trigger={"interval": {"seconds": 60}},
        )  # an orphan: no such worker
    async with fleet_node(settings, tmp_path) as restarted:
        started, removed = await restarted.fleet.monitoring.reconcile()
        page = await restarted.baton.list(id_prefix="worker-metrics:")
    assert sorted(s.id for s in page.items) == sorted([schedule_id(a), schedule_id(b)])
    assert started == [a] and removed == ["ghost"]


async def test_a_changed_poll_interval_applies_after_a_restart(
    cloud: Cloud, tmp_path: Path
) -> None:
    (iid,) = await cloud.launch(1)
    async with fleet_node(settings_for(cloud, tmp_path, poll_interval=300), tmp_path) as first:
        await first.fleet.registration.register(iid)
    faster = settings_for(cloud, tmp_path, poll_interval=120)
    async with fleet_node(faster, tmp_path) as restarted:
        started, _ = await restarted.fleet.monitoring.reconcile()
        stored = await restarted.baton.get(schedule_id(iid))
    assert started == [iid]
    assert stored.trigger["interval"]["seconds"] == 120
    assert stored.trigger["interval"]["jitter"] == 12
    assert stored.payload == {"worker_id": iid}


async def test_polling_runs_by_itself_at_the_interval(cloud: Cloud, tmp_path: Path) -> None:
    (iid,) = await cloud.launch(1)
    await cloud.feed([iid], cpu=10.0, memory=20.0)
    settings = settings_for(cloud, tmp_path, poll_interval=1, poll_jitter=0)
    async with fleet_node(settings, tmp_path) as running:
        await running.fleet.registration.register(iid)

        async def collected_twice() -> bool:
            return len(await running.fleet.repository.samples(iid)) >= 2

        await eventually(collected_twice, within=15)
