"""baton: a persistent, multi-node job scheduler for asyncio services."""

from baton.app import Baton
from baton.errors import (
    BatonError,
    ConfigurationError,
    InvalidInputError,
    InvalidPayloadError,
    InvalidPolicyError,
    InvalidTriggerError,
    JobTypeNotFoundError,
    RunNotFoundError,
    ScheduleExistsError,
    ScheduleNotFoundError,
    StoreError,
    StoreVersionError,
)
from baton.jobs import Job, JobType, NonRetryableError, Registry, RunContext, StopSchedule, job
from baton.model import (
    Event,
    NodeInfo,
    Page,
    Policy,
    RetryPolicy,
    Run,
    RunError,
    RunState,
    Schedule,
    ScheduleState,
)
from baton.node import NodeConfig
from baton.settings import Settings

__all__ = [
    "Baton",
    "BatonError",
    "ConfigurationError",
    "Event",
    "InvalidInputError",
    "InvalidPayloadError",
    "InvalidPolicyError",
    "InvalidTriggerError",
    "Job",
    "JobType",
    "JobTypeNotFoundError",
    "NodeConfig",
    "NodeInfo",
    "NonRetryableError",
    "Page",
    "Policy",
    "Registry",
    "RetryPolicy",
    "Run",
    "RunContext",
    "RunError",
    "RunNotFoundError",
    "RunState",
    "Schedule",
    "ScheduleExistsError",
    "ScheduleNotFoundError",
    "ScheduleState",
    "Settings",
    "StopSchedule",
    "StoreError",
    "StoreVersionError",
    "job",
]
