"""Concurrent runs' AWS calls become batched calls; each caller gets only its own answer."""

from __future__ import annotations

import asyncio

import pytest

from baton.fleet import AwsGateway
from baton.fleet.coalesce import Coalescer
from tests.fleet.conftest import REGION, Cloud


async def test_coalescer_batches_by_window_and_size_and_shares_failures() -> None:
    calls: list[list[int]] = []

    async def fetch(keys: list[int]) -> dict[int, str]:
        calls.append(sorted(keys))
        if 13 in keys:
            raise ValueError("unlucky batch")
        return {k: f"v{k}" for k in keys if k != 7}

    coalescer: Coalescer[int, str] = Coalescer(fetch, window=0.01, max_batch=4)
    got = await asyncio.gather(*(coalescer.get(k) for k in (1, 2, 2, 3, 7, 8)))
    assert got == ["v1", "v2", "v2", "v3", None, "v8"]
    assert calls == [[1, 2, 3, 7], [8]]  # full at 4 distinct keys, the rest after the window
    with pytest.raises(ValueError, match="unlucky"):
        await asyncio.gather(coalescer.get(12), coalescer.get(13))


async def test_batched_gateway_makes_one_call_per_kind_for_concurrent_runs(
    cloud: Cloud,
) -> None:
    ids = await cloud.launch(60)
    await cloud.feed(ids, cpu=30.0, memory=60.0)
    aws = AwsGateway(default_region=REGION, endpoint_url=cloud.endpoint, batching=True)
    try:
        gone = "i-0123456789abcdef0"
        described = await asyncio.gather(*(aws.describe(i) for i in [*ids, gone]))
        used = await asyncio.gather(*(aws.utilization(i, period=60) for i in ids))
    finally:
        await aws.close()
    assert [d.instance_id if d else None for d in described] == [*ids, None]
    assert all(u.cpu == 30.0 and u.memory == 60.0 for u in used)
    # One describe for all, plus one more after EC2 named the unknown id; one metric call.
    assert aws.calls == {"DescribeInstances": 2, "GetMetricData": 1}


async def test_per_worker_gateway_makes_three_calls_per_worker(cloud: Cloud) -> None:
    ids = await cloud.launch(5)
    await cloud.feed(ids, cpu=30.0, memory=60.0)
    aws = AwsGateway(default_region=REGION, endpoint_url=cloud.endpoint, batching=False)
    try:
        for iid in ids:
            assert (await aws.describe(iid)) is not None
            use = await aws.utilization(iid, period=60)
            assert (use.cpu, use.memory) == (30.0, 60.0)
    finally:
        await aws.close()
    assert aws.calls == {"DescribeInstances": 5, "GetMetricStatistics": 10}


async def test_a_stream_of_keys_is_one_batch_until_a_quiet_gap_or_max_wait() -> None:
    batches: list[int] = []

    async def fetch(keys: list[int]) -> dict[int, int]:
        batches.append(len(keys))
        return {k: k for k in keys}

    async def stream(coalescer: Coalescer[int, int]) -> None:
        tasks = []
        for k in range(20):  # keys a few milliseconds apart, like runs after their DB read
            tasks.append(asyncio.create_task(coalescer.get(k)))
            await asyncio.sleep(0.005)
        assert await asyncio.gather(*tasks) == list(range(20))

    await stream(Coalescer(fetch, window=0.25, max_batch=1000, max_wait=5.0))
    assert batches == [20]
    batches.clear()
    await stream(Coalescer(fetch, window=0.25, max_batch=1000, max_wait=0.03))
    assert len(batches) >= 2 and sum(batches) == 20
