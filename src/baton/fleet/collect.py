"""WorkerMetricsCollectionJob: one worker's state and utilisation, every poll interval.

Its payload is the worker id only; the repository, the AWS gateway, the event publisher
and the settings are injected per run. A worker that is gone or terminated ends the
job's own schedule with :class:`baton.StopSchedule`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from baton import Job, RunContext, StopSchedule, job
from baton.fleet.alerts import ALERT_EVENT, Thresholds, evaluate
from baton.fleet.aws import AwsGateway, Utilization, metric_period
from baton.fleet.domain import InstanceInfo, MetricSample, Worker, WorkerStatus, status_from_ec2
from baton.fleet.errors import StaleWorkerError
from baton.fleet.repository import WorkerRepository
from baton.fleet.settings import FleetSettings

log = logging.getLogger("baton.fleet")

METRICS_EVENT = "fleet.metrics"
TERMINATED_EVENT = "fleet.worker.terminated"
_SAVE_TRIES = 3

Emit = Callable[[str, str, dict[str, Any]], Awaitable[Any]]


class FleetEvents:
    """Publishes the fleet's events on baton's event log (``Baton.emit``)."""

    def __init__(self) -> None:
        self._emit: Emit | None = None

    def attach(self, emit: Emit) -> None:
        """Connect to the Baton whose log receives the events (it is built after us)."""
        self._emit = emit

    async def publish(self, kind: str, subject: str, data: dict[str, Any]) -> None:
        if self._emit is None:
            raise RuntimeError("FleetEvents is not attached to a Baton")
        for attempt in range(3):
            try:
                await self._emit(kind, subject, data)
                return
            except Exception:
                if attempt == 2:
                    raise
                await asyncio.sleep(0.2 * 2**attempt)


@job("worker-metrics", description="Collect one worker's EC2 state and CloudWatch metrics.")
class WorkerMetricsCollectionJob(Job):
    worker_id: str

    async def breaker_key(self, repository: WorkerRepository, settings: FleetSettings) -> str:
        """The AWS region's breaker (``aws:<region>``): the payload is the worker id only,
        its region lives on the worker."""
        worker = await repository.get(self.worker_id)
        region = worker.region if worker is not None else settings.region
        return f"aws:{region or 'default'}"

    async def run(
        self,
        repository: WorkerRepository,
        aws: AwsGateway,
        events: FleetEvents,
        settings: FleetSettings,
        ctx: RunContext,
    ) -> StopSchedule | None:
        for attempt in range(1, _SAVE_TRIES + 1):
            worker = await repository.get(self.worker_id)
            if worker is None:
                return StopSchedule(f"worker {self.worker_id} is no longer registered")
            if worker.status is WorkerStatus.TERMINATED:
                return StopSchedule(f"worker {self.worker_id} is terminated")
            try:
                return await self._collect(worker, repository, aws, events, settings)
            except StaleWorkerError:
                if attempt == _SAVE_TRIES:
                    raise  # the run's retry policy takes it from here
        return None  # not reached: the loop returns or raises

    async def _collect(
        self,
        worker: Worker,
        repository: WorkerRepository,
        aws: AwsGateway,
        events: FleetEvents,
        settings: FleetSettings,
    ) -> StopSchedule | None:
        instance = await aws.describe(worker.instance_id, worker.region)
        status = status_from_ec2(instance.state if instance else None)
        now = datetime.now(UTC)
        if status is WorkerStatus.TERMINATED:
            gone = worker.model_copy(
                update={"status": status, "terminated_at": now, "last_collected_at": now}
            )
            await repository.save(gone)
            await events.publish(
                TERMINATED_EVENT, worker.id, {"worker_id": worker.id, "at": now.isoformat()}
            )
            return StopSchedule(f"instance {worker.instance_id} is terminated")
        use = Utilization(cpu=None, memory=None)
        if status is WorkerStatus.RUNNING:
            period = metric_period(settings.poll_interval)
            use = await aws.utilization(worker.instance_id, region=worker.region, period=period)
        thresholds = Thresholds(
            cpu=settings.cpu_threshold,
            memory=settings.memory_threshold,
            rearm_margin=settings.rearm_margin,
        )
        flags, alerts = evaluate(
            worker, cpu=use.cpu, memory=use.memory, thresholds=thresholds, at=now
        )
        updated = worker.model_copy(
            update={
                **_details(instance),
                **flags,
                "status": status,
                "cpu_utilization": use.cpu,
                "memory_utilization": use.memory,
                "last_collected_at": now,
            }
        )
        sample = MetricSample(
            worker_id=worker.id,
            at=now,
            status=status,
            cpu_utilization=use.cpu,
            memory_utilization=use.memory,
        )
        await repository.save(updated, sample)
        await events.publish(
            METRICS_EVENT,
            worker.id,
            {"worker_id": worker.id, "status": status.value, "cpu": use.cpu, "memory": use.memory},
        )
        for alert in alerts:
            log.warning("alert: worker %s %s at %.1f%%", worker.id, alert.metric, alert.value)
            await events.publish(ALERT_EVENT, worker.id, alert.event_data(updated))
        return None


def _details(instance: InstanceInfo | None) -> dict[str, Any]:
    """What a describe tells us that may change over a worker's life."""
    if instance is None:
        return {}
    return {
        "instance_type": instance.instance_type,
        "ami": instance.ami,
        "tags": instance.tags,
        "public_ip": instance.public_ip,
        "private_ip": instance.private_ip,
    }
