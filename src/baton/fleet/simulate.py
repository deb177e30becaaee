"""A simulated fleet of CML workers in an AWS endpoint (a moto server): instances tagged
as workers, plausible CloudWatch data fed to them, and one of them terminated later.

Used by ``baton demo`` and handy for trying the fleet without an AWS account.
"""

from __future__ import annotations

import asyncio
import math
import random
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

from aiobotocore.session import get_session


class SimulatedFleet:
    """Instances in one region of ``endpoint``; the first one runs hot (CPU over 90 %)."""

    def __init__(self, endpoint: str, region: str, *, seed: int | None = None) -> None:
        self.endpoint = endpoint
        self.region = region
        self.instance_ids: list[str] = []
        self.terminated: list[str] = []
        self._rng = random.Random(seed)
        self._stack = AsyncExitStack()
        self._ec2: Any = None
        self._cloudwatch: Any = None
        self._started = datetime.now(UTC)

    async def __aenter__(self) -> SimulatedFleet:
        session = get_session()
        self._ec2 = await self._stack.enter_async_context(
            session.create_client("ec2", region_name=self.region, endpoint_url=self.endpoint)
        )
        self._cloudwatch = await self._stack.enter_async_context(
            session.create_client("cloudwatch", region_name=self.region, endpoint_url=self.endpoint)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def launch(self, count: int) -> list[str]:
        """Start ``count`` instances tagged ``Name=cml-worker-NN`` and ``role=cml-worker``."""
        images = await self._ec2.describe_images(Owners=["amazon"])
        ami = images["Images"][0]["ImageId"]
        for n in range(1, count + 1):
            reply = await self._ec2.run_instances(
                ImageId=ami,
                MinCount=1,
                MaxCount=1,
                InstanceType="c5.2xlarge" if n % 3 else "m5.4xlarge",
                TagSpecifications=[
                    {
                        "ResourceType": "instance",
                        "Tags": [
                            {"Key": "Name", "Value": f"cml-worker-{n:02d}"},
                            {"Key": "role", "Value": "cml-worker"},
                        ],
                    }
                ],
            )
            self.instance_ids.append(reply["Instances"][0]["InstanceId"])
        return list(self.instance_ids)

    def sample(self, index: int, at: datetime) -> tuple[float, float]:
        """CPU and memory % of instance ``index`` at ``at``: daily-ish waves and noise;
        instance 0 climbs past 90 % CPU within its first 20 seconds."""
        minutes = (at - self._started).total_seconds() / 60
        phase = index * 0.7
        cpu = 35 + 20 * math.sin(minutes / 3 + phase) + self._rng.uniform(-5, 5)
        memory = 55 + 10 * math.sin(minutes / 5 + phase) + self._rng.uniform(-3, 3)
        if index == 0:
            cpu = min(97.0, 80 + 60 * minutes) + self._rng.uniform(-1, 1)
        return _clamp(cpu), _clamp(memory)

    async def feed(self) -> None:
        """Put one CPU (AWS/EC2) and one memory (CWAgent) datapoint per live instance."""
        at = datetime.now(UTC) - timedelta(seconds=1)
        cpu_data, memory_data = [], []
        for index, instance_id in enumerate(self.instance_ids):
            if instance_id in self.terminated:
                continue
            cpu, memory = self.sample(index, at)
            dims = [{"Name": "InstanceId", "Value": instance_id}]
            cpu_data.append(_datum("CPUUtilization", dims, at, cpu))
            memory_data.append(_datum("mem_used_percent", dims, at, memory))
        if cpu_data:
            await self._cloudwatch.put_metric_data(Namespace="AWS/EC2", MetricData=cpu_data)
            await self._cloudwatch.put_metric_data(Namespace="CWAgent", MetricData=memory_data)

    async def feed_every(self, seconds: float) -> None:
        while True:
            await self.feed()
            await asyncio.sleep(seconds)

    async def terminate_last(self) -> str:
        """Terminate the newest instance still running; returns its id."""
        victim = next(i for i in reversed(self.instance_ids) if i not in self.terminated)
        await self._ec2.terminate_instances(InstanceIds=[victim])
        self.terminated.append(victim)
        return victim


def _clamp(value: float) -> float:
    return round(min(max(value, 0.5), 99.5), 1)


def _datum(name: str, dims: list[dict[str, str]], at: datetime, value: float) -> dict[str, Any]:
    return {
        "MetricName": name,
        "Dimensions": dims,
        "Timestamp": at,
        "Value": value,
        "Unit": "Percent",
    }
