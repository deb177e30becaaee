"""One attempt of one run: resolve the job type, inject dependencies, run, classify.

The classification is policy: which errors are worth another attempt, when a run is
dead, how long to back off. It lives here and nowhere else.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import traceback
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import timedelta
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
from baton.model import BreakerPolicy, Run, RunError, RunState
from baton.store._breakers import Admission, Verdict
from baton.store.base import BreakerReport, Outcome

#: Errors another attempt cannot fix: the run fails at once.
_FINAL_ERRORS = (JobTypeNotFoundError, InvalidPayloadError, NonRetryableError)
_TRACE_LINES = 20

#: Opens the per-run dependency scope (a dishka request scope); ``None``: no container.
ScopeFactory = Callable[[], AbstractAsyncContextManager[Services]] | None

#: Asks the store whether a run may pass a breaker: (key, run id, policy) -> Admission.
Gate = Callable[[str, str, BreakerPolicy], Awaitable[Admission]]

#: How long a run waits when the store could not say whether its breaker lets it pass.
_GATE_RETRY = timedelta(seconds=1)


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
    gate: Gate | None = None,
) -> Outcome:
    """Execute one attempt of ``run`` and say what state it leads to. Never raises
    (but for cancellation, which the caller owns).

    With a breaker in the run's policy, the run first asks ``gate`` (the store) whether
    it may pass; if not, it goes back to wait without running and without spending an
    attempt. The outcome then says what the attempt taught the breaker.
    """
    key: str | None = None
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
        async with _services(scope) as services:
            breaker = run.policy.breaker
            if breaker is not None and gate is not None:
                key = await job_type.breaker_key(run.payload, breaker.key, ctx, services)
                waiting = await _ask(gate, key, run, breaker)
                if waiting is not None:
                    return waiting
            result = await _execute(job_type, run, ctx, services)
    except StopSchedule as stop:
        return _judged(_stopped(stop), run, key)
    except Exception as exc:  # a job's failure is data, recorded on the run
        return _judged(failure(run, exc, rng), run, key)
    if isinstance(result, StopSchedule):
        return _judged(_stopped(result), run, key)
    return _judged(Outcome(state=RunState.SUCCEEDED), run, key)


def _services(scope: ScopeFactory) -> AbstractAsyncContextManager[Services]:
    return nullcontext(_NO_SERVICES) if scope is None else scope()


async def _ask(gate: Gate, key: str, run: Run, breaker: BreakerPolicy) -> Outcome | None:
    """``None`` if the run may pass its breaker; else the outcome that sends it back to
    wait. A store that cannot answer sends it back too: that is no failure of the job."""
    try:
        admission = await gate(key, run.id, breaker)
    except Exception as exc:
        note = f"waiting: could not ask the breaker {key!r} ({exc})"[:500]
        return Outcome(state=RunState.QUEUED, retry_delay=_GATE_RETRY, note=note)
    if admission.allowed:
        return None
    state = admission.breaker.state.value if admission.breaker else "open"
    seconds = admission.wait.total_seconds()
    note = f"waiting: breaker {key!r} is {state}; next try in {seconds:.0f} s"
    return Outcome(state=RunState.QUEUED, retry_delay=admission.wait, note=note)


def _judged(outcome: Outcome, run: Run, key: str | None) -> Outcome:
    """The outcome with what it says about the breaker ``key``. Counted as failures:
    attempts that raised (timeouts too) and will be retried or are dead; not the errors
    another attempt cannot fix (``NonRetryableError``, a bad payload), which say nothing
    about the dependency."""
    breaker = run.policy.breaker
    if key is None or breaker is None:
        return outcome
    if outcome.state is RunState.SUCCEEDED:
        verdict = Verdict.SUCCESS
    elif outcome.state in (RunState.RETRYING, RunState.DEAD):
        verdict = Verdict.FAILURE
    else:
        verdict = Verdict.NEITHER
    report = BreakerReport(key=key, policy=breaker, verdict=verdict)
    return dataclasses.replace(outcome, breaker=report)


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
