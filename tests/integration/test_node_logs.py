"""The node's own log: what an operator must hear of is one line at WARNING or above."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

import pytest

from baton import Baton, NodeConfig, job
from baton.store.base import ClaimRequest
from baton.store.memory import MemoryStore
from tests.conftest import Clock


@job("sleeper")
async def sleeper() -> None:
    await asyncio.sleep(30)


async def test_a_lost_lease_is_a_warning_with_the_run_and_its_type(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="baton.node")
    # one slot: the node cannot claim the requeued run again while its attempt still runs
    config = NodeConfig(
        name="n1", concurrency=1, lease=timedelta(seconds=1.2), shutdown_grace=timedelta(0)
    )
    store = MemoryStore(clock=clock)
    async with Baton(store=store, jobs=[sleeper], node=config, roles={"worker"}) as baton:
        await baton.add("sleeper", id="nap", trigger={"interval": {"seconds": 3600}})
        run = await baton.trigger("nap", key="1")
        deadline = time.monotonic() + 10
        while (await baton.get_run(run.id)).state.value != "running":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        # The store's clock jumps past the lease and another node's reaper takes the run
        # before this node renews it (no await in between: the node cannot run first).
        clock.advance(60)
        assert [r.id for r in await store.reap_expired()] == [run.id]
        while not any("lost its lease" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, caplog.text
            await asyncio.sleep(0.02)
    (record,) = [r for r in caplog.records if "lost its lease" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == f"run {run.id} (sleeper) lost its lease; stopping it here"
    assert vars(record)["run_id"] == run.id and vars(record)["job_type"] == "sleeper"


async def test_the_reaper_names_each_run_it_takes_from_a_silent_node(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="baton.node")
    store = MemoryStore(clock=clock)
    config = NodeConfig(name="reaper", lease=timedelta(seconds=1.2), shutdown_grace=timedelta(0))
    async with Baton(store=store, jobs=[sleeper]) as seed:
        run = await seed.enqueue("sleeper", key="held")
    # A node that claimed the run and died: nobody renews its lease.
    await store.claim_runs(ClaimRequest(owner="gone", limit=1, lease=timedelta(seconds=1)))
    clock.advance(60)
    async with Baton(store=store, jobs=[], node=config, roles={"worker"}):
        deadline = time.monotonic() + 30
        while not any("lost its lease (its node" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, caplog.text
            await asyncio.sleep(0.05)
    (record,) = [r for r in caplog.records if "its node stopped renewing" in r.getMessage()]
    assert record.levelno == logging.WARNING and vars(record)["run_id"] == run.id
    assert "(sleeper)" in record.getMessage() and "lease loss 1 of 3" in record.getMessage()
