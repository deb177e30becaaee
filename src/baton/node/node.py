"""A node: the loops that turn schedules into runs and runs into work.

Roles: ``scheduler`` fires due schedules; ``worker`` claims runs, executes them with
leases kept alive by a heartbeat, reports outcomes in batches, and reaps leases other
nodes abandoned. Every loop sleeps on the store's wake-up signal, so new work is seen
at once, and judges time by the store's clock.

Outcomes: an attempt's outcome is kept until the store has it. While the store is away
the node retries with a capped backoff, keeps renewing the leases of the runs whose
outcomes wait, and reaps nobody's lease before its own outcomes are written: a store
outage delays the history, it does not rewrite it (no run is executed twice, none is
recorded as lost).

Shutdown: stop claiming, give in-flight runs ``shutdown_grace`` to finish, then cancel
the rest and release their leases so another node can take them at once; outcomes not
yet written get the rest of the grace period, and the run ids of any still unwritten
are logged.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import random
import socket
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from baton.events import EventJob, Listener
from baton.jobs import Registry
from baton.model import NodeInfo, Run, RunState
from baton.node import logs
from baton.node.attempt import ScopeFactory, failure, run_attempt
from baton.node.dependencies import Resolver
from baton.node.events import EventPump
from baton.node.planning import FirePlanner
from baton.store._signal import Marker, Topic
from baton.store.base import Claimant, ClaimRequest, Completion, Outcome, Store

log = logging.getLogger("baton.node")

#: ``scheduler`` fires schedules (and starts event-started jobs), ``worker`` executes
#: runs; ``api`` does neither: a node of an HTTP server that only reports itself and
#: feeds listeners.
ROLES = frozenset({"scheduler", "worker", "api"})
WORK_ROLES = frozenset({"scheduler", "worker"})
EVENT_JOBS_CURSOR = "event-jobs"
#: Waits between tries to write outcomes while the store is away: doubling, capped.
_WRITE_RETRY_FIRST = 0.2
_WRITE_RETRY_CAP = 5.0


@dataclass(frozen=True, kw_only=True)
class NodeConfig:
    """Tunables of a node. The defaults suit a service with a few thousand schedules."""

    name: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    roles: frozenset[str] = WORK_ROLES
    concurrency: int = 10
    lease: timedelta = timedelta(seconds=30)
    fire_batch: int = 500
    shutdown_grace: timedelta = timedelta(seconds=30)
    max_idle: timedelta = timedelta(seconds=5)
    fire_ahead: timedelta = timedelta(milliseconds=100)
    """Fire and claim runs this long before they are due, then start them on time by the
    node's own timer: a store that stalls for less than this (a Redis AOF rewrite, an
    fsync, a network blip) makes no run late."""
    heartbeat_every: timedelta = timedelta(seconds=5)
    keep_runs: int = 100_000
    keep_runs_for: timedelta = timedelta(days=7)
    keep_events: int = 100_000
    prune_every: timedelta = timedelta(minutes=5)
    event_poll: timedelta = timedelta(milliseconds=200)
    """How often listeners and event-started jobs look for new events."""
    event_replay: timedelta = timedelta(hours=1)
    """Events older than this when first read start no job (after a long outage their
    runs may have been pruned, and a second run would follow)."""
    resolve_every: timedelta = timedelta(seconds=1)
    """How often a scheduler node looks at dependent schedules and waiting runs when no
    change woke it (deadlines; parents fired and claimed by one node wake nobody)."""
    tune_gc: bool = False
    """Freeze the heap at start and collect less often (see :func:`tune_gc`). It changes
    the whole process's garbage collector, so it is off for an embedded node and on for
    ``baton worker``, which owns its process."""

    def __post_init__(self) -> None:
        unknown = set(self.roles) - ROLES
        if unknown:
            raise ValueError(f"unknown node roles: {', '.join(sorted(unknown))}")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.lease < timedelta(seconds=1):
            raise ValueError("the lease must be at least one second")
        if self.resolve_every <= timedelta(0):
            raise ValueError("resolve_every must be longer than zero")
        if not timedelta(0) <= self.fire_ahead < self.lease:
            raise ValueError("fire_ahead must be at least zero and shorter than the lease")


@dataclass
class _Flight:
    run: Run
    task: asyncio.Task[None]
    cancel_reason: str | None = None
    lost: bool = False


class Node:
    """Runs the loops of its roles against one store until :meth:`stop` is called."""

    def __init__(
        self,
        *,
        store: Store,
        registry: Registry,
        scope: ScopeFactory = None,
        config: NodeConfig | None = None,
        listeners: Sequence[Listener] = (),
        event_jobs: Sequence[EventJob] = (),
        planner: FirePlanner | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.config = config or NodeConfig()
        self.listeners = listeners
        self.event_jobs = event_jobs
        self._scope = scope
        self._planner = planner or FirePlanner()
        self._resolver = Resolver(store=store, triggers=self._planner.triggers)
        self._rng = random.Random()
        self._flights: dict[str, _Flight] = {}
        self._completions: asyncio.Queue[Completion] = asyncio.Queue()
        self._pending: dict[str, Completion] = {}
        """Outcomes not yet in the store, by run id: kept (and their leases renewed)
        until written or refused."""
        self._pumps: list[EventPump] | None = None
        self._slot_freed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._closing = asyncio.Event()
        self._started_at: datetime | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def running(self) -> int:
        """Runs this node is executing now."""
        return len(self._flights)

    def stop(self) -> None:
        """Ask the node to shut down gracefully; :meth:`run` returns when it has."""
        self._stopping.set()
        self._slot_freed.set()

    @property
    def types(self) -> frozenset[str]:
        """The job types this node can run: the only ones it claims."""
        return frozenset(self.registry.names())

    async def prepare(self) -> None:
        """Read the store's clock and fix where the event readers start. Called by
        :meth:`run`; call it first to be sure that every event appended after it
        returns reaches this node's listeners and event-started jobs."""
        self._started_at = await self.store.now()
        self._pumps = self._event_pumps()
        for pump in self._pumps:
            await pump.place()

    async def run(self) -> None:
        """Run every loop of the node's roles until :meth:`stop`, then shut down.

        Loops are never cancelled in the middle of a store operation: they watch the
        stop signals and return by themselves. Claiming loops stop first; the loops that
        keep leases alive and record outcomes run until in-flight runs are drained.
        """
        if self._pumps is None:
            await self.prepare()
        assert self._pumps is not None
        if "worker" in self.config.roles and not self.types:
            log.warning(
                "node %s has the worker role but no job types: it will claim no runs "
                "(register job types, e.g. with --import)",
                self.name,
            )
        if self.config.tune_gc:
            tune_gc()
        front: list[Coroutine[Any, Any, None]] = []
        back: list[Coroutine[Any, Any, None]] = [self._heartbeat_loop()]
        if "scheduler" in self.config.roles:
            front += [self._scheduler_loop(), self._dependency_loop()]
        if "worker" in self.config.roles:
            front.append(self._worker_loop())
            back += [self._lease_loop(), self._reaper_loop(), self._completion_loop()]
        back += [pump.run(self._closing) for pump in self._pumps]
        front_tasks = [asyncio.create_task(loop) for loop in front]
        back_tasks = [asyncio.create_task(loop) for loop in back]
        stop_wait = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait(
                [*front_tasks, *back_tasks, stop_wait], return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            self.stop()
            stop_wait.cancel()
            await _finish(front_tasks)
            await self._drain_flights()
            self._closing.set()
            await _finish(back_tasks)
            await self._flush_completions()
            try:
                await self.store.remove_node(self.name)
            except Exception:
                log.warning("could not remove node %s from the store", self.name, exc_info=True)
        for task in [*front_tasks, *back_tasks]:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    def _event_pumps(self) -> list[EventPump]:
        """Listeners run on every node, from the end of the log; event-started jobs are
        started by scheduler nodes, from the cursor they share in the store."""
        pumps = []
        poll = self.config.event_poll.total_seconds()
        if self.listeners:
            pumps.append(
                EventPump(
                    store=self.store,
                    registry=self.registry,
                    listeners=self.listeners,
                    jobs=(),
                    poll=poll,
                )
            )
        if self.event_jobs and "scheduler" in self.config.roles:
            pumps.append(
                EventPump(
                    store=self.store,
                    registry=self.registry,
                    listeners=(),
                    jobs=self.event_jobs,
                    poll=poll,
                    cursor=EVENT_JOBS_CURSOR,
                    max_replay=self.config.event_replay,
                )
            )
        return pumps

    async def _pause(self, seconds: float, until: asyncio.Event) -> bool:
        """Sleep ``seconds`` unless ``until`` is set first; True if it was."""
        try:
            await asyncio.wait_for(until.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def _nap(self, seconds: float, since: Marker, topics: tuple[Topic, ...]) -> None:
        """Sleep until ``topics`` change after ``since``, ``seconds`` pass, or the node stops."""
        if self._stopping.is_set():
            return
        change = asyncio.ensure_future(
            self.store.wait_for_change(seconds, topics=topics, since=since)
        )
        stop = asyncio.ensure_future(self._stopping.wait())
        _, pending = await asyncio.wait({change, stop}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()

    async def _drain_flights(self) -> None:
        if not self._flights:
            return
        grace = self.config.shutdown_grace.total_seconds()
        pending = [f.task for f in self._flights.values()]
        _, still = await asyncio.wait(pending, timeout=grace)
        tokens = {}
        for flight in list(self._flights.values()):
            if flight.task in still:
                flight.lost = True  # released below, not completed
                tokens[flight.run.id] = flight.run.lease_token or ""
                flight.task.cancel()
        await asyncio.gather(*still, return_exceptions=True)
        if tokens:
            released = await self.store.release_runs(owner=self.name, tokens=tokens)
            log.info("released %d unfinished runs back to the queue", released)

    # -- scheduler -------------------------------------------------------------------------

    async def _scheduler_loop(self) -> None:
        while not self._stopping.is_set():
            marker = self.store.change_marker()
            try:
                fired = await self.store.fire_due(
                    limit=self.config.fire_batch,
                    planner=self._planner,
                    horizon=self.config.fire_ahead,
                    claim=self._claimant(),
                )
                await self._launch(fired.claimed)
                if len(fired.created) >= self.config.fire_batch:
                    continue  # more may be due right now
                delay = await self._seconds_until(await self.store.next_fire_time())
            except Exception:
                log.exception("the scheduler loop failed; retrying")
                delay = 1.0
            if delay > 0:
                await self._nap(delay, marker, ("schedules",))

    async def _dependency_loop(self) -> None:
        """Create the waiting runs of dependent schedules and settle waiting runs, woken
        when runs are created or end (see ``node/dependencies.py``)."""
        loop = asyncio.get_running_loop()
        every = self.config.resolve_every.total_seconds()
        idle = self.config.max_idle.total_seconds()
        while not self._stopping.is_set():
            marker = self.store.change_marker()
            try:
                await self._resolver.step(loop.time())
            except Exception:
                log.exception("resolving dependencies failed; retrying")
            await self._pause(0.05, self._stopping)  # let a burst of changes land first
            await self._nap(
                idle if self._resolver.idle else every, marker, ("queue", "done", "schedules")
            )

    def _claimant(self) -> Claimant | None:
        """Claim in the same step as firing when this node works and has free slots."""
        free = self.config.concurrency - len(self._flights)
        types = self.types
        if "worker" not in self.config.roles or free <= 0 or not types or self._stopping.is_set():
            return None
        return Claimant(owner=self.name, limit=free, lease=self.config.lease, types=types)

    async def _seconds_until(self, moment: datetime | None) -> float:
        """Seconds until ``moment`` less the fire-ahead margin, capped by ``max_idle``."""
        idle = self.config.max_idle.total_seconds()
        if moment is None:
            return idle
        wait = (moment - self.config.fire_ahead - await self.store.now()).total_seconds()
        return min(max(wait, 0.0), idle)

    # -- worker ------------------------------------------------------------------------------

    async def _worker_loop(self) -> None:
        while not self._stopping.is_set():
            free = self.config.concurrency - len(self._flights)
            if free <= 0:
                self._slot_freed.clear()
                if not self._stopping.is_set():
                    await self._slot_freed.wait()
                continue
            marker = self.store.change_marker()
            request = ClaimRequest(
                owner=self.name,
                limit=free,
                lease=self.config.lease,
                horizon=self.config.fire_ahead,
                types=self.types,
            )
            try:
                claimed = await self.store.claim_runs(request)
            except Exception:
                log.exception("claiming runs failed; retrying")
                await self._pause(1.0, self._stopping)
                continue
            await self._launch(claimed)
            if len(claimed) < free:
                await self._idle(marker)

    async def _idle(self, marker: Marker) -> None:
        """Sleep until the next run is due, or new work arrives.

        A run that is due but was not claimed is held back by its schedule's
        max_concurrent: then a finished run (topic ``done``) may free it too.
        """
        idle = self.config.max_idle.total_seconds()
        try:
            delay = await self._seconds_until(await self.store.next_due_run_time())
        except Exception:
            log.exception("reading the next due run failed")
            delay = 1.0
        if delay > 0:
            await self._nap(delay, marker, ("queue",))
        else:
            await self._nap(idle, marker, ("queue", "done"))

    async def _launch(self, runs: list[Run]) -> None:
        """Start claimed runs; one claimed ahead of its due time waits to start on time.

        The wait is measured against the store's clock read now, after the claim came
        back, so the time the claim took is not added to the wait.
        """
        if not runs:
            return
        base = asyncio.get_running_loop().time()
        # The store's time at the claim is lease_expires_at - lease; a run due by then
        # starts at once, and only runs claimed ahead need the store's clock read again.
        lease = self.config.lease
        ahead = [r for r in runs if r.lease_expires_at and r.due_at > r.lease_expires_at - lease]
        store_now = await self.store.now() if ahead else None
        for run in runs:
            missed = _missed(run)
            if missed is not None:
                self._completions.put_nowait(
                    Completion(
                        run_id=run.id,
                        lease_token=run.lease_token or "",
                        outcome=Outcome(state=RunState.SKIPPED, note=missed),
                    )
                )
                continue
            early = (run.due_at - store_now).total_seconds() if store_now else 0.0
            start_at = base + max(early, 0.0)
            task = asyncio.create_task(self._execute(run, start_at), name=f"baton-run:{run.id}")
            self._flights[run.id] = _Flight(run=run, task=task)

    async def _execute(self, run: Run, start_at: float) -> None:
        try:
            wait = start_at - asyncio.get_running_loop().time()
            if wait > 0:
                await asyncio.sleep(wait)
            outcome = await run_attempt(
                run,
                registry=self.registry,
                scope=self._scope,
                node=self.name,
                rng=self._rng,
                gate=self.store.pass_breaker,
            )
        except asyncio.CancelledError:
            flight = self._flights.get(run.id)
            if flight is None or flight.lost:
                raise
            reason = flight.cancel_reason or "cancelled"
            outcome = Outcome(state=RunState.CANCELLED, note=reason)
        except BaseException as exc:  # SystemExit and friends from job code
            outcome = failure(run, exc, self._rng)
        finally:
            flight = self._flights.pop(run.id, None)
            self._slot_freed.set()
        if flight is not None and flight.lost:
            return
        logs.outcome(run, outcome)
        self._completions.put_nowait(
            Completion(run_id=run.id, lease_token=run.lease_token or "", outcome=outcome)
        )

    async def _completion_loop(self) -> None:
        """Write outcomes as they come; while the store refuses to answer, keep them and
        try again with a capped backoff (they are never dropped while the node lives)."""
        delay = _WRITE_RETRY_FIRST
        while not self._closing.is_set():
            if not self._pending and self._completions.empty():
                await self._next_completion()
                continue
            await asyncio.sleep(0)  # let completions of the same tick join the batch
            if await self._write_pending():
                delay = _WRITE_RETRY_FIRST
            else:
                await self._pause(delay, self._closing)
                delay = min(delay * 2, _WRITE_RETRY_CAP)

    async def _next_completion(self) -> None:
        """Wait for an outcome to write (or for the node to close)."""
        got = asyncio.ensure_future(self._completions.get())
        closing = asyncio.ensure_future(self._closing.wait())
        await asyncio.wait({got, closing}, return_when=asyncio.FIRST_COMPLETED)
        closing.cancel()
        if got.done():
            completion = got.result()
            self._pending[completion.run_id] = completion
        else:
            got.cancel()

    async def _write_pending(self) -> bool:
        """Try once to write every pending outcome; False if the store failed (they stay)."""
        while not self._completions.empty():
            completion = self._completions.get_nowait()
            self._pending[completion.run_id] = completion
        if not self._pending:
            return True
        items = list(self._pending.values())
        try:
            results = await self.store.complete_runs(items)
        except Exception as exc:
            log.warning(
                "could not record %d run outcomes (%s); keeping them and trying again",
                len(items),
                exc,
            )
            return False
        for completion, ok in zip(items, results, strict=True):
            # The reaper writes too: another call may have taken this one already.
            if self._pending.get(completion.run_id) is completion:
                del self._pending[completion.run_id]
            if not ok:
                logs.lease_lost(completion.run_id, None, doing="its outcome was not recorded")
        return True

    async def _flush_completions(self) -> None:
        """At shutdown: write what is pending within the grace period, then name the
        runs whose outcomes could not be written (their leases will expire and other
        nodes will run them again)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.shutdown_grace.total_seconds()
        delay = _WRITE_RETRY_FIRST
        while not await self._write_pending():
            if loop.time() + delay > deadline:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, _WRITE_RETRY_CAP)
        if self._pending:
            log.error(
                "shutting down without recording the outcomes of runs %s: the store did "
                "not answer; their leases will expire and they will run again",
                ", ".join(sorted(self._pending)),
            )

    def _held_tokens(self) -> dict[str, str]:
        """Leases this node must keep: runs in flight, and runs whose outcome waits."""
        tokens = {rid: f.run.lease_token or "" for rid, f in self._flights.items()}
        tokens.update((rid, c.lease_token) for rid, c in self._pending.items())
        return tokens

    async def _renew_leases(self) -> None:
        tokens = self._held_tokens()
        if not tokens:
            return
        status = await self.store.extend_leases(
            owner=self.name, tokens=tokens, lease=self.config.lease
        )
        for run_id in tokens.keys() - status.kept:
            self._abandon(run_id, lost=True, reason="lease lost")
        for run_id in status.cancel_requested:
            self._abandon(run_id, lost=False, reason="cancelled on request")

    async def _lease_loop(self) -> None:
        every = self.config.lease.total_seconds() / 3
        while not await self._pause(every, self._closing):
            try:
                await self._renew_leases()
            except Exception as exc:
                log.warning("could not extend this node's leases (%s); trying again", exc)

    def _abandon(self, run_id: str, *, lost: bool, reason: str) -> None:
        flight = self._flights.get(run_id)
        if flight is None:
            return
        flight.lost = lost
        flight.cancel_reason = reason
        if lost:
            logs.lease_lost(run_id, flight.run.type, doing="stopping it here")
        flight.task.cancel()

    async def _reaper_loop(self) -> None:
        every = max(self.config.lease.total_seconds() / 4, 0.25)
        loop = asyncio.get_running_loop()
        pruned_at = loop.time()
        while not await self._pause(every, self._closing):
            # This node's own outcomes first, so that none of its runs looks abandoned;
            # while the store refuses them, reap nothing.
            if not await self._write_pending():
                continue
            try:
                # After a store outage every lease may look expired, this node's too:
                # renew its own before judging anyone's.
                await self._renew_leases()
                reaped = await self.store.reap_expired()
                for run in reaped:
                    logs.reaped(run)
                if loop.time() - pruned_at >= self.config.prune_every.total_seconds():
                    pruned_at = loop.time()
                    await self._prune()
            except Exception:
                log.exception("the reaper failed")

    async def _prune(self) -> None:
        cfg = self.config
        await self.store.prune_runs(keep=cfg.keep_runs, older_than=cfg.keep_runs_for)
        await self.store.prune_events(keep=cfg.keep_events)

    # -- heartbeat ---------------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        every = self.config.heartbeat_every.total_seconds()
        while True:
            try:
                await self.store.heartbeat(self.info())
            except Exception:
                log.exception("the heartbeat failed")
            if await self._pause(every, self._closing):
                return

    def info(self) -> NodeInfo:
        """This node as it reports itself in heartbeats."""
        started = self._started_at
        assert started is not None
        return NodeInfo(
            name=self.name,
            roles=tuple(sorted(self.config.roles)),
            host=socket.gethostname(),
            pid=os.getpid(),
            concurrency=self.config.concurrency,
            running=len(self._flights),
            types=tuple(sorted(self.types)) if "worker" in self.config.roles else (),
            started_at=started,
            heartbeat_at=started,
        )


def _missed(run: Run) -> str | None:
    """Why a claimed fire is skipped instead of run: it waited in the queue past its
    ``misfire_grace`` (a fire that never started; reruns and manual runs always run)."""
    grace = run.policy.misfire_grace
    if grace is None or run.attempt != 1 or run.started_at is None:
        return None
    waited = run.started_at - run.due_at
    if waited <= grace or not run.is_fire:
        return None
    return (
        f"missed: waited {waited.total_seconds():.0f} s in the queue, longer than its "
        f"misfire_grace of {grace.total_seconds():g} s"
    )


def tune_gc() -> None:
    """Keep garbage collection pauses short in a process whose main work is a node.

    A busy node allocates a run's worth of small objects per run; with CPython's default
    thresholds, full collections then walk every object alive, startup state included,
    and pause the event loop for tens of milliseconds (p99 lateness 66 ms instead of 6 ms
    at 5,000 fires/s in docs/benchmarks.md). Freezing moves what exists at start (modules,
    schemas, caches) out of the collector's sight; higher thresholds collect less often.
    """
    gc.freeze()
    gc.set_threshold(20_000, 20, 100)


async def _finish(tasks: list[asyncio.Task[None]], patience: float = 10.0) -> None:
    """Wait for loops to return by themselves; cancel only those stuck past ``patience``."""
    if not tasks:
        return
    _, stuck = await asyncio.wait(tasks, timeout=patience)
    for task in stuck:
        log.warning("a node loop did not stop in time; cancelling it")
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
