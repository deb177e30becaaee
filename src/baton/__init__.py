"""baton: a persistent, multi-node job scheduler for asyncio services.

The names below are imported on first use, so that ``import baton`` (and every
``baton`` command) costs only what it touches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from baton._lazy import exports

if TYPE_CHECKING:
    from baton.app import Baton
    from baton.errors import (
        BatonError,
        ConfigurationError,
        ConflictError,
        InvalidInputError,
        InvalidPayloadError,
        InvalidPolicyError,
        InvalidTriggerError,
        JobTypeNotFoundError,
        NotFoundError,
        RunNotFoundError,
        RunStateError,
        ScheduleExistsError,
        ScheduleInUseError,
        ScheduleNotFoundError,
        StoreError,
        StoreVersionError,
        UpstreamError,
    )
    from baton.jobs import (
        Job,
        JobType,
        NonRetryableError,
        Registry,
        RunContext,
        Secret,
        StopSchedule,
        job,
    )
    from baton.model import (
        Breaker,
        BreakerPolicy,
        BreakerState,
        Dependencies,
        DependencyRule,
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

_HOMES = {
    "Baton": "baton.app",
    "BatonError": "baton.errors",
    "Breaker": "baton.model",
    "BreakerPolicy": "baton.model",
    "BreakerState": "baton.model",
    "ConfigurationError": "baton.errors",
    "ConflictError": "baton.errors",
    "Dependencies": "baton.model",
    "DependencyRule": "baton.model",
    "Event": "baton.model",
    "InvalidInputError": "baton.errors",
    "InvalidPayloadError": "baton.errors",
    "InvalidPolicyError": "baton.errors",
    "InvalidTriggerError": "baton.errors",
    "Job": "baton.jobs",
    "JobType": "baton.jobs",
    "JobTypeNotFoundError": "baton.errors",
    "NodeConfig": "baton.node",
    "NodeInfo": "baton.model",
    "NonRetryableError": "baton.jobs",
    "NotFoundError": "baton.errors",
    "Page": "baton.model",
    "Policy": "baton.model",
    "Registry": "baton.jobs",
    "RetryPolicy": "baton.model",
    "Run": "baton.model",
    "RunContext": "baton.jobs",
    "RunError": "baton.model",
    "RunNotFoundError": "baton.errors",
    "RunState": "baton.model",
    "RunStateError": "baton.errors",
    "Schedule": "baton.model",
    "ScheduleExistsError": "baton.errors",
    "ScheduleInUseError": "baton.errors",
    "ScheduleNotFoundError": "baton.errors",
    "ScheduleState": "baton.model",
    "Secret": "baton.jobs",
    "Settings": "baton.settings",
    "StopSchedule": "baton.jobs",
    "StoreError": "baton.errors",
    "StoreVersionError": "baton.errors",
    "UpstreamError": "baton.errors",
    "job": "baton.jobs",
}


__getattr__, __dir__ = exports(__name__, _HOMES)


__all__ = [
    "Baton",
    "BatonError",
    "Breaker",
    "BreakerPolicy",
    "BreakerState",
    "ConfigurationError",
    "ConflictError",
    "Dependencies",
    "DependencyRule",
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
    "NotFoundError",
    "Page",
    "Policy",
    "Registry",
    "RetryPolicy",
    "Run",
    "RunContext",
    "RunError",
    "RunNotFoundError",
    "RunState",
    "RunStateError",
    "Schedule",
    "ScheduleExistsError",
    "ScheduleInUseError",
    "ScheduleNotFoundError",
    "ScheduleState",
    "Secret",
    "Settings",
    "StopSchedule",
    "StoreError",
    "StoreVersionError",
    "UpstreamError",
    "job",
]
