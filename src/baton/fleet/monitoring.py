"""WorkerMonitoringScheduler: one baton schedule per monitored worker.

Schedule id ``worker-metrics:<worker id>``, payload ``{"worker_id": ...}`` and nothing
else, an interval trigger at the configured poll interval with jitter, and a policy
whose circuit breaker is keyed by the worker's AWS region (``aws:<region>``, computed by
the job: the payload holds the worker id only).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from baton import (
    Baton,
    BreakerPolicy,
    Policy,
    RetryPolicy,
    Run,
    RunState,
    Schedule,
    ScheduleNotFoundError,
)
from baton.fleet.collect import WorkerMetricsCollectionJob
from baton.fleet.repository import WorkerRepository
from baton.fleet.settings import FleetSettings

PREFIX = "worker-metrics:"
JOB = "worker-metrics"
_REFRESH_BUCKET = 10  # seconds: refresh requests in one bucket share one run


def schedule_id(worker_id: str) -> str:
    return f"{PREFIX}{worker_id}"


class WorkerMonitoringScheduler:
    """Starts, stops and reconciles the collection schedules of workers."""

    def __init__(self, baton: Baton, repository: WorkerRepository, settings: FleetSettings) -> None:
        self.baton = baton
        self.repository = repository
        self.settings = settings

    def trigger(self) -> dict[str, Any]:
        return {
            "interval": {"seconds": self.settings.poll_interval, "jitter": self.settings.jitter}
        }

    async def start_monitoring(self, worker_id: str) -> Schedule:
        """Make sure the worker's schedule exists at the configured interval (idempotent)."""
        schedule, _ = await self._ensure(worker_id)
        return schedule

    async def _ensure(self, worker_id: str) -> tuple[Schedule, bool]:
        """The worker's schedule, and whether it had to be made or replaced."""
        current = await self._existing(worker_id)
        policy = self.policy()
        if (
            current is not None
            and _same_interval(current.trigger, self.trigger()["interval"])
            and current.policy == policy
        ):
            return current, False
        made = await self.baton.add(
            WorkerMetricsCollectionJob(worker_id=worker_id),
            id=schedule_id(worker_id),
            trigger=self.trigger(),
            policy=policy,
            replace=current is not None,
        )
        return made, True

    def policy(self) -> Policy:
        """A poll may be late by one interval, is tried three times, and waits behind its
        region's breaker while that region's API fails."""
        s = self.settings
        breaker = (
            BreakerPolicy(
                failures=s.breaker_failures,
                window=timedelta(seconds=s.breaker_window),
                cooldown=timedelta(seconds=s.breaker_cooldown),
            )
            if s.breaker
            else None
        )
        return Policy(
            misfire_grace=timedelta(seconds=s.poll_interval),
            retry=RetryPolicy(max_attempts=3),
            breaker=breaker,
        )

    async def stop_monitoring(self, worker_id: str) -> bool:
        """Remove the worker's schedule; False if it had none."""
        try:
            await self.baton.remove(schedule_id(worker_id), reason="monitoring stopped")
        except ScheduleNotFoundError:
            return False
        return True

    async def reconcile(self) -> tuple[list[str], list[str]]:
        """At start-up: every worker that is not terminated has its schedule at the
        configured interval; schedules of unknown or terminated workers go.

        Returns the worker ids whose schedules were (re)made and removed.
        """
        live = {w.id for w in await self.repository.list_workers(exclude_terminated=True)}
        started, removed = [], []
        for worker_id in sorted(live):
            _, changed = await self._ensure(worker_id)
            if changed:
                started.append(worker_id)
        cursor = None
        while True:
            page = await self.baton.list(id_prefix=PREFIX, cursor=cursor, limit=1000)
            for found in page.items:
                worker_id = found.id.removeprefix(PREFIX)
                if worker_id not in live and await self.stop_monitoring(worker_id):
                    removed.append(worker_id)
            cursor = page.next_cursor
            if cursor is None:
                break
        return started, removed

    async def refresh(self, worker_id: str) -> Run:
        """A collection now, unless one is already waiting: returns the waiting run, or
        the new one. Requests within the same 10 s share one run (its id says when)."""
        sid = schedule_id(worker_id)
        pending = await self.baton.runs(schedule_id=sid, state=RunState.QUEUED, limit=1)
        if pending.items:
            return pending.items[0]
        bucket = int(datetime.now(UTC).timestamp()) // _REFRESH_BUCKET * _REFRESH_BUCKET
        return await self.baton.trigger(sid, key=f"refresh:{bucket}")

    async def _existing(self, worker_id: str) -> Schedule | None:
        try:
            return await self.baton.get(schedule_id(worker_id))
        except ScheduleNotFoundError:
            return None


def _same_interval(trigger: dict[str, Any], wanted: dict[str, Any]) -> bool:
    current = trigger.get("interval")
    if not isinstance(current, dict):
        return False
    return all(float(current.get(k, 0) or 0) == float(wanted[k]) for k in ("seconds", "jitter"))
