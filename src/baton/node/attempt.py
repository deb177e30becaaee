"""One attempt of one run: resolve the job type, inject dependencies, run, classify.

The classification is policy: which errors are worth another attempt, when a run is
dead, how long to back off. It lives here and nowhere else.
"""

from __future__ import annotations

import asyncio
import random
import traceback
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from baton.errors import InvalidPayloadError, JobTypeNotFoundError
from baton.jobs import (
    JobType,
    NonRetryableError,
    NoServices,
    Registry,
    RunContext,
    Services,
    StopSchedule,
)
from baton.model import Run, RunError, RunState
from baton.store.base import Outcome

#: Errors another attempt cannot fix: the run fails at once.
_FINAL_ERRORS = (JobTypeNotFoundError, InvalidPayloadError, NonRetryableError)
_TRACE_LINES = 20

#: Opens the per-run dependency scope (a dishka request scope); ``None``: no container.
ScopeFactory = Callable[[], AbstractAsyncContextManager[Services]] | None


#: Without a container no scope is opened (a context manager per run costs more than
#: many jobs' work).
_NO_SERVICES = NoServices()


async def _execute(job_type: JobType, run: Run, ctx: RunContext, services: Services) -> Any:
    if run.policy.timeout is None:
        return await job_type.execute(run.payload, ctx, services)
    async with asyncio.timeout(run.policy.timeout.total_seconds()):
        return await job_type.execute(run.payload, ctx, services)


async def run_attempt(
    run: Run,
    *,
    registry: Registry,
    scope: ScopeFactory,
    node: str,
    rng: random.Random | None = None,
) -> Outcome:
    """Execute one attempt of ``run`` and say what state it leads to. Never raises
    (but for cancellation, which the caller owns)."""
    try:
        job_type = registry.get(run.type)
        ctx = RunContext(
            run_id=run.id,
            schedule_id=run.schedule_id,
            job_type=run.type,
            attempt=run.attempt,
            max_attempts=run.policy.retry.max_attempts,
            fire_at=run.fire_at,
            node=node,
        )
        if scope is None:
            result = await _execute(job_type, run, ctx, _NO_SERVICES)
        else:
            async with scope() as services:
                result = await _execute(job_type, run, ctx, services)
    except StopSchedule as stop:
        return _stopped(stop)
    except Exception as exc:  # a job's failure is data, recorded on the run
        return failure(run, exc, rng)
    if isinstance(result, StopSchedule):
        return _stopped(result)
    return Outcome(state=RunState.SUCCEEDED)


def _stopped(stop: StopSchedule) -> Outcome:
    return Outcome(
        state=RunState.SUCCEEDED,
        note=f"schedule stopped: {stop.reason}",
        stop_schedule=stop.reason,
    )


def failure(run: Run, exc: BaseException, rng: random.Random | None = None) -> Outcome:
    """The outcome of a failed attempt: failed, retrying after a backoff, or dead."""
    error = describe(exc)
    if isinstance(exc, _FINAL_ERRORS):
        return Outcome(state=RunState.FAILED, error=error)
    retry = run.policy.retry
    if run.failures >= retry.max_attempts:
        note = f"no attempts left: {run.failures} of max_attempts {retry.max_attempts} failed"
        return Outcome(state=RunState.DEAD, error=error, note=note)
    delay = retry.delay(run.failures, rng)
    return Outcome(state=RunState.RETRYING, error=error, retry_delay=delay)


def describe(exc: BaseException) -> RunError:
    """Exception type, message and the tail of the traceback, as stored on the run."""
    kind = type(exc)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    if isinstance(exc, TimeoutError) and not str(exc):
        message = "the run took longer than its timeout"
    else:
        message = str(exc)[:2000]
    lines = traceback.format_exception(exc)
    trace = "".join(lines).splitlines()[-_TRACE_LINES:]
    return RunError(type=name, message=message, trace="\n".join(trace))
