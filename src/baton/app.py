"""The facade an application holds: one object, used as an async context manager.

::

    async with Baton(store="sqlite:///./baton.db", jobs=[WorkerMetrics]) as baton:
        await baton.add(WorkerMetrics(worker_id="w-1"), id="worker-metrics:w-1",
                        trigger={"interval": {"seconds": 300}})
        await baton.serve()          # or pass roles=... to run the node in the background
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
import signal
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from pydantic import BaseModel, ValidationError

from baton._extras import translating_missing
from baton._input import (
    MAX_RUN_ID_LENGTH,
    POSITION_PATTERN,
    RUN_CURSOR_PATTERN,
    check_json,
    check_key,
    check_run_id,
    id_problem,
    text_problem,
    time_problem,
)
from baton.errors import (
    BreakerNotFoundError,
    ConflictError,
    InvalidInputError,
    InvalidPolicyError,
    InvalidTriggerError,
    RunNotFoundError,
    RunStateError,
    ScheduleInUseError,
    ScheduleNotFoundError,
)
from baton.events import EventJob, Listener, ListenerFunc
from baton.jobs import JobType, Registry, job_type_of
from baton.model import (
    MAX_TIMEOUT,
    Breaker,
    Dependencies,
    Event,
    NodeInfo,
    Page,
    Policy,
    Run,
    RunState,
    Schedule,
    ScheduleState,
    to_millisecond,
    utc_iso,
)
from baton.node import FirePlanner, Node, NodeConfig
from baton.node.dependencies import after_spec, dependent_schedules, rearm_dependents
from baton.settings import DEFAULT_STORE_URL
from baton.store import Store, store_from_url
from baton.store.base import RunFilter, ScheduleFilter, StoreStats
from baton.triggers import Trigger, TriggerCache, parse_trigger

#: A node silent longer than this is taken for gone (it heartbeats every few seconds).
NODE_SILENCE = timedelta(seconds=30)


class Baton:
    """A store, the application's job types, its dependency container and a node.

    ``store`` is a URL (``sqlite:///./baton.db``, ``memory://``) or a :class:`Store`.
    ``jobs`` are ``@job``-decorated classes or functions (or pass a ready ``registry``).
    ``container`` is a dishka ``AsyncContainer``: a request scope is opened for each run.
    With ``roles`` (e.g. ``{"scheduler", "worker"}``) the node runs in the background
    while the context is open; otherwise call :meth:`serve`.
    """

    def __init__(
        self,
        *,
        store: str | Store = DEFAULT_STORE_URL,
        jobs: Iterable[Any] = (),
        registry: Registry | None = None,
        container: Any | None = None,
        node: NodeConfig | None = None,
        roles: Iterable[str] | None = None,
    ) -> None:
        with translating_missing():
            self.store = store_from_url(store) if isinstance(store, str) else store
        self.registry = registry or Registry()
        for target in jobs:
            self.registry.add(target)
        self._container = container
        config = node or NodeConfig()
        if roles is not None:
            config = dataclasses.replace(config, roles=frozenset(roles))
        self.node_config = config
        self._background = roles is not None
        self._listeners: list[Listener] = []
        self._event_jobs: list[EventJob] = []
        self._node: Node | None = None
        self._node_task: asyncio.Task[None] | None = None
        self._triggers = TriggerCache()

    async def __aenter__(self) -> Self:
        await self.store.open()
        if self._background:
            node = self._make_node()
            try:
                await node.prepare()  # listeners see every event appended from now on
            except BaseException:
                await self.store.close()
                raise
            self._node = node
            self._node_task = asyncio.create_task(node.run(), name="baton-node")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._node is not None and self._node_task is not None:
                self._node.stop()
                await self._node_task
        finally:
            self._node = self._node_task = None
            await self.store.close()

    def _make_node(self) -> Node:
        return Node(
            store=self.store,
            registry=self.registry,
            scope=self._container,  # calling a dishka container opens a request scope
            config=self.node_config,
            listeners=self._listeners,
            event_jobs=self._event_jobs,
            planner=FirePlanner(triggers=self._triggers),
        )

    @property
    def node(self) -> Node | None:
        """The node running in this process, if any."""
        return self._node

    async def serve(self, *, handle_signals: bool = True) -> None:
        """Run the node in the foreground until SIGTERM/SIGINT (or :meth:`stop`)."""
        self._node = self._make_node()
        loop = asyncio.get_running_loop()
        installed = []
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, self._node.stop)
                    installed.append(sig)
        try:
            await self._node.run()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            self._node = None

    def stop(self) -> None:
        """Ask a node started by :meth:`serve` to shut down gracefully."""
        if self._node is not None:
            self._node.stop()

    # -- events ----------------------------------------------------------------------------

    def on(self, pattern: str) -> Callable[[ListenerFunc], ListenerFunc]:
        """Decorator: call the function for every event whose kind matches ``pattern``
        (shell-style: ``run.*``) on this node. Register before the node starts."""

        def register(func: ListenerFunc) -> ListenerFunc:
            self.add_listener(pattern, func)
            return func

        return register

    def add_listener(self, pattern: str, func: ListenerFunc) -> None:
        """Call ``func`` (plain or async) with each event matching ``pattern`` on this node.

        Listeners see the log from the moment the node starts, on every node that
        registered them; for a side effect that must happen once, use :meth:`on_event`.
        """
        self._listeners.append(Listener(pattern, func))

    def on_event(
        self,
        pattern: str,
        job: Any,
        *,
        payload: Callable[[Event], Any] | None = None,
        name: str | None = None,
        policy: Policy | Mapping[str, Any] | None = None,
    ) -> EventJob:
        """Start one run of ``job`` for every event matching ``pattern``, once overall.

        ``payload(event)`` gives the run's payload (default: none). The run's id is
        ``<name>@event:<event id>`` (``name`` defaults to the job type's name), so the
        nodes that all read the event enqueue one run between them.
        """
        job_type = self.registry.get(job if isinstance(job, str) else job_type_of(job).name)
        spec_name = _checked_id(name or job_type.name, "name")
        if any(existing.name == spec_name for existing in self._event_jobs):
            raise InvalidInputError(f"an event job is already named {spec_name!r}", field="name")
        spec = EventJob(
            name=spec_name,
            pattern=pattern,
            job=job_type.name,
            policy=_policy(policy),
            **({"payload": payload} if payload is not None else {}),
        )
        self._event_jobs.append(spec)
        return spec

    async def emit(self, kind: str, subject: str, data: Mapping[str, Any] | None = None) -> Event:
        """Append an application event to the log (listeners and event jobs see it)."""
        _checked_id(kind, "kind")
        _checked_id(subject, "subject")
        body = dict(data or {})
        check_json(body, "data")
        try:
            json.dumps(body, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"must be JSON-serialisable ({exc})", field="data") from None
        return await self.store.append_event(kind, subject, body)

    async def events(self, *, after: str | None = None, limit: int = 100) -> list[Event]:
        """Events of the log in order, after the event id ``after``."""
        position = None if after is None else _position(after, "after", POSITION_PATTERN)
        return await self.store.read_events(after=position, limit=_limit(limit))

    async def nodes(self) -> list[NodeInfo]:
        """The nodes heartbeating into the store."""
        return await self.store.list_nodes()

    async def breakers(self) -> list[Breaker]:
        """Every circuit breaker the store has seen, by key, in its current state."""
        return await self.store.breakers()

    async def reset_breaker(self, key: str, *, reason: str = "reset on request") -> Breaker:
        """Close the breaker ``key`` at once; :class:`NotFoundError` if there is none."""
        _filter(key, "key")  # bounded, valid Unicode: what a store can look up
        found = await self.store.reset_breaker(key, reason=reason)
        if found is None:
            raise BreakerNotFoundError(key)
        return found

    async def unserved(self, *, scan: int = 10_000) -> dict[str, int]:
        """Waiting runs that no live worker can run, counted by job type.

        A worker claims only runs of the job types it registered, so a run whose type no
        live worker knows waits in the queue (visibly, here and in ``baton check``)
        instead of failing. Looks at the newest ``scan`` claimable runs at most.
        """
        now = await self.store.now()
        served: set[str] = set()
        for node in await self.store.list_nodes():
            if "worker" in node.roles and now - node.heartbeat_at <= NODE_SILENCE:
                served.update(node.types)
        waiting: dict[str, int] = {}
        cursor = None
        claimable = RunFilter(states=frozenset({RunState.QUEUED, RunState.RETRYING}))
        while scan > 0:
            page = await self.store.list_runs(claimable, cursor=cursor, limit=min(scan, 1000))
            for run in page.items:
                if run.type not in served:
                    waiting[run.type] = waiting.get(run.type, 0) + 1
            scan -= len(page.items)
            if not (cursor := page.next_cursor):
                break
        return waiting

    async def stats(self) -> StoreStats:
        """Schedules by state, queued and running runs."""
        return await self.store.stats()

    # -- schedules -------------------------------------------------------------------------

    async def add(
        self,
        job: Any,
        *,
        id: str,
        trigger: Mapping[str, Any],
        payload: Any = None,
        policy: Policy | Mapping[str, Any] | None = None,
        replace: bool = False,
        paused: bool = False,
    ) -> Schedule:
        """Add (or with ``replace``, replace) the schedule ``id``.

        ``job`` is a job type's name, its class or function, or an instance of a job
        class (whose fields are then the payload). The payload is validated against the
        job type's model; the trigger spec and policy are validated too. Any error is
        raised before anything is stored.
        """
        schedule = self._build(
            job,
            id=id,
            trigger=trigger,
            payload=payload,
            policy=policy,
            paused=paused,
            now=to_millisecond(await self.store.now()),
        )
        await self._check_parents([schedule])
        return await self.store.add_schedule(schedule, replace=replace)

    async def add_many(
        self, entries: Iterable[Mapping[str, Any]], *, replace: bool = False
    ) -> list[Schedule]:
        """Add many schedules at once; each entry holds the keyword arguments of :meth:`add`
        (``job``, ``id``, ``trigger``, ``payload``, ``policy``, ``paused``).

        Every entry is validated before anything is stored (errors name the entry:
        ``schedules[3].payload.x``); then they are stored in atomic chunks of 10,000.
        """
        now = to_millisecond(await self.store.now())
        triggers: dict[str, tuple[Trigger, dict[str, Any]]] = {}  # entries often share one spec
        built: list[Schedule] = []
        for index, entry in enumerate(entries):
            try:
                built.append(self._build(**entry, now=now, triggers=triggers))
            except InvalidInputError as exc:
                raise exc.within("schedules", index) from None
            except TypeError as exc:
                raise InvalidInputError(str(exc)).within("schedules", index) from None
        if len({s.id for s in built}) != len(built):
            raise InvalidInputError("two entries have the same id", field="schedules")
        await self._check_parents(built)
        stored: list[Schedule] = []
        for start in range(0, len(built), 10_000):
            chunk = built[start : start + 10_000]
            stored += await self.store.add_schedules(chunk, replace=replace)
        return stored

    def _build(
        self,
        job: Any,
        *,
        id: str,
        trigger: Mapping[str, Any],
        now: datetime,
        payload: Any = None,
        policy: Policy | Mapping[str, Any] | None = None,
        paused: bool = False,
        triggers: dict[str, tuple[Trigger, dict[str, Any]]] | None = None,
    ) -> Schedule:
        job_type, data = self._resolve_job(job, payload)
        schedule_id = _checked_id(id, "id")
        check_json(trigger, "trigger", InvalidTriggerError)
        parsed, spec = _parsed(trigger, now, triggers if triggers is not None else {})
        first = parsed.first_fire(now)
        if first is None and parsed.after is None:  # a dependent one fires with its parents
            raise InvalidTriggerError("never fires: its end is in the past", field="trigger")
        first = first.astimezone(UTC) if first else None
        # Every part was validated above: construct without validating it all again.
        return Schedule.trusted(
            dict(
                id=schedule_id,
                type=job_type.name,
                payload=data,
                trigger=spec,
                policy=_policy(policy),
                state=ScheduleState.PAUSED if paused else ScheduleState.ACTIVE,
                next_fire_at=None if paused else first,
                last_fire_at=None,
                version=1,  # what the store makes it when it is new
                created_at=now,
                updated_at=now,
            )
        )

    async def _check_parents(self, schedules: Iterable[Schedule]) -> None:
        """Every parent of a dependent schedule exists (stored or added along with it),
        and no chain of ``after`` comes back to where it started."""
        new = {s.id: s for s in schedules}
        if not any(after_spec(s, self._triggers) for s in new.values()):
            return
        graph = await dependent_schedules(self.store, self._triggers)
        graph.update(new)
        for schedule in new.values():
            spec = after_spec(schedule, self._triggers)
            for parent in spec.schedules if spec else ():
                if parent not in new and await self.store.get_schedule(parent) is None:
                    raise InvalidTriggerError(
                        f"no schedule has the id {parent!r}", field="trigger.after.schedules"
                    )
        for sid in new:
            cycle = _cycle_from(sid, graph, self._triggers)
            if cycle:
                raise InvalidTriggerError(
                    "the dependencies form a cycle: " + " -> ".join(cycle),
                    field="trigger.after.schedules",
                )

    def _resolve_job(self, job: Any, payload: Any) -> tuple[JobType, dict[str, Any]]:
        if isinstance(job, str):
            job_type = self.registry.get(job)
        elif isinstance(job, BaseModel) and not isinstance(job, type):
            job_type = self.registry.get(job_type_of(type(job)).name)
            if payload is not None:
                raise InvalidInputError(
                    "give a job instance or a payload, not both", field="payload"
                )
            payload = job
        else:
            job_type = self.registry.get(job_type_of(job).name)
        return job_type, job_type.dump_payload(payload)

    async def get(self, schedule_id: str) -> Schedule:
        """The schedule ``schedule_id``; :class:`ScheduleNotFoundError` if there is none."""
        found = await self.store.get_schedule(_checked_id(schedule_id, "id"))
        if found is None:
            raise ScheduleNotFoundError(schedule_id)
        return found

    async def list(
        self,
        *,
        type: str | None = None,
        state: ScheduleState | str | None = None,
        id_prefix: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> Page[Schedule]:
        """One page of schedules by id; pass the page's ``next_cursor`` for the next."""
        flt = ScheduleFilter(
            type=_filter(type, "type"),
            state=_enum(ScheduleState, state, "state"),
            id_prefix=_filter(id_prefix, "id_prefix"),
        )
        position = _filter(cursor, "cursor")
        return await self.store.list_schedules(flt, cursor=position, limit=_limit(limit))

    async def remove(
        self,
        schedule_id: str,
        *,
        reason: str = "removed on request",
        with_dependents: bool = False,
    ) -> None:
        """Delete a schedule (its runs stay as history).

        A schedule that others depend on (``after``) is refused with
        :class:`ScheduleInUseError` naming them, unless ``with_dependents``: then they
        are removed too (and theirs, down the chain), dependents first.
        """
        _checked_id(schedule_id, "id")
        graph = await dependent_schedules(self.store, self._triggers)
        doomed = _dependents_of(schedule_id, graph, self._triggers)
        if doomed and not with_dependents:
            direct = [d for d in doomed if schedule_id in _parents(graph[d], self._triggers)]
            raise ScheduleInUseError(schedule_id, direct)
        for sid in doomed:
            await self.store.remove_schedule(sid, reason=f"{reason} (a parent, {schedule_id})")
        if not await self.store.remove_schedule(schedule_id, reason=reason):
            raise ScheduleNotFoundError(schedule_id)

    async def pause(self, schedule_id: str) -> Schedule:
        """Stop firing a schedule until :meth:`resume`."""
        _checked_id(schedule_id, "id")
        found = await self.store.set_schedule_state(
            schedule_id, ScheduleState.PAUSED, next_fire_at=None
        )
        if found is None:
            raise ScheduleNotFoundError(schedule_id)
        return found

    async def resume(self, schedule_id: str) -> Schedule:
        """Fire a paused schedule again, from its next tick after now (missed ticks are not run)."""
        schedule = await self.get(schedule_id)
        now = await self.store.now()
        trigger = self._triggers.trigger_of(schedule)
        first = trigger.first_fire(now)
        if first is not None and _missed_once(trigger, first, schedule.policy, now):
            raise ConflictError(
                f"schedule {schedule.id!r} was to fire once, at {utc_iso(first)}, "
                "longer ago than its misfire grace: remove it or add it again"
            )
        found = await self.store.set_schedule_state(
            schedule_id, ScheduleState.ACTIVE, next_fire_at=first
        )
        if found is None:
            raise ScheduleNotFoundError(schedule_id)
        return found

    async def trigger(self, schedule_id: str, *, key: str | None = None) -> Run:
        """Queue a run of the schedule now, with the id ``<schedule id>@manual:<key>``.

        A repeated ``key`` returns the first run (default: a random key). A key has no
        ``@``, so the id can never be a fire's (``<schedule id>@<fire time>``).
        """
        suffix = uuid.uuid4().hex if key is None else check_key(key, "key")
        schedule = await self.get(schedule_id)
        rid = f"{schedule.id}@manual:{suffix}"
        now = await self.store.now()
        run = Run(
            id=rid,
            schedule_id=schedule.id,
            type=schedule.type,
            payload=schedule.payload,
            fire_at=now,
            due_at=now,
            policy=schedule.policy,
            created_at=now,
        )
        stored, _ = await self.store.enqueue_run(run)
        return stored

    async def enqueue(
        self,
        job: Any,
        *,
        key: str,
        payload: Any = None,
        policy: Policy | Mapping[str, Any] | None = None,
        due_at: datetime | None = None,
        after: Iterable[str] = (),
        after_timeout: timedelta = timedelta(hours=1),
    ) -> Run:
        """Queue a one-off run with no schedule, once per ``key`` (idempotent).

        The run's id is ``<job type>@once:<key>``: a key has no ``@``, so the id can
        never be a fire's of a schedule.

        With ``after`` (run ids, which must exist), the run is ``waiting`` until every
        one of them succeeded, then queued; if one ends otherwise, or ``after_timeout``
        passes first, it is skipped with the reason in its note.
        """
        suffix = check_key(key, "key")
        job_type, data = self._resolve_job(job, payload)
        if due_at is not None:
            _check_time(due_at, "due_at")
        now = await self.store.now()
        if isinstance(after, str):
            raise InvalidInputError("must be a list of run ids", field="after")
        deps = await self._dependencies(tuple(after), after_timeout)
        run = Run(
            id=f"{job_type.name}@once:{suffix}",
            schedule_id=None,
            type=job_type.name,
            payload=data,
            fire_at=now,
            due_at=now + after_timeout if deps else due_at or now,
            policy=_policy(policy),
            created_at=now,
            state=RunState.WAITING if deps else RunState.QUEUED,
            after=deps,
        )
        stored, _ = await self.store.enqueue_run(run)
        return stored

    async def _dependencies(self, after: tuple[str, ...], wait: timedelta) -> Dependencies | None:
        if not after:
            return None
        if not timedelta(0) < wait <= MAX_TIMEOUT:
            raise InvalidInputError(
                f"must be a positive duration of at most {MAX_TIMEOUT.days} days",
                field="after_timeout",
            )
        try:
            deps = Dependencies(runs=after)
        except ValidationError as exc:
            raise InvalidInputError.from_validation(exc).within("after") from None
        for index, rid in enumerate(deps.runs):
            check_run_id(rid, f"after[{index}]")
            if await self.store.get_run(rid) is None:
                raise InvalidInputError(f"no run has the id {rid!r}", field=f"after[{index}]")
        return deps

    # -- runs --------------------------------------------------------------------------------

    async def runs(
        self,
        *,
        schedule_id: str | None = None,
        type: str | None = None,
        state: RunState | str | Iterable[RunState | str] | None = None,
        since: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> Page[Run]:
        """One page of runs, newest first."""
        if state is None:
            states: frozenset[RunState] = frozenset()
        elif isinstance(state, str):
            states = frozenset({_enum(RunState, state, "state")})
        else:
            states = frozenset(_enum(RunState, s, "state") for s in state)
        if since is not None:
            _check_time(since, "since")
        flt = RunFilter(
            schedule_id=_filter(schedule_id, "job"),
            type=_filter(type, "type"),
            states=states,
            since=since,
        )
        position = None if cursor is None else _position(cursor, "cursor", RUN_CURSOR_PATTERN)
        return await self.store.list_runs(flt, cursor=position, limit=_limit(limit))

    async def get_run(self, run_id: str) -> Run:
        """The run ``run_id``; :class:`RunNotFoundError` if there is none."""
        found = await self.store.get_run(check_run_id(run_id))
        if found is None:
            raise RunNotFoundError(run_id)
        return found

    async def parents(self, run: Run) -> dict[str, Run | None]:
        """The runs that ``run`` waits (or waited) for, by id, as they are now; ``None``
        for one that no longer exists. Empty for a run that waits for none."""
        ids = run.after.runs if run.after else ()
        return {rid: await self.store.get_run(rid) for rid in ids}

    async def retry_run(self, run_id: str, *, reason: str = "retry requested") -> Run:
        """Give a failed, dead, cancelled or skipped run one more attempt (same id,
        attempt + 1).

        A run that is queued or running is returned as it is; a succeeded one raises
        :class:`RunStateError`. The runs of dependent schedules that were skipped for
        the same tick because of this run wait for it again (attempt + 1): they start
        if this attempt succeeds.
        """
        before = await self.store.get_run(check_run_id(run_id))
        found = await self.store.retry_run(run_id, reason=reason)
        if found is None:
            raise RunNotFoundError(run_id)
        if found.state is RunState.SUCCEEDED:
            raise RunStateError(run_id, "succeeded: there is nothing to retry")
        if before is not None and found.attempt > before.attempt and found.is_fire:
            graph = await dependent_schedules(self.store, self._triggers)
            await rearm_dependents(self.store, found, graph, self._triggers)
        return found

    async def cancel_run(self, run_id: str, *, reason: str = "cancelled on request") -> Run:
        """Cancel a queued run, or ask the node running it to stop it.

        A cancelled run is returned as it is; one that already succeeded, failed or died
        raises :class:`RunStateError` (there is nothing left to cancel).
        """
        found = await self.store.cancel_run(check_run_id(run_id), reason=reason)
        if found is None:
            raise RunNotFoundError(run_id)
        if found.state.finished and found.state is not RunState.CANCELLED:
            raise RunStateError(run_id, f"already {found.state.value}: there is nothing to cancel")
        return found


def _parents(schedule: Schedule, triggers: TriggerCache) -> tuple[str, ...]:
    spec = after_spec(schedule, triggers)
    return spec.schedules if spec else ()


def _cycle_from(
    start: str, graph: Mapping[str, Schedule], triggers: TriggerCache
) -> list[str] | None:
    """A chain of parents from ``start`` back to ``start`` (``[a, b, a]``), if any."""
    path: list[str] = [start]
    seen: set[str] = set()

    def walk(sid: str) -> list[str] | None:
        node = graph.get(sid)
        for parent in _parents(node, triggers) if node else ():
            if parent == start:
                return [*path, start]
            if parent in seen:
                continue
            seen.add(parent)
            path.append(parent)
            found = walk(parent)
            if found:
                return found
            path.pop()
        return None

    return walk(start)


def _dependents_of(
    schedule_id: str, graph: Mapping[str, Schedule], triggers: TriggerCache
) -> list[str]:
    """Every schedule that waits on ``schedule_id``, directly or down a chain, each
    listed after the schedules that depend on it (the order to remove them in)."""
    children: dict[str, list[str]] = {}
    for sid, schedule in graph.items():
        for parent in _parents(schedule, triggers):
            children.setdefault(parent, []).append(sid)
    order: list[str] = []

    def visit(sid: str) -> None:
        for child in sorted(children.get(sid, ())):
            if child not in order and child != schedule_id:
                visit(child)
                if child not in order:
                    order.append(child)

    visit(schedule_id)
    return order


def _parsed(
    spec: Mapping[str, Any], now: datetime, cache: dict[str, tuple[Trigger, dict[str, Any]]]
) -> tuple[Trigger, dict[str, Any]]:
    """A trigger spec parsed, and its normalised JSON; entries of a bulk add that share a
    spec share both (records are frozen: nothing mutates a schedule's trigger)."""
    try:
        key = json.dumps(spec, sort_keys=True, default=str)
    except (TypeError, ValueError):
        parsed = parse_trigger(spec, now=now)
        return parsed, parsed.to_json()
    found = cache.get(key)
    if found is None:
        parsed = parse_trigger(spec, now=now)
        found = cache[key] = (parsed, parsed.to_json())
    return found


_DEFAULT_POLICY = Policy()  # frozen: one instance serves every schedule without a policy


def _policy(policy: Policy | Mapping[str, Any] | None) -> Policy:
    if policy is None:
        return _DEFAULT_POLICY
    if isinstance(policy, Policy):
        return policy
    try:
        return Policy.model_validate(dict(policy))
    except ValidationError as exc:
        raise InvalidPolicyError.from_validation(exc).within("policy") from None


def _checked_id(value: str, field: str) -> str:
    problem = id_problem(value)
    if problem is not None:
        raise InvalidInputError(problem, field=field)
    return value


def _missed_once(trigger: Trigger, first: datetime, policy: Policy, now: datetime) -> bool:
    """A one-off whose time passed beyond its grace: resuming it would run it late."""
    grace = policy.misfire_grace
    if trigger.kind != "date" or grace is None:
        return False
    return first + grace < now


def _filter(value: str | None, field: str) -> str | None:
    """A filter or a schedule cursor: compared with ids, so any text an id could be
    compared with (at most a run id's length, valid Unicode)."""
    if value is None:
        return None
    problem = None if isinstance(value, str) else "must be a string"
    problem = problem or text_problem(value, MAX_RUN_ID_LENGTH, printable=False)
    if problem is not None:
        raise InvalidInputError(problem, field=field)
    return value


def _position(value: str, field: str, pattern: re.Pattern[str]) -> str:
    """A run cursor or an event id given back by a caller, as ``pattern`` has it (numbers
    that fit a signed 64-bit integer). Anything else is refused before it reaches a store."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidInputError("is not a value this store gave out", field=field)
    return value


def _check_time(moment: datetime, field: str) -> None:
    if moment.tzinfo is None:
        raise InvalidInputError("must carry a time zone", field=field)
    problem = time_problem(moment)
    if problem is not None:
        raise InvalidInputError(problem, field=field)


def _enum(kind: type[Any], value: Any, field: str) -> Any:
    if value is None or isinstance(value, kind):
        return value
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise InvalidInputError(f"must be one of {allowed}", field=field) from None


def _limit(limit: int) -> int:
    if not 1 <= limit <= 1000:
        raise InvalidInputError("must be between 1 and 1000", field="limit")
    return limit
