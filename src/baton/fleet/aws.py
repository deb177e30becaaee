"""EC2 and CloudWatch through aiobotocore, with the calls of concurrent runs batched.

Batched (the default): each region has a coalescer for DescribeInstances (up to 1,000
instance ids per call) and one for GetMetricData (up to 500 queries, two per
instance). Per worker (``batching=False``, for comparison): DescribeInstances for one
id and two GetMetricStatistics calls. botocore's adaptive retry mode absorbs
throttling. Every API call is counted in :attr:`AwsGateway.calls`.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
from collections import Counter
from collections.abc import Awaitable, Iterable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session
from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import ClientError

from baton import InvalidInputError
from baton.fleet.coalesce import Coalescer
from baton.fleet.domain import InstanceInfo
from baton.fleet.errors import AwsError

MAX_DESCRIBE_IDS = 1000
MAX_METRIC_QUERIES = 500
CPU = ("AWS/EC2", "CPUUtilization")
MEMORY = ("CWAgent", "mem_used_percent")
_INSTANCE_ID = re.compile(r"i-[0-9a-f]+")


@dataclass(frozen=True)
class Utilization:
    """Average CPU and memory % over a period; ``None`` where CloudWatch had no data."""

    cpu: float | None
    memory: float | None


@functools.cache
def known_regions() -> frozenset[str]:
    """The regions with EC2 that the installed botocore knows, in every partition."""
    session = botocore.session.get_session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("ec2", partition)
    )


def metric_period(poll_interval: float) -> int:
    """CloudWatch periods are whole minutes: the poll interval, rounded, at least 60 s."""
    return max(60, round(poll_interval / 60) * 60)


class AwsGateway:
    """EC2 and CloudWatch clients per region, shared by every run of a process."""

    def __init__(
        self,
        *,
        default_region: str | None = None,
        endpoint_url: str | None = None,
        batching: bool = True,
        window: float = 0.005,
    ) -> None:
        self.default_region = (
            default_region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or "us-east-1"
        )
        self.endpoint_url = endpoint_url
        self.batching = batching
        self.window = window
        self.calls: Counter[str] = Counter()
        self._session = get_session()
        self._stack = AsyncExitStack()
        self._clients: dict[tuple[str, str], Any] = {}
        self._client_lock = asyncio.Lock()
        self._describe: dict[str, Coalescer[str, InstanceInfo]] = {}
        self._metrics: dict[tuple[str, int], Coalescer[str, Utilization]] = {}

    async def close(self) -> None:
        await self._stack.aclose()
        self._clients.clear()

    async def _client(self, service: str, region: str) -> Any:
        key = (service, region)
        client = self._clients.get(key)
        if client is not None:
            return client
        async with self._client_lock:  # concurrent first calls must not make two clients
            return self._clients.get(key) or await self._new_client(service, region)

    async def _new_client(self, service: str, region: str) -> Any:
        if region not in known_regions():
            raise InvalidInputError(f"{region!r} is not an AWS region", field="region")
        config = Config(
            retries={"mode": "adaptive", "max_attempts": 8},
            max_pool_connections=50,
            connect_timeout=5,
            read_timeout=30,
        )
        client = await self._stack.enter_async_context(
            self._session.create_client(
                service, region_name=region, endpoint_url=self.endpoint_url, config=config
            )
        )
        client.meta.events.register("before-call", self._count)
        self._clients[(service, region)] = client
        return client

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    # -- EC2 ------------------------------------------------------------------------------

    async def describe(self, instance_id: str, region: str | None = None) -> InstanceInfo | None:
        """The instance, or ``None`` if EC2 does not know it (any more)."""
        region = region or self.default_region
        if not self.batching:
            return (await self._describe_ids(region, [instance_id])).get(instance_id)
        coalescer = self._describe.get(region)
        if coalescer is None:
            coalescer = self._describe[region] = Coalescer(
                lambda ids: self._describe_ids(region, ids),
                window=self.window,
                max_batch=MAX_DESCRIBE_IDS,
            )
        return await coalescer.get(instance_id)

    async def _describe_ids(self, region: str, ids: list[str]) -> dict[str, InstanceInfo]:
        ec2 = await self._client("ec2", region)
        wanted = list(ids)
        # One unknown id fails the whole call: drop the ids EC2 names and ask again.
        for _ in range(5):
            if not wanted:
                return {}
            try:
                reply = await _call(ec2.describe_instances(InstanceIds=wanted), "DescribeInstances")
            except AwsError as exc:
                missing = set(_INSTANCE_ID.findall(exc.message))
                if exc.code != "InvalidInstanceID.NotFound" or not missing & set(wanted):
                    raise
                wanted = [i for i in wanted if i not in missing]
                continue
            return {i.instance_id: i for i in _instances(reply)}
        raise AwsError("DescribeInstances", "", "EC2 kept naming unknown instance ids")

    async def find(self, region: str, filters: Mapping[str, Iterable[str]]) -> list[InstanceInfo]:
        """Instances that are not terminated and match every filter (``tag:Name``: [...])."""
        ec2 = await self._client("ec2", region)
        aws_filters = [{"Name": k, "Values": list(v)} for k, v in filters.items()]
        aws_filters.append(
            {
                "Name": "instance-state-name",
                "Values": ["pending", "running", "stopping", "stopped", "shutting-down"],
            }
        )
        found: list[InstanceInfo] = []
        args: dict[str, Any] = {"Filters": aws_filters, "MaxResults": 1000}
        while True:
            page = await _call(ec2.describe_instances(**args), "DescribeInstances")
            found.extend(_instances(page))
            if not page.get("NextToken"):
                return found
            args["NextToken"] = page["NextToken"]

    # -- CloudWatch -----------------------------------------------------------------------

    async def utilization(
        self, instance_id: str, *, region: str | None = None, period: int = 300
    ) -> Utilization:
        """Average CPU and memory of the instance over the last ``period`` seconds."""
        region = region or self.default_region
        if not self.batching:
            return await self._statistics(region, instance_id, period)
        key = (region, period)
        coalescer = self._metrics.get(key)
        if coalescer is None:
            coalescer = self._metrics[key] = Coalescer(
                lambda ids: self._metric_data(region, ids, period),
                window=self.window,
                max_batch=MAX_METRIC_QUERIES // 2,
            )
        return await coalescer.get(instance_id) or Utilization(cpu=None, memory=None)

    async def _metric_data(
        self, region: str, ids: list[str], period: int
    ) -> dict[str, Utilization]:
        cloudwatch = await self._client("cloudwatch", region)
        end = datetime.now(UTC)
        queries = []
        for n, instance_id in enumerate(ids):
            for prefix, (namespace, name) in (("c", CPU), ("m", MEMORY)):
                queries.append(
                    {
                        "Id": f"{prefix}{n}",
                        "MetricStat": {
                            "Metric": {
                                "Namespace": namespace,
                                "MetricName": name,
                                "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
                            },
                            "Period": period,
                            "Stat": "Average",
                        },
                        "ReturnData": True,
                    }
                )
        values: dict[str, list[float]] = {}
        args: dict[str, Any] = {
            "MetricDataQueries": queries,
            "StartTime": end - timedelta(seconds=period),
            "EndTime": end,
        }
        while True:
            reply = await _call(cloudwatch.get_metric_data(**args), "GetMetricData")
            for result in reply["MetricDataResults"]:
                values.setdefault(result["Id"], []).extend(result.get("Values", []))
            if not reply.get("NextToken"):
                break
            args["NextToken"] = reply["NextToken"]
        return {
            instance_id: Utilization(
                cpu=_mean(values.get(f"c{n}")), memory=_mean(values.get(f"m{n}"))
            )
            for n, instance_id in enumerate(ids)
        }

    async def _statistics(self, region: str, instance_id: str, period: int) -> Utilization:
        cloudwatch = await self._client("cloudwatch", region)
        end = datetime.now(UTC)
        found: list[float | None] = []
        for namespace, name in (CPU, MEMORY):
            reply = await _call(
                cloudwatch.get_metric_statistics(
                    Namespace=namespace,
                    MetricName=name,
                    Dimensions=[{"Name": "InstanceId", "Value": instance_id}],
                    StartTime=end - timedelta(seconds=period),
                    EndTime=end,
                    Period=period,
                    Statistics=["Average"],
                ),
                "GetMetricStatistics",
            )
            found.append(_mean([p["Average"] for p in reply.get("Datapoints", [])]))
        return Utilization(cpu=found[0], memory=found[1])


async def _call(request: Awaitable[Any], operation: str) -> Any:
    """Await one AWS call; any failure becomes an :class:`AwsError` naming the operation.

    The boundary with AWS: besides ClientError (an error reply) botocore raises
    connection errors, parser errors for malformed replies and more; callers see one kind.
    """
    try:
        return await request
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", exc))
        raise AwsError(operation, code, message) from exc
    except Exception as exc:
        raise AwsError(operation, type(exc).__name__, str(exc)) from exc


def _mean(values: list[float] | None) -> float | None:
    if not values:
        return None
    return round(sum(values) / len(values), 2)


def _instances(reply: Mapping[str, Any]) -> list[InstanceInfo]:
    found = []
    for reservation in reply.get("Reservations", []):
        for raw in reservation.get("Instances", []):
            found.append(
                InstanceInfo(
                    instance_id=raw["InstanceId"],
                    state=raw.get("State", {}).get("Name", "unknown"),
                    instance_type=raw.get("InstanceType"),
                    ami=raw.get("ImageId"),
                    tags={t["Key"]: t["Value"] for t in raw.get("Tags", [])},
                    public_ip=raw.get("PublicIpAddress"),
                    private_ip=raw.get("PrivateIpAddress"),
                    launched_at=raw.get("LaunchTime"),
                )
            )
    return found
