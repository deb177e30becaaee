"""A node's readers of the event log: one calls listeners, one starts event-started jobs.

The listeners' reader starts at the end of the log: a node that starts late does not
replay history to its listeners. The event jobs' reader resumes from a cursor saved in
the store (``event-jobs``), shared by every node and never moved back, so that events
appended while no node ran are still started when one comes back (unless older than
``max_replay``: their runs may have been pruned, and a second run would follow).
Event-started runs get ids derived from the event id, so every node may read the same
events and the run still happens once. An enqueue that fails is retried before moving
on: a store outage delays an event-started job but does not drop it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from baton.errors import BatonError
from baton.events import EventJob, Listener, kind_matches
from baton.jobs import Registry
from baton.model import Event, Run
from baton.store.base import Store

log = logging.getLogger("baton.events")

_PAGE = 500


class EventPump:
    """Reads the store's event log and hands each event to listeners and event jobs."""

    def __init__(
        self,
        *,
        store: Store,
        registry: Registry,
        listeners: Sequence[Listener],
        jobs: Sequence[EventJob],
        poll: float,
        cursor: str | None = None,
        max_replay: timedelta | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.listeners = listeners
        self.jobs = jobs
        self.poll = poll
        self.cursor = cursor
        self.max_replay = max_replay
        self._position: str | None = None
        self._placed = False

    async def place(self) -> None:
        """Fix where reading starts, now: an event appended after this returns is seen,
        even one appended before :meth:`run` gets to read."""
        self._position = await self._first_position()
        self._placed = True

    async def run(self, until: asyncio.Event) -> None:
        """Follow the log until ``until`` is set."""
        position = self._position if self._placed else await self._start(until)
        while not until.is_set():
            try:
                batch = await self.store.read_events(after=position, limit=_PAGE)
                # One store clock reading per batch, not per event: due times and the
                # replay limit of a batch's runs need no finer time.
                now = await self.store.now() if batch and self.jobs else None
                for event in batch:
                    if now is not None:
                        await self._start_jobs(event, now)
                    position = event.id
                    await self._notify(event)
                if batch and self.cursor:
                    await self.store.save_cursor(self.cursor, batch[-1].id)
            except Exception:
                log.exception("reading the event log failed; retrying")
                batch = []
            if len(batch) < _PAGE and await _wait(until, self.poll):
                return

    async def _start(self, until: asyncio.Event) -> str | None:
        while True:
            try:
                return await self._first_position()
            except Exception:
                log.exception("finding the end of the event log failed; retrying")
                if await _wait(until, 1.0):
                    return None

    async def _first_position(self) -> str | None:
        """The saved cursor, else the end of the log (saved at once, so that what is
        appended from now on is not missed if this node stops before handling any)."""
        if self.cursor is None:
            return await self.store.last_event_id()
        saved = await self.store.load_cursor(self.cursor)
        if saved is not None:
            return saved
        # An empty log: every event to come is new. "0" sorts before any event id.
        end = await self.store.last_event_id() or "0"
        return await self.store.save_cursor(self.cursor, end)

    async def _start_jobs(self, event: Event, now: datetime) -> None:
        if self.max_replay is not None and event.at < now - self.max_replay:
            log.warning("event %s is older than the replay limit: no job started", event.id)
            return
        for spec in self.jobs:
            if not kind_matches(spec.pattern, event.kind):
                continue
            try:
                run = self._run_for(spec, event, now)
            except BatonError as exc:
                log.error("event job %s cannot start for event %s: %s", spec.name, event.id, exc)
                continue
            except Exception:
                log.exception("event job %s: no payload for event %s", spec.name, event.id)
                continue
            await self.store.enqueue_run(run)  # a failure retries this event: nothing dropped

    def _run_for(self, spec: EventJob, event: Event, now: datetime) -> Run:
        job_type = self.registry.get(spec.job)
        payload = job_type.dump_payload(spec.payload(event))
        return Run(
            id=spec.run_id(event),
            schedule_id=None,
            type=job_type.name,
            payload=payload,
            fire_at=event.at,
            due_at=now,
            policy=spec.policy,
            created_at=now,
        )

    async def _notify(self, event: Event) -> None:
        for listener in self.listeners:
            if not kind_matches(listener.pattern, event.kind):
                continue
            try:
                result = listener.func(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("a listener on %s failed for event %s", listener.pattern, event.id)


async def _wait(until: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(until.wait(), seconds)
    except TimeoutError:
        return False
    return True
