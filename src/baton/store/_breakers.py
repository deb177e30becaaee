"""Circuit breaker transitions: pure functions, written once for every store.

A store keeps each breaker as one JSON document and offers a compare-and-set on it
(:meth:`Store._swap_breaker`); :class:`~baton.store.base.Store` reads a breaker, decides
here what it becomes, and swaps it in, retrying when another node moved it first. So
every transition is atomic and every node sees the same breaker.

States: closed -> open (``failures`` counted failures within ``window``) -> half_open
after ``cooldown`` (the first run to ask becomes the one probe) -> closed on the probe's
success, open again on its failure. A probe that ends neither way (cancelled, skipped,
sent back to wait) hands the probe to the next run. A probe silent for
:data:`PROBE_PATIENCE` (its run was lost) is replaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from baton import events
from baton.model import Breaker, BreakerPolicy, BreakerState

#: How long a half-open breaker waits for its probe before another run may probe.
PROBE_PATIENCE = timedelta(minutes=10)
#: The least a run turned away by a half-open breaker waits before it asks again.
_MIN_WAIT = timedelta(seconds=1)

EventItem = tuple[str, str, dict[str, Any]]


class Verdict(StrEnum):
    """What an attempt says about the dependency a breaker guards."""

    SUCCESS = "success"
    FAILURE = "failure"
    NEITHER = "neither"


@dataclass(frozen=True, kw_only=True)
class Admission:
    """Whether a run may start now; if not, how long it waits (queued, no attempt spent)."""

    allowed: bool
    breaker: Breaker | None = None
    """The breaker as the decision saw it (``None``: there is none yet)."""
    wait: timedelta = timedelta(0)


@dataclass(frozen=True)
class Change:
    """A breaker's next form and the event that records the transition (if any)."""

    breaker: Breaker
    event: EventItem | None = None


def fresh(key: str, now: datetime) -> Breaker:
    return Breaker(key=key, updated_at=now)


def admitted(
    breaker: Breaker, run_id: str, policy: BreakerPolicy, now: datetime
) -> tuple[Admission, Change | None]:
    """May ``run_id`` start now? An open breaker past its cool-down becomes half-open
    with this run as its probe."""
    if breaker.state is BreakerState.CLOSED:
        return Admission(allowed=True, breaker=breaker), None
    if breaker.state is BreakerState.OPEN:
        assert breaker.probe_at is not None
        if now < breaker.probe_at:
            return Admission(allowed=False, breaker=breaker, wait=breaker.probe_at - now), None
        return _probing(breaker, run_id, now)
    if breaker.probe == run_id:  # the probe itself, run again after a lost lease
        return Admission(allowed=True, breaker=breaker), None
    if now - breaker.updated_at >= PROBE_PATIENCE:
        return _probing(breaker, run_id, now)
    wait = max(policy.cooldown / 3, _MIN_WAIT)
    return Admission(allowed=False, breaker=breaker, wait=wait), None


def _probing(breaker: Breaker, run_id: str, now: datetime) -> tuple[Admission, Change]:
    probing = breaker.evolve(state=BreakerState.HALF_OPEN, probe=run_id, updated_at=now)
    event = (events.BREAKER_HALF_OPENED, breaker.key, {"probe": run_id})
    return Admission(allowed=True, breaker=probing), Change(probing, event)


def reported(
    breaker: Breaker, run_id: str, verdict: Verdict, policy: BreakerPolicy, now: datetime
) -> Change | None:
    """The breaker after an attempt of ``run_id`` ended with ``verdict``."""
    if breaker.state is BreakerState.HALF_OPEN and breaker.probe == run_id:
        if verdict is Verdict.SUCCESS:
            return _closed(breaker, now, {"probe": run_id})
        if verdict is Verdict.FAILURE:
            return _opened(breaker, policy, now, {"probe": run_id, "reason": "the probe failed"})
        # The probe neither passed nor failed: the next run to ask probes instead.
        handed = breaker.evolve(state=BreakerState.OPEN, probe=None, probe_at=now, updated_at=now)
        return Change(handed)
    if breaker.state is not BreakerState.CLOSED or verdict is not Verdict.FAILURE:
        return None  # a run admitted before the breaker opened: it changes nothing
    recent = (*(t for t in breaker.failures if t > now - policy.window), now)
    if len(recent) >= policy.failures:
        data = {"failures": len(recent), "window": policy.window.total_seconds()}
        return _opened(breaker, policy, now, data)
    return Change(breaker.evolve(failures=recent, updated_at=now))


def _opened(breaker: Breaker, policy: BreakerPolicy, now: datetime, data: dict[str, Any]) -> Change:
    opened = breaker.evolve(
        state=BreakerState.OPEN,
        failures=(),
        opened_at=now,
        probe_at=now + policy.cooldown,
        probe=None,
        updated_at=now,
    )
    data = {**data, "cooldown": policy.cooldown.total_seconds()}
    return Change(opened, (events.BREAKER_OPENED, breaker.key, data))


def reset(breaker: Breaker, now: datetime, reason: str) -> Change:
    """Closed again by a person's request."""
    return _closed(breaker, now, {"reason": reason})


def _closed(breaker: Breaker, now: datetime, data: dict[str, Any]) -> Change:
    closed = breaker.evolve(
        state=BreakerState.CLOSED,
        failures=(),
        opened_at=None,
        probe_at=None,
        probe=None,
        updated_at=now,
    )
    return Change(closed, (events.BREAKER_CLOSED, breaker.key, data))
