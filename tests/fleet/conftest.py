"""A moto server on loopback (in a thread of the test process) standing in for AWS, and
helpers that set up simulated CML workers in it. No hand-written fakes of AWS."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiobotocore.session import get_session
from moto.server import ThreadedMotoServer

REGION = "eu-west-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"  # never real credentials in tests
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass
class Cloud:
    """The simulated AWS account: launch, feed metrics to, and terminate instances."""

    endpoint: str
    ec2: Any
    cloudwatch: Any

    async def launch(self, count: int, name: str = "cml-worker", **tags: str) -> list[str]:
        images = await self.ec2.describe_images(Owners=["amazon"])
        reply = await self.ec2.run_instances(
            ImageId=images["Images"][0]["ImageId"],
            MinCount=count,
            MaxCount=count,
            InstanceType="c5.2xlarge",
            TagSpecifications=[
                {
                    "ResourceType": "instance",
                    "Tags": [{"Key": "Name", "Value": name}]
                    + [{"Key": k, "Value": v} for k, v in tags.items()],
                }
            ],
        )
        return [i["InstanceId"] for i in reply["Instances"]]

    async def feed(self, instance_ids: list[str], *, cpu: float, memory: float) -> None:
        """One CPU (AWS/EC2) and one memory (CWAgent) datapoint per instance, just now."""
        at = datetime.now(UTC) - timedelta(seconds=5)
        for namespace, name, value in (
            ("AWS/EC2", "CPUUtilization", cpu),
            ("CWAgent", "mem_used_percent", memory),
        ):
            for start in range(0, len(instance_ids), 500):
                await self.cloudwatch.put_metric_data(
                    Namespace=namespace,
                    MetricData=[
                        {
                            "MetricName": name,
                            "Dimensions": [{"Name": "InstanceId", "Value": iid}],
                            "Timestamp": at,
                            "Value": value,
                            "Unit": "Percent",
                        }
                        for iid in instance_ids[start : start + 500]
                    ],
                )

    async def terminate(self, *instance_ids: str) -> None:
        await self.ec2.terminate_instances(InstanceIds=list(instance_ids))

    async def stop(self, *instance_ids: str) -> None:
        await self.ec2.stop_instances(InstanceIds=list(instance_ids))


@pytest.fixture
async def cloud(moto_endpoint: str) -> AsyncIterator[Cloud]:
    async with httpx.AsyncClient() as client:  # every test starts from an empty account
        (await client.post(f"{moto_endpoint}/moto-api/reset")).raise_for_status()
    session = get_session()
    async with (
        session.create_client("ec2", region_name=REGION, endpoint_url=moto_endpoint) as ec2,
        session.create_client(
            "cloudwatch", region_name=REGION, endpoint_url=moto_endpoint
        ) as cloudwatch,
    ):
        yield Cloud(endpoint=moto_endpoint, ec2=ec2, cloudwatch=cloudwatch)
