"""Runs that wait for other runs: the node's dependency policy, written once.

A schedule whose trigger is ``{"after": {"schedules": [...], ...}}`` has no fire times
of its own. It fires for every fire time T that its parents share: once each parent has
a run for T, the resolver creates the child's run ``<child>@<T>`` in state ``waiting``
(the id is deterministic and creating a run is idempotent, so nodes that race create
one). A waiting run, of a schedule or a one-off enqueued with ``after=``, is then
settled by :func:`judge`: released when its parents' runs ended as its rule asks,
skipped when the rule can no longer hold or its wait (``due_at``) is over. The store's
``settle_waiting`` is a compare-and-set on the state, so however many nodes see the
parents end, one transition happens.

The resolver runs on scheduler nodes, woken by the store's ``queue`` and ``done`` topics
(parents created or ended) and on a short timer (deadlines, parents fired and claimed by
the node that fired them, which wakes nobody).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from baton.model import (
    Dependencies,
    DependencyRule,
    Run,
    RunState,
    Schedule,
    ScheduleState,
    run_id_for_fire,
)
from baton.store._signal import TOPICS
from baton.store.base import RunFilter, Store
from baton.triggers import AfterSpec, Trigger, TriggerCache

log = logging.getLogger("baton.node.dependencies")

#: How far back a node looks for parents' ticks that have no child run yet (a node that
#: starts, or the first pass after a dependent schedule appears).
LOOKBACK = timedelta(minutes=10)
#: Ticks of one child examined per pass, at most.
_TICKS_PER_PASS = 1000
#: Waiting runs settled per pass, at most.
_WAITING_PER_PASS = 2000
_TICK = timedelta(milliseconds=1)


@dataclass(frozen=True)
class Verdict:
    """End a run's wait: release it (queued, due now) or skip it; ``note`` says why."""

    release: bool
    note: str


def judge(run: Run, parents: Mapping[str, Run | None], now: datetime) -> Verdict | None:
    """What becomes of the waiting ``run``, given its parents' runs as they are now
    (``None``: no such run); ``None`` to keep waiting."""
    deps = run.after
    if deps is None:
        return Verdict(True, "waits for no run")
    missing = [rid for rid in deps.runs if parents.get(rid) is None]
    if missing:
        return Verdict(False, f"parent run {missing[0]} does not exist")
    found = [p for p in parents.values() if p is not None and p.id in deps.runs]
    if deps.rule is DependencyRule.ALL_SUCCESS:
        failed = next(
            (p for p in found if p.state.finished and p.state is not RunState.SUCCEEDED), None
        )
        if failed is not None:
            return Verdict(False, f"parent run {failed.id} ended {failed.state.value}")
    still = [p for p in found if not p.state.finished]
    if not still:
        return Verdict(True, "parent runs ended: " + _states(found))
    if now >= run.due_at:
        return Verdict(False, "timed out waiting for parent runs: " + _states(still))
    return None


def _states(runs: Sequence[Run]) -> str:
    return ", ".join(f"{r.id} {r.state.value}" for r in runs)


def waiting_run(child: Schedule, spec: AfterSpec, tick: datetime, now: datetime) -> Run:
    """The run of the dependent schedule ``child`` for its parents' tick ``tick``."""
    parents = tuple(run_id_for_fire(p, tick) for p in spec.schedules)
    return Run(
        id=run_id_for_fire(child.id, tick),
        schedule_id=child.id,
        type=child.type,
        payload=child.payload,
        fire_at=tick,
        due_at=now + timedelta(seconds=spec.timeout),
        policy=child.policy,
        state=RunState.WAITING,
        created_at=now,
        after=Dependencies(runs=parents, rule=spec.rule),
    )


class Resolver:
    """Creates the waiting runs of dependent schedules and settles waiting runs.

    Keeps, per dependent schedule, the tick up to which every tick is settled (its run
    exists, or it never will), so that a pass looks only at new ticks.
    """

    def __init__(
        self, *, store: Store, triggers: TriggerCache, lookback: timedelta = LOOKBACK
    ) -> None:
        self.store = store
        self._triggers = triggers
        self._lookback = lookback
        self._marks: dict[str, datetime] = {}
        self._dependents: dict[str, Schedule] = {}
        self._listed_marker: int | None = None
        self._listed_at: float = float("-inf")
        self._saw_waiting = False

    @property
    def idle(self) -> bool:
        """No dependent schedule and no waiting run at the last pass: look less often."""
        return not self._dependents and not self._saw_waiting

    async def step(self, clock: float) -> int:
        """One pass: create due waiting runs, settle waiting runs. ``clock`` is the
        event loop's time (for how often schedules are listed). Returns how many runs
        it created or settled."""
        await self._refresh(clock)
        now = await self.store.now()
        made = 0
        for child in self._ordered():
            made += await self._spawn(child, now)
        return made + await self._settle(now)

    # -- dependent schedules -----------------------------------------------------------

    async def _refresh(self, clock: float) -> None:
        """Read the dependent schedules again when schedules changed (at most every
        5 s: a store may have to read every schedule to find them) or a minute passed."""
        changed = self.store.change_marker()[TOPICS.index("schedules")]
        age = clock - self._listed_at
        if age < 5 or (changed == self._listed_marker and age < 60):
            return
        found = await dependent_schedules(self.store, self._triggers)
        self._dependents, self._listed_marker, self._listed_at = found, changed, clock
        self._marks = {k: v for k, v in self._marks.items() if k in found}

    def _spec(self, schedule: Schedule) -> AfterSpec | None:
        return after_spec(schedule, self._triggers)

    def _ordered(self) -> list[Schedule]:
        """Active dependent schedules, each after the dependent schedules it waits for."""
        ordered: list[Schedule] = []
        seen: set[str] = set()

        def visit(sid: str) -> None:
            child = self._dependents.get(sid)
            if child is None or sid in seen:
                return
            seen.add(sid)
            spec = self._spec(child)
            for parent in spec.schedules if spec else ():
                visit(parent)
            if child.state is ScheduleState.ACTIVE:
                ordered.append(child)

        for sid in sorted(self._dependents):
            visit(sid)
        return ordered

    def _roots(self, sid: str, seen: frozenset[str] = frozenset()) -> set[str]:
        """The schedules with fire times of their own that ``sid``'s ticks come from."""
        child = self._dependents.get(sid)
        if child is None:
            return {sid}
        spec = self._spec(child)
        if spec is None or sid in seen:
            return set()
        return {r for p in spec.schedules for r in self._roots(p, seen | {sid})}

    # -- creating waiting runs ---------------------------------------------------------

    async def _spawn(self, child: Schedule, now: datetime) -> int:
        spec = self._spec(child)
        roots = await self._root_schedules(child.id)
        if spec is None or not roots:
            return 0
        until = min(s.last_fire_at for s, _ in roots if s.last_fire_at is not None)
        mark = self._marks.get(child.id, child.created_at)
        start = max(child.created_at, now - self._lookback, mark)
        made = 0
        for tick in _shared_ticks(roots, start, until):
            settled, created = await self._spawn_tick(child, spec, tick, now)
            if not settled:
                break
            made += created
            self._marks[child.id] = tick
        return made

    async def _root_schedules(self, sid: str) -> list[tuple[Schedule, Trigger]]:
        """The root schedules as stored now (their last fire moves every tick); empty when
        one is gone or has never fired."""
        found = []
        for rid in sorted(self._roots(sid)):
            schedule = await self.store.get_schedule(rid)
            if schedule is None or schedule.last_fire_at is None:
                return []
            try:
                found.append((schedule, self._triggers.trigger_of(schedule)))
            except Exception:
                return []
        return found

    async def _spawn_tick(
        self, child: Schedule, spec: AfterSpec, tick: datetime, now: datetime
    ) -> tuple[bool, int]:
        """(whether the tick is settled, runs created). Settled: the child's run exists
        or was made now, or a parent's run for the tick never will exist."""
        if await self.store.get_run(run_id_for_fire(child.id, tick)) is not None:
            return True, 0
        for parent in spec.schedules:
            if await self.store.get_run(run_id_for_fire(parent, tick)) is None:
                # A parent with fire times of its own has fired past the tick: its run
                # will not come. A dependent parent's will not once its mark passed it.
                mark = self._marks.get(parent)
                never = parent not in self._dependents or (mark is not None and mark >= tick)
                return never, 0
        _, created = await self.store.enqueue_run(waiting_run(child, spec, tick, now))
        return True, int(created)

    # -- settling waiting runs ---------------------------------------------------------

    async def _settle(self, now: datetime) -> int:
        settled = 0
        cursor: str | None = None
        flt = RunFilter(states=frozenset({RunState.WAITING}))
        seen = 0
        while seen < _WAITING_PER_PASS:
            page = await self.store.list_runs(flt, cursor=cursor, limit=500)
            self._saw_waiting = bool(page.items) or seen > 0
            for run in page.items:
                settled += await self._settle_one(run, now)
            seen += len(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        return settled

    async def _settle_one(self, run: Run, now: datetime) -> int:
        runs = run.after.runs if run.after else ()
        parents = {rid: await self.store.get_run(rid) for rid in runs}
        verdict = judge(run, parents, now)
        if verdict is None:
            return 0
        after = await self.store.settle_waiting(run.id, release=verdict.release, note=verdict.note)
        return int(after is not None and after.state is not RunState.WAITING)


def after_spec(schedule: Schedule, triggers: TriggerCache) -> AfterSpec | None:
    """The parents of a dependent schedule; ``None`` for any other schedule."""
    if "after" not in schedule.trigger:
        return None
    try:
        return triggers.trigger_of(schedule).after
    except Exception:  # a spec that no longer parses: nothing to resolve
        return None


async def dependent_schedules(store: Store, triggers: TriggerCache) -> dict[str, Schedule]:
    """Every schedule with a readable ``after`` trigger, by id."""
    return {
        s.id: s for s in await store.dependent_schedules() if after_spec(s, triggers) is not None
    }


def _shared_ticks(
    roots: Sequence[tuple[Schedule, Trigger]], after: datetime, until: datetime
) -> Iterator[datetime]:
    """Fire times later than ``after`` and up to ``until`` that every root trigger has."""
    first, *others = [trigger for _, trigger in roots]
    tick = first.skip_to(after + _TICK, after)
    count = 0
    while tick is not None and tick <= until and count < _TICKS_PER_PASS:
        if all(t.has_tick(tick) for t in others):
            yield tick
        count += 1
        tick = first.next_after(tick)


async def rearm_dependents(
    store: Store, parent: Run, dependents: Mapping[str, Schedule], triggers: TriggerCache
) -> list[Run]:
    """After ``parent`` was retried: the runs of the same tick that were skipped because
    of it wait again (attempt + 1), and so on down the chain; they are released if the
    retry succeeds. ``dependents`` are the dependent schedules by id."""
    rearmed: list[Run] = []
    if not parent.is_fire or parent.schedule_id is None:
        return rearmed
    now = await store.now()
    for child in dependents.values():
        spec = after_spec(child, triggers)
        if spec is None or parent.schedule_id not in spec.schedules:
            continue
        run = await store.get_run(run_id_for_fire(child.id, parent.fire_at))
        if run is None or run.state is not RunState.SKIPPED or run.after is None:
            continue
        if parent.id not in run.after.runs:
            continue
        until = now + timedelta(seconds=spec.timeout)
        again = await store.retry_run(
            run.id, reason=f"parent run {parent.id} was retried", wait_until=until
        )
        if again is not None and again.state is RunState.WAITING:
            rearmed.append(again)
            rearmed += await rearm_dependents(store, again, dependents, triggers)
    return rearmed
