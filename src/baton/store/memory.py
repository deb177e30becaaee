"""The in-memory store: a complete implementation for tests and single-process use.

It passes the same contract suite as the persistent stores. Nothing survives the
process. All operations run under one asyncio lock, so each is atomic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from baton import events
from baton.errors import ScheduleExistsError
from baton.model import Event, NodeInfo, Page, Run, RunState, Schedule, ScheduleState, utcnow
from baton.store import _logic
from baton.store._breakers import Change
from baton.store.base import (
    Claimant,
    ClaimRequest,
    Completion,
    Fired,
    LeaseStatus,
    Planner,
    RunFilter,
    ScheduleFilter,
    Store,
    StoreStats,
)


class MemoryStore(Store):
    """Keeps everything in dicts. ``clock`` may be replaced to test time-dependent code."""

    def __init__(self, *, clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__()
        self._clock = clock
        self._lock = asyncio.Lock()
        self._schedules: dict[str, Schedule] = {}
        self._runs: dict[str, Run] = {}
        self._run_seq: dict[str, int] = {}
        self._seq = 0
        self._events: list[Event] = []
        self._event_seq = 0
        self._nodes: dict[str, NodeInfo] = {}
        self._cursors: dict[str, str] = {}
        self._breakers: dict[str, str] = {}

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def now(self) -> datetime:
        return self._clock()

    # -- helpers -----------------------------------------------------------------------

    def _emit(self, kind: str, subject: str, data: dict[str, Any]) -> Event:
        self._event_seq += 1
        event = Event(
            id=str(self._event_seq), kind=kind, at=self._clock(), subject=subject, data=data
        )
        self._events.append(event)
        return event

    def _put_run(self, run: Run) -> None:
        if run.id not in self._run_seq:
            self._seq += 1
            self._run_seq[run.id] = self._seq
        self._runs[run.id] = run
        kind, data = _logic.run_event(run)
        self._emit(kind, run.id, data)

    # -- schedules ---------------------------------------------------------------------

    async def _add_schedules(
        self, schedules: Sequence[Schedule], *, replace: bool
    ) -> list[Schedule]:
        async with self._lock:
            if not replace:
                taken = next((s.id for s in schedules if s.id in self._schedules), None)
                if taken is not None:
                    raise ScheduleExistsError(taken)
            stored = []
            for schedule in schedules:
                old = self._schedules.get(schedule.id)
                new = schedule.model_copy(update={"version": old.version + 1 if old else 1})
                self._schedules[schedule.id] = new
                kind = events.SCHEDULE_REPLACED if old else events.SCHEDULE_ADDED
                self._emit(kind, schedule.id, {"type": schedule.type})
                stored.append(new)
            return stored

    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        return self._schedules.get(schedule_id)

    async def list_schedules(
        self, flt: ScheduleFilter | None = None, *, cursor: str | None = None, limit: int = 100
    ) -> Page[Schedule]:
        flt = flt or ScheduleFilter()
        found = sorted(
            (
                s
                for s in self._schedules.values()
                if _logic.schedule_matches(s, flt) and (cursor is None or s.id > cursor)
            ),
            key=lambda s: s.id,
        )
        items = found[:limit]
        more = len(found) > limit
        return Page[Schedule](items=items, next_cursor=items[-1].id if more else None)

    async def _remove_schedule(self, schedule_id: str, *, reason: str) -> bool:
        async with self._lock:
            removed = self._schedules.pop(schedule_id, None)
            if removed is None:
                return False
            self._emit(events.SCHEDULE_REMOVED, schedule_id, {"reason": reason})
            return True

    async def _set_schedule_state(
        self, schedule_id: str, state: ScheduleState, *, next_fire_at: datetime | None
    ) -> Schedule | None:
        async with self._lock:
            old = self._schedules.get(schedule_id)
            if old is None:
                return None
            new = old.model_copy(
                update={
                    "state": state,
                    "next_fire_at": next_fire_at,
                    "version": old.version + 1,
                    "updated_at": self._clock(),
                }
            )
            self._schedules[schedule_id] = new
            kind = (
                events.SCHEDULE_PAUSED if state is ScheduleState.PAUSED else events.SCHEDULE_RESUMED
            )
            self._emit(kind, schedule_id, {})
            return new

    async def next_fire_time(self) -> datetime | None:
        times = [
            s.next_fire_at
            for s in self._schedules.values()
            if s.state is ScheduleState.ACTIVE and s.next_fire_at is not None
        ]
        return min(times, default=None)

    async def _fire_due(
        self, *, limit: int, planner: Planner, horizon: timedelta, claim: Claimant | None
    ) -> Fired:
        async with self._lock:
            now = self._clock()
            until = now + horizon
            due = sorted(
                (
                    s
                    for s in self._schedules.values()
                    if s.state is ScheduleState.ACTIVE
                    and s.next_fire_at is not None
                    and s.next_fire_at <= until
                ),
                key=lambda s: s.next_fire_at,  # type: ignore[arg-type, return-value]
            )[:limit]
            batch = _logic.plan_batch(due, planner, now, until)
            for kind, subject, data in batch.notes:
                self._emit(kind, subject, data)
            for schedule_id in batch.finished:
                del self._schedules[schedule_id]
            for schedule in batch.fired:
                self._schedules[schedule.id] = schedule
            created = [run for run in batch.runs if run.id not in self._runs]
            for run in created:
                self._put_run(run)
            for old_id, new_id in batch.supersede:
                old = self._runs.get(old_id)
                skipped = old and _logic.superseded(old, new_id, now)
                if skipped:
                    self._put_run(skipped)
            claimed = self._claim(claim, until) if claim else []
            return Fired(created=created, claimed=claimed)

    # -- runs --------------------------------------------------------------------------

    async def _enqueue_run(self, run: Run) -> tuple[Run, bool]:
        async with self._lock:
            existing = self._runs.get(run.id)
            if existing is not None:
                return existing, False
            self._put_run(run)
            return run, True

    async def _claim_runs(self, request: ClaimRequest) -> list[Run]:
        async with self._lock:
            return self._claim(request, self._clock() + request.horizon)

    def _claim(self, who: Claimant, until: datetime) -> list[Run]:
        now = self._clock()
        running: dict[str | None, int] = {}
        for run in self._runs.values():
            if run.state is RunState.RUNNING:
                running[run.schedule_id] = running.get(run.schedule_id, 0) + 1
        candidates = sorted(
            (
                r
                for r in self._runs.values()
                if r.state.claimable
                and r.due_at <= until
                and (who.types is None or r.type in who.types)
            ),
            key=lambda r: (-r.policy.priority, r.due_at, self._run_seq[r.id]),
        )
        claimed: list[Run] = []
        for run in candidates:
            if len(claimed) >= who.limit:
                break
            if run.schedule_id is not None:
                if running.get(run.schedule_id, 0) >= run.policy.max_concurrent:
                    continue
                running[run.schedule_id] = running.get(run.schedule_id, 0) + 1
            new = _logic.claimed(run, owner=who.owner, lease=who.lease, now=now)
            self._put_run(new)
            claimed.append(new)
        return claimed

    async def next_due_run_time(self) -> datetime | None:
        return min((r.due_at for r in self._runs.values() if r.state.claimable), default=None)

    async def extend_leases(
        self, *, owner: str, tokens: Mapping[str, str], lease: timedelta
    ) -> LeaseStatus:
        async with self._lock:
            now = self._clock()
            kept, cancel = set(), set()
            for run_id, token in tokens.items():
                run = self._runs.get(run_id)
                if run is None or not self.holds(run, token):
                    continue
                self._runs[run_id] = run.model_copy(update={"lease_expires_at": now + lease})
                kept.add(run_id)
                if run.cancel_requested:
                    cancel.add(run_id)
            return LeaseStatus(kept=frozenset(kept), cancel_requested=frozenset(cancel))

    async def _complete_runs(self, completions: Sequence[Completion]) -> list[bool]:
        async with self._lock:
            now = self._clock()
            results = []
            for completion in completions:
                run = self._runs.get(completion.run_id)
                ok = self.holds(run, completion.lease_token)
                results.append(ok or self.recorded(run, completion.lease_token))
                if not ok or run is None:
                    continue
                self._put_run(_logic.completed(run, completion, now))
                stop = completion.outcome.stop_schedule
                if stop is not None and run.schedule_id is not None:
                    self._stop_schedule(run.schedule_id, stop, now)
            return results

    def _stop_schedule(self, schedule_id: str, reason: str, now: datetime) -> None:
        if self._schedules.pop(schedule_id, None) is not None:
            self._emit(events.SCHEDULE_REMOVED, schedule_id, {"reason": reason})
        for run in list(self._runs.values()):
            if run.schedule_id == schedule_id and run.state.claimable:
                self._put_run(_logic.cancelled(run, f"schedule stopped: {reason}", now))

    async def _release_runs(self, *, owner: str, tokens: Mapping[str, str]) -> int:
        async with self._lock:
            count = 0
            for run_id, token in tokens.items():
                run = self._runs.get(run_id)
                if run is not None and self.holds(run, token):
                    self._runs[run_id] = _logic.released(run)
                    self._emit(events.RUN_RELEASED, run_id, {"node": owner})
                    count += 1
            return count

    async def _reap_expired(self, *, limit: int) -> list[Run]:
        async with self._lock:
            now = self._clock()
            expired = [
                r
                for r in self._runs.values()
                if r.state is RunState.RUNNING
                and r.lease_expires_at is not None
                and r.lease_expires_at < now
            ][:limit]
            result = []
            for run in expired:
                new = _logic.reaped(run, now)
                self._put_run(new)
                result.append(new)
            return result

    async def _cancel_run(self, run_id: str, *, reason: str) -> Run | None:
        async with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                return None
            new = _logic.cancelled(run, reason, self._clock())
            if new is not run:
                if new.state is RunState.CANCELLED:
                    self._put_run(new)
                else:
                    self._runs[run_id] = new
            return new

    async def _retry_run(
        self, run_id: str, *, reason: str, wait_until: datetime | None
    ) -> Run | None:
        async with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                return None
            new = _logic.retried(run, reason, self._clock(), wait_until)
            if new is not run:
                self._put_run(new)
            return new

    async def _settle_waiting(self, run_id: str, *, release: bool, note: str) -> Run | None:
        async with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                return None
            new = _logic.settled(run, release=release, note=note, now=self._clock())
            if new is not run:
                self._put_run(new)
            return new

    async def get_run(self, run_id: str) -> Run | None:
        return self._runs.get(run_id)

    async def list_runs(
        self, flt: RunFilter | None = None, *, cursor: str | None = None, limit: int = 100
    ) -> Page[Run]:
        flt = flt or RunFilter()
        before = _logic.int_cursor(cursor) if cursor else None
        found = sorted(
            (
                r
                for r in self._runs.values()
                if _logic.run_matches(r, flt) and (before is None or self._run_seq[r.id] < before)
            ),
            key=lambda r: -self._run_seq[r.id],
        )
        items = found[:limit]
        more = len(found) > limit
        return Page[Run](
            items=items, next_cursor=str(self._run_seq[items[-1].id]) if more else None
        )

    async def prune_runs(self, *, keep: int, older_than: timedelta) -> int:
        async with self._lock:
            cutoff = self._clock() - older_than
            finished = sorted(
                (r for r in self._runs.values() if r.state.finished),
                key=lambda r: -self._run_seq[r.id],
            )
            doomed = [
                r.id
                for i, r in enumerate(finished)
                if i >= keep or (r.finished_at is not None and r.finished_at < cutoff)
            ]
            for run_id in doomed:
                del self._runs[run_id]
                del self._run_seq[run_id]
            return len(doomed)

    # -- circuit breakers ----------------------------------------------------------------

    async def _breaker(self, key: str) -> str | None:
        return self._breakers.get(key)

    async def _all_breakers(self) -> list[str]:
        return list(self._breakers.values())

    async def _swap_breaker(self, key: str, expected: str | None, change: Change) -> bool:
        async with self._lock:
            if self._breakers.get(key) != expected:
                return False
            self._breakers[key] = change.breaker.model_dump_json()
            if change.event is not None:
                self._emit(*change.event)
            return True

    # -- nodes and events ----------------------------------------------------------------

    async def heartbeat(self, node: NodeInfo) -> None:
        self._nodes[node.name] = node.model_copy(update={"heartbeat_at": self._clock()})

    async def stats(self) -> StoreStats:
        schedules = dict.fromkeys(ScheduleState, 0)
        for schedule in self._schedules.values():
            schedules[schedule.state] += 1
        queued = sum(1 for r in self._runs.values() if r.state.claimable)
        running = sum(1 for r in self._runs.values() if r.state is RunState.RUNNING)
        return StoreStats(schedules=schedules, queued=queued, running=running)

    async def list_nodes(self) -> list[NodeInfo]:
        return [self._nodes[name] for name in sorted(self._nodes)]

    async def remove_node(self, name: str) -> None:
        self._nodes.pop(name, None)

    async def append_event(self, kind: str, subject: str, data: dict[str, Any]) -> Event:
        async with self._lock:
            return self._emit(kind, subject, data)

    async def read_events(self, *, after: str | None = None, limit: int = 100) -> list[Event]:
        start = _logic.int_cursor(after, "after") if after else 0
        return [e for e in self._events if int(e.id) > start][:limit]

    async def last_event_id(self) -> str | None:
        return self._events[-1].id if self._events else None

    async def load_cursor(self, name: str) -> str | None:
        return self._cursors.get(name)

    async def save_cursor(self, name: str, event_id: str) -> str:
        later = _logic.int_cursor(event_id, "event_id")
        current = self._cursors.get(name)
        if current is None or int(current) < later:
            self._cursors[name] = str(later)
        return self._cursors[name]

    async def prune_events(self, *, keep: int) -> int:
        async with self._lock:
            dropped = max(len(self._events) - keep, 0)
            del self._events[:dropped]
            return dropped
