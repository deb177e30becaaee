"""The worker repository on a real SQLite file: optimistic updates and bounded history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from baton.fleet import MetricSample, Worker, WorkerRepository, WorkerStatus, status_from_ec2
from baton.fleet.errors import StaleWorkerError, WorkerExistsError, WorkerNotFoundError


@pytest.fixture
async def repo(tmp_path: Path) -> AsyncIterator[WorkerRepository]:
    repository = WorkerRepository(f"sqlite+aiosqlite:///{tmp_path}/fleet.db", keep_samples=3)
    await repository.open()
    yield repository
    await repository.close()


def worker(wid: str = "w-1", instance: str = "i-1") -> Worker:
    return Worker(
        id=wid,
        name=wid,
        region="eu-west-1",
        instance_id=instance,
        tags={"Name": wid},
        status=WorkerStatus.RUNNING,
        created_at=datetime(2026, 11, 27, 10, tzinfo=UTC),
    )


async def test_a_write_based_on_a_stale_version_is_refused(repo: WorkerRepository) -> None:
    await repo.add(worker())
    mine = await repo.require("w-1")
    theirs = await repo.require("w-1")
    saved = await repo.save(mine.model_copy(update={"cpu_utilization": 10.0}))
    assert saved.version == 2
    with pytest.raises(StaleWorkerError):
        await repo.save(theirs.model_copy(update={"cpu_utilization": 99.0}))
    assert (await repo.require("w-1")).cpu_utilization == 10.0
    with pytest.raises(WorkerNotFoundError):
        await repo.save(worker("ghost", "i-9"))


async def test_ids_and_instances_are_unique(repo: WorkerRepository) -> None:
    await repo.add(worker())
    with pytest.raises(WorkerExistsError):
        await repo.add(worker("w-2", "i-1"))
    with pytest.raises(WorkerExistsError):
        await repo.add(worker("w-1", "i-2"))
    assert [w.id for w in await repo.list_workers()] == ["w-1"]


async def test_history_keeps_the_newest_samples_per_worker(repo: WorkerRepository) -> None:
    await repo.add(worker())
    await repo.add(worker("w-2", "i-2"))
    start = datetime(2026, 11, 27, 10, tzinfo=UTC)
    for n in range(5):
        for wid in ("w-1", "w-2"):
            current = await repo.require(wid)
            sample = MetricSample(
                worker_id=wid,
                at=start + timedelta(minutes=n),
                status=WorkerStatus.RUNNING,
                cpu_utilization=float(n),
                memory_utilization=None,
            )
            await repo.save(current, sample)
    kept = await repo.samples("w-1")
    assert [s.cpu_utilization for s in kept] == [4.0, 3.0, 2.0]
    assert kept[0].at == start + timedelta(minutes=4)
    assert len(await repo.samples("w-2")) == 3
    await repo.remove("w-1")
    assert await repo.samples("w-1") == []
    assert len(await repo.samples("w-2")) == 3


def test_ec2_states_map_to_worker_statuses() -> None:
    assert status_from_ec2("running") is WorkerStatus.RUNNING
    assert status_from_ec2("shutting-down") is WorkerStatus.SHUTTING_DOWN
    assert status_from_ec2("terminated") is WorkerStatus.TERMINATED
    assert status_from_ec2(None) is WorkerStatus.TERMINATED  # EC2 no longer knows it
    assert status_from_ec2("hibernating") is WorkerStatus.UNKNOWN
