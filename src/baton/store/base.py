"""The store contract: the one seam between baton's engine and its persistence.

A store is dumb and atomic. It keeps schedules, runs, node heartbeats and the event log,
and offers lease verbs over them; it holds no policy. Misfire handling, coalescing and
retry decisions are made by the node (``baton.node``) and handed to the store as plain
data (a :class:`FirePlan`, a :class:`Completion`). Every method below says what it does
atomically. Every method is idempotent where its docstring says so, so that a caller
may retry it after a lost connection.

Time: every timestamp a store writes (fire commits, claims, leases, completions) comes
from the store's own clock (:meth:`Store.now`), never from the caller, so that nodes
with skewed clocks agree on leases and due times.

Events: each state change appends its event in the same atomic step as the change.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

from baton.errors import StoreError
from baton.model import (
    Breaker,
    BreakerPolicy,
    BreakerState,
    Event,
    NodeInfo,
    Page,
    Run,
    RunError,
    RunState,
    Schedule,
    ScheduleState,
)
from baton.store import _breakers
from baton.store._breakers import Admission, Change, Verdict
from baton.store._signal import TOPICS, ChangeSignal, Marker, Topic


@dataclass(frozen=True, kw_only=True)
class FirePlan:
    """What to do with one due schedule, decided by the node's policy.

    ``fires`` are (fire time, due time) pairs that become runs; ``next_fire_at`` is the
    schedule's new next fire time (``None``: the trigger is exhausted and the schedule
    is removed); ``skipped`` is the range [from, until) of fire times dropped as misfires;
    ``supersede`` names earlier runs of the schedule that this plan's newest fire replaces
    (``coalesce``): each one still queued and never started ends ``skipped``.
    """

    fires: Sequence[tuple[datetime, datetime]]
    next_fire_at: datetime | None
    skipped: tuple[datetime, datetime] | None = None
    supersede: Sequence[str] = ()


#: Called by :meth:`Store.fire_due` for each due schedule with the store's current time.
Planner = Callable[[Schedule, datetime], FirePlan]


@dataclass(frozen=True, kw_only=True)
class BreakerReport:
    """What an attempt says about the dependency behind the breaker ``key``."""

    key: str
    policy: BreakerPolicy
    verdict: Verdict


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What an attempt came to: the run's next state, and why.

    ``state`` is succeeded, retrying (claimable again after ``retry_delay``, with
    attempt + 1), failed, dead, cancelled, skipped, or queued (sent back to wait
    ``retry_delay`` without spending an attempt: its breaker was open).
    ``stop_schedule`` carries the reason when the job ended its own schedule;
    ``breaker`` what the attempt says about its breaker's dependency.
    """

    state: RunState
    error: RunError | None = None
    note: str | None = None
    retry_delay: timedelta = timedelta(0)
    stop_schedule: str | None = None
    breaker: BreakerReport | None = None


@dataclass(frozen=True, kw_only=True)
class Completion:
    """An :class:`Outcome`, reported by the holder of the run's lease."""

    run_id: str
    lease_token: str
    outcome: Outcome


@dataclass(frozen=True, kw_only=True)
class Claimant:
    """Who wants runs, how many at most, for how long a lease, of which job types.

    ``types`` are the job types the claimant can run (``None``: any): a node never
    claims a run it would have to fail for want of its code.
    """

    owner: str
    limit: int
    lease: timedelta
    types: frozenset[str] | None = None


@dataclass(frozen=True, kw_only=True)
class ClaimRequest(Claimant):
    """A :class:`Claimant` and how far ahead it looks: ``horizon`` admits runs due up to
    that long after now, so that a node can hold them and start them exactly on time
    instead of a round trip late."""

    horizon: timedelta = timedelta(0)


@dataclass(frozen=True, kw_only=True)
class Fired:
    """Result of :meth:`Store.fire_due`: the runs it created and those it then claimed."""

    created: list[Run]
    claimed: list[Run] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class LeaseStatus:
    """Result of :meth:`Store.extend_leases`: leases still held, and cancellations asked for."""

    kept: frozenset[str] = frozenset()
    cancel_requested: frozenset[str] = frozenset()


@dataclass(frozen=True, kw_only=True)
class ScheduleFilter:
    type: str | None = None
    state: ScheduleState | None = None
    id_prefix: str | None = None


@dataclass(frozen=True, kw_only=True)
class RunFilter:
    schedule_id: str | None = None
    type: str | None = None
    states: frozenset[RunState] = field(default_factory=frozenset)
    since: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class StoreStats:
    """Counts for gauges: schedules by state, claimable runs (queued or waiting to
    retry) and running runs."""

    schedules: dict[ScheduleState, int]
    queued: int
    running: int


@dataclass(frozen=True, kw_only=True)
class StoreReport:
    """What :meth:`Store.check` found: facts to show, warnings, and problems that make
    the store unsafe to use (each problem is reason enough to refuse it)."""

    facts: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class Store(abc.ABC):
    """The persistence contract every backend implements, verified by one test suite.

    Use as an async context manager: entering opens connections and creates or checks
    the schema; leaving closes them.

    A template, not a checklist: the public verbs that change state are written here
    once. Each calls its backend's primitive (the same name with a leading underscore),
    which makes the change atomically (a transaction, a Lua script), and then sends the
    wake-ups that :data:`WAKES` names for it, so that no backend decides or forgets one.
    Backends hold no policy: plans, outcomes and claims arrive as data.
    """

    def __init__(self) -> None:
        self._signal = ChangeSignal()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect, then create the schema or check that the one found is ours and current.

        Raises :class:`~baton.errors.StoreVersionError` for a foreign or newer schema.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections. Idempotent."""

    async def check(self) -> StoreReport:
        """Inspect the store's configuration and contents; never changes anything."""
        schedules = await self.list_schedules(limit=1000)
        count = f"{len(schedules.items)}{'+' if schedules.next_cursor else ''}"
        return StoreReport(facts={"store": type(self).__name__, "schedules": count})

    async def ping(self) -> None:
        """Raise unless the store answers a read (readiness probes)."""
        await self.next_fire_time()

    @abc.abstractmethod
    async def now(self) -> datetime:
        """The store's clock (UTC): the one clock for leases and due times."""

    # -- schedules -------------------------------------------------------------------

    async def add_schedule(self, schedule: Schedule, *, replace: bool = False) -> Schedule:
        """Insert ``schedule``, or with ``replace`` overwrite the one with its id.

        Atomic: :meth:`add_schedules` with one schedule. Returns the stored record, whose
        ``version`` is 1 for a new schedule and the old version + 1 for a replacement.
        Without ``replace``, an existing id raises
        :class:`~baton.errors.ScheduleExistsError` and changes nothing.
        """
        (stored,) = await self.add_schedules([schedule], replace=replace)
        return stored

    async def add_schedules(
        self, schedules: Sequence[Schedule], *, replace: bool = False
    ) -> list[Schedule]:
        """Insert (or with ``replace`` overwrite) many schedules in one atomic step.

        Without ``replace``, if any id exists, :class:`~baton.errors.ScheduleExistsError`
        names it and nothing is stored. Ids must be distinct. Returns the stored records.
        """
        stored = await self._add_schedules(schedules, replace=replace)
        await self._woke("add_schedules", schedules, stored)
        return stored

    @abc.abstractmethod
    async def _add_schedules(
        self, schedules: Sequence[Schedule], *, replace: bool
    ) -> list[Schedule]: ...

    @abc.abstractmethod
    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        """The schedule with this id, or ``None``."""

    @abc.abstractmethod
    async def list_schedules(
        self, flt: ScheduleFilter | None = None, *, cursor: str | None = None, limit: int = 100
    ) -> Page[Schedule]:
        """Schedules ordered by id, after ``cursor`` (an opaque value from a previous page)."""

    async def dependent_schedules(self) -> list[Schedule]:
        """Every schedule whose trigger is ``after`` (it runs after other schedules), by id.

        This default reads every schedule; a backend that can tell sooner that there are
        none, or find them without decoding the rest, overrides it.
        """
        found: list[Schedule] = []
        cursor: str | None = None
        while True:
            page = await self.list_schedules(cursor=cursor, limit=1000)
            found += [s for s in page.items if "after" in s.trigger]
            cursor = page.next_cursor
            if cursor is None:
                return found

    async def remove_schedule(self, schedule_id: str, *, reason: str) -> bool:
        """Delete the schedule; its runs stay as history. Atomic; False if it did not exist."""
        removed = await self._remove_schedule(schedule_id, reason=reason)
        await self._woke("remove_schedule", schedule_id, removed)
        return removed

    @abc.abstractmethod
    async def _remove_schedule(self, schedule_id: str, *, reason: str) -> bool: ...

    async def set_schedule_state(
        self, schedule_id: str, state: ScheduleState, *, next_fire_at: datetime | None
    ) -> Schedule | None:
        """Pause or resume: set state and next fire time, version + 1. Atomic.

        Returns the updated schedule, or ``None`` if it does not exist.
        """
        found = await self._set_schedule_state(schedule_id, state, next_fire_at=next_fire_at)
        await self._woke("set_schedule_state", schedule_id, found)
        return found

    @abc.abstractmethod
    async def _set_schedule_state(
        self, schedule_id: str, state: ScheduleState, *, next_fire_at: datetime | None
    ) -> Schedule | None: ...

    @abc.abstractmethod
    async def next_fire_time(self) -> datetime | None:
        """The earliest ``next_fire_at`` among active schedules."""

    async def fire_due(
        self,
        *,
        limit: int,
        planner: Planner,
        horizon: timedelta = timedelta(0),
        claim: Claimant | None = None,
    ) -> Fired:
        """Turn up to ``limit`` due active schedules into runs, the earliest first.

        For each schedule whose ``next_fire_at`` is at or before the store's now plus
        ``horizon``, calls ``planner(schedule, now + horizon)`` and commits its plan with
        a compare-and-set on the schedule's version: its ``next_fire_at`` and
        ``last_fire_at`` change, its runs are inserted and the runs it supersedes are
        skipped in one atomic step, or nothing happens because another node committed
        first. Run ids are deterministic (``<schedule>@<fire time>``) and inserting an
        existing id is a no-op, so one fire yields one run however many nodes race.

        A schedule whose plan cannot be made (the planner raises) is paused with the
        reason in its ``schedule.paused`` event; the rest of the batch fires.

        With ``claim``, the same atomic step then claims runs exactly as
        :meth:`claim_runs` would with this ``horizon`` (same order, same limits): a node
        that fires and works saves a round trip between the fire and the start of its runs.
        """
        if claim is not None and claim.limit <= 0:
            claim = None
        fired = await self._fire_due(limit=limit, planner=planner, horizon=horizon, claim=claim)
        await self._woke("fire_due", claim, fired)
        return fired

    @abc.abstractmethod
    async def _fire_due(
        self, *, limit: int, planner: Planner, horizon: timedelta, claim: Claimant | None
    ) -> Fired: ...

    # -- runs ------------------------------------------------------------------------

    async def enqueue_run(self, run: Run) -> tuple[Run, bool]:
        """Insert a queued (or ``waiting``) run unless its id exists. Atomic and idempotent.

        Returns the stored run and whether this call created it.
        """
        result = await self._enqueue_run(run)
        await self._woke("enqueue_run", run, result)
        return result

    @abc.abstractmethod
    async def _enqueue_run(self, run: Run) -> tuple[Run, bool]: ...

    async def claim_runs(self, request: ClaimRequest) -> list[Run]:
        """Lease up to ``request.limit`` claimable runs to ``request.owner``. Atomic.

        Claimable: state queued or retrying, due at or before now + ``horizon``, of one of
        the request's ``types`` (when given), fewer running runs of the same schedule than
        the run's ``policy.max_concurrent``. Order: priority (highest first), then due
        time. Each claimed run becomes running with a fresh ``lease_token``,
        ``lease_expires_at = now + lease`` and ``started_at`` the later of now and its
        due time.
        """
        if request.limit <= 0 or request.types == frozenset():
            return []
        return await self._claim_runs(request)

    @abc.abstractmethod
    async def _claim_runs(self, request: ClaimRequest) -> list[Run]: ...

    @abc.abstractmethod
    async def next_due_run_time(self) -> datetime | None:
        """The earliest due time among claimable runs (may be in the past)."""

    @abc.abstractmethod
    async def extend_leases(
        self, *, owner: str, tokens: Mapping[str, str], lease: timedelta
    ) -> LeaseStatus:
        """Push the expiry of the leases ``owner`` holds (run id -> token) to now + lease.

        Atomic per run. A run whose token no longer matches is left alone and missing
        from ``kept``: its lease was lost and another node may own it.
        """

    async def complete_runs(self, completions: Sequence[Completion]) -> list[bool]:
        """Record the outcome of attempts; each only if its lease token still matches.

        Atomic per completion. A stale token (the lease expired and the run was requeued
        or taken by another node) changes nothing and yields False; a completion already
        recorded with the same token yields True again, so a caller may repeat a call
        whose answer it did not get. ``retrying`` sets attempt + 1 and due time now +
        ``retry_delay``; ``stop_schedule`` also removes the run's schedule and cancels its
        other queued runs.
        """
        if not completions:
            return []
        results = await self._complete_runs(completions)
        await self._woke("complete_runs", completions, results)
        for completion, ok in zip(completions, results, strict=True):
            report = completion.outcome.breaker
            if ok and report is not None:
                await self._report_to_breaker(completion.run_id, report)
        return results

    async def _report_to_breaker(self, run_id: str, report: BreakerReport) -> None:
        """Move the run's breaker by what its attempt said (after its outcome is written:
        a call repeated after a lost answer reports again, which for a failure counted
        before the loss counts it twice; it never loses one)."""

        def decide(breaker: Breaker, now: datetime) -> Change | None:
            return _breakers.reported(breaker, run_id, report.verdict, report.policy, now)

        await self._move_breaker(report.key, decide)

    @abc.abstractmethod
    async def _complete_runs(self, completions: Sequence[Completion]) -> list[bool]: ...

    async def release_runs(self, *, owner: str, tokens: Mapping[str, str]) -> int:
        """Put leased runs back in the queue unchanged (a node shutting down). Atomic per run."""
        if not tokens:
            return 0
        count = await self._release_runs(owner=owner, tokens=tokens)
        await self._woke("release_runs", tokens, count)
        return count

    @abc.abstractmethod
    async def _release_runs(self, *, owner: str, tokens: Mapping[str, str]) -> int: ...

    async def reap_expired(self, *, limit: int = 1000) -> list[Run]:
        """Requeue running runs whose lease expired. Atomic per run.

        A lost lease does not spend the job's attempts: while the run has lost fewer
        leases than ``policy.retry.max_lease_losses`` it is queued again, due now, with
        attempt + 1 and lease_losses + 1; after that it becomes dead with a
        ``LeaseExpired`` error that says so. Returns the runs as they were after the change.
        """
        reaped = await self._reap_expired(limit=limit)
        await self._woke("reap_expired", limit, reaped)
        return reaped

    @abc.abstractmethod
    async def _reap_expired(self, *, limit: int) -> list[Run]: ...

    async def cancel_run(self, run_id: str, *, reason: str) -> Run | None:
        """Cancel a run. Atomic.

        A claimable run becomes cancelled at once; a running one is flagged
        ``cancel_requested`` and its lease holder learns it at the next lease extension.
        A finished run is returned unchanged. ``None`` if no such run.
        """
        return await self._cancel_run(run_id, reason=reason)

    @abc.abstractmethod
    async def _cancel_run(self, run_id: str, *, reason: str) -> Run | None: ...

    async def retry_run(
        self, run_id: str, *, reason: str, wait_until: datetime | None = None
    ) -> Run | None:
        """Give a run that ended failed, dead, cancelled or skipped one more attempt. Atomic.

        The run keeps its id and becomes queued, due now, with attempt + 1, no error and
        ``note`` set to ``reason``; with ``wait_until`` it becomes ``waiting`` instead (for
        its ``after`` runs, until then). A run in any other state is returned unchanged
        (so a repeated request does nothing more). ``None`` if no such run.
        """
        run = await self._retry_run(run_id, reason=reason, wait_until=wait_until)
        await self._woke("retry_run", run_id, run)
        return run

    @abc.abstractmethod
    async def _retry_run(
        self, run_id: str, *, reason: str, wait_until: datetime | None
    ) -> Run | None: ...

    async def settle_waiting(self, run_id: str, *, release: bool, note: str) -> Run | None:
        """End the wait of a ``waiting`` run. Atomic, and a compare-and-set on the state.

        ``release``: the run becomes queued, due now; otherwise skipped (finished now).
        ``note`` says why. A run in any other state is returned unchanged, so that however
        many nodes see its parents end, one transition happens. ``None`` if no such run.
        """
        run = await self._settle_waiting(run_id, release=release, note=note)
        await self._woke("settle_waiting", run_id, run)
        return run

    @abc.abstractmethod
    async def _settle_waiting(self, run_id: str, *, release: bool, note: str) -> Run | None: ...

    @abc.abstractmethod
    async def get_run(self, run_id: str) -> Run | None:
        """The run with this id, or ``None``."""

    @abc.abstractmethod
    async def list_runs(
        self, flt: RunFilter | None = None, *, cursor: str | None = None, limit: int = 100
    ) -> Page[Run]:
        """Runs, newest first (by creation), after ``cursor``."""

    @abc.abstractmethod
    async def prune_runs(self, *, keep: int, older_than: timedelta) -> int:
        """Delete finished runs beyond the newest ``keep``, and those finished longer ago
        than ``older_than``. Returns how many were deleted. Never touches unfinished runs."""

    @abc.abstractmethod
    async def stats(self) -> StoreStats:
        """Schedules by state and unfinished runs by state, counted now."""

    # -- circuit breakers ------------------------------------------------------------

    async def pass_breaker(self, key: str, run_id: str, policy: BreakerPolicy) -> Admission:
        """May ``run_id`` start now under the breaker ``key``? Atomic: of the runs that
        ask once an open breaker's cool-down is over, exactly one becomes its probe."""
        raw = await self._breaker(key)
        if raw is None:
            return Admission(allowed=True)
        current = Breaker.model_validate_json(raw)
        if current.state is BreakerState.CLOSED:
            return Admission(allowed=True, breaker=current)
        found: list[Admission] = []

        def decide(breaker: Breaker, now: datetime) -> Change | None:
            admission, change = _breakers.admitted(breaker, run_id, policy, now)
            found[:] = [admission]
            return change

        await self._move_breaker(key, decide, raw)
        return found[0]

    async def breakers(self) -> list[Breaker]:
        """Every breaker the store has seen, by key."""
        return sorted(
            (Breaker.model_validate_json(raw) for raw in await self._all_breakers()),
            key=lambda b: b.key,
        )

    async def reset_breaker(self, key: str, *, reason: str = "reset on request") -> Breaker | None:
        """Close the breaker ``key`` now (``breaker.closed``); ``None`` if there is none."""
        if await self._breaker(key) is None:
            return None
        return await self._move_breaker(key, lambda b, now: _breakers.reset(b, now, reason))

    async def _move_breaker(
        self,
        key: str,
        decide: Callable[[Breaker, datetime], Change | None],
        raw: str | bool | None = False,
    ) -> Breaker:
        """Read the breaker, let ``decide`` say what it becomes, and swap it in unless
        another node moved it meanwhile (then read and decide again)."""
        for _ in range(_SWAP_TRIES):
            if raw is False:
                raw = await self._breaker(key)
            now = await self.now()
            assert raw is not True
            current = Breaker.model_validate_json(raw) if raw else _breakers.fresh(key, now)
            change = decide(current, now)
            if change is None:
                return current
            if await self._swap_breaker(key, raw, change):
                return change.breaker
            raw = False
        raise StoreError(f"the breaker {key!r} kept changing while it was written")

    @abc.abstractmethod
    async def _breaker(self, key: str) -> str | None:
        """The breaker ``key`` as stored (JSON), or ``None``."""

    @abc.abstractmethod
    async def _all_breakers(self) -> list[str]:
        """Every stored breaker (JSON)."""

    @abc.abstractmethod
    async def _swap_breaker(self, key: str, expected: str | None, change: Change) -> bool:
        """Store ``change.breaker`` (``model_dump_json()``) and append ``change.event``,
        in one atomic step, only if what is stored is still ``expected`` (``None``:
        nothing). False when it is not (nothing is written)."""

    # -- nodes and events ------------------------------------------------------------

    @abc.abstractmethod
    async def heartbeat(self, node: NodeInfo) -> None:
        """Record a node's heartbeat; ``heartbeat_at`` is replaced by the store's now."""

    @abc.abstractmethod
    async def list_nodes(self) -> list[NodeInfo]:
        """Every node that has heartbeated and not been removed, by name."""

    @abc.abstractmethod
    async def remove_node(self, name: str) -> None:
        """Forget a node (it shut down). Idempotent."""

    @abc.abstractmethod
    async def append_event(self, kind: str, subject: str, data: dict[str, Any]) -> Event:
        """Append one event to the log and return it with its id."""

    @abc.abstractmethod
    async def read_events(self, *, after: str | None = None, limit: int = 100) -> list[Event]:
        """Events in log order after the event id ``after`` (from the start if ``None``)."""

    @abc.abstractmethod
    async def last_event_id(self) -> str | None:
        """The id of the newest event (``None`` if the log is empty): where to start
        reading to see only what happens from now on."""

    @abc.abstractmethod
    async def load_cursor(self, name: str) -> str | None:
        """The event id saved under ``name`` (a reader's place in the log), or ``None``."""

    @abc.abstractmethod
    async def save_cursor(self, name: str, event_id: str) -> str:
        """Save ``event_id`` under ``name`` unless a later event id is saved there. Atomic.

        Several nodes may advance one cursor; it never moves back. Returns the id saved.
        """

    @abc.abstractmethod
    async def prune_events(self, *, keep: int) -> int:
        """Drop all but the newest ``keep`` events. Returns how many were dropped."""

    # -- wake-ups --------------------------------------------------------------------

    async def _woke(self, verb: str, request: Any, result: Any) -> None:
        """Wake the loops that :data:`WAKES` names for what ``verb`` just changed: in this
        process at once, in others through the backend's :meth:`_announce`."""
        topics = tuple(w.topic for w in WAKES[verb] if w.when(request, result))
        if topics:
            self._signal.bump(*topics)
            await self._announce(topics)

    async def _announce(self, topics: tuple[Topic, ...]) -> None:
        """Tell other processes sharing the store which topics changed.

        A store that sees other processes' writes by itself (SQLite's data version) or has
        no other processes (memory) has nothing to do. Best effort: a missed notice costs a
        sleeper at most its ``max_idle``, never a change.
        """
        return None

    def change_marker(self) -> Marker:
        """Counters of the changes this store object has seen; read them before looking."""
        return self._signal.marker()

    async def wait_for_change(
        self,
        max_wait: float,
        *,
        topics: Iterable[Topic] = TOPICS,
        since: Marker | None = None,
    ) -> bool:
        """Sleep up to ``max_wait`` seconds; return True early when one of ``topics``
        changes, in this process or, where the store can tell, in another one (a store
        that cannot tell which topic another process touched wakes every topic).

        With ``since`` (a :meth:`change_marker` value), a change made after that marker
        was read returns at once, so a caller that looked at the store and then sleeps
        cannot miss a change that landed in between.
        """
        return await self._signal.wait(max_wait, topics, since)

    @staticmethod
    def holds(run: Run | None, token: str) -> bool:
        """The lease-token check: whether ``token`` is the live lease of ``run``. Every
        write by a lease holder (extend, complete, release) is guarded by it."""
        return run is not None and run.state is RunState.RUNNING and run.lease_token == token

    @staticmethod
    def recorded(run: Run | None, token: str) -> bool:
        """Whether the completion by ``token`` is already written: a finished (or
        retrying) run keeps its last lease's token until it is queued or claimed again, so
        that a completion repeated because its answer was lost is answered True again."""
        return (
            run is not None
            and run.state is not RunState.RUNNING
            and bool(token)
            and run.lease_token == token
        )


#: Reads and swaps of one breaker before giving up: far more than nodes that race for it.
_SWAP_TRIES = 50


def _always(_request: Any, _result: Any) -> bool:
    return True


def _ok_requeued(completions: Sequence[Completion], results: Sequence[bool]) -> bool:
    return any(
        ok and c.outcome.state in (RunState.RETRYING, RunState.QUEUED)
        for c, ok in zip(completions, results, strict=True)
    )


def _ok_stopping(completions: Sequence[Completion], results: Sequence[bool]) -> bool:
    return any(
        ok and c.outcome.stop_schedule is not None
        for c, ok in zip(completions, results, strict=True)
    )


@dataclass(frozen=True)
class Wake:
    """One row of the wake-up table: after ``verb``, wake the loops sleeping on
    ``topic`` when ``when(request, result)`` holds."""

    topic: Topic
    why: str
    when: Callable[[Any, Any], bool] = _always


#: Which loops each state-changing verb wakes, and when. Applied by :class:`Store` for
#: every backend; the contract suite checks each row in this process and in another.
WAKES: Mapping[str, tuple[Wake, ...]] = {
    "add_schedules": (Wake("schedules", "a new or replaced schedule may fire sooner"),),
    "remove_schedule": (Wake("schedules", "the next fire may be later", lambda _, r: r),),
    "set_schedule_state": (
        Wake("schedules", "a resumed schedule fires again", lambda _, r: r is not None),
    ),
    "fire_due": (
        Wake(
            "queue",
            "new runs wait for a worker",
            lambda _, fired: len(fired.created) > len(fired.claimed),
        ),
    ),
    "enqueue_run": (
        Wake("queue", "a run waits for a worker, or for other runs", lambda _, r: r[1]),
    ),
    "complete_runs": (
        Wake("done", "a concurrency slot is free", lambda _, results: any(results)),
        Wake("queue", "a retry (or a run sent back to wait) is due later", _ok_requeued),
        Wake("schedules", "a job ended its schedule", _ok_stopping),
    ),
    "release_runs": (Wake("queue", "released runs wait for a worker", lambda _, n: n > 0),),
    "reap_expired": (
        Wake("queue", "reaped runs wait for a worker", lambda _, runs: bool(runs)),
        Wake("done", "a concurrency slot is free", lambda _, runs: bool(runs)),
    ),
    "retry_run": (
        Wake(
            "queue",
            "a retried run waits for a worker",
            lambda _, run: run is not None and run.state is RunState.QUEUED,
        ),
    ),
    "settle_waiting": (
        Wake(
            "queue",
            "a released run waits for a worker",
            lambda _, run: run is not None and run.state is RunState.QUEUED,
        ),
        Wake(
            "done",
            "runs waiting on a skipped run can be settled",
            lambda _, run: run is not None and run.state is RunState.SKIPPED,
        ),
    ),
}
