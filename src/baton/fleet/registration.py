"""Registering workers: one instance by id, or every instance matching tag filters."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from baton import InvalidInputError
from baton.fleet.aws import AwsGateway
from baton.fleet.collect import FleetEvents
from baton.fleet.domain import InstanceInfo, Worker, WorkerStatus, status_from_ec2
from baton.fleet.errors import WorkerExistsError, WorkerNotFoundError
from baton.fleet.monitoring import WorkerMonitoringScheduler
from baton.fleet.repository import WorkerRepository

REGISTERED_EVENT = "fleet.worker.registered"
REMOVED_EVENT = "fleet.worker.removed"


@dataclass
class ImportResult:
    """What an import did: workers registered now, and instances already registered."""

    registered: list[Worker] = field(default_factory=list)
    already: list[str] = field(default_factory=list)


def parse_tag_filters(specs: Iterable[str]) -> dict[str, list[str]]:
    """``["Name=cml-*", "env=prod,staging"]`` -> EC2 filters ``{"tag:Name": ["cml-*"], ...}``."""
    filters: dict[str, list[str]] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise InvalidInputError(f"expected KEY=VALUE[,VALUE], got {spec!r}", field="tag")
        filters.setdefault(f"tag:{key.strip()}", []).extend(
            v.strip() for v in values.split(",") if v.strip()
        )
    return filters


class WorkerRegistration:
    """Adds workers to the repository and starts monitoring them; removes them."""

    def __init__(
        self,
        *,
        repository: WorkerRepository,
        aws: AwsGateway,
        monitoring: WorkerMonitoringScheduler,
        events: FleetEvents,
    ) -> None:
        self.repository = repository
        self.aws = aws
        self.monitoring = monitoring
        self.events = events

    async def register(
        self,
        instance_id: str,
        *,
        region: str | None = None,
        worker_id: str | None = None,
        name: str | None = None,
    ) -> Worker:
        """Register the EC2 instance as a worker and start monitoring it."""
        region = region or self.aws.default_region
        if await self.repository.by_instance([instance_id]):
            raise WorkerExistsError(f"instance {instance_id}")
        info = await self.aws.describe(instance_id, region)
        if info is None:
            raise InvalidInputError(
                f"EC2 has no instance {instance_id!r} in {region}", field="instance_id"
            )
        return await self._add(info, region, worker_id=worker_id, name=name)

    async def import_instances(
        self, *, region: str | None, filters: Mapping[str, Iterable[str]]
    ) -> ImportResult:
        """Register every instance that matches ``filters`` and is not terminated."""
        region = region or self.aws.default_region
        found = await self.aws.find(region, filters)
        known = await self.repository.by_instance([i.instance_id for i in found])
        result = ImportResult()
        for info in found:
            existing = known.get(info.instance_id)
            if existing is not None:
                result.already.append(existing.id)
                if existing.status is not WorkerStatus.TERMINATED:
                    await self.monitoring.start_monitoring(existing.id)
                continue
            try:
                result.registered.append(await self._add(info, region))
            except WorkerExistsError:  # registered meanwhile by another request
                result.already.append(info.instance_id)
        return result

    async def _add(
        self,
        info: InstanceInfo,
        region: str,
        *,
        worker_id: str | None = None,
        name: str | None = None,
    ) -> Worker:
        status = status_from_ec2(info.state)
        if status is WorkerStatus.TERMINATED:
            raise InvalidInputError(
                f"instance {info.instance_id} is terminated", field="instance_id"
            )
        worker = Worker(
            id=worker_id or info.instance_id,
            name=name or info.name,
            region=region,
            instance_id=info.instance_id,
            instance_type=info.instance_type,
            ami=info.ami,
            tags=info.tags,
            public_ip=info.public_ip,
            private_ip=info.private_ip,
            status=status,
            created_at=datetime.now(UTC),
        )
        await self.repository.add(worker)
        await self.monitoring.start_monitoring(worker.id)
        await self.events.publish(
            REGISTERED_EVENT, worker.id, {"worker_id": worker.id, "instance_id": worker.instance_id}
        )
        return worker

    async def remove(self, worker_id: str) -> None:
        """Stop monitoring the worker and forget it (its samples too)."""
        await self.monitoring.stop_monitoring(worker_id)
        if not await self.repository.remove(worker_id):
            raise WorkerNotFoundError(worker_id)
        await self.events.publish(REMOVED_EVENT, worker_id, {"worker_id": worker_id})
