"""The fleet's records: a worker (one EC2 instance running a CML worker) and its samples."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class WorkerStatus(StrEnum):
    """A worker's status: EC2's instance states, and ``unknown`` for anything else."""

    PENDING = "pending"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    SHUTTING_DOWN = "shutting-down"
    TERMINATED = "terminated"
    UNKNOWN = "unknown"


def status_from_ec2(state: str | None) -> WorkerStatus:
    """The worker status for an EC2 instance state name (``None``: the instance is gone).

    The one mapping used everywhere: imports, collection runs and the API agree.
    An instance EC2 no longer knows is terminated (AWS forgets terminated instances
    after about an hour).
    """
    if state is None:
        return WorkerStatus.TERMINATED
    try:
        return WorkerStatus(state)
    except ValueError:
        return WorkerStatus.UNKNOWN


class Worker(BaseModel):
    """A CML worker instance the fleet monitors. ``version`` guards concurrent updates."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    region: str
    instance_id: str
    instance_type: str | None = None
    ami: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    public_ip: str | None = None
    private_ip: str | None = None
    status: WorkerStatus = WorkerStatus.UNKNOWN
    cpu_utilization: float | None = None
    """Average CPU % over the last poll period (AWS/EC2 CPUUtilization)."""
    memory_utilization: float | None = None
    """Average memory % over the last poll period (CWAgent mem_used_percent)."""
    cpu_alerting: bool = False
    memory_alerting: bool = False
    last_collected_at: datetime | None = None
    created_at: datetime
    terminated_at: datetime | None = None
    version: int = 1


class MetricSample(BaseModel):
    """One collection's values for one worker."""

    model_config = ConfigDict(frozen=True)

    worker_id: str
    at: datetime
    status: WorkerStatus
    cpu_utilization: float | None
    memory_utilization: float | None


class InstanceInfo(BaseModel):
    """What EC2 says about one instance."""

    model_config = ConfigDict(frozen=True)

    instance_id: str
    state: str
    instance_type: str | None = None
    ami: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    public_ip: str | None = None
    private_ip: str | None = None
    launched_at: datetime | None = None

    @property
    def name(self) -> str:
        return self.tags.get("Name") or self.instance_id
