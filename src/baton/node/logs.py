"""The node's log lines for what an operator must see: a failed attempt, a retry, a
dead run, a lost lease, a circuit breaker that changed. One line each, at WARNING or
above, with the run id, the job type and a summary of the error; the same facts ride on
the record as ``extra`` fields (``run_id``, ``job_type``, ``attempt``, ``error``) for a
JSON log formatter."""

from __future__ import annotations

import logging

from baton.model import Event, Run, RunError, RunState
from baton.store.base import Outcome

log = logging.getLogger("baton.node")

_SUMMARY_CHARS = 300


def summary(error: RunError | None) -> str:
    """``Type: first line of the message``, short enough for one log line."""
    if error is None:
        return "no error recorded"
    first = error.message.strip().splitlines()[0] if error.message.strip() else ""
    text = f"{error.type}: {first}" if first else error.type
    return text if len(text) <= _SUMMARY_CHARS else text[: _SUMMARY_CHARS - 3] + "..."


def _fields(run: Run, error: RunError | None, **more: object) -> dict[str, object]:
    return {
        "run_id": run.id,
        "job_type": run.type,
        "attempt": run.attempt,
        "max_attempts": run.policy.retry.max_attempts,
        "error": summary(error),
        **more,
    }


def attempt_failed(run: Run, outcome: Outcome) -> None:
    """A failure that no retry can fix (an unknown job type, a bad payload...)."""
    log.warning(
        "run %s (%s) failed, not retried: %s",
        run.id,
        run.type,
        summary(outcome.error),
        extra=_fields(run, outcome.error, state="failed"),
    )


def retry_scheduled(run: Run, outcome: Outcome) -> None:
    """An attempt failed and another one is due after the backoff."""
    delay = outcome.retry_delay.total_seconds()
    log.warning(
        "run %s (%s) attempt %d of %d failed: %s; retry in %.1f s",
        run.id,
        run.type,
        run.attempt,
        run.policy.retry.max_attempts,
        summary(outcome.error),
        delay,
        extra=_fields(run, outcome.error, state="retrying", retry_in=delay),
    )


def dead(run: Run, outcome: Outcome) -> None:
    """The last attempt failed: the run is dead."""
    log.error(
        "run %s (%s) is dead after attempt %d: %s",
        run.id,
        run.type,
        run.attempt,
        summary(outcome.error),
        extra=_fields(run, outcome.error, state="dead"),
    )


def outcome(run: Run, result: Outcome) -> None:
    """Log an attempt's outcome if an operator must hear of it (failures only)."""
    if result.state is RunState.FAILED:
        attempt_failed(run, result)
    elif result.state is RunState.RETRYING:
        retry_scheduled(run, result)
    elif result.state is RunState.DEAD:
        dead(run, result)


def lease_lost(run_id: str, job_type: str | None, *, doing: str) -> None:
    """Another node may own the run now; this node stops it or drops its result."""
    log.warning(
        "run %s (%s) lost its lease; %s",
        run_id,
        job_type or "?",
        doing,
        extra={"run_id": run_id, "job_type": job_type, "error": "lease lost"},
    )


def reaped(run: Run) -> None:
    """A lease nobody renewed (its node died, hung or lost the store), as the reaper
    found it: the run is queued again, or dead past its budget of lease losses."""
    if run.state is RunState.DEAD:
        log.error(
            "run %s (%s) is dead: %s",
            run.id,
            run.type,
            summary(run.error),
            extra=_fields(run, run.error, state="dead"),
        )
        return
    limit = run.policy.retry.max_lease_losses
    log.warning(
        "run %s (%s) lost its lease (its node stopped renewing it); queued to run again "
        "(lease loss %d of %d allowed)",
        run.id,
        run.type,
        run.lease_losses,
        limit,
        extra=_fields(run, run.error, state=run.state.value, lease_losses=run.lease_losses),
    )


def breaker_changed(event: Event) -> None:
    """A ``breaker.*`` event: a breaker opened, let one probe through, or closed. As a
    listener it runs on every node that registered it, for every node's change."""
    change = event.kind.removeprefix("breaker.")
    details = ", ".join(f"{k}={v}" for k, v in sorted(event.data.items()))
    log.warning(
        "circuit breaker %s %s%s",
        event.subject,
        change.replace("_", "-"),
        f" ({details})" if details else "",
        extra={"breaker": event.subject, "change": change, "details": event.data},
    )
