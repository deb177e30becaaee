"""The records baton stores and returns: frozen, keyword-only, no I/O.

Every datetime is timezone-aware UTC; every duration is a ``timedelta`` (JSON: seconds).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Generic, Self, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from baton._input import MAX_SPAN, id_problem, text_problem, time_problem

MAX_PAYLOAD_BYTES = 64 * 1024
MAX_TIMEOUT = timedelta(days=30)
MAX_BACKOFF = timedelta(days=1)
MAX_BACKOFF_CAP = timedelta(days=30)


def _to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("datetime must carry a timezone")
    return value.astimezone(UTC)


def _valid_time(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("datetime must carry a timezone")
    problem = time_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value.astimezone(UTC)


UTCDateTime = Annotated[datetime, AfterValidator(_valid_time)]


def utc_iso(moment: datetime) -> str:
    """Format an aware datetime as compact UTC ISO 8601 (``2026-11-27T10:00:00Z``)."""
    return _to_utc(moment).isoformat().replace("+00:00", "Z")


def to_millisecond(moment: datetime) -> datetime:
    """``moment`` truncated to the millisecond: schedules keep their times (and interval
    anchors) to the millisecond in every store, which keeps run ids short."""
    extra = moment.microsecond % 1000
    return moment.replace(microsecond=moment.microsecond - extra) if extra else moment


def run_id_for_fire(schedule_id: str, fire_at: datetime) -> str:
    """The deterministic id of the run of ``schedule_id`` fired at ``fire_at``."""
    return f"{schedule_id}@{utc_iso(fire_at)}"


def check_id(value: str, what: str = "id") -> str:
    """Validate a caller-chosen schedule id or name: 1-200 printable characters, no ``/``,
    no space, control, bidi or zero-width character (see :func:`baton._input.id_problem`)."""
    problem = id_problem(value)
    if problem is not None:
        raise ValueError(f"{what} {problem}")
    return value


_set = object.__setattr__


class Record(BaseModel):
    """Base of every stored record: immutable, extra keys refused, durations as seconds."""

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_timedelta="float")

    @classmethod
    def trusted(cls, values: dict[str, Any]) -> Self:
        """Build a record from values that are already valid, without validation.

        For stores and the engine, which rebuild records from what they wrote: thousands
        per second on a busy node, where ``model_construct`` costs four times as much.
        ``values`` must give every field (checked) and is kept, not copied.
        """
        fields = cls.__pydantic_fields__  # not model_fields: a descriptor, slow per call
        if values.keys() != fields.keys():
            missing = fields.keys() - values.keys()
            extra = values.keys() - fields.keys()
            raise TypeError(
                f"{cls.__name__}.trusted: missing {missing or '{}'}, extra {extra or '{}'}"
            )
        return cls._assembled(values, set(values))

    def evolve(self, **changes: Any) -> Self:
        """A copy with ``changes`` applied, unvalidated (as ``model_copy(update=...)``);
        an unknown field name is an error."""
        values = {**self.__dict__, **changes}
        if len(values) != len(self.__dict__):
            raise TypeError(
                f"{type(self).__name__} has no field {set(changes) - set(self.__dict__)}"
            )
        return self._assembled(values, self.__pydantic_fields_set__ | changes.keys())

    @classmethod
    def _assembled(cls, values: dict[str, Any], fields_set: set[str]) -> Self:
        """A record holding ``values`` as they are, as pydantic lays one out."""
        record = cls.__new__(cls)
        _set(record, "__dict__", values)
        _set(record, "__pydantic_fields_set__", fields_set)
        _set(record, "__pydantic_extra__", None)
        _set(record, "__pydantic_private__", None)
        return record


class ScheduleState(StrEnum):
    """An active schedule fires; a paused one keeps its place but does not."""

    ACTIVE = "active"
    PAUSED = "paused"


class RunState(StrEnum):
    """The life of a run: queued -> running -> succeeded | retrying | failed | dead.

    ``waiting``: the run waits for other runs to end (its ``after``); it is neither
    claimable nor finished, and becomes queued or skipped.
    ``retrying`` waits for its backoff and is claimable again; ``failed`` is final for
    errors that another attempt cannot fix (unknown job type, invalid payload);
    ``dead`` is final when a budget ran out (the job's attempts, or the lease losses);
    ``cancelled`` by request; ``skipped`` when the policy dropped a run that waited in
    the queue (past its misfire grace, or folded into a newer fire by ``coalesce``), or
    a waiting run whose parents did not end as its rule asks (or not in time).
    """

    WAITING = "waiting"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RETRYING = "retrying"
    DEAD = "dead"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    @property
    def finished(self) -> bool:
        return self in _FINISHED

    @property
    def claimable(self) -> bool:
        return self in (RunState.QUEUED, RunState.RETRYING)


_FINISHED = frozenset(
    {RunState.SUCCEEDED, RunState.FAILED, RunState.DEAD, RunState.CANCELLED, RunState.SKIPPED}
)


class RetryPolicy(Record):
    """How often and how patiently a failing run is tried again."""

    max_attempts: int = Field(default=1, ge=1, le=1000)
    backoff: timedelta = Field(default=timedelta(seconds=1), ge=timedelta(0), le=MAX_BACKOFF)
    backoff_max: timedelta = Field(
        default=timedelta(minutes=5), ge=timedelta(0), le=MAX_BACKOFF_CAP
    )
    jitter: float = Field(default=0.1, ge=0.0, le=1.0)
    max_lease_losses: int = Field(default=3, ge=0, le=100)
    """How many times a run may lose its lease (its node died, or lost the store) and be
    run again. Lease losses do not spend ``max_attempts``: that budget is the job's own
    failures; this one stops a job that brings its node down every time."""

    def delay(self, attempt: int, rng: random.Random | None = None) -> timedelta:
        """The wait before attempt ``attempt + 1``: exponential, capped, then jittered.

        The jitter only lengthens the wait (by up to ``jitter`` of it), so the spacing
        between attempts is never shorter than the plain exponential backoff.
        """
        doublings = max(attempt - 1, 0)
        # Compared in floats first: a late attempt's 2**n would overflow a timedelta.
        doubled = self.backoff.total_seconds() * 2.0 ** min(doublings, 64)
        if doubled >= self.backoff_max.total_seconds():
            base = self.backoff_max
        else:
            base = self.backoff * 2**doublings
        spread = (rng or random).random() * self.jitter
        return base * (1 + spread)


class BreakerPolicy(Record):
    """A circuit breaker shared by every node, guarding what a job depends on.

    ``failures`` counted failures within ``window`` open it; while open, runs that meet it
    wait in the queue (no attempt spent); after ``cooldown`` one run, cluster-wide, probes:
    its success closes the breaker, its failure opens it again. ``key`` names the breaker
    (default: the job type); ``{field}`` takes a payload field (``"aws:{region}"``), and a
    job type may compute it instead (``breaker_key``). Counted failures: attempts that
    raised (timeouts included), except :class:`~baton.StopSchedule`,
    :class:`~baton.NonRetryableError` and invalid payloads; cancellations and lost leases
    do not count.
    """

    key: str | None = Field(default=None, min_length=1, max_length=200)
    failures: int = Field(default=5, ge=1, le=10_000)
    window: timedelta = Field(default=timedelta(seconds=60), gt=timedelta(0), le=timedelta(days=1))
    cooldown: timedelta = Field(
        default=timedelta(seconds=30), gt=timedelta(0), le=timedelta(days=1)
    )

    @field_validator("key")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        problem = None if value is None else text_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class Policy(Record):
    """What the node does with the fires and runs of one schedule."""

    misfire_grace: timedelta | None = Field(default=timedelta(seconds=60))
    """How late a fire may still run; ``None``: however late."""
    coalesce: bool = True
    """Many missed fires become one run (the latest)."""
    max_concurrent: int = Field(default=1, ge=1, le=10_000)
    """Runs of this schedule running at once, across all nodes."""
    timeout: timedelta | None = None
    """A run still going after this long is cancelled and counts as failed."""
    retry: RetryPolicy = RetryPolicy()
    priority: int = Field(default=0, ge=-1000, le=1000)
    """-1000 to 1000: higher runs are claimed first; equal ones by due time."""
    breaker: BreakerPolicy | None = None
    """A circuit breaker that all nodes share (see :class:`BreakerPolicy`)."""

    @field_validator("misfire_grace", "timeout")
    @classmethod
    def _positive(cls, value: timedelta | None, info: ValidationInfo) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("must be a positive duration")
        longest = MAX_TIMEOUT if info.field_name == "timeout" else MAX_SPAN
        if value is not None and value > longest:
            raise ValueError(f"must be at most {longest.days} days")
        return value


class Schedule(Record):
    """A recurring (or one-off) order to run one job type with one payload."""

    id: str
    type: str
    payload: dict[str, Any] = Field(default_factory=dict)
    trigger: dict[str, Any]
    policy: Policy = Policy()
    state: ScheduleState = ScheduleState.ACTIVE
    next_fire_at: UTCDateTime | None = None
    last_fire_at: UTCDateTime | None = None
    version: int = 0
    created_at: UTCDateTime
    updated_at: UTCDateTime

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        return check_id(value)


class RunError(Record):
    """Why an attempt failed: exception type, message and the tail of its traceback."""

    type: str
    message: str
    trace: str = ""


class DependencyRule(StrEnum):
    """When a waiting run may start: every parent run succeeded, or merely ended."""

    ALL_SUCCESS = "all_success"
    ALL_DONE = "all_done"


class Dependencies(Record):
    """The runs a run waits for, and the rule their outcomes must meet."""

    runs: tuple[str, ...] = Field(min_length=1, max_length=100)
    rule: DependencyRule = DependencyRule.ALL_SUCCESS


class Run(Record):
    """One execution order for a job: a fire of a schedule, a manual trigger or an event."""

    id: str
    schedule_id: str | None
    type: str
    payload: dict[str, Any] = Field(default_factory=dict)
    fire_at: UTCDateTime
    due_at: UTCDateTime
    attempt: int = 1
    """Which execution this is: 1, then + 1 for each retry or rerun after a lost lease."""
    lease_losses: int = 0
    """How many of the earlier executions ended because their node lost the lease."""
    policy: Policy = Policy()
    state: RunState = RunState.QUEUED
    owner: str | None = None
    lease_token: str | None = None
    lease_expires_at: UTCDateTime | None = None
    cancel_requested: bool = False
    created_at: UTCDateTime
    started_at: UTCDateTime | None = None
    finished_at: UTCDateTime | None = None
    error: RunError | None = None
    note: str | None = None
    """Free text the engine records: why a schedule was stopped, a cancellation."""
    after: Dependencies | None = None
    """The runs this one waits for (state ``waiting``); while it waits, ``due_at`` is
    when it stops waiting and is skipped."""

    @property
    def failures(self) -> int:
        """Attempts spent on the job's own failures, this one included (``attempt`` less
        the reruns after lost leases): what ``retry.max_attempts`` bounds."""
        return self.attempt - self.lease_losses

    @property
    def is_fire(self) -> bool:
        """Whether this run is a schedule's fire (not a manual or event-started run)."""
        return self.schedule_id is not None and self.id == run_id_for_fire(
            self.schedule_id, self.fire_at
        )

    @property
    def duration(self) -> timedelta | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


class BreakerState(StrEnum):
    """closed: runs go; open: runs wait; half_open: one probe run goes, the rest wait."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Breaker(Record):
    """A circuit breaker as the store keeps it; every node reads and moves the same one."""

    key: str
    state: BreakerState = BreakerState.CLOSED
    failures: tuple[UTCDateTime, ...] = ()
    """Times of the counted failures still within the window (closed state)."""
    opened_at: UTCDateTime | None = None
    probe_at: UTCDateTime | None = None
    """When an open breaker lets a probe through."""
    probe: str | None = None
    """The run id of the half-open probe."""
    updated_at: UTCDateTime


class Event(Record):
    """One entry of the append-only event log. ``id`` orders events within a store."""

    id: str
    kind: str
    at: UTCDateTime
    subject: str
    data: dict[str, Any] = Field(default_factory=dict)


class NodeInfo(Record):
    """A node's heartbeat: who it is, what it does, how busy it is."""

    name: str
    roles: tuple[str, ...]
    host: str
    pid: int
    concurrency: int
    running: int = 0
    types: tuple[str, ...] = ()
    """The job types a worker node runs; it claims runs of no other type."""
    started_at: UTCDateTime
    heartbeat_at: UTCDateTime


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a listing; pass ``next_cursor`` back to get the next."""

    model_config = ConfigDict(frozen=True)

    items: list[T]
    next_cursor: str | None = None


def utcnow() -> datetime:
    """The local clock in UTC. Leases and due times use the store's clock instead."""
    return datetime.now(UTC)
